"""Time stock Nova and the plugin on the same host states, request by request.

For each request kind (a phone with a render slot, a guest without one),
each repetition runs, on the same ``HostState`` objects with fresh
allocation candidates and empty limits:

``stock``
    Nova's ``NUMATopologyFilter`` alone, through Nova's filter handler;
``plugin``
    the plugin as the docs enable it: starting the request's provider view
    (``provider_view.start``, what the report-client wrap adds to every
    candidate query; the render nodes themselves are read from each host
    state's ``stats`` by the filter, so their parsing is timed there),
    ``GpuNumaTopologyFilter`` in place of ``NUMATopologyFilter``, and
    ``GpuLoadWeigher`` through Nova's weight handler;
``pair`` (render requests, unless disabled)
    the older deployment: ``NUMATopologyFilter`` then
    ``GpuNumaAffinityFilter``, plus the same view and weigher.

Each repetition runs stock and plugin twice, A-B-B-A, A alternating
between repetitions, and takes its ratio from those four runs seconds
apart, to damp the noise of a shared machine; the goals are checked on
the median of these per-repetition ratios. Every repetition checks that
the plugin kept the same hosts, candidates (in order) and claim limits as
the older pair, and, for a guest without a render slot, the same as stock
Nova; and, for a phone, that the render node the filter chose on each kept
host sits on the cell its claim limits are pinned to, as that host
published it.

With host-level slots, Placement's phone answer holds one candidate per
host (the root, with the host's render slot), so the candidates the
filters go through are as many as for a guest without a render slot.
"""

import copy
import gc
import time

from nova.scheduler import filters as nova_filters
from nova.scheduler.filters import numa_topology_filter
from nova.scheduler import utils as scheduler_utils
from nova.scheduler import weights as nova_weights

from benchmarks.scale import report
from benchmarks.scale import specs
from nova_gpu_numa_sched.filters import gpu_numa_affinity
from nova_gpu_numa_sched.filters import gpu_numa_topology
from nova_gpu_numa_sched import names
from nova_gpu_numa_sched.scheduler import provider_view
from nova_gpu_numa_sched.weights import gpu_load

RENDER = 'render'
PLAIN = 'plain'
KINDS = (RENDER, PLAIN)


#: The clock of the timed sections: CPU time of this process by default,
#: which other work on a shared machine disturbs far less than wall time
#: (the pipelines are single-threaded and CPU-bound); ``--clock wall``
#: switches to ``time.perf_counter``.
CLOCKS = {'cpu': time.process_time, 'wall': time.perf_counter}
clock = CLOCKS['cpu']


def _timed(func, *args):
    gc.collect()
    start = clock()
    result = func(*args)
    return clock() - start, result


class Kind:
    """One request kind over one fleet: its spec, answer and host states."""

    def __init__(self, name, fleet, states):
        self.name = name
        self.answer = fleet.render if name == RENDER else fleet.plain
        self.states = [s for s in states
                       if s.uuid in self.answer.candidates_by_host]
        make_spec = specs.phone_spec if name == RENDER else specs.plain_spec
        self.spec = make_spec(specs.new_context())
        self.resources = scheduler_utils.resources_from_request_spec(
            specs.new_context(), self.spec, None,
            enable_pinning_translate=True)

    def reset(self):
        """What the scheduler starts each request with: fresh candidates."""
        for state in self.states:
            state.allocation_candidates = copy.deepcopy(
                self.answer.candidates_by_host[state.uuid])
            state.limits = {}


