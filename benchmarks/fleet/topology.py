"""Hosts of a phone farm and the Nova records that describe them.

Three kinds of host, as seen in phone farms:

``arm-4c4g``
    a 2-socket AArch64 server: 4 NUMA cells (2 per socket), one GPU on
    each cell;
``arm-4c2g``
    the same server with GPUs on cells 0 and 2 only: half of its cells
    can hold a phone's vCPUs and RAM next to a GPU, the other half cannot;
``x86-2c8g``
    a 2-socket x86_64 server with 8 GPUs, 4 on each socket's cell.

A ``Host`` keeps what nova-compute knows (its ``NUMATopology`` with cell
usage, the slots used on each GPU, the VCPU, RAM and render slots used on
the root provider) and what the scheduler is handed: a Nova ``HostState``
built by ``HostState.update()`` from a ``ComputeNode``, whose ``stats``
carry the render nodes as nova-compute publishes them (the plugin's
``render_usage.dumps`` of its ``RenderNodeUsage`` objects, rewritten after
every claim and delete), and the allocation candidates Placement returns
for a request. With host-level slots, Placement counts a host's render
slots on its root provider, so a phone gets one candidate per host.
"""

import collections
import dataclasses
import uuid as uuid_lib

from nova import objects
from nova.scheduler import host_manager
from nova.virt import hardware
from oslo_utils import timeutils

from nova_gpu_numa_sched import cell_limits
from nova_gpu_numa_sched import names
from nova_gpu_numa_sched import render_usage

CELL_UUID = str(uuid_lib.UUID(int=0xf1ee7))
#: Nova's initial_cpu_allocation_ratio / initial_ram_allocation_ratio.
CPU_RATIO = 4.0
RAM_RATIO = 1.0
HOST_DISK_GB = 20000


@dataclasses.dataclass(frozen=True)
class HostKind:
    name: str
    arch: str
    cells: int
    cpus_per_cell: int
    mb_per_cell: int
    #: The NUMA cell of each GPU, in the order Placement lists them.
    gpu_cells: tuple
    slots_per_gpu: int

    def with_slots(self, slots):
        return dataclasses.replace(self, slots_per_gpu=slots)


KINDS = {
    'arm-4c4g': HostKind('arm-4c4g', 'aarch64', 4, 24, 64 * 1024,
                         (0, 1, 2, 3), 16),
    'arm-4c2g': HostKind('arm-4c2g', 'aarch64', 4, 24, 64 * 1024,
                         (0, 2), 16),
    'x86-2c8g': HostKind('x86-2c8g', 'x86_64', 2, 48, 256 * 1024,
                         (0, 0, 0, 0, 1, 1, 1, 1), 8),
}
#: The fleet's mix: a host's kind is chosen round-robin in this order.
MIX = ('arm-4c4g', 'arm-4c2g', 'arm-4c4g', 'x86-2c8g')

#: ``uuid`` doubles as the render node key the host publishes.
Gpu = collections.namedtuple('Gpu', 'uuid cell capacity')


