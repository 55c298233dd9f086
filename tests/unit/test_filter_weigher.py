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
from oslo_serialization import jsonutils
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


def host_state(name='host1', cells=4, usage=None, gpus=None,
               candidates=True):
    """A host whose cells carry their tokens, as the scheduler sees it.

    :param usage: {cell: (cpu_usage, memory_usage)}
    :param gpus: the render nodes nova-compute published in the compute
        node's stats: (key, cell[, used[, slots[, load]]])
    :param candidates: whether Placement gave the host a candidate (its
        render slots are on the compute node provider itself)
    """
    usage = usage or {}
    state = host_manager.HostState(name, name, uuids.cell)
    state.uuid = getattr(uuids, name)
    state.cpu_allocation_ratio = 4.0
    state.ram_allocation_ratio = 1.0
    state.numa_topology = cell_limits.add_cell_tokens(objects.NUMATopology(
        cells=[host_cell(i, *usage.get(i, (0, 0))) for i in range(cells)]))
    state.stats = {'num_instances': '0'}
    if gpus is not None:
        state.stats[names.RENDER_NODES_STAT] = published(gpus)
    state.allocation_candidates = [candidate(state.uuid)] if candidates \
        else []
    return state


def published(gpus):
    """The JSON nova-compute publishes (render_usage.dumps)."""
    nodes = {}
    for gpu in gpus:
        key, cell, used, slots, load = (
            tuple(gpu) + (None, None, 0, 10, None)[len(gpu):])
        nodes[key] = {'cell': cell, 'slots': slots, 'used': used,
                      'load': load, 'devnode': '/dev/dri/%s' % key}
    return jsonutils.dumps(nodes)


def candidate(root, slots=1):
    return {'allocations': {root: {'resources': {
        'VCPU': 1, 'MEMORY_MB': 512, RC: slots}}},
        'mappings': {'': [root]}}


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
        self.set_view()

    def set_view(self):
        """A new request's view (what get_allocation_candidates starts)."""
        self.view = provider_view.ProviderView('req-1')
        self.local.view = self.view
        return self.view

    def chosen(self, state):
        """The render node the filter chose for the guest on a host."""
        return self.view.chosen.get(state.uuid)

    def pinned_physnets(self, state):
        return state.limits['numa_topology'].network_metadata.physnets

    def cell_tokens(self, physnets):
        return {p for p in physnets if names.is_cell_token(p)}

    def pins(self, state):
        return {p for p in self.pinned_physnets(state)
                if names.is_pin_token(p)}

    def errors(self):
        return self.lines('ERROR')

    def lines(self, level):
        return [line for line in self.log.output.splitlines()
                if line.startswith(level)]


