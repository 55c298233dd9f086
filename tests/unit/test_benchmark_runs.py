"""The Placement and end-to-end benchmarks still run, on a tiny fleet.

Each script runs in tiny mode in a fresh interpreter, as an operator would
run it; the test checks that it completes and prints its ratio lines. It
asserts nothing about speed: the numbers are for ``doc/source/
benchmarks.rst``, not for the test suite.

``benchmarks/cloud_throughput.py`` is not run here: it needs the running
one-machine cloud (``tools/cloud.sh up``) and restarts its services; the
parts that need no cloud are tested in ``test_cloud_benchmark.py``.
"""

import os
import subprocess
import sys

import testtools

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
#: Generous: tiny mode takes seconds; a stuck service should fail, not hang.
TIMEOUT = 300


def run_benchmark(script, *args):
    env = dict(os.environ, PYTHONPATH=REPO_ROOT)
    # The end-to-end script runs Nova's functional fixtures, which read
    # these; keep the caller's test settings out of the child.
    for name in ('OS_STDOUT_CAPTURE', 'OS_STDERR_CAPTURE', 'OS_LOG_CAPTURE'):
        env.pop(name, None)
    return subprocess.run(
        [sys.executable, os.path.join(REPO_ROOT, 'benchmarks', script)] +
        list(args), cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, universal_newlines=True, timeout=TIMEOUT)


def ratio_lines(output):
    """The lines after the final 'Ratios' heading."""
    lines = output.splitlines()
    if 'Ratios' not in lines:
        return []
    last = len(lines) - 1 - lines[::-1].index('Ratios')
    return [line for line in lines[last + 1:] if line.strip()]


class TestPlacementCostRuns(testtools.TestCase):

    def test_tiny(self):
        proc = run_benchmark('placement_cost.py', '--tiny')
        self.assertEqual(0, proc.returncode, proc.stdout)
        self.assertIn('sample read back through the REST API: ok',
                      proc.stdout)
        ratios = ratio_lines(proc.stdout)
        self.assertTrue(ratios, proc.stdout)
        for line in ratios:
            self.assertTrue(line.startswith('ratio '), line)
        # Both parts report: query time of the phone against the plain
        # guest, and one balance line per combination of options.
        self.assertTrue(any('phone on 2 GPUs/host / plain guest' in line
                            for line in ratios), ratios)
        self.assertTrue(any('with / without randomize_allocation_candidates'
                            in line for line in ratios), ratios)
        self.assertTrue(any('hosts offered / fleet, randomize:' in line
                            for line in ratios), ratios)
        self.assertTrue(any('breadth-first + cap + randomize:' in line
                            for line in ratios), ratios)

    def test_bad_option_is_named(self):
        proc = run_benchmark('placement_cost.py', '--boots', '0')
        self.assertEqual(2, proc.returncode, proc.stdout)
        self.assertIn('--boots must be at least 1', proc.stdout)


class TestEndToEndRuns(testtools.TestCase):

    def test_tiny(self):
        proc = run_benchmark('e2e_throughput.py', '--tiny')
        self.assertEqual(0, proc.returncode, proc.stdout)
        ratios = ratio_lines(proc.stdout)
        self.assertTrue(any(line.startswith(
            'ratio phones per minute plugin / stock: ')
            for line in ratios), proc.stdout)
        self.assertTrue(any(line.startswith(
            'ratio phones per CPU minute plugin / stock: ')
            for line in ratios), proc.stdout)
        # The plugin run places every phone on its GPU's cell.
        self.assertIn('co-located plugin / stock: 4/4 vs ', proc.stdout)

    def test_too_many_phones_is_named(self):
        proc = run_benchmark('e2e_throughput.py', '--hosts', '1',
                             '--phones', '13')
        self.assertEqual(2, proc.returncode, proc.stdout)
        self.assertIn('--phones: 1 hosts hold at most 12 phones',
                      proc.stdout)
