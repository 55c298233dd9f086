"""Command line of ``benchmarks/placement_cost.py``."""

import argparse

BACKENDS = ('sqlite', 'mariadb')


def _parser():
    parser = argparse.ArgumentParser(
        prog='placement_cost.py',
        description='Time the real Placement answering Nova\'s allocation '
                    'candidates query for a phone and a plain guest, on '
                    'SQLite and on a MariaDB server it starts; measure '
                    'Placement\'s options, the request\'s shape, how they '
                    'spread phones, and claim conflicts while load traits '
                    'move.')
    add = parser.add_argument
    add('--backends', nargs='+', choices=BACKENDS, default=list(BACKENDS),
        help='databases of Placement, each in its own process (default: '
             'sqlite mariadb)')
    add('--hosts', type=int, nargs='+', default=[1000, 5000],
        help='fleet sizes of part 1 (default 1000 5000)')
    add('--gpus', type=int, nargs='+', default=[4, 8],
        help='GPUs per host in part 1 (default 4 8)')
    add('--repeat', type=int, default=7,
        help='timed rounds of part 1, after one warm-up (default 7)')
    add('--limit', type=int, default=1000,
        help='[scheduler] max_placement_results of part 1 (default 1000, '
             'Nova\'s default)')
    add('--levers-at', type=int, nargs='*', default=[1000],
        help='fleet sizes on which every lever is timed (default 1000; '
             'the others get defaults and randomize only)')
    add('--levers-gpus', type=int, nargs='*', default=None,
        help='GPUs per host of the fleets on which every lever is timed '
             '(default: all of --gpus)')
    add('--caps', type=int, nargs='+', default=[1000, 200],
        help='[placement] max_allocation_candidates of the levers '
             '(default 1000 200)')
    add('--small-limit', type=int, default=200,
        help='the smaller max_placement_results lever (default 200)')
    add('--no-per-cell', dest='per_cell', action='store_false',
        help='skip the fleets of one provider per NUMA cell')
    add('--skip-levers', action='store_true',
        help='in part 1, time only the interleaved comparison of the '
             'provider models, not the fleets of the levers')
    add('--balance-hosts', type=int, default=200,
        help='hosts of the part 2 fleet (default 200)')
    add('--balance-gpus', type=int, default=8,
        help='GPUs per host in part 2 (default 8)')
    add('--balance-limit', type=int, default=100,
        help='max_placement_results of part 2 (default 100: 1/16 of the '
             'candidates, as 1000 is for 2,000 hosts with 8 GPUs)')
    add('--boots', type=int, default=200,
        help='phones booted per part 2 run (default 200)')
    add('--balance-caps', type=int, nargs='+', default=None,
        help='max_allocation_candidates of the capped part 2 runs '
             '(default: 2 x and 1/5 x --balance-hosts)')
    add('--gpu-multiplier', type=float, default=4.0,
        help='[gpu_numa] weight_multiplier (default 4.0, as install.rst '
             'recommends)')
    add('--conflict-hosts', type=int, default=50,
        help='hosts of the part 4 fleet (default 50)')
    add('--conflict-gpus', type=int, default=4,
        help='GPUs per host in part 4 (default 4)')
    add('--burst', type=int, default=400,
        help='phones claimed in one part 4 burst (default 400)')
    add('--claimers', type=int, default=4,
        help='threads claiming at once (default 4)')
    add('--writers', type=int, default=2,
        help='threads writing load traits (default 2)')
    add('--phones-per-update', type=int, default=None,
        help='phones placed between two passes of a trait writer over '
             'its GPUs (default --conflict-hosts: about one update of a '
             'host per phone placed on it, as Nova\'s resource tracker '
             'updates a host on each claim)')
    add('--noise', type=float, default=4.0,
        help='sigma of a reading\'s noise, in percent (default 4)')
    add('--per-phone', type=float, default=6.0,
        help='busy percent a phone adds to its GPU (default 6)')
    add('--bucket-width', type=int, default=10,
        help='[gpu_numa] load_bucket_percent (default 10)')
    add('--hysteresis', type=float, nargs='+', default=[2.5, 5.0],
        help='[gpu_numa] load_bucket_hysteresis_percent of the damped '
             'runs (default 2.5 5)')
    add('--retries', type=int, default=10,
        help='[placement] allocation_conflict_retry_count (default 10, '
             'Placement\'s)')
    add('--seed', default='gpu-numa', help='seed of readings and order')
    for part in ('cost', 'balance', 'conflicts'):
        add('--skip-%s' % part, action='store_true',
            help='do not run the %s part' % part)
    add('--tiny', action='store_true',
        help='seconds per backend: 20 hosts x 8 GPUs, 10 boots, a '
             'burst of 24 (for the test suite)')
    return parser


def parse_args(argv):
    parser = _parser()
    args = parser.parse_args(argv)
    if args.tiny:
        args.hosts, args.gpus, args.repeat, args.limit = [20], [8], 1, 10
        args.levers_at, args.caps, args.small_limit = [20], [5], 5
        args.balance_hosts, args.balance_gpus = 10, 2
        args.balance_limit, args.boots, args.balance_caps = 5, 10, [4]
        args.conflict_hosts, args.conflict_gpus, args.burst = 4, 2, 24
        args.phones_per_update = 2
    if args.levers_gpus is None:
        args.levers_gpus = list(args.gpus)
    if args.phones_per_update is None:
        args.phones_per_update = args.conflict_hosts
    if args.balance_caps is None:
        args.balance_caps = [2 * args.balance_hosts,
                             max(1, args.balance_hosts // 5)]
    for name in ('repeat', 'limit', 'small_limit', 'balance_hosts',
                 'balance_gpus', 'balance_limit', 'boots', 'conflict_hosts',
                 'conflict_gpus', 'burst', 'claimers', 'writers',
                 'phones_per_update',
                 'bucket_width', 'retries'):
        if getattr(args, name) < 1:
            parser.error('--%s must be at least 1' % name.replace('_', '-'))
    for name in ('hosts', 'gpus', 'caps', 'balance_caps'):
        if min(getattr(args, name)) < 1:
            parser.error('--%s must be at least 1' % name.replace('_', '-'))
    if args.noise < 0 or min(args.hysteresis) < 0:
        parser.error('--noise and --hysteresis must not be negative')
    if args.bucket_width > 100:
        parser.error('--bucket-width must be at most 100')
    return args
