"""What the cloud tests check, read from the cloud's real parts.

* ``placed``: where a phone's render node, vCPUs, emulator and RAM are,
  from the domain XML the fake hypervisor kept (``demo.guest_xml``), the
  host's cells as its nova-compute reported them and the instance's claimed
  cells and the render node whose slot it holds, as its nova-compute
  recorded and published them (MariaDB), its render allocation
  (Placement).
* ``colocation_problems``, ``capacity_problems``, ``orphan_problems``:
  lists of what is wrong (empty when all is well), so a test asserts
  ``assertEqual([], ...)`` and a failure says what and where.
"""

import collections
import glob
import os

import yaml

from demo import guest_xml
from nova_gpu_numa_sched.compute import placement_report
from nova_gpu_numa_sched import names
from tests.cloud import cloud as cloud_client

#: The cloud's host description files (``tools/cloud/hosts``).
HOSTS_DIR = os.path.join(cloud_client.REPO_ROOT, 'tools', 'cloud', 'hosts')

#: Where one phone is. Cells are ints, or sorted lists when split.
Placed = collections.namedtuple(
    'Placed', 'id name host rendernode rendernode_cell gpu_cell vcpu_cell '
              'memory_cell emulator_cell claimed_cell render_allocations')


def rendernode_cells():
    """{(hostname, devnode): NUMA node} from the host description files."""
    cells = {}
    for path in glob.glob(os.path.join(HOSTS_DIR, '*.yaml')):
        with open(path) as f:
            host = yaml.safe_load(f)
        for node in host.get('render_nodes') or ():
            cells[(host['hostname'], node['devnode'])] = node.get(
                'numa_node')
    return cells


class Reader:
    """Reads placements; caches what does not change while a test runs."""

    def __init__(self, cloud, databases):
        self.cloud = cloud
        self.db = databases
        self._host_cells = {}
        self._nodes = {}
        self._rendernode_cells = rendernode_cells()

    def host_cells(self, host):
        if host not in self._host_cells:
            self._host_cells[host] = self.db.host_cell_cpus(host)
        return self._host_cells[host]

    def gpu_cell(self, server_id, node):
        """The cell of the render node whose slot the instance holds.

        As the compute node ``node`` published it; None unless exactly one.
        """
        keys = {placement_report.node_key_of_slot(identifier)
                for identifier in self.db.render_slots(server_id)}
        if len(keys) != 1:
            return None
        published = self.db.render_nodes(node).get(keys.pop())
        return published.get('cell') if published else None

    def node_of_provider(self, rp_uuid):
        """The name of a provider's root: its compute node."""
        if rp_uuid not in self._nodes:
            root = self.cloud.placement_get(
                '/resource_providers/%s' % rp_uuid)['root_provider_uuid']
            self._nodes[rp_uuid] = self.cloud.placement_get(
                '/resource_providers/%s' % root)['name']
        return self._nodes[rp_uuid]

    def placed(self, server):
        """Where an ACTIVE server's GPU, vCPUs, emulator and RAM are.

        ``gpu_cell``: the cell of the render node its claim chose on the
        node it runs on, with one render allocation there;
        ``render_allocations`` counts them on every node (an evacuated
        server keeps its source's until that compute restarts).
        """
        host = server['OS-EXT-SRV-ATTR:host']
        node = server['OS-EXT-SRV-ATTR:hypervisor_hostname']
        xml = self.cloud.domain_xml(server['id'])
        pins = (guest_xml.pins(xml) if xml else
                guest_xml.Pins(None, set(), set(), set()))
        cells = self.host_cells(host) if host else {}
        render = [rp for rp, alloc in
                  self.cloud.allocations(server['id']).items()
                  if names.RESOURCE_CLASS in alloc['resources']]
        here = [rp for rp in render if self.node_of_provider(rp) == node]
        return Placed(
            id=server['id'], name=server['name'], host=host,
            rendernode=pins.rendernode,
            rendernode_cell=self._rendernode_cells.get(
                (server['OS-EXT-SRV-ATTR:hypervisor_hostname'],
                 pins.rendernode)),
            gpu_cell=(self.gpu_cell(server['id'], node)
                      if len(here) == 1 else None),
            vcpu_cell=guest_xml.cells_of(pins.vcpu_cpus, cells),
            memory_cell=guest_xml.one_or_all(pins.memnodes),
            emulator_cell=guest_xml.cells_of(pins.emulator_cpus, cells),
            claimed_cell=self.db.instance_cells(server['id']),
            render_allocations=len(render))


