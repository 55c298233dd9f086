"""Make scheduling requests overlap for race tests.

A race is only tested when the requests really run together. This fixture
holds every scheduling request just after its allocation-candidates query
(so after the plugin has built the request's provider view, before any
claim) until ``parties`` requests have got there, so they all decide from
the same Placement state and then claim at about the same time.
"""

import functools
import threading
import time

import fixtures
from nova.scheduler.client import report


class CandidateRendezvous(fixtures.Fixture):
    """Hold ``parties`` scheduling requests after their candidate query.

    Install it after the scheduler has started (the plugin's own wrap is
    then inside this one). Queries after the first ``parties`` pass
    straight through. ``met`` is False if the requests did not all
    arrive within ``timeout`` seconds, i.e. they did not overlap.
    """

    def __init__(self, parties, timeout=60):
        super().__init__()
        self.parties = parties
        self.timeout = timeout

    def _setUp(self):
        self.barrier = threading.Barrier(self.parties, timeout=self.timeout)
        self.met = True
        self.arrivals = []
        self._lock = threading.Lock()
        original = report.SchedulerReportClient.get_allocation_candidates

        @functools.wraps(original)
        def held(client, context, resources, *args, **kwargs):
            result = original(client, context, resources, *args, **kwargs)
            with self._lock:
                self.arrivals.append(context.request_id)
                # Later queries (a reschedule) are not part of the race.
                waits = len(self.arrivals) <= self.parties
            if waits:
                try:
                    self.barrier.wait()
                except threading.BrokenBarrierError:
                    self.met = False
            return result

        self.useFixture(fixtures.MonkeyPatch(
            'nova.scheduler.client.report.SchedulerReportClient.'
            'get_allocation_candidates', held))


def wait_until_built(test, server, tries=60):
    """The server once it is ACTIVE, or ERROR with its fault recorded."""
    for _ in range(tries):
        server = test.admin_api.get_server(server['id'])
        if server['status'] == 'ACTIVE' or (
                server['status'] == 'ERROR' and 'fault' in server):
            return server
        time.sleep(0.5)
    test.fail('server %s still %s' % (server['id'], server['status']))
