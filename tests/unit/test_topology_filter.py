"""Tests of GpuNumaTopologyFilter and the memoised one-cell fit."""

import copy
import random
import threading

import fixtures

from nova import objects
from nova.objects import fields
from nova.scheduler.filters import numa_topology_filter
from nova.virt import hardware

from nova_gpu_numa_sched import cell_limits
from nova_gpu_numa_sched import filters
from nova_gpu_numa_sched import names
from nova_gpu_numa_sched.scheduler import cell_fit
from nova_gpu_numa_sched.scheduler import provider_view
from tests.unit import test_filter_weigher as helpers


def with_image(spec_obj, **properties):
    """NUMATopologyFilter reads the image's properties too."""
    spec_obj.image = objects.ImageMeta.from_dict(
        {'properties': properties})
    return spec_obj


def plain_spec(**kwargs):
    return with_image(helpers.spec(slots=0, **kwargs))


def render_spec(**kwargs):
    return with_image(helpers.spec(**kwargs))


def snapshot(states):
    """What a filter decided: hosts, their candidates, their limits."""
    found = {}
    for state in states:
        limits = state.limits.get('numa_topology')
        found[state.host] = (
            copy.deepcopy(state.allocation_candidates),
            None if limits is None else (
                limits.cpu_allocation_ratio, limits.ram_allocation_ratio,
                frozenset(limits.network_metadata.physnets)
                if 'network_metadata' in limits else None))
    return found


class TopologyFilterTestCase(helpers.PluginTestCase):

    def setUp(self):
        super().setUp()
        self.topology_filter = filters.GpuNumaTopologyFilter()
        self.numa_filter = numa_topology_filter.NUMATopologyFilter()

    def hosts(self):
        """Two hosts: GPUs on cells 0 and 2; cell 0 of host1 is full."""
        return [
            helpers.host_state('host1', usage={0: (16, 4096)},
                               gpus=[('gpu0', 0), ('gpu1', 2)]),
            helpers.host_state('host2', gpus=[('gpu2', 0), ('gpu3', 2)]),
        ]

    def run_pair(self, states, spec_obj):
        kept = [s for s in states
                if self.numa_filter.host_passes(s, spec_obj)]
        return list(self.filter.filter_all(kept, spec_obj))


class RequestWithoutRenderSlotTest(TopologyFilterTestCase):
    """Nova's NUMATopologyFilter decides, unchanged."""

    def test_same_hosts_candidates_and_limits_as_nova(self):
        spec_obj = plain_spec(vcpus=2, memory_mb=1024)
        stock_states, plugin_states = self.hosts(), self.hosts()
        stock = [s for s in stock_states
                 if self.numa_filter.host_passes(s, spec_obj)]
        plugin = list(self.topology_filter.filter_all(
            plugin_states, spec_obj))
        self.assertEqual(2, len(plugin))
        self.assertEqual(snapshot(stock), snapshot(plugin))

    def test_host_that_nova_rejects_is_rejected(self):
        spec_obj = plain_spec(vcpus=2, memory_mb=8192)  # > any cell
        self.assertEqual([], list(self.topology_filter.filter_all(
            self.hosts(), spec_obj)))

    def test_nova_host_passes_runs_once_per_host(self):
        """Nova's own tests count NUMATopologyFilter.host_passes calls."""
        calls = []
        original = numa_topology_filter.NUMATopologyFilter.host_passes

        def counting(filter_self, host_state, spec_obj):
            calls.append(host_state.host)
            return original(filter_self, host_state, spec_obj)

        self.useFixture(fixtures.MonkeyPatch(
            'nova.scheduler.filters.numa_topology_filter.'
            'NUMATopologyFilter.host_passes', counting))
        list(self.topology_filter.filter_all(self.hosts(), plain_spec()))
        self.assertEqual(['host1', 'host2'], calls)


