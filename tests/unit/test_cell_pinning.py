"""Tests of the compute claim: cell tokens, pinned limits, the choice of
render node and cell inside the resource tracker's lock."""

import logging

import fixtures
from nova.compute import provider_tree
from nova.compute import resource_tracker
from nova import exception
from nova import objects
from nova.virt import hardware
from oslo_concurrency import lockutils
from oslo_utils.fixture import uuidsentinel as uuids
import testtools

from nova_gpu_numa_sched import cell_limits
from nova_gpu_numa_sched.compute import claim_cell
from nova_gpu_numa_sched.compute import placement_report
from nova_gpu_numa_sched.compute import render_node
from nova_gpu_numa_sched.compute import slot_choice
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


def gpu(key, cell, slots=4):
    return render_node.RenderNode(key=key, devnode='/dev/dri/%s' % key,
                                  numa_node=cell, slots=slots)


class FakeDriver(object):
    """The one thing the tracker asks the plugin's driver for."""

    def __init__(self, nodes, loads=None):
        self.nodes = {node.key: node for node in nodes}
        self.loads = dict(loads or {})

    def render_node_report(self):
        return dict(self.nodes), dict(self.loads)


class Tracker(resource_tracker.ResourceTracker):
    """Nova's resource tracker with its claim entry points cut down.

    Each claim runs Nova's NUMA fit against the host with the limits it is
    given and raises ComputeResourcesUnavailable when nothing fits, as
    ``claims.Claim._test_numa_topology`` does, before recording anything;
    then Nova's own ``_claim_resources`` (as this plugin wraps it) hands
    out the render slots, and the host's cell usage grows by the guest, as
    Nova's usage update does. Everything else is Nova's: provider tree,
    assigned resources, compute node.
    """

    _claim_resources = slot_choice._wrap_claim_resources(
        resource_tracker.ResourceTracker._claim_resources)

    def __init__(self, nodes, topology=None, loads=None, cpu_ratio=1.0,
                 ram_ratio=1.0):
        super().__init__('compute1', FakeDriver(nodes, loads),
                         reportclient=object())
        self.topology = topology or cell_limits.add_cell_tokens(
            host_topology(n_cells=4))
        self.compute_nodes[NODENAME] = objects.ComputeNode(
            uuid=uuids.compute1, hypervisor_hostname=NODENAME,
            cpu_allocation_ratio=cpu_ratio, ram_allocation_ratio=ram_ratio,
            stats={})
        self.provider_tree = provider_tree.ProviderTree()
        self.provider_tree.new_root(NODENAME, uuids.compute1)
        placement_report.update_provider_tree(self.provider_tree, NODENAME,
                                              nodes, set())
        self.calls = []
        self.claimed = []

    def sync(self):
        """The compute node record the claim reads the topology from."""
        self.compute_nodes[NODENAME].numa_topology = self.topology._to_json()

    def _claim(self, guest, limits, allocations):
        self.calls.append(limits)
        numa = (limits or {}).get('numa_topology')
        fitted = hardware.numa_fit_instance_to_host(
            self.topology, guest, None, limits=numa)
        if fitted is None:
            raise exception.ComputeResourcesUnavailable(
                reason='Requested instance NUMA topology cannot fit the '
                       'given host NUMA topology')
        resources = self._claim_resources(allocations)
        self.topology = hardware.numa_usage_from_instance_numa(
            self.topology, fitted)
        self.claimed.append((
            [cell.id for cell in fitted.cells],
            sorted(res.identifier for res in resources or ())))
        return fitted

    def instance_claim(self, context, instance, nodename, allocations,
                       limits=None):
        return self._claim(instance.numa_topology, limits, allocations)

    def _move_claim(self, context, instance, new_flavor, nodename,
                    migration, allocations, move_type=None, image_meta=None,
                    limits=None):
        return self._claim(instance.numa_topology, limits, allocations)

    instance_claim = claim_cell._wrap(instance_claim, 'allocations')
    _move_claim = claim_cell._wrap(_move_claim, 'allocations')


