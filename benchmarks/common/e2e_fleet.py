"""A phone farm booted through Nova's functional fixtures, timed.

The test cases of ``tests/functional/base.py`` (API, conductor, scheduler
and computes in one process, fake libvirt hosts with DRM render nodes, the
real Placement), driven by ``benchmarks/e2e_throughput.py``. Import this
module only after stdout and stderr are redirected: Nova's services log a
lot.
"""

import dataclasses
import time
import typing as ty

from tests.functional import base
from tests.functional import fake_drm

#: Seconds the whole farm may take to become ACTIVE or ERROR.
BOOT_TIMEOUT = 1800


@dataclasses.dataclass
class Farm:
    """What to boot, and what came out; filled in by the test case."""

    hosts: int
    phones: int
    batch: int
    cells: int = 4
    #: Nova's fake libvirt host has fewer than 16 CPUs.
    cores_per_cell: int = 3
    mem_per_cell_mb: int = 6144
    phone_vcpus: int = 2
    phone_memory_mb: int = 1024
    seconds: float = 0.0
    #: CPU time of this process (every service runs in it) while booting.
    cpu_seconds: float = 0.0
    active: int = 0
    errors: int = 0
    colocated: int = 0
    requests: int = 0
    #: phones per host name
    per_host: ty.Dict[str, int] = dataclasses.field(default_factory=dict)
    #: Class names of the filters the running scheduler applied, in order.
    filters: ty.List[str] = dataclasses.field(default_factory=list)

    def gpu_cells(self, number):
        """Two GPUs per host, on cells 0 and 2 or 1 and 3 by turns."""
        return (0, 2) if number % 2 == 0 else (1, 3)


def phones_per_host(cores_per_cell=3, mem_per_cell_mb=6144, vcpus=2,
                    memory_mb=1024, cpu_ratio=4.0, slots=8, gpus=2):
    """Phones the GPU cells of one host hold, co-located."""
    per_cell = min(slots, int(cores_per_cell * cpu_ratio) // vcpus,
                   mem_per_cell_mb // memory_mb)
    return gpus * per_cell


class _FarmCase:
    """Boots ``self.farm`` in multi-create batches and times it."""

    def boot_farm(self):
        farm = self.farm
        for number in range(farm.hosts):
            self.start_gpu_compute(
                'host%02d' % (number + 1), cells=farm.cells,
                cores=farm.cores_per_cell,
                kB_mem=farm.cells * farm.mem_per_cell_mb * 1024,
                gpus=fake_drm.gpus_on_cells(farm.gpu_cells(number)))
        flavor = self.phone_flavor(vcpu=farm.phone_vcpus,
                                   memory_mb=farm.phone_memory_mb)
        reservations = []
        start = time.monotonic()
        cpu_start = time.process_time()
        remaining = farm.phones
        while remaining:
            count = min(farm.batch, remaining)
            body = self._build_server(name='phone', flavor_id=flavor,
                                      networks='none')
            if count > 1:
                body.update(min_count=count, max_count=count,
                            return_reservation_id=True)
                reservations.append(self.api.post_server(
                    {'server': body})['reservation_id'])
            else:
                server = self.api.post_server({'server': body})
                reservations.append(self.admin_api.get_server(
                    server['id'])['reservation_id'])
            farm.requests += 1
            remaining -= count
        servers = self._wait_all(reservations, farm.phones)
        farm.seconds = time.monotonic() - start
        farm.cpu_seconds = time.process_time() - cpu_start
        farm.active = sum(1 for s in servers if s['status'] == 'ACTIVE')
        farm.errors = sum(1 for s in servers if s['status'] == 'ERROR')
        per_host = {}
        for server in servers:
            if server['status'] != 'ACTIVE':
                continue
            host = server['OS-EXT-SRV-ATTR:host']
            per_host[host] = per_host.get(host, 0) + 1
            if self._colocated(server):
                farm.colocated += 1
        farm.per_host = per_host
        farm.filters = [type(f).__name__ for f in
                        self.scheduler.manager.host_manager.enabled_filters]
        return servers

    def _wait_all(self, reservations, expected):
        deadline = time.monotonic() + BOOT_TIMEOUT
        while True:
            servers = []
            for reservation in reservations:
                servers.extend(self.admin_api.get_servers(search_opts={
                    'reservation_id': reservation}))
            done = [s for s in servers if s['status'] in ('ACTIVE', 'ERROR')]
            if len(done) >= expected or time.monotonic() > deadline:
                return servers
            time.sleep(0.2)

    def _colocated(self, server):
        placed = self.placed(server)
        gpu = self.gpu_of_rendernode(placed.host, placed.rendernode)
        return (gpu is not None and gpu.numa_node == placed.gpu_cell and
                placed.vcpu_cell == placed.gpu_cell and
                placed.memory_cell == placed.gpu_cell and
                placed.emulator_cell == placed.gpu_cell and
                placed.claimed_cell == [placed.gpu_cell])


class PluginFarm(_FarmCase, base.GpuNumaTestBase):
    """The plugin's filter, weigher, driver and claim pinning.

    Filters as the install guide enables them: GpuNumaTopologyFilter in
    place of NUMATopologyFilter.
    """

    ADDITIONAL_FILTERS = ['GpuNumaTopologyFilter']
    SCHEDULER_FLAGS = {'gpu_numa.weight_multiplier': 4.0}

    def bench_farm(self):
        self.boot_farm()


class StockFarm(_FarmCase, base.StockNovaTestBase):
    """Nova's stock filters and weighers, the same flavor and hosts."""

    def bench_farm(self):
        self.boot_farm()
