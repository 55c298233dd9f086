"""Tests of the per-render-node account of nova-compute (slot_choice).

On Nova's own ResourceTracker (its provider tree, assigned resources and
``_claim_resources``), as ``test_cell_pinning.Tracker`` builds it.
"""

import logging
import threading

import fixtures
from nova.compute import resource_tracker
from nova import exception
from nova import objects
from oslo_config import fixture as config_fixture
from oslo_serialization import jsonutils
from oslo_utils.fixture import uuidsentinel as uuids
import testtools

from nova_gpu_numa_sched.compute import placement_report
from nova_gpu_numa_sched.compute import slot_choice
from nova_gpu_numa_sched import conf
from nova_gpu_numa_sched import names
from nova_gpu_numa_sched import render_usage
from nova_gpu_numa_sched.scheduler import load
from tests.unit import test_cell_pinning as pinning

RC = names.RESOURCE_CLASS
NODENAME = pinning.NODENAME
GPUS = [pinning.gpu('gpu0', 0, slots=4), pinning.gpu('gpu1', 1, slots=4),
        pinning.gpu('gpu2', 1, slots=2)]


def slot(identifier, rp_uuid=uuids.compute1, rc=RC):
    return objects.Resource(provider_uuid=rp_uuid, resource_class=rc,
                            identifier=identifier)


def tracker(nodes=GPUS, used=(), loads=None):
    """A tracker whose ``used`` slot identifiers are already assigned."""
    found = pinning.Tracker(nodes, loads=loads)
    found._add_assigned_resources([slot(i) for i in used])
    return found


def node(key, cell, slots=4, used=0, load=None):
    return render_usage.RenderNodeUsage(key=key, cell=cell, slots=slots,
                                        used=used, load=load)


