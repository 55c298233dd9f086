"""Tests of the scheduler's per-request provider view, load and request."""

import logging
import threading
import types

import fixtures
from nova import objects
from nova.scheduler.client import report
from oslo_config import fixture as config_fixture
from oslo_utils.fixture import uuidsentinel as uuids
import testtools

from nova_gpu_numa_sched import conf
from nova_gpu_numa_sched import names
from nova_gpu_numa_sched.scheduler import load
from nova_gpu_numa_sched.scheduler import provider_view
from nova_gpu_numa_sched.scheduler import request

objects.register_all()

RC = names.RESOURCE_CLASS


def render_summary(capacity=10, used=0, cell=None, bucket=None,
                   extra_traits=()):
    traits = list(extra_traits) + ['COMPUTE_STATUS_ENABLED']
    if cell is not None:
        traits.append(names.numa_trait(cell))
    if bucket is not None:
        traits.append(names.load_trait(bucket))
    return {'resources': {RC: {'capacity': capacity, 'used': used}},
            'traits': traits}


def root_summary():
    return {'resources': {'VCPU': {'capacity': 16, 'used': 2},
                          'MEMORY_MB': {'capacity': 8192, 'used': 512}},
            'traits': ['HW_CPU_X86_AVX2', names.numa_trait(0)]}


def candidate(*render_rps, root=uuids.root, slots=1):
    allocations = {root: {'resources': {'VCPU': 1, 'MEMORY_MB': 512}}}
    for rp_uuid in render_rps:
        allocations[rp_uuid] = {'resources': {RC: slots}}
    return {'allocations': allocations,
            'mappings': {'': [root] + list(render_rps)}}


def view_of(**providers):
    """A view holding render providers given as name=RenderProvider."""
    view = provider_view.ProviderView('req-1')
    for name, provider in providers.items():
        view.providers[getattr(uuids, name)] = provider
    return view


def provider(name, used=0, capacity=10, utilization=None, cell=0):
    return provider_view.RenderProvider(
        uuid=getattr(uuids, name), cell=cell, capacity=capacity, used=used,
        utilization=utilization)


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


class SummariesTestCase(ViewTestCase):

    def test_render_providers_kept_with_cell_and_bucket(self):
        view = provider_view.ProviderView('req-1')
        view.add_summaries({
            uuids.root: root_summary(),
            uuids.gpu0: render_summary(capacity=8, used=3, cell=1,
                                       bucket=40),
            uuids.gpu1: render_summary(capacity=10, used=0, cell=3),
        })
        self.assertEqual({uuids.gpu0, uuids.gpu1}, set(view.providers))
        self.assertIsNone(view.get(uuids.root))
        gpu0 = view.get(uuids.gpu0)
        self.assertEqual((1, 8, 3, 5, 40),
                         (gpu0.cell, gpu0.capacity, gpu0.used, gpu0.free,
                          gpu0.utilization))
        gpu1 = view.get(uuids.gpu1)
        self.assertEqual((3, 10, 0, None),
                         (gpu1.cell, gpu1.capacity, gpu1.used,
                          gpu1.utilization))

    def test_provider_without_traits_has_unknown_cell_and_load(self):
        view = provider_view.ProviderView('req-1')
        view.add_summaries({uuids.gpu0: {
            'resources': {RC: {'capacity': 4, 'used': 1}}}})
        gpu0 = view.get(uuids.gpu0)
        self.assertIsNone(gpu0.cell)
        self.assertIsNone(gpu0.utilization)
        self.assertEqual(3, gpu0.free)

    def test_malformed_traits_are_not_cells_or_buckets(self):
        view = provider_view.ProviderView('req-1')
        view.add_summaries({uuids.gpu0: render_summary(extra_traits=[
            names.NUMA_TRAIT_PREFIX + 'X', names.LOAD_TRAIT_PREFIX + 'HIGH'])})
        self.assertIsNone(view.get(uuids.gpu0).cell)
        self.assertIsNone(view.get(uuids.gpu0).utilization)

    def test_no_summaries(self):
        view = provider_view.ProviderView('req-1')
        view.add_summaries(None)
        view.add_summaries({})
        self.assertEqual({}, view.providers)

    def test_record_claim_counts_render_slots_only(self):
        view = provider_view.ProviderView('req-1')
        view.add_summaries({uuids.root: root_summary(),
                            uuids.gpu0: render_summary(used=2, cell=0),
                            uuids.gpu1: render_summary(used=2, cell=1)})
        view.record_claim(candidate(uuids.gpu0, slots=2))
        view.record_claim(candidate(uuids.gpu0))
        # A provider the view never saw is ignored, not added.
        view.record_claim(candidate(uuids.elsewhere))
        self.assertEqual(5, view.get(uuids.gpu0).used)
        self.assertEqual(5, view.get(uuids.gpu0).free)
        self.assertEqual(2, view.get(uuids.gpu1).used)
        self.assertIsNone(view.get(uuids.root))
        self.assertIsNone(view.get(uuids.elsewhere))