class FilterTestCase(PluginTestCase):

    def four_gpus(self, used=(0, 0, 0, 0), **kwargs):
        return host_state(gpus=[('gpu%d' % i, i, u)
                                for i, u in enumerate(used)], **kwargs)

    def test_non_render_request_untouched(self):
        state = self.four_gpus()
        self.local.view = None
        candidates = state.allocation_candidates
        self.assertTrue(self.filter.host_passes(state, spec(slots=0)))
        self.assertIs(candidates, state.allocation_candidates)
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
        hosts = [host_state('host%d' % i, gpus=[('gpu0', 0)])
                 for i in range(3)]
        self.assertEqual([], self.filter.filter_all(
            hosts, spec(numa_nodes=0, policy=names.POLICY_PREFERRED)))
        # One ERROR per request, not one per host.
        errors = self.errors()
        self.assertEqual(1, len(errors), errors)
        self.assertIn('set hw:numa_nodes (1 or more)', errors[0])
        self.assertNotIn('hw:numa_nodes=1', errors[0])

    def test_two_cell_guest_gets_render_cell_among_its_cells(self):
        """Nova's spreading would pick cells 0 and 1; the GPU is on 2."""
        state = host_state(gpus=[('gpu2', 2)])
        guest = spec(vcpus=2, memory_mb=1024, numa_nodes=2)
        self.assertTrue(self.filter.host_passes(state, guest))
        self.assertEqual([], self.errors())
        self.assertEqual('gpu2', self.chosen(state))
        self.assertEqual({names.cell_token(2)}, self.pins(state))
        fitted = hardware.numa_fit_instance_to_host(
            state.numa_topology, guest.numa_topology, provider_mapping=None,
            limits=state.limits['numa_topology'])
        self.assertIn(2, [cell.id for cell in fitted.cells])
        unpinned = hardware.numa_fit_instance_to_host(
            state.numa_topology, guest.numa_topology, provider_mapping=None)
        self.assertNotIn(2, [cell.id for cell in unpinned.cells])

    def test_two_cell_guest_whose_half_does_not_fit_the_gpu_cell(self):
        """The other cells fit the guest; the render node's cannot."""
        state = host_state(usage={2: (0, CELL_MEMORY_MB - 256)},
                           gpus=[('gpu2', 2)])
        self.assertFalse(self.filter.host_passes(
            state, spec(vcpus=2, memory_mb=1024, numa_nodes=2)))
        self.assertEqual([], state.allocation_candidates)
        self.assertIsNone(self.chosen(state))

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
        self.assertIn('No scheduling request is being followed', errors[0])

    def test_host_without_published_render_nodes_rejected(self):
        """An older nova-compute, or no render node at all."""
        state = host_state(gpus=None)
        self.assertFalse(self.filter.host_passes(state, spec()))
        self.assertEqual([], state.allocation_candidates)
        state = host_state(gpus=[])
        self.assertFalse(self.filter.host_passes(state, spec()))

    def test_unreadable_render_nodes_rejected_with_warning(self):
        state = host_state()
        state.stats[names.RENDER_NODES_STAT] = '{"gpu0": {"cell": 0,'
        self.assertFalse(self.filter.host_passes(state, spec()))
        warning, = self.lines('WARNING')
        self.assertIn('Unreadable %s' % names.RENDER_NODES_STAT, warning)

    def test_cells_that_cannot_co_locate_skipped(self):
        # cell 0: no RAM left; cell 1: no vCPU left (4 CPUs x 4.0);
        # cell 2: GPU full; cell 3: fits. Plus a GPU of unknown cell.
        state = host_state(
            usage={0: (0, CELL_MEMORY_MB - 256), 1: (CELL_CPUS * 4, 0)},
            gpus=[('gpu0', 0), ('gpu1', 1), ('full', 2, 10),
                  ('nocell', None), ('gpu3', 3, 9)])
        self.assertTrue(self.filter.host_passes(state, spec()))
        self.assertEqual('gpu3', self.chosen(state))
        self.assertEqual({names.cell_token(3)}, self.pins(state))
        self.assertEqual([candidate(state.uuid)],
                         state.allocation_candidates)

    def test_the_same_host_fits_a_smaller_guest_on_cell_0(self):
        """Control of the test above: cell 0 is dropped for its RAM only."""
        state = host_state(usage={0: (0, CELL_MEMORY_MB - 256)},
                           gpus=[('gpu0', 0)])
        self.assertTrue(self.filter.host_passes(state, spec(memory_mb=256)))
        self.assertEqual('gpu0', self.chosen(state))
        self.assertFalse(self.filter.host_passes(
            host_state('host2', usage={0: (0, CELL_MEMORY_MB - 256)},
                       gpus=[('gpu0', 0)]),
            spec(memory_mb=512)))

    def test_nothing_co_locatable_rejects_host(self):
        state = host_state(usage={0: (0, CELL_MEMORY_MB)},
                           gpus=[('gpu0', 0), ('gpu1', 1, 10)])
        self.assertFalse(self.filter.host_passes(state, spec()))
        self.assertEqual([], state.allocation_candidates)
        self.assertNotIn('numa_topology', state.limits)
        self.assertIsNone(self.chosen(state))

    def test_least_loaded_first_and_limits_pinned_to_it(self):
        state = self.four_gpus(used=(5, 1, 3, 1))
        self.assertTrue(self.filter.host_passes(state, spec()))
        # gpu1 and gpu3 tie: the key decides, in every worker alike.
        self.assertEqual('gpu1', self.chosen(state))
        self.assertEqual({names.cell_token(1)}, self.pins(state))
        limits = state.limits['numa_topology']
        self.assertEqual(4.0, limits.cpu_allocation_ratio)
        self.assertEqual(1.0, limits.ram_allocation_ratio)
        self.assertFalse(cell_limits.is_packing(limits))

    def test_best_cell_that_fits_not_the_best_node(self):
        state = self.four_gpus(used=(5, 1, 3, 1),
                               usage={1: (0, CELL_MEMORY_MB),
                                      3: (0, CELL_MEMORY_MB)})
        self.assertTrue(self.filter.host_passes(state, spec()))
        self.assertEqual('gpu2', self.chosen(state))
        self.assertEqual({names.cell_token(2)}, self.pins(state))

    def test_utilisation_published_by_the_compute_counts(self):
        self.conf.config(utilization_weight=1.0, group='gpu_numa')
        state = host_state(gpus=[('gpu0', 0, 0, 10, 90),
                                 ('gpu1', 1, 5, 10, 10)])
        self.assertTrue(self.filter.host_passes(state, spec()))
        self.assertEqual('gpu1', self.chosen(state))

    def test_negative_multiplier_most_loaded_first(self):
        self.conf.config(weight_multiplier=-2.0, group='gpu_numa')
        state = self.four_gpus(used=(5, 1, 3, 10))
        self.assertTrue(self.filter.host_passes(state, spec()))
        # gpu3 is full: the busiest GPU with a free slot is chosen.
        self.assertEqual('gpu0', self.chosen(state))
        self.assertEqual({names.cell_token(0)}, self.pins(state))
        # The claim is told to pack too.
        self.assertIn(names.PACK_TOKEN, self.pinned_physnets(state))
        self.assertTrue(cell_limits.is_packing(
            state.limits['numa_topology']))

    def test_aggregate_multiplier_overrides_config(self):
        state = self.four_gpus(used=(5, 1, 3, 1))
        state.aggregates = [objects.Aggregate(
            id=1, name='pack', metadata={
                names.WEIGHT_MULTIPLIER_AGGREGATE_KEY: '-1'})]
        self.assertTrue(self.filter.host_passes(state, spec()))
        self.assertEqual('gpu0', self.chosen(state))
        self.assertTrue(cell_limits.is_packing(
            state.limits['numa_topology']))

    def test_real_physnets_kept_and_stale_tokens_replaced(self):
        """NUMATopologyFilter's limits (and an earlier pass's tokens)."""
        state = self.four_gpus(used=(5, 1, 3, 1))
        state.limits['numa_topology'] = objects.NUMATopologyLimits(
            cpu_allocation_ratio=4.0, ram_allocation_ratio=1.0,
            network_metadata=objects.NetworkMetadata(
                physnets={'physnet-a', names.cell_token(2),
                           names.PACK_TOKEN}, tunneled=True))
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

    def test_multi_create_sees_its_earlier_claims(self):
        """The scheduler's claims of this request count on the chosen node."""
        state = host_state(gpus=[('gpu0', 0, 8), ('gpu1', 1, 8)])
        picks = []
        for _ in range(4):
            if not self.filter.host_passes(state, spec()):
                break
            picks.append(self.chosen(state))
            self.view.record_claim(state.allocation_candidates[0])
        self.assertEqual(['gpu0', 'gpu1', 'gpu0', 'gpu1'], picks)
        self.assertFalse(self.filter.host_passes(state, spec()))


