"""Make every compute claim land on one NUMA cell with its render node.

Placement only counts a host's render slots; which render node, and so
which cell, an instance gets is decided here, at claim time, inside the
resource tracker's lock, where the per-render-node account is exact
(``slot_choice``). The cells whose render nodes have room are tried in
order, least used render node first (then least loaded), each with the
claim's NUMA limits pinned to that cell: Nova's own claim then fits the
guest there or refuses, and the slot is handed out on that cell's render
node. This wraps the two resource-tracker entry points that receive the
instance's allocation (``instance_claim`` and ``_move_claim``, which
serves rebuild, evacuate, resize, cold and live migration), so that every
instance of a multi-create and every move is exact. It is the hook Nova
lacks for non-PCI devices; delete it when Nova lets a driver constrain the
claim's NUMA fit.

A guest of several cells gets the same pin: Nova's fit then must choose
the render node's cell as one of the guest's. When no cell fits, a flavor
with ``gpu_numa:affinity_policy=preferred`` claims on any cell with the
least used render node (WARNING); with ``socket`` on another cell of a
render node's socket (INFO), never outside it; ``required`` fails the
claim, naming the cells tried.
"""

import functools
import inspect

from nova.compute import resource_tracker
from nova import exception
from nova import objects
from nova import utils
from oslo_log import log as logging

from nova_gpu_numa_sched import cell_limits
from nova_gpu_numa_sched.compute import slot_choice
from nova_gpu_numa_sched import names
from nova_gpu_numa_sched import nova_compat
from nova_gpu_numa_sched import pinned_fit
from nova_gpu_numa_sched import policy

LOG = logging.getLogger(__name__)

_WRAPPED_MARK = '_gpu_numa_cell_pinned'
#: The resource tracker's methods as Nova defined them, by name.
ORIGINALS = {}


def slots_claimed(tracker, nodename, allocations):
    """Render slots ``allocations`` hold on this compute node."""
    rp_uuid = slot_choice.root_uuid(tracker, nodename)
    alloc = (allocations or {}).get(rp_uuid) or {}
    return alloc.get('resources', {}).get(names.RESOURCE_CLASS, 0)


def pinned_limits(tracker, nodename, limits, cell):
    """Return a copy of ``limits`` that confines the claim to ``cell``."""
    return _with_numa_limits(
        tracker, nodename, limits,
        lambda numa_limits, cpu_ratio, ram_ratio:
            cell_limits.pinned_numa_limits(numa_limits, cell, cpu_ratio,
                                           ram_ratio))


def unpinned_limits(tracker, nodename, limits):
    """Return a copy of ``limits`` that confines the claim to no cell.

    What a ``preferred`` guest claims with when its render node's cell
    cannot hold it: Nova's own NUMA fit over the whole host, with the
    scheduler's ratios and real physnets kept. Without limits (a forced
    move) the compute node's ratios apply, as for the pinned claim, so
    the retry tests usage no less than the first try.
    """
    return _with_numa_limits(tracker, nodename, limits,
                             cell_limits.unpinned_numa_limits)


def socket_limits(tracker, nodename, socket_id, limits):
    """Return a copy of ``limits`` pinned to the cells of ``socket_id``."""
    return _with_numa_limits(
        tracker, nodename, limits,
        lambda numa_limits, cpu_ratio, ram_ratio:
            cell_limits.socket_numa_limits(numa_limits, socket_id, cpu_ratio,
                                           ram_ratio))


def _with_numa_limits(tracker, nodename, limits, build):
    """A dict copy of ``limits`` whose NUMA limits ``build`` made.

    :param build: ``build(numa_limits, cpu_ratio, ram_ratio)``, given the
        existing NUMA limits (or None, for a forced move) and the compute
        node's allocation ratios, which apply when there are none
    """
    if isinstance(limits, objects.SchedulerLimits):
        limits = limits.to_dict()
    limits = dict(limits or {})
    node = tracker.compute_nodes.get(nodename)
    limits['numa_topology'] = build(
        limits.get('numa_topology'),
        getattr(node, 'cpu_allocation_ratio', 1.0),
        getattr(node, 'ram_allocation_ratio', 1.0))
    return limits


def host_topology(tracker, nodename):
    """The host NUMA topology the tracker claims against, or None."""
    node = tracker.compute_nodes.get(nodename)
    serialized = getattr(node, 'numa_topology', None)
    if not serialized:
        return None
    return objects.NUMATopology.obj_from_db_obj(serialized)


def _claim_flavor(arguments):
    """The flavor being claimed: a move's new flavor, else the instance's."""
    if arguments.get('new_flavor') is not None:
        return arguments['new_flavor']
    instance = arguments['instance']
    return instance.flavor if 'flavor' in instance else None


def _numa_limits(limits):
    """The NUMA limits among the scheduler's limits, or None."""
    if isinstance(limits, objects.SchedulerLimits):
        return limits.numa_topology if 'numa_topology' in limits else None
    return (limits or {}).get('numa_topology')


def _try(method, bound, limits, node_key):
    """One claim with ``limits``, its slot on render node ``node_key``."""
    bound.arguments['limits'] = limits
    with slot_choice.choosing(node_key):
        return method(*bound.args, **bound.kwargs)


