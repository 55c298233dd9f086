"""Tests of the sysfs and NVML GPU utilisation readers."""

import errno
import logging
import os
import sys
import types
from unittest import mock

import fixtures
import testtools

from nova_gpu_numa_sched.compute import render_node
from nova_gpu_numa_sched.compute import utilization
from nova_gpu_numa_sched.compute.utilization import fdinfo
from nova_gpu_numa_sched.compute.utilization import nvml
from nova_gpu_numa_sched.compute.utilization import once
from nova_gpu_numa_sched.compute.utilization import sysfs
from tests.unit import test_fdinfo

GIB = 1024 ** 3
AMD_NODE = render_node.RenderNode(
    key='0000:83:00.0', devnode='/dev/dri/renderD128', numa_node=1,
    pci_address='0000:83:00.0', vendor_id='0x1002', product_id='0x73bf')
NVIDIA_NODE = render_node.RenderNode(
    key='0000:83:00.0', devnode='/dev/dri/renderD128', numa_node=1,
    pci_address='0000:83:00.0', vendor_id='0x10de', product_id='0x2236')


class ReaderTestCase(testtools.TestCase):
    """Isolates each test from the readers' process-wide state."""

    def setUp(self):
        super().setUp()
        for module in (utilization, sysfs, nvml, fdinfo):
            self.useFixture(fixtures.MonkeyPatch(
                module.__name__ + '._warn', once.WarnOnce(module.LOG)))
        self.useFixture(fixtures.MonkeyPatch(
            'nova_gpu_numa_sched.compute.utilization.nvml._tried', False))
        self.useFixture(fixtures.MonkeyPatch(
            'nova_gpu_numa_sched.compute.utilization.nvml._pynvml', None))
        # No test may reach a real NVML; None makes the import fail.
        self.set_pynvml(None)
        self.log = self.useFixture(fixtures.FakeLogger(
            level=logging.DEBUG, format='%(levelname)s %(message)s'))
        self.root = self.useFixture(fixtures.TempDir()).path

    def set_pynvml(self, module):
        patcher = mock.patch.dict(sys.modules, {'pynvml': module})
        patcher.start()
        self.addCleanup(patcher.stop)

    def make_device(self, name='renderD128', **files):
        device_dir = os.path.join(self.root, 'class', 'drm', name, 'device')
        os.makedirs(device_dir)
        for filename, content in files.items():
            with open(os.path.join(device_dir, filename), 'w') as f:
                f.write(content)
        return device_dir

    def warnings(self):
        return [line for line in self.log.output.splitlines()
                if line.startswith('WARNING')]

    def read(self, node=AMD_NODE):
        return utilization.read_utilization(node, sysfs_root=self.root)


