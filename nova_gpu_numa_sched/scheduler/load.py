"""How loaded a candidate's GPU is, and which way to prefer it."""

from nova.scheduler import utils

from nova_gpu_numa_sched import conf
from nova_gpu_numa_sched import names
from nova_gpu_numa_sched.scheduler import request

CONF = conf.CONF


def multiplier(host_state):
    """``[gpu_numa] weight_multiplier``, overridden by aggregate metadata."""
    if not host_state.aggregates:
        # What get_weight_multiplier answers then, without its set and
        # validation: this runs once per host and request.
        return CONF.gpu_numa.weight_multiplier
    return utils.get_weight_multiplier(
        host_state, names.WEIGHT_MULTIPLIER_AGGREGATE_KEY,
        CONF.gpu_numa.weight_multiplier)


def candidate_load(view, candidate):
    """Load (0..1) of the busiest render provider of a candidate."""
    weight = CONF.gpu_numa.utilization_weight
    loads = [view.get(rp_uuid).load(weight)
             for rp_uuid in request.render_providers(candidate)
             if view.get(rp_uuid) is not None]
    return max(loads) if loads else 1.0


def order_candidates(view, candidates, host_multiplier):
    """Preferred candidates first: least loaded, or most when packing."""
    if host_multiplier == 0:
        return list(candidates)
    sign = 1 if host_multiplier > 0 else -1
    return sorted(candidates,
                  key=lambda c: sign * candidate_load(view, c))
