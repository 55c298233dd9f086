"""Nova's own functional harness with GPU hosts and the plugin enabled.

API, conductor, scheduler and computes run in one process; computes use
the plugin's driver over nova's fake libvirt extended with render nodes;
Placement is the real service on an in-memory database.
"""

import collections
import os
import sys

from nova.compute import resource_tracker
from nova import context as nova_context
from nova import objects
from nova.tests.fixtures import libvirt as fakelibvirt
from nova.tests.functional.libvirt import base
from oslo_serialization import jsonutils

from demo import guest_xml
from nova_gpu_numa_sched.compute import claim_cell
from nova_gpu_numa_sched.compute import driver as gpu_driver
from nova_gpu_numa_sched.compute import placement_report
from nova_gpu_numa_sched import names
from tests.functional import fake_drm

CONF = base.CONF

PLUGIN_FILTER = 'nova_gpu_numa_sched.filters.GpuNumaAffinityFilter'
#: The drop-in for NUMATopologyFilter + GpuNumaAffinityFilter the docs enable.
PLUGIN_TOPOLOGY_FILTER = 'nova_gpu_numa_sched.filters.GpuNumaTopologyFilter'
PLUGIN_WEIGHER = 'nova_gpu_numa_sched.weights.GpuLoadWeigher'

#: Where a functional run writes nova's guest XML for the libvirtd check.
XML_DUMP_DIR = os.environ.get('GPU_NUMA_GUEST_XML_DIR')

Placed = collections.namedtuple(
    'Placed', 'name host rendernode gpu_cell vcpu_cell memory_cell '
              'emulator_cell claimed_cell')