class FakeReportClient:
    """Stands in for SchedulerReportClient: canned answers, recorded calls."""

    def __init__(self, summaries=None, claim_ok=True):
        self.summaries = summaries
        self.claim_ok = claim_ok
        self.calls = []

    def get_allocation_candidates(self, context, resources):
        self.calls.append(('get', context.request_id, resources))
        if self.summaries is None:
            return None, None, None
        return ['alloc-reqs'], self.summaries, '1.36'

    def claim_resources(self, context, consumer_uuid, alloc_request,
                        project_id, user_id, allocation_request_version,
                        consumer_generation=None):
        self.calls.append(('claim', consumer_uuid))
        return self.claim_ok


class WrapTestCase(ViewTestCase):
    """install() wraps a report client class; fed by its two methods."""

    def setUp(self):
        super().setUp()

        class Client(FakeReportClient):
            pass

        self.client_class = Client
        self.useFixture(fixtures.MonkeyPatch(
            'nova.scheduler.client.report.SchedulerReportClient', Client))
        provider_view.install()

    def query(self, request_id, summaries):
        client = self.client_class(summaries)
        return client.get_allocation_candidates(context(request_id), 'res')

    def claim(self, request_id, alloc_request, ok=True):
        client = self.client_class(claim_ok=ok)
        return client.claim_resources(context(request_id), uuids.instance,
                                      alloc_request, 'project', 'user',
                                      '1.36')

    def test_results_pass_through(self):
        summaries = {uuids.gpu0: render_summary(cell=0)}
        self.assertEqual((['alloc-reqs'], summaries, '1.36'),
                         self.query('req-1', summaries))
        self.assertTrue(self.claim('req-1', candidate(uuids.gpu0)))
        self.assertFalse(self.claim('req-1', candidate(uuids.gpu0), ok=False))

    def test_new_request_replaces_view(self):
        self.assertIsNone(provider_view.current())
        self.query('req-1', {uuids.gpu0: render_summary(cell=0)})
        first = provider_view.current()
        self.assertEqual('req-1', first.request_id)
        self.assertEqual({uuids.gpu0}, set(first.providers))
        self.query('req-2', {uuids.gpu1: render_summary(cell=1)})
        second = provider_view.current()
        self.assertIsNot(first, second)
        self.assertEqual('req-2', second.request_id)
        self.assertEqual({uuids.gpu1}, set(second.providers))

    def test_same_request_merges(self):
        """Nova's second query of one request (PCPU fallback) adds up."""
        self.query('req-1', {uuids.gpu0: render_summary(cell=0)})
        first = provider_view.current()
        self.query('req-1', {uuids.gpu1: render_summary(cell=1)})
        self.assertIs(first, provider_view.current())
        self.assertEqual({uuids.gpu0, uuids.gpu1}, set(first.providers))

    def test_request_without_id_never_merges(self):
        self.query(None, {uuids.gpu0: render_summary(cell=0)})
        first = provider_view.current()
        self.query(None, {uuids.gpu1: render_summary(cell=1)})
        self.assertIsNot(first, provider_view.current())
        self.assertEqual({uuids.gpu1},
                         set(provider_view.current().providers))

    def test_failed_query_leaves_an_empty_view(self):
        self.query('req-1', {uuids.gpu0: render_summary(cell=0)})
        self.assertEqual((None, None, None), self.query('req-2', None))
        view = provider_view.current()
        self.assertEqual('req-2', view.request_id)
        self.assertEqual({}, view.providers)

    def test_successful_claim_of_same_request_is_counted(self):
        self.query('req-1', {uuids.gpu0: render_summary(used=1, cell=0)})
        self.claim('req-1', candidate(uuids.gpu0))
        self.assertEqual(2, provider_view.current().get(uuids.gpu0).used)

    def test_failed_claim_is_not_counted(self):
        self.query('req-1', {uuids.gpu0: render_summary(used=1, cell=0)})
        self.claim('req-1', candidate(uuids.gpu0), ok=False)
        self.assertEqual(1, provider_view.current().get(uuids.gpu0).used)

    def test_claim_of_another_request_is_not_counted(self):
        self.query('req-1', {uuids.gpu0: render_summary(used=1, cell=0)})
        self.claim('req-2', candidate(uuids.gpu0))
        self.assertEqual(1, provider_view.current().get(uuids.gpu0).used)

    def test_claim_without_view(self):
        self.assertTrue(self.claim('req-1', candidate(uuids.gpu0)))
        self.assertIsNone(provider_view.current())

    def test_view_is_per_thread(self):
        self.query('req-1', {uuids.gpu0: render_summary(cell=0)})
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

    def test_slots_only_when_utilisation_unknown(self):
        self.assertAlmostEqual(0.2, provider('a', used=2).load(0.5))
        self.assertAlmostEqual(0.2, provider('a', used=2).load(1.0))

    def test_utilisation_weighted(self):
        gpu = provider('a', used=2, utilization=60)
        self.assertAlmostEqual(0.4, gpu.load(0.5))
        self.assertAlmostEqual(0.2, gpu.load(0.0))
        self.assertAlmostEqual(0.6, gpu.load(1.0))
        self.assertAlmostEqual(0.8 * 0.2 + 0.2 * 0.6, gpu.load(0.2))

    def test_no_capacity_is_full(self):
        self.assertEqual(1.0, provider('a', capacity=0).load(0.5))

    def test_candidate_load_uses_configured_weight(self):
        view = view_of(a=provider('a', used=2, utilization=60))
        self.conf.config(utilization_weight=0.5, group='gpu_numa')
        self.assertAlmostEqual(0.4, load.candidate_load(
            view, candidate(uuids.a)))
        self.conf.config(utilization_weight=0.0, group='gpu_numa')
        self.assertAlmostEqual(0.2, load.candidate_load(
            view, candidate(uuids.a)))

    def test_candidate_load_is_the_busiest_provider(self):
        view = view_of(a=provider('a', used=2), b=provider('b', used=7))
        self.assertAlmostEqual(0.7, load.candidate_load(
            view, candidate(uuids.a, uuids.b)))

    def test_unknown_provider_counts_as_full(self):
        view = view_of(a=provider('a', used=2))
        self.assertEqual(1.0, load.candidate_load(
            view, candidate(uuids.unknown)))
        self.assertEqual(1.0, load.candidate_load(view, candidate()))


