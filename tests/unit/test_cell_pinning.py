"""Tests of the per-cell tokens that pin the compute claim to one cell."""

import logging
import types

import fixtures
from nova.compute import provider_tree
from nova import exception
from nova import objects
from nova.virt import hardware
from oslo_utils.fixture import uuidsentinel as uuids
import testtools

from nova_gpu_numa_sched import cell_limits
from nova_gpu_numa_sched.compute import claim_cell
from nova_gpu_numa_sched.compute import placement_report
from nova_gpu_numa_sched.compute import render_node
from nova_gpu_numa_sched import names

objects.register_all()

NODENAME = 'compute1'
RC = names.RESOURCE_CLASS


def host_cell(cell_id, cpus=4, memory=4096, network_metadata=None):
    first = cell_id * cpus
    cpuset = set(range(first, first + cpus))
    cell = objects.NUMACell(
        id=cell_id, cpuset=cpuset, pcpuset=set(), memory=memory,
        cpu_usage=0, memory_usage=0, pinned_cpus=set(),
        siblings=[{cpu} for cpu in sorted(cpuset)], socket=0,
        mempages=[objects.NUMAPagesTopology(
            size_kb=4, total=memory * 256, used=0)])
    if network_metadata is not None:
        cell.network_metadata = network_metadata
    return cell


def host_topology(n_cells=4, **kwargs):
    return objects.NUMATopology(
        cells=[host_cell(i, **kwargs) for i in range(n_cells)])


def guest_topology(vcpus=2, memory=1024):
    """What ``hw:numa_nodes=1`` without pinning asks for."""
    return objects.InstanceNUMATopology(cells=[objects.InstanceNUMACell(
        id=0, cpuset=set(range(vcpus)), pcpuset=set(), memory=memory,
        cpu_policy=None)])


def metadata(physnets=(), tunneled=False):
    return objects.NetworkMetadata(physnets=set(physnets), tunneled=tunneled)


class AddCellTokensTestCase(testtools.TestCase):

    def test_every_cell_gets_its_token(self):
        topology = host_topology(n_cells=3)
        topology.cells[1].network_metadata = metadata(['physnet1'], True)
        result = cell_limits.add_cell_tokens(topology)
        self.assertIs(topology, result)
        # Every cell of these hosts is on socket 0.
        self.assertEqual(
            [{'gpu-numa-cell-0', 'gpu-numa-socket-0'},
             {'gpu-numa-cell-1', 'gpu-numa-socket-0', 'physnet1'},
             {'gpu-numa-cell-2', 'gpu-numa-socket-0'}],
            [cell.network_metadata.physnets for cell in topology.cells])
        # Real network affinity of the cell is kept.
        self.assertEqual([False, True, False],
                         [c.network_metadata.tunneled for c in topology.cells])

    def test_idempotent(self):
        topology = cell_limits.add_cell_tokens(host_topology(n_cells=2))
        cell_limits.add_cell_tokens(topology)
        self.assertEqual({'gpu-numa-cell-1', 'gpu-numa-socket-0'},
                         topology.cells[1].network_metadata.physnets)

    def test_no_topology(self):
        self.assertIsNone(cell_limits.add_cell_tokens(None))


