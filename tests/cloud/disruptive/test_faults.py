"""Services die or restart under phones; nothing is lost.

After each fault every phone is ACTIVE or ERROR within a bound (none stuck
in BUILD), no GPU has more phones than slots, every Placement consumer is
a live instance, and the cloud serves the next phone.
"""

import re

from tests.cloud import base
from tests.cloud import cloud as cloud_client

#: Phones in flight while Placement restarts (the issue's burst).
PLACEMENT_BURST = 20
#: Phones in flight while RabbitMQ restarts.
RABBIT_BURST = 10
#: Phones running on the compute that is killed and restarted.
RUNNING = 4
#: What nova-compute logs when it cannot bring Placement up to date.
FAILED_PROVIDER_UPDATE = re.compile(
    r'ResourceProviderUpdateFailed|ResourceProviderSyncFailed|'
    r'ResourceProviderCreationFailed|Failed to update inventory|'
    r'Error updating resources for node|'
    r'Failed to update the resource provider tree')


class TestFaults(base.CloudTestCase):

    def _after_fault(self):
        """The checks of the module docstring; the settled phones."""
        servers = self.wait()
        self.assertEqual([], [s['name'] for s in servers
                              if s['status'] not in ('ACTIVE', 'ERROR')])
        self.assertNothingLost(servers)
        self.assertColocated([s for s in servers if s['status'] == 'ACTIVE'])
        self.assertServesNextPhone()
        return servers

    def wait(self, bound=cloud_client.BOOT_BOUND, count=None, **filters):
        filters.setdefault('name', '^' + self.prefix)
        return super().wait(bound=bound, count=count, **filters)

    def test_compute_killed_and_restarted(self):
        servers = self.boot(count=RUNNING)
        self.assertEqual(['ACTIVE'] * RUNNING,
                         [s['status'] for s in servers])
        host = servers[0]['OS-EXT-SRV-ATTR:host']
        before = {s['id']: self.cloud.allocations(s['id']) for s in servers}
        log_offset = cloud_client.log_size(host)
        cloud_client.kill_service(host)
        killed_at = self.cloud.utcnow()
        cloud_client.restart_service(host)
        # nova-compute runs its start-up resource update (pre_start_hook)
        # before its service reports: a report after the kill comes from
        # the new process, after the update.
        self.assertTrue(self.cloud.wait_for_service(host, 'up',
                                                    since=killed_at),
                        '%s did not report after the restart' % host)
        on_host = {s['id'] for s in servers
                   if s['OS-EXT-SRV-ATTR:host'] == host}
        self.assertLessEqual(on_host, cloud_client.hypervisor_domains(host))
        after = {s['id']: self.cloud.allocations(s['id']) for s in servers}
        self.assertEqual(before, after)
        self.assertEqual([], FAILED_PROVIDER_UPDATE.findall(
            cloud_client.log_since(host, log_offset)))
        servers = self._after_fault()
        self.assertEqual(['ACTIVE'] * RUNNING,
                         [s['status'] for s in servers])

    def test_placement_restarted_during_burst(self):
        self.boot(count=PLACEMENT_BURST, wait=False)
        cloud_client.restart_service('placement')
        self._after_fault()

    def test_rabbitmq_restarted_during_burst(self):
        self.boot(count=RABBIT_BURST, wait=False)
        cloud_client.restart_service('rabbitmq')
        self._after_fault()

    def test_mariadb_restarted(self):
        servers = self.boot(count=2)
        cloud_client.restart_service('mariadb')
        servers = self._after_fault()
        self.assertEqual(['ACTIVE'] * 2, [s['status'] for s in servers])