class SysfsTestCase(ReaderTestCase):

    def test_busy_and_vram(self):
        self.make_device(gpu_busy_percent='37\n',
                         mem_info_vram_used='%d\n' % GIB,
                         mem_info_vram_total='%d\n' % (4 * GIB))
        result = self.read()
        self.assertEqual(utilization.GpuUtilization(37.0, 25.0), result)
        self.assertEqual(37.0, result.percent)
        self.assertEqual([], self.warnings())

    def test_only_busy(self):
        self.make_device(gpu_busy_percent='5\n')
        self.assertEqual(utilization.GpuUtilization(5.0, None), self.read())
        self.assertEqual([], self.warnings())

    def test_only_vram(self):
        self.make_device(mem_info_vram_used='%d\n' % (3 * GIB),
                         mem_info_vram_total='%d\n' % (4 * GIB))
        self.assertEqual(utilization.GpuUtilization(None, 75.0), self.read())
        self.assertEqual([], self.warnings())

    def test_vram_used_without_total(self):
        self.make_device(gpu_busy_percent='0', mem_info_vram_used='1024')
        self.assertEqual(utilization.GpuUtilization(0.0, None), self.read())

    def test_missing_device_dir(self):
        self.assertIsNone(self.read())
        self.assertIsNone(sysfs.read(AMD_NODE, self.root))
        self.assertEqual([], self.warnings())

    def test_device_without_utilisation_files(self):
        self.make_device(vendor='0x8086\n')
        self.assertEqual((None, None), sysfs.read(AMD_NODE, self.root))
        self.assertIsNone(self.read())
        self.assertEqual([], self.warnings())

    def test_reads_the_render_node_by_name(self):
        self.make_device(name='renderD129', gpu_busy_percent='80')
        node = render_node.RenderNode(
            key='0000:03:00.0', devnode='/dev/dri/renderD129', numa_node=0)
        self.assertEqual(80.0, self.read(node).busy_percent)
        self.assertIsNone(self.read())

    def assertBusyIgnored(self, content):
        self.make_device(gpu_busy_percent=content,
                         mem_info_vram_used='%d' % GIB,
                         mem_info_vram_total='%d' % (2 * GIB))
        self.assertEqual(utilization.GpuUtilization(None, 50.0), self.read())
        warnings = self.warnings()
        self.assertEqual(1, len(warnings), warnings)
        self.assertIn('gpu_busy_percent', warnings[0])

    def test_busy_not_an_integer(self):
        self.assertBusyIgnored('abc\n')

    def test_busy_empty(self):
        self.assertBusyIgnored('')

    def test_busy_negative(self):
        self.assertBusyIgnored('-5\n')

    def test_busy_above_100(self):
        self.assertBusyIgnored('250\n')

    def assertVramIgnored(self, used, total):
        self.make_device(gpu_busy_percent='12',
                         mem_info_vram_used=used, mem_info_vram_total=total)
        self.assertEqual(utilization.GpuUtilization(12.0, None), self.read())
        warnings = self.warnings()
        self.assertEqual(1, len(warnings), warnings)
        self.assertIn('mem_info_vram', warnings[0])

    def test_vram_total_zero(self):
        self.assertVramIgnored('0', '0')

    def test_vram_used_not_an_integer(self):
        self.assertVramIgnored('abc', '%d' % GIB)

    def test_vram_total_empty(self):
        self.assertVramIgnored('1024', '')

    def test_vram_used_negative(self):
        self.assertVramIgnored('-5', '%d' % GIB)

    def test_vram_used_above_total(self):
        self.assertVramIgnored('%d' % (2 * GIB), '%d' % GIB)

    def test_all_garbage_is_unknown(self):
        self.make_device(gpu_busy_percent='x', mem_info_vram_used='y',
                         mem_info_vram_total='z')
        self.assertIsNone(self.read())
        self.assertEqual(3, len(self.warnings()))

    def test_same_problem_warned_once(self):
        self.make_device(gpu_busy_percent='abc')
        self.assertIsNone(self.read())
        self.assertIsNone(self.read())
        self.assertEqual(1, len(self.warnings()))
        self.assertEqual(2, self.log.output.count("'abc' is not an integer"))

    def test_new_problem_warned_again(self):
        device_dir = self.make_device(gpu_busy_percent='abc')
        self.read()
        with open(os.path.join(device_dir, 'gpu_busy_percent'), 'w') as f:
            f.write('250')
        self.read()
        self.assertEqual(2, len(self.warnings()))

    def test_device_vanishes_while_reading(self):
        self.make_device(gpu_busy_percent='40')
        self.useFixture(fixtures.MockPatch(
            'nova_gpu_numa_sched.compute.utilization.sysfs.open', create=True,
            side_effect=OSError(errno.ENODEV, 'No such device')))
        self.assertIsNone(self.read())
        self.assertIsNone(self.read())
        warnings = self.warnings()
        self.assertEqual(1, len(warnings), warnings)
        self.assertIn('No such device', warnings[0])

    def test_unreadable_file(self):
        device_dir = self.make_device(mem_info_vram_used='%d' % GIB,
                                      mem_info_vram_total='%d' % GIB)
        os.mkdir(os.path.join(device_dir, 'gpu_busy_percent'))
        self.assertEqual(utilization.GpuUtilization(None, 100.0), self.read())
        warnings = self.warnings()
        self.assertEqual(1, len(warnings), warnings)
        self.assertIn('gpu_busy_percent', warnings[0])

    def test_file_vanishes_while_reading(self):
        self.make_device(gpu_busy_percent='40')
        self.useFixture(fixtures.MockPatch(
            'nova_gpu_numa_sched.compute.utilization.sysfs.open', create=True,
            side_effect=FileNotFoundError(errno.ENOENT, 'gone')))
        self.assertIsNone(self.read())
        self.assertEqual([], self.warnings())


