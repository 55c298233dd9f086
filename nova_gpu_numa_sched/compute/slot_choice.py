"""Which render node a claim's slot is on, and what the scheduler is told.

Placement counts a host's render slots as one inventory on the compute
node provider. nova-compute keeps the per-render-node account: the
resource tracker's assigned resources, read and changed only under its
lock (``COMPUTE_RESOURCE_SEMAPHORE``). So the choice of render node is
exact under concurrent claims, also for the many instances of one
multi-create that land on this host at once.

- ``usage`` counts slots per render node;
- ``ranked_cells`` orders the cells with room: least used render node
  first, then least loaded;
- ``_claim_resources`` (wrapped) hands out a slot of the render node the
  claim chose (``choosing``), or of the least used one;
- ``_update_to_placement`` (wrapped) publishes every render node's cell,
  slots, use and load in the compute node's ``stats``, which the resource
  tracker saves after every claim and which the scheduler reads with the
  host's state.
"""

import contextlib
import functools
import threading

from nova.compute import resource_tracker
from nova import exception
from nova import objects
from oslo_log import log as logging

from nova_gpu_numa_sched.compute import placement_report
from nova_gpu_numa_sched import conf
from nova_gpu_numa_sched import names
from nova_gpu_numa_sched import render_usage

CONF = conf.CONF

LOG = logging.getLogger(__name__)
_WRAPPED_MARK = '_gpu_numa_slot_choice'
_local = threading.local()


def root_uuid(tracker, nodename):
    node = tracker.compute_nodes.get(nodename)
    return getattr(node, 'uuid', None)


def _render_nodes(tracker):
    """{key: RenderNode} the driver last reported, and its load buckets."""
    driver = getattr(tracker, 'driver', None)
    report = getattr(driver, 'render_node_report', None)
    if report is None:
        return {}, {}
    return report()


def _slot_resources(tracker, rp_uuid):
    """(every slot Resource, the assigned ones) of a provider."""
    if tracker.provider_tree is None or not (
            tracker.provider_tree.exists(rp_uuid)):
        return set(), set()
    data = tracker.provider_tree.data(rp_uuid)
    slots = set(data.resources.get(names.RESOURCE_CLASS, ()))
    assigned = set(tracker.assigned_resources.get(rp_uuid, {}).get(
        names.RESOURCE_CLASS, ()))
    return slots, assigned


def usage(tracker, nodename):
    """{render node key: RenderNodeUsage} of this compute node."""
    rp_uuid = root_uuid(tracker, nodename)
    nodes, loads = _render_nodes(tracker)
    _, assigned = _slot_resources(tracker, rp_uuid)
    found = {key: render_usage.RenderNodeUsage(
        key=key, cell=node.numa_node, slots=node.slots or 0, used=0,
        load=loads.get(key), devnode=node.devnode)
        for key, node in nodes.items()}
    for res in assigned:
        key = placement_report.node_key_of_slot(res.identifier)
        if key not in found:
            # A vanished render node whose slots are still held.
            found[key] = render_usage.RenderNodeUsage(
                key=key, cell=None, slots=0, used=0)
        found[key].used += 1
    return found


def _order(packing):
    """Sort key: least loaded first; most loaded first when packing.

    The scheduler's order (``render_usage.order``), with the same
    ``[gpu_numa] utilization_weight``.
    """
    return render_usage.order(CONF.gpu_numa.utilization_weight, packing)


def ranked_cells(nodes, amount, packing=False):
    """[(cell, best RenderNodeUsage)] of the cells with ``amount`` free.

    Cells ordered by their best render node's rank (reversed when the
    scheduler packs).
    """
    key = _order(packing)
    best = {}
    for node in nodes.values():
        if node.cell is None or node.free < amount:
            continue
        if node.cell not in best or key(node) < key(best[node.cell]):
            best[node.cell] = node
    return sorted(best.items(), key=lambda item: key(item[1]))


def best_node(nodes, amount, packing=False):
    """The best render node with ``amount`` free slots on any cell."""
    fitting = [node for node in nodes.values() if node.free >= amount]
    return min(fitting, key=_order(packing)) if fitting else None


@contextlib.contextmanager
def choosing(node_key):
    """Make the claims in this block take their slots on ``node_key``."""
    previous = getattr(_local, 'node_key', None)
    _local.node_key = node_key
    try:
        yield
    finally:
        _local.node_key = previous


def _pick(tracker, rp_uuid, amount):
    """``amount`` free slot Resources of one render node, or raise."""
    slots, assigned = _slot_resources(tracker, rp_uuid)
    free = slots - assigned
    key = getattr(_local, 'node_key', None)
    if key is None:
        # Nobody chose (a claim path this plugin does not pin): the least
        # used render node with room, whatever its cell.
        nodename = next((name for name, node in tracker.compute_nodes.items()
                         if node.uuid == rp_uuid), None)
        node = best_node(usage(tracker, nodename), amount)
        key = node.key if node is not None else None
    mine = sorted((res for res in free
                   if placement_report.node_key_of_slot(res.identifier) ==
                   key),
                  key=lambda res: placement_report.parse_slot(
                      res.identifier)[1])
    if key is None or len(mine) < amount:
        raise exception.ComputeResourcesUnavailable(
            reason='needed %d render slot(s) on render node %s, %d free' % (
                amount, key, len(mine)))
    return mine[:amount]


