"""What Placement itself costs for phones, and how its options spread them.

Runs the real Placement (``openstack-placement``, in this process, on a
SQLite database file) and sends it the ``GET /allocation_candidates``
Nova's scheduler builds for a phone (2 vCPU, 2 GiB, 8 GB disk,
``resources:CUSTOM_GPU_RENDER_SLOT=1``, ``hw:numa_nodes=1``) and for a
plain 2-vCPU guest, with ``limit`` = ``[scheduler] max_placement_results``.

Part 1 (cost): fleets of ``--hosts`` compute nodes with ``--gpus`` render
providers each, and the same hosts without render providers; time per
query (median of ``--repeat``), candidates returned, distinct hosts among
them.

Part 2 (balance): a stream of ``--boots`` phone boots on a smaller fleet,
each taking Placement's answer, picking host and GPU as the scheduler with
the plugin would (``benchmarks/common/scheduler_choice.py``) and claiming
with ``PUT /allocations/{consumer}``, once per combination of
``[placement] randomize_allocation_candidates``,
``allocation_candidates_generation_strategy`` and
``max_allocation_candidates``.

Usage (from the repository root)::

    PYTHONPATH=. python benchmarks/placement_cost.py [--tiny]

The ratios come last. See ``benchmarks/README.rst`` and
``doc/source/benchmarks.rst``.
"""

import argparse
import collections
import os
import statistics
import sys
import tempfile
import time
import uuid as uuid_lib
import warnings

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))

# Nova's modules import eventlet-era libraries that warn on import.
warnings.simplefilter('ignore')

from benchmarks.common import fleet as fleet_lib  # noqa: E402
from benchmarks.common import nova_request  # noqa: E402
from benchmarks.common import placement_app  # noqa: E402
from benchmarks.common import scheduler_choice  # noqa: E402
from benchmarks.common import tables  # noqa: E402

#: (label, [placement] options) of the balance runs; None = --max-candidates.
MODES = (
    ('defaults', {}),
    ('randomize', {'randomize_allocation_candidates': True}),
    ('breadth-first', {
        'allocation_candidates_generation_strategy': 'breadth-first'}),
    ('depth-first + cap', {'max_allocation_candidates': None}),
    ('breadth-first + cap', {
        'allocation_candidates_generation_strategy': 'breadth-first',
        'max_allocation_candidates': None}),
    ('breadth-first + cap + randomize', {
        'allocation_candidates_generation_strategy': 'breadth-first',
        'max_allocation_candidates': None,
        'randomize_allocation_candidates': True}),
)
RANDOMIZE = {'randomize_allocation_candidates': True}
PLACEMENT_DEFAULTS = {'randomize_allocation_candidates': False,
                      'allocation_candidates_generation_strategy':
                          'depth-first',
                      'max_allocation_candidates': -1}


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog='placement_cost.py',
        description='Time the real Placement answering Nova\'s allocation '
                    'candidates query for a phone, and measure how its '
                    'options spread a stream of phone boots.')
    parser.add_argument('--hosts', type=int, nargs='+', default=[1000, 5000],
                        help='fleet sizes of part 1 (default 1000 5000)')
    parser.add_argument('--gpus', type=int, nargs='+', default=[4, 8],
                        help='GPUs per host in part 1 (default 4 8)')
    parser.add_argument('--repeat', type=int, default=5,
                        help='timed queries per row, after one warm-up '
                             '(default 5)')
    parser.add_argument('--limit', type=int, default=1000,
                        help='[scheduler] max_placement_results of part 1 '
                             '(default 1000, Nova\'s default)')
    parser.add_argument('--balance-hosts', type=int, default=200,
                        help='hosts of the part 2 fleet (default 200)')
    parser.add_argument('--balance-gpus', type=int, default=8,
                        help='GPUs per host in part 2 (default 8)')
    parser.add_argument('--balance-limit', type=int, default=100,
                        help='max_placement_results of part 2 (default '
                             '100: 1/16 of the candidates, as 1000 is for '
                             '2,000 hosts with 8 GPUs)')
    parser.add_argument('--boots', type=int, default=200,
                        help='phones booted per part 2 run (default 200)')
    parser.add_argument('--max-candidates', type=int, default=None,
                        help='[placement] max_allocation_candidates of the '
                             '"cap" runs (default: 2 x --balance-hosts)')
    parser.add_argument('--gpu-multiplier', type=float, default=4.0,
                        help='[gpu_numa] weight_multiplier (default 4.0, '
                             'as install.rst recommends)')
    parser.add_argument('--skip-cost', action='store_true',
                        help='run part 2 only')
    parser.add_argument('--skip-balance', action='store_true',
                        help='run part 1 only')
    parser.add_argument('--tiny', action='store_true',
                        help='a few seconds: 20 hosts x 2 GPUs, 10 boots '
                             '(for the test suite)')
    parser.add_argument('--db', default=None,
                        help='SQLite file of Placement (default: a '
                             'temporary file, removed at the end)')
    args = parser.parse_args(argv)
    if args.tiny:
        args.hosts, args.gpus, args.repeat, args.limit = [20], [2], 1, 10
        args.balance_hosts, args.balance_gpus = 10, 2
        args.balance_limit, args.boots = 5, 10
    if args.max_candidates is None:
        args.max_candidates = 2 * args.balance_hosts
    for name in ('repeat', 'limit', 'balance_hosts', 'balance_gpus',
                 'balance_limit', 'boots', 'max_candidates'):
        if getattr(args, name) < 1:
            parser.error('--%s must be at least 1' % name.replace('_', '-'))
    if min(args.hosts) < 1 or min(args.gpus) < 1:
        parser.error('--hosts and --gpus must be at least 1')
    return args