class GpuUtilizationTestCase(testtools.TestCase):

    def test_percent_is_the_maximum(self):
        self.assertEqual(
            80.0, utilization.GpuUtilization(20.0, 80.0).percent)
        self.assertEqual(
            90.0, utilization.GpuUtilization(90.0, 10.0).percent)

    def test_percent_with_one_value_unknown(self):
        self.assertEqual(
            20.0, utilization.GpuUtilization(20.0, None).percent)
        self.assertEqual(
            0.0, utilization.GpuUtilization(None, 0.0).percent)

    def test_percent_unknown(self):
        self.assertIsNone(utilization.GpuUtilization(None, None).percent)


class BucketTestCase(testtools.TestCase):

    def test_boundaries(self):
        for percent, width, expected in [
                (0, 10, 0), (9.99, 10, 0), (10, 10, 10), (37, 10, 30),
                (99.9, 10, 90), (100, 10, 100), (37, 25, 25),
                (100, 30, 90), (37, 1, 37), (99, 100, 0), (100, 100, 100)]:
            self.assertEqual(expected, utilization.bucket(percent, width),
                             (percent, width))

    def test_clamped(self):
        self.assertEqual(100, utilization.bucket(250, 10))
        self.assertEqual(0, utilization.bucket(-5, 10))

    def test_returns_int(self):
        self.assertIsInstance(utilization.bucket(37.5, 10), int)

    def test_width_must_be_positive(self):
        self.assertRaises(ValueError, utilization.bucket, 50, 0)

    def test_load_bucket_for(self):
        self.assertEqual(30, utilization.load_bucket_for(
            utilization.GpuUtilization(37.0, 12.0), 10))
        self.assertEqual(100, utilization.load_bucket_for(
            utilization.GpuUtilization(None, 100.0), 10))
        self.assertEqual(0, utilization.load_bucket_for(
            utilization.GpuUtilization(4.0, None), 5))

    def test_load_bucket_for_unknown(self):
        self.assertIsNone(utilization.load_bucket_for(None, 10))
        self.assertIsNone(utilization.load_bucket_for(
            utilization.GpuUtilization(None, None), 10))


class DampedBucketTestCase(testtools.TestCase):

    def test_first_reading_is_its_bucket(self):
        self.assertEqual(30, utilization.damped_bucket(34, 10, None, 5))

    def test_jitter_across_a_boundary_keeps_the_bucket(self):
        # Bucket 30 holds from 25 up to (not including) 45.
        for percent in (25, 29.9, 30, 39.9, 40, 44.9):
            self.assertEqual(30, utilization.damped_bucket(
                percent, 10, 30, 5), percent)

    def test_leaving_by_the_margin_moves(self):
        self.assertEqual(20, utilization.damped_bucket(24.9, 10, 30, 5))
        self.assertEqual(40, utilization.damped_bucket(45, 10, 30, 5))
        self.assertEqual(0, utilization.damped_bucket(3, 10, 90, 5))
        self.assertEqual(100, utilization.damped_bucket(100, 10, 30, 5))

    def test_top_bucket_holds_just_below_full(self):
        self.assertEqual(100, utilization.damped_bucket(96, 10, 100, 5))
        self.assertEqual(90, utilization.damped_bucket(94, 10, 100, 5))

    def test_no_margin_is_the_plain_bucket(self):
        for percent in (29.9, 30, 40, 55):
            self.assertEqual(utilization.bucket(percent, 10),
                             utilization.damped_bucket(percent, 10, 30, 0))


