"""Run the demo fleets and print where every phone landed.

Nova's services log a lot, partly outside the test fixtures' capture (at
import and while fixtures are torn down), so the runs happen with the
process's stdout and stderr (file descriptors 1 and 2) sent to a log file;
only the tables reach the terminal. The log is shown when a run breaks.
"""

import argparse
import contextlib
import os
import sys
import tempfile
import time
import unittest

PLUGIN_TITLE = ('with the plugin (GpuNumaTopologyFilter + GpuLoadWeigher '
                '+ claim pinned to the render node\'s cell)')
STOCK_TITLE = 'stock Nova (no plugin filter/weigher/claim pinning)'
STOCK_NOTE = ('Stock Nova can neither report nor attach a render node, so '
              'the plugin\'s driver still\nreports the render slots and '
              'writes the claimed render node into the guest XML.\n'
              'The scheduler claims a render slot of the host; '
              'nova-compute hands out the least used\nrender node and '
              'Nova\'s own NUMA fit picks the cell.')


def parse_args(argv):
    from demo import layout
    parser = argparse.ArgumentParser(
        prog='python -m demo',
        description='Boot cloud phones on fake GPU hosts with Nova\'s real '
                    'services, with the plugin and with stock Nova, and '
                    'show on which NUMA cells each phone\'s render node, '
                    'vCPUs, emulator thread and RAM are.')
    parser.add_argument(
        '--phones', type=int, default=12,
        help='phones to boot (1..%d, default 12)' % layout.MAX_PHONES)
    parser.add_argument(
        '--batch', type=int, default=8,
        help='how many of them come in one multi-create request; the '
             'rest are booted one by one (default 8)')
    parser.add_argument(
        '--plugin-only', action='store_true',
        help='skip the stock Nova run')
    parser.add_argument(
        '--cloud', action='store_true',
        help='tell the story through the running one-machine cloud '
             '(tools/cloud.sh up) with the openstack and nova-gpu-numa '
             'clients, instead of the services in this process')
    parser.add_argument(
        '--log', metavar='FILE',
        help='keep the services\' log output in FILE (default: a temporary '
             'file, shown only when a run breaks)')
    args = parser.parse_args(argv)
    if not 1 <= args.phones <= layout.MAX_PHONES:
        parser.error('--phones must be between 1 and %d: the demo hosts '
                     'hold %d phones on their GPU cells'
                     % (layout.MAX_PHONES, layout.MAX_PHONES))
    if args.batch < 0:
        parser.error('--batch must not be negative')
    args.batch = min(args.batch, args.phones)
    return args


@contextlib.contextmanager
def output_to(path):
    """Send file descriptors 1 and 2 (and so everything) to ``path``."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(path, 'ab') as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
    try:
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        os.close(saved[0])
        os.close(saved[1])


def _run_case(case_class, outcome):
    """Run one fleet test case; return its unittest result."""
    case = case_class('demo_fleet')
    case._outcome = outcome
    result = unittest.TestResult()
    case.run(result)
    return result


def run(args, log_path):
    """Run the fleets quietly; return [(outcome, result)]."""
    with output_to(log_path):
        from demo import scenario
        runs = [(scenario.PluginFleet, PLUGIN_TITLE)]
        if not args.plugin_only:
            runs.append((scenario.StockFleet, STOCK_TITLE))
        done = []
        for case_class, title in runs:
            outcome = scenario.Outcome(title=title, phones=args.phones,
                                       batch=args.batch)
            done.append((outcome, _run_case(case_class, outcome)))
    return done


def log_file(path, prefix):
    """An empty log file: ``path`` (truncated), or a new temporary one."""
    if path:
        open(path, 'w').close()
        return path
    fd, path = tempfile.mkstemp(prefix=prefix, suffix='.log')
    os.close(fd)
    return path


def main(argv):
    args = parse_args(argv)
    if args.cloud:
        from demo import cloud
        return cloud.main(args)
    from demo import report
    log_path = log_file(args.log, 'gpu-numa-demo-')
    print(report.header(args.phones, args.batch), flush=True)
    start = time.monotonic()
    done = run(args, log_path)
    broken = False
    for number, (outcome, result) in enumerate(done, 1):
        print()
        print(report.run_report(number, outcome,
                                STOCK_NOTE if outcome.title == STOCK_TITLE
                                else None))
        for test, trace in result.errors + result.failures:
            # The trace holds the run's whole captured log: keep it in the
            # log file, show its end.
            broken = True
            with open(log_path, 'a') as log:
                log.write('\n=== run %d: %s ===\n%s' % (number, test.id(),
                                                          trace))
            print('\nrun %d failed; the end of its trace:\n%s' % (
                number, ''.join(trace.splitlines(True)[-25:])),
                file=sys.stderr)
    plugin = done[0][0]
    stock = done[1][0] if len(done) > 1 else None
    print()
    print(report.verdict(plugin, stock, time.monotonic() - start))
    failed = (broken or not done[0][1].wasSuccessful() or
              plugin.colocated != plugin.phones)
    if failed:
        print('The services\' log and full traces: %s' % log_path,
              file=sys.stderr)
    elif not args.log:
        os.unlink(log_path)
    return 1 if failed else 0
