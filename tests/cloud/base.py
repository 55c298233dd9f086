"""The base class of the cloud tests: one client session per class."""

import os
import time
import unittest
import uuid

import fixtures
import testtools

from nova_gpu_numa_sched import names
from tests.cloud import checks
from tests.cloud import cloud as cloud_client

#: The phone flavor of the install guide, small enough that the render
#: slots, not a cell's CPUs or RAM, are what runs out first.
PHONE_SPECS = {
    'hw:numa_nodes': '1',
    'resources:%s' % names.RESOURCE_CLASS: '1',
    names.AFFINITY_POLICY_KEY: names.POLICY_REQUIRED,
}
PHONE_VCPUS = 1
PHONE_RAM_MB = 256
#: Seconds one test may run before it fails (a hung wait, a dead service).
TEST_BOUND = 900


def require_cloud():
    """Skip the class without a cloud, fail with GPU_NUMA_REQUIRE_CLOUD=1."""
    try:
        cloud = cloud_client.Cloud()
        return cloud, cloud_client.Databases(), cloud.image_id()
    except Exception as e:
        if os.environ.get('GPU_NUMA_REQUIRE_CLOUD') == '1':
            raise
        raise unittest.SkipTest('no running cloud (tools/cloud.sh up): %s'
                                % e)


class CloudTestCase(testtools.TestCase):
    """Boots phones in the running cloud and deletes them afterwards."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.cloud, cls.db, cls.image = require_cloud()
        cls.flavor = cls.cloud.create_flavor(
            'phone-%s' % cls.__name__.lower(), vcpus=PHONE_VCPUS,
            ram=PHONE_RAM_MB, extra_specs=PHONE_SPECS)

    @classmethod
    def tearDownClass(cls):
        cls.cloud.delete_flavor(cls.flavor)
        super().tearDownClass()

    def setUp(self):
        super().setUp()
        self.useFixture(fixtures.Timeout(TEST_BOUND, gentle=True))
        # Names unique to this test: what it boots, it deletes.
        self.prefix = 'ct%s-' % uuid.uuid4().hex[:6]
        self.addCleanup(self.delete_phones)
        self.reader = checks.Reader(self.cloud, self.db)

    # Booting --------------------------------------------------------------

    def boot(self, count=1, name=None, flavor=None, wait=True, **extra):
        """Boot ``count`` phones in one request; the servers when settled."""
        name = self.prefix + (name or 'phone')
        reservation = self.cloud.create_servers(
            name, flavor or self.flavor, self.image, count=count, **extra)
        if not wait:
            return reservation
        return self.wait(reservation_id=reservation, count=count)

    def wait(self, bound=cloud_client.BOOT_BOUND, count=None, **filters):
        servers = self.cloud.wait_for_servers(bound=bound, count=count,
                                              **filters)
        self.assertEqual([], checks.stuck(servers),
                         'not ACTIVE or ERROR after %d s' % bound)
        if count is not None:
            self.assertEqual(count, len(servers), servers)
        return servers

    def phones(self):
        """This test's servers, with details."""
        return self.cloud.servers(name='^' + self.prefix)

    def delete_phones(self):
        left = self.cloud.delete_servers(self.phones())
        self.assertEqual(set(), left, 'servers not deleted in time')

    # Checks ---------------------------------------------------------------

    def assertColocated(self, servers):
        self.assertEqual([], checks.colocation_problems(self.reader,
                                                        servers))

    def assertNothingLost(self, servers):
        """Settled, within capacity, no allocation without its server."""
        self.assertEqual([], checks.stuck(servers))
        self.assertEqual([], checks.capacity_problems(self.cloud))
        self.assertEqual([], checks.orphan_problems(self.cloud))

    def assertServesNextPhone(self):
        """A new phone boots, co-located, and is deleted again."""
        servers = self.boot(name='next')
        self.assertColocated(servers)
        self.assertEqual(set(), self.cloud.delete_servers(servers))

    def wait_until(self, predicate, bound, what):
        deadline = time.monotonic() + bound
        while not predicate():
            if time.monotonic() > deadline:
                self.fail('%s: not within %d s' % (what, bound))
            time.sleep(2)
