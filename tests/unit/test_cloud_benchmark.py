"""The parts of benchmarks/cloud_throughput.py that need no cloud.

The benchmark itself boots phones through the running one-machine cloud
(``tools/cloud.sh up``); tests/unit/test_benchmark_runs.py does not run
it. Its CPU accounting reads the real /proc of this machine here.
"""

import ast
import os
import tempfile

import testtools

from benchmarks.cloud import modes
from benchmarks.cloud import service_cpu
from benchmarks.cloud import stock_driver
from benchmarks import cloud_throughput


def _own_cpu():
    times = os.times()
    return times.user + times.system


class TestServiceCpu(testtools.TestCase):

    def test_this_session_uses_cpu(self):
        with tempfile.TemporaryDirectory() as pids:
            with open(os.path.join(pids, 'me'), 'w') as f:
                f.write('%d\n' % os.getsid(0))
            with open(os.path.join(pids, 'gone'), 'w') as f:
                f.write('not a pid\n')
            before = service_cpu.snapshot(pids)
            start = _own_cpu()
            while _own_cpu() - start < 0.2:
                pass
            burnt = _own_cpu() - start
            after = service_cpu.snapshot(pids)
        self.assertEqual(['me'], sorted(after))
        # This process is in the session; /proc counts in clock ticks.
        self.assertGreaterEqual(service_cpu.used(before, after),
                                burnt - 2.0 / service_cpu.TICKS)

    def test_restarted_service_counts_from_zero(self):
        self.assertEqual(3.0, service_cpu.used({'a': 10.0, 'b': 1.0},
                                               {'a': 2.0, 'b': 2.0}))


class TestRun(testtools.TestCase):

    def test_rates_and_percentiles(self):
        run = cloud_throughput.Run('plugin', 2, phones=20, active=20,
                                   seconds=30.0, cpu_seconds=50.0,
                                   latencies=[float(i) for i in range(1, 21)])
        self.assertEqual(40.0, run.per_minute)
        self.assertEqual(2.5, run.cpu_per_phone)
        self.assertEqual(11.0, run.percentile(0.5))
        self.assertEqual(20.0, run.percentile(0.95))

    def test_empty_run(self):
        run = cloud_throughput.Run('stock', 1)
        self.assertEqual(0.0, run.per_minute)
        self.assertEqual(0.0, run.percentile(0.95))


class TestModes(testtools.TestCase):

    def test_stock_computes_load_the_stock_driver(self):
        self.assertEqual(
            {'OS_DEFAULT__COMPUTE_DRIVER': stock_driver.DRIVER},
            modes.compute_env(modes.STOCK))
        self.assertEqual({}, modes.compute_env(modes.PLUGIN))

    def test_cloud_compute_exposes_the_stock_driver(self):
        """Nova 34 loads compute_driver only as nova.virt.<name>."""
        name, cls = stock_driver.DRIVER.split('.')
        self.assertTrue(hasattr(stock_driver, cls))
        self.assertEqual(stock_driver.__name__,
                         _compute_entry_point_drivers()[name])

    def test_scheduler_workers_alone_for_the_plugin(self):
        self.assertEqual({'OS_SCHEDULER__WORKERS': '1'},
                         modes.scheduler_env(modes.PLUGIN, 1))
        self.assertEqual({}, modes.scheduler_env(None, None))


def _compute_entry_point_drivers():
    """REPO_DRIVERS of tools/cloud/compute.py, read without running it."""
    path = os.path.join(os.path.dirname(__file__), '..', '..', 'tools',
                        'cloud', 'compute.py')
    with open(path) as f:
        tree = ast.parse(f.read())
    for node in tree.body:
        if (isinstance(node, ast.Assign) and
                isinstance(node.targets[0], ast.Name) and
                node.targets[0].id == 'REPO_DRIVERS'):
            return ast.literal_eval(node.value)
    raise AssertionError('no REPO_DRIVERS in %s' % path)
