"""``nova-gpu-numa status``: slot usage of every render node, fleet-wide.

Capacity, usage, cell and load come from Placement in a fixed number of
calls (see ``nova_gpu_numa_sched.fleet_view``, shared with ``openstack gpu
render list``); the instances holding each slot from Nova's cell
databases, one query per cell (``instance.resources`` names the slot and
its provider, as the compute host's ``held_slots`` reads it).
"""

import collections

from nova_gpu_numa_sched.cmd import common
from nova_gpu_numa_sched.cmd import output
from nova_gpu_numa_sched.cmd import placement as placement_cmd
from nova_gpu_numa_sched.compute import held_slots
from nova_gpu_numa_sched.compute import placement_report

FORMATS = (output.FORMAT_TABLE, output.FORMAT_JSON, output.FORMAT_PROMETHEUS)

_METRICS = (
    ('slots_total', 'slots_total',
     'Render slots Placement offers on the render node (capacity).'),
    ('slots_used', 'slots_used', 'Render slots allocated in Placement.'),
    ('load_percent', 'load_bucket_percent',
     'Lower bound of the reported utilisation bucket (CUSTOM_GPU_LOAD_*).'),
)


def add_parser(subparsers):
    parser = subparsers.add_parser(
        'status', help='slot usage per host, cell and render node, from '
                       'Placement and Nova\'s databases')
    parser.add_argument('--host', help='only this compute node')
    return parser


def _instances_in_cell(cctxt, host):
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
    """{provider uuid: [{'uuid', 'name', 'slot'}]}, one query per cell."""
    from nova import context as nova_context
    ctxt = nova_context.get_admin_context()
    results = nova_context.scatter_gather_all_cells(
        ctxt, _instances_in_cell, host)
    holders = collections.defaultdict(list)
    for cell_uuid, result in results.items():
        if not nova_context.is_cell_failure_sentinel(result):
            for rp_uuid, identifier, uuid, name in result:
                holders[rp_uuid].append({
                    'uuid': uuid, 'name': name,
                    'slot': placement_report.parse_slot(identifier)[1]})
            continue
        raise common.CommandError(
            'cell %s of Nova\'s databases did not answer: %s' % (
                cell_uuid, result))
    for items in holders.values():
        items.sort(key=lambda item: item['slot'])
    return dict(holders)


def collect(placement, host=None):
    """The status data every format is rendered from (the JSON schema)."""
    fleet = placement.fleet(host)
    holders = slot_holders(host)
    hosts = collections.OrderedDict()
    for name in sorted(set(fleet.roots.values()) if not host else [host]):
        hosts[name] = {'host': name, 'render_nodes': []}
    for rp in fleet.render:
        instances = holders.get(rp.uuid, [])
        used, total = rp.used, rp.capacity
        if not rp.summarised:
            # No free slot, so absent from Placement's summaries: usage
            # equals capacity; count the slots instances hold.
            used = total = len(instances)
        hosts[rp.host]['render_nodes'].append({
            'provider_name': rp.name,
            'provider_uuid': rp.uuid,
            'key': rp.key,
            'pci_address': rp.pci_address,
            'devnode': rp.devnode,
            'cell': rp.cell,
            'load_percent': rp.load_percent,
            'slots_used': used,
            'slots_total': total,
            'instances': instances,
        })
    return {'hosts': [h for h in hosts.values() if h['render_nodes'] or host],
            'hosts_without_render_nodes': fleet.hosts_without_render()
            if not host else []}


def _load(value):
    return '-' if value is None else '%d%%' % value


def render_table(data):
    rows = []
    for host in data['hosts']:
        for node in host['render_nodes']:
            names = ', '.join(item['name'] or item['uuid']
                              for item in node['instances'])
            rows.append([host['host'], node['cell'],
                         node['pci_address'] or node['devnode'] or
                         node['key'],
                         '%s/%s' % (output.cell(node['slots_used']),
                                    output.cell(node['slots_total'])),
                         _load(node['load_percent']), names or '-'])
    text = output.table(
        ['HOST', 'CELL', 'RENDER NODE', 'SLOTS', 'LOAD', 'INSTANCES'], rows)
    without = data['hosts_without_render_nodes']
    if without:
        text += '\n\n%d compute node(s) report no render node: %s' % (
            len(without), ', '.join(without[:10]) +
            (', ...' if len(without) > 10 else ''))
    return text + '\n'


def render_prometheus(data):
    nodes = []
    for host in data['hosts']:
        for node in host['render_nodes']:
            nodes.append(dict(node, host=host['host']))
    return output.prometheus_text(nodes, _METRICS)


def run(args, placement_factory=placement_cmd.Placement):
    data = collect(placement_factory(), args.host)
    if args.format == output.FORMAT_JSON:
        return common.EXIT_OK, output.to_json(data)
    if args.format == output.FORMAT_PROMETHEUS:
        return common.EXIT_OK, render_prometheus(data)
    return common.EXIT_OK, render_table(data)