class LoadBucketsTestCase(testtools.TestCase):

    def reading(self, percent):
        return utilization.GpuUtilization(percent, None)

    def test_bucket_is_damped(self):
        buckets = utilization.LoadBuckets()
        seen = [buckets.buckets({'a': self.reading(p)}, 10, 5)['a']
                for p in (38, 41, 39, 43, 46, 44, 41, 36)]
        self.assertEqual([30] * 4 + [40] * 4, seen)

    def test_undamped_changes_on_every_crossing(self):
        buckets = utilization.LoadBuckets()
        seen = [buckets.buckets({'a': self.reading(p)}, 10, 0)['a']
                for p in (38, 41, 39, 43)]
        self.assertEqual([30, 40, 30, 40], seen)

    def test_unknown_reading_drops_bucket_and_history(self):
        buckets = utilization.LoadBuckets()
        buckets.buckets({'a': self.reading(38)}, 10, 5)
        self.assertEqual({'a': None}, buckets.buckets({'a': None}, 10, 5))
        # Afresh: 41 is bucket 40, not the 30 held before.
        self.assertEqual({'a': 40},
                         buckets.buckets({'a': self.reading(41)}, 10, 5))
        self.assertEqual({'a': None}, buckets.buckets(
            {'a': utilization.GpuUtilization(None, None)}, 10, 5))

    def test_render_nodes_are_independent_and_forgotten(self):
        buckets = utilization.LoadBuckets()
        buckets.buckets({'a': self.reading(38), 'b': self.reading(61)}, 10, 5)
        self.assertEqual(
            {'a': 30, 'b': 60},
            buckets.buckets({'a': self.reading(42), 'b': self.reading(58)},
                            10, 5))
        # 'a' vanishes; when it returns it starts afresh.
        buckets.buckets({'b': self.reading(58)}, 10, 5)
        self.assertEqual({'a': 40},
                         buckets.buckets({'a': self.reading(42)}, 10, 5))

    def test_traits_name_the_buckets(self):
        """The trait names of earlier releases, from the same buckets."""
        buckets = utilization.LoadBuckets()
        self.assertEqual(
            {'a': 'CUSTOM_GPU_LOAD_30', 'b': None},
            buckets.traits({'a': self.reading(38), 'b': None}, 10, 5))
        # The same history: 41 stays in bucket 30.
        self.assertEqual({'a': 30}, buckets.buckets(
            {'a': self.reading(41)}, 10, 5))


class FakeNVMLError(Exception):

    def __init__(self, value):
        super().__init__(value)
        self.value = value

    def __str__(self):
        return 'NVML error %d' % self.value


NOT_FOUND = 6
NOT_SUPPORTED = 3


class FakeNVML(types.ModuleType):
    """The parts of ``pynvml`` the reader uses, over a dict of GPUs."""

    NVMLError = FakeNVMLError
    NVML_ERROR_NOT_FOUND = NOT_FOUND

    def __init__(self, gpus):
        super().__init__('pynvml')
        self.gpus = gpus
        self.init_calls = 0
        self.init_error = None
        self.bus_ids = []

        # Plain functions, as the reader logs their names.
        def nvmlInit():
            self.init_calls += 1
            if self.init_error is not None:
                raise self.init_error

        def nvmlDeviceGetHandleByPciBusId(bus_id):
            self.bus_ids.append(bus_id)
            if bus_id not in self.gpus:
                raise FakeNVMLError(NOT_FOUND)
            return bus_id

        def nvmlDeviceGetUtilizationRates(handle):
            gpu = self.gpus[handle]['gpu']
            if isinstance(gpu, Exception):
                raise gpu
            return types.SimpleNamespace(gpu=gpu, memory=0)

        def nvmlDeviceGetMemoryInfo(handle):
            memory = self.gpus[handle]['memory']
            if isinstance(memory, Exception):
                raise memory
            used, total = memory
            return types.SimpleNamespace(
                used=used, total=total, free=total - used)

        self.nvmlInit = nvmlInit
        self.nvmlDeviceGetHandleByPciBusId = nvmlDeviceGetHandleByPciBusId
        self.nvmlDeviceGetUtilizationRates = nvmlDeviceGetUtilizationRates
        self.nvmlDeviceGetMemoryInfo = nvmlDeviceGetMemoryInfo


