"""Read a flavor's ``gpu_numa:affinity_policy``.

Shared by nova-scheduler (which hosts may split a guest from its render
node's cell) and nova-compute (whether the claim and the driver accept such
a split), so that both read the extra spec the same way.
"""

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


def keeps_socket(flavor):
    """Whether the flavor lets its guest sit on a sibling cell of the socket.

    ``socket``: the guest may sit on another cell of its render node's
    socket when the render node's own cell cannot hold it.
    """
    return flavor_policy(flavor) == names.POLICY_SOCKET
