"""A GPU that disappears while phones use it, and comes back.

What the docs promise (README "How it works", ``[gpu_numa] slots_per_gpu``):
a vanished GPU never orphans an allocation. Its provider stays, with every
held slot reserved, so the phones keep their allocation and keep running,
no new phone is placed on it and the periodic resource update never
fails; a compute restart in the middle changes none of that; when the GPU
comes back, the reservation lifts and it takes phones again.
"""

from nova_gpu_numa_sched.compute import placement_report
from tests.functional import base
from tests.functional import fake_drm


class GpuHotplugTest(base.GpuNumaTestBase):

    def setUp(self):
        super().setUp()
        self.flags(slots_per_gpu=2, group='gpu_numa')
        self.gpus = fake_drm.gpus_on_cells([0, 1])
        self.start_gpu_compute('host1', cells=2, gpus=self.gpus)
        self.flavor = self.phone_flavor()

    def boot(self, name):
        return self._create_server(name=name, flavor_id=self.flavor,
                                   networks='none')

    def run_periodics_cleanly(self):
        """The resource update runs and nothing in it fails."""
        mark = len(self.stdlog.logger.output)
        self.run_periodics('host1')
        logged = self.stdlog.logger.output[mark:]
        self.assertNotIn('Error updating resources', logged)
        self.assertNotIn('Traceback', logged)

    def provider(self, gpu):
        return self.render_providers('host1')[
            placement_report.provider_name('host1', gpu.pci_address)]

    def assertStillRunning(self, phones, gpu):
        """The phones are ACTIVE and still hold their slot on ``gpu``."""
        for phone in phones:
            server = self.admin_api.get_server(phone['id'])
            self.assertEqual('ACTIVE', server['status'])
            self.assertEqual(1, server['OS-EXT-STS:power_state'])
            self.assertEqual(gpu.pci_address, self.held_render_node(phone))
            self.assertIn(self.compute_rp_uuids['host1'],
                          self._get_allocations_by_server_uuid(phone['id']))

    def assertVanishedReserved(self, gpu, used):
        rp = self.provider(gpu)
        self.assertEqual(used, rp['usage'])
        self.assertEqual(rp['inventory']['total'],
                         rp['inventory']['reserved'])
        self.assertGreaterEqual(rp['inventory']['total'], used)
        return rp

    def test_gpu_vanishes_and_comes_back_across_a_restart(self):
        phones = [self.boot('phone%d' % i) for i in range(3)]
        by_gpu = {}
        for phone in phones:
            by_gpu.setdefault(self.assertColocated(phone).rendernode,
                              []).append(phone)
        # Spread: one GPU got two phones (it is full), the other one.
        vanishing, other = sorted(
            self.gpus, key=lambda gpu: -len(by_gpu.get(gpu.devnode, ())))
        on_vanishing = by_gpu[vanishing.devnode]
        self.assertEqual(2, len(on_vanishing))
        first = on_vanishing[0]
        before = self.provider(vanishing)

        self.drm['host1'].remove(vanishing.devnode)
        self.run_periodics_cleanly()
        rp = self.assertVanishedReserved(vanishing, used=2)
        # Gone: its cell is unknown; Placement keeps its two held slots in
        # the compute node's total, in use, beside the other GPU's two.
        self.assertIsNone(rp['cell'])
        self.assertEqual((4, 0, 3), self.host_slots('host1'))
        self.assertStillRunning(on_vanishing, vanishing)
        self.assertIn('is gone or deselected but 2 slot(s) are in use',
                      self.stdlog.logger.output)

        # A compute restart while the GPU is away changes nothing.
        self.restart_compute_service('host1')
        self.run_periodics_cleanly()
        rp = self.assertVanishedReserved(vanishing, used=2)
        self.assertStillRunning(on_vanishing, vanishing)

        # No new phone is placed on it: the last free slot is the other
        # GPU's, and then there is none.
        fourth = self.boot('phone3')
        self.assertEqual(other.devnode,
                         self.assertColocated(fourth).rendernode)
        refused = self._create_server(
            name='phone4', flavor_id=self.flavor, networks='none',
            expected_state='ERROR')
        self.assertIn('No valid host', refused['fault']['message'])
        self.assertSlotsWithinCapacity()
        self.assertNoOrphanAllocations()

        # It comes back: the reservation lifts, the same provider serves
        # its phones and takes a new one once a slot is free.
        self.drm['host1'].add(vanishing)
        self.run_periodics_cleanly()
        rp = self.provider(vanishing)
        self.assertEqual(before['inventory'], rp['inventory'])
        self.assertEqual(0, rp['inventory']['reserved'])
        self.assertEqual(2, rp['usage'])
        self.assertStillRunning(on_vanishing, vanishing)
        self._delete_server(first)
        fifth = self.boot('phone5')
        self.assertEqual(vanishing.devnode,
                         self.assertColocated(fifth).rendernode)
        self.assertEqual({('host1', vanishing.devnode): 2,
                          ('host1', other.devnode): 2}, self.slot_usage())
        self.run_periodics_cleanly()
        self.assertSlotsWithinCapacity()
        self.assertNoOrphanAllocations()

    def test_restart_while_vanished_then_phones_leave(self):
        phone = self.boot('phone0')
        vanishing = self.gpu_of_rendernode(
            'host1', self.assertColocated(phone).rendernode)
        other = [gpu for gpu in self.gpus if gpu is not vanishing][0]
        self.drm['host1'].remove(vanishing.devnode)
        self.run_periodics_cleanly()
        self.restart_compute_service('host1')
        self.run_periodics_cleanly()
        self.assertVanishedReserved(vanishing, used=1)
        self.assertStillRunning([phone], vanishing)

        # Once its last phone is gone, the vanished GPU's provider goes.
        self._delete_server(phone)
        self.run_periodics_cleanly()
        self.assertEqual(
            [placement_report.provider_name('host1', other.pci_address)],
            list(self.render_providers('host1')))
        self.assertNoOrphanAllocations()