def _claim(tracker, method, bound, allocations_arg):
    """Claim on the best cell that holds guest and render node together."""
    instance = bound.arguments['instance']
    nodename = bound.arguments['nodename']
    limits = bound.arguments.get('limits')
    amount = slots_claimed(tracker, nodename,
                           bound.arguments.get(allocations_arg))
    if not amount:
        return method(*bound.args, **bound.kwargs)
    nodes = slot_choice.usage(tracker, nodename)
    packing = cell_limits.is_packing(_numa_limits(limits))
    ranked = slot_choice.ranked_cells(nodes, amount, packing)
    refused = []
    for cell, node in ranked:
        try:
            claim = _try(method, bound,
                         pinned_limits(tracker, nodename, limits, cell),
                         node.key)
        except exception.ComputeResourcesUnavailable as e:
            refused.append('cell %d: %s' % (cell, e))
            continue
        LOG.debug('Instance %s claimed on NUMA cell %d with render node %s.',
                  instance.uuid, cell, node.devnode or node.key)
        return claim
    flavor = _claim_flavor(bound.arguments)
    host = getattr(tracker, 'host', nodename)
    reason = ('no render node with %d free slot(s) on a NUMA cell of %s '
              'that can also hold the instance (%s)' % (
                  amount, host, '; '.join(refused) or
                  'no render node has room'))
    if policy.allows_split(flavor):
        node = slot_choice.best_node(nodes, amount, packing)
        if node is not None:
            LOG.warning('Instance %(instance)s: %(reason)s; as '
                        '%(key)s=%(preferred)s, claiming on any cell with '
                        'render node %(node)s on cell %(cell)s: its vCPUs '
                        'and RAM may sit on another cell than its render '
                        'node.',
                        {'instance': instance.uuid, 'reason': reason,
                         'key': names.AFFINITY_POLICY_KEY,
                         'preferred': names.POLICY_PREFERRED,
                         'node': node.devnode or node.key,
                         'cell': node.cell}, instance=instance)
            return _try(method, bound,
                        unpinned_limits(tracker, nodename, limits),
                        node.key)
    if policy.keeps_socket(flavor) and ranked:
        return _claim_on_socket(tracker, method, bound, ranked, reason)
    raise exception.ComputeResourcesUnavailable(reason=reason)


def _claim_on_socket(tracker, method, bound, ranked, reason):
    """Claim on another cell of a render node's socket, else fail.

    For ``gpu_numa:affinity_policy=socket`` only. A cell without socket
    information is its own socket (WARNING).
    """
    instance = bound.arguments['instance']
    nodename = bound.arguments['nodename']
    limits = bound.arguments.get('limits')
    topology = host_topology(tracker, nodename)
    for cell, node in ranked:
        socket_id = cell_limits.socket_of(topology, cell)
        if socket_id is None:
            LOG.warning('Instance %(instance)s: %(reason)s, and libvirt '
                        'reports no CPU socket for NUMA cell %(cell)d: '
                        '%(key)s=%(socket)s applies as %(required)s there.',
                        {'instance': instance.uuid, 'reason': reason,
                         'cell': cell, 'key': names.AFFINITY_POLICY_KEY,
                         'socket': names.POLICY_SOCKET,
                         'required': names.POLICY_REQUIRED},
                        instance=instance)
            continue
        if not cell_limits.socket_siblings(topology, cell):
            continue
        try:
            claim = _try(method, bound,
                         socket_limits(tracker, nodename, socket_id,
                                       limits), node.key)
        except exception.ComputeResourcesUnavailable:
            continue
        LOG.info('Instance %(instance)s: %(reason)s; as %(key)s=%(socket)s, '
                 'claimed on another cell of socket %(socket_id)d with '
                 'render node %(node)s on cell %(cell)d.',
                 {'instance': instance.uuid, 'reason': reason,
                  'key': names.AFFINITY_POLICY_KEY,
                  'socket': names.POLICY_SOCKET, 'socket_id': socket_id,
                  'node': node.devnode or node.key, 'cell': cell},
                 instance=instance)
        return claim
    raise exception.ComputeResourcesUnavailable(reason=reason)


def _wrap(method, allocations_arg):
    """Wrap a claim method that runs inside the tracker's lock."""
    signature = inspect.signature(method)

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        bound = signature.bind(self, *args, **kwargs)
        return _claim(self, method, bound, allocations_arg)

    setattr(wrapper, _WRAPPED_MARK, True)
    return wrapper


def _locked(method):
    """``method`` under the resource tracker's lock, as Nova runs it."""
    return utils.synchronized(resource_tracker.COMPUTE_RESOURCE_SEMAPHORE,
                              fair=True)(method)


def install():
    """Wrap the resource tracker's claim entry points (idempotent).

    ``instance_claim`` takes the tracker's lock itself: the wrapper goes
    inside it, around Nova's undecorated method, so that the render node
    account it reads cannot change before the claim. ``_move_claim`` is
    called with the lock held. Also confines Nova's fit to the pinned
    cell (``pinned_fit``), so that the claim does not inherit a page size
    chosen on another cell.
    """
    nova_compat.check(nova_compat.COMPUTE)
    pinned_fit.install()
    slot_choice.install()
    tracker = resource_tracker.ResourceTracker
    claim = tracker.__dict__['instance_claim']
    if not getattr(claim, _WRAPPED_MARK, False):
        ORIGINALS['instance_claim'] = claim
        tracker.instance_claim = _locked(_wrap(claim.__wrapped__,
                                               'allocations'))
    move = tracker.__dict__['_move_claim']
    if not getattr(move, _WRAPPED_MARK, False):
        ORIGINALS['_move_claim'] = move
        tracker._move_claim = _wrap(move, 'allocations')


def uninstall():
    """Put Nova's own claim methods back (stock comparisons, tests)."""
    tracker = resource_tracker.ResourceTracker
    for name, method in ORIGINALS.items():
        setattr(tracker, name, method)
