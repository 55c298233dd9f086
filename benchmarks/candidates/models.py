"""The provider models of part 1's interleaved comparison, as table rows.

Each model is what a compute node with GPUs adds to Placement on top of
what Nova's libvirt driver reports (the baseline fleet: root providers
only, no render inventory). ``interleaved`` puts a model's rows into the
baseline fleet and takes them out again in every round, so that the rows
are made once here and written with bulk Core statements, as
``benchmarks.common.fleet`` writes fleets (the same on SQLite and
MariaDB):

* ``host slots`` (what the plugin reports): no child provider; the root
  carries every slot of its GPUs as ``CUSTOM_GPU_RENDER_SLOT`` and the
  vendor and product traits (``fleet.host_slot_inventory``, made by the
  plugin's ``placement_report``, and ``fleet.HOST_SLOT_TRAITS``).
* ``per render node`` (earlier releases): one child per GPU
  (``fleet.template_children``).
* ``per cell`` (the rejected stand-in): one child per NUMA cell with the
  slots of that cell's GPUs; only where it differs from per render node
  (more GPUs than cells, an even number per cell).
"""

import dataclasses
import random
import typing as ty

from benchmarks.common import fleet as fleet_lib
from nova_gpu_numa_sched import names

HOST_SLOTS = 'host slots'
PER_RENDER_NODE = 'per render node'
PER_CELL = 'per cell'


@dataclasses.dataclass(frozen=True)
class Model:
    """One provider model for hosts of ``gpus`` GPUs."""

    name: str
    gpus: int
    #: The render providers' shape (per render node, per cell); None for
    #: host slots, which has none.
    children: ty.Optional[fleet_lib.Shape] = None

    def host_shape(self):
        return fleet_lib.Shape(0, self.gpus)

    def traits(self):
        """Every trait the model's rows refer to."""
        if self.children is None:
            return set(fleet_lib.HOST_SLOT_TRAITS)
        return {trait for _, _, traits in fleet_lib.template_children(
            self.children) for trait in traits}

    def rows(self, conn, roots):
        """``fleet.Rows`` of the model for the root providers ``roots``.

        ``roots``: [(provider id, host name, uuid)] of the baseline fleet. The
        children's UUIDs come from a generator seeded with the model, not
        the baseline's seed, so they differ from the roots'.
        """
        rows = fleet_lib.Rows(conn)
        if self.children is None:
            inventory = fleet_lib.host_slot_inventory(self.host_shape())
            for root_id, _, _ in roots:
                rows.add(root_id, inventory, fleet_lib.HOST_SLOT_TRAITS)
            return rows
        children = fleet_lib.template_children(self.children)
        rng = random.Random('%s x %d' % (self.name, self.gpus))
        for root_id, hostname, _ in roots:
            fleet_lib.add_children(rows, root_id, hostname, children, rng)
        return rows

    def check(self, placement, root_uuid):
        """Read one host's tree back through the REST API; raise if wrong.

        The render inventory and the traits, as Placement serves them,
        must be the model's.
        """
        tree = placement.get('/resource_providers?in_tree=%s' % root_uuid,
                             version='1.14')['resource_providers']
        children = (fleet_lib.template_children(self.children)
                    if self.children else [])
        want = {'providers': 1 + len(children), 'slots': sum(
            inv[names.RESOURCE_CLASS]['total'] for _, inv, _ in children
        ) or self.gpus * fleet_lib.Shape.slots_per_gpu,
            'traits': self.traits() | set(fleet_lib.ROOT_TRAITS)}
        got = {'providers': len(tree), 'slots': 0, 'traits': set()}
        for rp in tree:
            inventory = placement.get('/resource_providers/%s/inventories'
                                      % rp['uuid'])['inventories']
            got['slots'] += inventory.get(names.RESOURCE_CLASS, {}).get(
                'total', 0)
            got['traits'].update(placement.get(
                '/resource_providers/%s/traits' % rp['uuid'],
                version='1.6')['traits'])
        if got != want:
            raise AssertionError('%s x %d GPUs reads back as %s, expected '
                                 '%s' % (self.name, self.gpus, got, want))


def models_for(gpus, per_cell=True):
    """[Model] compared on hosts of ``gpus`` GPUs, the new model first."""
    found = [Model(HOST_SLOTS, gpus),
             Model(PER_RENDER_NODE, gpus, fleet_lib.Shape(0, gpus))]
    cells = fleet_lib.Shape.cells
    if per_cell and gpus > cells and gpus % cells == 0:
        found.append(Model(PER_CELL, gpus, fleet_lib.Shape(
            0, cells, slots_per_gpu=fleet_lib.Shape.slots_per_gpu *
            gpus // cells)))
    return found


def roots(conn):
    """[(id, name, uuid)] of the root providers, in id order."""
    return list(conn.exec_driver_sql(
        'SELECT id, name, uuid FROM resource_providers WHERE '
        'parent_provider_id IS NULL ORDER BY id'))


def remove(conn):
    """Delete what any model added: the baseline fleet is left.

    The children with their inventories and traits, the render inventory
    of the roots and the host-slots traits of the roots: the baseline has
    none of these, whichever model was in.
    """
    children = ('SELECT id FROM resource_providers WHERE parent_provider_id '
                'IS NOT NULL')
    trait_ids = ','.join(str(ident) for ident, name in conn.exec_driver_sql(
        'SELECT id, name FROM traits') if name in fleet_lib.HOST_SLOT_TRAITS)
    # MariaDB refuses a DELETE whose subquery reads the table it deletes
    # from; these read resource_providers only.
    conn.exec_driver_sql(
        'DELETE FROM resource_provider_traits WHERE trait_id IN (%s) OR '
        'resource_provider_id IN (%s)' % (trait_ids or 'NULL', children))
    conn.exec_driver_sql(
        'DELETE FROM inventories WHERE resource_class_id = (SELECT id FROM '
        "resource_classes WHERE name = '%s') OR resource_provider_id IN (%s)"
        % (names.RESOURCE_CLASS, children))
    conn.exec_driver_sql('DELETE FROM resource_providers WHERE '
                         'parent_provider_id IS NOT NULL')


def table_counts(conn):
    """(providers, inventories, trait links, render inventories) rows."""
    return tuple(conn.exec_driver_sql(sql).scalar() for sql in (
        'SELECT COUNT(*) FROM resource_providers',
        'SELECT COUNT(*) FROM inventories',
        'SELECT COUNT(*) FROM resource_provider_traits',
        'SELECT COUNT(*) FROM inventories JOIN resource_classes ON '
        "resource_classes.id = inventories.resource_class_id WHERE "
        "resource_classes.name = '%s'" % names.RESOURCE_CLASS))