class Pipelines:
    """The stock and plugin pipelines over one fleet."""

    def __init__(self, fleet, client, with_pair=True):
        self.fleet = fleet
        self.client = client
        self.with_pair = with_pair
        self.numa_filter = numa_topology_filter.NUMATopologyFilter()
        self.topology_filter = gpu_numa_topology.GpuNumaTopologyFilter()
        self.affinity_filter = gpu_numa_affinity.GpuNumaAffinityFilter()
        self.weigher = gpu_load.GpuLoadWeigher()
        self.filter_handler = nova_filters.HostFilterHandler()
        self.weight_handler = nova_weights.HostWeightHandler()
        states = fleet.host_states()
        self.kinds = {name: Kind(name, fleet, states) for name in KINDS}

    # The pipelines -------------------------------------------------------

    def stock(self, kind):
        return list(self.filter_handler.get_filtered_objects(
            [self.numa_filter], kind.states, kind.spec))

    @staticmethod
    def _view(kind, request_id):
        """What the report-client wrap does before the candidate query.

        Each run gets a view of its own (and so an empty fit memo and no
        render nodes parsed yet).
        """
        return provider_view.start(request_id)

    def _weigh(self, kind, hosts):
        return self.weight_handler.get_weighed_objects(
            [self.weigher], hosts, kind.spec)

    def plugin(self, kind, request_id, timings):
        t_view, _ = _timed(self._view, kind, request_id)
        t_filter, passed = _timed(lambda: list(
            self.filter_handler.get_filtered_objects(
                [self.topology_filter], kind.states, kind.spec)))
        t_weigh, weighed = _timed(self._weigh, kind, passed)
        timings.add('view', t_view)
        timings.add('filter', t_filter)
        timings.add('weigher', t_weigh)
        return t_view + t_filter + t_weigh, weighed

    def pair(self, kind, request_id):
        self._view(kind, request_id)
        passed = list(self.filter_handler.get_filtered_objects(
            [self.numa_filter, self.affinity_filter], kind.states,
            kind.spec))
        return self._weigh(kind, passed)

    # One repetition ------------------------------------------------------

    def _install_view_through_wrap(self, kind):
        """The real, wrapped candidate query installs this request's view."""
        ctxt = specs.new_context()
        self.client.get_allocation_candidates(ctxt, kind.resources)
        view = provider_view.current()
        if view is None or view.request_id != ctxt.request_id:
            raise AssertionError('provider view not installed by the wrap')
        return ctxt.request_id

    def repetition(self, name, index, timings, stats):
        """Time stock and plugin (and the pair) once; check their results."""
        kind = self.kinds[name]
        request_id = self._install_view_through_wrap(kind)
        # A-B-B-A, A alternating between repetitions: a slow drift of the
        # machine weighs the same on both.
        order = ('stock', 'plugin', 'plugin', 'stock') if index % 2 == 0 \
            else ('plugin', 'stock', 'stock', 'plugin')
        took = {'stock': 0.0, 'plugin': 0.0}
        for run, which in enumerate(order):
            kind.reset()
            if which == 'stock':
                seconds, stock_kept = _timed(self.stock, kind)
                took['stock'] += seconds / 2
                stock_result = _snapshot(stock_kept)
            else:
                seconds, weighed = self.plugin(
                    kind, '%s-plugin-%d' % (request_id, run), timings)
                took['plugin'] += seconds / 2
                plugin_kept = [w.obj for w in weighed]
                plugin_result = _snapshot(plugin_kept)
                stats['plugin_candidates'] = sum(
                    len(s.allocation_candidates) for s in plugin_kept)
                if name == RENDER:
                    _check_colocated(self.fleet, plugin_kept,
                                     provider_view.current())
                memo = provider_view.current().fit_memo
                stats['memo_hits'] = memo.hits if memo else 0
                stats['memo_fits'] = len(memo.results) if memo else 0
        stats['hosts'] = len(kind.states)
        stats['candidates'] = sum(
            len(kind.answer.candidates_by_host[s.uuid]) for s in kind.states)
        stats['stock_kept'] = len(stock_result)
        stats['plugin_kept'] = len(plugin_result)
        if name == RENDER:
            if self.with_pair:
                kind.reset()
                took['pair'], weighed = _timed(
                    self.pair, kind, request_id + '-pair')
                if _snapshot([w.obj for w in weighed]) != plugin_result:
                    raise AssertionError(
                        'GpuNumaTopologyFilter and the older pair disagree')
        elif plugin_result != stock_result:
            raise AssertionError('GpuNumaTopologyFilter changed the result '
                                 'of a request without a render slot')
        for which, seconds in took.items():
            timings.add(which, seconds)
            if which != 'stock':
                timings.add('ratio_' + which, seconds / took['stock'])


def _snapshot(hosts):
    """{host: (candidates in order, physnets of its claim limits)}."""
    found = {}
    for state in hosts:
        limits = state.limits.get('numa_topology')
        physnets = None
        if limits is not None and 'network_metadata' in limits:
            physnets = frozenset(limits.network_metadata.physnets)
        found[state.host] = (repr(state.allocation_candidates), physnets)
    return found


def _check_colocated(fleet, hosts, view):
    """Each kept host's chosen GPU sits on the cell its claim is pinned to.

    The cell is the one the host published in its compute node's stats
    for the render node the filter chose there (``view.chosen``); the
    synthetic fleet's own record of that GPU must agree.
    """
    for state in hosts:
        key = view.chosen.get(state.uuid)
        node = view.render_nodes(state).get(key)
        if node is None:
            raise AssertionError('%s: kept without a chosen render node'
                                 % state.host)
        if node.cell != fleet.gpu_cell[(state.uuid, key)]:
            raise AssertionError('%s: render node %s published on the '
                                 'wrong cell' % (state.host, key))
        physnets = state.limits['numa_topology'].network_metadata.physnets
        if names.cell_token(node.cell) not in physnets:
            raise AssertionError('%s: claim not pinned to GPU cell'
                                 % state.host)


def measure(fleet, client, repeat, with_pair=True):
    """{kind: (Timings, stats)} of ``repeat`` timed repetitions (+ warm-up)."""
    pipelines = Pipelines(fleet, client, with_pair)
    results = {}
    for name in KINDS:
        timings, stats = report.Timings(), {}
        for index in range(repeat + 1):
            scratch = report.Timings() if index == 0 else timings
            pipelines.repetition(name, index, scratch, stats)
        results[name] = (timings, stats)
    return results
