"""Command line of the scheduler scale benchmark."""

import argparse
import gc
import sys
import time
from unittest import mock

from keystoneauth1 import session as ks_session
import nova.conf
from nova import objects
from nova import rpc
from nova.scheduler.client import report as report_client

from benchmarks.scale import calls
from benchmarks.scale import fleet as fleet_lib
from benchmarks.scale import pipelines
from benchmarks.scale import placement as placement_lib
from benchmarks.scale import report

CONF = nova.conf.CONF

DESCRIPTION = ('What a scheduling request costs nova-scheduler with the '
               'plugin, next to stock Nova\'s NUMATopologyFilter.')


def setup():
    CONF([], project='nova', default_config_files=[])
    objects.register_all()
    # Parsing a URL registers oslo.messaging's transport options; the
    # in-memory "fake" driver carries the scheduler's notifications.
    rpc.get_transport_url('fake:/')
    CONF.set_override('transport_url', 'fake:/')
    CONF.set_override('available_filters', [
        'nova.scheduler.filters.all_filters', calls.PLUGIN_FILTER],
        group='filter_scheduler')
    # Above the sum of Nova's spreading weighers, as the docs advise.
    CONF.set_override('weight_multiplier', 4.0, group='gpu_numa')
    rpc.init(CONF)


def parse(argv):
    parser = argparse.ArgumentParser(description=DESCRIPTION)
    parser.add_argument('--hosts', type=int, nargs='+', default=[1000, 5000],
                        help='fleet sizes (default: 1000 5000)')
    parser.add_argument('--repeat', type=int, default=5,
                        help='timed repetitions per size and request kind, '
                             'after one warm-up (default: 5)')
    parser.add_argument('--seed', default='gpu-numa',
                        help='seed of the synthetic fleet')
    parser.add_argument('--uniform', action='store_true',
                        help='one server model with a GPU on every cell '
                             'and a few guest sizes, instead of a mixed '
                             'fleet (many cells alike)')
    parser.add_argument('--clock', choices=sorted(pipelines.CLOCKS),
                        default='cpu',
                        help='time the pipelines by CPU time of this '
                             'process (default) or by wall-clock time')
    parser.add_argument('--no-pair', dest='pair', action='store_false',
                        help='do not time the older NUMATopologyFilter + '
                             'GpuNumaAffinityFilter pair')
    parser.add_argument('--no-calls', dest='calls', action='store_false',
                        help='skip part 2 (Placement calls per request)')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse(argv)
    pipelines.clock = pipelines.CLOCKS[args.clock]
    setup()
    started = time.perf_counter()
    guard = placement_lib.HttpGuard()
    with mock.patch.object(ks_session.Session, 'request', guard.request):
        fleets = {size: fleet_lib.Fleet(size, args.seed, args.uniform)
                  for size in args.hosts}
        print('synthetic %s fleets built in %.1f s'
              % ('uniform' if args.uniform else 'mixed',
                 time.perf_counter() - started))
        # Keep the fleets out of the collector's scans: each timed section
        # starts after a collection that then costs milliseconds.
        gc.collect()
        gc.freeze()
        results = {}
        for size, fleet in fleets.items():
            client = report_client.SchedulerReportClient(
                adapter=placement_lib.CountingPlacement(fleet))
            results[size] = pipelines.measure(
                fleet, client, args.repeat, with_pair=args.pair)
        report.print_times(results, args.repeat, args.clock)
        equal = True
        if args.calls:
            counts = calls.measure(fleets)
            report.print_calls(counts)
            equal = calls.consistent(counts, args.hosts)
    equal = equal and not guard.count
    print('HTTP requests that bypassed the Placement stand-in: %d'
          % guard.count)
    print('total run time: %.1f s' % (time.perf_counter() - started))
    if args.calls:
        print('placement calls per request: %s (equal: %s)' % (', '.join(
            '%d hosts = %d' % (size, sum(counts[(size, True, 1)].values()))
            for size in args.hosts), 'yes' if equal else 'no'))
    for line in report.ratio_lines(results):
        print(line)
    return 0 if equal else 1


if __name__ == '__main__':
    sys.exit(main())