class RenderRequestTest(TopologyFilterTestCase):
    """The fit happens once, on GPU cells, with the pair's result."""

    def test_same_result_as_the_pair(self):
        spec_obj = render_spec(vcpus=2, memory_mb=1024)
        pair = self.run_pair(self.hosts(), spec_obj)
        plugin = list(self.topology_filter.filter_all(
            self.hosts(), spec_obj))
        self.assertEqual(snapshot(pair), snapshot(plugin))
        by_host = {s.host: s for s in plugin}
        # host1's cell 0 is full: only its GPU on cell 2 is left.
        self.assertEqual('gpu1', self.chosen(by_host['host1']))
        self.assertEqual('gpu2', self.chosen(by_host['host2']))
        self.assertEqual({names.cell_token(2)}, set(
            by_host['host1'].limits['numa_topology'].network_metadata
            .physnets))

    def test_nova_filter_does_not_fit_render_requests(self):
        calls = []
        self.useFixture(fixtures.MonkeyPatch(
            'nova.scheduler.filters.numa_topology_filter.'
            'NUMATopologyFilter.host_passes',
            lambda *args: calls.append(args) or True))
        kept = list(self.topology_filter.filter_all(
            self.hosts(), render_spec()))
        self.assertEqual(2, len(kept))
        self.assertEqual([], calls)

    def test_limits_of_an_earlier_request_do_not_leak(self):
        states = self.hosts()
        for state in states:
            state.limits['numa_topology'] = objects.NUMATopologyLimits(
                cpu_allocation_ratio=1.0, ram_allocation_ratio=1.0,
                network_metadata=objects.NetworkMetadata(
                    physnets={'stale-physnet'}, tunneled=True))
        kept = list(self.topology_filter.filter_all(states, render_spec()))
        for state in kept:
            limits = state.limits['numa_topology']
            self.assertEqual(4.0, limits.cpu_allocation_ratio)
            self.assertNotIn('stale-physnet',
                             limits.network_metadata.physnets)
            self.assertFalse(limits.network_metadata.tunneled)

    def test_rebuild_passes_every_host(self):
        spec_obj = render_spec(vcpus=2, memory_mb=1024)
        spec_obj.scheduler_hints = {'_nova_check_type': ['rebuild']}
        states = self.hosts()
        self.assertEqual(states, list(self.topology_filter.filter_all(
            states, spec_obj)))
        self.assertFalse(self.topology_filter.RUN_ON_REBUILD)

    def test_require_thread_policy_on_host_without_threads(self):
        spec_obj = render_spec()
        spec_obj.flavor.extra_specs.update({
            'hw:cpu_policy': 'dedicated', 'hw:cpu_thread_policy': 'require'})
        self.assertEqual([], list(self.topology_filter.filter_all(
            self.hosts(), spec_obj)))

    def test_host_passes_alone(self):
        host1, host2 = self.hosts()
        spec_obj = render_spec(vcpus=2, memory_mb=1024)
        self.assertTrue(self.topology_filter.host_passes(host1, spec_obj))
        self.assertEqual('gpu1', self.chosen(host1))
        self.assertTrue(self.topology_filter.host_passes(
            host2, plain_spec()))

    def test_guest_without_numa_topology_is_refused(self):
        spec_obj = render_spec(numa_nodes=0)
        self.assertEqual([], list(self.topology_filter.filter_all(
            self.hosts(), spec_obj)))


