"""Make every compute claim land on the NUMA cell of its render node.

The scheduler's limits are shared by all instances of a multi-create that
land on one host and are absent for forced moves, so they cannot carry the
cell. The instance's own Placement allocation can: it names the render
node provider, whose ``CUSTOM_NUMA_NODE_<N>`` trait names the cell. This
module wraps the two resource-tracker entry points that receive that
allocation (``instance_claim`` and ``_move_claim``, which serves rebuild,
evacuate, resize, cold and live migration) and pins their NUMA limits to
that cell. It is the hook Nova lacks for non-PCI devices; delete it when
Nova lets a driver constrain the claim's NUMA fit.

A guest of several cells gets the same token: Nova's fit then must choose
the render node's cell as one of the guest's. For a flavor with
``gpu_numa:affinity_policy=preferred`` a pinned claim that does not fit is
retried once without the pin (WARNING); with ``socket`` it is retried once
pinned to the render node's socket (INFO), never outside it; ``required``
stays as strict.
"""

import functools
import inspect

from nova.compute import resource_tracker
from nova import exception
from nova import objects
from oslo_log import log as logging

from nova_gpu_numa_sched import cell_limits
from nova_gpu_numa_sched import names
from nova_gpu_numa_sched import nova_compat
from nova_gpu_numa_sched import pinned_fit
from nova_gpu_numa_sched import policy

LOG = logging.getLogger(__name__)

_WRAPPED_MARK = '_gpu_numa_cell_pinned'


def render_cells(provider_tree, allocations):
    """Return the NUMA cells of the render providers in ``allocations``.

    Providers outside this host's tree (the source side of an evacuation)
    are ignored.
    """
    cells = set()
    for rp_uuid, alloc in (allocations or {}).items():
        if names.RESOURCE_CLASS not in alloc.get('resources', {}):
            continue
        if provider_tree is None or not provider_tree.exists(rp_uuid):
            continue
        cell = names.cell_from_traits(provider_tree.data(rp_uuid).traits)
        if cell is None:
            raise exception.ComputeResourcesUnavailable(
                reason='render node provider %s has no %s trait' % (
                    rp_uuid, names.NUMA_TRAIT_PREFIX + '<N>'))
        cells.add(cell)
    return cells


def pin_limits(tracker, instance, nodename, allocations, limits):
    """Return ``limits`` pinned to the render node's cell, if any."""
    cells = render_cells(tracker.provider_tree, allocations)
    if not cells:
        return limits
    if len(cells) > 1:
        raise exception.ComputeResourcesUnavailable(
            reason='the render nodes allocated to instance %s are on '
                   'different NUMA cells %s' % (instance.uuid,
                                                sorted(cells)))
    cell = cells.pop()
    limits = _with_numa_limits(
        tracker, nodename, limits,
        lambda numa_limits, cpu_ratio, ram_ratio:
            cell_limits.pinned_numa_limits(numa_limits, cell, cpu_ratio,
                                           ram_ratio))
    LOG.debug('Claim for instance %s pinned to NUMA cell %d, the cell of '
              'its render node.', instance.uuid, cell)
    return limits


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


def _claim_preferring_cell(tracker, method, bound, allocations_arg):
    """Claim on the render node's cell, else anywhere, with a WARNING.

    For ``gpu_numa:affinity_policy=preferred`` only. A claim that fails
    its test raises from the Claim constructor before the tracker records
    anything (a move's existing migration record is only re-saved with
    the same destination), so it can be retried.
    """
    instance = bound.arguments['instance']
    nodename = bound.arguments['nodename']
    limits = bound.arguments.get('limits')
    try:
        cells = render_cells(tracker.provider_tree,
                             bound.arguments.get(allocations_arg))
    except exception.ComputeResourcesUnavailable as e:
        cells, reason = None, e
    if cells == set():
        # No render slot on this host: nothing to pin or to relax.
        return method(*bound.args, **bound.kwargs)
    if cells is not None:
        try:
            bound.arguments['limits'] = pin_limits(
                tracker, instance, nodename,
                bound.arguments.get(allocations_arg), limits)
            return method(*bound.args, **bound.kwargs)
        except exception.ComputeResourcesUnavailable as e:
            reason = e
    LOG.warning('Instance %(instance)s cannot be claimed on the NUMA cell '
                '%(cells)s of its render node on host %(host)s (%(reason)s); '
                'as %(key)s=%(preferred)s, claiming on any cell: its vCPUs '
                'and RAM may sit on another cell than its render node.',
                {'instance': instance.uuid,
                 'cells': ', '.join(str(c) for c in sorted(cells or ())) or
                 'unknown', 'host': getattr(tracker, 'host', nodename),
                 'reason': reason, 'key': names.AFFINITY_POLICY_KEY,
                 'preferred': names.POLICY_PREFERRED},
                instance=instance)
    bound.arguments['limits'] = unpinned_limits(tracker, nodename, limits)
    return method(*bound.args, **bound.kwargs)


