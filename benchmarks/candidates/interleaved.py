"""Part 1, interleaved: each provider model against the same hosts bare.

Fleets built minutes apart drift apart with the mode of a shared machine
(the plain guest's baseline is bimodal), and so do ratios taken across
them. Here each host count gets one baseline fleet (root providers only,
no render inventory) and, in every round and for each model in turn: the
plain guest's query on the baseline; the model's rows go in (``models``);
the plain guest's and the phone's queries; the rows go out again. The
three queries of a round are seconds apart, so a round's ratios compare
like with like; the minimum and the median of the per-round ratios are
the issue's numbers. After each removal the table counts must equal the
baseline's, so no query ever sees another model's rows; after each write
the benchmark waits until MariaDB has purged the deleted rows and its
server is quiet again, so no query pays for the background work of a
write (``_settle``).
"""

import gc
import time

from benchmarks.candidates import mariadb
from benchmarks.candidates import models
from benchmarks.candidates import report
from benchmarks.candidates import timing
from benchmarks.common import fleet as fleet_lib
from benchmarks.common import nova_request


class BaselineChanged(AssertionError):
    """A model's rows were not all removed after a round."""


def _query(placement, path, server_cpu, series, seen, timed):
    """Time one query (after a full collection); note what came back."""
    gc.collect()
    body, _, cpu = timing.timed_get(placement, path, server_cpu)
    if timed:
        series.append(cpu)
    seen.update(candidates=len(body['allocation_requests']),
                hosts=len(timing.candidate_roots(body)),
                summaries=len(body['provider_summaries']))


def _write(placement, action):
    """Run ``action(conn)`` in a transaction; return its seconds."""
    start = time.perf_counter()
    with placement.engine.begin() as conn:
        action(conn)
    return time.perf_counter() - start


def _record(hosts, model, rows):
    return {'hosts': hosts, 'gpus': model.gpus, 'model': model.name,
            'rows': len(rows), 'base': [], 'plain': [], 'phone': [],
            'insert_s': [], 'remove_s': [], 'settle_s': [],
            'rounds_restored': 0,
            'answers': {'base': {}, 'plain': {}, 'phone': {}}}


def _settle(placement, server_cpu):
    """Let the database finish a write's background work; return seconds.

    On MariaDB: until InnoDB purged the deleted rows, then until the
    server's CPU is quiet.
    """
    waited = 0.0
    if placement.backend == 'mysql':
        waited = mariadb.wait_for_purge(placement.engine)
    return waited + timing.settle(server_cpu)


def _round(placement, prepared, record, paths, baseline, server_cpu,
           timed):
    """One round of one model: baseline, rows in, with, rows out.

    In the warm-up round one host is read back through the REST API.
    """
    model, model_rows, root_uuid = prepared
    answers = record['answers']
    _query(placement, paths['plain'], server_cpu, record['base'],
           answers['base'], timed)
    inserted = _write(placement, model_rows.insert)
    if not timed:
        model.check(placement, root_uuid)
    waited = _settle(placement, server_cpu)
    for guest in ('plain', 'phone'):
        _query(placement, paths[guest], server_cpu, record[guest],
               answers[guest], timed)
    counts = []
    removed = _write(placement, lambda conn: (
        models.remove(conn),
        counts.append(models.table_counts(conn))))
    if counts[0] != baseline:
        raise BaselineChanged(
            '%s: after removing its rows the tables hold %s rows '
            '(providers, inventories, trait links, render inventories), '
            'the baseline %s' % (record['model'], counts[0], baseline))
    record['rounds_restored'] += 1
    waited += _settle(placement, server_cpu)
    if timed:
        record['insert_s'].append(inserted)
        record['remove_s'].append(removed)
        record['settle_s'].append(waited)


def run(placement, args, server_cpu):
    """Time every model on a baseline fleet of each host count."""
    paths = {'phone': nova_request.allocation_candidates_path(
        True, args.limit), 'plain': nova_request.allocation_candidates_path(
        False, args.limit)}
    records = []
    for hosts in args.hosts:
        placement.wipe()
        fleet = fleet_lib.populate(placement, fleet_lib.Shape(hosts, 0))
        fleet_lib.check_sample(placement, fleet)
        compared = [model for gpus in args.gpus
                    for model in models.models_for(gpus, args.per_cell)]
        fleet_lib.register(placement, set().union(
            *(model.traits() for model in compared)))
        with placement.engine.begin() as conn:
            baseline = models.table_counts(conn)
            roots = models.roots(conn)
            prepared = [(model, model.rows(conn, roots), roots[0][2])
                        for model in compared]
        print('interleaved, %d hosts: models %s; %d rounds after a '
              'warm-up' % (hosts, ', '.join(
                  '%s x %d GPUs (%d rows)' % (model.name, model.gpus,
                                              len(rows))
                  for model, rows, _ in prepared), args.repeat), flush=True)
        host_records = [_record(hosts, model, rows)
                        for model, rows, _ in prepared]
        for timed in [False] + [True] * args.repeat:
            for model_rows, record in zip(prepared, host_records):
                _round(placement, model_rows, record, paths, baseline,
                       server_cpu, timed)
        print('interleaved, %d hosts: one host of each model read back '
              'through the REST API: ok; baseline fleet %d providers, %d '
              'inventories, %d trait links, %d render inventories, the same '
              'after every round (%d rounds)' % ((hosts,) + baseline + (
                  sum(r['rounds_restored'] for r in host_records),)),
              flush=True)
        # The ratios of this host count now, so that a long run that is
        # stopped later still leaves them in its log.
        backend = {'mysql': 'mariadb'}.get(placement.backend,
                                           placement.backend)
        for line in report.interleaved_ratios(backend, host_records):
            print('so far: %s' % line, flush=True)
        records += host_records
    return records
