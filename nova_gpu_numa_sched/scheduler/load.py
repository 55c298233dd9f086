"""How loaded a host's render nodes are, and which way to prefer them."""

from nova.scheduler import utils

from nova_gpu_numa_sched import conf
from nova_gpu_numa_sched import names
from nova_gpu_numa_sched import render_usage

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


def node_load(node):
    """Load (0..1) of a render node; 1 when unknown."""
    if node is None:
        return 1.0
    return node.load_share(CONF.gpu_numa.utilization_weight)


def _preference(host_multiplier):
    """Sort key of render nodes: least loaded first, or most when packing.

    The compute's claim orders them the same way (``render_usage.order``).
    """
    return render_usage.order(CONF.gpu_numa.utilization_weight,
                              packing=host_multiplier < 0)


def preferred_node(nodes, amount, host_multiplier, cell=None):
    """The preferred render node with ``amount`` free slots, or None.

    :param cell: only render nodes of that cell; None: any cell
    """
    fitting = [node for node in nodes.values()
               if node.free >= amount and
               (cell is None or node.cell == cell)]
    if not fitting:
        return None
    return min(fitting, key=_preference(host_multiplier))


def ranked_cells(nodes, amount, host_multiplier):
    """[(cell, preferred render node)] of the cells with room, best first."""
    best = {}
    for node in nodes.values():
        if node.cell is None or node.free < amount:
            continue
        if node.cell not in best:
            best[node.cell] = preferred_node(nodes, amount, host_multiplier,
                                             node.cell)
    key = _preference(host_multiplier)
    return sorted(best.items(), key=lambda item: key(item[1]))
