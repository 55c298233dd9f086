"""Tests of the scheduler's per-request render node view, load and request."""

import logging
import threading
import types

import fixtures
from nova import objects
from nova.scheduler.client import report
from nova.scheduler import host_manager
from oslo_config import fixture as config_fixture
from oslo_serialization import jsonutils
from oslo_utils.fixture import uuidsentinel as uuids
import testtools

from nova_gpu_numa_sched import conf
from nova_gpu_numa_sched import names
from nova_gpu_numa_sched import render_usage
from nova_gpu_numa_sched.scheduler import load
from nova_gpu_numa_sched.scheduler import provider_view
from nova_gpu_numa_sched.scheduler import request

objects.register_all()

RC = names.RESOURCE_CLASS


def published(**nodes):
    """The stats value nova-compute publishes.

    :param nodes: key=(cell, slots, used[, load[, devnode]])
    """
    value = {}
    for key, fields in nodes.items():
        cell, slots, used = fields[:3]
        load_ = fields[3] if len(fields) > 3 else None
        devnode = fields[4] if len(fields) > 4 else None
        value[key] = {'cell': cell, 'slots': slots, 'used': used,
                      'load': load_, 'devnode': devnode}
    return jsonutils.dumps(value)


def host(name='host1', value=None):
    state = host_manager.HostState(name, name, uuids.cell)
    state.uuid = getattr(uuids, name)
    state.stats = {'num_instances': '3'}
    if value is not None:
        state.stats[names.RENDER_NODES_STAT] = value
    return state


def candidate(root, slots=1):
    """An allocation request: render slots on the compute node itself."""
    resources = {'VCPU': 1, 'MEMORY_MB': 512}
    if slots:
        resources[RC] = slots
    return {'allocations': {root: {'resources': resources}},
            'mappings': {'': [root]}}


def node(key, cell=0, used=0, slots=10, load_=None):
    return render_usage.RenderNodeUsage(key=key, cell=cell, slots=slots,
                                        used=used, load=load_)


def nodes_of(*nodes):
    return {n.key: n for n in nodes}


def context(request_id):
    return types.SimpleNamespace(request_id=request_id)


class ViewTestCase(testtools.TestCase):
    """Each test starts with no view in this thread."""

    def setUp(self):
        super().setUp()
        self.useFixture(fixtures.MonkeyPatch(
            'nova_gpu_numa_sched.scheduler.provider_view._local',
            threading.local()))
        self.conf = self.useFixture(config_fixture.Config(conf.CONF))
        self.log = self.useFixture(fixtures.FakeLogger(
            level=logging.WARNING, format='%(levelname)s %(message)s'))


class RenderNodesTestCase(ViewTestCase):

    def test_render_nodes_of_a_host(self):
        view = provider_view.ProviderView('req-1')
        state = host(value=published(gpu0=(0, 4, 1), gpu1=(1, 4, 4)))
        nodes = view.render_nodes(state)
        self.assertEqual({'gpu0': 3, 'gpu1': 0},
                         {key: n.free for key, n in nodes.items()})
        self.assertEqual({0, 1}, {n.cell for n in nodes.values()})

    def test_host_without_published_nodes(self):
        view = provider_view.ProviderView('req-1')
        self.assertEqual({}, view.render_nodes(host()))
        state = host()
        state.stats = None
        self.assertEqual({}, view.render_nodes(state))

    def test_parsed_once_per_host_until_the_stats_change(self):
        view = provider_view.ProviderView('req-1')
        state = host(value=published(gpu0=(0, 4, 1)))
        other = host('host2', value=published(gpu0=(1, 4, 0)))
        first = view.render_nodes(state)
        self.assertIs(first, view.render_nodes(state))
        self.assertEqual(1, view.render_nodes(other)['gpu0'].cell)
        self.assertIs(first, view.render_nodes(state))
        # The host state is refreshed with a newer claim's stats.
        state.stats = {names.RENDER_NODES_STAT: published(gpu0=(0, 4, 2))}
        second = view.render_nodes(state)
        self.assertIsNot(first, second)
        self.assertEqual(2, second['gpu0'].used)

    def test_claims_of_this_request_are_added(self):
        """A multi-create sees its earlier picks on the chosen node."""
        view = provider_view.ProviderView('req-1')
        state = host(value=published(gpu0=(0, 4, 1), gpu1=(1, 4, 1)))
        other = host('host2', value=published(gpu0=(0, 4, 1)))
        parsed = view.render_nodes(state)
        view.chosen[state.uuid] = 'gpu1'
        view.record_claim(candidate(state.uuid, slots=2))
        view.record_claim(candidate(state.uuid))
        nodes = view.render_nodes(state)
        self.assertEqual({'gpu0': 1, 'gpu1': 4},
                         {key: n.used for key, n in nodes.items()})
        self.assertEqual(0, nodes['gpu1'].free)
        self.assertEqual({(state.uuid, 'gpu1'): 3}, view.claimed)
        # The parsed stats are not changed; other hosts see nothing.
        self.assertEqual(1, parsed['gpu1'].used)
        self.assertEqual(1, view.render_nodes(other)['gpu0'].used)
        # The next pick of the same request goes elsewhere on the host.
        view.chosen[state.uuid] = 'gpu0'
        view.record_claim(candidate(state.uuid))
        self.assertEqual({'gpu0': 2, 'gpu1': 4},
                         {key: n.used
                          for key, n in view.render_nodes(state).items()})

    def test_claims_without_a_chosen_node_or_slot_are_ignored(self):
        view = provider_view.ProviderView('req-1')
        state = host(value=published(gpu0=(0, 4, 1)))
        view.record_claim(candidate(state.uuid))
        view.chosen[state.uuid] = 'gpu0'
        view.record_claim(candidate(state.uuid, slots=0))
        view.record_claim(candidate(uuids.elsewhere))
        self.assertEqual({}, view.claimed)
        self.assertEqual(1, view.render_nodes(state)['gpu0'].used)


