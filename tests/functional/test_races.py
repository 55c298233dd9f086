"""Two requests racing for the last free render slot of a GPU.

Both requests are held after their candidate query until both have made
it, so both see the same last free slot. Placement accepts one claim and
refuses the other (the slot is gone); the loser moves on to its next host
or ends with NoValidHost. Placement never shows more slots used than
exist, and nothing stays allocated to a server that did not get a host.
"""

from tests.functional import base
from tests.functional import fake_drm
from tests.functional import rendezvous


class LastSlotRaceTest(base.GpuNumaTestBase):

    # Real casts: each create returns before it is scheduled, so the
    # requests can meet in the scheduler.
    CAST_AS_CALL = False
    # Pack: every request prefers the fuller GPU, i.e. the last free slot.
    SCHEDULER_FLAGS = {'gpu_numa.weight_multiplier': -10.0}

    def _race(self, flavor, count=2):
        meeting = self.useFixture(rendezvous.CandidateRendezvous(count))
        posted = [self.api.post_server({'server': self._build_server(
            name='racer%d' % i, flavor_id=flavor, networks='none')})
            for i in range(count)]
        servers = [rendezvous.wait_until_built(self, server)
                   for server in posted]
        self.assertTrue(meeting.met, 'the requests did not overlap')
        self.assertEqual(count, len(set(meeting.arrivals)))
        return servers

    def test_loser_lands_on_another_host(self):
        self.flags(slots_per_gpu=2, group='gpu_numa')
        self.start_gpu_compute('host1', cells=2,
                               gpus=fake_drm.gpus_on_cells([1]))
        flavor = self.phone_flavor()
        # host1's GPU gets one phone, so it has one slot left and packing
        # makes it every request's first choice.
        first = self._create_server(name='first', flavor_id=flavor,
                                    networks='none')
        self.start_gpu_compute('host2', cells=2,
                               gpus=fake_drm.gpus_on_cells([0]))

        servers = self._race(flavor)

        self.assertEqual(['ACTIVE', 'ACTIVE'],
                         [server['status'] for server in servers])
        hosts = {self.assertColocated(server).host: server
                 for server in servers}
        self.assertEqual(['host1', 'host2'], sorted(hosts))
        # It tried host1's last slot first and Placement said no.
        self.assertIn('Failed to save allocation for %s' %
                      hosts['host2']['id'], self.stdlog.logger.output)
        self.assertColocated(first)
        self.assertEqual({('host1', '/dev/dri/renderD128'): 2,
                          ('host2', '/dev/dri/renderD128'): 1},
                         self.slot_usage())
        self.assertSlotsWithinCapacity()
        self.assertNoOrphanAllocations()

    def test_loser_gets_no_valid_host(self):
        self.flags(slots_per_gpu=1, group='gpu_numa')
        self.start_gpu_compute('host1', cells=2,
                               gpus=fake_drm.gpus_on_cells([1]))

        servers = self._race(self.phone_flavor())

        statuses = sorted(server['status'] for server in servers)
        self.assertEqual(['ACTIVE', 'ERROR'], statuses)
        for server in servers:
            if server['status'] == 'ACTIVE':
                self.assertColocated(server)
            else:
                self.assertIn('No valid host', server['fault']['message'])
                self.assertEqual({}, self._get_allocations_by_server_uuid(
                    server['id']))
        self.assertEqual({('host1', '/dev/dri/renderD128'): 1},
                         self.slot_usage())
        self.assertSlotsWithinCapacity()
        self.assertNoOrphanAllocations()
        # Placement refused the claim; both requests had passed the filter
        # with the same free slot.
        loser, = [s for s in servers if s['status'] == 'ERROR']
        self.assertIn('Failed to save allocation for %s' % loser['id'],
                      self.stdlog.logger.output)
