"""The scheduler scale benchmark still runs, on a tiny fleet.

No timing is asserted: only that the command completes, its internal
checks hold (the plugin's result equals the older filter pair's and, for a
request without a render slot, stock Nova's; claims are pinned; Placement
calls are the same at every size) and that it ends with its ratio lines.
"""

import os
import re
import subprocess
import sys

import testtools

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, 'benchmarks', 'scheduler_scale.py')

RATIO = re.compile(
    r'^ratio +(\d+) hosts, (render request, plugin / stock|'
    r'render request, older pair / stock|'
    r'request without render slot, plugin / stock) += \d+\.\d{3}  '
    r'\[range \d+\.\d{3}-\d+\.\d{3}; ratio of medians \d+\.\d{3}\]')


class SchedulerScaleBenchmarkTest(testtools.TestCase):

    def test_tiny_fleet(self):
        result = subprocess.run(
            [sys.executable, SCRIPT, '--hosts', '6', '12', '--repeat', '1'],
            cwd=ROOT, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, universal_newlines=True, timeout=600)
        self.assertEqual(0, result.returncode, result.stdout[-4000:])
        lines = result.stdout.strip().splitlines()
        self.assertIn('placement calls per request: 6 hosts = 3, '
                      '12 hosts = 3 (equal: yes)', lines)
        ratios = lines[-6:]
        for line in ratios:
            self.assertRegex(line, RATIO)
        self.assertEqual(
            [('6', 'render request, plugin / stock'),
             ('6', 'render request, older pair / stock'),
             ('6', 'request without render slot, plugin / stock'),
             ('12', 'render request, plugin / stock'),
             ('12', 'render request, older pair / stock'),
             ('12', 'request without render slot, plugin / stock')],
            [RATIO.match(line).groups() for line in ratios])
        self.assertIn('goal <= 1.00 (aim 0.50)', ratios[0])
        self.assertIn('goal <= 1.02', ratios[2])
