"""Command line of the fleet placement-quality benchmark."""

import argparse
import copy
import gc
import logging
import os
import random
import time

import nova.conf
from nova import objects

from benchmarks.fleet import chart
from benchmarks.fleet import optimum
from benchmarks.fleet import policies as policies_lib
from benchmarks.fleet import report
from benchmarks.fleet import simulate
from benchmarks.fleet import topology
from benchmarks.fleet import workload

CONF = nova.conf.CONF

DESCRIPTION = ('Placement quality of stock Nova and of the plugin\'s '
               'policies on a simulated phone farm, against the optimum.')
CHART = os.path.join('doc', 'source', '_static', 'fleet_quality.png')
#: --tiny: one host of each kind, smaller GPUs, a short stream.
TINY = {'hosts': 4, 'slots_per_gpu': 4}


def parse(argv):
    parser = argparse.ArgumentParser(description=DESCRIPTION)
    parser.add_argument('--hosts', type=int, default=16,
                        help='hosts in the fleet, kinds round-robin '
                             '(default: 16)')
    parser.add_argument('--slots-per-gpu', type=int, default=None,
                        help='override the render slots of every GPU '
                             '(default: 16 on AArch64 hosts, 8 on x86)')
    parser.add_argument('--overbook', type=float, default=1.05,
                        help='phones asked in the fill phase per render '
                             'slot of the fleet (default: 1.05)')
    parser.add_argument('--vm-share', type=float, default=0.35,
                        help='share of the fleet\'s RAM asked by background '
                             'VMs (default: 0.35)')
    parser.add_argument('--churn', type=float, default=0.5,
                        help='churn events (half deletes, half boots) per '
                             'fill-phase boot (default: 0.5)')
    parser.add_argument('--exact-max-hosts', type=int, default=500,
                        help='solve the MILP up to this many hosts, the LP '
                             'relaxation above (default: 500)')
    parser.add_argument('--seed', default='phone-farm',
                        help='seed of the fleet and the stream')
    parser.add_argument('--chart', default=CHART,
                        help='PNG to write (default: %s); "" for none'
                             % CHART)
    parser.add_argument('--tiny', action='store_true',
                        help='4 hosts with 4 slots per GPU: seconds, for '
                             'the test suite')
    args = parser.parse_args(argv)
    if args.tiny:
        args.hosts = TINY['hosts']
        args.slots_per_gpu = TINY['slots_per_gpu']
    for name in ('hosts', 'exact_max_hosts'):
        if getattr(args, name) < 1:
            parser.error('--%s must be at least 1' % name.replace('_', '-'))
    if args.slots_per_gpu is not None and args.slots_per_gpu < 1:
        parser.error('--slots-per-gpu must be at least 1')
    for name in ('overbook', 'vm_share', 'churn'):
        if getattr(args, name) < 0:
            parser.error('--%s must not be negative'
                         % name.replace('_', '-'))
    return args


def setup():
    CONF([], project='nova', default_config_files=[])
    objects.register_all()
    # The plugin logs a WARNING for every phone ``preferred`` splits, and
    # the tables count them; errors still show.
    logging.basicConfig(level=logging.ERROR,
                        format='%(levelname)s %(name)s: %(message)s')


def bounds(hosts, sizes, exact, with_lp=False):
    """{'co-located': Bound, 'split': Bound} for a demand of ``sizes``.

    With ``with_lp`` (and an exact solve), the co-located LP relaxation
    too, to show how far it sits from the optimum.
    """
    demand = optimum.demand_counts(sizes)
    found = {'co-located': optimum.solve(hosts, demand, co_located=True,
                                         integral=exact),
             'split': optimum.solve(hosts, demand, co_located=False,
                                    integral=exact)}
    if with_lp and exact:
        found['co-located LP'] = optimum.solve(hosts, demand,
                                               integral=False)
    return found


def main(argv=None):
    args = parse(argv)
    setup()
    policies, note = policies_lib.build()
    started = time.perf_counter()
    rng = random.Random('%s-%d' % (args.seed, args.hosts))
    template = topology.build(args.hosts, rng, args.slots_per_gpu)
    stream = workload.generate(template, rng, overbook=args.overbook,
                               vm_share=args.vm_share, churn=args.churn)
    exact = args.hosts <= args.exact_max_hosts
    peak_bound = bounds(template, stream.demand(stream.fill_end).values(),
                        exact, with_lp=True)
    capacities = [[gpu.capacity for gpu in host.gpus] for host in template]
    report.print_setup(template, stream, policies, note, peak_bound)
    results = []
    for policy in policies:
        hosts = copy.deepcopy(template)
        gc.collect()
        sim = simulate.Simulation(
            policy.name, hosts, policy.filters, policy.weighers,
            fits=lambda sizes: optimum.fits_all(template, sizes, exact))
        result = sim.run(stream)
        result.final_bound = bounds(template, result.final_demand, exact)
        results.append(result)
    for result in results:
        report.print_policy(result, peak_bound, capacities)
    if args.chart:
        directory = os.path.dirname(args.chart)
        if directory:
            os.makedirs(directory, exist_ok=True)
        chart.draw(args.chart, results, capacities,
                   'Render slots used per GPU (%d hosts, seed %s)'
                   % (args.hosts, args.seed))
        print('chart written to %s' % args.chart)
    print('total run time %.0f s' % (time.perf_counter() - started))
    return report.print_ratios(results, peak_bound, capacities, note)
