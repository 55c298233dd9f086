"""Part 1: what a phone's and a plain guest's query cost, and the levers.

For each fleet size: the hosts without render providers, with ``--gpus``
render providers each (one per render node, the model of earlier
releases), and, as a stand-in for one provider per NUMA cell carrying the
slots of that cell's render nodes, the same slots on one provider per
cell. On each fleet the
queries of a phone and of a plain 2-vCPU guest, under Placement's
defaults and under each lever that needs no change of the provider model:
Placement's ``max_allocation_candidates`` with either generation strategy,
``randomize_allocation_candidates``, ``[workarounds]
optimize_for_wide_provider_trees``, and the request's shape (the slot in
a numbered request group, with a required trait; a smaller
``max_placement_results``).
"""

import dataclasses
import time

from benchmarks.candidates import timing
from benchmarks.common import fleet as fleet_lib
from benchmarks.common import nova_request

#: Placement's own defaults, restored after every query.
PLACEMENT_DEFAULTS = {'randomize_allocation_candidates': False,
                      'allocation_candidates_generation_strategy':
                          'depth-first',
                      'max_allocation_candidates': -1,
                      'optimize_for_wide_provider_trees': False}
RANDOMIZE = {'randomize_allocation_candidates': True}
#: The vendor trait the fleet's render providers carry.
VENDOR_TRAIT = fleet_lib.VENDOR_TRAIT


@dataclasses.dataclass(frozen=True)
class FleetCase:
    """One fleet of part 1."""

    shape: fleet_lib.Shape
    #: 'none', 'per render node' or 'per cell'
    model: str
    #: GPUs per host the fleet stands for
    gpus: int


def fleet_cases(hosts, gpus_list, per_cell):
    cases = [FleetCase(fleet_lib.Shape(hosts, 0), 'none', 0)]
    for gpus in gpus_list:
        cases.append(FleetCase(fleet_lib.Shape(hosts, gpus),
                               'per render node', gpus))
    if per_cell:
        cells = fleet_lib.Shape.cells
        for gpus in gpus_list:
            if gpus > cells and gpus % cells == 0:
                slots = fleet_lib.Shape.slots_per_gpu * gpus // cells
                cases.append(FleetCase(
                    fleet_lib.Shape(hosts, cells, slots_per_gpu=slots),
                    'per cell', gpus))
    return cases


def placement_levers(caps):
    """[(variant, options)] of Placement's settings, defaults first."""
    levers = [('defaults', {}), ('randomize', dict(RANDOMIZE))]
    for cap in caps:
        for strategy in ('depth-first', 'breadth-first'):
            levers.append(('cap %d %s' % (cap, strategy), {
                'max_allocation_candidates': cap,
                'allocation_candidates_generation_strategy': strategy}))
    return levers


def phone_shapes(limit, small_limit):
    """[(variant, path)] of other shapes of the phone's request."""
    group = nova_request.flavor_extra_specs(True, group='1')
    with_trait = dict(group, **{'trait1:%s' % VENDOR_TRAIT: 'required'})
    return [
        ('slot in group 1', nova_request.allocation_candidates_path(
            True, limit, extra_specs=group)),
        ('slot in group 1 + required trait',
         nova_request.allocation_candidates_path(
             True, limit, extra_specs=with_trait)),
        ('limit %d' % small_limit,
         nova_request.allocation_candidates_path(True, small_limit)),
    ]


def queries_for(case, args, all_levers):
    """[timing.Query] to send to one fleet."""
    phone = nova_request.allocation_candidates_path(True, args.limit)
    plain = nova_request.allocation_candidates_path(False, args.limit)
    levers = (placement_levers(args.caps) if all_levers
              else [('defaults', {}), ('randomize', dict(RANDOMIZE))])
    queries = []
    if case.model == 'per cell':
        return [timing.Query('phone', 'defaults', phone),
                timing.Query('plain', 'defaults', plain)]
    if case.model != 'none':
        queries += [timing.Query('phone', variant, phone, options)
                    for variant, options in levers]
        if all_levers:
            queries.append(timing.Query(
                'phone', 'wide-tree optimisation', phone,
                {'optimize_for_wide_provider_trees': True}))
            queries += [timing.Query('phone', variant, path)
                        for variant, path in phone_shapes(
                            args.limit, args.small_limit)]
    queries += [timing.Query('plain', variant, plain, options)
                for variant, options in levers]
    if all_levers:
        queries.append(timing.Query(
            'plain', 'limit %d' % args.small_limit,
            nova_request.allocation_candidates_path(False,
                                                    args.small_limit)))
    return queries


def record(case, t):
    """A JSON-ready row of one query's timings on one fleet."""
    return {'hosts': case.shape.hosts, 'gpus': case.gpus,
            'model': case.model, 'slots': case.shape.slots_per_gpu,
            'providers_per_host': case.shape.gpus_per_host,
            'guest': t.query.guest, 'variant': t.query.variant,
            'cpu': t.cpu, 'wall': t.wall, 'candidates': t.candidates,
            'distinct_hosts': t.hosts, 'summaries': t.summaries,
            'same': t.same}


def run(placement, args, server_cpu):
    """Time every query on every fleet; return [record]."""
    print('Query of a phone:  GET %s' %
          nova_request.allocation_candidates_path(True, args.limit))
    print('Query of a plain guest: GET %s' %
          nova_request.allocation_candidates_path(False, args.limit))
    print('(microversion %s, as Nova\'s report client)' %
          nova_request.VERSION, flush=True)
    records = []
    for hosts in args.hosts:
        for case in fleet_cases(hosts, args.gpus, args.per_cell):
            placement.wipe()
            start = time.perf_counter()
            fleet = fleet_lib.populate(placement, case.shape)
            filled = time.perf_counter() - start
            fleet_lib.check_sample(placement, fleet)
            queries = queries_for(case, args, hosts in args.levers_at and (
                case.gpus in args.levers_gpus or not case.gpus))
            print('fleet %s (%s): %d providers written in %.1f s, sample '
                  'read back through the REST API: ok; %d queries x %d' % (
                      case.shape.label(), case.model,
                      len(fleet.hosts) + len(fleet.gpus), filled,
                      len(queries), args.repeat), flush=True)
            for t in timing.time_queries(placement, queries, args.repeat,
                                         PLACEMENT_DEFAULTS, server_cpu):
                records.append(record(case, t))
    return records
