"""Report render nodes to Placement as child providers of the compute node.

One provider per render node, named ``<nodename>_render_<key>``, with an
inventory of ``CUSTOM_GPU_RENDER_SLOT`` and one concrete ``Resource`` per
slot, so that the resource tracker hands each instance a named slot (and so
a render node) at claim time. Slots held by instances are never dropped:
when the GPU vanishes or its slot count shrinks, what cannot be removed is
reserved.
"""

import os_traits
from oslo_log import log as logging

from nova import objects

from nova_gpu_numa_sched import names

LOG = logging.getLogger(__name__)

_SLOT_SEPARATOR = '#slot'


def provider_name(nodename, node_key):
    return names.render_provider_name(nodename, node_key)


def slot_identifier(node_key, index):
    return '%s%s%d' % (node_key, _SLOT_SEPARATOR, index)


def parse_slot(identifier):
    """Return (render node key, slot index) of a slot identifier."""
    key, _, index = identifier.rpartition(_SLOT_SEPARATOR)
    return key, int(index)


def node_key_of_slot(identifier):
    return parse_slot(identifier)[0]


def node_traits(node, load_trait=None):
    traits = {os_traits.OWNER_NOVA, names.numa_trait(node.numa_node)}
    if node.vendor_id:
        traits.add(names.VENDOR_TRAIT_PREFIX + _hex_id(node.vendor_id))
    if node.product_id:
        traits.add(names.PRODUCT_TRAIT_PREFIX + _hex_id(node.product_id))
    if load_trait:
        traits.add(load_trait)
    return traits


def _hex_id(pci_id):
    return pci_id.lower().replace('0x', '').upper()


def owned_providers(provider_tree, nodename):
    """Names of the children of ``nodename`` that this plugin manages."""
    root = provider_tree.data(nodename)
    owned = []
    for uuid in provider_tree.get_provider_uuids(nodename):
        if uuid == root.uuid:
            continue
        data = provider_tree.data(uuid)
        if (data.parent_uuid == root.uuid and
                names.RESOURCE_CLASS in data.inventory):
            owned.append(data.name)
    return owned


def _inventory(total, reserved):
    return {names.RESOURCE_CLASS: {
        'total': total,
        'reserved': reserved,
        'min_unit': 1,
        'max_unit': total,
        'step_size': 1,
        'allocation_ratio': 1.0,
    }}


def _resources(rp_uuid, identifiers):
    return {names.RESOURCE_CLASS: {
        objects.Resource(provider_uuid=rp_uuid,
                         resource_class=names.RESOURCE_CLASS,
                         identifier=identifier)
        for identifier in identifiers}}


def _set_slots(provider_tree, name, identifiers, usable):
    """Expose ``identifiers``, of which only ``usable`` may be allocated."""
    rp_uuid = provider_tree.data(name).uuid
    total = len(identifiers)
    provider_tree.update_inventory(name, _inventory(total, total - usable))
    provider_tree.update_resources(name, _resources(rp_uuid, identifiers))


def held_identifiers(provider_tree, name, held_by_provider):
    uuid = provider_tree.data(name).uuid
    return set(held_by_provider.get(uuid, ()))


def update_provider_tree(provider_tree, nodename, render_nodes,
                         held_by_provider, load_traits=None):
    """Make the children of ``nodename`` match ``render_nodes``.

    :param held_by_provider: {provider uuid: identifiers held by instances}
    :param load_traits: {render node key: load trait or None}
    """
    load_traits = load_traits or {}
    wanted = {provider_name(nodename, node.key): node
              for node in render_nodes}
    for name in owned_providers(provider_tree, nodename):
        if name in wanted:
            continue
        held = held_identifiers(provider_tree, name, held_by_provider)
        if held:
            LOG.warning('Render node provider %s is gone or deselected but '
                        '%d slot(s) are in use; reserving them until they '
                        'are freed.', name, len(held))
            _set_slots(provider_tree, name, held, usable=0)
            # Its utilisation is unknown now; keep cell and vendor traits.
            traits = provider_tree.data(name).traits
            provider_tree.update_traits(name, {
                trait for trait in traits
                if not trait.startswith(names.LOAD_TRAIT_PREFIX)})
        else:
            LOG.info('Removing render node provider %s.', name)
            provider_tree.remove(name)
    for name, node in wanted.items():
        if not provider_tree.exists(name):
            provider_tree.new_child(name, nodename)
        held = held_identifiers(provider_tree, name, held_by_provider)
        identifiers = {slot_identifier(node.key, i)
                       for i in range(node.slots)} | held
        if len(identifiers) > node.slots:
            LOG.warning('Render node %s now has %d slot(s) but %d are in '
                        'use outside that range; reserving the excess.',
                        node.devnode, node.slots, len(identifiers) -
                        node.slots)
        _set_slots(provider_tree, name, identifiers, usable=node.slots)
        provider_tree.update_traits(
            name, node_traits(node, load_traits.get(node.key)))
