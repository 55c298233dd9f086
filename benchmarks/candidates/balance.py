"""Part 2: how Placement's options spread a stream of phone boots.

Each run boots ``--boots`` phones one after the other on an empty fleet
with host-level slots (``slot_fleet.populate_slots``: the render slots on
each compute node's provider): each takes Placement's answer, picks the
host as the scheduler with the plugin would, claims the slot on its root
with ``PUT /allocations/{consumer}``, and lets the host's compute choose
the render node and publish its render nodes again
(``benchmarks/common/scheduler_choice.py``), once per combination of
``randomize_allocation_candidates``,
``allocation_candidates_generation_strategy`` and
``max_allocation_candidates``.

What this measures changed with host-level slots. Placement's options now
decide only which hosts reach the scheduler (one candidate per host: caps
and limits cut hosts, never a host's GPUs); the spreading over a host's
GPUs is the compute's, from its exact count. So "GPUs offered" counts the
GPUs of the hosts offered (every one of them is reachable through its
host), and the per-GPU spread shows the scheduler's choice of host and
the compute's choice of render node together.
"""

import collections
import statistics
import uuid as uuid_lib

from benchmarks.candidates import cost
from benchmarks.candidates import slot_fleet
from benchmarks.candidates import timing
from benchmarks.common import fleet as fleet_lib
from benchmarks.common import nova_request
from benchmarks.common import scheduler_choice
from nova_gpu_numa_sched import render_usage


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


def _usage(fleet):
    """{root: {key: RenderNodeUsage}}: every render node free."""
    return {root: {node.key: render_usage.RenderNodeUsage(
        key=node.key, cell=node.numa_node, slots=node.slots, used=0,
        devnode=node.devnode) for node in nodes}
        for root, nodes in fleet.nodes.items()}


def boot_stream(placement, fleet, path, label, options, args, server_cpu):
    """Boot ``args.boots`` phones under ``options``; return a record."""
    placement.free_allocations()
    placement.configure(**options)
    usage = _usage(fleet)
    published = {root: render_usage.dumps(nodes)
                 for root, nodes in usage.items()}
    used_gpu = collections.Counter()
    used_host = collections.Counter()
    hosts_offered = set()
    times, per_query = [], []
    failed = 0
    try:
        for _ in range(args.boots):
            body, _, used = timing.timed_get(placement, path, server_cpu)
            times.append(used)
            roots = timing.candidate_roots(body)
            per_query.append(len(roots))
            hosts_offered |= roots
            picked = scheduler_choice.choose(body, args.gpu_multiplier,
                                             published)
            key = None
            if picked is not None:
                root, candidate = picked
                key = scheduler_choice.claim_node(usage[root],
                                                  args.gpu_multiplier)
            if key is None:
                failed += 1
                continue
            placement.put('/allocations/%s' % uuid_lib.uuid4(), {
                'allocations': candidate['allocations'],
                'consumer_generation': None,
                'project_id': 'bench-project', 'user_id': 'bench-user'},
                version=nova_request.VERSION)
            # The compute's claim takes a slot of that render node and
            # publishes the host's render nodes again.
            usage[root][key].used += 1
            published[root] = render_usage.dumps(usage[root])
            used_gpu[(root, key)] += 1
            used_host[root] += 1
    finally:
        placement.configure(**cost.PLACEMENT_DEFAULTS)
    gpus = fleet.gpus
    histogram = collections.Counter(used_gpu[gpu] for gpu in gpus)
    return {'label': label, 'options': describe(options),
            'query_cpu': statistics.median(times),
            'hosts_per_query': statistics.median(per_query),
            'hosts_offered': len(hosts_offered),
            'gpus_offered': sum(1 for root, _ in gpus
                                if root in hosts_offered),
            'placed': sum(used_gpu.values()), 'hosts_used': len(used_host),
            'gpus_used': len(used_gpu),
            'max_gpu': max(used_gpu.values() or [0]),
            'max_host': max(used_host.values() or [0]),
            'histogram': {str(k): v for k, v in sorted(histogram.items())},
            'failed': failed, 'hosts': fleet.shape.hosts,
            'gpus': len(gpus), 'boots': args.boots}


def run(placement, args, server_cpu):
    """Every mode on one fleet; return [record]."""
    shape = fleet_lib.Shape(hosts=args.balance_hosts,
                            gpus_per_host=args.balance_gpus)
    placement.wipe()
    fleet = slot_fleet.populate_slots(placement, shape)
    slot_fleet.check_slots(placement, fleet)
    path = nova_request.allocation_candidates_path(True, args.balance_limit)
    print('Part 2: %d phone boots on %s with host-level slots (%d '
          'candidates per query before the limit: one per host), '
          'max_placement_results = %d, [gpu_numa] weight_multiplier = %s; '
          'Placement picks the hosts offered, the compute claim the render '
          'node' % (args.boots, shape.label(), len(fleet.hosts),
                    args.balance_limit, args.gpu_multiplier), flush=True)
    records = []
    for label, options in modes(args.balance_caps):
        records.append(boot_stream(placement, fleet, path, label, options,
                                   args, server_cpu))
        print('  %s (%s): done' % (label, describe(options)), flush=True)
    return records