class FakeReportClient:
    """Stands in for SchedulerReportClient: canned answers, recorded calls."""

    def __init__(self, answer=None, claim_ok=True):
        self.answer = answer
        self.claim_ok = claim_ok
        self.calls = []

    def get_allocation_candidates(self, context, resources):
        self.calls.append(('get', context.request_id, resources))
        if self.answer is None:
            return None, None, None
        return self.answer

    def claim_resources(self, context, consumer_uuid, alloc_request,
                        project_id, user_id, allocation_request_version,
                        consumer_generation=None):
        self.calls.append(('claim', consumer_uuid))
        return self.claim_ok


class WrapTestCase(ViewTestCase):
    """install() wraps a report client class: start a view, count claims."""

    ANSWER = (['alloc-reqs'], {uuids.host1: {}}, '1.36')

    def setUp(self):
        super().setUp()

        class Client(FakeReportClient):
            pass

        self.client_class = Client
        self.useFixture(fixtures.MonkeyPatch(
            'nova.scheduler.client.report.SchedulerReportClient', Client))
        provider_view.install()
        self.state = host(value=published(gpu0=(0, 4, 1)))

    def query(self, request_id, answer=ANSWER):
        client = self.client_class(answer)
        return client.get_allocation_candidates(context(request_id), 'res')

    def claim(self, request_id, ok=True):
        client = self.client_class(claim_ok=ok)
        return client.claim_resources(
            context(request_id), uuids.instance, candidate(self.state.uuid),
            'project', 'user', '1.36')

    def used(self):
        return provider_view.current().render_nodes(self.state)['gpu0'].used

    def test_results_pass_through(self):
        self.assertEqual(self.ANSWER, self.query('req-1'))
        self.assertEqual((None, None, None), self.query('req-1', None))
        self.assertTrue(self.claim('req-1'))
        self.assertFalse(self.claim('req-1', ok=False))

    def test_start_and_current(self):
        self.assertIsNone(provider_view.current())
        view = provider_view.start('req-1')
        self.assertIs(view, provider_view.current())
        self.assertIs(view, provider_view.start('req-1'))
        other = provider_view.start('req-2')
        self.assertIsNot(view, other)
        self.assertIs(other, provider_view.current())
        self.assertEqual('req-2', other.request_id)

    def test_new_request_replaces_view(self):
        self.query('req-1')
        first = provider_view.current()
        self.assertEqual('req-1', first.request_id)
        first.chosen[self.state.uuid] = 'gpu0'
        self.query('req-2')
        second = provider_view.current()
        self.assertIsNot(first, second)
        self.assertEqual('req-2', second.request_id)
        self.assertEqual({}, second.chosen)

    def test_same_request_keeps_its_view(self):
        """Nova's second query of one request (PCPU fallback)."""
        self.query('req-1')
        first = provider_view.current()
        first.chosen[self.state.uuid] = 'gpu0'
        self.claim('req-1')
        self.query('req-1')
        self.assertIs(first, provider_view.current())
        self.assertEqual(2, self.used())

    def test_request_without_id_never_merges(self):
        self.query(None)
        first = provider_view.current()
        self.query(None)
        self.assertIsNot(first, provider_view.current())

    def test_failed_query_still_starts_a_view(self):
        self.query('req-1')
        self.query('req-2', None)
        self.assertEqual('req-2', provider_view.current().request_id)

    def test_successful_claim_of_same_request_is_counted(self):
        self.query('req-1')
        provider_view.current().chosen[self.state.uuid] = 'gpu0'
        self.claim('req-1')
        self.assertEqual(2, self.used())

    def test_failed_claim_is_not_counted(self):
        self.query('req-1')
        provider_view.current().chosen[self.state.uuid] = 'gpu0'
        self.claim('req-1', ok=False)
        self.assertEqual(1, self.used())

    def test_claim_of_another_request_is_not_counted(self):
        self.query('req-1')
        provider_view.current().chosen[self.state.uuid] = 'gpu0'
        self.claim('req-2')
        self.assertEqual(1, self.used())

    def test_claim_without_view(self):
        self.assertTrue(self.claim('req-1'))
        self.assertIsNone(provider_view.current())

    def test_view_is_per_thread(self):
        self.query('req-1')
        seen = []
        thread = threading.Thread(
            target=lambda: seen.append(provider_view.current()))
        thread.start()
        thread.join()
        self.assertEqual([None], seen)
        self.assertIsNotNone(provider_view.current())


