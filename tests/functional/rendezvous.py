"""Make scheduling requests and compute claims overlap for race tests.

A race is only tested when the requests really run together.
``CandidateRendezvous`` holds every scheduling request just after its
allocation-candidates query (so after the plugin has built the request's
provider view, before any claim) until ``parties`` requests have got
there, so they all decide from the same Placement state and then claim at
about the same time. ``ClaimRendezvous`` does the same for the compute
hosts' resource claims.
"""

import functools
import threading
import time

import fixtures
from nova.compute import resource_tracker
from nova.scheduler.client import report


class _Meeting(fixtures.Fixture):
    """Holds the first ``parties`` callers until all have arrived.

    Later callers (a reschedule) pass straight through. ``met`` is False
    if the first ``parties`` did not all arrive within ``timeout``
    seconds, i.e. they did not overlap.
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

    def arrive(self, key):
        with self._lock:
            self.arrivals.append(key)
            waits = len(self.arrivals) <= self.parties
        if waits:
            try:
                self.barrier.wait()
            except threading.BrokenBarrierError:
                self.met = False


class CandidateRendezvous(_Meeting):
    """Hold ``parties`` scheduling requests after their candidate query.

    Install it after the scheduler has started (the plugin's own wrap is
    then inside this one). ``arrivals`` are request ids.
    """

    def _setUp(self):
        super()._setUp()
        original = report.SchedulerReportClient.get_allocation_candidates

        @functools.wraps(original)
        def held(client, context, resources, *args, **kwargs):
            result = original(client, context, resources, *args, **kwargs)
            self.arrive(context.request_id)
            return result

        self.useFixture(fixtures.MonkeyPatch(
            'nova.scheduler.client.report.SchedulerReportClient.'
            'get_allocation_candidates', held))


class ClaimRendezvous(_Meeting):
    """Hold ``parties`` compute claims, then let them in together.

    The claims then enter the resource tracker's ``instance_claim``, the
    plugin's cell-pinning wrap first, at the same time (Nova's own claim
    lock serialises only what is inside). Install it after the computes
    have started. ``arrivals`` are instance uuids.
    """

    def _setUp(self):
        super()._setUp()
        original = resource_tracker.ResourceTracker.instance_claim

        @functools.wraps(original)
        def held(tracker, context, instance, *args, **kwargs):
            self.arrive(instance.uuid)
            return original(tracker, context, instance, *args, **kwargs)

        self.useFixture(fixtures.MonkeyPatch(
            'nova.compute.resource_tracker.ResourceTracker.instance_claim',
            held))


def wait_until_built(test, server, tries=120):
    """The server once it is ACTIVE, or ERROR with its fault recorded."""
    for _ in range(tries):
        server = test.admin_api.get_server(server['id'])
        if server['status'] == 'ACTIVE' or (
                server['status'] == 'ERROR' and 'fault' in server):
            return server
        time.sleep(0.5)
    test.fail('server %s still %s' % (server['id'], server['status']))
