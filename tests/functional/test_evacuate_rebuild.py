"""Evacuation and rebuild keep the phone on its GPU's cell.

Evacuation claims on the destination through the resource tracker's
``rebuild_claim`` (``_move_claim``), which the plugin pins to the cell of
the destination's render node. Nova keeps the instance's allocation on the
forced-down source until the source's compute service starts again and
cleans up, so "exactly one render slot" is checked after that restart.
"""

from nova.tests.fixtures import glance

from tests.functional import test_moves


class EvacuateRebuildTest(test_moves.TwoGpuHostsBase):

    def render_slots_held(self):
        """{(host, devnode): used} of every render provider with usage."""
        return {key: used for key, used in self.slot_usage().items()
                if used}

    def test_evacuate_then_source_restarts(self):
        server = self._create_server(flavor_id=self.flavor, networks='none')
        before = self.assertColocated(server)
        source = before.host
        dest = 'host2' if source == 'host1' else 'host1'

        service = self.admin_api.get_services(
            host=source, binary='nova-compute')[0]
        self.computes[source].stop()
        self.admin_api.put_service(service['id'], {'forced_down': 'true'})
        server = self._evacuate_server(server, expected_host=dest)

        after = self.assertColocated(server)
        self.assertEqual(dest, after.host)
        self.assertNotEqual(before.gpu_cell, after.gpu_cell)
        # Until the source comes back, Nova keeps its slot allocated too.
        self.assertEqual({(source, '/dev/dri/renderD128'): 1,
                          (dest, '/dev/dri/renderD128'): 1},
                         self.render_slots_held())

        self.restart_compute_service(source)
        self.admin_api.put_service(service['id'], {'forced_down': 'false'})
        self.run_periodics()

        self.assertEqual({(dest, '/dev/dri/renderD128'): 1},
                         self.render_slots_held())
        allocations = self._get_allocations_by_server_uuid(server['id'])
        gpu = self.gpu_of_rendernode(dest, after.rendernode)
        self.assertEqual({self.compute_rp_uuids[dest]}, set(allocations))
        self.assertEqual(gpu.pci_address, self.held_render_node(server))
        self.assertColocated(server)
        self.assertSlotsWithinCapacity()
        self.assertNoOrphanAllocations()
        # The phone runs again on the destination, still co-located.
        server = self._start_server(server)
        self.assertEqual(after, self.assertColocated(server))

    def test_rebuild_keeps_render_slot_and_cell(self):
        server = self._create_server(flavor_id=self.flavor, networks='none')
        before = self.assertColocated(server)
        # Forget the boot's guest XML: the rebuild must write its own.
        del self.guest_xml[server['id']]

        server = self._rebuild_server(server, glance.GlanceFixture.image2[
            'id'])

        self.assertEqual(glance.GlanceFixture.image2['id'],
                         server['image']['id'])
        # The guest XML was written again, with the same render node.
        self.assertIn(server['id'], self.guest_xml)
        after = self.assertColocated(server)
        self.assertEqual(before, after)
        self.assertEqual({(before.host, before.rendernode): 1},
                         self.render_slots_held())
        self.assertNoOrphanAllocations()
