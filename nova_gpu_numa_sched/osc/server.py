"""``openstack server gpu show``: where a server's GPU and guest cells are.

The render node comes from the server's allocation in Placement, its cell
from the provider's trait; the guest's host cells from Nova's server
topology API (microversion 2.78, admin for the host cells); the affinity
policy from the flavor extra spec embedded in the server (2.47).
"""

from osc_lib.command import command

from nova_gpu_numa_sched import names
from nova_gpu_numa_sched.osc import columns

COLUMNS = ('ID', 'Name', 'Host', 'Render Node', 'Provider',
           'Render Node Cell', 'Host Cells', 'Affinity Policy',
           'Co-located')

_HOST_ATTR = 'OS-EXT-SRV-ATTR:host'


def _joined(values):
    """One value as it is; several (a guest on two render nodes) joined."""
    values = [value for value in values if value is not None]
    if len(values) == 1:
        return values[0]
    return ', '.join(str(value) for value in values) or None


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


def affinity_policy(server, renders):
    """The flavor's policy, its default for a render guest, else None."""
    specs = (server.get('flavor') or {}).get('extra_specs') or {}
    if names.AFFINITY_POLICY_KEY in specs:
        return specs[names.AFFINITY_POLICY_KEY]
    return names.DEFAULT_AFFINITY_POLICY if renders else None


def co_located(render_cells, guest_cells):
    """Whether every render node is on one of the guest's host cells.

    None when unknown: no render node, a provider without cell trait, or
    host cells not shown.
    """
    if not render_cells or guest_cells is None or None in render_cells:
        return None
    return set(render_cells) <= set(guest_cells)


def show_row(server, topology, renders):
    """The row of ``server gpu show``; renders: RenderProvider list."""
    cells = host_cells(topology)
    render_cells = [rp.cell for rp in renders]
    return (
        server['id'],
        server.get('name'),
        server.get(_HOST_ATTR),
        _joined([rp.label for rp in renders]),
        _joined([rp.name for rp in renders]),
        _joined(render_cells),
        columns.CellsColumn(cells),
        affinity_policy(server, renders),
        co_located(render_cells, cells),
    )


class ShowServerGpu(command.ShowOne):
    """Show a server's render node, its cell and the guest's host cells"""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
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
        renders = [client.render_provider(uuid) for uuid in
                   sorted(client.render_allocation(server['id']))]
        topology = client.topology(server['id'])
        return COLUMNS, show_row(server, topology, renders)