class NVMLTestCase(ReaderTestCase):

    def setUp(self):
        super().setUp()
        self.nvml = FakeNVML({
            '00000000:83:00.0': {'gpu': 55, 'memory': (2 * GIB, 8 * GIB)},
        })
        self.set_pynvml(self.nvml)

    def test_reads_nvidia_gpu(self):
        self.assertEqual(utilization.GpuUtilization(55.0, 25.0),
                         self.read(NVIDIA_NODE))
        self.assertEqual(['00000000:83:00.0'], self.nvml.bus_ids)
        self.assertEqual([], self.warnings())

    def test_bus_id_normalisation(self):
        self.assertEqual('00000000:83:00.0', nvml.nvml_bus_id('0000:83:00.0'))
        self.assertEqual('00000000:83:00.0', nvml.nvml_bus_id('83:00.0'))
        self.assertEqual('00000000:83:00.0',
                         nvml.nvml_bus_id('00000000:83:00.0'))
        self.assertEqual('00000001:af:00.1', nvml.nvml_bus_id('0001:AF:00.1'))
        self.assertIsNone(nvml.nvml_bus_id('renderD128'))
        self.assertIsNone(nvml.nvml_bus_id('0000:83:00'))
        self.assertIsNone(nvml.nvml_bus_id('xyz:83:00.0'))

    def test_bad_pci_address_is_logged(self):
        node = render_node.RenderNode(
            key='k', devnode='/dev/dri/renderD128', numa_node=0,
            pci_address='pci_0000_83_00_0', vendor_id='0x10de')
        self.assertIsNone(self.read(node))
        self.assertEqual([], self.nvml.bus_ids)
        self.assertEqual(1, len(self.warnings()))

    def test_unknown_vendor_with_pci_address(self):
        node = render_node.RenderNode(
            key='0000:83:00.0', devnode='/dev/dri/renderD128', numa_node=1,
            pci_address='0000:83:00.0')
        self.assertEqual(55.0, self.read(node).busy_percent)

    def test_vendor_id_without_prefix(self):
        node = render_node.RenderNode(
            key='0000:83:00.0', devnode='/dev/dri/renderD128', numa_node=1,
            pci_address='0000:83:00.0', vendor_id='10DE')
        self.assertEqual(55.0, self.read(node).busy_percent)

    def test_other_vendor_skips_nvml(self):
        self.assertIsNone(self.read(AMD_NODE))
        self.assertEqual(0, self.nvml.init_calls)

    def test_no_pci_address_skips_nvml(self):
        node = render_node.RenderNode(
            key='renderD128', devnode='/dev/dri/renderD128', numa_node=0,
            vendor_id='0x10de')
        self.assertIsNone(self.read(node))
        self.assertEqual(0, self.nvml.init_calls)

    def test_sysfs_is_preferred(self):
        self.make_device(gpu_busy_percent='10')
        self.assertEqual(utilization.GpuUtilization(10.0, None),
                         self.read(NVIDIA_NODE))
        self.assertEqual([], self.nvml.bus_ids)

    def test_initialised_once(self):
        self.read(NVIDIA_NODE)
        self.read(NVIDIA_NODE)
        self.assertEqual(1, self.nvml.init_calls)
        self.assertEqual(2, len(self.nvml.bus_ids))

    def test_gpu_not_found(self):
        self.nvml.gpus.clear()
        self.assertIsNone(self.read(NVIDIA_NODE))
        self.assertEqual([], self.warnings())

    def test_handle_error_is_logged(self):
        self.nvml.gpus.clear()
        self.nvml.nvmlDeviceGetHandleByPciBusId = mock.Mock(
            side_effect=FakeNVMLError(NOT_SUPPORTED))
        self.assertIsNone(self.read(NVIDIA_NODE))
        warnings = self.warnings()
        self.assertEqual(1, len(warnings), warnings)
        self.assertIn('NVML error 3', warnings[0])

    def test_utilization_error_is_logged_once(self):
        self.nvml.gpus['00000000:83:00.0']['gpu'] = FakeNVMLError(
            NOT_SUPPORTED)
        expected = utilization.GpuUtilization(None, 25.0)
        self.assertEqual(expected, self.read(NVIDIA_NODE))
        self.assertEqual(expected, self.read(NVIDIA_NODE))
        warnings = self.warnings()
        self.assertEqual(1, len(warnings), warnings)
        self.assertIn('nvmlDeviceGetUtilizationRates', warnings[0])
        self.assertIn('NVML error 3', warnings[0])

    def test_memory_error(self):
        self.nvml.gpus['00000000:83:00.0']['memory'] = FakeNVMLError(999)
        self.assertEqual(utilization.GpuUtilization(55.0, None),
                         self.read(NVIDIA_NODE))
        self.assertIn('nvmlDeviceGetMemoryInfo', self.warnings()[0])

    def test_all_errors_are_unknown(self):
        gpu = self.nvml.gpus['00000000:83:00.0']
        gpu['gpu'] = FakeNVMLError(NOT_SUPPORTED)
        gpu['memory'] = FakeNVMLError(NOT_SUPPORTED)
        self.assertIsNone(self.read(NVIDIA_NODE))
        self.assertEqual(2, len(self.warnings()))

    def test_impossible_values_are_unknown(self):
        gpu = self.nvml.gpus['00000000:83:00.0']
        gpu['gpu'] = 250
        gpu['memory'] = (0, 0)
        self.assertIsNone(self.read(NVIDIA_NODE))
        self.assertEqual(2, len(self.warnings()))

    def test_init_failure_is_logged_once(self):
        self.nvml.init_error = FakeNVMLError(12)
        self.assertIsNone(self.read(NVIDIA_NODE))
        self.assertIsNone(self.read(NVIDIA_NODE))
        self.assertEqual(1, self.nvml.init_calls)
        warnings = self.warnings()
        self.assertEqual(1, len(warnings), warnings)
        self.assertIn('Cannot initialise NVML', warnings[0])


