"""Warn once per (device, cause), then log the repeats at DEBUG.

Utilisation is read on every resource-tracker update; a GPU that stays
broken must not write the same warning every minute, yet a new problem of
the same GPU, or the same problem of another GPU, must still be seen.
"""

import threading


class WarnOnce:
    """Remembers which (device, cause) pairs were already warned about.

    Shared by the threads of nova-compute (native threads in Nova 34), so
    the set of seen pairs is guarded by a lock.
    """

    def __init__(self, log):
        self._log = log
        self._lock = threading.Lock()
        self._seen = set()

    def __call__(self, device, cause, msg, *args, exc_info=False):
        """Log msg at WARNING the first time (device, cause) is seen."""
        key = (device, cause)
        with self._lock:
            first = key not in self._seen
            self._seen.add(key)
        if first:
            self._log.warning(msg, *args, exc_info=exc_info)
        else:
            self._log.debug(msg, *args)