def _claim_on_socket(tracker, method, bound, allocations_arg):
    """Claim on the render node's cell, else on another cell of its socket.

    For ``gpu_numa:affinity_policy=socket`` only; retried as the
    ``preferred`` claim is. A cell without socket information is its own
    socket: the pinned claim's failure stands, with a WARNING.
    """
    instance = bound.arguments['instance']
    nodename = bound.arguments['nodename']
    limits = bound.arguments.get('limits')
    allocations = bound.arguments.get(allocations_arg)
    bound.arguments['limits'] = pin_limits(tracker, instance, nodename,
                                           allocations, limits)
    try:
        return method(*bound.args, **bound.kwargs)
    except exception.ComputeResourcesUnavailable as e:
        cells = render_cells(tracker.provider_tree, allocations)
        if not cells:
            raise
        reason = e
    cell = cells.pop()
    host = getattr(tracker, 'host', nodename)
    topology = host_topology(tracker, nodename)
    socket_id = cell_limits.socket_of(topology, cell)
    if socket_id is not None and not cell_limits.socket_siblings(topology,
                                                                  cell):
        # The only cell of its socket: nothing else to try.
        raise reason
    if socket_id is None:
        LOG.warning('Instance %(instance)s cannot be claimed on NUMA cell '
                    '%(cell)d of its render node on host %(host)s '
                    '(%(reason)s), and libvirt reports no CPU socket for '
                    'that cell: %(key)s=%(socket)s applies as %(required)s.',
                    {'instance': instance.uuid, 'cell': cell, 'host': host,
                     'reason': reason, 'key': names.AFFINITY_POLICY_KEY,
                     'socket': names.POLICY_SOCKET,
                     'required': names.POLICY_REQUIRED}, instance=instance)
        raise reason
    LOG.info('Instance %(instance)s cannot be claimed on NUMA cell %(cell)d '
             'of its render node on host %(host)s (%(reason)s); as '
             '%(key)s=%(socket)s, claiming on another cell of socket '
             '%(socket_id)d.',
             {'instance': instance.uuid, 'cell': cell, 'host': host,
              'reason': reason, 'key': names.AFFINITY_POLICY_KEY,
              'socket': names.POLICY_SOCKET, 'socket_id': socket_id},
             instance=instance)
    bound.arguments['limits'] = socket_limits(tracker, nodename, socket_id,
                                              limits)
    return method(*bound.args, **bound.kwargs)


def _wrap(method, allocations_arg):
    signature = inspect.signature(method)

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        bound = signature.bind(self, *args, **kwargs)
        flavor = _claim_flavor(bound.arguments)
        if policy.allows_split(flavor):
            return _claim_preferring_cell(self, method, bound,
                                          allocations_arg)
        if policy.keeps_socket(flavor):
            return _claim_on_socket(self, method, bound, allocations_arg)
        bound.arguments['limits'] = pin_limits(
            self, bound.arguments['instance'], bound.arguments['nodename'],
            bound.arguments.get(allocations_arg),
            bound.arguments.get('limits'))
        return method(*bound.args, **bound.kwargs)

    setattr(wrapper, _WRAPPED_MARK, True)
    return wrapper


def install():
    """Wrap the resource tracker's claim entry points (idempotent).

    Also confines Nova's fit to the pinned cell (``pinned_fit``), so that
    the claim does not inherit a page size chosen on another cell.
    """
    nova_compat.check(nova_compat.COMPUTE)
    pinned_fit.install()
    tracker = resource_tracker.ResourceTracker
    for name in ('instance_claim', '_move_claim'):
        method = getattr(tracker, name)
        if not getattr(method, _WRAPPED_MARK, False):
            setattr(tracker, name, _wrap(method, 'allocations'))
