"""Tests of the render slots on the compute node's own provider, on Nova's
real ProviderTree."""

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
INTEL = gpu('0000:00:02.0', 0, 1, pci_address='0000:00:02.0',
            vendor_id='0x8086', product_id='0x46a6')


def slots(key, *indexes):
    return [placement_report.slot_identifier(key, i) for i in indexes]


class PlacementReportTestCase(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.log = self.useFixture(fixtures.FakeLogger(
            level=logging.INFO, format='%(levelname)s %(message)s'))
        self.tree = provider_tree.ProviderTree()
        self.tree.new_root(NODENAME, uuids.compute1)
        # What Nova's libvirt driver reports on the root before us.
        self.tree.update_inventory(NODENAME, {
            'VCPU': {'total': 16}, 'MEMORY_MB': {'total': 32768}})
        self.tree.update_traits(NODENAME, [os_traits.COMPUTE_NODE,
                                           'HW_CPU_X86_AVX2'])

    def update(self, nodes, held=()):
        return placement_report.update_provider_tree(
            self.tree, NODENAME, nodes, set(held))

    def children(self):
        return sorted(self.tree.data(u).name
                      for u in self.tree.get_provider_uuids(NODENAME)
                      if u != uuids.compute1)

    def inventory(self):
        inv = self.tree.data(NODENAME).inventory[RC]
        return inv['total'], inv['reserved'], inv['max_unit']

    def identifiers(self):
        data = self.tree.data(NODENAME)
        resources = data.resources[RC]
        for res in resources:
            self.assertEqual((uuids.compute1, RC),
                             (res.provider_uuid, res.resource_class))
        return sorted(res.identifier for res in resources)

    def test_slots_of_all_render_nodes_on_the_root(self):
        reported = self.update([AMD, PANFROST])
        self.assertEqual([], self.children())
        root = self.tree.data(NODENAME)
        self.assertEqual({'total': 6, 'reserved': 0, 'min_unit': 1,
                          'max_unit': 6, 'step_size': 1,
                          'allocation_ratio': 1.0}, root.inventory[RC])
        # Nova's own inventory and traits stay.
        self.assertEqual({'total': 16}, root.inventory['VCPU'])
        self.assertEqual({'total': 32768}, root.inventory['MEMORY_MB'])
        self.assertEqual(
            {os_traits.COMPUTE_NODE, 'HW_CPU_X86_AVX2',
             'CUSTOM_GPU_VENDOR_1002', 'CUSTOM_GPU_PRODUCT_73BF'},
            root.traits)
        # No cell and no load traits on the root: the scheduler reads those
        # from the compute node's stats.
        self.assertFalse({t for t in root.traits
                          if t.startswith((names.NUMA_TRAIT_PREFIX,
                                           names.LOAD_TRAIT_PREFIX))})
        expected = slots(AMD.key, 0, 1, 2, 3) + slots(PANFROST.key, 0, 1)
        self.assertEqual(sorted(expected), self.identifiers())
        self.assertEqual({i: AMD.key for i in slots(AMD.key, 0, 1, 2, 3)} |
                         {i: PANFROST.key
                          for i in slots(PANFROST.key, 0, 1)},
                         reported)
        self.assertEqual(
            {AMD.key: 4, PANFROST.key: 2},
            {key: sum(1 for i in self.identifiers()
                      if placement_report.node_key_of_slot(i) == key)
             for key in (AMD.key, PANFROST.key)})
        self.assertEqual(set(expected),
                         set(placement_report.slots_of(self.tree, NODENAME)))

    def test_rerun_is_idempotent(self):
        """Every resource-tracker update re-runs it: nothing may change."""
        self.update([AMD, PANFROST])
        before = self.tree.data(NODENAME)
        self.update([AMD, PANFROST])
        self.assertEqual(before, self.tree.data(NODENAME))

    def test_slots_grow(self):
        self.update([AMD])
        self.update([gpu(AMD.key, 1, 6)])
        self.assertEqual((6, 0, 6), self.inventory())
        self.assertEqual(sorted(slots(AMD.key, *range(6))),
                         self.identifiers())

    def test_slots_shrink_below_held(self):
        """Held slots beyond the new range stay, in use, not dropped."""
        self.update([AMD])
        held = set(slots(AMD.key, 0, 3))
        reported = self.update([gpu(AMD.key, 1, 2)], held=held)
        self.assertEqual(slots(AMD.key, 0, 1, 3), self.identifiers())
        self.assertEqual(set(slots(AMD.key, 0, 1, 3)), set(reported))
        # total covers the held slot, which is in use: only the 2 usable
        # slots can be allocated (reserving the held one too would count
        # it twice).
        self.assertEqual((3, 0, 3), self.inventory())
        self.assertIn('WARNING Render node /dev/dri/renderD128 now has 2 '
                      'slot(s) but 1 are in use outside that range',
                      self.log.output)
        # Once freed, the inventory shrinks to the configured slots.
        self.update([gpu(AMD.key, 1, 2)], held=slots(AMD.key, 0))
        self.assertEqual((2, 0, 2), self.inventory())
        self.assertEqual(slots(AMD.key, 0, 1), self.identifiers())

    def test_vanished_gpu_with_held_slots_is_kept(self):
        self.update([AMD, PANFROST])
        held = set(slots(AMD.key, 2)) | set(slots(PANFROST.key, 1))
        self.update([PANFROST], held=held)
        # PANFROST's held slot is usable, AMD's is kept, in use.
        self.assertEqual((3, 0, 3), self.inventory())
        self.assertEqual(sorted(slots(AMD.key, 2) +
                                slots(PANFROST.key, 0, 1)),
                         self.identifiers())
        # The vanished GPU's traits go; the instance's slot stays.
        self.assertNotIn('CUSTOM_GPU_VENDOR_1002',
                         self.tree.data(NODENAME).traits)
        self.assertIn('WARNING Render node 0000:83:00.0 is gone or '
                      'deselected but 1 slot(s) are in use', self.log.output)
        # When the GPU comes back, its slots are usable again.
        self.update([AMD, PANFROST], held=held)
        self.assertEqual((6, 0, 6), self.inventory())
        self.assertIn('CUSTOM_GPU_VENDOR_1002',
                      self.tree.data(NODENAME).traits)

    def test_no_render_node_no_inventory(self):
        self.update([AMD, PANFROST])
        self.update([])
        root = self.tree.data(NODENAME)
        self.assertNotIn(RC, root.inventory)
        self.assertNotIn(RC, root.resources)
        self.assertEqual({}, placement_report.slots_of(self.tree, NODENAME))
        self.assertEqual({'total': 16}, root.inventory['VCPU'])
        self.assertEqual({os_traits.COMPUTE_NODE, 'HW_CPU_X86_AVX2'},
                         root.traits)

    def test_only_held_slots_are_kept(self):
        self.update([AMD])
        self.update([], held=slots(AMD.key, 1))
        # The one slot is in use: Placement has none to give.
        self.assertEqual((1, 0, 1), self.inventory())
        self.assertEqual(slots(AMD.key, 1), self.identifiers())

    def test_gpu_traits_follow_the_render_nodes(self):
        self.update([AMD, INTEL])
        owned = {t for t in self.tree.data(NODENAME).traits
                 if t.startswith('CUSTOM_GPU_')}
        self.assertEqual({'CUSTOM_GPU_VENDOR_1002', 'CUSTOM_GPU_PRODUCT_73BF',
                          'CUSTOM_GPU_VENDOR_8086', 'CUSTOM_GPU_PRODUCT_46A6'},
                         owned)
        self.update([INTEL])
        self.assertEqual(
            {os_traits.COMPUTE_NODE, 'HW_CPU_X86_AVX2',
             'CUSTOM_GPU_VENDOR_8086', 'CUSTOM_GPU_PRODUCT_46A6'},
            self.tree.data(NODENAME).traits)

    def test_traits_not_owned_are_kept(self):
        """Only vendor and product traits are ours to remove."""
        self.tree.add_traits(NODENAME, 'CUSTOM_NUMA_NODE_1',
                             'CUSTOM_GPU_LOAD_30', 'CUSTOM_OPERATOR_TAG')
        self.update([AMD])
        self.update([])
        self.assertEqual(
            {os_traits.COMPUTE_NODE, 'HW_CPU_X86_AVX2', 'CUSTOM_NUMA_NODE_1',
             'CUSTOM_GPU_LOAD_30', 'CUSTOM_OPERATOR_TAG'},
            self.tree.data(NODENAME).traits)

    def test_other_resources_of_the_root_are_kept(self):
        vpmem = objects.Resource(provider_uuid=uuids.compute1,
                                 resource_class='CUSTOM_PMEM_NAMESPACE_4GB',
                                 identifier='ns_0')
        self.tree.update_resources(
            NODENAME, {'CUSTOM_PMEM_NAMESPACE_4GB': {vpmem}})
        self.update([PANFROST])
        self.assertEqual({vpmem}, self.tree.data(NODENAME).resources[
            'CUSTOM_PMEM_NAMESPACE_4GB'])
        self.update([])
        self.assertEqual({'CUSTOM_PMEM_NAMESPACE_4GB': {vpmem}},
                         self.tree.data(NODENAME).resources)


class LegacyProvidersTestCase(testtools.TestCase):
    """Child providers of earlier releases move onto the root."""

    def setUp(self):
        super().setUp()
        self.log = self.useFixture(fixtures.FakeLogger(
            level=logging.INFO, format='%(levelname)s %(message)s'))
        self.tree = provider_tree.ProviderTree()
        self.tree.new_root(NODENAME, uuids.compute1)
        self.tree.update_inventory(NODENAME, {'VCPU': {'total': 16}})
        for name, uuid, total in ((AMD_RP, uuids.amd_rp, 4),
                                  (PANFROST_RP, uuids.panfrost_rp, 2)):
            self.tree.new_child(name, NODENAME, uuid=uuid)
            self.tree.update_inventory(name, {RC: {'total': total}})
            self.tree.update_traits(name, ['CUSTOM_NUMA_NODE_1'])

    def test_legacy_providers(self):
        self.assertEqual({AMD_RP, PANFROST_RP}, set(
            placement_report.legacy_providers(self.tree, NODENAME)))

    def test_providers_not_owned_are_not_legacy(self):
        """Other children of the node, and other nodes, are left alone."""
        tree = provider_tree.ProviderTree()
        tree.new_root(NODENAME, uuids.compute1)
        vgpu = 'compute1_pci_0000_84_00_0'
        tree.new_child(vgpu, NODENAME, uuid=uuids.vgpu)
        tree.update_inventory(vgpu, {'VGPU': {'total': 4}})
        # Our resource class, but not a direct child of this node.
        nested = 'compute1_pci_0000_84_00_0_nested'
        tree.new_child(nested, vgpu, uuid=uuids.nested)
        tree.update_inventory(nested, {RC: {'total': 1}})
        tree.new_root('compute2', uuids.compute2)
        foreign = placement_report.provider_name('compute2', AMD.key)
        tree.new_child(foreign, 'compute2', uuid=uuids.foreign)
        tree.update_inventory(foreign, {RC: {'total': 8}})
        self.assertEqual([], placement_report.legacy_providers(
            tree, NODENAME))
        # Reporting slots leaves them alone too.
        untouched = {n: tree.data(n) for n in (vgpu, nested, foreign)}
        placement_report.update_provider_tree(tree, NODENAME, [AMD], set())
        placement_report.update_provider_tree(tree, NODENAME, [], set())
        self.assertEqual({n: tree.data(n) for n in untouched}, untouched)

    def test_reshape_moves_allocations_onto_the_root(self):
        allocations = {
            uuids.inst1: {'allocations': {
                uuids.compute1: {'resources': {'VCPU': 2, 'MEMORY_MB': 512}},
                uuids.amd_rp: {'resources': {RC: 1}}}},
            # A move: slots on both old providers (source and target side
            # of a same-host resize); they add up on the root.
            uuids.inst2: {'allocations': {
                uuids.compute1: {'resources': {'VCPU': 1}},
                uuids.amd_rp: {'resources': {RC: 1}},
                uuids.panfrost_rp: {'resources': {RC: 2}}}},
            # No render slot at all.
            uuids.inst3: {'allocations': {
                uuids.compute1: {'resources': {'VCPU': 4}}}},
            # Only render slots, nothing on the root yet.
            uuids.inst4: {'allocations': {
                uuids.panfrost_rp: {'resources': {RC: 1}}}},
            # Elsewhere (a sharing provider): untouched.
            uuids.inst5: {'allocations': {
                uuids.other: {'resources': {'DISK_GB': 10}}}},
        }
        moved = placement_report.reshape(self.tree, NODENAME, allocations)
        self.assertEqual({uuids.amd_rp: AMD.key,
                          uuids.panfrost_rp: PANFROST.key}, moved)
        self.assertEqual({
            uuids.inst1: {'allocations': {
                uuids.compute1: {'resources': {'VCPU': 2, 'MEMORY_MB': 512,
                                               RC: 1}}}},
            uuids.inst2: {'allocations': {
                uuids.compute1: {'resources': {'VCPU': 1, RC: 3}}}},
            uuids.inst3: {'allocations': {
                uuids.compute1: {'resources': {'VCPU': 4}}}},
            uuids.inst4: {'allocations': {
                uuids.compute1: {'resources': {RC: 1}}}},
            uuids.inst5: {'allocations': {
                uuids.other: {'resources': {'DISK_GB': 10}}}},
        }, allocations)
        self.assertFalse(self.tree.exists(AMD_RP))
        self.assertFalse(self.tree.exists(PANFROST_RP))
        self.assertEqual([], placement_report.legacy_providers(
            self.tree, NODENAME))
        self.assertEqual({'VCPU': {'total': 16}},
                         self.tree.data(NODENAME).inventory)
        self.assertIn('INFO Moving the render slots of provider %s (render '
                      'node %s)' % (uuids.amd_rp, AMD.key), self.log.output)

    def test_reshape_then_report(self):
        """The start-up sequence: reshape, then report the slots."""
        allocations = {uuids.inst1: {'allocations': {
            uuids.amd_rp: {'resources': {RC: 1}}}}}
        placement_report.reshape(self.tree, NODENAME, allocations)
        placement_report.update_provider_tree(
            self.tree, NODENAME, [AMD, PANFROST], set(slots(AMD.key, 0)))
        self.assertEqual([uuids.compute1],
                         list(self.tree.get_provider_uuids(NODENAME)))
        self.assertEqual(6, self.tree.data(NODENAME).inventory[RC]['total'])
        self.assertEqual(
            {RC: 1}, allocations[uuids.inst1]['allocations'][
                uuids.compute1]['resources'])

    def test_reshape_without_legacy_providers_changes_nothing(self):
        tree = provider_tree.ProviderTree()
        tree.new_root(NODENAME, uuids.compute1)
        allocations = {uuids.inst1: {'allocations': {
            uuids.compute1: {'resources': {'VCPU': 1, RC: 1}}}}}
        expected = {uuids.inst1: {'allocations': {
            uuids.compute1: {'resources': {'VCPU': 1, RC: 1}}}}}
        self.assertEqual({}, placement_report.reshape(tree, NODENAME,
                                                      allocations))
        self.assertEqual(expected, allocations)


class NodeTraitsTestCase(testtools.TestCase):

    def test_vendor_and_product(self):
        self.assertEqual({'CUSTOM_GPU_VENDOR_1002', 'CUSTOM_GPU_PRODUCT_73BF'},
                         placement_report.node_traits(AMD))

    def test_no_pci_ids_no_traits(self):
        self.assertEqual(set(), placement_report.node_traits(PANFROST))


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
        self.assertEqual('compute1_render_0000:83:00.0', AMD_RP)