def _wrap_claim_resources(method):
    @functools.wraps(method)
    def wrapper(self, allocations):
        if not allocations:
            return method(self, allocations)
        rest = {}
        mine = []
        for rp_uuid, alloc in allocations.items():
            resources = dict(alloc.get('resources', {}))
            amount = resources.pop(names.RESOURCE_CLASS, 0)
            slots, _ = _slot_resources(self, rp_uuid)
            if amount and slots:
                mine.extend(_pick(self, rp_uuid, amount))
            else:
                resources = alloc.get('resources', {})
            rest[rp_uuid] = dict(alloc, resources=resources)
        claimed = method(self, rest)
        if not mine:
            return claimed
        self._add_assigned_resources(mine)
        others = list(claimed.objects) if claimed else []
        return objects.ResourceList(objects=others + mine)
    return wrapper


def _wrap_update_to_placement(method):
    """Publish the render nodes once the driver has reported them.

    Runs inside the tracker's ``_update``, before it saves the compute
    node when anything changed: after every claim, free and periodic
    update. After a start-up reshape, moves the instances' slots first.
    """
    @functools.wraps(method)
    def wrapper(self, context, compute_node, *args, **kwargs):
        result = method(self, context, compute_node, *args, **kwargs)
        nodename = compute_node.hypervisor_hostname
        driver = getattr(self, 'driver', None)
        moved = getattr(driver, 'reshaped_render_providers', None)
        if moved:
            rehome_resources(self, context, nodename, moved)
            driver.reshaped_render_providers = None
        _publish(self, compute_node, nodename)
        return result
    return wrapper


def _publish(tracker, compute_node, nodename):
    """Put the render nodes into the compute node's stats; never raises.

    :returns: whether the stats changed
    """
    try:
        nodes = usage(tracker, nodename)
        stats = dict(compute_node.stats or {})
        if nodes:
            stats[names.RENDER_NODES_STAT] = render_usage.dumps(nodes)
        else:
            stats.pop(names.RENDER_NODES_STAT, None)
        if stats == (compute_node.stats or {}):
            return False
        compute_node.stats = stats
        return True
    except Exception:
        # The render nodes' report must never stop the tracker.
        LOG.exception('Cannot publish the render nodes of %s to the '
                      'scheduler.', nodename)
        return False


def _rehomed(resources, moved, root):
    """A copy of ``resources`` whose slots on ``moved`` are on ``root``."""
    changed = False
    result = []
    for res in resources or ():
        if (res.resource_class == names.RESOURCE_CLASS and
                res.provider_uuid in moved):
            res = objects.Resource(provider_uuid=root,
                                   resource_class=res.resource_class,
                                   identifier=res.identifier)
            changed = True
        result.append(res)
    return changed, objects.ResourceList(objects=result)


def rehome_resources(tracker, context, nodename, moved):
    """After a reshape: instances' slots name the compute node provider.

    Instances (and migration contexts) recorded their slots on the render
    node providers that the reshape removed; the resource tracker would
    refuse to start on them (``AssignedResourceNotFound``).
    """
    root = root_uuid(tracker, nodename)
    instances = objects.InstanceList.get_by_host(
        context, tracker.host, expected_attrs=['resources',
                                               'migration_context'])
    count = 0
    for instance in instances:
        changed, resources = _rehomed(instance.resources, moved, root)
        if changed:
            instance.resources = resources
            count += 1
        ctx = instance.migration_context
        for field in ('old_resources', 'new_resources'):
            if ctx and field in ctx:
                ctx_changed, value = _rehomed(getattr(ctx, field), moved,
                                              root)
                if ctx_changed:
                    setattr(ctx, field, value)
                    instance.migration_context = ctx
                    changed = True
        if changed:
            instance.save()
    for rp_uuid in list(tracker.assigned_resources):
        if rp_uuid not in moved:
            continue
        by_class = tracker.assigned_resources.pop(rp_uuid)
        for res in by_class.get(names.RESOURCE_CLASS, ()):
            tracker.assigned_resources[root][names.RESOURCE_CLASS].add(
                objects.Resource(provider_uuid=root,
                                 resource_class=res.resource_class,
                                 identifier=res.identifier))
    LOG.info('Render slots of %d instance(s) on %s now name the compute '
             'node provider.', count, nodename)


def install():
    """Wrap the tracker's slot hand-out and its update (idempotent)."""
    tracker = resource_tracker.ResourceTracker
    for name, wrap in (('_claim_resources', _wrap_claim_resources),
                       ('_update_to_placement',
                        _wrap_update_to_placement)):
        method = getattr(tracker, name)
        if not getattr(method, _WRAPPED_MARK, False):
            wrapped = wrap(method)
            setattr(wrapped, _WRAPPED_MARK, True)
            setattr(tracker, name, wrapped)