def allocations(slots=1, root=uuids.compute1, **others):
    allocs = {root: {'resources': {'VCPU': 2, 'MEMORY_MB': 1024}}}
    if slots:
        allocs[root]['resources'][RC] = slots
    for rp_uuid, resources in others.items():
        allocs[rp_uuid] = {'resources': resources}
    return allocs


def instance(policy=None, memory=1024, vcpus=2, uuid=uuids.instance):
    extra_specs = {'hw:numa_nodes': '1'}
    if policy:
        extra_specs[names.AFFINITY_POLICY_KEY] = policy
    return objects.Instance(
        uuid=uuid, numa_topology=guest_topology(vcpus=vcpus, memory=memory),
        flavor=objects.Flavor(name='phone', extra_specs=extra_specs))


def physnets(limits):
    return limits['numa_topology'].network_metadata.physnets


def scheduler_limits(packing=False, extra=()):
    numa = objects.NUMATopologyLimits(
        cpu_allocation_ratio=1.0, ram_allocation_ratio=1.0,
        network_metadata=metadata(set(extra)))
    return {'numa_topology': cell_limits.with_packing(numa, packing)}


class AddCellTokensTestCase(testtools.TestCase):

    def test_every_cell_gets_its_token(self):
        topology = host_topology(n_cells=3)
        topology.cells[1].network_metadata = metadata(['physnet1'], True)
        result = cell_limits.add_cell_tokens(topology)
        self.assertIs(topology, result)
        # Every cell of these hosts is on socket 0.
        self.assertEqual(
            [{'gpu-numa-cell-0', 'gpu-numa-socket-0', names.PACK_TOKEN},
             {'gpu-numa-cell-1', 'gpu-numa-socket-0', 'physnet1',
              names.PACK_TOKEN},
             {'gpu-numa-cell-2', 'gpu-numa-socket-0', names.PACK_TOKEN}],
            [cell.network_metadata.physnets for cell in topology.cells])
        # Real network affinity of the cell is kept.
        self.assertEqual([False, True, False],
                         [c.network_metadata.tunneled for c in topology.cells])

    def test_idempotent(self):
        topology = cell_limits.add_cell_tokens(host_topology(n_cells=2))
        cell_limits.add_cell_tokens(topology)
        self.assertEqual({'gpu-numa-cell-1', 'gpu-numa-socket-0',
                          names.PACK_TOKEN},
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


class PackingLimitsTestCase(testtools.TestCase):

    def test_with_packing_adds_and_removes_the_token(self):
        limits = objects.NUMATopologyLimits(
            cpu_allocation_ratio=2.0, ram_allocation_ratio=1.0,
            network_metadata=metadata(['physnet1', names.cell_token(1)],
                                      tunneled=True))
        packed = cell_limits.with_packing(limits, True)
        self.assertEqual({'physnet1', names.cell_token(1), names.PACK_TOKEN},
                         packed.network_metadata.physnets)
        self.assertTrue(packed.network_metadata.tunneled)
        self.assertTrue(cell_limits.is_packing(packed))
        spread = cell_limits.with_packing(packed, False)
        self.assertEqual({'physnet1', names.cell_token(1)},
                         spread.network_metadata.physnets)
        self.assertFalse(cell_limits.is_packing(spread))
        self.assertEqual(2.0, spread.cpu_allocation_ratio)

    def test_limits_without_network_metadata(self):
        limits = objects.NUMATopologyLimits(cpu_allocation_ratio=1.0,
                                            ram_allocation_ratio=1.0)
        self.assertFalse(cell_limits.is_packing(limits))
        packed = cell_limits.with_packing(limits, True)
        self.assertEqual({names.PACK_TOKEN},
                         packed.network_metadata.physnets)
        self.assertFalse(packed.network_metadata.tunneled)
        self.assertIsNone(cell_limits.with_packing(None, True))
        self.assertFalse(cell_limits.is_packing(None))

    def test_pack_token_survives_the_pin_and_never_narrows_the_fit(self):
        """Every host cell carries it: a packing claim fits as before."""
        packed = cell_limits.pinned_numa_limits(
            scheduler_limits(packing=True)['numa_topology'], 2, 1.0, 1.0)
        self.assertTrue(cell_limits.is_packing(packed))
        host = cell_limits.add_cell_tokens(host_topology(n_cells=4))
        fitted = hardware.numa_fit_instance_to_host(
            host, guest_topology(), None, limits=packed)
        self.assertEqual([2], [cell.id for cell in fitted.cells])


class LimitsTestCase(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.tracker = Tracker([gpu('gpu0', 2)], cpu_ratio=4.0,
                               ram_ratio=1.5)

    def test_slots_claimed_on_this_compute_node_only(self):
        """An evacuation's allocations also name the source host."""
        self.assertEqual(2, claim_cell.slots_claimed(
            self.tracker, NODENAME, allocations(2, **{
                uuids.source: {RC: 1}})))
        self.assertEqual(0, claim_cell.slots_claimed(
            self.tracker, NODENAME, allocations(0, **{
                uuids.source: {RC: 1}})))
        self.assertEqual(0, claim_cell.slots_claimed(self.tracker, NODENAME,
                                                     None))
        self.assertEqual(0, claim_cell.slots_claimed(self.tracker, 'other',
                                                     allocations()))

    def test_pinned_limits_keep_the_rest(self):
        numa = objects.NUMATopologyLimits(
            cpu_allocation_ratio=16.0, ram_allocation_ratio=1.0,
            network_metadata=metadata(['physnet1']))
        limits = {'numa_topology': numa, 'memory_mb': 2048}
        pinned = claim_cell.pinned_limits(self.tracker, NODENAME, limits, 2)
        self.assertEqual({'physnet1', 'gpu-numa-cell-2'}, physnets(pinned))
        self.assertEqual(16.0, pinned['numa_topology'].cpu_allocation_ratio)
        self.assertEqual(2048, pinned['memory_mb'])
        # The caller's limits are not modified.
        self.assertIs(numa, limits['numa_topology'])
        self.assertEqual({'physnet1'}, numa.network_metadata.physnets)

    def test_no_limits_use_compute_node_ratios(self):
        """Forced moves carry no limits; the pin must still apply."""
        pinned = claim_cell.pinned_limits(self.tracker, NODENAME, None, 1)
        numa = pinned['numa_topology']
        self.assertEqual((4.0, 1.5), (numa.cpu_allocation_ratio,
                                      numa.ram_allocation_ratio))
        self.assertEqual({'gpu-numa-cell-1'}, numa.network_metadata.physnets)

    def test_scheduler_limits_object(self):
        limits = objects.SchedulerLimits(
            numa_topology=objects.NUMATopologyLimits(
                cpu_allocation_ratio=8.0, ram_allocation_ratio=1.0),
            vcpu=32, memory_mb=None, disk_gb=100)
        pinned = claim_cell.pinned_limits(self.tracker, NODENAME, limits, 3)
        self.assertIsInstance(pinned, dict)
        self.assertEqual({'numa_topology', 'vcpu', 'disk_gb'}, set(pinned))
        self.assertEqual((32, 100), (pinned['vcpu'], pinned['disk_gb']))
        self.assertEqual(8.0, pinned['numa_topology'].cpu_allocation_ratio)
        self.assertEqual({'gpu-numa-cell-3'}, physnets(pinned))

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
        self.assertEqual((4.0, 1.5), (
            forced['numa_topology'].cpu_allocation_ratio,
            forced['numa_topology'].ram_allocation_ratio))
        self.assertNotIn('network_metadata', forced['numa_topology'])


class NumaFitTestCase(testtools.TestCase):
    """Nova's own NUMA fit obeys the pinned limits: why the lever works."""

    def setUp(self):
        super().setUp()
        self.host = cell_limits.add_cell_tokens(host_topology(n_cells=4))
        self.tracker = Tracker([gpu('gpu0', 2)])

    def fit(self, limits, guest=None):
        return hardware.numa_fit_instance_to_host(
            self.host, guest or guest_topology(), None,
            limits=limits and limits['numa_topology'])

    def pinned(self, limits=None, cell=2):
        return claim_cell.pinned_limits(self.tracker, NODENAME, limits, cell)

    def test_fit_lands_on_the_pinned_cell(self):
        # Unpinned, nova picks the first cell that fits: cell 0.
        unpinned = self.fit(None)
        self.assertEqual([0], [cell.id for cell in unpinned.cells])
        for cell in range(4):
            fitted = self.fit(self.pinned(cell=cell))
            self.assertEqual([cell], [c.id for c in fitted.cells])

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
        self.host.cells[2].memory_usage = 3584
        self.assertEqual([0], [c.id for c in self.fit(None).cells])
        self.assertIsNone(self.fit(self.pinned()))
        self.host.cells[2].memory_usage = 3072
        fitted = self.fit(self.pinned())
        self.assertEqual([2], [cell.id for cell in fitted.cells])


FOUR_GPUS = [gpu('gpu%d' % i, i) for i in range(4)]


class ClaimTestCase(testtools.TestCase):
    """The claim tries the cells of the render nodes with room in order."""

    def setUp(self):
        super().setUp()
        # The plugin's log only (Nova's tracker logs its own start-up).
        self.log = self.useFixture(fixtures.FakeLogger(
            name='nova_gpu_numa_sched', level=logging.INFO,
            format='%(levelname)s %(message)s'))

    def tracker(self, nodes=FOUR_GPUS, used=None, **kwargs):
        """A tracker whose render nodes already hand out ``used`` slots."""
        tracker = Tracker(nodes, **kwargs)
        held = []
        for key, count in (used or {}).items():
            held.extend(objects.Resource(
                provider_uuid=uuids.compute1, resource_class=RC,
                identifier=placement_report.slot_identifier(key, index))
                for index in range(count))
        tracker._add_assigned_resources(held)
        return tracker

    def claim(self, tracker, inst=None, allocs=None, limits=None):
        tracker.sync()
        return tracker.instance_claim(
            None, inst or instance(), NODENAME,
            allocations() if allocs is None else allocs, limits=limits)

    def pins(self, tracker):
        return [{p for p in physnets(limits) if names.is_pin_token(p)}
                for limits in tracker.calls]

    def assigned(self, tracker):
        return sorted(res.identifier for res in
                      tracker.assigned_resources[uuids.compute1][RC])

    def test_least_used_render_node_first(self):
        tracker = self.tracker(used={'gpu0': 2, 'gpu2': 1, 'gpu3': 3})
        self.claim(tracker)
        self.assertEqual([{names.cell_token(1)}], self.pins(tracker))
        self.assertEqual([([1], ['gpu1#slot0'])], tracker.claimed)
        self.assertEqual('', self.log.output)

    def test_load_breaks_the_tie(self):
        tracker = self.tracker(loads={'gpu0': 80, 'gpu1': 30, 'gpu2': 10,
                                      'gpu3': 50})
        self.claim(tracker)
        self.assertEqual([([2], ['gpu2#slot0'])], tracker.claimed)

    def test_instances_of_a_multi_create_spread_exactly(self):
        """Each claim sees the slots the earlier ones took."""
        tracker = self.tracker()
        for index in range(6):
            self.claim(tracker, instance(uuid=getattr(uuids, 'i%d' % index),
                                         memory=512, vcpus=1))
        self.assertEqual(
            [([0], ['gpu0#slot0']), ([1], ['gpu1#slot0']),
             ([2], ['gpu2#slot0']), ([3], ['gpu3#slot0']),
             ([0], ['gpu0#slot1']), ([1], ['gpu1#slot1'])],
            tracker.claimed)
        self.assertEqual(
            {'gpu0': 2, 'gpu1': 2, 'gpu2': 1, 'gpu3': 1},
            {key: node.used for key, node in slot_choice.usage(
                tracker, NODENAME).items()})

    def test_packing_fills_the_busiest_render_node_with_room(self):
        tracker = self.tracker(used={'gpu0': 2, 'gpu2': 1, 'gpu3': 3})
        for index in range(3):
            self.claim(tracker, instance(memory=256, vcpus=1),
                       limits=scheduler_limits(packing=True))
        # gpu3 (3 of 4) first, then full; then gpu0 (2 of 4).
        self.assertEqual(
            [([3], ['gpu3#slot3']), ([0], ['gpu0#slot2']),
             ([0], ['gpu0#slot3'])], tracker.claimed)
        # The pack token travels on; it never narrowed the fit.
        self.assertTrue(all(cell_limits.is_packing(limits['numa_topology'])
                            for limits in tracker.calls))

    def test_next_cell_when_the_best_cannot_hold_the_guest(self):
        tracker = self.tracker(used={'gpu0': 1, 'gpu2': 2, 'gpu3': 3})
        tracker.topology.cells[1].memory_usage = 3584
        self.claim(tracker)
        self.assertEqual([{names.cell_token(1)}, {names.cell_token(0)}],
                         self.pins(tracker))
        self.assertEqual([([0], ['gpu0#slot1'])], tracker.claimed)
        self.assertNotIn('WARNING', self.log.output)

    def test_required_fails_naming_the_cells_tried(self):
        tracker = self.tracker(used={'gpu2': 4})
        for cell in tracker.topology.cells:
            cell.memory_usage = 3584
        for policy in (None, names.POLICY_REQUIRED):
            tracker.calls = []
            error = self.assertRaises(
                exception.ComputeResourcesUnavailable, self.claim, tracker,
                instance(policy))
            # gpu2 is full: cell 2 is not tried.
            self.assertEqual([{names.cell_token(c)} for c in (0, 1, 3)],
                             self.pins(tracker))
            for text in ('no render node with 1 free slot(s) on a NUMA '
                         'cell of compute1', 'cell 0: ', 'cell 1: ',
                         'cell 3: ', 'cannot fit'):
                self.assertIn(text, str(error))
            self.assertNotIn('cell 2:', str(error))
        self.assertEqual([], tracker.claimed)
        self.assertEqual(['gpu2#slot%d' % i for i in range(4)],
                         self.assigned(tracker))
        self.assertEqual('', self.log.output)

    def test_no_render_node_with_room(self):
        tracker = self.tracker(nodes=[gpu('gpu0', 0, slots=1)],
                               used={'gpu0': 1})
        error = self.assertRaises(exception.ComputeResourcesUnavailable,
                                  self.claim, tracker)
        self.assertIn('no render node has room', str(error))
        self.assertEqual([], tracker.calls)
        # Two slots are more than any render node has free.
        tracker = self.tracker(nodes=[gpu('gpu0', 0, slots=1),
                                      gpu('gpu1', 1, slots=1)])
        self.assertRaises(exception.ComputeResourcesUnavailable, self.claim,
                          tracker, None, allocations(2))
        self.assertEqual([], tracker.calls)

    def test_two_slots_on_one_render_node(self):
        tracker = self.tracker(used={'gpu0': 3, 'gpu1': 3, 'gpu2': 2})
        self.claim(tracker, allocs=allocations(2))
        self.assertEqual([([3], ['gpu3#slot0', 'gpu3#slot1'])],
                         tracker.claimed)
        self.claim(tracker, allocs=allocations(2))
        self.assertEqual(([2], ['gpu2#slot2', 'gpu2#slot3']),
                         tracker.claimed[1])

    def test_preferred_claims_unpinned_with_a_warning(self):
        tracker = self.tracker(nodes=[gpu('gpu1', 1)])
        tracker.topology.cells[1].memory_usage = 3584
        limits = scheduler_limits(extra=['physnet1', names.cell_token(1)])
        self.claim(tracker, instance(names.POLICY_PREFERRED), limits=limits)
        pinned, unpinned = tracker.calls
        self.assertEqual({'physnet1', names.cell_token(1)},
                         physnets(pinned) - {names.PACK_TOKEN})
        # The scheduler's token goes too; real physnets stay.
        self.assertEqual({'physnet1'}, physnets(unpinned))
        self.assertEqual([([0], ['gpu1#slot0'])], tracker.claimed)
        warning, = self.log.output.splitlines()
        for word in ('WARNING', uuids.instance, 'compute1', 'cell 1',
                     'cannot fit the given host NUMA topology',
                     '%s=preferred' % names.AFFINITY_POLICY_KEY,
                     'render node /dev/dri/gpu1'):
            self.assertIn(word, warning)
        # The caller's limits are untouched.
        self.assertEqual({'physnet1', names.cell_token(1)},
                         physnets(limits))

    def test_preferred_that_fits_is_pinned(self):
        tracker = self.tracker(nodes=[gpu('gpu1', 1)])
        self.claim(tracker, instance(names.POLICY_PREFERRED, memory=256))
        self.assertEqual([([1], ['gpu1#slot0'])], tracker.claimed)
        self.assertEqual(1, len(tracker.calls))
        self.assertEqual('', self.log.output)

    def test_preferred_fallback_can_still_fail(self):
        tracker = self.tracker(nodes=[gpu('gpu1', 1)])
        for cell in tracker.topology.cells:
            cell.memory_usage = 3584
        self.assertRaises(exception.ComputeResourcesUnavailable, self.claim,
                          tracker, instance(names.POLICY_PREFERRED))
        self.assertEqual(2, len(tracker.calls))
        self.assertEqual([], self.assigned(tracker))

    def test_preferred_without_a_free_slot_fails(self):
        tracker = self.tracker(nodes=[gpu('gpu1', 1, slots=1)],
                               used={'gpu1': 1})
        self.assertRaises(exception.ComputeResourcesUnavailable, self.claim,
                          tracker, instance(names.POLICY_PREFERRED))
        self.assertEqual([], tracker.calls)

    def test_without_render_slots_untouched(self):
        tracker = self.tracker()
        for cell in tracker.topology.cells:
            cell.memory_usage = 3584
        limits = scheduler_limits()
        self.assertRaises(exception.ComputeResourcesUnavailable, self.claim,
                          tracker, instance(names.POLICY_PREFERRED),
                          allocations(0), limits)
        self.assertEqual(1, len(tracker.calls))
        self.assertIs(limits, tracker.calls[0])
        tracker.topology = cell_limits.add_cell_tokens(host_topology())
        self.claim(tracker, allocs=allocations(0), limits=limits)
        self.assertEqual([([0], [])], tracker.claimed)

    def test_source_side_of_an_evacuation_is_ignored(self):
        tracker = self.tracker(used={'gpu0': 1})
        self.claim(tracker, allocs=allocations(1, **{uuids.source: {RC: 1}}))
        self.assertEqual([([1], ['gpu1#slot0'])], tracker.claimed)

    def test_move_follows_the_new_flavor(self):
        """A resize to a preferred flavor may split; to a required one not."""
        required = objects.Flavor(name='r', extra_specs={})
        preferred = objects.Flavor(name='p', extra_specs={
            names.AFFINITY_POLICY_KEY: names.POLICY_PREFERRED})
        tracker = self.tracker(nodes=[gpu('gpu1', 1)])
        tracker.topology.cells[1].memory_usage = 3584
        tracker.sync()
        tracker._move_claim(None, instance(), preferred, NODENAME, None,
                            allocations(), limits=None)
        self.assertEqual([([0], ['gpu1#slot0'])], tracker.claimed)
        self.assertRaises(
            exception.ComputeResourcesUnavailable, tracker._move_claim,
            None, instance(names.POLICY_PREFERRED), required, NODENAME,
            None, allocations(), limits=None)
        self.assertEqual(1, len(tracker.claimed))

    def test_wrap_binds_positional_and_keyword_limits(self):
        """The wrapper finds the arguments however the tracker is called."""
        tracker = self.tracker(used={'gpu0': 1, 'gpu1': 1, 'gpu3': 1})
        tracker.sync()
        inst, allocs = instance(memory=256, vcpus=1), allocations()
        tracker.instance_claim(None, inst, NODENAME, allocs)
        tracker.instance_claim(None, inst, NODENAME, allocs, {})
        tracker.instance_claim(None, instance=inst, nodename=NODENAME,
                               allocations=allocs, limits={'vcpu': 4})
        self.assertEqual(
            [{names.cell_token(2)}, {names.cell_token(0)},
             {names.cell_token(1)}], self.pins(tracker))
        self.assertEqual(4, tracker.calls[2]['vcpu'])


def nova_methods(names):
    """{name: Nova's own ResourceTracker method}, wrapped or not now."""
    rt = resource_tracker.ResourceTracker
    found = {}
    for name in names:
        method = rt.__dict__[name]
        if name in claim_cell.ORIGINALS:
            method = claim_cell.ORIGINALS[name]
        elif getattr(method, slot_choice._WRAPPED_MARK, False):
            method = method.__wrapped__
        found[name] = method
    return found


class InstallTestCase(testtools.TestCase):
    """install() wraps Nova's own ResourceTracker; uninstall() undoes it."""

    NAMES = ('instance_claim', '_move_claim', '_claim_resources',
             '_update_to_placement')

    def setUp(self):
        super().setUp()
        rt = resource_tracker.ResourceTracker
        # Other tests of this process (a compute driver starting) may have
        # installed the wraps already: start from Nova's own methods and
        # put back whatever was there.
        for name in self.NAMES:
            self.addCleanup(setattr, rt, name, rt.__dict__[name])
        self.addCleanup(claim_cell.ORIGINALS.update,
                        dict(claim_cell.ORIGINALS))
        self.addCleanup(setattr, hardware, 'numa_fit_instance_to_host',
                        hardware.numa_fit_instance_to_host)
        self.nova = nova_methods(self.NAMES)
        for name, method in self.nova.items():
            setattr(rt, name, method)
        claim_cell.ORIGINALS.clear()

    def test_install_is_idempotent_and_uninstall_restores(self):
        rt = resource_tracker.ResourceTracker
        claim_cell.install()
        installed = {name: rt.__dict__[name] for name in self.NAMES}
        for name in self.NAMES:
            self.assertIsNot(self.nova[name], installed[name], name)
        # Locked, around the plugin's wrap, around Nova's own method.
        locked = rt.__dict__['instance_claim']
        self.assertTrue(getattr(locked.__wrapped__, claim_cell._WRAPPED_MARK))
        self.assertIs(self.nova['instance_claim'].__wrapped__,
                      locked.__wrapped__.__wrapped__)
        self.assertEqual({'instance_claim': self.nova['instance_claim'],
                          '_move_claim': self.nova['_move_claim']},
                         claim_cell.ORIGINALS)
        claim_cell.install()
        self.assertEqual(installed,
                         {name: rt.__dict__[name] for name in self.NAMES})
        claim_cell.uninstall()
        for name in ('instance_claim', '_move_claim'):
            self.assertIs(self.nova[name], rt.__dict__[name])

    def test_instance_claim_chooses_inside_the_lock(self):
        """The render node account cannot change before the claim."""
        claim_cell.install()
        lock = lockutils.internal_fair_lock(
            resource_tracker.COMPUTE_RESOURCE_SEMAPHORE)
        held = []

        class Chosen(Exception):
            pass

        def usage(tracker, nodename):
            held.append(lock.is_writer())
            raise Chosen()

        self.useFixture(fixtures.MockPatchObject(slot_choice, 'usage',
                                                 usage))
        tracker = resource_tracker.ResourceTracker(
            'compute1', FakeDriver(FOUR_GPUS), reportclient=object())
        tracker.compute_nodes[NODENAME] = objects.ComputeNode(
            uuid=uuids.compute1)
        self.assertFalse(lock.is_writer())
        self.assertRaises(Chosen, tracker.instance_claim, None, instance(),
                          NODENAME, allocations())
        self.assertEqual([True], held)
        self.assertFalse(lock.is_writer())
        # _move_claim is called with the lock held: it takes none itself.
        self.assertRaises(Chosen, tracker._move_claim, None, instance(),
                          None, NODENAME, None, allocations())
        self.assertEqual([True, False], held)
