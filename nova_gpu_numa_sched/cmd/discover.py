"""``nova-gpu-numa discover``: what this compute host will report, and why.

Runs the compute driver's own steps over its own libvirt connection
(``[libvirt] connection_uri``): discovery, ``[gpu_numa] device_spec``,
utilisation, slots and traits. Nothing is written anywhere.
``--instances`` adds the GPU use of each running instance (``instances``).
"""

import argparse
import textwrap
import time

from lxml import etree

from nova_gpu_numa_sched.cmd import common
from nova_gpu_numa_sched.cmd import instances as instances_cmd
from nova_gpu_numa_sched.cmd import output
from nova_gpu_numa_sched.compute import device_spec
from nova_gpu_numa_sched.compute import discovery
from nova_gpu_numa_sched.compute import placement_report
from nova_gpu_numa_sched.compute import utilization
from nova_gpu_numa_sched.compute.utilization import fdinfo

#: How long discover samples DRM fdinfo busy time (see _measure).
FDINFO_SAMPLE_SECONDS = 1.0
#: Longest --interval; a job run every minute wants less than 60.
MAX_INTERVAL_SECONDS = 300.0

#: Where the readers look; a test points them at fake trees.
PROC_ROOT = '/proc'
SYSFS_ROOT = '/sys'

FORMATS = (output.FORMAT_TABLE, output.FORMAT_JSON, output.FORMAT_PROMETHEUS)

_METRICS = (
    ('slots', 'slots_total', 'Render slots the host reports for the node.'),
    ('utilization_percent', 'utilization_percent',
     'Measured GPU utilisation in percent (busy or VRAM, the larger).'),
)
_HOST_METRICS = (
    ('left_out', 'render_nodes_left_out',
     'Render nodes found but not reported (see nova-gpu-numa discover).'),
)


def _interval(text):
    try:
        value = float(text)
    except ValueError:
        value = None
    if value is None or not 0 < value <= MAX_INTERVAL_SECONDS:
        raise argparse.ArgumentTypeError(
            'must be a number of seconds above 0 and at most %g, not %r'
            % (MAX_INTERVAL_SECONDS, text))
    return value


def add_parser(subparsers):
    parser = subparsers.add_parser(
        'discover', help='on a compute host: NUMA cells and render nodes as '
                         'the compute driver will report them')
    parser.add_argument(
        '--instances', action='store_true',
        help='also the GPU use of each running instance, busiest first '
             '(needs root or CAP_SYS_PTRACE to read QEMU\'s files)')
    parser.add_argument(
        '--interval', type=_interval, default=FDINFO_SAMPLE_SECONDS,
        metavar='SECONDS',
        help='seconds between the two reads of DRM fdinfo busy time '
             '(default: %g)' % FDINFO_SAMPLE_SECONDS)
    return parser


def _sleep(seconds):
    """Wait between two fdinfo reads; a test replaces it to step time."""
    time.sleep(seconds)


def libvirt_uri():
    """The URI nova-compute's libvirt driver connects to."""
    from nova.virt.libvirt import driver as libvirt_driver
    return libvirt_driver.LibvirtDriver._uri()


def open_connection(uri):
    try:
        import libvirt
    except ImportError as e:
        raise common.CommandError(
            'the libvirt Python binding is not installed (%s)' % e)
    libvirt.registerErrorHandler(lambda ctx, err: None, None)
    try:
        return libvirt.openReadOnly(uri)
    except libvirt.libvirtError as e:
        raise common.CommandError(
            'cannot connect to libvirt at %s ([libvirt] connection_uri): %s'
            % (uri, ' '.join(str(e).split())))


def host_cells(capabilities_xml):
    """[{'id', 'cpus', 'memory_mb'}] of the host's NUMA cells, as libvirt's
    capabilities report them (what Nova's host topology is built from).
    """
    tree = etree.fromstring(capabilities_xml)
    cells = []
    for cell in tree.findall('./host/topology/cells/cell'):
        memory = cell.find('memory')
        memory_mb = None
        if memory is not None and memory.text:
            kib = int(memory.text)
            unit = memory.get('unit', 'KiB')
            memory_mb = kib // 1024 if unit == 'KiB' else None
        cells.append({'id': int(cell.get('id')),
                      'cpus': len(cell.findall('./cpus/cpu')),
                      'memory_mb': memory_mb})
    return sorted(cells, key=lambda c: c['id'])


def _measure(nodes, sysfs_root, reader, sample_seconds, observed=False):
    """{render node key: GpuUtilization or None}, as the driver reads them.

    DRM fdinfo gives busy time, so its utilisation needs two samples; the
    driver takes them a periodic update apart, this command
    ``sample_seconds`` apart, and only when the first read left a node
    unknown. ``observed``: the reader has just taken both samples (for
    the instances); its read answers from them, with no third walk.
    """
    utils = utilization.read_all(nodes, sysfs_root, reader)
    if not observed and sample_seconds and reader.available() and any(
            util is None or util.busy_percent is None
            for util in utils.values()):
        _sleep(sample_seconds)
        utils = utilization.read_all(nodes, sysfs_root, reader)
    return utils


