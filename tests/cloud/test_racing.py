"""Two scheduler workers race for the last free render slots."""

import os
import subprocess
import sys

from tests.cloud import base
from tests.cloud import checks
from tests.cloud import cloud as cloud_client

#: Concurrent create requests, from as many client processes ...
RACERS = 8
#: ... for this many free render slots.
FREE_SLOTS = 4
#: Most phones in one multi-create request while filling the host.
FILL_BATCH = 20


class TestRacingSchedulers(base.CloudTestCase):

    def _free_slots(self):
        """{compute node: free render slots}."""
        free = {}
        for rp in checks.render_providers(self.cloud):
            free[rp.node] = free.get(rp.node, 0) + (
                checks.capacity(rp.inventory) - rp.used)
        return free

    def _one_gpu_host(self):
        """The compute node with the fewest free render slots, and those."""
        free = self._free_slots()
        self.assertTrue(free, 'no render node provider in Placement')
        node = min(free, key=free.get)
        self.assertGreaterEqual(free[node], FREE_SLOTS)
        return node, free[node]

    def _only_compute(self, node):
        """Disable every other nova-compute (as an operator would)."""
        for service in self.cloud.compute_services():
            if service['host'] != node and service['status'] == 'enabled':
                self.cloud.nova('PUT', '/os-services/%s' % service['id'],
                                {'status': 'disabled',
                                 'disabled_reason': 'racing test'})
                self.addCleanup(self.cloud.nova, 'PUT',
                                '/os-services/%s' % service['id'],
                                {'status': 'enabled'})

    def _race(self):
        """RACERS client processes send their create at the same moment."""
        env = dict(os.environ, OS_NOVA_DISABLE_EVENTLET_PATCHING='1')
        racers = [subprocess.Popen(
            [sys.executable, '-m', 'tests.cloud.create_phone',
             '%srace-%d' % (self.prefix, number), self.flavor, self.image],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            universal_newlines=True, cwd=cloud_client.REPO_ROOT, env=env)
            for number in range(RACERS)]
        try:
            for racer in racers:
                self.assertEqual('ready', racer.stdout.readline().strip())
            for racer in racers:
                racer.stdin.write('go\n')
                racer.stdin.flush()
            results = [racer.communicate(timeout=120)[0].strip()
                       for racer in racers]
        finally:
            for racer in racers:
                if racer.poll() is None:
                    racer.kill()
                    racer.wait()
        self.assertEqual(['created'] * RACERS, results)

    def test_last_slots(self):
        node, free = self._one_gpu_host()
        # The cloud names service host and compute node alike (compute-N).
        self._only_compute(node)
        fill = free - FREE_SLOTS
        while fill > 0:
            batch = min(fill, FILL_BATCH)
            servers = self.boot(count=batch, name='fill')
            self.assertEqual(['ACTIVE'] * batch,
                             [s['status'] for s in servers])
            fill -= batch
        self._race()
        racers = self.wait(count=RACERS, name='^%srace-' % self.prefix)
        statuses = sorted(s['status'] for s in racers)
        self.assertEqual(['ACTIVE'] * FREE_SLOTS +
                         ['ERROR'] * (RACERS - FREE_SLOTS), statuses)
        for server in racers:
            if server['status'] == 'ERROR':
                self.assertIn('No valid host', server['fault']['message'])
        self.assertColocated([s for s in racers if s['status'] == 'ACTIVE'])
        self.assertNothingLost(self.phones())
        self.assertEqual(0, self._free_slots()[node])
