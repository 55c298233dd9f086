"""Time Placement's answers to a set of queries, taken in turn.

On a shared machine one query's time moves with whatever else runs, and a
run may sit in a fast or a slow mode for minutes. So the queries of one
fleet are taken round-robin (each round gives every query the same share
of the machine), a ratio is taken per round between queries timed seconds
apart, and each series is summed up by its minimum (the least disturbed
run) and median.
"""

import dataclasses
import gc
import os
import statistics
import time
import typing as ty

from benchmarks.common import nova_request


@dataclasses.dataclass
class Query:
    """One query of a fleet: what it asks and under which options."""

    guest: str            # 'phone' or 'plain'
    variant: str          # 'defaults', 'cap 200 breadth-first', ...
    path: str
    options: dict = dataclasses.field(default_factory=dict)

    @property
    def label(self):
        return '%s, %s' % (self.guest, self.variant)


@dataclasses.dataclass
class Timing:
    """CPU and wall seconds of each timed round, and what came back."""

    query: Query
    cpu: ty.List[float] = dataclasses.field(default_factory=list)
    wall: ty.List[float] = dataclasses.field(default_factory=list)
    candidates: int = 0
    hosts: int = 0
    summaries: int = 0
    answers: set = dataclasses.field(default_factory=set)

    @property
    def same(self):
        return len(self.answers) == 1


def summary(values):
    """(minimum, median) of a series of seconds."""
    return min(values), statistics.median(values)


def candidate_roots(body):
    summaries = body['provider_summaries']
    return {summaries[next(iter(c['allocations']))]['root_provider_uuid']
            for c in body['allocation_requests']}


def _answer(body):
    """The set of allocation requests of an answer, order aside."""
    return frozenset(
        tuple(sorted((rp, tuple(sorted(alloc['resources'].items())))
                     for rp, alloc in candidate['allocations'].items()))
        for candidate in body['allocation_requests'])


class ProcessClock:
    """CPU seconds used so far by another process (the database server).

    From ``/proc/<pid>/stat`` (user + system time, in clock ticks).
    """

    def __init__(self, pid):
        self.pid = pid
        self.tick = float(os.sysconf('SC_CLK_TCK'))

    def __call__(self):
        with open('/proc/%d/stat' % self.pid) as stat:
            # The command name in parentheses may hold spaces; the fields
            # after it are fixed: utime and stime are the 12th and 13th.
            fields = stat.read().rpartition(')')[2].split()
        return (int(fields[11]) + int(fields[12])) / self.tick


def _no_server():
    return 0.0


def settle(server_cpu, interval=0.2, timeout=60.0):
    """Wait until the database server is quiet; return the seconds waited.

    After a bulk write InnoDB purges the deleted rows and recomputes table
    statistics in background threads; the server's CPU counts in a
    query's time, so that work would be charged to whichever query comes
    next. Quiet: at most one clock tick of the server's CPU in
    ``interval`` seconds. In-process SQLite has no server: no wait.
    """
    if server_cpu is _no_server:
        return 0.0
    start = time.perf_counter()
    last = server_cpu()
    while time.perf_counter() - start < timeout:
        time.sleep(interval)
        now = server_cpu()
        if now - last <= 0.011:
            break
        last = now
    return time.perf_counter() - start


def timed_get(placement, path, server_cpu=_no_server):
    """(body, wall seconds, CPU seconds) of one query.

    Placement runs in this process and thread: the CPU time is this
    process's, plus the database server's (``server_cpu``) when it runs
    apart (MariaDB). The wall time also counts waiting for a CPU.
    """
    wall, cpu, server = (time.perf_counter(), time.process_time(),
                         server_cpu())
    body = placement.get(path, version=nova_request.VERSION)
    used = time.process_time() - cpu + server_cpu() - server
    return body, time.perf_counter() - wall, used


def time_queries(placement, queries, repeat, defaults,
                 server_cpu=_no_server):
    """Warm every query up once, then time them in turn ``repeat`` times.

    A full collection runs before each query, so that one query does not
    pay for the garbage of the one before. Returns [Timing] in the order
    of ``queries``.
    """
    timings = [Timing(query) for query in queries]
    for timed in [False] + [True] * repeat:
        for timing in timings:
            placement.configure(**timing.query.options)
            gc.collect()
            try:
                body, wall, cpu = timed_get(placement, timing.query.path,
                                            server_cpu)
            finally:
                placement.configure(**defaults)
            if timed:
                timing.cpu.append(cpu)
                timing.wall.append(wall)
            timing.candidates = len(body['allocation_requests'])
            timing.hosts = len(candidate_roots(body))
            timing.summaries = len(body['provider_summaries'])
            timing.answers.add(_answer(body))
    return timings
