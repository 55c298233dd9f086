"""Schedule the stream through Nova's handlers and apply every claim.

For each request, what nova-scheduler does: every host with allocation
candidates (Placement's answer with host-level slots: one candidate, on
the root provider, when it has room and, for a phone, a free render slot
among the host's) gets fresh candidates and empty limits; Nova's
``HostFilterHandler`` runs the policy's filters, Nova's
``HostWeightHandler`` its weighers, and the best host and its first
candidate win (``host_subset_size = 1``). For the plugin, the request's
provider view is started first, as the plugin's report-client wrap does
(``provider_view.start``); the filter and the weigher then read each
host's render nodes from its ``HostState.stats``, which the simulated
compute rewrites after every claim and delete.

Then, what nova-compute does. With the plugin, its claim
(``compute.claim_cell``): the cells whose render nodes have a free slot,
in the order of ``slot_choice.ranked_cells`` (reversed when the scheduler
packs), each tried with Nova's ``numa_fit_instance_to_host`` and the
scheduler's limits pinned to that cell; the first that fits gets the
guest and a slot of its best render node; with none, ``preferred`` claims
unpinned on ``slot_choice.best_node``, ``required`` fails (a reschedule in
Nova). Stock Nova's claim fits with the scheduler's limits wherever Nova's
fit says, and the slot goes to the first render node with a free slot in
the host's listing order, whatever its cell (what claiming Placement's
first candidate gave when each render node was a provider of its own).
``numa_usage_from_instance_numa`` records the cell usage; Placement's
usage (root VCPU, RAM and render slot) follows the candidate. A delete
undoes both.
"""

import dataclasses
import time
import uuid as uuid_lib

from nova.scheduler import filters as nova_filters
from nova.scheduler import weights as nova_weights
from nova.virt import hardware

from benchmarks.fleet import specs as specs_lib
from benchmarks.fleet import topology as topology_lib
from benchmarks.fleet import workload
from nova_gpu_numa_sched import cell_limits
from nova_gpu_numa_sched.compute import slot_choice
from nova_gpu_numa_sched import policy as policy_lib
from nova_gpu_numa_sched.scheduler import provider_view


@dataclasses.dataclass
class Placement:
    host: object
    gpu: str
    gpu_cell: int
    guest_cell: int
    topology: object
    size: object

    @property
    def cross_numa(self):
        return self.gpu is not None and self.gpu_cell != self.guest_cell


@dataclasses.dataclass
class Snapshot:
    """The fleet at one point of the stream."""

    #: [(host kind name, [slots used per GPU])]
    gpu_used: list
    phones: int
    vms: int
    cross_numa: int


@dataclasses.dataclass
class Result:
    policy: str
    phones_asked: int = 0
    phones_placed: int = 0
    vms_asked: int = 0
    vms_placed: int = 0
    #: Placed phones whose vCPUs and RAM sit on another cell than the GPU.
    cross_numa: int = 0
    #: Hosts chosen whose claim then failed (a reschedule in Nova).
    claim_failures: int = 0
    phone_seconds: list = dataclasses.field(default_factory=list)
    vm_seconds: list = dataclasses.field(default_factory=list)
    half: Snapshot = None
    peak: Snapshot = None
    final: Snapshot = None
    #: Phone boots refused after the fill phase although a re-placement of
    #: the instances running then could have held them with the phone.
    avoidable_refusals: int = 0
    #: Sizes of the instances standing at the end of the stream that this
    #: policy placed, or refused avoidably (and were not deleted since):
    #: what the end-of-stream bound is solved for.
    final_demand: list = dataclasses.field(default_factory=list)
    final_bound: dict = None


