"""Pin a NUMA fit to one host cell through the claim's NUMA limits.

Nova's NUMA fit only honours per-cell constraints for PCI devices and for
"physnets": a fit must pick host cells whose ``network_metadata.physnets``
hold every physnet in ``limits.network_metadata``. Each host cell carries
one token naming itself (added by the compute driver), so putting a cell's
token into the limits confines the fit to that cell; leaving every token
out (a ``preferred`` split) gives Nova's own fit back. Real physnets of
the request are kept either way.

A host cell whose socket libvirt reports also carries a token naming its
socket: putting that one into the limits confines the fit to the cells of
that socket (``gpu_numa:affinity_policy=socket``). A cell without socket
information carries none, so no socket-pinned fit can choose it.
"""

import copy

from nova import objects

from nova_gpu_numa_sched import names


def add_cell_tokens(host_topology):
    """Give every host cell the tokens that name it and its socket."""
    if not host_topology:
        return host_topology
    for cell in host_topology.cells:
        if 'network_metadata' not in cell or cell.network_metadata is None:
            cell.network_metadata = objects.NetworkMetadata(
                physnets=set(), tunneled=False)
        physnets = set(cell.network_metadata.physnets)
        physnets.add(names.cell_token(cell.id))
        physnets.add(names.PACK_TOKEN)
        socket_id = cell_socket(cell)
        if socket_id is not None:
            physnets.add(names.socket_token(socket_id))
        cell.network_metadata.physnets = physnets
    return host_topology


def cell_socket(cell):
    """The socket of a host NUMACell, None when libvirt reported none.

    Nova's libvirt driver leaves it unset when the cell's CPUs report
    several sockets (or a host reports none).
    """
    return cell.socket if 'socket' in cell else None


def _token_socket(cell):
    """The socket named by the token a host cell carries, or None."""
    physnets = ()
    if 'network_metadata' in cell and cell.network_metadata is not None:
        physnets = cell.network_metadata.physnets
    for name in physnets:
        suffix = name[len(names.SOCKET_TOKEN_PREFIX):]
        if names.is_socket_token(name) and suffix.isdigit():
            return int(suffix)
    return None


def socket_of(host_topology, cell_id):
    """The socket a claim may pin host cell ``cell_id``'s guests to.

    Read from the cell's socket token, not from its ``socket`` field: a
    socket-pinned fit can only choose cells that carry the token, and a
    host whose nova-compute predates the tokens then counts as having no
    socket information, as its claims do. None if unknown or no such cell.
    """
    for cell in (host_topology.cells if host_topology else ()):
        if cell.id == cell_id:
            return _token_socket(cell)
    return None


def socket_siblings(host_topology, cell_id):
    """Ids of the other host cells on the socket of cell ``cell_id``.

    Empty when that cell's socket is unknown: such a cell is its own
    socket only.
    """
    socket_id = socket_of(host_topology, cell_id)
    if socket_id is None:
        return []
    return [cell.id for cell in host_topology.cells
            if cell.id != cell_id and _token_socket(cell) == socket_id]


def _limits_copy(numa_limits, cpu_allocation_ratio, ram_allocation_ratio,
                 network_metadata):
    """A copy of NUMA limits, or new ones from the ratios and request."""
    if numa_limits is not None:
        return copy.deepcopy(numa_limits)
    numa_limits = objects.NUMATopologyLimits(
        cpu_allocation_ratio=cpu_allocation_ratio,
        ram_allocation_ratio=ram_allocation_ratio)
    if network_metadata is not None:
        numa_limits.network_metadata = copy.deepcopy(network_metadata)
    return numa_limits


def _network(numa_limits):
    """(a copy of the physnets, tunneled) of NUMA limits."""
    physnets, tunneled = set(), False
    if 'network_metadata' in numa_limits and numa_limits.network_metadata:
        metadata = numa_limits.network_metadata
        physnets = set(metadata.physnets) if 'physnets' in metadata else set()
        tunneled = metadata.tunneled if 'tunneled' in metadata else False
    return physnets, tunneled


def _real_physnets(numa_limits):
    """(physnets without cell tokens, tunneled) of NUMA limits."""
    physnets, tunneled = _network(numa_limits)
    return {p for p in physnets if not names.is_pin_token(p)}, tunneled


def _token_limits(numa_limits, token, cpu_allocation_ratio,
                  ram_allocation_ratio, network_metadata):
    """A copy of NUMA limits whose only pin token is ``token``."""
    numa_limits = _limits_copy(numa_limits, cpu_allocation_ratio,
                               ram_allocation_ratio, network_metadata)
    physnets, tunneled = _real_physnets(numa_limits)
    physnets.add(token)
    numa_limits.network_metadata = objects.NetworkMetadata(
        physnets=physnets, tunneled=tunneled)
    return numa_limits


def pinned_numa_limits(numa_limits, cell_id, cpu_allocation_ratio,
                       ram_allocation_ratio, network_metadata=None):
    """Return a copy of NUMA limits that only a fit on ``cell_id`` passes.

    :param numa_limits: existing NUMATopologyLimits or None
    :param network_metadata: the request's own NetworkMetadata, used when
        there are no limits yet
    """
    return _token_limits(numa_limits, names.cell_token(cell_id),
                         cpu_allocation_ratio, ram_allocation_ratio,
                         network_metadata)


def socket_numa_limits(numa_limits, socket_id, cpu_allocation_ratio,
                       ram_allocation_ratio, network_metadata=None):
    """Return a copy of NUMA limits that only a fit on ``socket_id`` passes.

    A one-cell guest must then sit on a cell of that socket; a guest of
    several cells must have one of its cells there (the rule Nova applies
    to PCI devices with the ``socket`` NUMA affinity policy). Arguments as
    for ``pinned_numa_limits``.
    """
    return _token_limits(numa_limits, names.socket_token(socket_id),
                         cpu_allocation_ratio, ram_allocation_ratio,
                         network_metadata)


def unpinned_numa_limits(numa_limits, cpu_allocation_ratio,
                         ram_allocation_ratio, network_metadata=None):
    """Return a copy of NUMA limits without any cell token: Nova's own.

    What a split placement (``gpu_numa:affinity_policy=preferred``) claims
    with: the allocation ratios and the request's real physnets and
    tunneled networks stay, the token that would confine the fit to the
    render node's cell goes.

    :param numa_limits: existing NUMATopologyLimits or None
    :param network_metadata: the request's own NetworkMetadata, used when
        there are no limits yet
    """
    numa_limits = _limits_copy(numa_limits, cpu_allocation_ratio,
                               ram_allocation_ratio, network_metadata)
    if 'network_metadata' in numa_limits and numa_limits.network_metadata:
        physnets, tunneled = _real_physnets(numa_limits)
        numa_limits.network_metadata = objects.NetworkMetadata(
            physnets=physnets, tunneled=tunneled)
    return numa_limits


def with_packing(numa_limits, packing):
    """NUMA limits that tell the compute claim to pack (or not).

    Every host cell carries ``names.PACK_TOKEN``, so the token never
    changes which cells a fit may choose; it only travels to the claim.
    """
    if numa_limits is None:
        return None
    physnets, tunneled = _network(numa_limits)
    if packing:
        physnets.add(names.PACK_TOKEN)
    else:
        physnets.discard(names.PACK_TOKEN)
    numa_limits.network_metadata = objects.NetworkMetadata(
        physnets=physnets, tunneled=tunneled)
    return numa_limits


def is_packing(numa_limits):
    """Whether the scheduler asked this claim to pack."""
    if numa_limits is None:
        return False
    return names.PACK_TOKEN in _network(numa_limits)[0]
