"""``openstack gpu render list`` and ``openstack gpu render show``.

Render slots per compute node, as Placement counts them: since host-level
slots, Placement has one ``CUSTOM_GPU_RENDER_SLOT`` inventory on each
compute node's provider and no render node providers. Which render node
(and NUMA cell) each slot is on is published by nova-compute in the compute
node record's ``stats``, which no Nova REST API shows at the microversions
this plugin supports; ``nova-gpu-numa status`` (nova.conf and Nova's
databases) shows it. The list reads the fleet in a fixed number of
Placement requests whatever the number of hosts
(:mod:`nova_gpu_numa_sched.fleet_view`).
"""

from osc_lib.cli import format_columns
from osc_lib.command import command

from nova_gpu_numa_sched.osc import columns

LIST_COLUMNS = ('Host', 'Slots Used', 'Slots Total')
LONG_COLUMNS = ('UUID', 'GPU Vendors', 'GPU Products')
SHOW_COLUMNS = ('Host', 'UUID', 'Slots Used', 'Slots Total',
                'Slots Reserved', 'GPU Vendors', 'GPU Products', 'Traits',
                'Instances')

#: Where the per-render-node view is, for help texts.
PER_RENDER_NODE = ('Per render node (NUMA cell, slots, load, holders), run '
                   '"nova-gpu-numa status" on a controller: Nova\'s API '
                   'does not show it.')


def _values(slots):
    """{column: value} of every column a compute node can show."""
    return {
        'Host': slots.host,
        'UUID': slots.uuid,
        'Slots Used': slots.used,
        'Slots Total': slots.capacity,
        'Slots Reserved': slots.reserved,
        'GPU Vendors': format_columns.ListColumn(slots.vendor_ids),
        'GPU Products': format_columns.ListColumn(slots.product_ids),
        'Traits': format_columns.ListColumn(slots.traits),
    }


def list_columns(long=False):
    return LIST_COLUMNS + (LONG_COLUMNS if long else ())


def list_row(slots, long=False):
    values = _values(slots)
    return tuple(values[name] for name in list_columns(long))


def show_row(slots, holders):
    """The row of ``render show``; holders: [{'uuid', 'name', 'slots'}]."""
    values = _values(slots)
    values['Instances'] = columns.InstancesColumn(holders)
    return tuple(values[name] for name in SHOW_COLUMNS)


def holders(consumers, names):
    """Slot holders sorted by name, from {uuid: slots} and {uuid: name}."""
    return sorted(({'uuid': uuid, 'name': names.get(uuid), 'slots': slots}
                   for uuid, slots in consumers.items()),
                  key=lambda item: (item['name'] is None,
                                    item['name'] or '', item['uuid']))


class ListRenderNode(command.Lister):
    """List render slots per compute node: used and total (Placement)"""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.description = (
            'Render slots of every compute node that has them, as '
            'Placement counts them. ' + PER_RENDER_NODE)
        parser.add_argument(
            '--host',
            metavar='<host>',
            help='Only this compute node (its provider name, as '
                 '"openstack hypervisor list" shows it)')
        parser.add_argument(
            '--long',
            action='store_true',
            default=False,
            help='Also show the compute node provider\'s UUID and the PCI '
                 'vendor and product ids of its GPUs')
        return parser

    def take_action(self, parsed_args):
        client = self.app.client_manager.gpu_numa
        fleet = client.fleet(host=parsed_args.host)
        return (list_columns(parsed_args.long),
                [list_row(slots, parsed_args.long) for slots in fleet.hosts])


class ShowRenderNode(command.ShowOne):
    """Show a compute node's render slots and the instances holding them"""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.description = (
            'A compute node\'s render slots (reserved: held on GPUs that '
            'vanished) and the instances holding them, from Placement. ' +
            PER_RENDER_NODE)
        parser.add_argument(
            'host',
            metavar='<host>',
            help='Compute node (resource provider name or UUID)')
        return parser

    def take_action(self, parsed_args):
        client = self.app.client_manager.gpu_numa
        slots = client.host_slots(parsed_args.host)
        consumers = client.slot_consumers(slots.uuid)
        names = client.server_names(sorted(consumers))
        return SHOW_COLUMNS, show_row(slots, holders(consumers, names))
