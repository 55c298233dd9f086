"""``openstack gpu render list`` and ``openstack gpu render show``.

The fleet comes from :mod:`nova_gpu_numa_sched.fleet_view`, as for
``nova-gpu-numa status``: a fixed number of Placement requests whatever the
number of hosts.
"""

from osc_lib.cli import format_columns
from osc_lib.command import command

from nova_gpu_numa_sched.osc import columns

LIST_COLUMNS = ('Host', 'Cell', 'Provider', 'Slots Used', 'Slots Total',
                'Load')
LONG_COLUMNS = ('PCI Address', 'Vendor', 'Product', 'Traits')
SHOW_COLUMNS = ('Provider', 'UUID', 'Host', 'Cell', 'PCI Address',
                'Devnode', 'Vendor', 'Product', 'Traits', 'Slots Used',
                'Slots Total', 'Load', 'Instances')


def _values(rp):
    """{column: value} of every column a render node can show."""
    return {
        'Host': rp.host,
        'Cell': rp.cell,
        'Provider': rp.name,
        'UUID': rp.uuid,
        'Slots Used': rp.used,
        'Slots Total': rp.capacity,
        'Load': columns.LoadColumn(rp.load_percent),
        'PCI Address': rp.pci_address,
        'Devnode': rp.devnode,
        'Vendor': rp.vendor_id,
        'Product': rp.product_id,
        'Traits': format_columns.ListColumn(rp.traits),
    }


def list_row(rp, long=False):
    values = _values(rp)
    return tuple(values[name] for name in list_columns(long))


def list_columns(long=False):
    return LIST_COLUMNS + (LONG_COLUMNS if long else ())


def show_row(rp, holders):
    """The row of ``render show``; holders: [{'uuid', 'name', 'slots'}]."""
    values = _values(rp)
    values['Instances'] = columns.InstancesColumn(holders)
    return tuple(values[name] for name in SHOW_COLUMNS)


def holders(consumers, names):
    """Slot holders sorted by name, from {uuid: slots} and {uuid: name}."""
    return sorted(({'uuid': uuid, 'name': names.get(uuid), 'slots': slots}
                   for uuid, slots in consumers.items()),
                  key=lambda item: (item['name'] is None,
                                    item['name'] or '', item['uuid']))


class ListRenderNode(command.Lister):
    """List render nodes: host, cell, slots used and total, load"""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument(
            '--host',
            metavar='<host>',
            help='Only the render nodes of this compute node (its '
                 'provider name, as "openstack hypervisor list" shows it)')
        parser.add_argument(
            '--long',
            action='store_true',
            default=False,
            help='Also show PCI address, GPU vendor and product ids and '
                 'the render node\'s traits')
        return parser

    def take_action(self, parsed_args):
        client = self.app.client_manager.gpu_numa
        fleet = client.fleet(host=parsed_args.host, details=parsed_args.long)
        return (list_columns(parsed_args.long),
                [list_row(rp, parsed_args.long) for rp in fleet.render])


class ShowRenderNode(command.ShowOne):
    """Show a render node and the instances holding its slots"""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument(
            'provider',
            metavar='<provider>',
            help='Render node provider (name or UUID)')
        return parser

    def take_action(self, parsed_args):
        client = self.app.client_manager.gpu_numa
        rp = client.render_provider(parsed_args.provider)
        consumers = client.slot_consumers(rp.uuid)
        names = client.server_names(sorted(consumers))
        return SHOW_COLUMNS, show_row(rp, holders(consumers, names))
