"""``nova-gpu-numa status``: slot usage of every render node, fleet-wide.

Since host-level slots, Placement only counts each compute node's render
slots; the render nodes (cell, usable slots, slots in use, load bucket) are
what each nova-compute publishes in its compute node's ``stats`` after
every claim, free and periodic update, and the instances holding each slot
are in their ``resources``. Both come from Nova's cell databases, one query
per cell each (``cmd.nova_db``), whatever the number of hosts; Placement is
not read, so the command works while Placement is down.
"""

import collections

from nova_gpu_numa_sched.cmd import common
from nova_gpu_numa_sched.cmd import nova_db
from nova_gpu_numa_sched.cmd import output
from nova_gpu_numa_sched import fleet_view
from nova_gpu_numa_sched import names

FORMATS = (output.FORMAT_TABLE, output.FORMAT_JSON, output.FORMAT_PROMETHEUS)

_METRICS = (
    ('slots_total', 'slots_total',
     'Usable render slots of the render node, as nova-compute published '
     'them (0: the GPU is gone, its held slots still count as used).'),
    ('slots_used', 'slots_used',
     'Render slots in use on the render node, as nova-compute published '
     'them.'),
    ('load_percent', 'load_bucket_percent',
     'Lower bound of the measured utilisation bucket nova-compute '
     'published.'),
)


def add_parser(subparsers):
    parser = subparsers.add_parser(
        'status', help='slot usage per host, cell and render node, from '
                       'the compute nodes and instances in Nova\'s '
                       'databases')
    parser.add_argument('--host', help='only this compute node')
    return parser


def _node_row(node, instances):
    return {
        'key': node.key,
        'pci_address': node.pci_address,
        'devnode': node.devnode,
        'cell': node.cell,
        'load_percent': node.load_percent,
        'slots_used': node.used,
        'slots_total': node.slots,
        'instances': instances,
    }


def collect(host=None):
    """The status data every format is rendered from (the JSON schema)."""
    nodes = nova_db.compute_nodes(host)
    if host and not nodes:
        raise common.CommandError(
            'Nova\'s databases have no compute node named %r (see '
            '"openstack hypervisor list")' % host)
    holders = nova_db.slot_holders(host)
    hosts = collections.OrderedDict()
    without, unreadable = [], []
    for node in sorted(nodes, key=lambda n: n.hypervisor_hostname):
        name = node.hypervisor_hostname
        try:
            render = fleet_view.render_nodes(
                name, fleet_view.stats_value(node.stats))
        except ValueError:
            unreadable.append(name)
            continue
        if not render:
            without.append(name)
            continue
        hosts[name] = {
            'host': name, 'compute_node_uuid': node.uuid,
            'render_nodes': [
                _node_row(rn, holders.get((node.uuid, rn.key), []))
                for rn in render]}
    if host and not hosts:
        hosts[host] = {'host': host, 'compute_node_uuid': nodes[0].uuid,
                       'render_nodes': []}
    return {'hosts': list(hosts.values()),
            'hosts_without_render_nodes': [] if host else without,
            'hosts_with_unreadable_render_nodes': unreadable}


def _load(value):
    return '-' if value is None else '%d%%' % value


def _listed(names_):
    return ', '.join(names_[:10]) + (', ...' if len(names_) > 10 else '')


def render_table(data):
    rows = []
    for host in data['hosts']:
        for node in host['render_nodes']:
            holders = ', '.join(item['name'] or item['uuid']
                                for item in node['instances'])
            rows.append([host['host'], node['cell'],
                         node['pci_address'] or node['devnode'] or
                         node['key'],
                         '%s/%s' % (output.cell(node['slots_used']),
                                    output.cell(node['slots_total'])),
                         _load(node['load_percent']), holders or '-'])
    text = output.table(
        ['HOST', 'CELL', 'RENDER NODE', 'SLOTS', 'LOAD', 'INSTANCES'], rows)
    without = data['hosts_without_render_nodes']
    if without:
        text += '\n\n%d compute node(s) report no render node: %s' % (
            len(without), _listed(without))
    unreadable = data.get('hosts_with_unreadable_render_nodes') or []
    if unreadable:
        text += ('\n\n%d compute node(s) published unreadable %s (see '
                 '"nova-gpu-numa check"): %s' % (
                     len(unreadable), names.RENDER_NODES_STAT,
                     _listed(unreadable)))
    return text + '\n'


def render_prometheus(data):
    nodes = []
    for host in data['hosts']:
        for node in host['render_nodes']:
            nodes.append(dict(node, host=host['host']))
    return output.prometheus_text(nodes, _METRICS)


def run(args):
    data = collect(args.host)
    if args.format == output.FORMAT_JSON:
        return common.EXIT_OK, output.to_json(data)
    if args.format == output.FORMAT_PROMETHEUS:
        return common.EXIT_OK, render_prometheus(data)
    return common.EXIT_OK, render_table(data)