class UsageTestCase(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.conf = self.useFixture(config_fixture.Config(conf.CONF))

    def test_slots_in_use_per_render_node(self):
        found = slot_choice.usage(
            tracker(used=['gpu0#slot1', 'gpu0#slot3', 'gpu2#slot0'],
                    loads={'gpu1': 40}), NODENAME)
        self.assertEqual(
            {'gpu0': (0, 4, 2, 2, None, '/dev/dri/gpu0'),
             'gpu1': (1, 4, 0, 4, 40, '/dev/dri/gpu1'),
             'gpu2': (1, 2, 1, 1, None, '/dev/dri/gpu2')},
            {key: (n.cell, n.slots, n.used, n.free, n.load, n.devnode)
             for key, n in found.items()})

    def test_vanished_render_node_with_held_slots(self):
        """Its slots stay counted; it has no cell and no room."""
        found = slot_choice.usage(
            tracker(nodes=GPUS[:1], used=['gone#slot0', 'gone#slot2']),
            NODENAME)
        gone = found['gone']
        self.assertEqual((None, 0, 2, 0), (gone.cell, gone.slots,
                                           gone.used, gone.free))
        self.assertEqual(0, found['gpu0'].used)

    def test_slots_of_other_classes_and_providers_ignored(self):
        rt = tracker()
        rt._add_assigned_resources([
            slot('ns_0', rc='CUSTOM_PMEM_NAMESPACE_4GB'),
            slot('gpu0#slot0', rp_uuid=uuids.elsewhere)])
        found = slot_choice.usage(rt, NODENAME)
        self.assertEqual({'gpu0': 0, 'gpu1': 0, 'gpu2': 0},
                         {key: n.used for key, n in found.items()})

    def test_driver_without_render_node_report(self):
        rt = tracker(used=['gpu0#slot0'])
        rt.driver = object()
        found = slot_choice.usage(rt, NODENAME)
        self.assertEqual({'gpu0': (None, 0, 1)},
                         {key: (n.cell, n.slots, n.used)
                          for key, n in found.items()})

    def test_no_provider_tree_yet(self):
        rt = tracker(used=['gpu0#slot0'])
        rt.provider_tree = None
        self.assertEqual({'gpu0': 0, 'gpu1': 0, 'gpu2': 0},
                         {key: n.used for key, n in
                          slot_choice.usage(rt, NODENAME).items()})

    def test_order_blends_utilisation(self):
        self.conf.config(utilization_weight=0.5, group='gpu_numa')
        order = slot_choice._order(False)
        self.assertEqual((0.5, 'a'), order(node('a', 0, used=2)))
        self.assertEqual((0.25 * 0.5 + 0.5 * 0.8, 'a'),
                         order(node('a', 0, used=1, load=80)))
        self.assertEqual((1.0, 'a'), order(node('a', 0, slots=0)))
        self.assertEqual((-0.5, 'a'),
                         slot_choice._order(True)(node('a', 0, used=2)))

    def test_ranked_cells_spread_and_pack(self):
        nodes = {n.key: n for n in (
            node('a', 0, used=3), node('b', 0, used=1), node('c', 1, used=2),
            node('d', 2, used=4), node('x', None, used=0))}
        self.assertEqual([(0, 'b'), (1, 'c')], [
            (cell, n.key) for cell, n in slot_choice.ranked_cells(nodes, 1)])
        self.assertEqual([(0, 'a'), (1, 'c')], [
            (cell, n.key) for cell, n in slot_choice.ranked_cells(
                nodes, 1, packing=True)])
        self.assertEqual([(0, 'b'), (1, 'c')], [
            (cell, n.key) for cell, n in slot_choice.ranked_cells(nodes, 2)])
        self.assertEqual([(0, 'b')], [
            (cell, n.key) for cell, n in slot_choice.ranked_cells(nodes, 3)])
        # Any cell, even an unknown one: the idlest, or the busiest.
        self.assertEqual('x', slot_choice.best_node(nodes, 1).key)
        self.assertEqual('a', slot_choice.best_node(nodes, 1, True).key)
        self.assertIsNone(slot_choice.best_node(nodes, 5))

    def test_same_order_as_the_scheduler(self):
        """The claim tries cells in the order the filter ranks them."""
        self.conf.config(utilization_weight=0.3, group='gpu_numa')
        compute = {n.key: n for n in (
            node('a', 0, used=1, load=90), node('b', 1, used=2, load=0),
            node('c', 2, used=1, load=None), node('d', 3, used=0, load=50),
            node('e', 3, used=4))}
        # What the scheduler reads of what the compute publishes.
        scheduler = render_usage.loads(render_usage.dumps(compute))
        for packing, multiplier in ((False, 1.0), (True, -1.0)):
            self.assertEqual(
                [(cell, n.key) for cell, n in load.ranked_cells(
                    scheduler, 1, multiplier)],
                [(cell, n.key) for cell, n in slot_choice.ranked_cells(
                    compute, 1, packing)])


class ChoosingTestCase(testtools.TestCase):

    def test_nested_and_restored(self):
        self.assertIsNone(getattr(slot_choice._local, 'node_key', None))
        with slot_choice.choosing('a'):
            self.assertEqual('a', slot_choice._local.node_key)
            with slot_choice.choosing('b'):
                self.assertEqual('b', slot_choice._local.node_key)
            self.assertEqual('a', slot_choice._local.node_key)
        self.assertIsNone(slot_choice._local.node_key)

    def test_restored_on_error_and_per_thread(self):
        seen = []
        with slot_choice.choosing('a'):
            thread = threading.Thread(target=lambda: seen.append(
                getattr(slot_choice._local, 'node_key', None)))
            thread.start()
            thread.join()
        self.assertEqual([None], seen)
        try:
            with slot_choice.choosing('b'):
                raise ValueError()
        except ValueError:
            pass
        self.assertIsNone(slot_choice._local.node_key)


class ClaimResourcesTestCase(testtools.TestCase):
    """Nova's ``_claim_resources``, its render slots from one node."""

    def claim(self, rt, allocations, key=None):
        if key is None:
            return rt._claim_resources(allocations)
        with slot_choice.choosing(key):
            return rt._claim_resources(allocations)

    def assigned(self, rt):
        return sorted(res.identifier for res in
                      rt.assigned_resources[uuids.compute1][RC])

    def test_slots_of_the_chosen_render_node_lowest_first(self):
        rt = tracker(used=['gpu1#slot1'])
        claimed = self.claim(rt, pinning.allocations(2), 'gpu1')
        self.assertIsInstance(claimed, objects.ResourceList)
        self.assertEqual(['gpu1#slot0', 'gpu1#slot2'],
                         [res.identifier for res in claimed])
        for res in claimed:
            self.assertEqual((uuids.compute1, RC),
                             (res.provider_uuid, res.resource_class))
        self.assertEqual(['gpu1#slot0', 'gpu1#slot1', 'gpu1#slot2'],
                         self.assigned(rt))
        # The allocations the caller passed are not changed.
        self.assertEqual(
            {uuids.compute1: {'resources': {'VCPU': 2, 'MEMORY_MB': 1024,
                                            RC: 1}}},
            pinning.allocations(1))

    def test_not_enough_free_on_the_chosen_node(self):
        rt = tracker(used=['gpu2#slot0'])
        error = self.assertRaises(exception.ComputeResourcesUnavailable,
                                  self.claim, rt, pinning.allocations(2),
                                  'gpu2')
        self.assertIn('needed 2 render slot(s) on render node gpu2, 1 free',
                      str(error))
        self.assertEqual(['gpu2#slot0'], self.assigned(rt))

    def test_unknown_node_refused(self):
        rt = tracker()
        self.assertRaises(exception.ComputeResourcesUnavailable, self.claim,
                          rt, pinning.allocations(1), 'gone')
        self.assertEqual([], self.assigned(rt))

    def test_unchosen_claim_takes_the_least_used_node(self):
        """A claim path the plugin does not pin: whatever cell."""
        rt = tracker(used=['gpu0#slot0', 'gpu1#slot0', 'gpu1#slot1'])
        claimed = self.claim(rt, pinning.allocations(1))
        self.assertEqual(['gpu2#slot0'], [res.identifier for res in claimed])
        claimed = self.claim(rt, pinning.allocations(1))
        self.assertEqual(['gpu0#slot1'], [res.identifier for res in claimed])
        # No node has four free slots: refused.
        self.assertRaises(exception.ComputeResourcesUnavailable, self.claim,
                          rt, pinning.allocations(4))

    def test_other_resources_are_nova_s(self):
        rt = tracker()
        pmem = slot('ns_0', rc='CUSTOM_PMEM_NAMESPACE_4GB')
        resources = dict(rt.provider_tree.data(NODENAME).resources)
        resources['CUSTOM_PMEM_NAMESPACE_4GB'] = {pmem}
        rt.provider_tree.update_resources(NODENAME, resources)
        allocations = pinning.allocations(1)
        allocations[uuids.compute1]['resources'][
            'CUSTOM_PMEM_NAMESPACE_4GB'] = 1
        claimed = self.claim(rt, allocations, 'gpu0')
        self.assertEqual({'ns_0', 'gpu0#slot0'},
                         {res.identifier for res in claimed})
        self.assertEqual({pmem}, rt.assigned_resources[uuids.compute1][
            'CUSTOM_PMEM_NAMESPACE_4GB'])

    def test_without_render_slots_nova_decides(self):
        rt = tracker()
        self.assertIsNone(self.claim(rt, pinning.allocations(0), 'gpu0'))
        self.assertIsNone(self.claim(rt, {}, 'gpu0'))
        self.assertIsNone(self.claim(rt, None))
        self.assertEqual([], self.assigned(rt))

    def test_provider_outside_the_tree_is_skipped(self):
        """An evacuation also holds the source host's allocation."""
        rt = tracker()
        claimed = self.claim(rt, pinning.allocations(
            1, **{uuids.source: {RC: 1, 'VCPU': 2}}), 'gpu0')
        self.assertEqual(['gpu0#slot0'], [res.identifier for res in claimed])
        self.assertNotIn(uuids.source, rt.assigned_resources)


class UpdateTracker(pinning.Tracker):
    """The tracker's update, Nova's Placement report left out."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.updates = []

    def _nova_update_to_placement(self, context, compute_node, startup):
        self.updates.append((context, compute_node.hypervisor_hostname,
                             startup))
        return 'reported'

    _update_to_placement = slot_choice._wrap_update_to_placement(
        _nova_update_to_placement)


class PublishTestCase(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.log = self.useFixture(fixtures.FakeLogger(
            name='nova_gpu_numa_sched', level=logging.INFO,
            format='%(levelname)s %(message)s'))
        self.rt = UpdateTracker(GPUS, loads={'gpu0': 30})
        self.rt._add_assigned_resources([slot('gpu0#slot0'),
                                         slot('gpu2#slot1')])
        self.node = self.rt.compute_nodes[NODENAME]
        self.node.stats = {'num_instances': '2', 'num_vm_active': '2'}

    def update(self, startup=False):
        return self.rt._update_to_placement('ctxt', self.node, startup)

    def test_render_nodes_published_in_the_stats(self):
        self.assertEqual('reported', self.update(startup=True))
        self.assertEqual([('ctxt', NODENAME, True)], self.rt.updates)
        stats = self.node.stats
        self.assertEqual('2', stats['num_instances'])
        self.assertEqual({
            'gpu0': {'cell': 0, 'slots': 4, 'used': 1, 'load': 30,
                     'devnode': '/dev/dri/gpu0'},
            'gpu1': {'cell': 1, 'slots': 4, 'used': 0, 'load': None,
                     'devnode': '/dev/dri/gpu1'},
            'gpu2': {'cell': 1, 'slots': 2, 'used': 1, 'load': None,
                     'devnode': '/dev/dri/gpu2'},
        }, jsonutils.loads(stats[names.RENDER_NODES_STAT]))

    def test_the_scheduler_reads_what_the_compute_publishes(self):
        self.update()
        parsed = render_usage.loads(
            self.node.stats[names.RENDER_NODES_STAT])
        self.assertEqual(slot_choice.usage(self.rt, NODENAME), parsed)

    def test_each_claim_changes_the_stats_others_do_not(self):
        self.update()
        self.assertFalse(slot_choice._publish(self.rt, self.node, NODENAME))
        with slot_choice.choosing('gpu1'):
            self.rt._claim_resources(pinning.allocations(1))
        self.assertTrue(slot_choice._publish(self.rt, self.node, NODENAME))
        self.assertEqual(1, render_usage.loads(
            self.node.stats[names.RENDER_NODES_STAT])['gpu1'].used)

    def test_no_render_nodes_no_stat(self):
        self.node.stats = {'num_instances': '0',
                           names.RENDER_NODES_STAT: '{}'}
        self.rt.assigned_resources.clear()
        self.rt.driver.nodes = {}
        self.update()
        self.assertEqual({'num_instances': '0'}, self.node.stats)

    def test_a_failure_never_stops_the_tracker(self):
        before = dict(self.node.stats)

        def broken(tracker, nodename):
            raise RuntimeError('boom')

        self.useFixture(fixtures.MockPatchObject(slot_choice, 'usage',
                                                 broken))
        self.assertEqual('reported', self.update())
        self.assertEqual(before, self.node.stats)
        self.assertIn('ERROR Cannot publish the render nodes of compute1',
                      self.log.output)


class RehomeTestCase(testtools.TestCase):
    """After the start-up reshape, instances name the compute node."""

    def setUp(self):
        super().setUp()
        self.log = self.useFixture(fixtures.FakeLogger(
            name='nova_gpu_numa_sched', level=logging.INFO,
            format='%(levelname)s %(message)s'))
        self.moved = {uuids.old_gpu0: 'gpu0', uuids.old_gpu1: 'gpu1'}
        self.inst1 = objects.Instance(
            uuid=uuids.inst1, migration_context=None,
            resources=objects.ResourceList(objects=[
                slot('gpu0#slot0', uuids.old_gpu0),
                slot('ns_0', uuids.compute1, 'CUSTOM_PMEM_NAMESPACE_4GB')]))
        # A resize in progress: its old and new slots both move.
        self.inst2 = objects.Instance(
            uuid=uuids.inst2,
            resources=objects.ResourceList(objects=[
                slot('gpu1#slot0', uuids.old_gpu1)]),
            migration_context=objects.MigrationContext(
                old_resources=objects.ResourceList(objects=[
                    slot('gpu1#slot0', uuids.old_gpu1)]),
                new_resources=objects.ResourceList(objects=[
                    slot('gpu0#slot1', uuids.old_gpu0)])))
        # Already on the compute node, and one without any resource.
        self.inst3 = objects.Instance(
            uuid=uuids.inst3, migration_context=None,
            resources=objects.ResourceList(objects=[slot('gpu1#slot1')]))
        self.inst4 = objects.Instance(uuid=uuids.inst4, resources=None,
                                      migration_context=None)
        self.listed = []
        self.saved = []

        def get_by_host(context, host, expected_attrs=None):
            self.listed.append((context, host, expected_attrs))
            return objects.InstanceList(objects=[
                self.inst1, self.inst2, self.inst3, self.inst4])

        def save(instance):
            self.saved.append(instance.uuid)

        self.useFixture(fixtures.MockPatchObject(
            objects.InstanceList, 'get_by_host', get_by_host))
        self.useFixture(fixtures.MockPatchObject(objects.Instance, 'save',
                                                 save))
        self.rt = UpdateTracker(GPUS)
        self.rt._add_assigned_resources([
            slot('gpu0#slot0', uuids.old_gpu0),
            slot('gpu0#slot1', uuids.old_gpu0),
            slot('gpu1#slot0', uuids.old_gpu1), slot('gpu1#slot1')])

    @staticmethod
    def where(resources):
        return sorted((res.identifier, res.provider_uuid)
                      for res in resources)

    def test_rehome_resources(self):
        slot_choice.rehome_resources(self.rt, 'ctxt', NODENAME, self.moved)
        self.assertEqual(
            [('ctxt', 'compute1', ['resources', 'migration_context'])],
            self.listed)
        self.assertEqual([uuids.inst1, uuids.inst2], self.saved)
        self.assertEqual(
            [('gpu0#slot0', uuids.compute1), ('ns_0', uuids.compute1)],
            self.where(self.inst1.resources))
        self.assertEqual([('gpu1#slot0', uuids.compute1)],
                         self.where(self.inst2.resources))
        ctx = self.inst2.migration_context
        self.assertEqual([('gpu1#slot0', uuids.compute1)],
                         self.where(ctx.old_resources))
        self.assertEqual([('gpu0#slot1', uuids.compute1)],
                         self.where(ctx.new_resources))
        self.assertEqual([('gpu1#slot1', uuids.compute1)],
                         self.where(self.inst3.resources))
        # The tracker's account names the compute node only.
        self.assertEqual({uuids.compute1}, set(self.rt.assigned_resources))
        self.assertEqual(
            ['gpu0#slot0', 'gpu0#slot1', 'gpu1#slot0', 'gpu1#slot1'],
            sorted(res.identifier for res in
                   self.rt.assigned_resources[uuids.compute1][RC]))
        self.assertIn('INFO Render slots of 2 instance(s) on compute1 now '
                      'name the compute node provider.', self.log.output)
        # Every assigned slot is one the compute node provider reports.
        reported = placement_report.slots_of(self.rt.provider_tree,
                                             NODENAME)
        for res in self.rt.assigned_resources[uuids.compute1][RC]:
            self.assertEqual(reported[res.identifier], res)

    def test_done_once_by_the_update_after_the_reshape(self):
        self.rt.driver.reshaped_render_providers = self.moved
        self.rt._update_to_placement('ctxt', self.rt.compute_nodes[NODENAME],
                                     True)
        self.assertIsNone(self.rt.driver.reshaped_render_providers)
        self.assertEqual([uuids.inst1, uuids.inst2], self.saved)
        # The published account counts the moved slots.
        published = render_usage.loads(self.rt.compute_nodes[
            NODENAME].stats[names.RENDER_NODES_STAT])
        self.assertEqual({'gpu0': 2, 'gpu1': 2, 'gpu2': 0},
                         {key: n.used for key, n in published.items()})
        self.rt._update_to_placement('ctxt', self.rt.compute_nodes[NODENAME],
                                     False)
        self.assertEqual(1, len(self.listed))

    def test_no_reshape_nothing_rewritten(self):
        self.rt._update_to_placement('ctxt', self.rt.compute_nodes[NODENAME],
                                     False)
        self.assertEqual([], self.listed)
        self.assertEqual([], self.saved)


class InstallTestCase(testtools.TestCase):

    def test_install_is_idempotent(self):
        rt = resource_tracker.ResourceTracker
        names_ = ('_claim_resources', '_update_to_placement')
        for name in names_:
            self.addCleanup(setattr, rt, name, rt.__dict__[name])
        # A compute driver of another test may have installed them already.
        nova = {}
        for name in names_:
            method = rt.__dict__[name]
            if getattr(method, slot_choice._WRAPPED_MARK, False):
                method = method.__wrapped__
            nova[name] = method
            setattr(rt, name, method)
        slot_choice.install()
        installed = {name: rt.__dict__[name] for name in nova}
        for name, method in installed.items():
            self.assertTrue(getattr(method, slot_choice._WRAPPED_MARK))
            self.assertIs(nova[name], method.__wrapped__)
        slot_choice.install()
        self.assertEqual(installed, {name: rt.__dict__[name]
                                     for name in nova})