class OrderCandidatesTestCase(ViewTestCase):

    def setUp(self):
        super().setUp()
        self.view = view_of(a=provider('a', used=5), b=provider('b', used=1),
                            c=provider('c', used=3), d=provider('d', used=1))
        self.candidates = [candidate(getattr(uuids, name))
                           for name in 'abcd']

    def order(self, multiplier):
        ordered = load.order_candidates(self.view, self.candidates,
                                        multiplier)
        by_uuid = {getattr(uuids, name): name for name in 'abcd'}
        return ''.join(by_uuid[next(iter(request.render_providers(c)))]
                       for c in ordered)

    def test_positive_least_loaded_first(self):
        # b and d tie: Placement's order between them is kept.
        self.assertEqual('bdca', self.order(10.0))

    def test_negative_most_loaded_first(self):
        self.assertEqual('acbd', self.order(-0.5))

    def test_zero_keeps_placement_order(self):
        ordered = load.order_candidates(self.view, self.candidates, 0)
        self.assertEqual('abcd', self.order(0))
        self.assertIsNot(self.candidates, ordered)


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
        found = request.render_providers(candidate(uuids.a, uuids.b,
                                                   slots=2))
        self.assertEqual({uuids.a: 2, uuids.b: 2}, found)
        self.assertEqual({}, request.render_providers(candidate()))