class CellFitTest(helpers.PluginTestCase):
    """cell_fit answers as Nova's fit over the whole host, pinned."""

    def nova_answer(self, state, spec_obj, cell_id):
        limits = cell_limits.pinned_numa_limits(
            None, cell_id, state.cpu_allocation_ratio,
            state.ram_allocation_ratio,
            spec_obj.network_metadata
            if 'network_metadata' in spec_obj else None)
        return hardware.numa_fit_instance_to_host(
            state.numa_topology, spec_obj.numa_topology.obj_clone(),
            limits=limits, provider_mapping={}) is not None

    def test_same_answers_as_nova_on_random_cells(self):
        self.set_view()
        rng = random.Random(7)
        for _ in range(200):
            usage = {cell: (rng.randint(0, 20), rng.randint(0, 4096))
                     for cell in range(4)}
            state = helpers.host_state(usage=usage)
            spec_obj = render_spec(vcpus=rng.choice((1, 2, 4, 8)),
                                   memory_mb=rng.choice((256, 1024, 2048)))
            for cell_id in range(4):
                self.assertEqual(
                    self.nova_answer(state, spec_obj, cell_id),
                    cell_fit.fits(state, spec_obj, cell_id, {}),
                    (usage, cell_id, spec_obj.vcpus, spec_obj.memory_mb))

    def test_identical_cells_share_one_fit(self):
        view = self.set_view()
        spec_obj = render_spec()
        for name in ('host1', 'host2', 'host3'):
            state = helpers.host_state(name)
            for cell_id in range(4):
                self.assertTrue(cell_fit.fits(state, spec_obj, cell_id, {}))
        # One fit per cell state; each cell id has its own CPUs.
        self.assertEqual(4, len(view.fit_memo.results))
        self.assertEqual(8, view.fit_memo.hits)

    def test_different_usage_is_fitted_again(self):
        view = self.set_view()
        spec_obj = render_spec(vcpus=2, memory_mb=1024)
        self.assertTrue(cell_fit.fits(
            helpers.host_state(), spec_obj, 0, {}))
        self.assertFalse(cell_fit.fits(
            helpers.host_state(usage={0: (0, 3584)}), spec_obj, 0, {}))
        self.assertEqual(2, len(view.fit_memo.results))

    def test_pinned_cpus_are_part_of_the_key(self):
        self.set_view()
        spec_obj = render_spec(vcpus=2)
        cell = spec_obj.numa_topology.cells[0]
        cell.cpu_policy = fields.CPUAllocationPolicy.DEDICATED
        cell.pcpuset, cell.cpuset = cell.cpuset, set()
        free, busy = helpers.host_state('free'), helpers.host_state('busy')
        for state in (free, busy):
            for host_cell in state.numa_topology.cells:
                host_cell.pcpuset, host_cell.cpuset = host_cell.cpuset, set()
        busy.numa_topology.cells[0].pinned_cpus = {0, 1, 2}
        before = spec_obj.numa_topology.obj_to_primitive()
        self.assertTrue(cell_fit.fits(free, spec_obj, 0, {}))
        self.assertFalse(cell_fit.fits(busy, spec_obj, 0, {}))
        # A pinned guest's topology is never written to.
        self.assertEqual(before, spec_obj.numa_topology.obj_to_primitive())

    def test_every_field_the_fit_reads_changes_the_key(self):
        def cell():
            return helpers.host_state().numa_topology.cells[0]

        base = cell_fit.cell_key(cell())
        self.assertEqual(base, cell_fit.cell_key(cell()))
        changes = {
            'cpuset': {0, 1, 2}, 'pcpuset': {3}, 'memory': 1024,
            'cpu_usage': 3, 'memory_usage': 100, 'pinned_cpus': {3},
            'siblings': [{0, 1}, {2, 3}],
            'mempages': [objects.NUMAPagesTopology(
                size_kb=4, total=1024, used=0)]}
        for field, value in changes.items():
            changed = cell()
            setattr(changed, field, value)
            self.assertNotEqual(base, cell_fit.cell_key(changed), field)
        for field, value in (('total', 1), ('used', 1), ('reserved', 1),
                             ('size_kb', 2048)):
            changed = cell()
            setattr(changed.mempages[0], field, value)
            self.assertNotEqual(base, cell_fit.cell_key(changed), field)
        # The id is not read: one answer for the same state on any id.
        same = cell()
        changed = objects.NUMACell(id=3, **{
            field: getattr(same, field) for field in same.obj_fields
            if field != 'id' and same.obj_attr_is_set(field)})
        self.assertEqual(base, cell_fit.cell_key(changed))

        guest = render_spec().numa_topology
        base = cell_fit.guest_key(guest)
        for field, value in (
                ('cpu_policy', fields.CPUAllocationPolicy.DEDICATED),
                ('cpu_thread_policy', 'isolate'), ('cpuset', {0, 1}),
                ('pcpuset', {0}), ('memory', 1), ('pagesize', 2048)):
            changed = render_spec().numa_topology
            setattr(changed.cells[0], field, value)
            self.assertNotEqual(base, cell_fit.guest_key(changed), field)
        changed = render_spec().numa_topology
        changed.emulator_threads_policy = 'isolate'
        self.assertNotEqual(base, cell_fit.guest_key(changed))

    def test_request_topology_is_not_written(self):
        self.set_view()
        spec_obj = render_spec()
        before = spec_obj.numa_topology.obj_to_primitive()
        for cell_id in range(4):
            cell_fit.fits(helpers.host_state(), spec_obj, cell_id, {})
        self.assertEqual(before, spec_obj.numa_topology.obj_to_primitive())

    def test_physnet_with_affinity_to_another_cell(self):
        """As the compute claim, over the host's whole topology."""
        self.set_view()
        state = helpers.host_state()
        cell1 = state.numa_topology.cells[1]
        cell1.network_metadata.physnets = (
            cell1.network_metadata.physnets | {'phys1'})
        spec_obj = render_spec(physnets=['phys1'])
        self.assertFalse(cell_fit.fits(state, spec_obj, 0, {}))
        self.assertTrue(cell_fit.fits(state, spec_obj, 1, {}))
        self.assertEqual(self.nova_answer(state, spec_obj, 0),
                         cell_fit.fits(state, spec_obj, 0, {}))

    def test_unknown_cell(self):
        self.set_view()
        self.assertFalse(cell_fit.fits(
            helpers.host_state(cells=2), render_spec(), 3, {}))

    def test_memo_is_per_request_and_per_thread(self):
        first = self.set_view()
        spec_obj = render_spec()
        cell_fit.fits(helpers.host_state(), spec_obj, 0, {})
        seen = {}

        def other_thread():
            provider_view._local.view = provider_view.ProviderView('req-2')
            cell_fit.fits(helpers.host_state(), spec_obj, 0, {})
            seen['memo'] = provider_view.current().fit_memo

        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join()
        self.assertIsNot(first.fit_memo, seen['memo'])
        self.assertEqual(0, seen['memo'].hits)
        self.assertIs(first, provider_view.current())
        # A new request in this thread starts with an empty memo.
        provider_view.start('req-3')
        self.assertIsNone(provider_view.current().fit_memo)
        # The same request (Nova's second query) keeps its memo.
        cell_fit.fits(helpers.host_state(), spec_obj, 0, {})
        memo = provider_view.current().fit_memo
        provider_view.start('req-3')
        self.assertIs(memo, provider_view.current().fit_memo)

    def test_without_a_view_still_answers(self):
        self.assertTrue(cell_fit.fits(
            helpers.host_state(), render_spec(), 0, {}))