def _roots(body):
    return {s['root_provider_uuid']
            for s in body['provider_summaries'].values()}


def _candidate_roots(body):
    summaries = body['provider_summaries']
    return {summaries[next(iter(c['allocations']))]['root_provider_uuid']
            for c in body['allocation_requests']}


def _answer(body):
    """The set of allocation requests of an answer, order aside."""
    return frozenset(
        tuple(sorted((rp, tuple(sorted(alloc['resources'].items())))
                     for rp, alloc in candidate['allocations'].items()))
        for candidate in body['allocation_requests'])


def time_queries(placement, guests, repeat):
    """Warm each query up once, then time them in turn ``repeat`` times.

    Taking the queries in turn gives each the same share of whatever else
    the machine is doing. ``guests`` is [(label, path, [placement]
    options)]; return {label: (times, last body, whether every answer held
    the same candidates)}.
    """
    times = {label: [] for label, _, _ in guests}
    cpu = {label: [] for label, _, _ in guests}
    bodies, answers = {}, {label: set() for label, _, _ in guests}
    for timed in [False] + [True] * repeat:
        for label, path, options in guests:
            placement.configure(**options)
            body, elapsed, used = _timed_get(placement, path)
            placement.configure(**PLACEMENT_DEFAULTS)
            if timed:
                times[label].append(elapsed)
                cpu[label].append(used)
            bodies[label] = body
            answers[label].add(_answer(body))
    return {label: (times[label], cpu[label], bodies[label],
                    len(answers[label]) == 1)
            for label, _, _ in guests}


def _timed_get(placement, path):
    """(body, wall seconds, CPU seconds of this process) of one query.

    Placement runs in this process, in this thread, on a SQLite file in
    the page cache: the CPU time is its own work, whatever else the
    machine runs; the wall time also counts waiting for a CPU.
    """
    wall, cpu = time.perf_counter(), time.process_time()
    body = placement.get(path, version=nova_request.VERSION)
    return body, time.perf_counter() - wall, time.process_time() - cpu


# Part 1 ---------------------------------------------------------------------

