"""A synthetic fleet: Nova's records and Placement's answers for it.

Every host has 4 NUMA cells of 8 to 16 CPUs with 4 GiB per CPU, 2 to 4
GPUs on cells drawn at random, and guests filling its cells at random. From
it come Nova's ``ComputeNode`` and ``Service`` records, the ``HostState``
objects the host manager builds from them, and what Placement answers to
``GET /allocation_candidates``.

Host-level slots: Placement sees one ``CUSTOM_GPU_RENDER_SLOT`` inventory
on each compute node's root provider (the slots of all its GPUs) and the
GPUs' vendor and product traits, so a phone's answer is one candidate per
host with a free slot, the root alone, as for a guest without a render
slot. Each GPU's cell, slots, use and load reach the scheduler in the
compute node's ``stats`` (``names.RENDER_NODES_STAT``), written here by
the plugin's own ``render_usage.dumps`` of ``RenderNodeUsage`` objects,
as nova-compute publishes them.
"""

import collections
import random
import uuid as uuid_lib

from nova import objects
from nova.scheduler import host_manager
import os_traits
from oslo_serialization import jsonutils
from oslo_utils import timeutils

from nova_gpu_numa_sched import cell_limits
from nova_gpu_numa_sched import names
from nova_gpu_numa_sched import render_usage

CELL_UUID = str(uuid_lib.UUID(int=0xce11))
NUMA_CELLS = 4
SLOTS_PER_GPU = 8
#: Nova's initial_cpu_allocation_ratio / initial_ram_allocation_ratio.
CPU_RATIO = 4.0
RAM_RATIO = 1.0
PHONE_VCPUS = 2
PHONE_MB = 2048
PHONE_DISK_GB = 8
HOST_DISK_GB = 2000

#: ``key``: the render node key nova-compute publishes (a PCI address).
Gpu = collections.namedtuple('Gpu', 'key devnode cell capacity used load')


