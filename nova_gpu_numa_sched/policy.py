"""Read a flavor's ``gpu_numa:affinity_policy``; limits of a split guest.

Shared by nova-scheduler (which hosts may split a guest from its render
node's cell) and nova-compute (whether the claim and the driver accept such
a split), so that both read the extra spec the same way and build the same
unpinned claim limits.
"""

import copy

from nova import objects
from oslo_log import log as logging

from nova_gpu_numa_sched import names

LOG = logging.getLogger(__name__)


def affinity_policy(extra_specs):
    """The affinity policy named by flavor extra specs.

    ``required`` when the key is absent. nova-api validates the value, but
    a flavor written before the plugin was installed on nova-api, or
    through an API microversion older than 2.86, may hold anything: such a
    value is logged at ERROR, naming the key and the allowed values, and
    the strict ``required`` applies, so that a typo never loosens
    placement.
    """
    value = (extra_specs or {}).get(names.AFFINITY_POLICY_KEY)
    if value is None:
        return names.DEFAULT_AFFINITY_POLICY
    if value in names.AFFINITY_POLICIES:
        return value
    LOG.error("Flavor extra spec '%(key)s' is '%(value)s', not one of: "
              "%(allowed)s; applying '%(default)s'.",
              {'key': names.AFFINITY_POLICY_KEY, 'value': value,
               'allowed': ', '.join(names.AFFINITY_POLICIES),
               'default': names.DEFAULT_AFFINITY_POLICY})
    return names.DEFAULT_AFFINITY_POLICY


def flavor_policy(flavor):
    """The affinity policy of a Flavor object (``required`` if None)."""
    if flavor is None:
        return names.DEFAULT_AFFINITY_POLICY
    extra_specs = flavor.extra_specs if 'extra_specs' in flavor else None
    return affinity_policy(extra_specs)


def allows_split(flavor):
    """Whether the flavor lets its render node sit on another cell."""
    return flavor_policy(flavor) == names.POLICY_PREFERRED


def unpinned_numa_limits(numa_limits, cpu_allocation_ratio,
                         ram_allocation_ratio, network_metadata=None):
    """A copy of NUMA limits without any cell token: Nova's own claim.

    What a split placement (``preferred``) claims with: the allocation
    ratios and the request's real physnets and tunneled networks stay, the
    token that would confine the fit to the render node's cell goes.

    :param numa_limits: NUMATopologyLimits or None
    :param network_metadata: the request's own NetworkMetadata, used when
        there are no limits yet
    """
    if numa_limits is None:
        numa_limits = objects.NUMATopologyLimits(
            cpu_allocation_ratio=cpu_allocation_ratio,
            ram_allocation_ratio=ram_allocation_ratio)
        if network_metadata is not None:
            numa_limits.network_metadata = copy.deepcopy(network_metadata)
        return numa_limits
    numa_limits = copy.deepcopy(numa_limits)
    metadata = (numa_limits.network_metadata
                if 'network_metadata' in numa_limits else None)
    if metadata is not None and 'physnets' in metadata:
        metadata.physnets = {p for p in metadata.physnets
                             if not names.is_cell_token(p)}
    return numa_limits