class PinnedNumaLimitsTestCase(testtools.TestCase):

    def test_keeps_real_physnets_and_tunneled(self):
        limits = objects.NUMATopologyLimits(
            cpu_allocation_ratio=16.0, ram_allocation_ratio=1.5,
            network_metadata=metadata(['physnet1', 'physnet2'], True))
        pinned = cell_limits.pinned_numa_limits(limits, 2, 1.0, 1.0)
        self.assertEqual({'physnet1', 'physnet2', 'gpu-numa-cell-2'},
                         pinned.network_metadata.physnets)
        self.assertTrue(pinned.network_metadata.tunneled)
        # The scheduler's ratios stay; the input is not modified.
        self.assertEqual((16.0, 1.5), (pinned.cpu_allocation_ratio,
                                       pinned.ram_allocation_ratio))
        self.assertEqual({'physnet1', 'physnet2'},
                         limits.network_metadata.physnets)

    def test_replaces_previous_cell_token(self):
        """A reschedule or a move re-pins: only one cell token may remain."""
        limits = objects.NUMATopologyLimits(
            cpu_allocation_ratio=1.0, ram_allocation_ratio=1.0,
            network_metadata=metadata(['gpu-numa-cell-0', 'physnet1']))
        pinned = cell_limits.pinned_numa_limits(limits, 3, 1.0, 1.0)
        self.assertEqual({'gpu-numa-cell-3', 'physnet1'},
                         pinned.network_metadata.physnets)
        self.assertFalse(pinned.network_metadata.tunneled)

    def test_limits_without_network_metadata(self):
        limits = objects.NUMATopologyLimits(cpu_allocation_ratio=2.0,
                                            ram_allocation_ratio=1.0)
        pinned = cell_limits.pinned_numa_limits(limits, 1, 9.0, 9.0)
        self.assertEqual({'gpu-numa-cell-1'},
                         pinned.network_metadata.physnets)
        self.assertEqual(2.0, pinned.cpu_allocation_ratio)
        self.assertNotIn('network_metadata', limits)

    def test_creates_limits_when_none(self):
        pinned = cell_limits.pinned_numa_limits(None, 1, 4.0, 1.5)
        self.assertIsInstance(pinned, objects.NUMATopologyLimits)
        self.assertEqual((4.0, 1.5), (pinned.cpu_allocation_ratio,
                                      pinned.ram_allocation_ratio))
        self.assertEqual({'gpu-numa-cell-1'},
                         pinned.network_metadata.physnets)
        self.assertFalse(pinned.network_metadata.tunneled)

    def test_creates_limits_with_request_network_metadata(self):
        pinned = cell_limits.pinned_numa_limits(
            None, 0, 1.0, 1.0, network_metadata=metadata(['physnet1'], True))
        self.assertEqual({'physnet1', 'gpu-numa-cell-0'},
                         pinned.network_metadata.physnets)
        self.assertTrue(pinned.network_metadata.tunneled)


