"""Run the benchmark's parts on one database, in a process of its own.

Placement configures its database engine once per process, so each
backend gets a fresh interpreter: ``main`` writes the options and the
database URL to a JSON file, runs this module on it, and reads the results
back from the file named in it.
"""

import json
import os
import sys
import warnings

# Run as a script: the repository root is two levels up.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
# Nova's modules import eventlet-era libraries that warn on import.
warnings.simplefilter('ignore')

from benchmarks.candidates import balance  # noqa: E402
from benchmarks.candidates import conflicts  # noqa: E402
from benchmarks.candidates import cost  # noqa: E402
from benchmarks.candidates import interleaved  # noqa: E402
from benchmarks.candidates import timing  # noqa: E402
from benchmarks.common import placement_app  # noqa: E402


class Options:
    """The parsed options, back from JSON."""

    def __init__(self, values):
        self.__dict__.update(values)


def run(job):
    args = Options(job['args'])
    if job['url']:
        placement = placement_app.Placement(url=job['url'])
    else:
        # In main's temporary directory, removed with it whatever happens
        # to this process.
        placement = placement_app.Placement(job['db_path'])
    server_cpu = (timing.ProcessClock(job['server_pid'])
                  if job['server_pid'] else timing._no_server)
    results = {'backend': job['backend'], 'version': job['version']}
    if not args.skip_cost:
        if not args.skip_levers:
            results['cost'] = cost.run(placement, args, server_cpu)
        results['models'] = interleaved.run(placement, args, server_cpu)
    if not args.skip_balance:
        results['balance'] = balance.run(placement, args, server_cpu)
    if args.skip_conflicts:
        pass
    elif placement.backend == 'sqlite':
        # SQLite takes one writer at a time and makes the others wait or
        # fail ("database is locked"): no production Placement runs
        # concurrent claims on it.
        print('Part 3 (claims racing trait writes) runs on MariaDB only: '
              'SQLite serialises writers.', flush=True)
    else:
        results['conflicts'] = conflicts.run(placement, args)
    return results


def main(argv):
    with open(argv[0]) as f:
        job = json.load(f)
    results = run(job)
    with open(job['out'], 'w') as f:
        json.dump(results, f)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
