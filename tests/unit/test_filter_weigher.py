"""Tests of GpuNumaAffinityFilter and GpuLoadWeigher on hand-built hosts."""

import logging
import threading

import fixtures
from nova import objects
from nova.scheduler.client import report
from nova.scheduler import filters as nova_filters
from nova.scheduler import host_manager
from nova.scheduler import weights
from nova.virt import hardware
from oslo_config import fixture as config_fixture
from oslo_utils.fixture import uuidsentinel as uuids
import testtools

from nova_gpu_numa_sched import cell_limits
from nova_gpu_numa_sched import conf
from nova_gpu_numa_sched import filters
from nova_gpu_numa_sched import names
from nova_gpu_numa_sched.scheduler import provider_view
from nova_gpu_numa_sched import weights as plugin_weights

objects.register_all()

RC = names.RESOURCE_CLASS
CELL_MEMORY_MB = 4096
CELL_CPUS = 4


def host_cell(cell_id, cpu_usage=0, memory_usage=0):
    first = cell_id * CELL_CPUS
    cpuset = set(range(first, first + CELL_CPUS))
    return objects.NUMACell(
        id=cell_id, cpuset=cpuset, pcpuset=set(), memory=CELL_MEMORY_MB,
        cpu_usage=cpu_usage, memory_usage=memory_usage, pinned_cpus=set(),
        siblings=[{cpu} for cpu in sorted(cpuset)], socket=0,
        mempages=[objects.NUMAPagesTopology(
            size_kb=4, total=CELL_MEMORY_MB * 256, used=0)])


def host_state(name='host1', cells=4, usage=None, gpus=None):
    """A host whose cells carry their tokens, with one candidate per GPU.

    :param usage: {cell: (cpu_usage, memory_usage)}
    :param gpus: provider names of the candidates, in Placement's order
    """
    usage = usage or {}
    state = host_manager.HostState(name, name, uuids.cell)
    state.uuid = getattr(uuids, name)
    state.cpu_allocation_ratio = 4.0
    state.ram_allocation_ratio = 1.0
    state.numa_topology = cell_limits.add_cell_tokens(objects.NUMATopology(
        cells=[host_cell(i, *usage.get(i, (0, 0))) for i in range(cells)]))
    state.allocation_candidates = [
        candidate(state.uuid, *gpu) if isinstance(gpu, tuple) else
        candidate(state.uuid, gpu) for gpu in (gpus or ())]
    return state


def candidate(root, *gpus):
    allocations = {root: {'resources': {'VCPU': 1, 'MEMORY_MB': 512}}}
    for gpu in gpus:
        allocations[getattr(uuids, gpu)] = {'resources': {RC: 1}}
    return {'allocations': allocations,
            'mappings': {'': [root] + [getattr(uuids, g) for g in gpus]}}


def gpus_of(state):
    """Render provider names of a host's candidates, in their order."""
    names_by_uuid = {getattr(uuids, n): n for n in GPU_NAMES}
    return [names_by_uuid[rp] for c in state.allocation_candidates
            for rp, alloc in c['allocations'].items()
            if RC in alloc['resources']]


GPU_NAMES = ['gpu%d' % i for i in range(12)] + [
    'full', 'nocell', 'unknown', 'a0', 'a1', 'b0', 'b1', 'c1']


def spec(slots=1, vcpus=1, memory_mb=512, numa_nodes=1, physnets=None,
         policy=None):
    extra_specs = {}
    if policy is not None:
        extra_specs[names.AFFINITY_POLICY_KEY] = policy
    if numa_nodes:
        extra_specs['hw:numa_nodes'] = str(numa_nodes)
    if slots:
        extra_specs['resources:%s' % RC] = str(slots)
    topology = None
    if numa_nodes:
        per_cell = vcpus // numa_nodes
        topology = objects.InstanceNUMATopology(cells=[
            objects.InstanceNUMACell(
                id=i, cpuset=set(range(i * per_cell, (i + 1) * per_cell)),
                pcpuset=set(), memory=memory_mb // numa_nodes,
                cpu_policy=None)
            for i in range(numa_nodes)])
    spec_obj = objects.RequestSpec(
        flavor=objects.Flavor(name='phone-flavor', vcpus=vcpus,
                              memory_mb=memory_mb, extra_specs=extra_specs),
        numa_topology=topology, instance_uuid=uuids.instance,
        pci_requests=objects.InstancePCIRequests(requests=[]))
    if physnets is not None:
        spec_obj.network_metadata = objects.NetworkMetadata(
            physnets=set(physnets), tunneled=False)
    return spec_obj


