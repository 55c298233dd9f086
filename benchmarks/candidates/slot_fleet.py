"""Fleets in Placement for parts 2 and 3: host-level slots, or the earlier
release's render providers.

``benchmarks/common/fleet.py`` stamps the compute nodes' root providers
(Nova's inventory and traits) in bulk; its render node children come from
a helper of the earlier release's ``placement_report`` that the plugin no
longer has. So this module asks it for the roots alone and adds the render
slots through the REST API, as nova-compute would:

``populate_slots``
    host-level slots, what the plugin reports now: the root's inventory
    and traits as the plugin's own ``placement_report.update_provider_tree``
    leaves them on a Nova ``ProviderTree`` (one ``CUSTOM_GPU_RENDER_SLOT``
    inventory for all the host's GPUs, their vendor and product traits);
``populate_render_providers``
    the earlier release's model, kept here as a description because the
    plugin no longer has that code: one child provider per render node,
    named ``<host>_render_<key>``, with the GPU's slots, ``OWNER_NOVA``,
    ``CUSTOM_NUMA_NODE_<cell>`` and the vendor and product traits (load
    traits are written later, by part 3's writers).

Both return a ``SlotFleet`` that names each host's render nodes with
their cells (and, for the earlier model, their provider's uuid).
"""

import dataclasses
import random
import uuid as uuid_lib

from nova.compute import provider_tree
from nova import objects
import os_traits

from benchmarks.common import fleet as fleet_lib
from nova_gpu_numa_sched.compute import placement_report
from nova_gpu_numa_sched.compute import render_node
from nova_gpu_numa_sched import names

_TEMPLATE = 'template-node'


@dataclasses.dataclass
class SlotFleet:
    shape: fleet_lib.Shape
    #: root provider uuid -> host name
    hosts: dict
    #: root uuid -> [RenderNode] of that host
    nodes: dict
    #: (root uuid, render node key) -> render provider uuid (earlier model;
    #: empty with host-level slots)
    providers: dict = dataclasses.field(default_factory=dict)

    @property
    def gpus(self):
        """{(root uuid, render node key): NUMA cell} of every GPU."""
        return {(root, node.key): node.numa_node
                for root, nodes in self.nodes.items() for node in nodes}


def render_nodes(shape):
    """One host's render nodes: GPUs spread evenly over its cells."""
    return [render_node.RenderNode(
        key='0000:%02x:00.0' % (0x10 + index),
        devnode='/dev/dri/renderD%d' % (128 + index),
        numa_node=index * shape.cells // shape.gpus_per_host,
        pci_address='0000:%02x:00.0' % (0x10 + index),
        vendor_id=fleet_lib.GPU_VENDOR, product_id=fleet_lib.GPU_PRODUCT,
        slots=shape.slots_per_gpu)
        for index in range(shape.gpus_per_host)]


def root_tree(shape, nodes, held=()):
    """A ProviderTree of one host as the plugin reports it; and its root.

    Nova's root inventory and traits, then the plugin's render slots.
    """
    objects.register_all()
    tree = provider_tree.ProviderTree()
    tree.new_root(_TEMPLATE, str(uuid_lib.uuid4()))
    tree.update_inventory(_TEMPLATE, fleet_lib.root_inventory(shape))
    tree.update_traits(_TEMPLATE, fleet_lib.ROOT_TRAITS)
    placement_report.update_provider_tree(tree, _TEMPLATE, nodes, held)
    return tree, _TEMPLATE


def root_report(shape):
    """(inventory, traits) the plugin gives a compute node's provider."""
    tree, name = root_tree(shape, render_nodes(shape))
    data = tree.data(name)
    return dict(data.inventory), frozenset(data.traits)


def _create_traits(placement, traits):
    for trait in sorted(traits):
        if trait.startswith('CUSTOM_'):
            placement.put('/traits/%s' % trait, None, version='1.6',
                          expect=(201, 204))


