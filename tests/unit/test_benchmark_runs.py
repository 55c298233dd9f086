"""The Placement, end-to-end and fdinfo benchmarks still run, tiny.

Each script runs in tiny mode in a fresh interpreter, as an operator would
run it; the test checks that it completes and prints its ratio lines. It
asserts nothing about speed: the numbers are for ``doc/source/
benchmarks.rst``, not for the test suite.

``benchmarks/cloud_throughput.py`` is not run here: it needs the running
one-machine cloud (``tools/cloud.sh up``) and restarts its services; the
parts that need no cloud are tested in ``test_cloud_benchmark.py``.
"""

import os
import re
import subprocess
import sys

import testtools

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
#: Generous: tiny mode takes seconds on a quiet machine, minutes on a busy
#: one (placement_cost.py starts Placement twice and a MariaDB server); a
#: stuck service should fail, not hang.
TIMEOUT = 900


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


#: The provider models of the interleaved comparison, in their order.
MODELS = ('host slots', 'per render node', 'per cell')
_MARK = r'(pass|FAIL)'
_AIM = r'(met|not met)'
INTERLEAVED = re.compile(
    r'^ratio interleaved (?P<what>phone / plain guest without render '
    r'providers|plain guest with / without render providers), '
    r'(?P<backend>sqlite|mariadb), (?P<model>[a-z ]+), 20 hosts x 8 GPUs: '
    r'min \d+\.\d\d, median of rounds \d+\.\d\d \((goal <= 1\.5: min '
    + _MARK + ', median ' + _MARK + r'; aim 1\.2: min ' + _AIM + ', median '
    + _AIM + r'|goal <= 1\.2: min ' + _MARK + ', median ' + _MARK + r')\)$')


class TestPlacementCostRuns(testtools.TestCase):

    def test_tiny(self):
        proc = run_benchmark('placement_cost.py', '--tiny')
        self.assertEqual(0, proc.returncode, proc.stdout)
        self.assertIn('sample read back through the REST API: ok',
                      proc.stdout)
        self.assertIn('== sqlite (SQLite ', proc.stdout)
        self.assertIn('== mariadb (MariaDB ', proc.stdout)
        self.assertServerGone(proc.stdout)
        ratios = ratio_lines(proc.stdout)
        self.assertTrue(ratios, proc.stdout)
        for line in ratios:
            self.assertTrue(line.startswith('ratio '), line)
        for backend in ('sqlite', 'mariadb'):
            # Balance: one line per combination of options.
            self.assertHas(ratios, 'hosts offered / fleet, %s, randomize: '
                           % backend)
            self.assertHas(ratios, 'hosts offered / fleet, %s, cap 4 '
                           'breadth-first + randomize: ' % backend)
            # Every lever and shape, against the plain guest without
            # render providers under the same options.
            for variant in ('randomize', 'cap 5 depth-first',
                            'cap 5 breadth-first', 'wide-tree optimisation',
                            'slot in group 1', 'slot in group 1 + required '
                            'trait', 'limit 5'):
                self.assertHas(ratios, 'phone / plain guest without render '
                               'providers, %s, 20 hosts x 8 GPUs, %s: min '
                               % (backend, variant))
            self.assertHas(ratios, 'plain guest with / without render '
                           'providers, %s, 20 hosts x 8 GPUs, cap 5 '
                           'breadth-first: min ' % backend)
            self.assertHas(ratios, 'phone / plain guest without render '
                           'providers, %s, 20 hosts x 8 GPUs on one provider '
                           'per cell, defaults: min ' % backend)
        self.assertHas(ratios, 'query CPU time MariaDB / SQLite, 20 hosts x '
                       '8 GPUs, phone guest: median ')
        # Claims against trait writes run on MariaDB only.
        self.assertIn('Part 3 (claims racing trait writes) runs on MariaDB '
                      'only', proc.stdout)
        # The earlier release's load traits, then host-level slots, which
        # write no load to Placement.
        for run in ('render providers, no load traits',
                    'render providers, load traits, no hysteresis',
                    'render providers, load traits, hysteresis 5 %'):
            self.assertHas(ratios, 'per 100 phones, mariadb, %s: claims '
                           'refused ' % run)
        slots = [line for line in ratios if line.startswith(
            'ratio per 100 phones, mariadb, host-level slots, load in the '
            'compute node stats: claims refused ')]
        self.assertEqual(1, len(slots), '\n'.join(ratios))
        self.assertTrue(slots[0].endswith(
            'trait writes 0.0, trait writes refused or failed 0.0'),
            slots[0])
        # The two ratios under the defaults, across fleets.
        for backend in ('sqlite', 'mariadb'):
            self.assertHas(ratios, 'phone / plain guest without render '
                           'providers, %s, 20 hosts x 8 GPUs, defaults: min '
                           % backend)
            self.assertHas(ratios, 'plain guest with / without render '
                           'providers, %s, 20 hosts x 8 GPUs, defaults: min '
                           % backend)
        # The interleaved ratios of each model and backend come last.
        self.assertEqual(
            [(backend, model) for backend in ('sqlite', 'mariadb')
             for model in MODELS for _ in range(2)],
            [INTERLEAVED.match(line).group('backend', 'model')
             for line in ratios[-12:]], '\n'.join(ratios[-12:]))

    def test_tiny_models_sqlite(self):
        # Only part 1's interleaved comparison of the provider models.
        proc = run_benchmark('placement_cost.py', '--tiny', '--backends',
                             'sqlite', '--skip-levers', '--skip-balance',
                             '--skip-conflicts')
        self.assertEqual(0, proc.returncode, proc.stdout)
        self.assertNotIn('Part 1 (sqlite)', proc.stdout)
        self.assertIn('interleaved, 20 hosts: models host slots x 8 GPUs '
                      '(60 rows), per render node x 8 GPUs (960 rows), per '
                      'cell x 8 GPUs (480 rows); 1 rounds after a warm-up',
                      proc.stdout)
        # The rows of each model were read back once and removed after
        # every round (warm-up and timed round, three models): the tables
        # hold the bare hosts again, no render inventory.
        self.assertIn('interleaved, 20 hosts: one host of each model read '
                      'back through the REST API: ok; baseline fleet 20 '
                      'providers, 60 inventories, 120 trait links, 0 render '
                      'inventories, the same after every round (6 rounds)',
                      proc.stdout)
        self.assertIn('Part 1, interleaved (sqlite)', proc.stdout)
        ratios = ratio_lines(proc.stdout)
        matches = [INTERLEAVED.match(line) for line in ratios]
        self.assertTrue(all(matches), '\n'.join(ratios))
        self.assertEqual(
            [(model, what) for model in MODELS for what in (
                'phone / plain guest without render providers',
                'plain guest with / without render providers')],
            [m.group('model', 'what') for m in matches])

    def assertHas(self, lines, text):
        self.assertTrue(any(text in line for line in lines),
                        '%r not in %s' % (text, '\n'.join(lines)))

    def assertServerGone(self, output):
        pids = re.findall(r'^MariaDB server PID (\d+) ', output, re.M)
        self.assertTrue(pids, output)
        for pid in pids:
            self.assertFalse(os.path.exists('/proc/%s' % pid),
                             'mariadbd %s still runs' % pid)

    def test_server_stopped_on_failure(self):
        # 9 phones do not fit in one host's 8 slots: the run fails after
        # the server started.
        proc = run_benchmark('placement_cost.py', '--backends', 'mariadb',
                             '--skip-cost', '--skip-balance',
                             '--conflict-hosts', '1', '--conflict-gpus',
                             '1', '--burst', '9')
        self.assertEqual(1, proc.returncode, proc.stdout)
        self.assertIn('--burst: 9 phones do not fit', proc.stdout)
        self.assertIn('the mariadb run failed', proc.stdout)
        self.assertServerGone(proc.stdout)

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
        # The plugin run places every phone on its GPU's cell; stock Nova
        # boots every phone too, wherever its NUMA fit says.
        self.assertIn('co-located plugin / stock: 4/4 vs ', proc.stdout)
        self.assertEqual(
            2, proc.stdout.count('4/4 ACTIVE, 0 ERROR'), proc.stdout)
        # The plugin run uses the filter the install guide enables, in
        # place of Nova's; the stock run Nova's own.
        plugin, stock = [
            line.split(':', 1)[1].strip().split(', ')
            for line in proc.stdout.splitlines()
            if line.strip().startswith('filters the scheduler ran:')]
        self.assertIn('GpuNumaTopologyFilter', plugin)
        self.assertNotIn('NUMATopologyFilter', plugin)
        self.assertNotIn('GpuNumaAffinityFilter', plugin)
        self.assertIn('NUMATopologyFilter', stock)
        self.assertNotIn('GpuNumaTopologyFilter', stock)

    def test_too_many_phones_is_named(self):
        proc = run_benchmark('e2e_throughput.py', '--hosts', '1',
                             '--phones', '13')
        self.assertEqual(2, proc.returncode, proc.stdout)
        self.assertIn('--phones: 1 hosts hold at most 12 phones',
                      proc.stdout)