def render_provider(name, cell, used=0, capacity=10):
    return provider_view.RenderProvider(
        uuid=getattr(uuids, name), cell=cell, capacity=capacity, used=used)


class PluginTestCase(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.conf = self.useFixture(config_fixture.Config(conf.CONF))
        self.log = self.useFixture(fixtures.FakeLogger(
            level=logging.DEBUG, format='%(levelname)s %(message)s'))
        self.local = threading.local()
        self.useFixture(fixtures.MonkeyPatch(
            'nova_gpu_numa_sched.scheduler.provider_view._local',
            self.local))
        # The filter installs the report client wraps; undo them.
        client = report.SchedulerReportClient
        for name in ('get_allocation_candidates', 'claim_resources'):
            self.addCleanup(setattr, client, name, client.__dict__[name])
        self.filter = filters.GpuNumaAffinityFilter()
        self.weigher = plugin_weights.GpuLoadWeigher()

    def set_view(self, *providers):
        view = provider_view.ProviderView('req-1')
        for provider in providers:
            view.providers[provider.uuid] = provider
        self.local.view = view
        return view

    def pinned_physnets(self, state):
        return state.limits['numa_topology'].network_metadata.physnets

    def cell_tokens(self, physnets):
        return {p for p in physnets if names.is_cell_token(p)}

    def errors(self):
        return self.lines('ERROR')

    def lines(self, level):
        return [line for line in self.log.output.splitlines()
                if line.startswith(level)]


class FilterTestCase(PluginTestCase):

    def four_gpus(self, used=(0, 0, 0, 0)):
        self.set_view(*[render_provider('gpu%d' % i, i, used=u)
                        for i, u in enumerate(used)])
        return host_state(gpus=['gpu%d' % i for i in range(4)])

    def test_non_render_request_untouched(self):
        state = self.four_gpus()
        self.local.view = None
        candidates = state.allocation_candidates
        self.assertTrue(self.filter.host_passes(state, spec(slots=0)))
        self.assertIs(candidates, state.allocation_candidates)
        self.assertEqual(['gpu0', 'gpu1', 'gpu2', 'gpu3'], gpus_of(state))
        self.assertEqual({}, state.limits)

    def test_render_request_without_numa_topology_rejected(self):
        state = self.four_gpus()
        self.assertFalse(self.filter.host_passes(state, spec(numa_nodes=0)))
        errors = self.errors()
        self.assertEqual(1, len(errors), errors)
        self.assertIn('phone-flavor', errors[0])
        self.assertIn('hw:numa_nodes', errors[0])
        self.assertNotIn('numa_topology', state.limits)

    def test_render_request_without_numa_topology_says_one_or_more(self):
        self.four_gpus()
        hosts = [host_state('host%d' % i, gpus=['gpu0']) for i in range(3)]
        self.assertEqual([], self.filter.filter_all(
            hosts, spec(numa_nodes=0, policy=names.POLICY_PREFERRED)))
        # One ERROR per request, not one per host.
        errors = self.errors()
        self.assertEqual(1, len(errors), errors)
        self.assertIn('set hw:numa_nodes (1 or more)', errors[0])
        self.assertNotIn('hw:numa_nodes=1', errors[0])

    def test_two_cell_guest_gets_render_cell_among_its_cells(self):
        """Nova's spreading would pick cells 0 and 1; the GPU is on 2."""
        self.set_view(render_provider('gpu2', 2))
        state = host_state(gpus=['gpu2'])
        guest = spec(vcpus=2, memory_mb=1024, numa_nodes=2)
        self.assertTrue(self.filter.host_passes(state, guest))
        self.assertEqual([], self.errors())
        self.assertEqual({names.cell_token(2)},
                         self.pinned_physnets(state))
        fitted = hardware.numa_fit_instance_to_host(
            state.numa_topology, guest.numa_topology, provider_mapping=None,
            limits=state.limits['numa_topology'])
        self.assertIn(2, [cell.id for cell in fitted.cells])
        unpinned = hardware.numa_fit_instance_to_host(
            state.numa_topology, guest.numa_topology, provider_mapping=None)
        self.assertNotIn(2, [cell.id for cell in unpinned.cells])

    def test_two_cell_guest_whose_half_does_not_fit_the_gpu_cell(self):
        """The other cells fit the guest; the render node's cannot."""
        self.set_view(render_provider('gpu2', 2))
        state = host_state(usage={2: (0, CELL_MEMORY_MB - 256)},
                           gpus=['gpu2'])
        self.assertFalse(self.filter.host_passes(
            state, spec(vcpus=2, memory_mb=1024, numa_nodes=2)))
        self.assertEqual([], state.allocation_candidates)

    def test_host_without_numa_topology_rejected(self):
        state = self.four_gpus()
        state.numa_topology = None
        self.assertFalse(self.filter.host_passes(state, spec()))

    def test_no_view_rejected(self):
        state = self.four_gpus()
        self.local.view = None
        self.assertFalse(self.filter.host_passes(state, spec()))
        errors = self.errors()
        self.assertEqual(1, len(errors), errors)
        self.assertIn('provider summaries', errors[0])

    def test_candidates_that_cannot_co_locate_dropped(self):
        # cell 0: no RAM left; cell 1: no vCPU left (4 CPUs x 4.0);
        # cell 2: GPU full; cell 3: fits. Plus a GPU of unknown cell, one
        # the view never saw and one candidate spanning two cells.
        state = host_state(
            usage={0: (0, CELL_MEMORY_MB - 256), 1: (CELL_CPUS * 4, 0)},
            gpus=['gpu0', 'gpu1', 'full', 'nocell', 'unknown',
                  ('gpu3', 'gpu0'), 'gpu3'])
        self.set_view(render_provider('gpu0', 0),
                      render_provider('gpu1', 1),
                      render_provider('full', 2, used=10),
                      render_provider('nocell', None),
                      render_provider('gpu3', 3))
        self.assertTrue(self.filter.host_passes(state, spec()))
        self.assertEqual(['gpu3'], gpus_of(state))
        self.assertEqual({names.cell_token(3)},
                         self.cell_tokens(self.pinned_physnets(state)))

    def test_the_same_host_fits_a_smaller_guest_on_cell_0(self):
        """Control of the test above: cell 0 is dropped for its RAM only."""
        state = host_state(usage={0: (0, CELL_MEMORY_MB - 256)},
                           gpus=['gpu0'])
        self.set_view(render_provider('gpu0', 0))
        self.assertTrue(self.filter.host_passes(state, spec(memory_mb=256)))
        self.assertFalse(self.filter.host_passes(
            host_state(usage={0: (0, CELL_MEMORY_MB - 256)}, gpus=['gpu0']),
            spec(memory_mb=512)))

    def test_nothing_co_locatable_rejects_host(self):
        state = host_state(usage={0: (0, CELL_MEMORY_MB)}, gpus=['gpu0'])
        self.set_view(render_provider('gpu0', 0))
        self.assertFalse(self.filter.host_passes(state, spec()))
        self.assertEqual([], state.allocation_candidates)
        self.assertNotIn('numa_topology', state.limits)

    def test_least_loaded_first_and_limits_pinned_to_it(self):
        state = self.four_gpus(used=(5, 1, 3, 1))
        self.assertTrue(self.filter.host_passes(state, spec()))
        self.assertEqual(['gpu1', 'gpu3', 'gpu2', 'gpu0'], gpus_of(state))
        self.assertEqual({names.cell_token(1)},
                         self.pinned_physnets(state))
        limits = state.limits['numa_topology']
        self.assertEqual(4.0, limits.cpu_allocation_ratio)
        self.assertEqual(1.0, limits.ram_allocation_ratio)

    def test_negative_multiplier_most_loaded_first(self):
        self.conf.config(weight_multiplier=-2.0, group='gpu_numa')
        state = self.four_gpus(used=(5, 1, 3, 10))
        self.assertTrue(self.filter.host_passes(state, spec()))
        # gpu3 is full: the busiest GPU with a free slot comes first.
        self.assertEqual(['gpu0', 'gpu2', 'gpu1'], gpus_of(state))
        self.assertEqual({names.cell_token(0)},
                         self.pinned_physnets(state))

    def test_aggregate_multiplier_overrides_config(self):
        state = self.four_gpus(used=(5, 1, 3, 1))
        state.aggregates = [objects.Aggregate(
            id=1, name='pack', metadata={
                names.WEIGHT_MULTIPLIER_AGGREGATE_KEY: '-1'})]
        self.assertTrue(self.filter.host_passes(state, spec()))
        self.assertEqual('gpu0', gpus_of(state)[0])

    def test_real_physnets_kept_and_stale_token_replaced(self):
        """NUMATopologyFilter's limits (and an earlier pass's token)."""
        state = self.four_gpus(used=(5, 1, 3, 1))
        state.limits['numa_topology'] = objects.NUMATopologyLimits(
            cpu_allocation_ratio=4.0, ram_allocation_ratio=1.0,
            network_metadata=objects.NetworkMetadata(
                physnets={'physnet-a', names.cell_token(2)}, tunneled=True))
        self.assertTrue(self.filter.host_passes(
            state, spec(physnets=['physnet-a'])))
        self.assertEqual({'physnet-a', names.cell_token(1)},
                         self.pinned_physnets(state))
        self.assertTrue(
            state.limits['numa_topology'].network_metadata.tunneled)

    def test_request_physnets_kept_without_earlier_limits(self):
        state = self.four_gpus(used=(0, 1, 1, 1))
        self.assertTrue(self.filter.host_passes(
            state, spec(physnets=['physnet-a', 'physnet-b'])))
        self.assertEqual({'physnet-a', 'physnet-b', names.cell_token(0)},
                         self.pinned_physnets(state))

    def test_pinned_limits_only_fit_their_cell(self):
        """The limits the filter leaves make Nova's claim pick that cell."""
        state = self.four_gpus(used=(5, 5, 0, 5))
        self.assertTrue(self.filter.host_passes(state, spec()))
        fitted = hardware.numa_fit_instance_to_host(
            state.numa_topology, spec().numa_topology,
            provider_mapping=None, limits=state.limits['numa_topology'])
        self.assertEqual([2], [cell.id for cell in fitted.cells])


class AffinityPolicyTestCase(PluginTestCase):
    """filter_all: co-locate when any host can, else split if preferred."""

    PREFERRED = names.POLICY_PREFERRED

    def full_gpu_cell(self, name='host1', gpus=('gpu1',), used=0):
        """A host whose GPU cell (1) has no RAM left; cells 0, 2, 3 fit."""
        self.view.providers.update({
            getattr(uuids, gpu): render_provider(gpu, 1, used=used)
            for gpu in gpus})
        return host_state(name, usage={1: (0, CELL_MEMORY_MB)},
                          gpus=list(gpus))

    def setUp(self):
        super().setUp()
        self.view = self.set_view()

    def test_required_never_splits(self):
        hosts = [self.full_gpu_cell()]
        for policy in (None, names.POLICY_REQUIRED):
            self.assertEqual([], self.filter.filter_all(
                hosts, spec(policy=policy)))
        self.assertEqual([], self.lines('WARNING'))

    def test_unknown_policy_is_required(self):
        """A value the API never saw (no validation) must not loosen."""
        self.assertEqual([], self.filter.filter_all(
            [self.full_gpu_cell()], spec(policy='Preferred')))
        errors = self.errors()
        self.assertEqual(1, len(errors), errors)
        self.assertIn("'%s' is 'Preferred'" % names.AFFINITY_POLICY_KEY,
                      errors[0])
        self.assertIn('required, preferred', errors[0])

    def test_preferred_splits_when_no_host_co_locates(self):
        state = self.full_gpu_cell(gpus=('gpu0', 'gpu1'), used=0)
        self.view.providers[uuids.gpu0].used = 6
        self.view.providers[uuids.gpu0].cell = 1
        self.assertEqual([state], self.filter.filter_all(
            [state], spec(policy=self.PREFERRED)))
        # Least loaded GPU first, and claim limits not pinned to any cell.
        self.assertEqual(['gpu1', 'gpu0'], gpus_of(state))
        limits = state.limits['numa_topology']
        self.assertNotIn('network_metadata', limits)
        self.assertEqual((4.0, 1.0), (limits.cpu_allocation_ratio,
                                      limits.ram_allocation_ratio))
        fitted = hardware.numa_fit_instance_to_host(
            state.numa_topology, spec().numa_topology,
            provider_mapping=None, limits=limits)
        self.assertNotEqual([1], [cell.id for cell in fitted.cells])
        warnings = self.lines('WARNING')
        self.assertEqual(1, len(warnings), warnings)
        for word in (uuids.instance, 'on host(s): host1 (render node on '
                     'NUMA cell 1)', names.AFFINITY_POLICY_KEY,
                     'no render node with a free slot sits on a cell that '
                     'can also fit the guest'):
            self.assertIn(word, warnings[0])

    def test_one_split_warning_per_request(self):
        """A large fleet must not log a WARNING per host."""
        hosts = [self.full_gpu_cell('host%02d' % i, gpus=('gpu%d' % i,))
                 for i in range(12)]
        self.assertEqual(hosts, self.filter.filter_all(
            hosts, spec(policy=self.PREFERRED)))
        warning, = self.lines('WARNING')
        self.assertIn('host00 (render node on NUMA cell 1), host01', warning)
        self.assertIn('host09 (render node on NUMA cell 1), 2 more.',
                      warning)
        self.assertNotIn('host10', warning)

    def test_preferred_co_locates_when_any_host_can(self):
        """The co-locating host wins alone, however idle the other GPU."""
        self.conf.config(weight_multiplier=10.0, group='gpu_numa')
        split = self.full_gpu_cell('hostB', gpus=('b1',), used=0)
        self.view.providers[uuids.a1] = render_provider('a1', 1, used=9)
        colocating = host_state('hostA', gpus=['a1'])
        passed = self.filter.filter_all([split, colocating],
                                        spec(policy=self.PREFERRED))
        self.assertEqual([colocating], passed)
        self.assertEqual({names.cell_token(1)},
                         self.pinned_physnets(colocating))
        self.assertEqual([], self.lines('WARNING'))
        weighed = weights.HostWeightHandler().get_weighed_objects(
            [self.weigher], passed, spec(policy=self.PREFERRED))
        self.assertEqual(['hostA'], [w.obj.host for w in weighed])

    def test_weigher_would_prefer_the_idle_split_host(self):
        """Why the filter must decide: by load alone hostB would win."""
        split = self.full_gpu_cell('hostB', gpus=('b1',), used=0)
        self.view.providers[uuids.a1] = render_provider('a1', 1, used=9)
        colocating = host_state('hostA', gpus=['a1'])
        weighed = weights.HostWeightHandler().get_weighed_objects(
            [self.weigher], [colocating, split], spec())
        self.assertEqual(['hostB', 'hostA'], [w.obj.host for w in weighed])

    def test_two_cell_guest_splits_only_when_preferred(self):
        """Neither pair of cells with the GPU's cell 1 can hold it."""
        state = self.full_gpu_cell()
        guest = dict(vcpus=2, memory_mb=1024, numa_nodes=2)
        self.assertEqual([], self.filter.filter_all([state], spec(**guest)))
        state = self.full_gpu_cell()
        self.assertEqual([state], self.filter.filter_all(
            [state], spec(policy=self.PREFERRED, **guest)))
        fitted = hardware.numa_fit_instance_to_host(
            state.numa_topology, spec(**guest).numa_topology,
            provider_mapping=None, limits=state.limits['numa_topology'])
        self.assertNotIn(1, [cell.id for cell in fitted.cells])
        self.assertEqual(1, len(self.lines('WARNING')))

    def test_preferred_split_needs_a_fit_somewhere(self):
        """No NUMATopologyFilter needed: the host-wide fit is done here."""
        self.view.providers[uuids.gpu1] = render_provider('gpu1', 1)
        state = host_state(
            usage={cell: (0, CELL_MEMORY_MB) for cell in range(4)},
            gpus=['gpu1'])
        self.assertEqual([], self.filter.filter_all(
            [state], spec(policy=self.PREFERRED)))
        self.assertEqual([], state.allocation_candidates)
        self.assertEqual([], self.lines('WARNING'))

    def test_preferred_split_needs_a_free_slot(self):
        state = self.full_gpu_cell(used=10)
        self.assertEqual([], self.filter.filter_all(
            [state], spec(policy=self.PREFERRED)))

    def test_split_drops_stale_token_keeps_physnets(self):
        """An earlier pass's pin must not confine a split claim."""
        state = self.full_gpu_cell()
        state.limits['numa_topology'] = objects.NUMATopologyLimits(
            cpu_allocation_ratio=2.0, ram_allocation_ratio=1.0,
            network_metadata=objects.NetworkMetadata(
                physnets={'physnet-a', names.cell_token(1)}, tunneled=False))
        self.assertEqual([state], self.filter.filter_all(
            [state], spec(policy=self.PREFERRED)))
        self.assertEqual({'physnet-a'}, self.pinned_physnets(state))
        self.assertEqual(2.0,
                         state.limits['numa_topology'].cpu_allocation_ratio)

    def test_non_render_and_rebuild_requests_pass_untouched(self):
        state = self.full_gpu_cell()
        candidates = state.allocation_candidates
        self.assertEqual([state], self.filter.filter_all(
            [state], spec(slots=0)))
        rebuild = spec()
        rebuild.scheduler_hints = {'_nova_check_type': ['rebuild']}
        self.assertEqual([state], self.filter.filter_all([state], rebuild))
        self.assertIs(candidates, state.allocation_candidates)
        self.assertEqual({}, state.limits)

    def test_filter_handler_runs_filter_all(self):
        """Nova's handler calls filter_all with the whole host list."""
        split = self.full_gpu_cell('hostB', gpus=('b1',))
        self.view.providers[uuids.a1] = render_provider('a1', 1, used=9)
        colocating = host_state('hostA', gpus=['a1'])
        passed = nova_filters.HostFilterHandler().get_filtered_objects(
            [self.filter], [split, colocating], spec(policy=self.PREFERRED))
        self.assertEqual(['hostA'], [h.host for h in passed])
        passed = nova_filters.HostFilterHandler().get_filtered_objects(
            [self.filter], [self.full_gpu_cell('hostC', gpus=('c1',))],
            spec(policy=self.PREFERRED))
        self.assertEqual(['hostC'], [h.host for h in passed])


class WeigherTestCase(PluginTestCase):

    def test_non_render_request_weighs_zero(self):
        self.set_view(render_provider('gpu0', 0, used=3))
        self.assertEqual(0.0, self.weigher._weigh_object(
            host_state(gpus=['gpu0']), spec(slots=0)))

    def test_no_view_or_candidates_weigh_zero(self):
        self.assertEqual(0.0, self.weigher._weigh_object(
            host_state(gpus=['gpu0']), spec()))
        self.set_view(render_provider('gpu0', 0, used=3))
        self.assertEqual(0.0, self.weigher._weigh_object(
            host_state(gpus=[]), spec()))

    def test_weight_is_one_minus_first_candidates_load(self):
        self.set_view(render_provider('gpu0', 0, used=3),
                      render_provider('gpu1', 1, used=0))
        self.assertAlmostEqual(0.7, self.weigher._weigh_object(
            host_state(gpus=['gpu0', 'gpu1']), spec()))

    def test_multiplier_from_config_and_aggregate(self):
        self.conf.config(weight_multiplier=7.0, group='gpu_numa')
        state = host_state()
        self.assertEqual(7.0, self.weigher.weight_multiplier(state))
        state.aggregates = [objects.Aggregate(
            id=1, name='pack', metadata={
                names.WEIGHT_MULTIPLIER_AGGREGATE_KEY: '-3'})]
        self.assertEqual(-3.0, self.weigher.weight_multiplier(state))

    def rank(self):
        """Filter two hosts, then let Nova's handler weigh them."""
        self.set_view(render_provider('a0', 0, used=4),
                      render_provider('a1', 1, used=9),
                      render_provider('b0', 0, used=3),
                      render_provider('b1', 1, used=8))
        hosts = [host_state('hostA', gpus=['a0', 'a1']),
                 host_state('hostB', gpus=['b0', 'b1'])]
        for state in hosts:
            self.assertTrue(self.filter.host_passes(state, spec()))
        weighed = weights.HostWeightHandler().get_weighed_objects(
            [self.weigher], hosts, spec())
        return [(w.obj.host, gpus_of(w.obj)[0]) for w in weighed]

    def test_spread_prefers_host_with_least_loaded_gpu(self):
        self.assertEqual([('hostB', 'b0'), ('hostA', 'a0')], self.rank())

    def test_pack_prefers_host_with_busiest_gpu_with_room(self):
        self.conf.config(weight_multiplier=-1.0, group='gpu_numa')
        self.assertEqual([('hostA', 'a1'), ('hostB', 'b1')], self.rank())