def _set(placement, rp_uuid, generation, inventory, traits):
    """PUT inventory then traits; return the provider's new generation."""
    body = placement.put('/resource_providers/%s/inventories' % rp_uuid, {
        'resource_provider_generation': generation,
        'inventories': inventory})
    body = placement.put('/resource_providers/%s/traits' % rp_uuid, {
        'resource_provider_generation': body['resource_provider_generation'],
        'traits': sorted(traits)}, version='1.6')
    return body['resource_provider_generation']


def _roots(placement, shape, seed):
    """The roots, stamped by ``common/fleet.py``: {uuid: host name}."""
    roots = fleet_lib.populate(
        placement, dataclasses.replace(shape, gpus_per_host=0), seed)
    return roots.hosts


def populate_slots(placement, shape, seed=0):
    """Host-level slots: the render slots on each compute node provider."""
    inventory, traits = root_report(shape)
    _create_traits(placement, traits)
    hosts = _roots(placement, shape, seed)
    for root in hosts:
        generation = placement.get('/resource_providers/%s' % root)[
            'generation']
        _set(placement, root, generation, inventory, traits)
    return SlotFleet(shape=shape, hosts=hosts,
                     nodes={root: render_nodes(shape) for root in hosts})


def legacy_child(node):
    """(inventory, traits) of the earlier release's render provider."""
    inventory = {names.RESOURCE_CLASS: {
        'total': node.slots, 'reserved': 0, 'min_unit': 1,
        'max_unit': node.slots, 'step_size': 1, 'allocation_ratio': 1.0}}
    traits = ({os_traits.OWNER_NOVA, names.numa_trait(node.numa_node)} |
              placement_report.node_traits(node))
    return inventory, frozenset(traits)


def populate_render_providers(placement, shape, seed=0):
    """The earlier release: one child provider per render node."""
    nodes = render_nodes(shape)
    children = [(node,) + legacy_child(node) for node in nodes]
    _create_traits(placement, set().union(*[t for _, _, t in children]))
    placement.put('/resource_classes/%s' % names.RESOURCE_CLASS, None,
                  version='1.7', expect=(201, 204))
    hosts = _roots(placement, shape, seed)
    rng = random.Random('%s-children' % seed)
    fleet = SlotFleet(shape=shape, hosts=hosts,
                      nodes={root: nodes for root in hosts})
    for root, hostname in hosts.items():
        for node, inventory, traits in children:
            rp_uuid = str(uuid_lib.UUID(int=rng.getrandbits(128)))
            placement.request('POST', '/resource_providers', {
                'uuid': rp_uuid,
                'name': names.render_provider_name(hostname, node.key),
                'parent_provider_uuid': root}, version='1.20')
            _set(placement, rp_uuid, 0, inventory, traits)
            fleet.providers[(root, node.key)] = rp_uuid
    return fleet


def check_slots(placement, fleet, count=3, seed=1):
    """Read a few roots back through the REST API; raise if wrong."""
    inventory, traits = root_report(fleet.shape)
    rng = random.Random(seed)
    for root in rng.sample(sorted(fleet.hosts), min(count, len(fleet.hosts))):
        tree = placement.get('/resource_providers?in_tree=%s' % root,
                             version='1.14')['resource_providers']
        got = placement.get('/resource_providers/%s/inventories' % root)[
            'inventories']
        got = {rc: {k: v for k, v in inv.items() if k in inventory[rc]}
               for rc, inv in got.items()}
        got_traits = frozenset(placement.get(
            '/resource_providers/%s/traits' % root, version='1.6')['traits'])
        if len(tree) != 1 or got != inventory or got_traits != traits:
            raise AssertionError('%s reads back as %d providers, %s %s; '
                                 'expected 1, %s %s' % (
                                     fleet.hosts[root], len(tree), got,
                                     sorted(got_traits), inventory,
                                     sorted(traits)))
    return True
