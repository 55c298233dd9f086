"""Stamp a fleet of compute nodes and render providers into Placement.

Going through the REST API for 5,000 hosts x (1 + 8) providers would take
most of the run, so the rows go into Placement's own tables with one bulk
``INSERT`` per table in one transaction. The root providers carry what
Nova's libvirt driver reports for a 4-cell host. The host-level slots the
plugin reports now (``host_slot_inventory``) come from the plugin's own
``placement_report.update_provider_tree`` on a real Nova ``ProviderTree``;
the render node providers of earlier releases (``template_children``), which
the plugin no longer makes, are described here for comparison, named as
those releases named them, and copied for every host with that host's
name and new UUIDs. The resource class and the custom traits are
created through the REST API first, as nova-compute does, and
``check_sample`` reads a few hosts back through the REST API.
"""

import dataclasses
import datetime
import random
import uuid as uuid_lib

from nova.compute import provider_tree
from nova import objects
import os_resource_classes as orc
import os_traits
from placement.db.sqlalchemy import models

from nova_gpu_numa_sched.compute import placement_report
from nova_gpu_numa_sched.compute import render_node
from nova_gpu_numa_sched import names

_TEMPLATE = 'template-node'
#: A few of the traits Nova's libvirt driver puts on every compute node.
ROOT_TRAITS = (os_traits.OWNER_NOVA, os_traits.COMPUTE_NET_ATTACH_INTERFACE,
               os_traits.COMPUTE_VOLUME_ATTACH_WITH_TAG,
               os_traits.COMPUTE_IMAGE_TYPE_QCOW2,
               os_traits.COMPUTE_IMAGE_TYPE_RAW,
               os_traits.HW_CPU_X86_AVX2)
#: The PCI ids of the GPUs, for the vendor and product traits.
GPU_VENDOR = '0x1002'
GPU_PRODUCT = '0x73bf'


@dataclasses.dataclass(frozen=True)
class Shape:
    """Every host of a fleet is alike."""

    hosts: int
    gpus_per_host: int
    cells: int = 4
    vcpus: int = 64
    memory_mb: int = 256 * 1024
    disk_gb: int = 2000
    slots_per_gpu: int = 8
    #: Nova's initial_cpu_allocation_ratio.
    cpu_ratio: float = 4.0
    #: Nova's default reserved_host_memory_mb.
    reserved_memory_mb: int = 512

    def label(self):
        if not self.gpus_per_host:
            return '%d hosts, no render providers' % self.hosts
        text = '%d hosts x %d GPUs' % (self.hosts, self.gpus_per_host)
        if self.slots_per_gpu != Shape.slots_per_gpu:
            text += ' of %d slots' % self.slots_per_gpu
        return text


@dataclasses.dataclass
class Fleet:
    shape: Shape
    #: root provider uuid -> host name
    hosts: dict
    #: render provider uuid -> (root uuid, NUMA cell)
    gpus: dict


def _inventory(total, reserved=0, ratio=1.0):
    return {'total': total, 'reserved': reserved, 'min_unit': 1,
            'max_unit': total, 'step_size': 1, 'allocation_ratio': ratio}


def root_inventory(shape):
    """What Nova's libvirt driver reports for the compute node."""
    return {orc.VCPU: _inventory(shape.vcpus, ratio=shape.cpu_ratio),
            orc.MEMORY_MB: _inventory(shape.memory_mb,
                                      shape.reserved_memory_mb),
            orc.DISK_GB: _inventory(shape.disk_gb)}


def _pci_trait(prefix, pci_id):
    return prefix + pci_id.lower().replace('0x', '').upper()


#: The vendor and product traits of the fleet's GPUs.
VENDOR_TRAIT = _pci_trait(names.VENDOR_TRAIT_PREFIX, GPU_VENDOR)
PRODUCT_TRAIT = _pci_trait(names.PRODUCT_TRAIT_PREFIX, GPU_PRODUCT)
#: What the compute node's root provider carries on top of ``ROOT_TRAITS``
#: in the "host slots" model: the GPUs' vendor and product, no NUMA cell
#: and no load trait (per-cell and per-GPU accounting is nova-compute's).
HOST_SLOT_TRAITS = frozenset((VENDOR_TRAIT, PRODUCT_TRAIT))