class InstallTestCase(testtools.TestCase):

    def setUp(self):
        super().setUp()
        client = report.SchedulerReportClient
        for name in ('get_allocation_candidates', 'claim_resources'):
            self.addCleanup(setattr, client, name, client.__dict__[name])

    def test_install_is_idempotent(self):
        client = report.SchedulerReportClient
        provider_view.install()
        wrapped = (client.get_allocation_candidates, client.claim_resources)
        for method in wrapped:
            self.assertTrue(getattr(method, provider_view._WRAPPED_MARK))
        provider_view.install()
        self.assertEqual(wrapped, (client.get_allocation_candidates,
                                   client.claim_resources))
        # Wrapped once: one level down is nova's own method.
        for method in wrapped:
            self.assertFalse(getattr(method.__wrapped__,
                                     provider_view._WRAPPED_MARK, False))
            self.assertEqual('nova.scheduler.client.report',
                             method.__wrapped__.__module__)


class LoadTestCase(ViewTestCase):

    def test_node_load_uses_configured_weight(self):
        gpu = node('a', used=2, load_=60)
        self.conf.config(utilization_weight=0.5, group='gpu_numa')
        self.assertAlmostEqual(0.4, load.node_load(gpu))
        self.conf.config(utilization_weight=0.0, group='gpu_numa')
        self.assertAlmostEqual(0.2, load.node_load(gpu))

    def test_unknown_node_counts_as_full(self):
        self.assertEqual(1.0, load.node_load(None))


class RankTestCase(ViewTestCase):
    """Which render node, and which cell, the scheduler prefers."""

    def setUp(self):
        super().setUp()
        # Cell 0: a (5 used), b (1); cell 1: c (3); cell 2: d (1), full e;
        # a render node of unknown cell.
        self.nodes = nodes_of(
            node('a', 0, used=5), node('b', 0, used=1),
            node('c', 1, used=3), node('d', 2, used=1),
            node('e', 2, used=10), node('x', None, used=0))

    def cells(self, multiplier, amount=1):
        return [(cell, n.key) for cell, n in load.ranked_cells(
            self.nodes, amount, multiplier)]

    def test_spread_least_loaded_first(self):
        # b and d tie: the key breaks it, the same in every worker.
        self.assertEqual([(0, 'b'), (2, 'd'), (1, 'c')], self.cells(10.0))
        # Zero: as spreading.
        self.assertEqual(self.cells(10.0), self.cells(0))

    def test_pack_most_loaded_with_room_first(self):
        # e is full; x has no cell but is the idlest: never ranked.
        self.assertEqual([(0, 'a'), (1, 'c'), (2, 'd')], self.cells(-0.5))
        self.assertEqual('a', load.preferred_node(self.nodes, 1, -1).key)

    def test_amount(self):
        self.assertEqual([(0, 'b'), (2, 'd'), (1, 'c')], self.cells(1, 7))
        self.assertEqual([(0, 'b'), (2, 'd')], self.cells(1, 9))
        self.assertEqual([(0, 'b'), (2, 'd')], self.cells(-1, 9))
        self.assertEqual([], self.cells(1, 11))
        self.assertIsNone(load.preferred_node(self.nodes, 11, 1.0))

    def test_preferred_node_of_a_cell(self):
        self.assertEqual('b', load.preferred_node(self.nodes, 1, 1.0, 0).key)
        self.assertEqual('a', load.preferred_node(self.nodes, 1, -1, 0).key)
        self.assertEqual('d', load.preferred_node(self.nodes, 1, -1, 2).key)
        self.assertIsNone(load.preferred_node(self.nodes, 1, 1.0, 3))

    def test_any_cell_includes_unknown_cells(self):
        """A split claim may use a node of unknown cell; a pin may not."""
        self.assertEqual('x', load.preferred_node(self.nodes, 1, 1.0).key)
        self.assertNotIn(None, [cell for cell, _ in self.cells(1.0)])

    def test_utilisation_counts(self):
        self.conf.config(utilization_weight=1.0, group='gpu_numa')
        nodes = nodes_of(node('a', 0, used=0, load_=90),
                         node('b', 1, used=5, load_=10))
        self.assertEqual([1, 0], [cell for cell, _ in load.ranked_cells(
            nodes, 1, 1.0)])
        self.assertEqual([0, 1], [cell for cell, _ in load.ranked_cells(
            nodes, 1, -1.0)])


