"""Compute nodes and slot holders from Nova's cell databases.

What ``status`` and ``check`` read besides Placement: one query per cell
database for the compute nodes (their ``stats`` carry the render nodes
nova-compute published) and one for the instances (their ``resources``
name the render slot each holds), whatever the number of hosts.
"""

import collections

from nova_gpu_numa_sched.cmd import common
from nova_gpu_numa_sched.compute import held_slots
from nova_gpu_numa_sched.compute import placement_report


def _gather(read, *args):
    """Results of read(cctxt, *args) in every cell, concatenated."""
    from nova import context as nova_context
    results = nova_context.scatter_gather_all_cells(
        nova_context.get_admin_context(), read, *args)
    found = []
    for cell_uuid, result in sorted(results.items()):
        if nova_context.is_cell_failure_sentinel(result):
            raise common.CommandError(
                'cell %s of Nova\'s databases did not answer: %s' % (
                    cell_uuid, result))
        found.extend(result)
    return found


def _nodes_in_cell(cctxt, host):
    from nova import exception
    from nova import objects
    if host is None:
        return list(objects.ComputeNodeList.get_all(cctxt))
    try:
        return list(objects.ComputeNodeList.get_all_by_host(cctxt, host))
    except exception.ComputeHostNotFound:
        return []


def compute_nodes(host=None):
    """The ComputeNodes of every cell (of ``host`` only, when given)."""
    return _gather(_nodes_in_cell, host)


def _holders_in_cell(cctxt, host):
    from nova import objects
    filters = {'deleted': False}
    if host:
        filters['host'] = host
    instances = objects.InstanceList.get_by_filters(
        cctxt, filters, expected_attrs=['resources'])
    held = []
    for instance in instances:
        for res in held_slots.render_resources(instance.resources):
            held.append((res.provider_uuid, res.identifier, instance.uuid,
                         instance.display_name))
    return held


def slot_holders(host=None):
    """{(compute node uuid, render node key): [{'uuid', 'name', 'slot'}]}.

    Sorted by slot. The provider of a slot is the compute node's own.
    """
    holders = collections.defaultdict(list)
    for rp_uuid, identifier, uuid, name in _gather(_holders_in_cell, host):
        key, slot = placement_report.parse_slot(identifier)
        holders[(rp_uuid, key)].append({'uuid': uuid, 'name': name,
                                        'slot': slot})
    for items in holders.values():
        items.sort(key=lambda item: item['slot'])
    return dict(holders)