def run_cost(placement, args):
    phone = nova_request.allocation_candidates_path(True, args.limit)
    plain = nova_request.allocation_candidates_path(False, args.limit)
    print('Query of a phone:  GET %s' % phone)
    print('Query of a plain guest: GET %s' % plain)
    print('(microversion %s, as Nova\'s report client)' %
          nova_request.VERSION)
    rows, medians = [], {}
    for hosts in args.hosts:
        for gpus in [0] + list(args.gpus):
            shape = fleet_lib.Shape(hosts=hosts, gpus_per_host=gpus)
            placement.wipe()
            start = time.perf_counter()
            fleet = fleet_lib.populate(placement, shape)
            filled = time.perf_counter() - start
            fleet_lib.check_sample(placement, fleet)
            print('fleet %s: %d providers written in %.1f s, sample read '
                  'back through the REST API: ok' % (
                      shape.label(), len(fleet.hosts) + len(fleet.gpus),
                      filled), flush=True)
            guests = [('plain 2-vCPU', plain, {})]
            if gpus:
                guests[:0] = [('phone', phone, {}),
                              ('phone, randomize', phone, RANDOMIZE)]
            results = time_queries(placement, guests, args.repeat)
            for guest, _, _ in guests:
                times, cpu, body, same = results[guest]
                medians[(hosts, gpus, guest)] = statistics.median(cpu)
                rows.append((hosts, gpus or '-', guest,
                             tables.ms(statistics.median(cpu)),
                             tables.ms(statistics.median(times)),
                             tables.ms(min(times)), tables.ms(max(times)),
                             len(body['allocation_requests']),
                             len(_candidate_roots(body)),
                             len(body['provider_summaries']),
                             'yes' if same else 'no'))
    print()
    print('Part 1: time per GET /allocation_candidates (limit %d, median of '
          '%d after a warm-up, the queries of a fleet taken in turn; CPU = '
          'CPU time of Placement\'s process, wall = elapsed, with its min '
          'and max)' % (args.limit, args.repeat))
    for line in tables.table(
            ('hosts', 'GPUs/host', 'guest', 'CPU ms', 'wall ms', 'min',
             'max',
             'candidates', 'distinct hosts', 'provider summaries',
             'same answer each time'), rows):
        print(line)
    return medians


# Part 2 ---------------------------------------------------------------------

Run = collections.namedtuple(
    'Run', 'label options query_ms hosts_per_query hosts_offered '
           'gpus_offered placed hosts_used gpus_used max_gpu max_host '
           'histogram failed')


def _options(mode_options, args):
    options = dict(PLACEMENT_DEFAULTS)
    for name, value in mode_options.items():
        options[name] = args.max_candidates if value is None else value
    return options


def _describe(options):
    parts = []
    if options['randomize_allocation_candidates']:
        parts.append('randomize_allocation_candidates = true')
    if options['allocation_candidates_generation_strategy'] != 'depth-first':
        parts.append('allocation_candidates_generation_strategy = %s' %
                     options['allocation_candidates_generation_strategy'])
    if options['max_allocation_candidates'] >= 0:
        parts.append('max_allocation_candidates = %d' %
                     options['max_allocation_candidates'])
    return ', '.join(parts) or 'Placement defaults'


def balance_run(placement, fleet, path, label, options, args):
    placement.free_allocations()
    placement.configure(**options)
    used_gpu = collections.Counter()
    used_host = collections.Counter()
    hosts_offered, gpus_offered = set(), set()
    times, per_query = [], []
    failed = 0
    for _ in range(args.boots):
        body, _, used = _timed_get(placement, path)
        times.append(used)
        per_query.append(len(_candidate_roots(body)))
        hosts_offered |= _candidate_roots(body)
        for candidate in body['allocation_requests']:
            gpus_offered.add(scheduler_choice.render_provider(candidate))
        picked = scheduler_choice.choose(body, args.gpu_multiplier)
        if picked is None:
            failed += 1
            continue
        root, candidate = picked
        placement.put('/allocations/%s' % uuid_lib.uuid4(), {
            'allocations': candidate['allocations'],
            'consumer_generation': None,
            'project_id': 'bench-project', 'user_id': 'bench-user'},
            version=nova_request.VERSION)
        used_gpu[scheduler_choice.render_provider(candidate)] += 1
        used_host[root] += 1
    histogram = collections.Counter(used_gpu[gpu] for gpu in fleet.gpus)
    placement.configure(**PLACEMENT_DEFAULTS)
    return Run(label=label, options=options,
               query_ms=statistics.median(times) * 1000.0,
               hosts_per_query=statistics.median(per_query),
               hosts_offered=len(hosts_offered),
               gpus_offered=len(gpus_offered - {None}),
               placed=sum(used_gpu.values()), hosts_used=len(used_host),
               gpus_used=len(used_gpu), max_gpu=max(used_gpu.values() or [0]),
               max_host=max(used_host.values() or [0]),
               histogram=histogram, failed=failed)