class Host:
    """One compute node: NUMA cells with usage and GPUs on some cells.

    A mixed fleet draws each host's size, GPU cells and other guests' usage
    at random, so hardly two cells are alike. A uniform fleet is one server
    model (12 CPUs per cell, one GPU per cell) running phones and a few
    guest sizes, as a cloud-phone fleet is: many cells are alike.
    """

    def __init__(self, index, rng, uniform=False):
        self.index = index
        self.name = 'compute-%04d' % index
        self.uuid = str(uuid_lib.UUID(int=rng.getrandbits(128)))
        cpus = 12 if uniform else rng.choice((8, 10, 12, 14, 16))
        self.cell_cpus = cpus
        self.cell_mb = cpus * 4096
        self.gpus = []
        gpu_cells = (list(range(NUMA_CELLS)) if uniform else
                     [rng.randrange(NUMA_CELLS)
                      for _ in range(rng.randint(2, 4))])
        for number, cell in enumerate(gpu_cells):
            self.gpus.append(Gpu(
                key='0000:%02x:00.0' % (0x10 + number),
                devnode='/dev/dri/renderD%d' % (128 + number),
                cell=cell,
                capacity=SLOTS_PER_GPU,
                used=rng.randint(0, SLOTS_PER_GPU),
                load=rng.choice((None, 0, 10, 20, 30, 50, 70, 90))))
        # Phones run where their GPU is; other guests fill cells at random,
        # some cells up to the brim.
        self.cpu_usage, self.memory_usage = [], []
        for cell in range(NUMA_CELLS):
            phones = sum(g.used for g in self.gpus if g.cell == cell)
            others = rng.choice((0.0, 0.25, 0.5)) if uniform else (
                rng.random())
            self.cpu_usage.append(min(
                int(cpus * CPU_RATIO),
                phones * PHONE_VCPUS + int(others * cpus * CPU_RATIO * 0.6)))
            self.memory_usage.append(min(
                self.cell_mb,
                phones * PHONE_MB + int(others * self.cell_mb)))
        self.instances = sum(g.used for g in self.gpus) + rng.randint(0, 8)

    def numa_topology(self):
        cells = []
        for cell in range(NUMA_CELLS):
            cpuset = set(range(cell * self.cell_cpus,
                               (cell + 1) * self.cell_cpus))
            cells.append(objects.NUMACell(
                id=cell, socket=cell // 2, cpuset=cpuset, pcpuset=set(),
                memory=self.cell_mb, cpu_usage=self.cpu_usage[cell],
                memory_usage=self.memory_usage[cell], pinned_cpus=set(),
                siblings=[{cpu} for cpu in sorted(cpuset)],
                mempages=[
                    objects.NUMAPagesTopology(
                        size_kb=4, total=self.cell_mb * 256, used=0,
                        reserved=0),
                    objects.NUMAPagesTopology(
                        size_kb=2048, total=0, used=0, reserved=0)],
                network_metadata=objects.NetworkMetadata(
                    physnets=set(), tunneled=False)))
        # What the plugin's compute driver reports: one token per cell.
        return cell_limits.add_cell_tokens(objects.NUMATopology(cells=cells))

    def compute_node(self, now):
        vcpus = self.cell_cpus * NUMA_CELLS
        memory_mb = self.cell_mb * NUMA_CELLS
        memory_used = sum(self.memory_usage)
        disk_used = self.instances * PHONE_DISK_GB
        return objects.ComputeNode(
            id=self.index + 1, uuid=self.uuid, host=self.name,
            hypervisor_hostname=self.name, service_id=None,
            vcpus=vcpus, vcpus_used=sum(self.cpu_usage),
            memory_mb=memory_mb, memory_mb_used=memory_used,
            free_ram_mb=memory_mb - memory_used,
            local_gb=HOST_DISK_GB, local_gb_used=disk_used,
            free_disk_gb=HOST_DISK_GB - disk_used,
            disk_available_least=HOST_DISK_GB - disk_used,
            hypervisor_type='QEMU', hypervisor_version=8002000,
            host_ip='10.%d.%d.%d' % (self.index // 65536,
                                     self.index // 256 % 256,
                                     self.index % 256),
            cpu_info='{}', running_vms=self.instances, current_workload=0,
            supported_hv_specs=[objects.HVSpec(
                arch='x86_64', hv_type='kvm', vm_mode='hvm')],
            stats={'num_instances': str(self.instances),
                   'io_workload': '0',
                   names.RENDER_NODES_STAT: self.render_nodes_stat()},
            metrics='[]', numa_topology=self.numa_topology()._to_json(),
            pci_device_pools=objects.PciDevicePoolList(objects=[]),
            cpu_allocation_ratio=CPU_RATIO, ram_allocation_ratio=RAM_RATIO,
            disk_allocation_ratio=1.0, updated_at=now, created_at=now)

    def service(self, now):
        return objects.Service(
            id=self.index + 1, host=self.name, binary='nova-compute',
            topic='compute', disabled=False, disabled_reason=None,
            forced_down=False,
            report_count=1, created_at=now, updated_at=now,
            last_seen_up=now, uuid=self.uuid)

    def render_nodes(self):
        """{key: RenderNodeUsage} of the GPUs, as the compute has them."""
        return {gpu.key: render_usage.RenderNodeUsage(
            key=gpu.key, cell=gpu.cell, slots=gpu.capacity, used=gpu.used,
            load=gpu.load, devnode=gpu.devnode) for gpu in self.gpus}

    def render_nodes_stat(self):
        """The compute node's ``stats[RENDER_NODES_STAT]``."""
        return render_usage.dumps(self.render_nodes())

    def gpu_cell(self, key):
        for gpu in self.gpus:
            if gpu.key == key:
                return gpu.cell
        return None

    @property
    def slots(self):
        return sum(gpu.capacity for gpu in self.gpus)

    @property
    def slots_used(self):
        return sum(gpu.used for gpu in self.gpus)

    def _root_resources(self):
        return {'VCPU': PHONE_VCPUS, 'MEMORY_MB': PHONE_MB,
                'DISK_GB': PHONE_DISK_GB}

    def candidates(self):
        """Allocation requests for a phone: the root, if a slot is free.

        One candidate per host: the render slot is on the root provider.
        """
        if self.slots_used >= self.slots:
            return []
        resources = dict(self._root_resources())
        resources[names.RESOURCE_CLASS] = 1
        return [{'allocations': {self.uuid: {'resources': resources}},
                 'mappings': {'': [self.uuid]}}]

    def plain_candidates(self):
        """Allocation requests for a guest without a render slot."""
        return [{'allocations': {
                    self.uuid: {'resources': self._root_resources()}},
                 'mappings': {'': [self.uuid]}}]

    def summaries(self):
        """Placement provider summaries: the root provider alone."""
        vcpus = self.cell_cpus * NUMA_CELLS
        return {self.uuid: {
            'resources': {
                'VCPU': {'capacity': int(vcpus * CPU_RATIO),
                         'used': sum(self.cpu_usage)},
                'MEMORY_MB': {'capacity': self.cell_mb * NUMA_CELLS,
                              'used': sum(self.memory_usage)},
                'DISK_GB': {'capacity': HOST_DISK_GB,
                            'used': self.instances * PHONE_DISK_GB},
                names.RESOURCE_CLASS: {'capacity': self.slots,
                                       'used': self.slots_used}},
            'traits': sorted([
                os_traits.OWNER_NOVA, os_traits.COMPUTE_NET_ATTACH_INTERFACE,
                os_traits.HW_CPU_X86_AVX2, os_traits.COMPUTE_VOLUME_EXTEND,
                names.VENDOR_TRAIT_PREFIX + '1002',
                names.PRODUCT_TRAIT_PREFIX + '73BF']),
            'parent_provider_uuid': None,
            'root_provider_uuid': self.uuid}}


