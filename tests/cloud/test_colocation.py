"""Phones land co-located with their GPU across the cloud's processes."""

from tests.cloud import base
from tests.cloud import checks

#: The issue's multi-create: one request for 20 phones.
MULTI_CREATE = 20
#: Phones booted one request at a time after it.
ONE_BY_ONE = 4
#: Guests without a render slot, in one request.
PLAIN_GUESTS = 3


class TestColocation(base.CloudTestCase):

    def test_multi_create_then_one_by_one(self):
        servers = self.boot(count=MULTI_CREATE, name='multi')
        self.assertEqual(['ACTIVE'] * MULTI_CREATE,
                         [s['status'] for s in servers], servers)
        self.assertColocated(servers)
        for number in range(ONE_BY_ONE):
            single = self.boot(name='single-%d' % number)
            self.assertColocated(single)
            servers += single
        # Every phone holds exactly one render slot on the GPU it uses;
        # the GPU-less compute got none.
        hosts = {s['OS-EXT-SRV-ATTR:hypervisor_hostname'] for s in servers}
        gpu_hosts = {rp.node for rp in checks.render_providers(self.cloud)}
        self.assertLessEqual(hosts, gpu_hosts)
        self.assertGreater(len(hosts), 1, 'all phones on one host')
        self.assertNothingLost(self.phones())

    def test_guests_without_render_slot_see_no_difference(self):
        """Plain guests boot as on stock Nova.

        No render allocation, no render node in the domain XML, and no
        NUMA topology the flavor did not ask for.
        """
        flavor = self.cloud.create_flavor('plain-%s' % self.prefix,
                                          vcpus=1, ram=128)
        self.addCleanup(self.cloud.delete_flavor, flavor)
        servers = self.boot(count=PLAIN_GUESTS, name='plain', flavor=flavor)
        self.assertEqual(['ACTIVE'] * PLAIN_GUESTS,
                         [s['status'] for s in servers], servers)
        for server in servers:
            placed = self.reader.placed(server)
            self.assertIsNone(placed.rendernode, placed)
            self.assertEqual(0, placed.render_allocations, placed)
            self.assertEqual([], placed.claimed_cell, placed)
            xml = self.cloud.domain_xml(server['id'])
            self.assertIsNotNone(xml, server['id'])
            self.assertNotIn('rendernode', xml)
            self.assertNotIn('<numatune>', xml)
        self.assertNothingLost(servers)