def run_balance(placement, args):
    shape = fleet_lib.Shape(hosts=args.balance_hosts,
                            gpus_per_host=args.balance_gpus)
    placement.wipe()
    fleet = fleet_lib.populate(placement, shape)
    fleet_lib.check_sample(placement, fleet)
    path = nova_request.allocation_candidates_path(True, args.balance_limit)
    print()
    print('Part 2: %d phone boots on %s (%d candidates per query before '
          'the limit), max_placement_results = %d, [gpu_numa] '
          'weight_multiplier = %s' % (
              args.boots, shape.label(), len(fleet.gpus),
              args.balance_limit, args.gpu_multiplier), flush=True)
    runs = []
    for label, mode_options in MODES:
        options = _options(mode_options, args)
        runs.append(balance_run(placement, fleet, path, label, options,
                                args))
        print('  %s (%s): done' % (label, _describe(options)), flush=True)
    ideal = -(-args.boots // len(fleet.gpus))
    rows = []
    for run in runs:
        spread = ' '.join('%d:%d' % (slots, run.histogram[slots])
                          for slots in sorted(run.histogram))
        rows.append((run.label, '%.0f' % run.query_ms,
                     '%g' % run.hosts_per_query,
                     '%d/%d' % (run.hosts_offered, shape.hosts),
                     '%d/%d' % (run.gpus_offered, len(fleet.gpus)),
                     '%d/%d' % (run.hosts_used, shape.hosts),
                     '%d/%d' % (run.gpus_used, len(fleet.gpus)),
                     run.max_host, run.max_gpu, spread))
    print()
    print('Placement options of each run:')
    for run in runs:
        print('  %-32s %s' % (run.label, _describe(run.options)))
    print()
    for line in tables.table(
            ('run', 'query CPU ms', 'hosts/query', 'hosts offered',
             'GPUs offered', 'hosts used', 'GPUs used', 'max/host',
             'max/GPU', 'phones per GPU: number of GPUs'), rows):
        print(line)
    print('(%d phones; a perfect spread puts at most %d on a GPU; "offered":'
          ' appeared in at least one answer)' % (args.boots, ideal))
    failed = sum(run.failed for run in runs)
    if failed:
        print('%d boots found no candidate' % failed)
    return runs, shape, fleet


def print_ratios(args, medians, balance):
    print()
    print('Ratios')
    if medians:
        for hosts in args.hosts:
            for gpus in args.gpus:
                plain = medians[(hosts, 0, 'plain 2-vCPU')]
                print('ratio query CPU time phone on %d GPUs/host / plain '
                      'guest without render providers, %d hosts: %.2f' % (
                          gpus, hosts,
                          medians[(hosts, gpus, 'phone')] / plain))
                print('ratio query CPU time phone with / without '
                      'randomize_allocation_candidates, %d GPUs/host, %d '
                      'hosts: %.2f' % (
                          gpus, hosts,
                          medians[(hosts, gpus, 'phone, randomize')] /
                          medians[(hosts, gpus, 'phone')]))
                print('ratio query CPU time plain guest with / without '
                      'render providers (%d GPUs/host), %d hosts: %.2f' % (
                          gpus, hosts,
                          medians[(hosts, gpus, 'plain 2-vCPU')] / plain))
    if balance:
        runs, shape, fleet = balance
        for run in runs:
            print('ratio hosts offered / fleet, %s: %.2f; GPUs used / '
                  'phones: %.2f; max phones per GPU: %d' % (
                      run.label, run.hosts_offered / shape.hosts,
                      run.gpus_used / max(run.placed, 1), run.max_gpu))


def main(argv):
    args = parse_args(argv)
    if args.db:
        db_path, cleanup = args.db, False
    else:
        fd, db_path = tempfile.mkstemp(prefix='placement-cost-',
                                       suffix='.db')
        os.close(fd)
        cleanup = True
    start = time.monotonic()
    try:
        placement = placement_app.Placement(db_path)
        medians = None if args.skip_cost else run_cost(placement, args)
        balance = None if args.skip_balance else run_balance(placement,
                                                             args)
    finally:
        if cleanup and os.path.exists(db_path):
            os.unlink(db_path)
    print('\nwall time %.0f s' % (time.monotonic() - start))
    print_ratios(args, medians, balance)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