def _template_nodes(shape):
    """The GPUs of one host, spread evenly over its cells.

    4 GPUs on 4 cells: one each; 8: two each.
    """
    return [render_node.RenderNode(
        key='0000:%02x:00.0' % (0x10 + index),
        devnode='/dev/dri/renderD%d' % (128 + index),
        numa_node=index * shape.cells // shape.gpus_per_host,
        pci_address='0000:%02x:00.0' % (0x10 + index),
        vendor_id=GPU_VENDOR, product_id=GPU_PRODUCT,
        slots=shape.slots_per_gpu)
        for index in range(shape.gpus_per_host)]


def host_slot_inventory(shape):
    """The root's extra inventory in the "host slots" model.

    What the plugin reports (its own ``update_provider_tree`` on a
    template host): no render providers; the compute node's root provider
    carries every render slot of the host (GPUs x slots per GPU) as one
    ``CUSTOM_GPU_RENDER_SLOT`` inventory, so that Placement's allocation
    candidates stay one provider per host, and ``HOST_SLOT_TRAITS``.
    """
    objects.register_all()
    tree = provider_tree.ProviderTree()
    tree.new_root(_TEMPLATE, str(uuid_lib.uuid4()))
    placement_report.update_provider_tree(tree, _TEMPLATE,
                                          _template_nodes(shape), set())
    root = tree.data(_TEMPLATE)
    reported = {trait for trait in root.traits
                if trait.startswith(names.VENDOR_TRAIT_PREFIX) or
                trait.startswith(names.PRODUCT_TRAIT_PREFIX)}
    if reported != HOST_SLOT_TRAITS:
        raise AssertionError('the plugin reports the traits %s, the '
                             'benchmark writes %s' % (
                                 sorted(reported), sorted(HOST_SLOT_TRAITS)))
    return {names.RESOURCE_CLASS: dict(root.inventory[names.RESOURCE_CLASS])}


def template_children(shape):
    """[(name suffix, inventory, traits)] of one host's render providers.

    What releases before host-level slots reported, one child provider per
    render node (``<host>_render_<key>``, its slots, ``OWNER_NOVA``, the
    cell, vendor and product traits): the model the benchmark compares
    with, and what an upgrade reshapes.
    """
    children = []
    for node in _template_nodes(shape):
        name = placement_report.provider_name(_TEMPLATE, node.key)
        children.append((
            name[len(_TEMPLATE):],
            {names.RESOURCE_CLASS: _inventory(node.slots)},
            frozenset({os_traits.OWNER_NOVA,
                       names.numa_trait(node.numa_node),
                       VENDOR_TRAIT, PRODUCT_TRAIT})))
    return sorted(children)


def _ids(conn, table):
    return {name: ident for ident, name in conn.exec_driver_sql(
        'SELECT id, name FROM %s' % table)}


def register(placement, traits):
    """Create the resource class and the custom ``traits`` via REST.

    As nova-compute creates them; the rows that refer to them then go in
    with ``Rows``.
    """
    placement.put('/resource_classes/%s' % names.RESOURCE_CLASS, None,
                  version='1.7', expect=(201, 204))
    for trait in sorted(t for t in traits if t.startswith('CUSTOM_')):
        placement.put('/traits/%s' % trait, None, version='1.6',
                      expect=(201, 204))


class Rows:
    """Rows of Placement's provider tables, to insert in bulk.

    Provider ids follow the largest id in the table when the rows are
    made, so the same rows can go in again after they were deleted.
    """

    def __init__(self, conn):
        self.rc_ids = _ids(conn, 'resource_classes')
        self.trait_ids = _ids(conn, 'traits')
        self.next_id = 1 + (conn.exec_driver_sql(
            'SELECT MAX(id) FROM resource_providers').scalar() or 0)
        self.now = datetime.datetime.utcnow()
        self.providers, self.inventories, self.traits = [], [], []

    def provider(self, uuid, name, root_id=None, parent_id=None):
        """Add a provider (a root unless ``root_id``); return its id."""
        rp_id = self.next_id
        self.next_id += 1
        self.providers.append({
            'id': rp_id, 'uuid': uuid, 'name': name, 'generation': 1,
            'root_provider_id': root_id or rp_id,
            'parent_provider_id': parent_id, 'created_at': self.now})
        return rp_id

    def add(self, rp_id, inventory, traits):
        """Add inventory and traits to provider ``rp_id``."""
        for rc, inv in inventory.items():
            self.inventories.append(dict(
                inv, resource_provider_id=rp_id,
                resource_class_id=self.rc_ids[rc], created_at=self.now))
        for trait in traits:
            self.traits.append({
                'resource_provider_id': rp_id,
                'trait_id': self.trait_ids[trait], 'created_at': self.now})

    def __len__(self):
        return len(self.providers) + len(self.inventories) + len(self.traits)

    def insert(self, conn):
        """One bulk INSERT per table, parents first."""
        # SQLAlchemy Core statements: the same bulk insert on SQLite and
        # on MariaDB (PyMySQL folds the rows into multi-row INSERTs).
        for model, rows in ((models.ResourceProvider, self.providers),
                            (models.Inventory, self.inventories),
                            (models.ResourceProviderTrait, self.traits)):
            if rows:
                conn.execute(model.__table__.insert(), rows)


