"""Report render slots to Placement on the compute node's own provider.

Placement sees one inventory of ``CUSTOM_GPU_RENDER_SLOT`` on the compute
node provider (the slots of all its render nodes) and the GPUs' vendor and
product traits: nothing that makes a candidate query dearer than one more
resource class on the root does. Which render node, and so which NUMA
cell, a slot is on is nova-compute's business: one concrete ``Resource``
per slot, ``<render node key>#slot<N>``, which the claim hands out
(``compute.slot_choice``). Slots held by instances are never dropped: when
a GPU vanishes or its slot count shrinks, the slots still held stay in the
inventory, in use, until they are freed; no claim is handed one of them.

Releases before this one reported one child provider per render node;
``reshape`` moves their allocations onto the compute node's provider.
"""

from oslo_log import log as logging

from nova import objects

from nova_gpu_numa_sched import names

LOG = logging.getLogger(__name__)

_SLOT_SEPARATOR = '#slot'

#: Trait prefixes of the traits this module owns on the compute node.
_OWNED_TRAIT_PREFIXES = (names.VENDOR_TRAIT_PREFIX,
                         names.PRODUCT_TRAIT_PREFIX)


def provider_name(nodename, node_key):
    """Name of a render node's child provider (earlier releases)."""
    return names.render_provider_name(nodename, node_key)


def slot_identifier(node_key, index):
    return '%s%s%d' % (node_key, _SLOT_SEPARATOR, index)


def slot_pattern(node_key):
    """How a render node's slot identifiers look, for people."""
    return '%s%s<N>' % (node_key, _SLOT_SEPARATOR)


def parse_slot(identifier):
    """Return (render node key, slot index) of a slot identifier."""
    key, _, index = identifier.rpartition(_SLOT_SEPARATOR)
    return key, int(index)


def node_key_of_slot(identifier):
    return parse_slot(identifier)[0]


def _hex_id(pci_id):
    return pci_id.lower().replace('0x', '').upper()


def node_traits(node):
    """The Placement traits a render node gives its compute node."""
    traits = set()
    if node.vendor_id:
        traits.add(names.VENDOR_TRAIT_PREFIX + _hex_id(node.vendor_id))
    if node.product_id:
        traits.add(names.PRODUCT_TRAIT_PREFIX + _hex_id(node.product_id))
    return traits


def legacy_providers(provider_tree, nodename):
    """Names of the render node child providers of earlier releases."""
    root = provider_tree.data(nodename)
    found = []
    for uuid in provider_tree.get_provider_uuids(nodename):
        if uuid == root.uuid:
            continue
        data = provider_tree.data(uuid)
        if (data.parent_uuid == root.uuid and
                names.RESOURCE_CLASS in data.inventory):
            found.append(data.name)
    return found


def _inventory(total):
    return {
        'total': total,
        'reserved': 0,
        'min_unit': 1,
        'max_unit': total,
        'step_size': 1,
        'allocation_ratio': 1.0,
    }


def slots_of(provider_tree, nodename):
    """{slot identifier: Resource} the compute node provider holds."""
    data = provider_tree.data(nodename)
    return {res.identifier: res
            for res in data.resources.get(names.RESOURCE_CLASS, ())}


def update_provider_tree(provider_tree, nodename, render_nodes, held):
    """Make the compute node's render slots match ``render_nodes``.

    :param held: identifiers of the slots instances on this host hold
    :returns: {slot identifier: render node key} of every slot reported,
        usable or held beyond the usable ones
    """
    root = provider_tree.data(nodename)
    usable = {slot_identifier(node.key, index)
              for node in render_nodes for index in range(node.slots)}
    identifiers = usable | set(held)
    beyond = len(identifiers) - len(usable)
    if beyond:
        _warn_held_beyond(render_nodes, set(held) - usable)
    inventory = dict(root.inventory)
    resources = dict(root.resources)
    if identifiers:
        # Slots held beyond the usable ones count in the total and are all
        # in use: Placement's free capacity is exactly the usable slots
        # not in use. (Reserving them as well would count them twice.)
        inventory[names.RESOURCE_CLASS] = _inventory(len(identifiers))
        resources[names.RESOURCE_CLASS] = {
            objects.Resource(provider_uuid=root.uuid,
                             resource_class=names.RESOURCE_CLASS,
                             identifier=identifier)
            for identifier in identifiers}
    else:
        inventory.pop(names.RESOURCE_CLASS, None)
        resources.pop(names.RESOURCE_CLASS, None)
    provider_tree.update_inventory(nodename, inventory)
    provider_tree.update_resources(nodename, resources)
    wanted = set()
    for node in render_nodes:
        wanted |= node_traits(node)
    stale = {trait for trait in root.traits
             if trait.startswith(_OWNED_TRAIT_PREFIXES) and
             trait not in wanted}
    if stale:
        provider_tree.remove_traits(nodename, *stale)
    if wanted - set(root.traits):
        provider_tree.add_traits(nodename, *wanted)
    return {identifier: node_key_of_slot(identifier)
            for identifier in identifiers}


def _warn_held_beyond(render_nodes, beyond):
    """Name each render node whose held slots are kept until freed."""
    nodes = {node.key: node for node in render_nodes}
    by_key = {}
    for identifier in beyond:
        key = node_key_of_slot(identifier)
        by_key[key] = by_key.get(key, 0) + 1
    for key, count in sorted(by_key.items()):
        node = nodes.get(key)
        if node is None:
            LOG.warning('Render node %s is gone or deselected but %d slot(s) '
                        'are in use; keeping them, for no new guest, until '
                        'they are freed.',
                        key, count)
        else:
            LOG.warning('Render node %s now has %d slot(s) but %d are in use '
                        'outside that range; keeping the excess, for no new '
                        'guest, until it is freed.',
                        node.devnode, node.slots, count)


def reshape(provider_tree, nodename, allocations):
    """Move the allocations of earlier releases' render providers.

    Each consumer's slots on a render node child provider move to the
    compute node's provider, and the child providers go. Run by the
    resource tracker at start-up, when ``update_provider_tree`` raised
    ``ReshapeNeeded``; Placement applies tree and allocations at once.

    :returns: {old provider uuid: render node key} of the removed providers
    """
    root_uuid = provider_tree.data(nodename).uuid
    moved = {}
    for name in legacy_providers(provider_tree, nodename):
        data = provider_tree.data(name)
        moved[data.uuid] = name[len(nodename) +
                                len(names.RENDER_PROVIDER_INFIX):]
    for consumer, allocation in (allocations or {}).items():
        by_provider = allocation['allocations']
        slots = 0
        for uuid in moved:
            resources = by_provider.get(uuid, {}).get('resources', {})
            slots += resources.get(names.RESOURCE_CLASS, 0)
            by_provider.pop(uuid, None)
        if slots:
            root_alloc = by_provider.setdefault(
                root_uuid, {'resources': {}})
            resources = root_alloc.setdefault('resources', {})
            resources[names.RESOURCE_CLASS] = (
                resources.get(names.RESOURCE_CLASS, 0) + slots)
    for uuid, key in moved.items():
        LOG.info('Moving the render slots of provider %s (render node %s) '
                 'onto compute node provider %s.', uuid, key, nodename)
        provider_tree.remove(uuid)
    return moved
