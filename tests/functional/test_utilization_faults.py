"""A utilisation read never takes a GPU away; fdinfo load reaches Placement.

Nova's real services on fake libvirt hosts with a real Placement. The
compute reads utilisation from the fake sysfs and /proc trees of the test
base; faults are injected into the readers themselves, as a driver bug or
a broken monitoring library would raise them.
"""

import os

import fixtures

from nova_gpu_numa_sched.compute import placement_report
from nova_gpu_numa_sched.compute.utilization import fdinfo
from nova_gpu_numa_sched.compute.utilization import once
from tests.functional import base
from tests.functional import fake_drm
from tests.unit import test_fdinfo

SECOND = test_fdinfo.SECOND
UTILIZATION = 'nova_gpu_numa_sched.compute.utilization'


class UtilizationTestBase(base.GpuNumaTestBase):
    """One host, two cells, a GPU on each (renderD128, renderD129)."""

    def setUp(self):
        super().setUp()
        self.clock = test_fdinfo.FakeClock()
        self.useFixture(fixtures.MonkeyPatch(
            UTILIZATION + '.fdinfo._monotonic_ns', self.clock))
        # Warn-once memory is per process; each test starts with none.
        for module in ('', '.fdinfo', '.sysfs', '.nvml'):
            self.useFixture(fixtures.MonkeyPatch(
                UTILIZATION + module + '._warn',
                once.WarnOnce(fdinfo.LOG)))
        self.gpus = fake_drm.gpus_on_cells([0, 1])

    def start_host(self):
        self.start_gpu_compute('host1', cells=2, gpus=self.gpus)

    def providers(self):
        """{devnode: Placement provider} of host1's render nodes."""
        by_name = self.render_providers('host1')
        return {gpu.devnode: by_name[placement_report.provider_name(
                    'host1', gpu.pci_address)]
                for gpu in self.gpus
                if placement_report.provider_name(
                    'host1', gpu.pci_address) in by_name}

    def load_buckets(self):
        """{devnode: load bucket or None} as nova-compute published them."""
        return {devnode: rp['load']
                for devnode, rp in self.providers().items()}

    def assertAllReported(self):
        rps = self.providers()
        self.assertEqual({gpu.devnode for gpu in self.gpus}, set(rps))
        for gpu in self.gpus:
            rp = rps[gpu.devnode]
            self.assertGreater(rp['inventory']['total'], 0, rp)
            self.assertEqual(gpu.numa_node, rp['cell'])

    def boot_phone(self, name='phone'):
        server = self._create_server(
            name=name, flavor_id=self.phone_flavor(), networks='none')
        return self.assertColocated(server)

    def warnings(self, text):
        return [line for line in self.stdlog.logger.output.splitlines()
                if ' WARNING ' in line and text in line]


