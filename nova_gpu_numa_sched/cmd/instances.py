"""``nova-gpu-numa discover --instances``: GPU use per instance.

Which phone makes a GPU hot: the busy share of each engine and the
resident GPU memory of every instance's QEMU, per render node, from two
walks of ``/proc`` (``compute.utilization.per_instance``); the instances
come from the running domains of ``[libvirt] connection_uri``.
"""

from lxml import etree

from nova_gpu_numa_sched.cmd import common
from nova_gpu_numa_sched.cmd import output
from nova_gpu_numa_sched.compute.utilization import fdinfo
from nova_gpu_numa_sched.compute.utilization import per_instance

#: Nova's namespaces of the instance metadata in the domain XML
#: (``http://openstack.org/xmlns/libvirt/nova/1.1`` in Nova 34).
NOVA_NS_PREFIX = 'http://openstack.org/xmlns/libvirt/nova/'

#: Labels of every per-instance metric.
LABELS = ('host', 'instance_uuid', 'devnode', 'pci_address', 'cell')

_METRICS = (
    ('busy_percent', 'instance_busy_percent',
     'Busy share of the busiest GPU engine the instance used, in percent.'),
    ('clients', 'instance_drm_clients',
     'DRM clients (open render node files) the instance holds.'),
)
_ENGINE_METRICS = (
    ('busy_percent', 'instance_engine_busy_percent',
     'Busy share of one GPU engine the instance used, in percent.'),
)
_REGION_METRICS = (
    ('bytes', 'instance_resident_bytes',
     'GPU memory resident for the instance, per memory region.'),
)
_HOST_METRICS = (
    ('uninspected_processes', 'processes_uninspected',
     'Processes whose DRM files could not be read (permissions).'),
)


def _nova_name(domain_xml):
    """The instance's display name from Nova's domain metadata, or None."""
    tree = etree.fromstring(domain_xml)
    for element in tree.iterfind('./metadata/*'):
        name = etree.QName(element)
        if (name.localname == 'instance' and
                (name.namespace or '').startswith(NOVA_NS_PREFIX)):
            return element.findtext('{%s}name' % name.namespace)
    return None


def running_domains(conn):
    """{domain UUID: {'domain': libvirt name, 'name': Nova's name}}."""
    import libvirt
    try:
        domains = conn.listAllDomains(
            libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE)
    except libvirt.libvirtError as e:
        raise common.CommandError('libvirt cannot list the running domains: '
                                  '%s' % ' '.join(str(e).split()))
    result = {}
    for domain in domains:
        try:
            name = _nova_name(domain.XMLDesc(0))
        except (libvirt.libvirtError, etree.XMLSyntaxError):
            name = None  # it stopped meanwhile, or is not Nova's
        result[domain.UUIDString().lower()] = {'domain': domain.name(),
                                               'name': name}
    return result


def _row(usage, node):
    return {
        'devnode': node.devnode,
        'render_node': node.key,
        'pci_address': node.pci_address,
        'cell': node.numa_node,
        'busy_percent': usage.busy_percent,
        'engines': usage.engines,
        'resident_bytes': usage.resident_bytes,
        'resident_total_bytes': usage.resident_total_bytes,
        'clients': usage.clients,
        'pids': usage.pids,
    }


def collect(conn, nodes, reader, sleep, interval, sysfs_root='/sys'):
    """The ``instances`` part of discover's data (the JSON schema)."""
    domains = running_domains(conn)
    try:
        first, second, usages = per_instance.read_usage(
            reader, nodes, domains, sleep, interval, sysfs_root)
    except fdinfo.ProcUnreadable as e:
        raise common.CommandError('cannot read the DRM clients of '
                                  'instances: %s' % e)
    by_key = {node.key: node for node in nodes}
    instances, others = [], []
    for usage in usages:
        row = _row(usage, by_key[usage.node])
        if usage.uuid is None:
            others.append(row)
        else:
            domain = domains[usage.uuid]
            row.update(uuid=usage.uuid, name=domain['name'],
                       domain=domain['domain'])
            instances.append(row)
    return {'interval_seconds': interval, 'instances': instances,
            'other_processes': others,
            'uninspected_processes': len(first.denied | second.denied)}


def _mib(size):
    return '%d MiB' % round(size / 1024 ** 2)


def render_table(data, width=80):
    """The instance section of discover's table, busiest first."""
    lines = ['Instances, GPU use over %g s (busiest first):'
             % data['interval_seconds']]
    rows = [[row['uuid'], row['devnode'].rsplit('/', 1)[-1], row['cell'],
             row['busy_percent'], _mib(row['resident_total_bytes']),
             row['name']] for row in data['instances']]
    rows += [['(other processes)', row['devnode'].rsplit('/', 1)[-1],
              row['cell'], row['busy_percent'],
              _mib(row['resident_total_bytes']),
              'pid ' + ','.join(str(pid) for pid in row['pids'])]
             for row in data['other_processes']]
    for row in rows:
        if row[3] is not None:
            row[3] = '%.0f%%' % row[3]
    if rows:
        text = output.table(
            ['INSTANCE', 'NODE', 'CELL', 'BUSY', 'MEMORY', 'NAME'], rows)
        # The name is last: shorten it rather than pass 80 columns (JSON
        # has it whole).
        lines.extend(line if len(line) <= width else line[:width - 1] + '~'
                     for line in text.splitlines())
    else:
        lines.append('No instance holds a render node open.')
    if data['uninspected_processes']:
        lines.append('%d process(es) could not be inspected: run as root '
                     '(or with CAP_SYS_PTRACE) to see every instance.'
                     % data['uninspected_processes'])
    return '\n'.join(lines) + '\n'


def prometheus_families(host, data):
    """(rows, metrics, labels) of the per-instance gauges."""
    instances = [dict(row, host=host, instance_uuid=row['uuid'])
                 for row in data['instances']]
    engines = [dict(row, engine=engine, busy_percent=value)
               for row in instances
               for engine, value in sorted(row['engines'].items())]
    regions = [dict(row, region=region, bytes=value)
               for row in instances
               for region, value in sorted(row['resident_bytes'].items())]
    return [
        (instances, _METRICS, LABELS),
        (engines, _ENGINE_METRICS, LABELS + ('engine',)),
        (regions, _REGION_METRICS, LABELS + ('region',)),
        ([{'host': host,
           'uninspected_processes': data['uninspected_processes']}],
         _HOST_METRICS, ('host',)),
    ]