def colocated(placed):
    """Whether render node, vCPUs, emulator, RAM and claim share a cell."""
    return (placed.rendernode is not None and
            placed.render_allocations == 1 and
            isinstance(placed.gpu_cell, int) and
            placed.rendernode_cell == placed.gpu_cell and
            placed.vcpu_cell == placed.gpu_cell and
            placed.memory_cell == placed.gpu_cell and
            placed.emulator_cell == placed.gpu_cell and
            placed.claimed_cell == [placed.gpu_cell])


def colocation_problems(reader, servers):
    """One line per server that is not ACTIVE and co-located."""
    problems = []
    for server in servers:
        if server['status'] != 'ACTIVE':
            problems.append('%s is %s: %s' % (
                server['name'], server['status'],
                server.get('fault', {}).get('message', '')))
            continue
        placed = reader.placed(server)
        if not colocated(placed):
            problems.append('%s not co-located: %s' % (server['name'],
                                                       placed))
    return problems


RenderProvider = collections.namedtuple(
    'RenderProvider', 'uuid name node inventory used')


def render_providers(cloud):
    """RenderProvider of every provider with render slots.

    The compute node providers, with host-level slots. ``node``: the name
    of its root, the compute node (hypervisor hostname).
    """
    providers = cloud.providers()
    roots = {rp['uuid']: rp['name'] for rp in providers}
    found = []
    for rp in providers:
        inventory = cloud.inventories(rp['uuid']).get(names.RESOURCE_CLASS)
        if inventory is None:
            continue
        used = cloud.usages(rp['uuid']).get(names.RESOURCE_CLASS, 0)
        found.append(RenderProvider(rp['uuid'], rp['name'],
                                    roots.get(rp['root_provider_uuid']),
                                    inventory, used))
    return found


def capacity(inventory):
    """Slots Placement may hand out: (total - reserved) * ratio."""
    return int((inventory['total'] - inventory['reserved']) *
               inventory['allocation_ratio'])


def capacity_problems(cloud):
    """Render providers with more slots used than they hold."""
    return ['%s: %d of %d render slots used' % (rp.name, rp.used,
                                                capacity(rp.inventory))
            for rp in render_providers(cloud)
            if rp.used > capacity(rp.inventory)]


def free_slots(cloud):
    return sum(capacity(rp.inventory) - rp.used
               for rp in render_providers(cloud))


def orphan_problems(cloud, servers=None):
    """Placement consumers that are no live (not ERROR) instance.

    Every allocation against every provider is looked at, so a consumer
    left by a failed build, a move or a dead compute is found wherever it
    sits. ``servers``: the server list to compare with (default: read now,
    after the allocations, so that a server created in between is known).
    """
    consumers = {}
    for rp in cloud.providers():
        for consumer in cloud.provider_allocations(rp['uuid']):
            consumers.setdefault(consumer, []).append(rp['name'])
    if servers is None:
        servers = cloud.servers()
    status = {server['id']: server['status'] for server in servers}
    problems = []
    for consumer, rps in sorted(consumers.items()):
        if consumer not in status:
            problems.append('allocation of unknown consumer %s on %s' % (
                consumer, ', '.join(sorted(rps))))
        elif status[consumer] in ('ERROR', 'DELETED', 'SOFT_DELETED'):
            problems.append('allocation of %s server %s on %s' % (
                status[consumer], consumer, ', '.join(sorted(rps))))
    return problems


def stuck(servers, settled=('ACTIVE', 'ERROR')):
    """Servers not settled (BUILD, or a task still running)."""
    return ['%s %s/%s' % (s['name'], s['status'],
                          s.get('OS-EXT-STS:task_state'))
            for s in servers
            if s['status'] not in settled or s.get('OS-EXT-STS:task_state')]