def collect(conn, conf, uri=None, sysfs_root='/sys', proc_root='/proc',
            instances=False, interval=FDINFO_SAMPLE_SECONDS):
    """The discover data every format is rendered from (the JSON schema)."""
    try:
        hostname = conn.getHostname()
        cells = host_cells(conn.getCapabilities())
        found = discovery.discover_render_nodes(conn)
    except discovery.DiscoveryError as e:
        raise common.CommandError(str(e))
    except Exception as e:
        raise common.CommandError(
            'libvirt at %s could not describe the host: %s' % (
                uri or 'the configured URI', ' '.join(str(e).split())))
    try:
        entries = device_spec.parse(conf.gpu_numa.device_spec)
    except Exception as e:
        raise common.CommandError(str(e))
    cell_ids = [c['id'] for c in cells]
    result = device_spec.resolve_detailed(
        found, entries, cell_ids, conf.gpu_numa.slots_per_gpu)
    width = conf.gpu_numa.load_bucket_percent
    # One reader: with --instances its two walks of /proc give both the
    # instances' use and the render nodes' load.
    reader = fdinfo.FdinfoReader(proc_root,
                                 min_window_ns=int(interval * 1000 ** 3))
    usage = None
    if instances:
        usage = instances_cmd.collect(conn, result.exposed, reader, _sleep,
                                      interval, sysfs_root)
    utils = _measure(result.exposed, sysfs_root, reader, interval,
                     observed=instances)
    nodes = []
    for node in result.exposed:
        util = utils.get(node.key)
        bucket = utilization.load_bucket_for(util, width)
        nodes.append({
            'devnode': node.devnode,
            'key': node.key,
            'pci_address': node.pci_address,
            'vendor_id': node.vendor_id,
            'product_id': node.product_id,
            'cell': node.numa_node,
            'cell_source': result.numa_source[node.key],
            'slots': node.slots,
            'utilization_percent': util.percent if util else None,
            'compute_node': hostname,
            'load_bucket': bucket,
            'traits': sorted(placement_report.node_traits(node)),
        })
    left_out = [{'devnode': left.node.devnode,
                 'pci_address': left.node.pci_address,
                 'firmware_cell': left.node.numa_node,
                 'reason': left.kind,
                 'detail': left.reason,
                 'fix': left.fix}
                for left in result.left_out]
    data = {'host': hostname, 'libvirt_uri': uri, 'cells': cells,
            'render_nodes': nodes, 'left_out': left_out}
    if usage is not None:
        data.update(usage)
    return data


def _id_pair(node):
    if not node['vendor_id']:
        return None
    return '%s:%s' % (node['vendor_id'].replace('0x', ''),
                      (node['product_id'] or '?').replace('0x', ''))


def render_table(data):
    lines = ['Host %s (libvirt %s)' % (data['host'], data['libvirt_uri'])]
    if data['cells']:
        lines.append(output.table(
            ['CELL', 'CPUS', 'MEMORY MB'],
            [[c['id'], c['cpus'], c['memory_mb']] for c in data['cells']]))
    else:
        lines.append('libvirt reports no NUMA cells: the driver treats the '
                     'host as one cell 0.')
    lines.append('')
    lines.append(output.table(
        ['DEVNODE', 'PCI', 'ID', 'CELL', 'FROM', 'SLOTS', 'UTIL'],
        [[n['devnode'], n['pci_address'], _id_pair(n), n['cell'],
          n['cell_source'], n['slots'],
          None if n['utilization_percent'] is None
          else '%.0f%%' % n['utilization_percent']]
         for n in data['render_nodes']]))
    for node in data['render_nodes']:
        lines.append('')
        lines.append('%s -> %d slot(s) %s on compute node %s' % (
            node['devnode'], node['slots'] or 0,
            placement_report.slot_pattern(node['key']),
            node['compute_node']))
        lines.extend(textwrap.wrap(
            ' '.join(node['traits']), 78, initial_indent='  traits: ',
            subsequent_indent='          '))
    if data['left_out']:
        lines.append('')
        lines.append('Left out (not reported to Placement):')
        for left in data['left_out']:
            lines.extend(textwrap.wrap('%s%s %s' % (
                left['devnode'],
                ' (%s)' % left['pci_address'] if left['pci_address'] else '',
                left['detail']), 78, initial_indent='  ',
                subsequent_indent='    '))
            # The JSON of a fix is copied into nova.conf: keep it whole.
            text, brace, example = left['fix'].partition('{')
            lines.extend(textwrap.wrap(
                text, 78, initial_indent='    fix: ',
                subsequent_indent='      ', break_on_hyphens=False))
            if brace:
                lines.append('      ' + brace + example)
    if not data['render_nodes'] and not data['left_out']:
        lines.append('No DRM render node found.')
    text = '\n'.join(lines) + '\n'
    if 'instances' in data:
        text += '\n' + instances_cmd.render_table(data)
    return text


def render_prometheus(data):
    nodes = [dict(node, host=data['host']) for node in data['render_nodes']]
    extra = (instances_cmd.prometheus_families(data['host'], data)
             if 'instances' in data else ())
    return output.prometheus_text(
        nodes, _METRICS, _HOST_METRICS,
        [{'host': data['host'], 'left_out': len(data['left_out'])}], extra)


def run(args, conf):
    uri = libvirt_uri()
    conn = open_connection(uri)
    try:
        data = collect(conn, conf, uri, SYSFS_ROOT, PROC_ROOT,
                       args.instances, args.interval)
    finally:
        try:
            conn.close()
        except Exception:
            pass
    if args.format == output.FORMAT_JSON:
        return common.EXIT_OK, output.to_json(data)
    if args.format == output.FORMAT_PROMETHEUS:
        return common.EXIT_OK, render_prometheus(data)
    return common.EXIT_OK, render_table(data)
