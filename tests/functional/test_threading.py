"""Concurrent scheduling requests keep their own view and claims.

The plugin keeps each request's view of the hosts' render nodes in a
thread-local of the scheduler (``scheduler/provider_view.py``): the render
nodes nova-compute published plus the request's own claims. The compute
claim chooses the render node under the resource tracker's lock
(``compute/claim_cell.py``). Nova 34 runs its services on native threads,
so several requests run in one scheduler process at once. Here four
requests (two single phones, two multi-creates of three) are held after
their candidate query until all four have made it, then filter, weigh and
claim side by side; every filter call of a request must add exactly its
own claims to what the hosts published, never another request's. On the
computes, the eight resource claims are held until all have arrived and
then enter the plugin's claim wrap together; each must land on a render
node of its own cell.

Runs in both concurrency modes: with OS_NOVA_DISABLE_EVENTLET_PATCHING=1
on real threads, otherwise on eventlet's green threads (the thread-local is
then green-thread local, which is what the eventlet-mode services use).
"""

import collections
import functools
import threading

import fixtures
from nova.scheduler.client import report

from nova_gpu_numa_sched.filters import gpu_numa_affinity
from nova_gpu_numa_sched.scheduler import provider_view
from nova_gpu_numa_sched.scheduler import request
from tests.functional import base
from tests.functional import fake_drm
from tests.functional import rendezvous


class ConcurrentSchedulingTest(base.GpuNumaTestBase):

    # Real casts, so that several creates are in the scheduler at once.
    CAST_AS_CALL = False

    def setUp(self):
        super().setUp()
        # Enough slots that no claim can be refused: any difference in
        # what a request sees can only come from another request.
        self.flags(slots_per_gpu=8, group='gpu_numa')
        self.start_gpu_compute('host1', cells=4,
                               gpus=fake_drm.gpus_on_cells([1, 3]))
        self.start_gpu_compute('host2', cells=4,
                               gpus=fake_drm.gpus_on_cells([0, 2]))
        self.flavor = self.phone_flavor(memory_mb=256)
        self.lock = threading.Lock()
        #: request id -> its own claims in its view when its query returned
        self.baseline = {}
        #: (request id, consumer, alloc request) of each successful claim
        self.claims = []
        #: (view request id, instance, {host: own slots}, own claims so far)
        self.filtered = []
        self._record_queries()
        self._record_claims()
        self._record_filter_calls()

    def _record_queries(self):
        original = report.SchedulerReportClient.get_allocation_candidates
        test = self

        @functools.wraps(original)
        def query(client, context, resources, *args, **kwargs):
            result = original(client, context, resources, *args, **kwargs)
            view = provider_view.current()
            with test.lock:
                test.baseline[context.request_id] = dict(view.claimed)
            return result

        self.useFixture(fixtures.MonkeyPatch(
            'nova.scheduler.client.report.SchedulerReportClient.'
            'get_allocation_candidates', query))

    def _record_claims(self):
        original = report.SchedulerReportClient.claim_resources
        test = self

        @functools.wraps(original)
        def claim(client, context, consumer_uuid, alloc_request, *args,
                  **kwargs):
            claimed = original(client, context, consumer_uuid,
                               alloc_request, *args, **kwargs)
            if claimed:
                with test.lock:
                    test.claims.append(
                        (context.request_id, consumer_uuid, alloc_request))
            return claimed

        self.useFixture(fixtures.MonkeyPatch(
            'nova.scheduler.client.report.SchedulerReportClient.'
            'claim_resources', claim))

    def _record_filter_calls(self):
        original = gpu_numa_affinity.GpuNumaAffinityFilter.host_passes
        test = self

        def host_passes(flt, host_state, spec_obj):
            view = provider_view.current()
            if view is not None:
                seen = collections.Counter()
                for (uuid, _key), slots in view.claimed.items():
                    seen[uuid] += slots
                with test.lock:
                    own = [alloc for rid, _, alloc in test.claims
                           if rid == view.request_id]
                    test.filtered.append((view.request_id,
                                          spec_obj.instance_uuid, seen, own))
            else:
                with test.lock:
                    test.filtered.append((None, spec_obj.instance_uuid,
                                          None, None))
            return original(flt, host_state, spec_obj)

        self.useFixture(fixtures.MonkeyPatch(
            'nova_gpu_numa_sched.filters.gpu_numa_affinity.'
            'GpuNumaAffinityFilter.host_passes', host_passes))

    def _post(self, name, count):
        body = self._build_server(name=name, flavor_id=self.flavor,
                                  networks='none')
        if count > 1:
            body.update(min_count=count, max_count=count)
        return self.api.post_server({'server': body})

    def test_concurrent_requests_keep_their_own_view(self):
        meeting = self.useFixture(rendezvous.CandidateRendezvous(4))
        # And the eight compute claims enter the plugin's wrap together.
        claims = self.useFixture(rendezvous.ClaimRendezvous(8))
        for name, count in (('single-a', 1), ('multi-a', 3),
                            ('single-b', 1), ('multi-b', 3)):
            self._post(name, count)
        servers = [rendezvous.wait_until_built(self, server)
                   for server in self.api.get_servers(detail=False)]

        self.assertTrue(meeting.met, 'the requests did not overlap')
        self.assertEqual(4, len(set(meeting.arrivals)))
        self.assertEqual(8, len(servers))
        self.assertTrue(claims.met, 'the compute claims did not overlap')
        self.assertEqual({server['id'] for server in servers},
                         set(claims.arrivals))
        self.assertEqual(['ACTIVE'] * 8,
                         [server['status'] for server in servers])
        for server in servers:
            self.assertColocated(server)

        # Each instance was claimed once, by the request that asked for it.
        request_of = {}
        for request_id, consumer, _ in self.claims:
            self.assertNotIn(consumer, request_of)
            request_of[consumer] = request_id
        self.assertEqual({server['id'] for server in servers},
                         set(request_of))
        self.assertEqual(4, len(set(request_of.values())))

        # Every filter call saw its own request's view: what the hosts
        # published plus that request's own claims, nothing else.
        self.assertNotEqual([], self.filtered)
        self.assertEqual({}, {rid: claimed for rid, claimed in
                              self.baseline.items() if claimed})
        for view_request, instance, seen, own in self.filtered:
            self.assertIsNotNone(view_request, 'filter ran without a view')
            self.assertEqual(request_of[instance], view_request)
            expected = collections.Counter()
            for alloc in own:
                expected.update(request.render_providers(alloc))
            self.assertEqual(dict(expected), dict(seen))

        self.assertSlotsWithinCapacity()
        self.assertNoOrphanAllocations()
        self.assertEqual(8, sum(self.slot_usage().values()))