class NVMLAbsentTestCase(ReaderTestCase):

    def test_no_pynvml(self):
        self.assertIsNone(self.read(NVIDIA_NODE))
        self.assertIsNone(nvml.read(NVIDIA_NODE))
        self.assertEqual([], self.warnings())


INTEL_NODE = render_node.RenderNode(
    key='0000:03:00.0', devnode='/dev/dri/renderD128', numa_node=0,
    pci_address='0000:03:00.0', vendor_id='0x8086')
SECOND = test_fdinfo.SECOND


class SourcesTestCase(ReaderTestCase):
    """Which source gives a render node's values when several could."""

    def setUp(self):
        super().setUp()
        self.proc = test_fdinfo.FakeProc(os.path.join(self.root, 'proc'))
        self.clock = test_fdinfo.FakeClock()
        self.useFixture(fixtures.MonkeyPatch(
            'nova_gpu_numa_sched.compute.utilization.fdinfo._monotonic_ns',
            self.clock))
        self.reader = fdinfo.FdinfoReader(self.proc.root)

    def read(self, node=INTEL_NODE):
        return utilization.read_utilization(node, self.root, self.reader)

    def read_all(self, *nodes):
        return utilization.read_all(nodes, self.root, self.reader)

    def half_busy_client(self, devnode='/dev/dri/renderD128'):
        """A QEMU whose render engine is busy 30 s of the next 60 s."""
        self.proc.open(100, 9, devnode, test_fdinfo.i915(7))
        self.assertIsNone(self.reader.read(
            [INTEL_NODE], self.root)[INTEL_NODE.key])
        self.clock.now += 60 * SECOND
        self.proc.write(100, 9, test_fdinfo.i915(7, render=30 * SECOND))

    def test_fdinfo_alone(self):
        self.proc.open(100, 9, INTEL_NODE.devnode, test_fdinfo.i915(7))
        self.assertIsNone(self.read())
        self.clock.now += 60 * SECOND
        self.proc.write(100, 9, test_fdinfo.i915(7, render=15 * SECOND))
        self.assertEqual(utilization.GpuUtilization(25.0, None),
                         self.read())
        self.assertEqual([], self.warnings())

    def test_sysfs_busy_wins_over_fdinfo(self):
        self.make_device(gpu_busy_percent='10')
        self.half_busy_client()
        self.assertEqual(utilization.GpuUtilization(10.0, None),
                         self.read())

    def test_fdinfo_is_not_read_when_sysfs_knows_busy(self):
        self.make_device(gpu_busy_percent='10')
        self.proc.open(100, 9, INTEL_NODE.devnode, test_fdinfo.i915(7))
        self.read()
        self.assertEqual({}, self.reader._samples)

    def test_fdinfo_fills_busy_beside_sysfs_vram(self):
        self.make_device(mem_info_vram_used='%d' % GIB,
                         mem_info_vram_total='%d' % (4 * GIB))
        self.half_busy_client()
        self.assertEqual(utilization.GpuUtilization(50.0, 25.0),
                         self.read())

    def test_nvml_wins_over_fdinfo(self):
        self.set_pynvml(FakeNVML({
            '00000000:83:00.0': {'gpu': 55, 'memory': (0, 8 * GIB)}}))
        self.proc.open(100, 9, NVIDIA_NODE.devnode, test_fdinfo.i915(7))
        self.reader.read([NVIDIA_NODE], self.root)
        self.clock.now += 60 * SECOND
        self.proc.write(100, 9, test_fdinfo.i915(7, render=60 * SECOND))
        self.assertEqual(utilization.GpuUtilization(55.0, 0.0),
                         self.read(NVIDIA_NODE))

    def test_no_proc_is_no_source(self):
        reader = fdinfo.FdinfoReader(os.path.join(self.root, 'no-proc'))
        self.assertIsNone(utilization.read_utilization(
            INTEL_NODE, self.root, reader))
        self.assertEqual([], self.warnings())

    def test_without_reader(self):
        self.half_busy_client()
        self.assertIsNone(utilization.read_utilization(INTEL_NODE,
                                                       self.root))


