"""An existing deployment moves to host-level slots when nova-compute restarts.

Releases before host-level slots reported one child provider per render
node (``<host>_render_<key>``, its slots, a ``CUSTOM_NUMA_NODE_<N>``
trait), phones held their slot there, and each instance recorded that
provider in its ``resources``. The test builds exactly that state with
phones running, through Placement's REST API and Nova's objects, then
restarts nova-compute on this version: Nova's start-up reshape must move
every slot onto the compute node's provider in one Placement call, drop
the child providers, rewrite the instances' records, and leave every phone
running, co-located, on the render node it had.
"""

from nova import objects

from nova_gpu_numa_sched.compute import placement_report
from nova_gpu_numa_sched import names
from tests.functional import base
from tests.functional import fake_drm

RC = names.RESOURCE_CLASS


class ReshapeTest(base.GpuNumaTestBase):

    def setUp(self):
        super().setUp()
        self.flags(slots_per_gpu=2, group='gpu_numa')
        self.gpus = fake_drm.gpus_on_cells([0, 1])
        self.start_gpu_compute('host1', cells=2, gpus=self.gpus)
        self.root = self.compute_rp_uuids['host1']
        self.flavor = self.phone_flavor()

    def boot(self, name):
        return self._create_server(name=name, flavor_id=self.flavor,
                                   networks='none')

    # The earlier release's state -------------------------------------------

    def _new_child(self, gpu):
        name = placement_report.provider_name('host1', gpu.pci_address)
        rp = self.placement.post('/resource_providers', {
            'name': name, 'parent_provider_uuid': self.root},
            version='1.20').body
        self.placement.put('/resource_providers/%s/inventories' % rp['uuid'],
                           {'resource_provider_generation': rp['generation'],
                            'inventories': {RC: {'total': 2}}})
        rp = self.placement.get('/resource_providers/%s' % rp['uuid'],
                                version='1.14').body
        self.placement.put('/resource_providers/%s/traits' % rp['uuid'],
                           {'resource_provider_generation': rp['generation'],
                            'traits': [names.numa_trait(gpu.numa_node),
                                       'OWNER_NOVA']},
                           version='1.6')
        return rp['uuid']

    def _move_to_child(self, server, child):
        """The phone's slot on ``child``, as the earlier release had it."""
        body = self.placement.get('/allocations/%s' % server['id'],
                                  version='1.28').body
        allocations = body['allocations']
        allocations[self.root]['resources'].pop(RC)
        allocations[child] = {'resources': {RC: 1}}
        self.placement.put('/allocations/%s' % server['id'], {
            'allocations': {rp: {'resources': alloc['resources']}
                            for rp, alloc in allocations.items()},
            'project_id': body['project_id'], 'user_id': body['user_id'],
            'consumer_generation': body['consumer_generation']},
            version='1.28')
        instance = objects.Instance.get_by_uuid(
            self.ctxt, server['id'], expected_attrs=['resources'])
        instance.resources = objects.ResourceList(objects=[
            objects.Resource(provider_uuid=child,
                             resource_class=res.resource_class,
                             identifier=res.identifier)
            for res in instance.resources])
        instance.save()

    def _drop_root_slots(self):
        inventories = self.placement.get(
            '/resource_providers/%s/inventories' % self.root).body
        inventories['inventories'].pop(RC)
        self.placement.put('/resource_providers/%s/inventories' % self.root,
                           inventories)

    def make_earlier_release_state(self, phones):
        """Child providers holding the phones' slots, none on the root."""
        children = {gpu.pci_address: self._new_child(gpu)
                    for gpu in self.gpus}
        for phone in phones:
            self._move_to_child(phone, children[self.held_render_node(phone)])
        self._drop_root_slots()
        return children

    # The test -------------------------------------------------------------

    def test_restart_moves_slots_onto_the_compute_node(self):
        phones = [self.boot('phone%d' % i) for i in range(3)]
        before = {phone['id']: self.assertColocated(phone)
                  for phone in phones}
        held = {phone['id']: self.held_render_node(phone)
                for phone in phones}
        children = self.make_earlier_release_state(phones)
        for phone in phones:
            self.assertIn(children[held[phone['id']]],
                          self._get_allocations_by_server_uuid(phone['id']))
        mark = len(self.stdlog.logger.output)

        self.restart_compute_service('host1')

        logged = self.stdlog.logger.output[mark:]
        self.assertIn('Performing resource provider inventory and allocation '
                      'data migration', logged)
        self.assertNotIn('Traceback', logged)
        # No child provider is left; the slots are on the compute node.
        tree = self.placement.get(
            '/resource_providers?in_tree=%s' % self.root,
            version='1.14').body['resource_providers']
        self.assertEqual([self.root], [rp['uuid'] for rp in tree])
        self.assertEqual((4, 0, 3), self.host_slots('host1'))
        for phone in phones:
            allocations = self._get_allocations_by_server_uuid(phone['id'])
            self.assertEqual({self.root: 1},
                             {rp: alloc['resources'].get(RC)
                              for rp, alloc in allocations.items()})
            instance = objects.Instance.get_by_uuid(
                self.ctxt, phone['id'], expected_attrs=['resources'])
            self.assertEqual({self.root},
                             {res.provider_uuid
                              for res in instance.resources})
            # Still running, on the render node and cell it had.
            server = self.admin_api.get_server(phone['id'])
            self.assertEqual('ACTIVE', server['status'])
            self.assertEqual(held[phone['id']], self.held_render_node(phone))
        self.assertEqual({gpu.devnode: len([p for p in phones if held[
                              p['id']] == gpu.pci_address])
                          for gpu in self.gpus},
                         {devnode: used for (_, devnode), used in
                          self.slot_usage().items()})
        # The periodic update and a new phone work on the moved state.
        self.run_periodics('host1')
        fourth = self.boot('phone3')
        self.assertColocated(fourth)
        self.assertEqual((4, 0, 4), self.host_slots('host1'))
        # A hard reboot rebuilds the XML from the moved record.
        for phone in phones:
            self._reboot_server(phone, hard=True)
            self.assertEqual(before[phone['id']].rendernode,
                             self.assertColocated(phone).rendernode)
        self.assertNoOrphanAllocations()
