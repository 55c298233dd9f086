"""Fixed-width text for the demo's tables and summary lines."""

import dataclasses
import typing as ty

from demo import layout

COLUMNS = (('PHONE', 9), ('HOST', 6), ('RENDER NODE', 19), ('GPU', 4),
           ('VCPU', 5), ('MEM', 4), ('EMU', 4), ('CLAIM', 6), ('RESULT', 0))
LEGEND = ('cells: GPU = NUMA cell of the render node nova-compute gave '
          'the phone (its\nresources), VCPU/EMU = cells of <vcpupin>/'
          '<emulatorpin> CPUs in the guest XML,\nMEM = <memnode nodeset>, '
          'CLAIM = cells of the claimed instance NUMA topology.')


@dataclasses.dataclass
class Row:
    """Where one phone landed; cells are ints, or lists when split."""

    name: str
    status: str
    host: ty.Optional[str] = None
    rendernode: ty.Optional[str] = None
    gpu_cell: ty.Any = None
    vcpu_cell: ty.Any = None
    memory_cell: ty.Any = None
    emulator_cell: ty.Any = None
    claimed_cell: ty.Any = None
    colocated: bool = False
    fault: str = ''


def phone_order(row):
    """Sort key: phone-2 before phone-10."""
    head, _, number = row.name.rpartition('-')
    return (head, int(number)) if number.isdigit() else (row.name, 0)


def _cell(value):
    if value is None:
        return '-'
    if isinstance(value, (list, tuple, set)):
        return ','.join(str(v) for v in sorted(value)) or '-'
    return str(value)


def _line(values, columns=COLUMNS):
    return ' '.join(str(v).ljust(width) if width else str(v)
                    for v, (_, width) in zip(values, columns)).rstrip()


def header(phones, batch):
    one_by_one = phones - batch if batch > 1 else phones
    lines = ['Cloud phones on GPU hosts: Nova %s services in one process '
             '(API, conductor, scheduler,' % nova_version(),
             'computes on fake libvirt with DRM render nodes, real '
             'Placement).',
             '',
             'Hosts (%d NUMA cells each, %d cores and %d MB per cell):'
             % (layout.CELLS, layout.CORES_PER_CELL,
                layout.MEM_PER_CELL_MB)]
    for hostname, cells in layout.HOSTS:
        lines.append('  %s  GPU render nodes on cell%s %s' % (
            hostname, 's' if len(cells) > 1 else '',
            ', '.join(str(c) for c in cells)))
    lines.append('Phone flavor: %d vCPU, %d MB, hw:numa_nodes=1, '
                 'resources:CUSTOM_GPU_RENDER_SLOT=1'
                 % (layout.PHONE_VCPUS, layout.PHONE_MEMORY_MB))
    if batch > 1:
        boots = '%d in one multi-create request' % batch
        if one_by_one:
            boots += ', then %d one by one' % one_by_one
    else:
        boots = 'one by one'
    lines.append('Each run boots %d phones: %s.' % (phones, boots))
    return '\n'.join(lines)


def nova_version():
    try:
        from importlib import metadata
        return metadata.version('nova')
    except Exception:
        return ''


def table(rows):
    # PHONE and HOST as wide as the longest name (compute-1 ...).
    widths = dict(COLUMNS)
    for name, key in (('PHONE', 'name'), ('HOST', 'host')):
        widths[name] = max([widths[name]] + [
            len(getattr(row, key) or '') + 1 for row in rows])
    columns = tuple((name, widths[name]) for name, _ in COLUMNS)
    lines = [_line([name for name, _ in columns], columns),
             _line(['-' * (width or 10) for _, width in columns], columns)]
    for row in rows:
        if row.status != 'ACTIVE':
            lines.append(_line([row.name, row.host or '-', row.status,
                                '', '', '', '', '', row.fault[:40]],
                               columns))
            continue
        lines.append(_line([
            row.name, row.host, row.rendernode, _cell(row.gpu_cell),
            _cell(row.vcpu_cell), _cell(row.memory_cell),
            _cell(row.emulator_cell), _cell(row.claimed_cell),
            'co-located' if row.colocated else 'SPLIT'], columns))
    return '\n'.join(lines)


def slot_usage(outcome):
    lines = []
    for hostname, _ in layout.HOSTS:
        gpus = ['%s (cell %s) %d/%d' % (devnode.rsplit('/', 1)[-1],
                                        _cell(cell), used, total)
                for host, devnode, cell, used, total in outcome.slots
                if host == hostname]
        lines.append('  %s: %s' % (hostname, ', '.join(gpus)))
    return '\n'.join(lines)


def _on_off(value):
    return 'on' if value else 'off'


def run_report(number, outcome, note=None):
    lines = ['[%d] %s' % (number, outcome.title), '']
    if note:
        lines += [note, '']
    lines.append('In the running services: GpuNumaTopologyFilter %s, '
                 'GpuLoadWeigher %s, claim pinning %s.'
                 % (_on_off(outcome.plugin_filter),
                    _on_off(outcome.plugin_weigher),
                    _on_off(outcome.claim_pinning)))
    lines += ['', table(outcome.rows), '']
    split = outcome.active - outcome.colocated
    summary = '%d/%d phones co-located' % (outcome.colocated,
                                           outcome.phones)
    if split:
        summary += ', %d split across NUMA cells' % split
    failed = outcome.phones - outcome.active
    if failed:
        summary += ', %d not ACTIVE' % failed
    lines.append('%s (%.1f s).' % (summary, outcome.seconds))
    if outcome.slots:
        lines += ['Render slots used per GPU:', slot_usage(outcome)]
    if outcome.status_table:
        lines += ['', 'What an operator sees: nova-gpu-numa status', '',
                  outcome.status_table.rstrip('\n')]
    return '\n'.join(lines)


def verdict(plugin, stock, seconds):
    text = ('Result: with the plugin %d/%d phones have render node, vCPUs, '
            'emulator and RAM on one cell' % (plugin.colocated,
                                               plugin.phones))
    if stock is not None:
        text += ';\n        stock Nova %d/%d' % (stock.colocated,
                                                 stock.phones)
    return text + ' (%.0f s in all).' % seconds