def add_children(rows, root_id, hostname, children, rng):
    """Add the render providers ``children`` under one host.

    ``children`` as ``template_children`` gives them; returns [(uuid,
    traits)] of the new providers.
    """
    added = []
    for suffix, inventory, traits in children:
        uuid = str(uuid_lib.UUID(int=rng.getrandbits(128)))
        rows.add(rows.provider(uuid, hostname + suffix, root_id, root_id),
                 inventory, traits)
        added.append((uuid, traits))
    return added


def populate(placement, shape, seed=0):
    """Write the fleet into ``placement``'s database; return a Fleet."""
    rng = random.Random(seed)
    children = template_children(shape) if shape.gpus_per_host else []
    register(placement, {trait for _, _, traits in children
                         for trait in traits})
    fleet = Fleet(shape=shape, hosts={}, gpus={})
    with placement.engine.begin() as conn:
        rows = Rows(conn)
        for number in range(shape.hosts):
            hostname = 'compute%05d' % number
            root_uuid = str(uuid_lib.UUID(int=rng.getrandbits(128)))
            root_id = rows.provider(root_uuid, hostname)
            rows.add(root_id, root_inventory(shape), ROOT_TRAITS)
            fleet.hosts[root_uuid] = hostname
            for gpu_uuid, traits in add_children(rows, root_id, hostname,
                                                 children, rng):
                fleet.gpus[gpu_uuid] = (root_uuid,
                                        names.cell_from_traits(traits))
        rows.insert(conn)
    return fleet


def check_sample(placement, fleet, count=3, seed=1):
    """Read ``count`` hosts back through the REST API; raise if wrong."""
    rng = random.Random(seed)
    shape = fleet.shape
    expected_children = {suffix: (inventory, traits) for suffix, inventory,
                         traits in (template_children(shape)
                                    if shape.gpus_per_host else [])}
    for root_uuid in rng.sample(sorted(fleet.hosts), min(count,
                                                          len(fleet.hosts))):
        hostname = fleet.hosts[root_uuid]
        tree = placement.get('/resource_providers?in_tree=%s' % root_uuid,
                             version='1.14')['resource_providers']
        if len(tree) != 1 + len(expected_children):
            raise AssertionError('%s: %d providers in its tree, expected %d'
                                 % (hostname, len(tree),
                                    1 + len(expected_children)))
        for rp in tree:
            inventory = placement.get(
                '/resource_providers/%s/inventories' % rp['uuid'])[
                'inventories']
            traits = frozenset(placement.get(
                '/resource_providers/%s/traits' % rp['uuid'],
                version='1.6')['traits'])
            if rp['uuid'] == root_uuid:
                want_inv = root_inventory(shape)
                want_traits = frozenset(ROOT_TRAITS)
            else:
                if rp['parent_provider_uuid'] != root_uuid:
                    raise AssertionError('%s: wrong parent' % rp['name'])
                want_inv, want_traits = expected_children[
                    rp['name'][len(hostname):]]
            got_inv = {rc: {k: v for k, v in inv.items() if k in want_inv[rc]}
                       for rc, inv in inventory.items()}
            if got_inv != want_inv or traits != want_traits:
                raise AssertionError('%s reads back as %s %s, expected %s %s'
                                     % (rp['name'], got_inv, sorted(traits),
                                        want_inv, sorted(want_traits)))
    return True
