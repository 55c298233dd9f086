"""Schedule the stream through Nova's handlers and apply every claim.

For each request, what nova-scheduler does: every host with allocation
candidates (Placement's answer: room on the root provider and, for a
phone, a GPU with a free slot) gets fresh candidates and empty limits;
Nova's ``HostFilterHandler`` runs the policy's filters, Nova's
``HostWeightHandler`` its weighers, and the best host and its first
candidate win (``host_subset_size = 1``). For the plugin, the request's
provider view is recorded first from the provider summaries and the
request's ``ResourceRequest``, by the function the plugin's report-client
wrap calls (``provider_view.record_candidates``).

Then, what nova-compute does: Nova's ``numa_fit_instance_to_host`` on the
host's topology with the limits the filters left on the host state (for
the plugin, pinned to the GPU's cell, as the claim pins them from the
allocation), and ``numa_usage_from_instance_numa`` records the cell usage;
Placement's usage (root VCPU and RAM, the GPU's slot) follows the
candidate. A delete undoes both.
"""

import dataclasses
import time
import uuid as uuid_lib

from nova.scheduler import filters as nova_filters
from nova.scheduler import weights as nova_weights
from nova.virt import hardware

from benchmarks.fleet import specs as specs_lib
from benchmarks.fleet import workload
from nova_gpu_numa_sched import names
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

    def _select(self, size, spec, resources):
        """Nova's scheduler for one request: (seconds, host, candidate)."""
        render = size.kind == workload.PHONE
        states = []
        summaries = {}
        for host in self.hosts:
            candidates = host.candidates(size.vcpus, size.memory_mb,
                                         size.disk_gb, render)
            if not candidates:
                continue
            host.state.allocation_candidates = candidates
            host.state.limits = {}
            states.append(host.state)
            if self.uses_view:
                summaries.update(host.summaries())
        request_id = 'req-%s' % uuid_lib.uuid4()
        start = time.perf_counter()
        if self.uses_view:
            provider_view.record_candidates(request_id, resources,
                                            summaries)
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
        spec, resources = self.specs.get(size)
        seconds, host, candidate = self._select(size, spec, resources)
        phone = size.kind == workload.PHONE
        if phone:
            result.phones_asked += 1
            result.phone_seconds.append(seconds)
        else:
            result.vms_asked += 1
            result.vm_seconds.append(seconds)
        if host is None:
            return False
        gpu = None
        for rp_uuid, alloc in candidate['allocations'].items():
            if alloc['resources'].get(names.RESOURCE_CLASS):
                gpu = rp_uuid
        # The compute claim: Nova's fit with the scheduler's limits.
        topology = hardware.numa_fit_instance_to_host(
            host.topology, spec.numa_topology.obj_clone(),
            limits=host.state.limits.get('numa_topology'),
            provider_mapping=candidate['mappings'])
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