class TestFdinfoCostRuns(testtools.TestCase):

    def test_tiny(self):
        proc = run_benchmark('fdinfo_cost.py', '--tiny')
        self.assertEqual(0, proc.returncode, proc.stdout)
        self.assertIn('fdinfo read, 3 phones (QEMU with 2 render + 8 other '
                      'fds), 4 other processes, 2 GPUs: 38 fds in all',
                      proc.stdout)
        ratios = ratio_lines(proc.stdout)
        self.assertEqual(
            ['ratio per-instance read / load-only read (CPU time, median): ',
             'ratio per-instance read / load-only read (CPU time, minimum): '],
            [line[:line.index(':', 40) + 2] for line in ratios],
            proc.stdout)

    def test_bad_option_is_named(self):
        proc = run_benchmark('fdinfo_cost.py', '--phones', '0')
        self.assertEqual(2, proc.returncode, proc.stdout)
        self.assertIn('--phones must be at least 1', proc.stdout)


class TestStockProfileRuns(testtools.TestCase):

    def test_tiny(self):
        proc = run_benchmark('stock_profile.py', '--hosts', '6',
                             '--repeat', '1')
        self.assertEqual(0, proc.returncode, proc.stdout)
        lines = [line.split() for line in proc.stdout.splitlines()]
        heads = [line for line in lines if line[1:2] == ['request:']]
        self.assertEqual(['render', 'plain'], [line[0] for line in heads])
        # One RequestSpec clone per host, one fit per candidate.
        clones = [line for line in lines if line[:2] == ['RequestSpec',
                                                         'clones']]
        fits = [line for line in lines if line[:2] == ['NUMA', 'fits']]
        self.assertEqual([head[2] for head in heads],
                         [line[line.index('calls') - 1] for line in clones])
        self.assertEqual([head[4] for head in heads],
                         [line[line.index('calls') - 1] for line in fits])
