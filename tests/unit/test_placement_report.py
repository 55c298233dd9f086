"""Tests of the render node child providers, on Nova's real ProviderTree."""

import logging

import fixtures
from nova.compute import provider_tree
from nova import objects
import os_traits
from oslo_utils.fixture import uuidsentinel as uuids
import testtools

from nova_gpu_numa_sched.compute import placement_report
from nova_gpu_numa_sched.compute import render_node
from nova_gpu_numa_sched import names

AMD_RP = placement_report.provider_name('compute1', '0000:83:00.0')
PANFROST_RP = placement_report.provider_name('compute1', 'drm_renderD129')

objects.register_all()

NODENAME = 'compute1'
RC = names.RESOURCE_CLASS


def gpu(key, numa_node, slots, devnode='/dev/dri/renderD128', **kwargs):
    return render_node.RenderNode(key=key, devnode=devnode,
                                  numa_node=numa_node, slots=slots, **kwargs)


AMD = gpu('0000:83:00.0', 1, 4, pci_address='0000:83:00.0',
          vendor_id='0x1002', product_id='0x73bf')
PANFROST = gpu('drm_renderD129', 0, 2, devnode='/dev/dri/renderD129')


class PlacementReportTestCase(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.log = self.useFixture(fixtures.FakeLogger(
            level=logging.INFO, format='%(levelname)s %(message)s'))
        self.tree = provider_tree.ProviderTree()
        self.tree.new_root(NODENAME, uuids.compute1)

    def update(self, nodes, held=None, load_traits=None):
        placement_report.update_provider_tree(
            self.tree, NODENAME, nodes, held or {}, load_traits)

    def children(self):
        return sorted(self.tree.data(u).name
                      for u in self.tree.get_provider_uuids(NODENAME)
                      if u != uuids.compute1)

    def inventory(self, name):
        inv = self.tree.data(name).inventory[RC]
        return inv['total'], inv['reserved'], inv['max_unit']

    def identifiers(self, name):
        data = self.tree.data(name)
        resources = data.resources[RC]
        for res in resources:
            self.assertEqual((data.uuid, RC),
                             (res.provider_uuid, res.resource_class))
        return sorted(res.identifier for res in resources)

    def test_one_child_per_render_node(self):
        self.update([AMD, PANFROST],
                    load_traits={AMD.key: 'CUSTOM_GPU_LOAD_30'})
        self.assertEqual([AMD_RP, PANFROST_RP],
                         self.children())
        amd = self.tree.data(AMD_RP)
        self.assertEqual(uuids.compute1, amd.parent_uuid)
        self.assertEqual({RC: {'total': 4, 'reserved': 0, 'min_unit': 1,
                               'max_unit': 4, 'step_size': 1,
                               'allocation_ratio': 1.0}}, amd.inventory)
        self.assertEqual(
            {os_traits.OWNER_NOVA, 'CUSTOM_NUMA_NODE_1',
             'CUSTOM_GPU_VENDOR_1002', 'CUSTOM_GPU_PRODUCT_73BF',
             'CUSTOM_GPU_LOAD_30'}, amd.traits)
        self.assertEqual(['0000:83:00.0#slot%d' % i for i in range(4)],
                         self.identifiers(AMD_RP))

        panfrost = self.tree.data(PANFROST_RP)
        self.assertEqual((2, 0, 2), self.inventory(panfrost.name))
        # No PCI ids and no load reading: only owner and cell.
        self.assertEqual({os_traits.OWNER_NOVA, 'CUSTOM_NUMA_NODE_0'},
                         panfrost.traits)
        self.assertEqual(['drm_renderD129#slot0', 'drm_renderD129#slot1'],
                         self.identifiers(panfrost.name))
        self.assertEqual(
            {AMD_RP, PANFROST_RP},
            set(placement_report.owned_providers(self.tree, NODENAME)))

    def test_rerun_is_idempotent(self):
        """Every resource-tracker update re-runs it: nothing may change."""
        self.update([AMD, PANFROST])
        before = {name: self.tree.data(name) for name in self.children()}
        self.update([AMD, PANFROST])
        after = {name: self.tree.data(name) for name in self.children()}
        self.assertEqual(before, after)

    def test_load_trait_is_replaced(self):
        self.update([AMD], load_traits={AMD.key: 'CUSTOM_GPU_LOAD_30'})
        self.update([AMD], load_traits={AMD.key: 'CUSTOM_GPU_LOAD_50'})
        traits = self.tree.data(AMD_RP).traits
        self.assertIn('CUSTOM_GPU_LOAD_50', traits)
        self.assertNotIn('CUSTOM_GPU_LOAD_30', traits)
        self.update([AMD])
        self.assertEqual(
            set(), {t for t in self.tree.data(AMD_RP).traits
                    if t.startswith(names.LOAD_TRAIT_PREFIX)})

    def test_slots_grow(self):
        self.update([AMD])
        self.update([gpu(AMD.key, 1, 6)])
        self.assertEqual((6, 0, 6), self.inventory(AMD_RP))
        self.assertEqual(6, len(self.identifiers(AMD_RP)))

    def test_slots_shrink_below_held(self):
        """Held slots beyond the new range stay, reserved, not dropped."""
        self.update([AMD])
        rp = self.tree.data(AMD_RP).uuid
        held = {rp: {'0000:83:00.0#slot0', '0000:83:00.0#slot3'}}
        self.update([gpu(AMD.key, 1, 2)], held=held)
        self.assertEqual(
            ['0000:83:00.0#slot0', '0000:83:00.0#slot1',
             '0000:83:00.0#slot3'],
            self.identifiers(AMD_RP))
        # total covers the held slot; only 2 may be allocated.
        self.assertEqual((3, 1, 3), self.inventory(AMD_RP))
        self.assertIn('now has 2 slot(s) but 1 are in use outside that range',
                      self.log.output)
        # Once freed, the provider shrinks to the configured slots.
        self.update([gpu(AMD.key, 1, 2)], held={rp: {'0000:83:00.0#slot0'}})
        self.assertEqual((2, 0, 2), self.inventory(AMD_RP))
        self.assertEqual(['0000:83:00.0#slot0', '0000:83:00.0#slot1'],
                         self.identifiers(AMD_RP))

    def test_held_slots_of_other_providers_are_ignored(self):
        self.update([AMD, PANFROST])
        other = self.tree.data(PANFROST_RP).uuid
        self.update([AMD], held={other: {'drm_renderD129#slot1'},
                                 uuids.elsewhere: {'0000:83:00.0#slot9'}})
        self.assertEqual((4, 0, 4), self.inventory(AMD_RP))

    def test_vanished_gpu_with_held_slots_is_kept_reserved(self):
        self.update([AMD, PANFROST])
        rp = self.tree.data(AMD_RP).uuid
        held = {rp: {'0000:83:00.0#slot2'}}
        self.update([PANFROST], held=held)
        self.assertEqual([AMD_RP, PANFROST_RP],
                         self.children())
        amd = self.tree.data(AMD_RP)
        self.assertEqual(rp, amd.uuid)
        self.assertEqual((1, 1, 1), self.inventory(amd.name))
        self.assertEqual(['0000:83:00.0#slot2'], self.identifiers(amd.name))
        # The cell trait stays: the instance is still on that cell.
        self.assertIn('CUSTOM_NUMA_NODE_1', amd.traits)
        self.assertIn('WARNING Render node provider %s is gone or '
                      'deselected but 1 slot(s) are in use' % AMD_RP,
                      self.log.output)
        # When the GPU comes back, its slots are usable again.
        self.update([AMD, PANFROST], held=held)
        self.assertEqual((4, 0, 4), self.inventory(amd.name))
        self.assertEqual(rp, self.tree.data(amd.name).uuid)

    def test_vanished_gpu_without_held_slots_is_removed(self):
        self.update([AMD, PANFROST])
        self.update([PANFROST])
        self.assertEqual([PANFROST_RP], self.children())
        self.assertFalse(self.tree.exists(AMD_RP))
        self.assertIn('Removing render node provider %s' % AMD_RP,
                      self.log.output)
        self.update([])
        self.assertEqual([], self.children())

    def test_providers_not_owned_are_never_touched(self):
        """Other children of the node, and other nodes, are left alone."""
        vgpu = 'compute1_pci_0000_84_00_0'
        self.tree.new_child(vgpu, NODENAME, uuid=uuids.vgpu)
        self.tree.update_inventory(vgpu, {'VGPU': {'total': 4}})
        self.tree.update_traits(vgpu, ['CUSTOM_NUMA_NODE_1'])
        # Our resource class, but not a direct child of this node.
        nested = 'compute1_pci_0000_84_00_0_nested'
        self.tree.new_child(nested, vgpu, uuid=uuids.nested)
        self.tree.update_inventory(nested, {RC: {'total': 1}})
        self.tree.new_root('compute2', uuids.compute2)
        foreign = 'compute2_0000:83:00.0'
        self.tree.new_child(foreign, 'compute2', uuid=uuids.foreign)
        self.tree.update_inventory(foreign, {RC: {'total': 8}})
        untouched = {n: self.tree.data(n) for n in (vgpu, nested, foreign)}

        self.assertEqual([], placement_report.owned_providers(
            self.tree, NODENAME))
        self.update([AMD])
        self.update([])
        self.assertEqual({n: self.tree.data(n) for n in untouched}, untouched)
        self.assertEqual([vgpu, nested], self.children())


class SlotIdentifierTestCase(testtools.TestCase):

    def test_round_trip(self):
        for key, index in (('0000:83:00.0', 0), ('drm_renderD129', 17),
                           ('odd#slotname', 3)):
            identifier = placement_report.slot_identifier(key, index)
            self.assertEqual((key, index),
                             placement_report.parse_slot(identifier))
            self.assertEqual(key,
                             placement_report.node_key_of_slot(identifier))
        self.assertEqual('0000:83:00.0#slot5',
                         placement_report.slot_identifier('0000:83:00.0', 5))

    def test_provider_name(self):
        self.assertEqual(AMD_RP,
                         placement_report.provider_name('compute1',
                                                        '0000:83:00.0'))
