"""The demo fleet as Nova functional test cases, run by ``demo.runner``.

Both cases boot the same phones on the same fake hosts; only the
scheduling and claim differ (see ``tests.functional.base``). Every row is
read back with ``placed()``: the guest XML nova generated, the instance's
claimed NUMA topology and the render slot nova-compute gave it (the
instance's ``resources``, its render node's cell as the compute node
publishes it).
"""

import dataclasses
import io
import os
import time
import typing as ty

import fixtures
from nova.compute import resource_tracker

from demo import layout
from demo import report
from nova_gpu_numa_sched.cmd import main as cmd_main
from nova_gpu_numa_sched.compute import claim_cell
from tests.functional import base
from tests.functional import fake_drm

#: Seconds a phone may take to become ACTIVE or ERROR.
BOOT_TIMEOUT = 60

Row = report.Row


@dataclasses.dataclass
class Outcome:
    """What one run of the fleet produced, kept outside the test case."""

    title: str
    phones: int
    batch: int
    rows: ty.List[Row] = dataclasses.field(default_factory=list)
    #: (host, devnode, cell, used slots, total slots)
    slots: ty.List[tuple] = dataclasses.field(default_factory=list)
    plugin_filter: ty.Optional[bool] = None
    plugin_weigher: ty.Optional[bool] = None
    claim_pinning: ty.Optional[bool] = None
    #: What ``nova-gpu-numa status`` printed after the boots, if run.
    status_table: str = ''
    seconds: float = 0.0

    @property
    def colocated(self):
        return sum(1 for row in self.rows if row.colocated)

    @property
    def active(self):
        return sum(1 for row in self.rows if row.status == 'ACTIVE')


class _Fleet:
    """Boots the fleet and records where every phone landed."""

    def boot_fleet(self):
        outcome = self._outcome
        start = time.monotonic()
        for hostname, cells in layout.HOSTS:
            self.start_gpu_compute(
                hostname, cells=layout.CELLS, cores=layout.CORES_PER_CELL,
                kB_mem=layout.CELLS * layout.MEM_PER_CELL_MB * 1024,
                gpus=fake_drm.gpus_on_cells(cells))
        self._record_scheduling(outcome)
        flavor = self.phone_flavor(vcpu=layout.PHONE_VCPUS,
                                   memory_mb=layout.PHONE_MEMORY_MB)
        servers = []
        if outcome.batch > 1:
            # One request for many phones: Nova's multi-create.
            body = self._build_server(name='phone', flavor_id=flavor,
                                      networks='none')
            body.update(min_count=outcome.batch, max_count=outcome.batch,
                        return_reservation_id=True)
            reservation = self.api.post_server({'server': body})
            servers.extend(self._wait_for_boot(self.api.get_servers(
                search_opts={'reservation_id':
                             reservation['reservation_id']})))
        for number in range(len(servers) + 1, outcome.phones + 1):
            server = self.api.post_server({'server': self._build_server(
                name='phone-%d' % number, flavor_id=flavor,
                networks='none')})
            servers.extend(self._wait_for_boot([server]))
        outcome.rows = sorted((self._row(server) for server in servers),
                              key=report.phone_order)
        outcome.slots = self._slots()
        outcome.seconds = time.monotonic() - start
        return servers

    def _record_scheduling(self, outcome):
        """What really runs: the scheduler's filters, weighers, claim."""
        host_manager = self.scheduler.manager.host_manager
        outcome.plugin_filter = any(
            type(f).__name__ == 'GpuNumaTopologyFilter'
            for f in host_manager.enabled_filters)
        outcome.plugin_weigher = any(
            type(w).__name__ == 'GpuLoadWeigher'
            for w in host_manager.weighers)
        outcome.claim_pinning = getattr(
            resource_tracker.ResourceTracker.instance_claim,
            claim_cell._WRAPPED_MARK, False)

    def _wait_for_boot(self, servers):
        done = []
        for server in servers:
            deadline = time.monotonic() + BOOT_TIMEOUT
            while True:
                server = self.admin_api.get_server(server['id'])
                if server['status'] in ('ACTIVE', 'ERROR'):
                    break
                if time.monotonic() > deadline:
                    break
                time.sleep(0.1)
            done.append(server)
        return done

    def _row(self, server):
        if server['status'] != 'ACTIVE':
            return Row(name=server['name'], status=server['status'],
                       host=server.get('OS-EXT-SRV-ATTR:host'),
                       fault=server.get('fault', {}).get('message', ''))
        placed = self.placed(server)
        gpu = self.gpu_of_rendernode(placed.host, placed.rendernode)
        colocated = (
            gpu is not None and gpu.numa_node == placed.gpu_cell and
            placed.vcpu_cell == placed.gpu_cell and
            placed.memory_cell == placed.gpu_cell and
            placed.emulator_cell == placed.gpu_cell and
            placed.claimed_cell == [placed.gpu_cell])
        return Row(status='ACTIVE', colocated=colocated,
                   **placed._asdict())

    def _slots(self):
        """Per GPU, as nova-compute published it in its compute node."""
        slots = []
        for hostname, _ in layout.HOSTS:
            published = self.render_nodes(hostname)
            for gpu in self.drm[hostname].gpus:
                node = published[gpu.pci_address]
                slots.append((hostname, gpu.devnode, node['cell'],
                              node['used'], node['slots']))
        return slots


class PluginFleet(_Fleet, base.GpuNumaTestBase):
    """The fleet with the plugin's filter, weigher and claim pinning.

    Filters as the install guide enables them: GpuNumaTopologyFilter in
    place of NUMATopologyFilter.
    """

    ADDITIONAL_FILTERS = ['GpuNumaTopologyFilter']

    def demo_fleet(self):
        servers = self.boot_fleet()
        self.assertEqual(self._outcome.phones, len(servers))
        for server in servers:
            self.assertEqual('ACTIVE', server['status'], server)
            self.assertColocated(server)
        self._outcome.status_table = self.operator_status()

    def operator_status(self):
        """What ``nova-gpu-numa status`` shows an operator of this fleet.

        The command runs as on a controller, through its ``main(argv)``,
        and reads the compute nodes and instances in Nova's databases.
        """
        conf_file = os.path.join(
            self.useFixture(fixtures.TempDir()).path, 'nova.conf')
        with open(conf_file, 'w') as f:
            f.write('[DEFAULT]\n')
        out = io.StringIO()
        self.useFixture(fixtures.MonkeyPatch('sys.stdout', out))
        code = cmd_main.main(['--config-file', conf_file, 'status'])
        self.assertEqual(0, code, out.getvalue())
        return out.getvalue()


class StockFleet(_Fleet, base.StockNovaTestBase):
    """The fleet placed by stock Nova; the render slot is still requested.

    Nothing to assert: where stock Nova puts the phones is the result.
    """

    def demo_fleet(self):
        self.boot_fleet()