class AffinityPolicyTestCase(PluginTestCase):
    """filter_all: co-locate when any host can, else split if preferred."""

    PREFERRED = names.POLICY_PREFERRED

    def full_gpu_cell(self, name='host1', gpus=(('gpu1', 1),)):
        """A host whose GPU cell (1) has no RAM left; cells 0, 2, 3 fit."""
        return host_state(name, usage={1: (0, CELL_MEMORY_MB)},
                          gpus=list(gpus))

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
        state = self.full_gpu_cell(gpus=(('gpu0', 1, 6), ('gpu1', 1, 0)))
        candidates = state.allocation_candidates
        self.assertEqual([state], self.filter.filter_all(
            [state], spec(policy=self.PREFERRED)))
        # Least loaded GPU, candidates restored, claim limits unpinned.
        self.assertEqual('gpu1', self.chosen(state))
        self.assertEqual(candidates, state.allocation_candidates)
        limits = state.limits['numa_topology']
        self.assertEqual(set(), self.pins(state))
        self.assertFalse(cell_limits.is_packing(limits))
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

    def test_preferred_split_packs_when_packing(self):
        self.conf.config(weight_multiplier=-1.0, group='gpu_numa')
        state = self.full_gpu_cell(gpus=(('gpu0', 1, 6), ('gpu1', 1, 0)))
        self.assertEqual([state], self.filter.filter_all(
            [state], spec(policy=self.PREFERRED)))
        self.assertEqual('gpu0', self.chosen(state))
        self.assertEqual({names.PACK_TOKEN}, self.pinned_physnets(state))

    def test_one_split_warning_per_request(self):
        """A large fleet must not log a WARNING per host."""
        hosts = [self.full_gpu_cell('host%02d' % i) for i in range(12)]
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
        split = self.full_gpu_cell('hostB', gpus=(('b1', 1, 0),))
        colocating = host_state('hostA', gpus=[('a1', 1, 9)])
        passed = self.filter.filter_all([split, colocating],
                                        spec(policy=self.PREFERRED))
        self.assertEqual([colocating], passed)
        self.assertEqual({names.cell_token(1)}, self.pins(colocating))
        self.assertEqual([], self.lines('WARNING'))
        weighed = weights.HostWeightHandler().get_weighed_objects(
            [self.weigher], passed, spec(policy=self.PREFERRED))
        self.assertEqual(['hostA'], [w.obj.host for w in weighed])

    def test_weigher_would_prefer_the_idle_split_host(self):
        """Why the filter must decide: by load alone hostB would win."""
        split = self.full_gpu_cell('hostB', gpus=(('b1', 1, 0),))
        colocating = host_state('hostA', gpus=[('a1', 1, 9)])
        self.assertTrue(self.filter.host_passes(colocating, spec()))
        self.assertTrue(self.filter._split_passes(
            split, spec(policy=self.PREFERRED)))
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
        state = host_state(
            usage={cell: (0, CELL_MEMORY_MB) for cell in range(4)},
            gpus=[('gpu1', 1)])
        self.assertEqual([], self.filter.filter_all(
            [state], spec(policy=self.PREFERRED)))
        self.assertEqual([], state.allocation_candidates)
        self.assertIsNone(self.chosen(state))
        self.assertEqual([], self.lines('WARNING'))

    def test_preferred_split_needs_a_free_slot(self):
        state = self.full_gpu_cell(gpus=(('gpu1', 1, 10),))
        self.assertEqual([], self.filter.filter_all(
            [state], spec(policy=self.PREFERRED)))
        self.assertIsNone(self.chosen(state))

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
        self.assertEqual({}, self.view.chosen)

    def test_filter_handler_runs_filter_all(self):
        """Nova's handler calls filter_all with the whole host list."""
        split = self.full_gpu_cell('hostB', gpus=(('b1', 1),))
        colocating = host_state('hostA', gpus=[('a1', 1, 9)])
        passed = nova_filters.HostFilterHandler().get_filtered_objects(
            [self.filter], [split, colocating], spec(policy=self.PREFERRED))
        self.assertEqual(['hostA'], [h.host for h in passed])
        passed = nova_filters.HostFilterHandler().get_filtered_objects(
            [self.filter], [self.full_gpu_cell('hostC', gpus=(('c1', 1),))],
            spec(policy=self.PREFERRED))
        self.assertEqual(['hostC'], [h.host for h in passed])


