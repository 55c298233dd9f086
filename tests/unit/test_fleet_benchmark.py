"""The fleet placement-quality benchmark: its optimum and a tiny run.

The MILP is checked on instances small enough to solve by hand; the
script runs in tiny mode in a fresh interpreter and must print its ratio
lines and write its chart. Nothing here measures speed.
"""

import os
import random
import subprocess
import sys
import tempfile

import fixtures
from nova import objects
import testtools

from benchmarks.fleet import optimum
from benchmarks.fleet import policies
from benchmarks.fleet import topology
from benchmarks.fleet import workload

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
#: Generous: tiny mode takes seconds.
TIMEOUT = 300

PHONE = workload.SIZES['phone.2c2g']
VM = workload.SIZES['vm.4c8g']
#: Two cells of 4 CPUs and 4 GiB, one GPU of 4 slots on cell 0: two
#: co-located phones (cell 0's RAM), four when a phone may sit on cell 1.
SPLIT_HOST = topology.HostKind('split', 'aarch64', 2, 4, 4096, (0,), 4)
#: One cell of 8 CPUs and 8 GiB, one GPU of 3 slots: three phones (slots).
SMALL_HOST = topology.HostKind('small', 'aarch64', 1, 8, 8192, (0,), 3)


def fleet(*kinds):
    objects.register_all()
    rng = random.Random(7)
    return [topology.Host(index, kind, rng)
            for index, kind in enumerate(kinds)]


class OptimumTestCase(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.hosts = fleet(SPLIT_HOST, SMALL_HOST)

    def test_co_located_optimum(self):
        bound = optimum.solve(self.hosts, {PHONE: 10})
        self.assertEqual('optimal', bound.kind)
        # 2 on the first host (RAM of the GPU's cell), 3 on the second
        # (its slots).
        self.assertAlmostEqual(5.0, bound.phones)

    def test_split_allowed_optimum(self):
        bound = optimum.solve(self.hosts, {PHONE: 10}, co_located=False)
        # The first host's 4 slots now all serve: 2 phones per cell.
        self.assertAlmostEqual(7.0, bound.phones)

    def test_demand_below_capacity(self):
        bound = optimum.solve(self.hosts, {PHONE: 4})
        self.assertAlmostEqual(4.0, bound.phones)

    def test_vms_are_placed_first(self):
        # The 8 GiB VM fits only on the second host's cell, which then has
        # no RAM left for a phone.
        bound = optimum.solve(self.hosts, {PHONE: 10, VM: 1})
        self.assertAlmostEqual(2.0, bound.phones)
        self.assertAlmostEqual(1.0, bound.vms)
        split = optimum.solve(self.hosts, {PHONE: 10, VM: 1},
                              co_located=False)
        self.assertAlmostEqual(4.0, split.phones)

    def test_lp_relaxation_bounds_the_optimum(self):
        big = workload.SIZES['phone.8c6g']
        exact = optimum.solve(self.hosts, {big: 3})
        relaxed = optimum.solve(self.hosts, {big: 3}, integral=False)
        self.assertEqual('lp', relaxed.kind)
        # A 6 GiB phone fits no 4 GiB cell and one on the 8 GiB cell; the
        # LP places 4/6 + 8/6 of a phone.
        self.assertAlmostEqual(1.0, exact.phones)
        self.assertAlmostEqual(2.0, relaxed.phones)

    def test_vms_that_do_not_fit_name_the_option(self):
        error = self.assertRaises(ValueError, optimum.solve, self.hosts,
                                  {PHONE: 1, VM: 2})
        self.assertIn('--vm-share', str(error))

    def test_fits_all(self):
        self.assertTrue(optimum.fits_all(self.hosts, [PHONE] * 5))
        self.assertFalse(optimum.fits_all(self.hosts, [PHONE] * 6))


class WorkloadTestCase(testtools.TestCase):

    def _stream(self, seed):
        hosts = fleet(SPLIT_HOST, SMALL_HOST, SMALL_HOST)
        return workload.generate(hosts, random.Random(seed), overbook=2.0,
                                 vm_share=0.2, churn=1.0)

    def test_same_seed_same_stream(self):
        self.assertEqual(self._stream(1).events, self._stream(1).events)

    def test_fill_phase_and_deletes(self):
        stream = self._stream(2)
        fill = stream.events[:stream.fill_end]
        self.assertTrue(all(e.action == 'boot' for e in fill))
        # 10 slots, overbooked twice.
        self.assertEqual(20, sum(1 for e in fill
                                 if e.size.kind == workload.PHONE))
        self.assertLessEqual(stream.half, stream.fill_end)
        alive = set()
        for index, event in enumerate(stream.events):
            if event.action == 'boot':
                self.assertEqual(index, event.instance)
                alive.add(event.instance)
            else:
                self.assertIn(event.instance, alive)
                alive.remove(event.instance)
        self.assertEqual(alive, set(stream.demand(len(stream.events))))


class PoliciesTestCase(testtools.TestCase):

    def test_documented_filters(self):
        with tempfile.NamedTemporaryFile('w', suffix='.rst') as readme:
            readme.write('    enabled_filters = ComputeFilter,'
                         'NUMATopologyFilter,GpuNumaAffinityFilter\n')
            readme.flush()
            self.assertEqual(('NUMATopologyFilter', 'GpuNumaAffinityFilter'),
                             policies.documented_filters(readme.name))

    def test_unknown_filter_is_named(self):
        error = self.assertRaises(ValueError, policies.filter_class,
                                  'NoSuchFilter')
        self.assertIn('NoSuchFilter', str(error))


class TinyRunTestCase(testtools.TestCase):

    def test_tiny(self):
        chart = os.path.join(self.useFixture(fixtures.TempDir()).path,
                             'fleet.png')
        env = dict(os.environ, PYTHONPATH=REPO_ROOT)
        proc = subprocess.run(
            [sys.executable,
             os.path.join(REPO_ROOT, 'benchmarks', 'fleet_quality.py'),
             '--tiny', '--chart', chart],
            cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, universal_newlines=True,
            timeout=TIMEOUT)
        self.assertEqual(0, proc.returncode, proc.stdout)
        lines = proc.stdout.splitlines()
        self.assertIn('Ratios', lines, proc.stdout)
        ratios = [line for line in lines[lines.index('Ratios') + 1:]
                  if line.strip()]
        for line in ratios:
            self.assertTrue(line.startswith('ratio '), line)
        for policy in ('stock', 'required', 'preferred'):
            self.assertTrue(any(line.startswith('ratio %s ' % policy)
                                for line in ratios), ratios)
        self.assertTrue(ratios[-1].startswith('ratio targets for required:'),
                        ratios)
        # With required, no phone may sit on another cell than its GPU.
        required = next(line for line in ratios
                        if line.startswith('ratio required '))
        self.assertIn('cross-NUMA   0.0 %', required)
        with open(chart, 'rb') as handle:
            self.assertEqual(b'\x89PNG', handle.read(4))
