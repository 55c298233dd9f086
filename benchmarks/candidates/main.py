"""Run every backend's measurements and print the tables, ratios last."""

import json
import os
import signal
import subprocess
import sys
import tempfile
import time

from benchmarks.candidates import mariadb
from benchmarks.candidates import options
from benchmarks.candidates import report

WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                      'worker.py')


def _run_worker(backend, args, url, server_pid, version, tmpdir):
    job_path = os.path.join(tmpdir, '%s-job.json' % backend)
    out_path = os.path.join(tmpdir, '%s-results.json' % backend)
    with open(job_path, 'w') as f:
        json.dump({'backend': backend, 'args': vars(args), 'url': url,
                   'db_path': os.path.join(tmpdir, '%s.db' % backend),
                   'server_pid': server_pid, 'version': version,
                   'out': out_path}, f)
    print('\n== %s (%s) ==' % (backend, version), flush=True)
    proc = subprocess.run([sys.executable, WORKER, job_path])
    if proc.returncode:
        raise RuntimeError('the %s run failed with exit status %d' % (
            backend, proc.returncode))
    with open(out_path) as f:
        return json.load(f)


def _sqlite(args, tmpdir):
    import sqlite3
    return _run_worker('sqlite', args, None, None,
                       'SQLite %s' % sqlite3.sqlite_version, tmpdir)


def _mariadb(args, tmpdir):
    with mariadb.MariaDBServer() as server:
        print('MariaDB server PID %d on %s' % (server.pid, server.socket),
              flush=True)
        return _run_worker('mariadb', args, server.url, server.pid,
                           'MariaDB %s' % server.version(), tmpdir)


def _stop_on_sigterm():
    """Turn SIGTERM into SystemExit, so that the server is stopped."""
    def handler(signum, frame):
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, handler)


def main(argv):
    args = options.parse_args(argv)
    if 'mariadb' in args.backends and not mariadb.available():
        print('MariaDB is not installed: install Debian\'s mariadb-server '
              '(bindep.txt, profiles "benchmark" and "test", which '
              'tools/bootstrap.sh installs), or run with --backends sqlite',
              file=sys.stderr)
        return 2
    _stop_on_sigterm()
    start = time.monotonic()
    results = []
    with tempfile.TemporaryDirectory(prefix='placement-cost-') as tmpdir:
        for backend in args.backends:
            run = _sqlite if backend == 'sqlite' else _mariadb
            try:
                results.append(run(args, tmpdir))
            except (RuntimeError, mariadb.MariaDBError) as e:
                print('placement_cost.py: %s' % e, file=sys.stderr)
                return 1
    print('\nload average at the end: %.1f %.1f %.1f' % os.getloadavg())
    for res in results:
        for part, table in (('cost', report.cost_table),
                            ('models', report.models_table),
                            ('balance', report.balance_table),
                            ('conflicts', report.conflicts_table)):
            if part in res:
                print()
                for line in table(res['backend'], res[part]):
                    print(line)
    print('\nwall time %.0f s' % (time.monotonic() - start))
    print('\nRatios')
    for line in report.ratio_lines(results):
        print(line)
    return 0
