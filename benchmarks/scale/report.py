"""Tables and the closing ratio lines of the scheduler scale benchmark."""

import collections
import statistics

#: The goals of the measured ratios (plugin / stock NUMATopologyFilter).
RENDER_GOAL = 1.0
RENDER_AIM = 0.5
PLAIN_GOAL = 1.02

_LABELS = {
    'stock': 'stock: NUMATopologyFilter alone',
    'plugin': 'plugin as documented (total)',
    'view': '  provider view start',
    'filter': '  GpuNumaTopologyFilter',
    'weigher': '  GpuLoadWeigher',
    'pair': 'older pair (NUMATopologyFilter, GpuNumaAffinityFilter)',
}
_KIND_TITLES = {
    'render': 'a phone (2 vCPU, 2 GiB, 1 render slot, hw:numa_nodes=1)',
    'plain': 'a guest without a render slot (2 vCPU, 2 GiB, '
             'hw:numa_nodes=1)',
}


class Timings:
    def __init__(self):
        self.samples = collections.defaultdict(list)

    def add(self, name, seconds):
        self.samples[name].append(seconds)

    def median(self, name):
        return statistics.median(self.samples[name])

    def row(self, name):
        values = self.samples[name]
        median = statistics.median(values)
        q = statistics.quantiles(values, n=4) if len(values) > 1 else [
            median] * 3
        return (median * 1e3, min(values) * 1e3, max(values) * 1e3,
                (q[2] - q[0]) / median * 100 if median else 0.0)

    def ratio(self, name):
        """(ratio of the medians, median, min, max of per-run ratios)."""
        ratios = self.samples['ratio_' + name]
        return (self.median(name) / self.median('stock'),
                statistics.median(ratios), min(ratios), max(ratios))


def print_times(results, repeat, clock):
    """Per fleet size and request kind: median, min, max, IQR of each."""
    print('Part 1: %s time per scheduling request, stock Nova vs the '
          'plugin on the same host states (%d timed repetitions, IQR%% = '
          'interquartile range / median)'
          % ('CPU' if clock == 'cpu' else 'wall-clock', repeat))
    header = ('%6s  %-62s %9s %9s %9s %6s'
              % ('hosts', 'what', 'median ms', 'min ms', 'max ms', 'IQR%'))
    for kind, title in _KIND_TITLES.items():
        print()
        print('Request: %s' % title)
        print(header)
        print('-' * len(header))
        for size, per_kind in results.items():
            timings, stats = per_kind[kind]
            for key, label in _LABELS.items():
                if timings.samples.get(key):
                    print('%6d  %-62s %9.2f %9.2f %9.2f %6.1f'
                          % ((size, label) + timings.row(key)))
            print('%6s  %d hosts with candidates (%d candidates); stock '
                  'kept %d hosts, the plugin %d (%d candidates); NUMA fits '
                  'run %d, answered from the memo %d'
                  % ('', stats['hosts'], stats['candidates'],
                     stats['stock_kept'], stats['plugin_kept'],
                     stats['plugin_candidates'], stats['memo_fits'],
                     stats['memo_hits']))
    print()


def print_calls(counts):
    print('Part 2: Placement calls per select_destinations, counted at the '
          'HTTP layer of Nova\'s SchedulerReportClient')
    print('  Nova\'s SchedulerManager.select_destinations with its default '
          'filters + NUMATopologyFilter (stock) or GpuNumaTopologyFilter '
          'and GpuLoadWeigher (plugin), all of Nova\'s weighers; any other '
          'HTTP request fails the run.')
    print('  Host-level slots: a phone\'s answer holds one candidate per '
          'host (its root provider); the plugin reads each host\'s render '
          'nodes from the compute node stats Nova\'s host manager already '
          'loaded, so no call is added per host or per GPU.')
    header = ('%6s  %-6s %9s %6s  %s'
              % ('hosts', 'plugin', 'instances', 'calls', 'calls by kind'))
    print(header)
    print('-' * len(header))
    for (size, plugin, instances), calls in counts.items():
        print('%6d  %-6s %9d %6d  %s'
              % (size, 'yes' if plugin else 'no', instances,
                 sum(calls.values()),
                 ', '.join('%s x%d' % (k, v)
                           for k, v in sorted(calls.items()))))
    print()


def ratio_lines(results):
    """The closing lines: each ratio to stock, with its goal.

    The ratio is the median of the per-repetition ratios (each from runs
    seconds apart), then their range and the ratio of the medians.
    """
    lines = []
    for size, per_kind in results.items():
        for kind, name, goal, label in (
                ('render', 'plugin', RENDER_GOAL,
                 'render request, plugin / stock'),
                ('render', 'pair', None,
                 'render request, older pair / stock'),
                ('plain', 'plugin', PLAIN_GOAL,
                 'request without render slot, plugin / stock')):
            timings, _stats = per_kind[kind]
            if not timings.samples.get('ratio_' + name):
                continue
            of_medians, median, low, high = timings.ratio(name)
            line = ('ratio %5d hosts, %-43s = %.3f  [range %.3f-%.3f; '
                    'ratio of medians %.3f]' % (size, label, median, low,
                                                high, of_medians))
            if goal is not None:
                line += '  goal <= %.2f%s: %s' % (
                    goal, ' (aim %.2f)' % RENDER_AIM if kind == 'render'
                    else '', 'met' if median <= goal else 'NOT met')
            lines.append(line)
    return lines