class WeigherTestCase(PluginTestCase):

    def test_non_render_request_weighs_zero(self):
        state = host_state(gpus=[('gpu0', 0, 3)])
        self.assertTrue(self.filter.host_passes(state, spec()))
        self.assertEqual(0.0, self.weigher._weigh_object(
            state, spec(slots=0)))

    def test_no_view_or_no_chosen_node_weighs_zero(self):
        state = host_state(gpus=[('gpu0', 0, 3)])
        self.assertEqual(0.0, self.weigher._weigh_object(state, spec()))
        self.local.view = None
        self.assertEqual(0.0, self.weigher._weigh_object(state, spec()))

    def test_weight_is_one_minus_the_chosen_nodes_load(self):
        state = host_state(gpus=[('gpu0', 0, 3), ('gpu1', 1, 6)])
        self.assertTrue(self.filter.host_passes(state, spec()))
        self.assertAlmostEqual(0.7, self.weigher._weigh_object(
            state, spec()))
        # The claims of this request count too.
        self.view.record_claim(state.allocation_candidates[0])
        self.assertAlmostEqual(0.6, self.weigher._weigh_object(
            state, spec()))

    def test_weight_blends_the_published_utilisation(self):
        self.conf.config(utilization_weight=0.5, group='gpu_numa')
        state = host_state(gpus=[('gpu0', 0, 2, 10, 60)])
        self.assertTrue(self.filter.host_passes(state, spec()))
        self.assertAlmostEqual(0.6, self.weigher._weigh_object(
            state, spec()))

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
        hosts = [host_state('hostA', gpus=[('a0', 0, 4), ('a1', 1, 9)]),
                 host_state('hostB', gpus=[('b0', 0, 3), ('b1', 1, 8)])]
        for state in hosts:
            self.assertTrue(self.filter.host_passes(state, spec()))
        weighed = weights.HostWeightHandler().get_weighed_objects(
            [self.weigher], hosts, spec())
        return [(w.obj.host, self.chosen(w.obj)) for w in weighed]

    def test_spread_prefers_host_with_least_loaded_gpu(self):
        self.assertEqual([('hostB', 'b0'), ('hostA', 'a0')], self.rank())

    def test_pack_prefers_host_with_busiest_gpu_with_room(self):
        self.conf.config(weight_multiplier=-1.0, group='gpu_numa')
        self.assertEqual([('hostA', 'a1'), ('hostB', 'b1')], self.rank())