class MultiplierTestCase(ViewTestCase):

    def host(self, *metadata):
        return types.SimpleNamespace(aggregates=[
            objects.Aggregate(id=i, name='agg%d' % i, metadata=md)
            for i, md in enumerate(metadata)])

    def test_config_without_aggregate_key(self):
        self.conf.config(weight_multiplier=3.0, group='gpu_numa')
        self.assertEqual(3.0, load.multiplier(self.host()))
        self.assertEqual(3.0, load.multiplier(self.host({'other': '1'})))

    def test_aggregate_overrides_config(self):
        self.conf.config(weight_multiplier=3.0, group='gpu_numa')
        key = names.WEIGHT_MULTIPLIER_AGGREGATE_KEY
        self.assertEqual(-2.5, load.multiplier(self.host({key: '-2.5'})))
        # Several aggregates: Nova takes the smallest value.
        self.assertEqual(-1.0, load.multiplier(
            self.host({key: '4'}, {key: '-1'})))

    def test_garbage_in_aggregate_falls_back_to_config(self):
        log = self.useFixture(fixtures.FakeLogger(level=logging.WARNING))
        self.conf.config(weight_multiplier=3.0, group='gpu_numa')
        key = names.WEIGHT_MULTIPLIER_AGGREGATE_KEY
        self.assertEqual(3.0, load.multiplier(self.host({key: 'pack'})))
        self.assertIn(key, log.output)


class RenderSlotsRequestedTestCase(testtools.TestCase):

    def spec(self, extra_specs):
        return objects.RequestSpec(flavor=objects.Flavor(
            name='phone', vcpus=1, memory_mb=512, extra_specs=extra_specs))

    def test_unsuffixed(self):
        self.assertEqual(1, request.render_slots_requested(
            self.spec({'resources:%s' % RC: '1'})))

    def test_numbered_and_named_groups_add_up(self):
        self.assertEqual(6, request.render_slots_requested(self.spec({
            'resources:%s' % RC: '1',
            'resources1:%s' % RC: '2',
            'resources_gpu-a:%s' % RC: '3',
        })))

    def test_other_keys_ignored(self):
        self.assertEqual(0, request.render_slots_requested(self.spec({
            'hw:numa_nodes': '1',
            'resources:VCPU': '4',
            'resources:%s_X' % RC: '1',
            'resources0:%s' % RC: '1',
            'resources-1:%s' % RC: '1',
            'trait:%s' % RC: 'required',
            'xresources:%s' % RC: '1',
        })))

    def test_garbage_values_ignored(self):
        self.assertEqual(2, request.render_slots_requested(self.spec({
            'resources:%s' % RC: 'two',
            'resources1:%s' % RC: '',
            'resources2:%s' % RC: '2',
        })))

    def test_no_extra_specs_or_flavor(self):
        self.assertEqual(0, request.render_slots_requested(self.spec({})))
        self.assertEqual(0, request.render_slots_requested(
            types.SimpleNamespace(flavor=None)))
        self.assertEqual(0, request.render_slots_requested(
            types.SimpleNamespace(flavor=types.SimpleNamespace(
                extra_specs=None))))

    def test_render_providers_of_candidate(self):
        self.assertEqual({uuids.root: 2}, request.render_providers(
            candidate(uuids.root, slots=2)))
        self.assertEqual({}, request.render_providers(
            candidate(uuids.root, slots=0)))