class Host:
    """One compute node of the simulated fleet."""

    def __init__(self, index, kind, rng):
        self.index = index
        self.kind = kind
        self.name = 'farm-%04d' % index
        self.uuid = str(uuid_lib.UUID(int=rng.getrandbits(128)))
        self.gpus = [Gpu(str(uuid_lib.UUID(int=rng.getrandbits(128))),
                         cell, kind.slots_per_gpu)
                     for cell in kind.gpu_cells]
        self.gpu_used = {gpu.uuid: 0 for gpu in self.gpus}
        self.vcpus_used = 0
        self.memory_used = 0
        self.topology = self._empty_topology()
        self.state = self._host_state()

    # What nova-compute reports -------------------------------------------

    def _empty_topology(self):
        kind = self.kind
        cells = []
        for cell in range(kind.cells):
            cpuset = set(range(cell * kind.cpus_per_cell,
                               (cell + 1) * kind.cpus_per_cell))
            cells.append(objects.NUMACell(
                id=cell, socket=cell * 2 // kind.cells, cpuset=cpuset,
                pcpuset=set(), memory=kind.mb_per_cell, cpu_usage=0,
                memory_usage=0, pinned_cpus=set(),
                siblings=[{cpu} for cpu in sorted(cpuset)],
                mempages=[objects.NUMAPagesTopology(
                    size_kb=4, total=kind.mb_per_cell * 256, used=0,
                    reserved=0)],
                network_metadata=objects.NetworkMetadata(
                    physnets=set(), tunneled=False)))
        # The plugin's compute driver adds one token per cell; stock Nova
        # never asks for one, so the same topology serves both.
        return cell_limits.add_cell_tokens(objects.NUMATopology(cells=cells))

    @property
    def vcpus(self):
        return self.kind.cells * self.kind.cpus_per_cell

    @property
    def memory_mb(self):
        return self.kind.cells * self.kind.mb_per_cell

    def _compute_node(self):
        now = timeutils.utcnow(with_timezone=True)
        return objects.ComputeNode(
            id=self.index + 1, uuid=self.uuid, host=self.name,
            hypervisor_hostname=self.name, service_id=None,
            vcpus=self.vcpus, vcpus_used=0, memory_mb=self.memory_mb,
            memory_mb_used=0, free_ram_mb=self.memory_mb,
            local_gb=HOST_DISK_GB, local_gb_used=0,
            free_disk_gb=HOST_DISK_GB, disk_available_least=HOST_DISK_GB,
            hypervisor_type='QEMU', hypervisor_version=8002000,
            host_ip='10.0.%d.%d' % (self.index // 256, self.index % 256),
            cpu_info='{}', running_vms=0, current_workload=0,
            supported_hv_specs=[objects.HVSpec(
                arch=self.kind.arch, hv_type='kvm', vm_mode='hvm')],
            stats={'num_instances': '0', 'io_workload': '0'},
            metrics='[]', numa_topology=self.topology._to_json(),
            pci_device_pools=objects.PciDevicePoolList(objects=[]),
            cpu_allocation_ratio=CPU_RATIO, ram_allocation_ratio=RAM_RATIO,
            disk_allocation_ratio=1.0, updated_at=now, created_at=now)

    def _host_state(self):
        """The HostState Nova's HostManager builds for this node."""
        now = timeutils.utcnow(with_timezone=True)
        service = objects.Service(
            id=self.index + 1, host=self.name, binary='nova-compute',
            topic='compute', disabled=False, disabled_reason=None,
            forced_down=False, report_count=1, created_at=now,
            updated_at=now, last_seen_up=now, uuid=self.uuid)
        state = host_manager.HostState(self.name, self.name, CELL_UUID)
        state.update(self._compute_node(), dict(service), [], {})
        self._publish(state)
        return state

    def render_nodes(self):
        """{key: RenderNodeUsage} of the GPUs, as nova-compute has them."""
        return {gpu.uuid: render_usage.RenderNodeUsage(
            key=gpu.uuid, cell=gpu.cell, slots=gpu.capacity,
            used=self.gpu_used[gpu.uuid]) for gpu in self.gpus}

    def _publish(self, state):
        """What nova-compute writes into the compute node's stats."""
        stats = dict(state.stats or {})
        stats[names.RENDER_NODES_STAT] = render_usage.dumps(
            self.render_nodes())
        state.stats = stats

    # Usage, as the resource tracker and Placement record it --------------

    def apply(self, instance_topology, vcpus, memory_mb, disk_gb,
              gpu_uuid, free=False):
        """Add (or with ``free``, remove) one instance's usage."""
        sign = -1 if free else 1
        self.topology = hardware_usage(self.topology, instance_topology,
                                       free)
        self.vcpus_used += sign * vcpus
        self.memory_used += sign * memory_mb
        if gpu_uuid is not None:
            self.gpu_used[gpu_uuid] += sign
        state = self.state
        # What the host manager reads back from the compute node record.
        state.numa_topology = self.topology
        state.vcpus_used += sign * vcpus
        state.free_ram_mb -= sign * memory_mb
        state.free_disk_mb -= sign * disk_gb * 1024
        state.num_instances += sign
        self._publish(state)

    def gpu_cell(self, gpu_uuid):
        for gpu in self.gpus:
            if gpu.uuid == gpu_uuid:
                return gpu.cell
        return None

    # What Placement answers -------------------------------------------------

    def _root_room(self, vcpus, memory_mb):
        return (self.vcpus_used + vcpus <= self.vcpus * CPU_RATIO and
                self.memory_used + memory_mb <= self.memory_mb * RAM_RATIO)

    def candidates(self, vcpus, memory_mb, disk_gb, render):
        """Allocation requests for one guest, as Placement answers.

        One, on the root provider, when it has room (for a render guest,
        a free render slot among the host's); none otherwise.
        """
        if not self._root_room(vcpus, memory_mb):
            return []
        resources = {'VCPU': vcpus, 'MEMORY_MB': memory_mb,
                     'DISK_GB': disk_gb}
        if render:
            free = sum(gpu.capacity - self.gpu_used[gpu.uuid]
                       for gpu in self.gpus)
            if free < 1:
                return []
            resources[names.RESOURCE_CLASS] = 1
        return [{'allocations': {self.uuid: {'resources': resources}},
                 'mappings': {'': [self.uuid]}}]


def hardware_usage(topology, instance_topology, free):
    """Nova's own cell accounting of a claim or a delete."""
    return hardware.numa_usage_from_instance_numa(
        topology, instance_topology, free=free)


def build(hosts, rng, slots_per_gpu=None, mix=MIX):
    """``hosts`` hosts, kinds round-robin over ``mix``."""
    fleet = []
    for index in range(hosts):
        kind = KINDS[mix[index % len(mix)]]
        if slots_per_gpu:
            kind = kind.with_slots(slots_per_gpu)
        fleet.append(Host(index, kind, rng))
    return fleet
