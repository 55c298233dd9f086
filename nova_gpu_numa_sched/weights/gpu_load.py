"""Prefer hosts whose best co-locatable GPU is the least loaded."""

from nova.scheduler import weights

from nova_gpu_numa_sched.scheduler import load
from nova_gpu_numa_sched.scheduler import provider_view
from nova_gpu_numa_sched.scheduler import request


class GpuLoadWeigher(weights.BaseHostWeigher):
    """Weight = 1 - load of the render node the host would give the guest.

    GpuNumaAffinityFilter has chosen, on each host, the render node the
    guest would get (least loaded, or most loaded when the multiplier is
    negative, on a cell that can hold the guest), so that node speaks for
    the host. A negative multiplier then favours busy hosts: phones pack
    onto busy GPUs and idle GPUs can be powered down.

    It never ranks a host that would split a guest from its render node's
    cell (``gpu_numa:affinity_policy=preferred``) above one that would
    co-locate it: GpuNumaAffinityFilter passes split hosts only when no
    host of the request can co-locate, so the two never meet here. Only
    that lets a weight made of GPU load alone decide between hosts.
    """

    def weight_multiplier(self, host_state):
        return load.multiplier(host_state)

    def weigh_objects(self, weighed_obj_list, weight_properties):
        # Without a render slot every weight is 0: read the flavor once per
        # request, not once per host.
        if not request.render_slots_requested(weight_properties):
            return [0.0] * len(weighed_obj_list)
        return super().weigh_objects(weighed_obj_list, weight_properties)

    def _weigh_object(self, host_state, weight_properties):
        if not request.render_slots_requested(weight_properties):
            return 0.0
        view = provider_view.current()
        if view is None:
            return 0.0
        key = view.chosen.get(host_state.uuid)
        node = view.render_nodes(host_state).get(key)
        return 1.0 - load.node_load(node)