class AnyExceptionTestCase(SourcesTestCase):
    """A source that raises anything hides one node's load, nothing more."""

    OTHER = render_node.RenderNode(
        key='0000:04:00.0', devnode='/dev/dri/renderD129', numa_node=1,
        pci_address='0000:04:00.0', vendor_id='0x1002')

    def setUp(self):
        super().setUp()
        self.make_device(name='renderD129', gpu_busy_percent='20')

    def break_source(self, name, error, node=INTEL_NODE):
        """Make one source raise error for node, work for the others."""
        module = {'sysfs': sysfs, 'nvml': nvml}[name]
        real = module.read

        def read(render_node, *args):
            if render_node.key == node.key:
                raise error
            return real(render_node, *args)

        self.useFixture(fixtures.MonkeyPatch(
            module.__name__ + '.read', read))

    def assertWarnedOnce(self, *texts):
        warnings = self.warnings()
        self.assertEqual(1, len(warnings), warnings)
        for text in texts:
            self.assertIn(text, warnings[0])

    def test_sysfs_raises_runtime_error(self):
        self.break_source('sysfs', RuntimeError('driver bug'))
        self.half_busy_client()
        for _ in range(3):
            self.assertEqual(
                {INTEL_NODE.key: None,
                 self.OTHER.key: utilization.GpuUtilization(20.0, None)},
                self.read_all(INTEL_NODE, self.OTHER))
        self.assertWarnedOnce('sysfs', INTEL_NODE.devnode, 'RuntimeError',
                              'driver bug')
        # The repeats are still in the log, at DEBUG.
        self.assertEqual(3, self.log.output.count(
            'failed; its load is unknown'))

    def test_no_fallback_after_a_failure(self):
        # A failed source is not replaced by the next one: a period's
        # value never mixes sources.
        nvml_read = mock.Mock(return_value=(90.0, 90.0))
        self.useFixture(fixtures.MonkeyPatch(
            'nova_gpu_numa_sched.compute.utilization.nvml.read',
            nvml_read))
        self.break_source('sysfs', OSError('EIO'))
        self.half_busy_client()
        self.assertIsNone(self.read())
        nvml_read.assert_not_called()

    def test_nvml_raises_key_error(self):
        self.break_source('nvml', KeyError('handle'), node=NVIDIA_NODE)
        self.assertIsNone(self.read(NVIDIA_NODE))
        self.assertIsNone(self.read(NVIDIA_NODE))
        self.assertWarnedOnce('nvml', 'KeyError')

    def test_new_cause_warned_again(self):
        errors = [RuntimeError('a'), RuntimeError('b'), ValueError('c')]
        self.useFixture(fixtures.MockPatch(
            'nova_gpu_numa_sched.compute.utilization.sysfs.read',
            side_effect=errors))
        for _ in errors:
            self.assertIsNone(self.read())
        warnings = self.warnings()
        self.assertEqual(2, len(warnings), warnings)
        self.assertIn('RuntimeError', warnings[0])
        self.assertIn('ValueError', warnings[1])

    def test_fdinfo_reader_raises(self):
        self.half_busy_client()
        self.useFixture(fixtures.MockPatchObject(
            self.reader, 'read', side_effect=TypeError('bad sample')))
        for _ in range(2):
            self.assertEqual(
                {INTEL_NODE.key: None,
                 self.OTHER.key: utilization.GpuUtilization(20.0, None)},
                self.read_all(INTEL_NODE, self.OTHER))
        self.assertWarnedOnce('fdinfo', INTEL_NODE.devnode, 'TypeError')

    def test_proc_unreadable(self):
        self.half_busy_client()
        with fixtures.MockPatch(
                'nova_gpu_numa_sched.compute.utilization.fdinfo.os.listdir',
                side_effect=PermissionError(errno.EACCES, 'denied')):
            self.assertIsNone(self.read())
        self.assertWarnedOnce('fdinfo', 'ProcUnreadable')
        # Once /proc reads again, the baseline it kept still counts.
        self.assertEqual(50.0, self.read().busy_percent)

    def test_vram_known_but_fdinfo_failed(self):
        self.make_device(mem_info_vram_used='%d' % GIB,
                         mem_info_vram_total='%d' % (4 * GIB))
        self.useFixture(fixtures.MockPatchObject(
            self.reader, 'read', side_effect=RuntimeError('x')))
        self.assertIsNone(self.read())
