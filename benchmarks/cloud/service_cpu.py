"""CPU seconds of every service of the cloud, from /proc.

``tools/cloud.sh`` starts each service with ``setsid`` and records its PID
in ``.cloud/pids/<service>``: that PID leads a session holding the
service's workers (uwsgi, the scheduler's workers, RabbitMQ's beam).
A service's CPU time is the user + system time of every live process in
that session, plus what its processes' waited-for children used.
"""

import glob
import os

TICKS = os.sysconf('SC_CLK_TCK')


def _stat(path):
    with open(path) as f:
        text = f.read()
    # Fields after the command name, which may hold spaces: field 3 first.
    return text[text.rindex(')') + 2:].split()


def session_cpu():
    """{session id: CPU seconds of its live processes and their children}."""
    totals = {}
    for path in glob.glob('/proc/[0-9]*/stat'):
        try:
            fields = _stat(path)
        except (OSError, ValueError):
            continue  # exited meanwhile
        session = int(fields[3])
        ticks = sum(int(fields[i]) for i in (11, 12, 13, 14))
        totals[session] = totals.get(session, 0) + ticks
    return {session: ticks / TICKS for session, ticks in totals.items()}


def service_pids(pids_dir):
    """{service: recorded PID} of the cloud's services."""
    pids = {}
    for path in glob.glob(os.path.join(pids_dir, '*')):
        try:
            with open(path) as f:
                pids[os.path.basename(path)] = int(f.read().strip())
        except (OSError, ValueError):
            continue
    return pids


def snapshot(pids_dir):
    """{service: CPU seconds so far} (0 for a service not running)."""
    sessions = session_cpu()
    return {name: sessions.get(pid, 0.0)
            for name, pid in service_pids(pids_dir).items()}


def used(before, after):
    """CPU seconds between two snapshots, all services together.

    A service restarted in between counts from zero (its new processes).
    """
    total = 0.0
    for name, seconds in after.items():
        delta = seconds - before.get(name, 0.0)
        total += delta if delta >= 0 else seconds
    return total