class GpuNumaTestBase(base.ServersTestBase):
    """Boots phones on fake multi-cell hosts with GPUs on some cells."""

    microversion = 'latest'
    ADDITIONAL_FILTERS = ['NUMATopologyFilter', 'GpuNumaAffinityFilter']
    #: Extra weigher multipliers to set before the scheduler starts.
    SCHEDULER_FLAGS = {}

    def setUp(self):
        # An installed nova keeps api-paste.ini under <prefix>/etc/nova.
        self.flags(api_paste_config=os.path.join(
            sys.prefix, 'etc', 'nova', 'api-paste.ini'), group='wsgi')
        self.guest_xml = {}
        self.drm = {}
        super().setUp()
        # A hung test (a deadlock between service threads) fails after
        # OS_TEST_TIMEOUT seconds instead of stalling the whole run.
        self.useFixture(base.fixtures.Timeout(
            int(os.environ.get('OS_TEST_TIMEOUT', 0)), gentle=True))
        self.flags(instances=-1, cores=-1, ram=-1, group='quota')
        self.ctxt = nova_context.get_admin_context()
        # Utilisation is read from this fake sysfs; empty = unknown.
        self.sysfs_root = self.useFixture(base.fixtures.TempDir()).path
        self.useFixture(base.fixtures.MonkeyPatch(
            'nova_gpu_numa_sched.compute.driver.GpuNumaLibvirtDriver.'
            'sysfs_root', self.sysfs_root))
        # DRM fdinfo is read from this fake /proc, which a test creates to
        # use it; absent = no fdinfo source (never the runner's /proc).
        self.proc_root = os.path.join(
            self.useFixture(base.fixtures.TempDir()).path, 'proc')
        self.useFixture(base.fixtures.MonkeyPatch(
            'nova_gpu_numa_sched.compute.driver.GpuNumaLibvirtDriver.'
            'proc_root', self.proc_root))
        get_guest_xml = gpu_driver.GpuNumaLibvirtDriver._get_guest_xml
        test = self

        def capture_guest_xml(drv, context, instance, *args, **kwargs):
            xml = get_guest_xml(drv, context, instance, *args, **kwargs)
            test.guest_xml[instance.uuid] = xml
            return xml

        self.useFixture(base.fixtures.MonkeyPatch(
            'nova_gpu_numa_sched.compute.driver.GpuNumaLibvirtDriver.'
            '_get_guest_xml', capture_guest_xml))

    def _wait_for_server_parameter(self, server, expected_params,
                                   max_retries=10, **kwargs):
        # Nova's default gives a server 5 s (10 x 0.5 s) to get there; a
        # multi-create of several phones on a loaded CI machine takes
        # longer. A wait, not a timing assertion: allow 60 s.
        return super()._wait_for_server_parameter(
            server, expected_params, max_retries=max(max_retries, 120),
            **kwargs)

    def _setup_compute_service(self):
        self.flags(compute_driver='gpu_numa.GpuNumaLibvirtDriver')

    def _setup_scheduler_service(self):
        self.flags(available_filters=[
            'nova.scheduler.filters.all_filters', PLUGIN_FILTER,
            PLUGIN_TOPOLOGY_FILTER],
            group='filter_scheduler')
        self.flags(weight_classes=[
            'nova.scheduler.weights.all_weighers', PLUGIN_WEIGHER],
            group='filter_scheduler')
        for name, value in self.SCHEDULER_FLAGS.items():
            group, _, option = name.rpartition('.')
            self.flags(**{option: value, 'group': group})
        return super()._setup_scheduler_service()

    # Hosts -----------------------------------------------------------------

    def start_gpu_compute(self, hostname, cells=4, gpus=(), cores=2,
                          kB_mem=16 * 1024 * 1024, arch=None, sockets=1,
                          huge_pages=None, pci_info=None):
        """Start a compute host with ``cells`` NUMA cells and ``gpus``.

        fakelibvirt numbers cells socket by socket: with 2 sockets of 2
        cells, cells 0 and 1 are on socket 0, cells 2 and 3 on socket 1.

        :param huge_pages: {cell: [(page size in KiB, count), ...]}: huge
            pages of those cells, the rest of each cell's memory in 4 KiB
            pages (every cell has only 4 KiB pages by default)
        :param pci_info: fakelibvirt.HostPCIDevicesInfo (SR-IOV NICs)
        """
        host_info = fakelibvirt.HostInfo(
            cpu_nodes=cells // sockets, cpu_sockets=sockets,
            cpu_cores=cores, cpu_threads=1, kB_mem=kB_mem)
        for cell in host_info.numa_topology.cells:
            huge = (huge_pages or {}).get(cell.id, [])
            small_kb = cell.memory - sum(size * count for size, count in huge)
            cell.mempages = fakelibvirt.create_mempages(
                [(4, small_kb // 4)] + list(huge))
        if arch:
            host_info.arch = arch
        connection = self._get_connection(host_info=host_info,
                                          pci_info=pci_info,
                                          hostname=hostname)
        if pci_info:
            # What Nova's start_compute does for a new connection.
            self.libvirt.update_sriov_mac_address_mapping(
                pci_info.get_pci_address_mac_mapping())
        self.drm[hostname] = fake_drm.FakeDrmDevices(connection)
        self.drm[hostname].add(*gpus)
        return self.start_compute(hostname, connection=connection)

    def run_periodics(self, hostname=None):
        for name, compute in self.computes.items():
            if hostname in (None, name):
                compute.manager.update_available_resource(self.ctxt)

    def phone_flavor(self, vcpu=1, memory_mb=512, extra_spec=None,
                     group=''):
        spec = {'hw:numa_nodes': '1',
                'resources%s:%s' % (group, names.RESOURCE_CLASS): '1'}
        spec.update(extra_spec or {})
        return self._create_flavor(vcpu=vcpu, memory_mb=memory_mb, disk=1,
                                   ephemeral=0, extra_spec=spec)

    # Placement -------------------------------------------------------------

    def render_nodes(self, hostname):
        """{render node key: what nova-compute published for it}.

        Read from the compute node record, as the scheduler reads it.
        """
        node = objects.ComputeNode.get_by_uuid(
            self.ctxt, self.compute_rp_uuids[hostname])
        value = (node.stats or {}).get(names.RENDER_NODES_STAT)
        return jsonutils.loads(value) if value else {}

    def host_slots(self, hostname):
        """(total, reserved, used) of the host's slots in Placement."""
        root = self.compute_rp_uuids[hostname]
        inventory = self.placement.get(
            '/resource_providers/%s/inventories' % root).body[
            'inventories'].get(names.RESOURCE_CLASS)
        if inventory is None:
            return None
        used = self.placement.get(
            '/resource_providers/%s/usages' % root).body['usages'].get(
            names.RESOURCE_CLASS, 0)
        return inventory['total'], inventory['reserved'], used

    def render_providers(self, hostname):
        """{per-render-node name: its slots}, as the compute accounts them.

        ``inventory`` holds the slots usable plus those held beyond
        (``reserved``), ``usage`` the slots in use: the view earlier
        releases gave in Placement, now from the compute node's stats.
        """
        found = {}
        for key, node in self.render_nodes(hostname).items():
            total = max(node['slots'], node['used'])
            found[placement_report.provider_name(hostname, key)] = {
                'key': key, 'cell': node['cell'],
                'inventory': {'total': total,
                              'reserved': total - node['slots']},
                'usage': node['used'], 'load': node['load']}
        return found

    def slot_usage(self):
        """{(host, devnode): used slots} over every GPU host."""
        usage = {}
        for hostname, drm in self.drm.items():
            if hostname not in self.compute_rp_uuids:
                continue
            nodes = self.render_nodes(hostname)
            for gpu in drm.gpus:
                node = nodes.get(gpu.pci_address)
                if node is not None:
                    usage[(hostname, gpu.devnode)] = node['used']
        return usage

    def assertSlotsWithinCapacity(self):
        """No render provider has more slots used than it may hand out."""
        for hostname in self.drm:
            if hostname not in self.compute_rp_uuids:
                continue
            for name, rp in self.render_providers(hostname).items():
                inventory = rp['inventory']
                self.assertLessEqual(rp['usage'], inventory['total'], name)
            slots = self.host_slots(hostname)
            if slots is not None:
                self.assertLessEqual(slots[2], slots[0], hostname)

    def assertNoOrphanAllocations(self, migrations=()):
        """Every Placement consumer is a live server (or a migration)."""
        servers = {server['id']: server['status']
                   for server in self.admin_api.get_servers(
                       search_opts={'all_tenants': 1})}
        rps = self.placement.get('/resource_providers').body[
            'resource_providers']
        for rp in rps:
            consumers = self.placement.get(
                '/resource_providers/%s/allocations' % rp['uuid']).body[
                'allocations']
            for consumer in consumers:
                if consumer in migrations:
                    continue
                self.assertIn(consumer, servers,
                              'allocation of unknown consumer %s on %s' % (
                                  consumer, rp['name']))
                self.assertNotIn(servers[consumer], ('ERROR', 'DELETED'),
                                 'allocation of %s server %s on %s' % (
                                     servers[consumer], consumer,
                                     rp['name']))

    # What a server got -----------------------------------------------------

    def _host_cell_of_cpus(self, hostname, cpus):
        topology = self.computes[hostname].driver._get_host_numa_topology()
        return guest_xml.cells_of(cpus, {
            cell.id: cell.cpuset | cell.pcpuset for cell in topology.cells})

    def placed(self, server):
        """Where the server's GPU, vCPUs, emulator and RAM really are.

        Read from the captured guest XML, the claimed instance topology and
        the allocation, so a test sees what the host would run.
        """
        server = self.admin_api.get_server(server['id'])
        hostname = server['OS-EXT-SRV-ATTR:host']
        pins = guest_xml.pins(self.guest_xml[server['id']])
        claimed = objects.InstanceNUMATopology.get_by_instance_uuid(
            self.ctxt, server['id'])
        gpu_cell = None
        instance = objects.Instance.get_by_uuid(
            self.ctxt, server['id'], expected_attrs=['resources'])
        nodes = self.render_nodes(hostname)
        for res in instance.resources or ():
            if res.resource_class == names.RESOURCE_CLASS:
                gpu_cell = nodes[placement_report.node_key_of_slot(
                    res.identifier)]['cell']
        return Placed(
            name=server['name'], host=hostname,
            rendernode=pins.rendernode,
            gpu_cell=gpu_cell,
            vcpu_cell=self._host_cell_of_cpus(hostname, pins.vcpu_cpus),
            memory_cell=guest_xml.one_or_all(pins.memnodes),
            emulator_cell=self._host_cell_of_cpus(
                hostname, pins.emulator_cpus),
            claimed_cell=[cell.id for cell in claimed.cells])

    def held_render_node(self, server):
        """Key of the render node whose slot the server holds, or None."""
        instance = objects.Instance.get_by_uuid(
            self.ctxt, server['id'], expected_attrs=['resources'])
        keys = {placement_report.node_key_of_slot(res.identifier)
                for res in instance.resources or ()
                if res.resource_class == names.RESOURCE_CLASS}
        self.assertLessEqual(len(keys), 1, keys)
        return keys.pop() if keys else None

    def assertColocated(self, server):
        """Render node, vCPUs, emulator and RAM on the GPU's cell."""
        placed = self.placed(server)
        gpu = self.gpu_of_rendernode(placed.host, placed.rendernode)
        self.assertIsNotNone(gpu, placed)
        self.assertEqual(gpu.numa_node, placed.gpu_cell, placed)
        for cell in (placed.vcpu_cell, placed.memory_cell,
                     placed.emulator_cell):
            self.assertEqual(placed.gpu_cell, cell, placed)
        self.assertEqual([placed.gpu_cell], placed.claimed_cell, placed)
        return placed

    def gpu_of_rendernode(self, hostname, rendernode):
        for gpu in self.drm[hostname].gpus:
            if gpu.devnode == rendernode:
                return gpu
        return None

    def dump_guest_xml(self, server, label):
        """Keep nova's XML for the real-libvirtd check, when asked to."""
        if not XML_DUMP_DIR:
            return
        os.makedirs(XML_DUMP_DIR, exist_ok=True)
        path = os.path.join(XML_DUMP_DIR, 'nova-%s.xml' % label)
        with open(path, 'w') as f:
            f.write(self.guest_xml[server['id']])


class StockNovaTestBase(GpuNumaTestBase):
    """The same hosts and phones, with Nova's own NUMA placement deciding.

    Stock Nova can neither report nor attach a render node, so the plugin's
    driver still reports the render slots to Placement and writes the
    allocated render node into the guest XML. Everything that ties a guest
    to its GPU's cell is off: GpuNumaAffinityFilter, GpuLoadWeigher, the
    claim pinning of ``claim_cell`` and the driver's same-cell check before
    define. Used to show what Nova does without the plugin.
    """

    ADDITIONAL_FILTERS = ['NUMATopologyFilter']

    def setUp(self):
        super().setUp()
        # install() wraps the resource tracker for the whole process and
        # is idempotent: put the unwrapped methods back for this test and
        # keep the driver from wrapping them again. Plain setattr, as
        # fixtures.MonkeyPatch would copy the wrapper's mark onto its own.
        self.useFixture(base.fixtures.MonkeyPatch(
            'nova_gpu_numa_sched.compute.claim_cell.install', lambda: None))
        tracker = resource_tracker.ResourceTracker
        wrapped = {name: tracker.__dict__[name]
                   for name in ('instance_claim', '_move_claim')}
        claim_cell.uninstall()
        for name, method in wrapped.items():
            self.addCleanup(setattr, tracker, name, method)
        self.useFixture(base.fixtures.MonkeyPatch(
            'nova_gpu_numa_sched.compute.guest_devices.check_same_cell',
            lambda instance, node, *args, **kwargs: None))

    def _setup_scheduler_service(self):
        # Nova's defaults, without the plugin's filter and weigher (set
        # explicitly: the libvirt test base extends the option's list).
        added = ['GpuNumaAffinityFilter'] + self.ADDITIONAL_FILTERS
        enabled = [f for f in CONF.filter_scheduler.enabled_filters
                   if f not in added]
        self.flags(available_filters=['nova.scheduler.filters.all_filters'],
                   weight_classes=['nova.scheduler.weights.all_weighers'],
                   enabled_filters=[f for i, f in enumerate(enabled)
                                    if f not in enabled[:i]],
                   group='filter_scheduler')
        return base.ServersTestBase._setup_scheduler_service(self)
