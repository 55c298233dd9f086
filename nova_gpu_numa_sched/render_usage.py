"""One render node's slots and load, as nova-compute publishes them.

nova-compute keeps the per-render-node account and publishes it in the
compute node's ``stats`` (``names.RENDER_NODES_STAT``); the scheduler
reads it back with the host's state. Both sides rank render nodes by the
same load share: the scheduler's filter and weigher pick a cell by it, and
the compute's claim must pick the same render node. So the record, the
load share, the order and the published JSON live here, once, for every
service.

Nothing here imports Nova.
"""

import dataclasses
import typing as ty

from oslo_log import log as logging
from oslo_serialization import jsonutils

from nova_gpu_numa_sched import names

LOG = logging.getLogger(__name__)


@dataclasses.dataclass
class RenderNodeUsage:
    """One render node: its cell, slots, slots in use and measured load."""

    key: str
    #: NUMA cell; None when unknown (a vanished render node).
    cell: ty.Optional[int]
    #: Usable slots; 0 for a vanished render node whose slots are held.
    slots: int
    #: Slots in use, as the compute's resource tracker counts them.
    used: int
    #: Lower bound of the measured utilisation bucket, percent; None when
    #: not measured.
    load: ty.Optional[int] = None
    devnode: ty.Optional[str] = None

    @property
    def free(self):
        return max(0, self.slots - self.used)

    def load_share(self, utilization_weight):
        """Load as a fraction of 1 (see ``[gpu_numa] utilization_weight``).

        The share of slots in use, blended with the measured load when it
        is known; a render node without usable slots counts as full.
        """
        share = float(self.used) / self.slots if self.slots else 1.0
        if self.load is None:
            return share
        return ((1.0 - utilization_weight) * share +
                utilization_weight * self.load / 100.0)


def order(utilization_weight, packing=False):
    """Sort key of render nodes: least loaded first, most when packing.

    Ties break by key, so that nova-compute and every scheduler worker
    agree on the same render node.
    """
    sign = -1 if packing else 1
    return lambda node: (sign * node.load_share(utilization_weight),
                         node.key)


def dumps(nodes):
    """The ``RENDER_NODES_STAT`` value of ``{key: RenderNodeUsage}``.

    The JSON keys are what deployed computes publish; keep them.
    """
    return jsonutils.dumps({
        node.key: {'cell': node.cell, 'slots': node.slots,
                   'used': node.used, 'load': node.load,
                   'devnode': node.devnode}
        for node in nodes.values()}, sort_keys=True)


def decode(value):
    """{key: RenderNodeUsage} of a published ``RENDER_NODES_STAT`` value.

    Nothing published: {}.

    :raises ValueError: the value is not what nova-compute publishes
    """
    if not value:
        return {}
    try:
        published = jsonutils.loads(value)
        return {key: RenderNodeUsage(key=key, cell=node.get('cell'),
                                     slots=int(node.get('slots') or 0),
                                     used=int(node.get('used') or 0),
                                     load=node.get('load'),
                                     devnode=node.get('devnode'))
                for key, node in published.items()}
    except (TypeError, AttributeError) as e:
        raise ValueError(str(e))


def loads(value):
    """``decode``, for the scheduler: unreadable gives {} and a warning.

    So that the host's render nodes count as full rather than failing the
    request.
    """
    try:
        return decode(value)
    except ValueError as e:
        LOG.warning('Unreadable %s in a compute node\'s stats (%s); its '
                    'render nodes are taken as full.',
                    names.RENDER_NODES_STAT, e)
        return {}
