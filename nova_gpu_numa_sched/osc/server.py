"""``openstack server gpu show``: a server's render slots and guest cells.

What Nova's and Placement's REST APIs show of a server's GPU: the render
slots its allocation holds on its compute node (Placement), the host NUMA
cells of its guest cells (Nova's server topology API, microversion 2.78,
admin for the host cells) and the affinity policy from the flavor extra
spec embedded in the server (2.47). Since host-level slots, the render
node (and its cell) is chosen by nova-compute at claim time and recorded in
the instance's ``resources``, which no REST API shows: ``nova-gpu-numa
status`` on a controller lists it. Under ``required`` (the default) the
claim fails rather than put the guest on another cell than its render
node, so the host cells shown are the render node's.
"""

from osc_lib.command import command

from nova_gpu_numa_sched import names
from nova_gpu_numa_sched.osc import columns

COLUMNS = ('ID', 'Name', 'Host', 'Render Slots', 'Host Cells',
           'Affinity Policy')

_HOST_ATTR = 'OS-EXT-SRV-ATTR:host'


def host_cells(topology):
    """Sorted host cells of the guest's cells; None when not shown.

    Nova shows ``host_node`` to admins only (policy
    ``compute:server:topology:host:index``); a guest without a NUMA
    topology has no nodes.
    """
    nodes = (topology or {}).get('nodes') or []
    cells = [node.get('host_node') for node in nodes]
    if not cells or None in cells:
        return None
    return sorted(set(cells))


def affinity_policy(server, slots):
    """The flavor's policy, its default for a render guest, else None."""
    specs = (server.get('flavor') or {}).get('extra_specs') or {}
    if names.AFFINITY_POLICY_KEY in specs:
        return specs[names.AFFINITY_POLICY_KEY]
    return names.DEFAULT_AFFINITY_POLICY if slots else None


def show_row(server, topology, allocation):
    """The row of ``server gpu show``.

    :param allocation: {provider uuid: render slots} of the server
    """
    slots = sum(allocation.values()) or None
    return (
        server['id'],
        server.get('name'),
        server.get(_HOST_ATTR),
        slots,
        columns.CellsColumn(host_cells(topology)),
        affinity_policy(server, slots),
    )


class ShowServerGpu(command.ShowOne):
    """Show a server's render slots, host cells and affinity policy"""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.description = (
            'A server\'s render slots (Placement), the host NUMA cells of '
            'its guest (server topology, admin) and its affinity policy. '
            'The render node itself is chosen by nova-compute and not '
            'shown by Nova\'s API: see "nova-gpu-numa status --host".')
        parser.add_argument(
            'server',
            metavar='<server>',
            help='Server (name or ID)')
        parser.add_argument(
            '--all-projects',
            action='store_true',
            default=False,
            help='Find the server by name in every project (admin only)')
        return parser

    def take_action(self, parsed_args):
        client = self.app.client_manager.gpu_numa
        server = client.server(parsed_args.server,
                               all_projects=parsed_args.all_projects)
        allocation = client.render_allocation(server['id'])
        topology = client.topology(server['id'])
        return COLUMNS, show_row(server, topology, allocation)