class Answer:
    """Placement's answer to one candidate query over the fleet."""

    def __init__(self, hosts, candidates_of):
        allocation_requests, self.summaries = [], {}
        for host in hosts:
            candidates = candidates_of(host)
            if candidates:
                allocation_requests.extend(candidates)
                # Summaries cover every provider of the candidates' trees.
                self.summaries.update(host.summaries())
        self.body = jsonutils.dumps({
            'allocation_requests': allocation_requests,
            'provider_summaries': self.summaries})
        self.candidates_by_host = collections.defaultdict(list)
        for candidate in allocation_requests:
            for rp_uuid in candidate['allocations']:
                self.candidates_by_host[rp_uuid].append(candidate)
        self.candidates = len(allocation_requests)


class Fleet:
    """N hosts, and what Placement would answer for a phone and a VM."""

    def __init__(self, size, seed, uniform=False):
        rng = random.Random('%s-%d' % (seed, size))
        self.size = size
        self.hosts = [Host(i, rng, uniform) for i in range(size)]
        #: {(host uuid, render node key): cell} of every GPU.
        self.gpu_cell = {(host.uuid, gpu.key): gpu.cell
                         for host in self.hosts for gpu in host.gpus}
        self.by_uuid = {host.uuid: host for host in self.hosts}
        now = timeutils.utcnow(with_timezone=True)
        self.compute_nodes = [h.compute_node(now) for h in self.hosts]
        self.services = {h.name: h.service(now) for h in self.hosts}
        self.render = Answer(self.hosts, Host.candidates)
        self.plain = Answer(self.hosts, Host.plain_candidates)

    def host_states(self):
        """HostStates as Nova's HostManager builds them, for every host."""
        states = []
        for compute in self.compute_nodes:
            state = host_manager.HostState(
                compute.host, compute.hypervisor_hostname, CELL_UUID)
            state.update(compute, dict(self.services[compute.host]), [], {})
            states.append(state)
        return states
