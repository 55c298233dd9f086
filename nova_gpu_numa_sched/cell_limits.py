"""Pin a NUMA fit to one host cell through the claim's NUMA limits.

Nova's NUMA fit only honours per-cell constraints for PCI devices and for
"physnets": a fit must pick host cells whose ``network_metadata.physnets``
hold every physnet in ``limits.network_metadata``. Each host cell carries
one token naming itself (added by the compute driver), so putting a cell's
token into the limits confines the fit to that cell. Real physnets of the
request are kept.
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


def pinned_numa_limits(numa_limits, cell_id, cpu_allocation_ratio,
                       ram_allocation_ratio, network_metadata=None):
    """Return a copy of NUMA limits that only a fit on ``cell_id`` passes.

    :param numa_limits: existing NUMATopologyLimits or None
    :param network_metadata: the request's own NetworkMetadata, used when
        there are no limits yet
    """
    if numa_limits is None:
        numa_limits = objects.NUMATopologyLimits(
            cpu_allocation_ratio=cpu_allocation_ratio,
            ram_allocation_ratio=ram_allocation_ratio)
        if network_metadata is not None:
            numa_limits.network_metadata = network_metadata
    else:
        numa_limits = copy.deepcopy(numa_limits)
    physnets, tunneled = set(), False
    if 'network_metadata' in numa_limits and numa_limits.network_metadata:
        metadata = numa_limits.network_metadata
        physnets = set(metadata.physnets) if 'physnets' in metadata else set()
        tunneled = metadata.tunneled if 'tunneled' in metadata else False
    physnets = {p for p in physnets if not names.is_cell_token(p)}
    physnets.add(names.cell_token(cell_id))
    numa_limits.network_metadata = objects.NetworkMetadata(
        physnets=physnets, tunneled=tunneled)
    return numa_limits
