"""Pin a NUMA fit to one host cell through the claim's NUMA limits.

Nova's NUMA fit only honours per-cell constraints for PCI devices and for
"physnets": a fit must pick host cells whose ``network_metadata.physnets``
hold every physnet in ``limits.network_metadata``. Each host cell carries
one token naming itself (added by the compute driver), so putting a cell's
token into the limits confines the fit to that cell; leaving every token
out (a ``preferred`` split) gives Nova's own fit back. Real physnets of
the request are kept either way.
"""

import copy

from nova import objects

from nova_gpu_numa_sched import names


def add_cell_tokens(host_topology):
    """Give every host cell the token that names it."""
    if not host_topology:
        return host_topology
    for cell in host_topology.cells:
        if 'network_metadata' not in cell or cell.network_metadata is None:
            cell.network_metadata = objects.NetworkMetadata(
                physnets=set(), tunneled=False)
        physnets = set(cell.network_metadata.physnets)
        physnets.add(names.cell_token(cell.id))
        cell.network_metadata.physnets = physnets
    return host_topology


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


def _real_physnets(numa_limits):
    """(physnets without cell tokens, tunneled) of NUMA limits."""
    physnets, tunneled = set(), False
    if 'network_metadata' in numa_limits and numa_limits.network_metadata:
        metadata = numa_limits.network_metadata
        physnets = set(metadata.physnets) if 'physnets' in metadata else set()
        tunneled = metadata.tunneled if 'tunneled' in metadata else False
    return {p for p in physnets if not names.is_cell_token(p)}, tunneled


def pinned_numa_limits(numa_limits, cell_id, cpu_allocation_ratio,
                       ram_allocation_ratio, network_metadata=None):
    """Return a copy of NUMA limits that only a fit on ``cell_id`` passes.

    :param numa_limits: existing NUMATopologyLimits or None
    :param network_metadata: the request's own NetworkMetadata, used when
        there are no limits yet
    """
    numa_limits = _limits_copy(numa_limits, cpu_allocation_ratio,
                               ram_allocation_ratio, network_metadata)
    physnets, tunneled = _real_physnets(numa_limits)
    physnets.add(names.cell_token(cell_id))
    numa_limits.network_metadata = objects.NetworkMetadata(
        physnets=physnets, tunneled=tunneled)
    return numa_limits


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
