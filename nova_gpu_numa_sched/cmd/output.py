"""Render a subcommand's result as a table, JSON or Prometheus text.

Each subcommand builds plain data once; this module only formats it, so
the three formats always show the same numbers.
"""

import json

import prometheus_client

#: Prefix of every metric name.
METRIC_PREFIX = 'nova_gpu_numa_'
#: Labels of every per-render-node metric.
NODE_LABELS = ('host', 'cell', 'devnode', 'pci_address')

FORMAT_TABLE = 'table'
FORMAT_JSON = 'json'
FORMAT_PROMETHEUS = 'prometheus'


def cell(value):
    """How a value reads in a table: '-' for unknown."""
    if value is None or value == '':
        return '-'
    if isinstance(value, float):
        return '%.0f' % value
    return str(value)


def table(headers, rows, indent=''):
    """Aligned columns, two spaces apart, the last one not padded."""
    rows = [[cell(value) for value in row] for row in rows]
    widths = [len(header) for header in headers]
    for row in rows:
        for i, value in enumerate(row):
            widths[i] = max(widths[i], len(value))
    lines = []
    for row in [list(headers)] + rows:
        padded = [value.ljust(widths[i]) for i, value in enumerate(row)]
        lines.append((indent + '  '.join(padded)).rstrip())
    return '\n'.join(lines)


def to_json(data):
    """Stable JSON: sorted keys, two-space indent, trailing newline."""
    return json.dumps(data, indent=2, sort_keys=True) + '\n'


def _label_value(value):
    return '' if value is None else str(value)


def add_gauges(registry, rows, metrics, labels):
    """Gauges of ``rows`` in ``registry``, one sample per row and metric.

    :param rows: dicts with the ``labels`` keys and the metric keys.
    :param metrics: (key in each row, metric name without prefix, help);
        a None value is not exported.
    """
    for key, name, help_text in metrics:
        gauge = prometheus_client.Gauge(
            METRIC_PREFIX + name, help_text, labels, registry=registry)
        for row in rows:
            if row.get(key) is not None:
                gauge.labels(**{label: _label_value(row.get(label))
                                for label in labels}).set(row[key])


def prometheus_text(nodes, metrics, host_metrics=(), hosts=(), extra=()):
    """Prometheus text exposition of per-render-node (and host) gauges.

    :param nodes: dicts with the NODE_LABELS keys and the metric keys.
    :param metrics: (key in each node dict, metric name without prefix,
        help) of the per-render-node gauges; a None value is not exported.
    :param host_metrics: the same for per-host gauges labelled ``host``.
    :param hosts: dicts with ``host`` and the host metric keys.
    :param extra: (rows, metrics, labels) of further gauges, as add_gauges
        takes them.
    """
    registry = prometheus_client.CollectorRegistry()
    add_gauges(registry, nodes, metrics, NODE_LABELS)
    add_gauges(registry, hosts, host_metrics, ('host',))
    for rows, extra_metrics, labels in extra:
        add_gauges(registry, rows, extra_metrics, labels)
    return prometheus_client.generate_latest(registry).decode('utf-8')
