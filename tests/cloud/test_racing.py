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

    def _one_gpu_host(self):
        """The compute node with the fewest render slots, and its slots."""
        per_node = {}
        for rp in checks.render_providers(self.cloud):
            capacity, used = per_node.get(rp.node, (0, 0))
            per_node[rp.node] = (capacity + checks.capacity(rp.inventory),
                                 used + rp.used)
        self.assertTrue(per_node, 'no render node provider in Placement')
        node = min(per_node, key=lambda n: per_node[n][0])
        capacity, used = per_node[node]
        self.assertEqual(0, used, 'render slots of %s already in use' % node)
        self.assertGreaterEqual(capacity, FREE_SLOTS)
        return node, capacity

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
        node, capacity = self._one_gpu_host()
        # A host whose hypervisor_hostname differs from its service host
        # would need a lookup; the cloud names both compute-N.
        self._only_compute(node)
        fill = capacity - FREE_SLOTS
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
        self.assertEqual(0, sum(
            checks.capacity(rp.inventory) - rp.used
            for rp in checks.render_providers(self.cloud) if rp.node == node))