class ReaderFaultTest(UtilizationTestBase):
    """Whatever a reader raises, every render provider is reported."""

    def assertFaultHidesOnlyLoad(self, text):
        self.start_host()
        self.assertAllReported()
        self.assertEqual({gpu.devnode: None for gpu in self.gpus},
                         self.load_buckets())
        self.boot_phone()
        self.clock.now += 60 * SECOND
        self.run_periodics()
        self.run_periodics()
        self.assertAllReported()
        self.assertEqual({gpu.devnode: None for gpu in self.gpus},
                         self.load_buckets())
        self.boot_phone('phone2')
        return self.warnings(text)

    def test_sysfs_reader_raises(self):
        self.useFixture(fixtures.MockPatch(
            UTILIZATION + '.sysfs.read',
            side_effect=RuntimeError('sensor hub exploded')))
        warnings = self.assertFaultHidesOnlyLoad('sensor hub exploded')
        # Once per render node and cause, over many updates.
        self.assertEqual(2, len(warnings), warnings)

    def test_nvml_reader_raises(self):
        self.gpus = [fake_drm.FakeGpu(
            devnode=gpu.devnode, pci_address=gpu.pci_address,
            numa_node=gpu.numa_node, vendor_id='0x10de',
            product_id='0x2236') for gpu in self.gpus]
        self.useFixture(fixtures.MockPatch(
            UTILIZATION + '.nvml.read', side_effect=KeyError('handle')))
        warnings = self.assertFaultHidesOnlyLoad('KeyError')
        self.assertEqual(2, len(warnings), warnings)

    def test_fdinfo_reader_raises(self):
        test_fdinfo.FakeProc(self.proc_root)
        self.useFixture(fixtures.MockPatch(
            UTILIZATION + '.fdinfo.FdinfoReader.read',
            side_effect=TypeError('bad sample')))
        warnings = self.assertFaultHidesOnlyLoad('bad sample')
        self.assertEqual(2, len(warnings), warnings)

    def test_whole_read_raises(self):
        # The driver's own fence, for a bug outside any one source.
        self.useFixture(fixtures.MockPatch(
            UTILIZATION + '.read_all', side_effect=MemoryError('leak')))
        warnings = self.assertFaultHidesOnlyLoad('leak')
        self.assertEqual(1, len(warnings), warnings)

    def test_recovers_when_reads_work_again(self):
        broken = self.useFixture(fixtures.MockPatch(
            UTILIZATION + '.sysfs.read', side_effect=OSError('EIO')))
        self.start_host()
        self.assertIsNone(self.load_buckets()['/dev/dri/renderD128'])
        broken.mock.side_effect = None
        broken.mock.return_value = (42.0, None)
        self.run_periodics()
        self.assertEqual(40,
                         self.load_buckets()['/dev/dri/renderD128'])


class FdinfoLoadTest(UtilizationTestBase):
    """Busy time of QEMU's DRM client becomes the render node's trait."""

    def setUp(self):
        super().setUp()
        self.proc = test_fdinfo.FakeProc(self.proc_root)

    def qemu(self, pid, devnode, client_id, render_s):
        """A QEMU process holding a render node, i915's fdinfo format."""
        text = test_fdinfo.i915(client_id, render=render_s * SECOND)
        if os.path.exists(os.path.join(self.proc.root, str(pid))):
            self.proc.write(pid, 12, text)
        else:
            self.proc.open(pid, 12, devnode, text)

    def test_busy_time_growth_sets_load_bucket(self):
        self.qemu(4100, '/dev/dri/renderD128', 31, render_s=100)
        self.start_host()
        # One sample: no delta yet, so no load bucket.
        self.assertEqual({'/dev/dri/renderD128': None,
                          '/dev/dri/renderD129': None}, self.load_buckets())

        self.clock.now += 60 * SECOND
        self.qemu(4100, '/dev/dri/renderD128', 31, render_s=145)
        self.run_periodics()
        # 45 s busy in 60 s: 75 %, bucket 70; no client: idle.
        self.assertEqual(
            {'/dev/dri/renderD128': 70,
             '/dev/dri/renderD129': 0},
            self.load_buckets())
        # The busy GPU loses the tie between two empty GPUs.
        self.assertEqual('/dev/dri/renderD129', self.boot_phone().rendernode)

        # Its QEMU exits between two reads: the load goes, never below 0.
        self.proc.exit(4100)
        self.clock.now += 60 * SECOND
        self.run_periodics()
        self.assertEqual(
            {'/dev/dri/renderD128': 0,
             '/dev/dri/renderD129': 0},
            self.load_buckets())
        self.assertEqual([], self.warnings('fdinfo'))

    def test_claims_inside_the_window_keep_the_bucket(self):
        self.qemu(4100, '/dev/dri/renderD128', 31, render_s=0)
        self.start_host()
        self.clock.now += 60 * SECOND
        self.qemu(4100, '/dev/dri/renderD128', 31, render_s=30)
        self.run_periodics()
        self.assertEqual(50,
                         self.load_buckets()['/dev/dri/renderD128'])
        # Each claim updates the providers again at once; a window of a
        # few milliseconds must not replace the minute's measurement.
        self.qemu(4100, '/dev/dri/renderD128', 31, render_s=31)
        for i in range(2):
            self.boot_phone('phone%d' % i)
        self.assertEqual(50,
                         self.load_buckets()['/dev/dri/renderD128'])
