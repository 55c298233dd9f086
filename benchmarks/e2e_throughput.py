"""Phones per minute end to end, with the plugin and with stock Nova.

Nova's real services in one process on Nova's functional fixtures (API,
conductor, scheduler, ``--hosts`` computes on fake libvirt with two GPU
render nodes each, the real Placement; ``tests/functional/base.py``) boot
``--phones`` phones in multi-create requests of ``--batch``, all sent at
once; the clock runs from the first request until every phone is ACTIVE or
ERROR. Then the same farm with stock Nova.

Usage (from the repository root)::

    PYTHONPATH=. python benchmarks/e2e_throughput.py [--tiny]

The ratio comes last. See ``benchmarks/README.rst`` and
``doc/source/benchmarks.rst``.
"""

import argparse
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))

from demo import runner  # noqa: E402

#: Phones the two GPU cells of a host hold (6 each: 3 cores x 4.0 / 2
#: vCPUs, 6 GiB / 1 GiB); ``e2e_fleet.phones_per_host()`` computes it.
PHONES_PER_HOST = 12

TITLES = (
    ('plugin', 'with the plugin: GpuNumaTopologyFilter (in place of '
               'NUMATopologyFilter) + GpuLoadWeigher (weight_multiplier '
               '4.0) + claim pinned to the GPU\'s cell'),
    ('stock', 'stock Nova: NUMATopologyFilter and Nova\'s weighers; the '
              'same flavor with the render slot'),
)


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog='e2e_throughput.py',
        description='Boot a phone farm through Nova\'s real services with '
                    'the plugin and with stock Nova; print phones per '
                    'minute and their ratio.')
    parser.add_argument('--hosts', type=int, default=20,
                        help='compute hosts, 4 NUMA cells and 2 GPUs each '
                             '(default 20)')
    parser.add_argument('--phones', type=int, default=200,
                        help='phones to boot (default 200)')
    parser.add_argument('--batch', type=int, default=20,
                        help='phones per multi-create request (default 20)')
    parser.add_argument('--plugin-only', action='store_true',
                        help='skip the stock Nova run')
    parser.add_argument('--tiny', action='store_true',
                        help='2 hosts, 4 phones in batches of 2 (for the '
                             'test suite)')
    parser.add_argument('--log', metavar='FILE',
                        help='keep the services\' log in FILE (default: a '
                             'temporary file, shown only when a run breaks)')
    args = parser.parse_args(argv)
    if args.tiny:
        args.hosts, args.phones, args.batch = 2, 4, 2
    for name in ('hosts', 'phones', 'batch'):
        if getattr(args, name) < 1:
            parser.error('--%s must be at least 1' % name)
    # Without a Nova import: the services' logging is not redirected yet.
    capacity = args.hosts * PHONES_PER_HOST
    if args.phones > capacity:
        parser.error('--phones: %d hosts hold at most %d phones on their '
                     'GPU cells' % (args.hosts, capacity))
    return args


def run_farm(kind, args, log_path):
    with runner.output_to(log_path):
        from benchmarks.common import e2e_fleet
        farm = e2e_fleet.Farm(hosts=args.hosts, phones=args.phones,
                              batch=args.batch)
        case_class = (e2e_fleet.PluginFarm if kind == 'plugin'
                      else e2e_fleet.StockFarm)
        case = case_class('bench_farm')
        case.farm = farm
        result = unittest.TestResult()
        case.run(result)
    return farm, result


def _per_minute(farm):
    return farm.active * 60.0 / farm.seconds if farm.seconds else 0.0


def _per_cpu_minute(farm):
    """Phones per minute of CPU: the same work, whatever else runs."""
    return (farm.active * 60.0 / farm.cpu_seconds if farm.cpu_seconds
            else 0.0)


def main(argv):
    args = parse_args(argv)
    log_path = runner.log_file(args.log, 'e2e-throughput-')
    print('Phone farm: %d hosts (4 NUMA cells of 3 cores and 6 GiB, GPU '
          'render nodes on 2 cells, 8 slots each), %d phones (2 vCPU, '
          '1 GiB, hw:numa_nodes=1, resources:CUSTOM_GPU_RENDER_SLOT=1) in '
          'multi-create requests of %d, sent at once.' % (
              args.hosts, args.phones, args.batch), flush=True)
    kinds = [kind for kind, _ in TITLES
             if kind == 'plugin' or not args.plugin_only]
    start = time.monotonic()
    farms = {}
    broken = False
    for kind, title in TITLES:
        if kind not in kinds:
            continue
        farm, result = run_farm(kind, args, log_path)
        farms[kind] = farm
        for test, trace in result.errors + result.failures:
            broken = True
            with open(log_path, 'a') as log:
                log.write('\n=== %s ===\n%s' % (kind, trace))
            print('%s run failed; the end of its trace:\n%s' % (
                kind, ''.join(trace.splitlines(True)[-25:])),
                file=sys.stderr)
        hosts = sorted(farm.per_host.values())
        print()
        print(title)
        print('  %d/%d ACTIVE, %d ERROR in %.1f s (%d requests): %.1f '
              'phones per minute' % (farm.active, farm.phones, farm.errors,
                                     farm.seconds, farm.requests,
                                     _per_minute(farm)))
        print('  CPU time of all services: %.1f s: %.1f phones per CPU '
              'minute' % (farm.cpu_seconds, _per_cpu_minute(farm)))
        print('  filters the scheduler ran: %s' % ', '.join(farm.filters))
        print('  co-located (render node, vCPUs, emulator, RAM, claim on '
              'the GPU\'s cell): %d/%d' % (farm.colocated, farm.active))
        if hosts:
            print('  hosts used %d/%d, phones per host min %d max %d' % (
                len(hosts), farm.hosts, hosts[0], hosts[-1]))
    print('\nwall time %.0f s' % (time.monotonic() - start))
    print()
    print('Ratios')
    plugin = farms['plugin']
    if 'stock' in farms:
        stock = farms['stock']
        print('ratio phones per minute plugin / stock: %.2f (%.1f / %.1f)'
              % (_per_minute(plugin) / max(_per_minute(stock), 1e-9),
                 _per_minute(plugin), _per_minute(stock)))
        print('ratio phones per CPU minute plugin / stock: %.2f (%.1f / '
              '%.1f)' % (_per_cpu_minute(plugin) /
                         max(_per_cpu_minute(stock), 1e-9),
                         _per_cpu_minute(plugin), _per_cpu_minute(stock)))
        print('ratio co-located plugin / stock: %d/%d vs %d/%d' % (
            plugin.colocated, plugin.phones, stock.colocated, stock.phones))
    else:
        print('ratio phones per minute plugin: %.1f (stock not run)' %
              _per_minute(plugin))
    failed = broken or plugin.active != plugin.phones
    if failed:
        print('The services\' log and full traces: %s' % log_path,
              file=sys.stderr)
    elif not args.log:
        os.unlink(log_path)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
