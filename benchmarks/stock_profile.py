"""Where stock Nova's NUMATopologyFilter spends a request, by profile.

Runs the ``stock`` pipeline of ``scheduler_scale.py`` (Nova's
``NUMATopologyFilter`` through Nova's filter handler, on the same synthetic
mixed fleet and RequestSpecs) under cProfile and prints, per request kind,
the share of the RequestSpec clone that ``host_passes`` makes for every
host (``obj_clone``, a ``copy.deepcopy``; no other object is cloned there)
and of the NUMA fits, one per allocation candidate, with the number of
host cells those fits tried.

Usage (from the repository root)::

    PYTHONPATH=. python benchmarks/stock_profile.py [--hosts 200]

Profiling slows every call down; read the shares, not the milliseconds.
See ``doc/source/benchmarks.rst``.
"""

import argparse
import cProfile
import gc
import os
import pstats
import sys
from unittest import mock

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))

from keystoneauth1 import session as ks_session  # noqa: E402
from nova.scheduler.client import report as report_client  # noqa: E402

from benchmarks.scale import fleet as fleet_lib  # noqa: E402
from benchmarks.scale import main as scale_main  # noqa: E402
from benchmarks.scale import pipelines  # noqa: E402
from benchmarks.scale import placement as placement_lib  # noqa: E402

#: (label, file suffix, function name) of the calls reported.
CALLS = (
    ('RequestSpec clones (obj_clone, a deep copy)',
     'oslo_versionedobjects/base.py', 'obj_clone'),
    ('NUMA fits (numa_fit_instance_to_host)', 'hardware.py',
     'numa_fit_instance_to_host'),
    ('  host cells tried (_numa_fit_instance_cell)', 'hardware.py',
     '_numa_fit_instance_cell'),
)


def profile(pipes, name, repeat):
    kind = pipes.kinds[name]
    kind.reset()
    pipes.stock(kind)  # warm-up
    prof = cProfile.Profile()
    for _ in range(repeat):
        kind.reset()
        prof.enable()
        pipes.stock(kind)
        prof.disable()
    stats = pstats.Stats(prof).stats
    total = sum(tt for _, _, tt, _, _ in stats.values())
    candidates = sum(len(kind.answer.candidates_by_host[s.uuid])
                     for s in kind.states)
    print('%s request: %d hosts, %d candidates' % (
        name, len(kind.states), candidates))
    for label, suffix, func_name in CALLS:
        found = [(nc, ct) for (path, _, func), (_, nc, _, ct, _)
                 in stats.items()
                 if path.endswith(suffix) and func == func_name]
        calls = sum(nc for nc, _ in found) // repeat
        share = sum(ct for _, ct in found) / total if total else 0.0
        print('  %-50s %6d calls  %3.0f %% of the time' % (
            label, calls, 100 * share))


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--hosts', type=int, default=200,
                        help='hosts of the mixed fleet (default 200)')
    parser.add_argument('--repeat', type=int, default=3,
                        help='profiled requests per kind (default 3)')
    parser.add_argument('--seed', default='gpu-numa')
    args = parser.parse_args(argv)
    scale_main.setup()
    guard = placement_lib.HttpGuard()
    with mock.patch.object(ks_session.Session, 'request', guard.request):
        fleet = fleet_lib.Fleet(args.hosts, args.seed)
        client = report_client.SchedulerReportClient(
            adapter=placement_lib.CountingPlacement(fleet))
        pipes = pipelines.Pipelines(fleet, client, with_pair=False)
        gc.collect()
        gc.freeze()
        for name in pipelines.KINDS:
            profile(pipes, name, args.repeat)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