class ClaimCellTestCase(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.tree = provider_tree.ProviderTree()
        self.tree.new_root(NODENAME, uuids.compute1)
        self.tracker = types.SimpleNamespace(
            provider_tree=self.tree,
            compute_nodes={NODENAME: objects.ComputeNode(
                cpu_allocation_ratio=4.0, ram_allocation_ratio=1.5)})
        self.instance = objects.Instance(uuid=uuids.instance)

    def add_render_provider(self, name, uuid, cell):
        self.tree.new_child(name, NODENAME, uuid=uuid)
        self.tree.update_inventory(name, {RC: {'total': 8}})
        traits = ['COMPUTE_FOO'] if cell is None else [names.numa_trait(cell)]
        self.tree.update_traits(name, traits)

    def allocations(self, *render_rps):
        allocs = {uuids.compute1: {'resources': {
            'VCPU': 2, 'MEMORY_MB': 1024}}}
        for rp in render_rps:
            allocs[rp] = {'resources': {RC: 1}}
        return allocs

    def pin(self, allocations, limits):
        return claim_cell.pin_limits(self.tracker, self.instance, NODENAME,
                                     allocations, limits)

    def test_render_cells(self):
        self.add_render_provider('compute1_gpu0', uuids.gpu0, 2)
        self.assertEqual({2}, claim_cell.render_cells(
            self.tree, self.allocations(uuids.gpu0)))
        self.assertEqual(set(), claim_cell.render_cells(
            self.tree, self.allocations()))
        self.assertEqual(set(), claim_cell.render_cells(self.tree, None))
        self.assertEqual(set(), claim_cell.render_cells(
            None, self.allocations(uuids.gpu0)))

    def test_limits_pinned_to_render_provider_cell(self):
        self.add_render_provider('compute1_gpu0', uuids.gpu0, 2)
        numa = objects.NUMATopologyLimits(
            cpu_allocation_ratio=16.0, ram_allocation_ratio=1.0,
            network_metadata=metadata(['physnet1']))
        limits = {'numa_topology': numa, 'memory_mb': 2048}
        pinned = self.pin(self.allocations(uuids.gpu0), limits)
        self.assertEqual({'physnet1', 'gpu-numa-cell-2'},
                         pinned['numa_topology'].network_metadata.physnets)
        self.assertEqual(16.0, pinned['numa_topology'].cpu_allocation_ratio)
        self.assertEqual(2048, pinned['memory_mb'])
        # The caller's limits are not modified.
        self.assertIs(numa, limits['numa_topology'])
        self.assertEqual({'physnet1'}, numa.network_metadata.physnets)

    def test_no_limits_use_compute_node_ratios(self):
        """Forced moves carry no limits; the pin must still apply."""
        self.add_render_provider('compute1_gpu0', uuids.gpu0, 1)
        pinned = self.pin(self.allocations(uuids.gpu0), None)
        numa = pinned['numa_topology']
        self.assertEqual((4.0, 1.5), (numa.cpu_allocation_ratio,
                                      numa.ram_allocation_ratio))
        self.assertEqual({'gpu-numa-cell-1'}, numa.network_metadata.physnets)

    def test_without_render_slots_limits_untouched(self):
        self.add_render_provider('compute1_gpu0', uuids.gpu0, 2)
        limits = {'memory_mb': 2048}
        self.assertIs(limits, self.pin(self.allocations(), limits))
        self.assertIsNone(self.pin({}, None))
        self.assertIsNone(self.pin(None, None))

    def test_providers_outside_the_tree_ignored(self):
        """An evacuation's allocations also name the source host's GPU."""
        self.add_render_provider('compute1_gpu0', uuids.gpu0, 2)
        limits = {'memory_mb': 2048}
        self.assertIs(limits, self.pin(
            self.allocations(uuids.source_gpu), limits))
        pinned = self.pin(self.allocations(uuids.source_gpu, uuids.gpu0),
                          limits)
        self.assertEqual({'gpu-numa-cell-2'},
                         pinned['numa_topology'].network_metadata.physnets)

    def test_render_providers_on_two_cells(self):
        self.add_render_provider('compute1_gpu0', uuids.gpu0, 0)
        self.add_render_provider('compute1_gpu1', uuids.gpu1, 1)
        error = self.assertRaises(
            exception.ComputeResourcesUnavailable, self.pin,
            self.allocations(uuids.gpu0, uuids.gpu1), {})
        self.assertIn('different NUMA cells [0, 1]', str(error))
        self.assertIn(uuids.instance, str(error))

    def test_two_render_providers_on_one_cell(self):
        self.add_render_provider('compute1_gpu0', uuids.gpu0, 1)
        self.add_render_provider('compute1_gpu1', uuids.gpu1, 1)
        pinned = self.pin(self.allocations(uuids.gpu0, uuids.gpu1), {})
        self.assertEqual({'gpu-numa-cell-1'},
                         pinned['numa_topology'].network_metadata.physnets)

    def test_render_provider_without_cell_trait(self):
        self.add_render_provider('compute1_gpu0', uuids.gpu0, None)
        error = self.assertRaises(
            exception.ComputeResourcesUnavailable, self.pin,
            self.allocations(uuids.gpu0), {})
        self.assertIn('has no CUSTOM_NUMA_NODE_<N> trait', str(error))

    def test_scheduler_limits_object(self):
        self.add_render_provider('compute1_gpu0', uuids.gpu0, 3)
        limits = objects.SchedulerLimits(
            numa_topology=objects.NUMATopologyLimits(
                cpu_allocation_ratio=8.0, ram_allocation_ratio=1.0),
            vcpu=32, memory_mb=None, disk_gb=100)
        pinned = self.pin(self.allocations(uuids.gpu0), limits)
        self.assertIsInstance(pinned, dict)
        self.assertEqual({'numa_topology', 'vcpu', 'disk_gb'}, set(pinned))
        self.assertEqual((32, 100), (pinned['vcpu'], pinned['disk_gb']))
        self.assertEqual(8.0, pinned['numa_topology'].cpu_allocation_ratio)
        self.assertEqual({'gpu-numa-cell-3'},
                         pinned['numa_topology'].network_metadata.physnets)

    def test_with_placement_report_providers(self):
        """The providers placement_report creates carry what pinning needs."""
        placement_report.update_provider_tree(
            self.tree, NODENAME, [render_node.RenderNode(
                key='0000:83:00.0', devnode='/dev/dri/renderD128',
                numa_node=3, slots=2)], {})
        rp = self.tree.data('compute1_render_0000:83:00.0').uuid
        pinned = self.pin(self.allocations(rp), {})
        self.assertEqual({'gpu-numa-cell-3'},
                         pinned['numa_topology'].network_metadata.physnets)

    def test_wrap_binds_positional_and_keyword_limits(self):
        """The wrapper finds the arguments however the tracker is called."""
        self.add_render_provider('compute1_gpu0', uuids.gpu0, 2)
        seen = []

        class Tracker(object):
            provider_tree = self.tree
            compute_nodes = self.tracker.compute_nodes

            def instance_claim(self, context, instance, nodename,
                               allocations, limits=None):
                seen.append(limits)

        Tracker.instance_claim = claim_cell._wrap(Tracker.instance_claim,
                                                  'allocations')
        allocs = self.allocations(uuids.gpu0)
        Tracker().instance_claim(None, self.instance, NODENAME, allocs)
        Tracker().instance_claim(None, self.instance, NODENAME, allocs, {})
        Tracker().instance_claim(None, instance=self.instance,
                                 nodename=NODENAME, allocations=allocs,
                                 limits={'vcpu': 4})
        self.assertEqual(3, len(seen))
        for limits in seen:
            self.assertEqual(
                {'gpu-numa-cell-2'},
                limits['numa_topology'].network_metadata.physnets)
        self.assertEqual(4, seen[2]['vcpu'])


class NumaFitTestCase(testtools.TestCase):
    """Nova's own NUMA fit obeys the pinned limits: why the lever works."""

    def setUp(self):
        super().setUp()
        self.host = cell_limits.add_cell_tokens(host_topology(n_cells=4))
        tree = provider_tree.ProviderTree()
        tree.new_root(NODENAME, uuids.compute1)
        tree.new_child('compute1_gpu', NODENAME, uuid=uuids.gpu)
        tree.update_inventory('compute1_gpu', {RC: {'total': 8}})
        tree.update_traits('compute1_gpu', [names.numa_trait(2)])
        self.tracker = types.SimpleNamespace(
            provider_tree=tree, compute_nodes={NODENAME: objects.ComputeNode(
                cpu_allocation_ratio=1.0, ram_allocation_ratio=1.0)})
        self.allocations = {uuids.gpu: {'resources': {RC: 1}}}

    def fit(self, limits, guest=None):
        return hardware.numa_fit_instance_to_host(
            self.host, guest or guest_topology(), None,
            limits=limits and limits['numa_topology'])

    def pinned(self, limits=None):
        return claim_cell.pin_limits(
            self.tracker, objects.Instance(uuid=uuids.instance), NODENAME,
            self.allocations, limits)

    def test_fit_lands_on_the_pinned_cell(self):
        # Unpinned, nova picks the first cell that fits: cell 0.
        unpinned = self.fit(None)
        self.assertEqual([0], [cell.id for cell in unpinned.cells])
        fitted = self.fit(self.pinned())
        self.assertEqual([2], [cell.id for cell in fitted.cells])

    def test_fit_with_scheduler_limits_and_real_physnet(self):
        """A real physnet of the request is honoured next to the token."""
        self.host.cells[2].network_metadata.physnets.add('physnet1')
        scheduler = {'numa_topology': objects.NUMATopologyLimits(
            cpu_allocation_ratio=1.0, ram_allocation_ratio=1.0,
            network_metadata=metadata(['physnet1']))}
        fitted = self.fit(self.pinned(scheduler))
        self.assertEqual([2], [cell.id for cell in fitted.cells])
        # A physnet local to another cell makes the pinned fit impossible,
        # rather than silently dropping either constraint.
        self.host.cells[2].network_metadata.physnets.discard('physnet1')
        self.host.cells[1].network_metadata.physnets.add('physnet1')
        self.assertIsNone(self.fit(self.pinned(scheduler)))

    def test_no_fit_when_pinned_cell_is_full(self):
        """The claim fails (and reschedules) instead of using another cell."""
        self.host.cells[2].memory_usage = 3584
        self.assertEqual([0], [c.id for c in self.fit(None).cells])
        self.assertIsNone(self.fit(self.pinned()))
        self.host.cells[2].memory_usage = 3072
        fitted = self.fit(self.pinned())
        self.assertEqual([2], [cell.id for cell in fitted.cells])


class FakeTracker(object):
    """The two claim entry points, testing the claim as Nova's Claim does.

    Each call runs Nova's NUMA fit over the host with the limits it is
    given and raises ComputeResourcesUnavailable when nothing fits, as
    ``claims.Claim._test_numa_topology`` does, before recording anything.
    """

    host = 'compute1'

    def __init__(self, tree, topology):
        self.provider_tree = tree
        self.topology = topology
        self.compute_nodes = {NODENAME: objects.ComputeNode(
            cpu_allocation_ratio=1.0, ram_allocation_ratio=1.0)}
        self.calls = []
        self.claimed = []

    def _claim(self, flavor_topology, limits):
        self.calls.append(limits)
        numa = (limits or {}).get('numa_topology')
        fitted = hardware.numa_fit_instance_to_host(
            self.topology, flavor_topology, None, limits=numa)
        if fitted is None:
            raise exception.ComputeResourcesUnavailable(
                reason='Requested instance NUMA topology cannot fit the '
                       'given host NUMA topology')
        self.claimed.append([cell.id for cell in fitted.cells])
        return fitted

    def instance_claim(self, context, instance, nodename, allocations,
                       limits=None):
        return self._claim(instance.numa_topology, limits)

    def _move_claim(self, context, instance, new_flavor, nodename,
                    migration, allocations, move_type=None, image_meta=None,
                    limits=None):
        return self._claim(instance.numa_topology, limits)

    instance_claim = claim_cell._wrap(instance_claim, 'allocations')
    _move_claim = claim_cell._wrap(_move_claim, 'allocations')


class ClaimPolicyTestCase(testtools.TestCase):
    """``preferred`` retries a pinned claim that does not fit, unpinned."""

    def setUp(self):
        super().setUp()
        self.log = self.useFixture(fixtures.FakeLogger(
            level=logging.WARNING, format='%(levelname)s %(message)s'))
        tree = provider_tree.ProviderTree()
        tree.new_root(NODENAME, uuids.compute1)
        tree.new_child('compute1_gpu', NODENAME, uuid=uuids.gpu)
        tree.update_inventory('compute1_gpu', {RC: {'total': 8}})
        tree.update_traits('compute1_gpu', [names.numa_trait(1)])
        tree.new_child('compute1_nocell', NODENAME, uuid=uuids.nocell)
        tree.update_inventory('compute1_nocell', {RC: {'total': 8}})
        # Cell 1, the GPU's, has 512 MB left; the guest wants 1024.
        topology = cell_limits.add_cell_tokens(host_topology(n_cells=2))
        topology.cells[1].memory_usage = 3584
        self.tracker = FakeTracker(tree, topology)
        self.allocations = {uuids.compute1: {'resources': {'VCPU': 2}},
                            uuids.gpu: {'resources': {RC: 1}}}
        self.scheduler_limits = {'numa_topology': objects.NUMATopologyLimits(
            cpu_allocation_ratio=1.0, ram_allocation_ratio=1.0,
            network_metadata=metadata(['physnet1', names.cell_token(0)]))}

    def instance(self, policy=None, memory=1024):
        extra_specs = {'hw:numa_nodes': '1'}
        if policy:
            extra_specs[names.AFFINITY_POLICY_KEY] = policy
        return objects.Instance(
            uuid=uuids.instance, numa_topology=guest_topology(memory=memory),
            flavor=objects.Flavor(name='phone', extra_specs=extra_specs))

    def claim(self, instance, allocations=None, limits=None):
        return self.tracker.instance_claim(
            None, instance, NODENAME, allocations or self.allocations,
            limits=limits)

    def physnets(self, limits):
        return limits['numa_topology'].network_metadata.physnets

    def test_required_fails_on_the_render_cell_without_retry(self):
        for policy in (None, names.POLICY_REQUIRED):
            self.tracker.calls = []
            self.assertRaises(exception.ComputeResourcesUnavailable,
                              self.claim, self.instance(policy))
            self.assertEqual(1, len(self.tracker.calls))
            self.assertEqual({names.cell_token(1)},
                             self.physnets(self.tracker.calls[0]))
        self.assertEqual([], self.tracker.claimed)
        self.assertEqual('', self.log.output)

    def test_preferred_retries_unpinned_with_warning(self):
        self.claim(self.instance(names.POLICY_PREFERRED),
                   limits=self.scheduler_limits)
        pinned, unpinned = self.tracker.calls
        self.assertEqual({'physnet1', names.cell_token(1)},
                         self.physnets(pinned))
        # The scheduler's stale token goes too; real physnets stay.
        self.assertEqual({'physnet1'}, self.physnets(unpinned))
        self.assertEqual([[0]], self.tracker.claimed)
        warning, = self.log.output.splitlines()
        for word in ('WARNING', uuids.instance, 'NUMA cell 1', 'compute1',
                     'cannot fit the given host NUMA topology',
                     '%s=preferred' % names.AFFINITY_POLICY_KEY):
            self.assertIn(word, warning)
        # The caller's limits are untouched.
        self.assertEqual({'physnet1', names.cell_token(0)},
                         self.physnets(self.scheduler_limits))

    def test_preferred_that_fits_its_render_cell_is_pinned(self):
        self.claim(self.instance(names.POLICY_PREFERRED, memory=256))
        self.assertEqual(1, len(self.tracker.calls))
        self.assertEqual([[1]], self.tracker.claimed)
        self.assertEqual('', self.log.output)

    def test_preferred_retry_can_still_fail(self):
        self.tracker.topology.cells[0].memory_usage = 3584
        self.assertRaises(exception.ComputeResourcesUnavailable,
                          self.claim, self.instance(names.POLICY_PREFERRED))
        self.assertEqual(2, len(self.tracker.calls))
        self.assertEqual([], self.tracker.claimed)

    def test_preferred_without_render_slot_is_not_retried(self):
        self.tracker.topology.cells[0].memory_usage = 3584
        limits = {'numa_topology': objects.NUMATopologyLimits(
            cpu_allocation_ratio=1.0, ram_allocation_ratio=1.0)}
        self.assertRaises(exception.ComputeResourcesUnavailable,
                          self.claim, self.instance(names.POLICY_PREFERRED),
                          {uuids.compute1: {'resources': {'VCPU': 2}}},
                          limits)
        self.assertEqual(1, len(self.tracker.calls))
        self.assertIs(limits, self.tracker.calls[0])
        self.assertEqual('', self.log.output)

    def test_preferred_provider_without_cell_claims_unpinned(self):
        self.claim(self.instance(names.POLICY_PREFERRED),
                   {uuids.nocell: {'resources': {RC: 1}}})
        limits, = self.tracker.calls
        self.assertNotIn('network_metadata', limits['numa_topology'])
        self.assertEqual([[0]], self.tracker.claimed)
        self.assertIn('has no CUSTOM_NUMA_NODE_<N> trait', self.log.output)
        self.assertIn('NUMA cell unknown', self.log.output)

    def test_move_follows_the_new_flavor(self):
        """A resize to a preferred flavor may split; to a required one not."""
        required = objects.Flavor(name='r', extra_specs={})
        preferred = objects.Flavor(name='p', extra_specs={
            names.AFFINITY_POLICY_KEY: names.POLICY_PREFERRED})
        self.tracker._move_claim(
            None, self.instance(), preferred, NODENAME, None,
            self.allocations, limits=None)
        self.assertEqual([[0]], self.tracker.claimed)
        self.assertRaises(
            exception.ComputeResourcesUnavailable, self.tracker._move_claim,
            None, self.instance(names.POLICY_PREFERRED), required, NODENAME,
            None, self.allocations, limits=None)
        self.assertEqual([[0]], self.tracker.claimed)

    def test_unpinned_limits(self):
        limits = objects.SchedulerLimits(
            numa_topology=objects.NUMATopologyLimits(
                cpu_allocation_ratio=8.0, ram_allocation_ratio=1.0,
                network_metadata=metadata(
                    ['physnet1', names.cell_token(3)], tunneled=True)),
            vcpu=32, memory_mb=None, disk_gb=None)
        unpinned = claim_cell.unpinned_limits(self.tracker, NODENAME, limits)
        self.assertEqual(32, unpinned['vcpu'])
        numa = unpinned['numa_topology']
        self.assertEqual({'physnet1'}, numa.network_metadata.physnets)
        self.assertTrue(numa.network_metadata.tunneled)
        self.assertEqual(8.0, numa.cpu_allocation_ratio)
        forced = claim_cell.unpinned_limits(self.tracker, NODENAME, None)
        self.assertEqual(['numa_topology'], list(forced))
        self.assertEqual((1.0, 1.0), (
            forced['numa_topology'].cpu_allocation_ratio,
            forced['numa_topology'].ram_allocation_ratio))
        self.assertNotIn('network_metadata', forced['numa_topology'])
