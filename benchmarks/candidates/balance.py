"""Part 2: how Placement's options spread a stream of phone boots.

Each run boots ``--boots`` phones one after the other on an empty fleet:
each takes Placement's answer, picks host and GPU as the scheduler with
the plugin would (``benchmarks/common/scheduler_choice.py``) and claims
with ``PUT /allocations/{consumer}``, once per combination of
``randomize_allocation_candidates``,
``allocation_candidates_generation_strategy`` and
``max_allocation_candidates``.
"""

import collections
import statistics
import uuid as uuid_lib

from benchmarks.candidates import cost
from benchmarks.candidates import timing
from benchmarks.common import fleet as fleet_lib
from benchmarks.common import nova_request
from benchmarks.common import scheduler_choice


def modes(caps):
    """[(label, [placement] options)] of the balance runs."""
    found = [('defaults', {}), ('randomize', dict(cost.RANDOMIZE))]
    for cap in caps:
        for strategy, randomize in (('depth-first', False),
                                    ('breadth-first', False),
                                    ('breadth-first', True)):
            label = 'cap %d %s%s' % (cap, strategy,
                                     ' + randomize' if randomize else '')
            found.append((label, {
                'max_allocation_candidates': cap,
                'allocation_candidates_generation_strategy': strategy,
                'randomize_allocation_candidates': randomize}))
    return found


def describe(options):
    parts = ['%s = %s' % (name, str(value).lower() if isinstance(
        value, bool) else value) for name, value in sorted(options.items())
        if value != cost.PLACEMENT_DEFAULTS[name]]
    return ', '.join(parts) or 'Placement defaults'


def boot_stream(placement, fleet, path, label, options, args, server_cpu):
    """Boot ``args.boots`` phones under ``options``; return a record."""
    placement.free_allocations()
    placement.configure(**options)
    used_gpu = collections.Counter()
    used_host = collections.Counter()
    hosts_offered, gpus_offered = set(), set()
    times, per_query = [], []
    failed = 0
    try:
        for _ in range(args.boots):
            body, _, used = timing.timed_get(placement, path, server_cpu)
            times.append(used)
            roots = timing.candidate_roots(body)
            per_query.append(len(roots))
            hosts_offered |= roots
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
    finally:
        placement.configure(**cost.PLACEMENT_DEFAULTS)
    histogram = collections.Counter(used_gpu[gpu] for gpu in fleet.gpus)
    return {'label': label, 'options': describe(options),
            'query_cpu': statistics.median(times),
            'hosts_per_query': statistics.median(per_query),
            'hosts_offered': len(hosts_offered),
            'gpus_offered': len(gpus_offered - {None}),
            'placed': sum(used_gpu.values()), 'hosts_used': len(used_host),
            'gpus_used': len(used_gpu),
            'max_gpu': max(used_gpu.values() or [0]),
            'max_host': max(used_host.values() or [0]),
            'histogram': {str(k): v for k, v in sorted(histogram.items())},
            'failed': failed, 'hosts': fleet.shape.hosts,
            'gpus': len(fleet.gpus), 'boots': args.boots}


def run(placement, args, server_cpu):
    """Every mode on one fleet; return [record]."""
    shape = fleet_lib.Shape(hosts=args.balance_hosts,
                            gpus_per_host=args.balance_gpus)
    placement.wipe()
    fleet = fleet_lib.populate(placement, shape)
    fleet_lib.check_sample(placement, fleet)
    path = nova_request.allocation_candidates_path(True, args.balance_limit)
    print('Part 2: %d phone boots on %s (%d candidates per query before '
          'the limit), max_placement_results = %d, [gpu_numa] '
          'weight_multiplier = %s' % (
              args.boots, shape.label(), len(fleet.gpus),
              args.balance_limit, args.gpu_multiplier), flush=True)
    records = []
    for label, options in modes(args.balance_caps):
        records.append(boot_stream(placement, fleet, path, label, options,
                                   args, server_cpu))
        print('  %s (%s): done' % (label, describe(options)), flush=True)
    return records
