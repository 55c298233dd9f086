"""Nova's NUMATopologyFilter that fits a render guest only on GPU cells.

With ``NUMATopologyFilter`` followed by ``GpuNumaAffinityFilter``, a render
request is fitted twice: Nova's filter tries every candidate on every host
cell, then the plugin's filter fits again on the cells of the GPUs. This
filter takes the place of both. A request without a render slot runs
exactly Nova's code; a render request runs Nova's CPU-policy check, then
``GpuNumaAffinityFilter``, whose fit on a GPU's cell implies Nova's fit on
the whole host (it is the same fit with one more constraint), so the NUMA
fit happens once, on the cells that hold a GPU with a free slot.
"""

from nova.scheduler.filters import numa_topology_filter
from nova.scheduler import utils as scheduler_utils

from nova_gpu_numa_sched.filters import gpu_numa_affinity
from nova_gpu_numa_sched.scheduler import request


class GpuNumaTopologyFilter(numa_topology_filter.NUMATopologyFilter):
    """Enable in place of ``NUMATopologyFilter`` + ``GpuNumaAffinityFilter``.

    Guests without a render slot see Nova's NUMATopologyFilter unchanged.
    Render guests get the plugin's co-location, GPU order and claim limits.
    """

    # Like both filters it replaces: the API refuses a rebuild that would
    # change the NUMA topology, and the render slot is already held.
    RUN_ON_REBUILD = False

    def __init__(self):
        super().__init__()
        self._affinity = gpu_numa_affinity.GpuNumaAffinityFilter()
        # Nova's own filter, run as is for requests without a render slot:
        # nothing of the plugin runs per host for them.
        self._nova = numa_topology_filter.NUMATopologyFilter()

    def filter_all(self, filter_obj_list, spec_obj):
        if not request.render_slots_requested(spec_obj):
            return self._nova.filter_all(filter_obj_list, spec_obj)
        if scheduler_utils.request_is_rebuild(spec_obj):
            # What Nova's _filter_one does for a filter that does not run
            # on rebuild: every host passes.
            return list(filter_obj_list)
        hosts = [host for host in filter_obj_list
                 if self._render_host_allowed(host, spec_obj)]
        return self._affinity.filter_all(hosts, spec_obj)

    def host_passes(self, host_state, spec_obj):
        if not request.render_slots_requested(spec_obj):
            return super().host_passes(host_state, spec_obj)
        return (self._render_host_allowed(host_state, spec_obj) and
                self._affinity.host_passes(host_state, spec_obj))

    def _render_host_allowed(self, host_state, spec_obj):
        """Nova's checks that precede its fit, for a render request.

        The CPU thread policy, as NUMATopologyFilter checks it; and the
        host's NUMA limits from an earlier request are dropped, as
        NUMATopologyFilter would replace them, so that the affinity filter
        derives this request's limits from the host's allocation ratios and
        the request's own network metadata.
        """
        if not self._satisfies_cpu_policy(
                host_state, spec_obj.flavor.extra_specs,
                spec_obj.image.properties):
            return False
        host_state.limits.pop('numa_topology', None)
        return True
