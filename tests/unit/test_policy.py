"""Tests of reading gpu_numa:affinity_policy and of unpinned limits."""

import logging

import fixtures
from nova import objects
import testtools

from nova_gpu_numa_sched import cell_limits
from nova_gpu_numa_sched import names
from nova_gpu_numa_sched import policy

objects.register_all()

KEY = names.AFFINITY_POLICY_KEY


class AffinityPolicyTestCase(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.log = self.useFixture(fixtures.FakeLogger(
            level=logging.WARNING, format='%(levelname)s %(message)s'))

    def test_default_is_required(self):
        self.assertEqual('required', names.DEFAULT_AFFINITY_POLICY)
        for extra_specs in (None, {}, {'hw:numa_nodes': '1'}):
            self.assertEqual(names.POLICY_REQUIRED,
                             policy.affinity_policy(extra_specs))
        self.assertEqual('', self.log.output)

    def test_known_values(self):
        for value in names.AFFINITY_POLICIES:
            self.assertEqual(value, policy.affinity_policy({KEY: value}))
        self.assertEqual('', self.log.output)

    def test_bad_value_is_required_with_error_naming_key_and_values(self):
        for value in ('Preferred', '', 'strict'):
            self.assertEqual(names.POLICY_REQUIRED,
                             policy.affinity_policy({KEY: value}))
        errors = self.log.output.splitlines()
        self.assertEqual(3, len(errors), errors)
        self.assertIn("ERROR Flavor extra spec 'gpu_numa:affinity_policy' "
                      "is 'Preferred', not one of: required, preferred, "
                      "socket; applying 'required'.", errors[0])

    def test_flavor_policy(self):
        self.assertEqual(names.POLICY_REQUIRED, policy.flavor_policy(None))
        # A flavor whose extra specs were never loaded is not lazy-loaded.
        self.assertEqual(names.POLICY_REQUIRED,
                         policy.flavor_policy(objects.Flavor(name='f')))
        preferred = objects.Flavor(name='f', extra_specs={
            KEY: names.POLICY_PREFERRED})
        self.assertEqual(names.POLICY_PREFERRED,
                         policy.flavor_policy(preferred))
        self.assertTrue(policy.allows_split(preferred))
        self.assertFalse(policy.allows_split(
            objects.Flavor(name='f', extra_specs={})))


class UnpinnedLimitsTestCase(testtools.TestCase):

    def metadata(self, physnets, tunneled=False):
        return objects.NetworkMetadata(physnets=set(physnets),
                                       tunneled=tunneled)

    def test_drops_every_cell_token_keeps_the_rest(self):
        limits = objects.NUMATopologyLimits(
            cpu_allocation_ratio=16.0, ram_allocation_ratio=1.5,
            network_metadata=self.metadata(
                ['physnet1', names.cell_token(0), names.cell_token(3)],
                tunneled=True))
        unpinned = cell_limits.unpinned_numa_limits(limits, 1.0, 1.0)
        self.assertEqual({'physnet1'}, unpinned.network_metadata.physnets)
        self.assertTrue(unpinned.network_metadata.tunneled)
        self.assertEqual((16.0, 1.5), (unpinned.cpu_allocation_ratio,
                                       unpinned.ram_allocation_ratio))
        # The input is not modified.
        self.assertEqual(3, len(limits.network_metadata.physnets))

    def test_limits_without_network_metadata(self):
        limits = objects.NUMATopologyLimits(cpu_allocation_ratio=2.0,
                                            ram_allocation_ratio=1.0)
        unpinned = cell_limits.unpinned_numa_limits(limits, 9.0, 9.0)
        self.assertNotIn('network_metadata', unpinned)
        self.assertEqual(2.0, unpinned.cpu_allocation_ratio)
        self.assertIsNot(limits, unpinned)

    def test_creates_limits_when_none(self):
        unpinned = cell_limits.unpinned_numa_limits(None, 4.0, 1.5)
        self.assertEqual((4.0, 1.5), (unpinned.cpu_allocation_ratio,
                                      unpinned.ram_allocation_ratio))
        self.assertNotIn('network_metadata', unpinned)
        request = self.metadata(['physnet1'], tunneled=True)
        unpinned = cell_limits.unpinned_numa_limits(None, 4.0, 1.5, request)
        self.assertEqual({'physnet1'}, unpinned.network_metadata.physnets)
        self.assertTrue(unpinned.network_metadata.tunneled)