class Simulation:
    """One policy over one fleet: the hosts carry its state."""

    def __init__(self, policy, hosts, filter_classes, weigher_classes,
                 fits=None):
        self.policy = policy
        self.hosts = hosts
        self.by_state = {id(host.state): host for host in hosts}
        self.filters = [cls() for cls in filter_classes]
        self.weighers = [cls() for cls in weigher_classes]
        self.filter_handler = nova_filters.HostFilterHandler()
        self.weight_handler = nova_weights.HostWeightHandler()
        self.specs = specs_lib.SpecCache(policy)
        self.uses_view = policy != specs_lib.STOCK
        self.placed = {}
        #: fits(sizes): whether a re-placement holds all of them.
        self.fits = fits
        #: Instances refused avoidably after the fill phase, not deleted
        #: since.
        self.refused = {}
        self.result = Result(policy)

    def run(self, stream):
        result = self.result
        for index, event in enumerate(stream.events):
            if index == stream.half:
                result.half = self.snapshot()
            if index == stream.fill_end:
                result.peak = self.snapshot()
            if event.action == 'boot':
                if not self.boot(event) and index >= stream.fill_end:
                    self._refused(event)
            else:
                self.delete(event)
        if result.half is None:
            result.half = self.snapshot()
        if result.peak is None:
            result.peak = self.snapshot()
        result.final = self.snapshot()
        result.final_demand = (
            [p.size for p in self.placed.values()] +
            list(self.refused.values()))
        return result

    def _refused(self, event):
        """Record a churn-phase phone refusal a re-placement avoids."""
        if event.size.kind != workload.PHONE or self.fits is None:
            return
        sizes = [p.size for p in self.placed.values()] + [event.size]
        if self.fits(sizes):
            self.refused[event.instance] = event.size
            self.result.avoidable_refusals += 1

    # One request -----------------------------------------------------------

    def _select(self, size, spec):
        """Nova's scheduler for one request: (seconds, host, candidate)."""
        render = size.kind == workload.PHONE
        states = []
        for host in self.hosts:
            candidates = host.candidates(size.vcpus, size.memory_mb,
                                         size.disk_gb, render)
            if not candidates:
                continue
            host.state.allocation_candidates = candidates
            host.state.limits = {}
            states.append(host.state)
        request_id = 'req-%s' % uuid_lib.uuid4()
        start = time.perf_counter()
        if self.uses_view:
            provider_view.start(request_id)
        passed = self.filter_handler.get_filtered_objects(
            self.filters, states, spec)
        weighed = []
        if passed:
            weighed = self.weight_handler.get_weighed_objects(
                self.weighers, list(passed), spec)
        seconds = time.perf_counter() - start
        if not weighed:
            return seconds, None, None
        state = weighed[0].obj
        host = self.by_state[id(state)]
        return seconds, host, state.allocation_candidates[0]

    def boot(self, event):
        size = event.size
        result = self.result
        spec, _resources = self.specs.get(size)
        seconds, host, candidate = self._select(size, spec)
        phone = size.kind == workload.PHONE
        if phone:
            result.phones_asked += 1
            result.phone_seconds.append(seconds)
        else:
            result.vms_asked += 1
            result.vm_seconds.append(seconds)
        if host is None:
            return False
        limits = host.state.limits.get('numa_topology')
        if not phone:
            gpu, topology = None, _fit(host, spec, candidate, limits)
        elif self.uses_view:
            gpu, topology = _plugin_claim(host, spec, candidate, limits)
        else:
            gpu, topology = _stock_claim(host, spec, candidate, limits)
        if topology is None:
            result.claim_failures += 1
            return False
        host.apply(topology, size.vcpus, size.memory_mb, size.disk_gb, gpu)
        placement = Placement(
            host=host, gpu=gpu,
            gpu_cell=host.gpu_cell(gpu) if gpu else None,
            guest_cell=topology.cells[0].id, topology=topology, size=size)
        self.placed[event.instance] = placement
        if phone:
            result.phones_placed += 1
            result.cross_numa += placement.cross_numa
        else:
            result.vms_placed += 1
        return True

    def delete(self, event):
        self.refused.pop(event.instance, None)
        placement = self.placed.pop(event.instance, None)
        if placement is None:
            return
        size = placement.size
        placement.host.apply(placement.topology, size.vcpus, size.memory_mb,
                             size.disk_gb, placement.gpu, free=True)

    def snapshot(self):
        phones = [p for p in self.placed.values() if p.gpu is not None]
        return Snapshot(
            gpu_used=[(host.kind.name,
                       [host.gpu_used[gpu.uuid] for gpu in host.gpus])
                      for host in self.hosts],
            phones=len(phones),
            vms=len(self.placed) - len(phones),
            cross_numa=sum(p.cross_numa for p in phones))


def _fit(host, spec, candidate, limits):
    """Nova's NUMA fit of the claim, with ``limits``; None if it fails."""
    return hardware.numa_fit_instance_to_host(
        host.topology, spec.numa_topology.obj_clone(), limits=limits,
        provider_mapping=candidate['mappings'])


def _plugin_claim(host, spec, candidate, limits):
    """(render node, topology) of the plugin's compute claim, or a None.

    ``compute.claim_cell``'s order and limits, on this host's render nodes
    as its tracker counts them.
    """
    nodes = host.render_nodes()
    packing = cell_limits.is_packing(limits)
    for cell, node in slot_choice.ranked_cells(nodes, 1, packing):
        topology = _fit(host, spec, candidate, cell_limits.pinned_numa_limits(
            limits, cell, topology_lib.CPU_RATIO, topology_lib.RAM_RATIO))
        if topology is not None:
            return node.key, topology
    if policy_lib.allows_split(spec.flavor):
        node = slot_choice.best_node(nodes, 1, packing)
        if node is not None:
            return node.key, _fit(
                host, spec, candidate, cell_limits.unpinned_numa_limits(
                    limits, topology_lib.CPU_RATIO, topology_lib.RAM_RATIO))
    return None, None


def _stock_claim(host, spec, candidate, limits):
    """(render node, topology) without the plugin: cell-blind slot."""
    gpu = next((g.uuid for g in host.gpus
                if host.gpu_used[g.uuid] < g.capacity), None)
    if gpu is None:
        return None, None
    return gpu, _fit(host, spec, candidate, limits)
