"""``nova-gpu-numa check``: is this deployment set up for the plugin?

Upgrade-check style, like ``nova-status upgrade check``: each check gives
Success, Warning or Failure with details, and the exit code is the worst
of them (0, 1 or 2). Run it on a controller with nova.conf: it reads the
scheduler options there, the flavors from the API database, the compute
nodes' render slots from Placement and the render nodes each nova-compute
publishes from the cell databases (``cmd.nova_db``). As in nova-status, an
unreachable Placement or database fails only the checks that need it, with
the reason; the configuration checks still run.
"""

import dataclasses
import textwrap
import types
import typing as ty
import urllib.parse

from oslo_log import log as logging
from oslo_upgradecheck import upgradecheck
from oslo_utils import strutils

from nova_gpu_numa_sched.cmd import nova_db
from nova_gpu_numa_sched.cmd import output
from nova_gpu_numa_sched.cmd import placement as placement_cmd
from nova_gpu_numa_sched import fleet_view
from nova_gpu_numa_sched import names
from nova_gpu_numa_sched import nova_compat
from nova_gpu_numa_sched.scheduler import request

LOG = logging.getLogger(__name__)

Code = upgradecheck.Code
Result = upgradecheck.Result

FORMATS = (output.FORMAT_TABLE, output.FORMAT_JSON)

PLUGIN_FILTERS = 'nova_gpu_numa_sched.filters'
TOPOLOGY_FILTER = 'GpuNumaTopologyFilter'
AFFINITY_FILTER = 'GpuNumaAffinityFilter'
NOVA_NUMA_FILTER = 'NUMATopologyFilter'
WEIGHER = 'nova_gpu_numa_sched.weights.GpuLoadWeigher'
COMPUTE_DRIVER = 'gpu_numa.GpuNumaLibvirtDriver'
_SHOWN = 5


def add_parser(subparsers):
    return subparsers.add_parser(
        'check', help='check Nova\'s configuration, flavors and Placement '
                      'for the plugin (exit 0, 1 or 2)')


def _listed(items):
    items = sorted(items)
    shown = ', '.join(items[:_SHOWN])
    return shown + (' and %d more' % (len(items) - _SHOWN)
                    if len(items) > _SHOWN else '')


def check_filters(conf):
    """The plugin's filter is available and enabled, in a working order."""
    group = conf.filter_scheduler
    available = list(group.available_filters)
    enabled = list(group.enabled_filters)

    def is_available(name):
        # The package path, or the module path inside it.
        return any(path.startswith(PLUGIN_FILTERS + '.') and
                   path.endswith('.' + name) for path in available)

    topology = TOPOLOGY_FILTER in enabled
    affinity = AFFINITY_FILTER in enabled
    numa = NOVA_NUMA_FILTER in enabled
    if not topology and not affinity:
        return Result(Code.FAILURE, (
            '[filter_scheduler] enabled_filters has neither %s (instead of '
            '%s) nor %s (after %s): nothing keeps a guest on its render '
            'node\'s cell.' % (TOPOLOGY_FILTER, NOVA_NUMA_FILTER,
                               AFFINITY_FILTER, NOVA_NUMA_FILTER)))
    for name in [n for n in (TOPOLOGY_FILTER, AFFINITY_FILTER)
                 if n in enabled and not is_available(n)]:
        return Result(Code.FAILURE, (
            '%s is in [filter_scheduler] enabled_filters but not in '
            'available_filters: add "available_filters = %s.%s" (keep '
            'nova.scheduler.filters.all_filters).' % (
                name, PLUGIN_FILTERS, name)))
    if topology and (affinity or numa):
        twice = [n for n in (NOVA_NUMA_FILTER, AFFINITY_FILTER)
                 if n in enabled]
        return Result(Code.WARNING, (
            '%s replaces %s and %s, but enabled_filters also has %s: each '
            'guest is fitted twice. Remove %s.' % (
                TOPOLOGY_FILTER, NOVA_NUMA_FILTER, AFFINITY_FILTER,
                ' and '.join(twice), ' and '.join(twice))))
    if affinity and not numa:
        return Result(Code.FAILURE, (
            '%s needs %s before it in enabled_filters (or use %s alone).' % (
                AFFINITY_FILTER, NOVA_NUMA_FILTER, TOPOLOGY_FILTER)))
    if affinity and enabled.index(AFFINITY_FILTER) < enabled.index(
            NOVA_NUMA_FILTER):
        return Result(Code.FAILURE, (
            '%s comes before %s in enabled_filters; it must come after.' % (
                AFFINITY_FILTER, NOVA_NUMA_FILTER)))
    used = TOPOLOGY_FILTER if topology else '%s after %s' % (
        AFFINITY_FILTER, NOVA_NUMA_FILTER)
    return Result(Code.SUCCESS, '%s is enabled.' % used)


def check_weigher(conf):
    if WEIGHER in conf.filter_scheduler.weight_classes:
        return Result(Code.SUCCESS, 'GpuLoadWeigher is in weight_classes '
                      '(multiplier %s).' % conf.gpu_numa.weight_multiplier)
    return Result(Code.WARNING, (
        '[filter_scheduler] weight_classes lacks %s: guests are co-located '
        'but not spread over the least loaded GPUs. Add "weight_classes = '
        '%s" (keep nova.scheduler.weights.all_weighers).' % (
            WEIGHER, WEIGHER)))


def check_compute_driver(conf, fleet):
    """This host's compute_driver, and which compute nodes report GPUs.

    :param fleet: a Source of the Placement fleet
    """
    local = conf.compute_driver
    if local and local != COMPUTE_DRIVER:
        return Result(Code.FAILURE, (
            'this nova.conf sets compute_driver = %s; compute hosts with '
            'GPUs need compute_driver = %s.' % (local, COMPUTE_DRIVER)))
    if fleet.error:
        return Result(Code.FAILURE, (
            'cannot tell which compute nodes report render nodes: %s' %
            fleet.error))
    fleet = fleet.value
    without = fleet.hosts_without_slots()
    if not fleet.hosts:
        return Result(Code.FAILURE, (
            'no compute node reports %s to Placement: set compute_driver = '
            '%s on the GPU hosts (and check "nova-gpu-numa discover" '
            'there).' % (names.RESOURCE_CLASS, COMPUTE_DRIVER)))
    details = '%d compute node(s) report render slots.' % len(fleet.hosts)
    if without:
        details += (' %d report none (no GPU, or compute_driver is not %s '
                    'there): %s.' % (len(without), COMPUTE_DRIVER,
                                     _listed(without)))
    if fleet.unread:
        details += (' %d have neither free RAM nor a free slot, so '
                    'Placement\'s summaries leave them out: %s.' % (
                        len(fleet.unread), _listed(fleet.unread)))
    return Result(Code.SUCCESS, details)


def _flavor_problems(extra_specs):
    problems = []
    numa_nodes = extra_specs.get('hw:numa_nodes')
    # Nova gives a guest a NUMA topology for any of these.
    has_numa = bool(numa_nodes or extra_specs.get('hw:mem_page_size') or
                    extra_specs.get('hw:cpu_policy') in ('dedicated',
                                                         'mixed'))
    if not has_numa:
        problems.append('no NUMA topology (set hw:numa_nodes=1)')
    elif numa_nodes is not None and not (
            str(numa_nodes).isdigit() and int(numa_nodes) >= 1):
        problems.append('hw:numa_nodes=%s is not a whole number >= 1' % (
            numa_nodes))
    policy = extra_specs.get(names.AFFINITY_POLICY_KEY)
    if policy is not None and policy not in names.AFFINITY_POLICIES:
        problems.append('%s=%s is not one of %s' % (
            names.AFFINITY_POLICY_KEY, policy,
            ', '.join(names.AFFINITY_POLICIES)))
    return problems


def check_flavors(flavors):
    """Flavors that ask for a render slot can be placed.

    :param flavors: a Source of every flavor
    """
    if flavors.error:
        return Result(Code.FAILURE, 'cannot read the flavors: %s' %
                      flavors.error)
    render = [f for f in flavors.value if request.render_slots_requested(
        types.SimpleNamespace(flavor=f))]
    bad = []
    for flavor in render:
        problems = _flavor_problems(flavor.extra_specs or {})
        if problems:
            bad.append('%s: %s' % (flavor.name, '; '.join(problems)))
    if bad:
        return Result(Code.FAILURE, 'Flavors requesting %s that cannot be '
                      'placed: %s.' % (names.RESOURCE_CLASS, ' | '.join(bad)))
    if not render:
        return Result(Code.SUCCESS, 'No flavor requests %s yet.' %
                      names.RESOURCE_CLASS)
    return Result(Code.SUCCESS, '%d flavor(s) request %s, all with a NUMA '
                  'topology and a valid policy.' % (len(render),
                                                    names.RESOURCE_CLASS))


def _publish_problem(node):
    """Why a compute node's published render nodes are unusable, or None."""
    try:
        render = fleet_view.render_nodes(
            node.hypervisor_hostname, fleet_view.stats_value(node.stats))
    except ValueError:
        return 'unreadable'
    if not render:
        return 'none published'
    # A vanished GPU whose slots are still held has no cell and no slot.
    missing = [rn.label for rn in render if rn.cell is None and rn.slots]
    if missing:
        return 'no cell for %s' % ', '.join(missing)
    return None


def check_published_render_nodes(fleet, compute_nodes):
    """Every compute node with render slots publishes its render nodes.

    The scheduler and the claim take a render node's cell from the
    compute node's stats (``names.RENDER_NODES_STAT``); a host whose
    render nodes are missing there, or lack a cell, takes no render guest.

    :param fleet: a Source of the Placement fleet
    :param compute_nodes: a Source of the ComputeNodes of every cell
    """
    if fleet.error:
        return Result(Code.FAILURE, 'cannot tell which compute nodes have '
                      'render slots: %s' % fleet.error)
    if compute_nodes.error:
        return Result(Code.FAILURE, 'cannot read the compute nodes: %s' %
                      compute_nodes.error)
    by_uuid = {node.uuid: node for node in compute_nodes.value}
    problems = []
    for slots in fleet.value.hosts:
        node = by_uuid.get(slots.uuid)
        why = ('no compute node record' if node is None
               else _publish_problem(node))
        if why:
            problems.append('%s (%s)' % (slots.host, why))
    if problems:
        return Result(Code.FAILURE, (
            'compute node(s) with %s in Placement whose render nodes the '
            'scheduler cannot see (%s in the compute node\'s stats): %s. '
            'No render guest lands there; restart nova-compute there with '
            'compute_driver = %s.' % (names.RESOURCE_CLASS,
                                      names.RENDER_NODES_STAT,
                                      _listed(problems), COMPUTE_DRIVER)))
    return Result(Code.SUCCESS, 'All %d compute node(s) with render slots '
                  'publish the NUMA cell of every render node.' %
                  len(fleet.value.hosts))


def check_legacy_providers(fleet):
    """No render node child provider of an earlier release is left.

    nova-compute of this release reshapes them into its compute node's
    provider when it starts; until then that host has no render slot the
    scheduler can use.

    :param fleet: a Source of the Placement fleet
    """
    if fleet.error:
        return Result(Code.FAILURE, 'cannot read the resource providers: '
                      '%s' % fleet.error)
    legacy = fleet.value.legacy
    if legacy:
        count = sum(len(children) for children in legacy.values())
        return Result(Code.WARNING, (
            '%d render node provider(s) of an earlier release remain in '
            'Placement (named <compute node>%s<render node>); restart '
            'nova-compute of this release on %s to move their slots onto '
            'the compute node\'s provider.' % (
                count, names.RENDER_PROVIDER_INFIX, _listed(legacy))))
    return Result(Code.SUCCESS, 'No render node provider of an earlier '
                  'release remains.')


def socket_flavors(flavors):
    """Names of the render flavors with ``gpu_numa:affinity_policy=socket``."""
    return sorted(
        flavor.name for flavor in flavors
        if request.render_slots_requested(types.SimpleNamespace(
            flavor=flavor)) and (flavor.extra_specs or {}).get(
                names.AFFINITY_POLICY_KEY) == names.POLICY_SOCKET)


def _without_sockets(node):
    """Whether a compute node has a NUMA cell of unknown socket."""
    # Imported here, as Nova is everywhere in this command: they pull in
    # Nova's objects.
    from nova import objects

    from nova_gpu_numa_sched import cell_limits
    if not node.numa_topology:
        return True
    topology = objects.NUMATopology.obj_from_db_obj(node.numa_topology)
    return any(cell_limits.cell_socket(cell) is None
               for cell in topology.cells)


def check_socket_info(flavors, fleet, compute_nodes):
    """Hosts where ``socket`` flavors lose their sibling cells.

    :param flavors: a Source of every flavor
    :param fleet: a Source of the Placement fleet
    :param compute_nodes: a Source of the ComputeNodes of every cell
    """
    if flavors.error:
        return Result(Code.FAILURE, 'cannot read the flavors: %s' %
                      flavors.error)
    wanting = socket_flavors(flavors.value)
    if not wanting:
        return Result(Code.SUCCESS, 'No render flavor uses %s=%s.' % (
            names.AFFINITY_POLICY_KEY, names.POLICY_SOCKET))
    if fleet.error:
        return Result(Code.FAILURE, 'cannot tell which compute nodes '
                      'report render nodes: %s' % fleet.error)
    if compute_nodes.error:
        return Result(Code.FAILURE, 'cannot read the compute nodes: %s' %
                      compute_nodes.error)
    with_render = {slots.uuid for slots in fleet.value.hosts}
    nodes = [node for node in compute_nodes.value
             if node.uuid in with_render]
    unknown = [node.hypervisor_hostname for node in nodes
               if _without_sockets(node)]
    if unknown:
        return Result(Code.WARNING, (
            'Flavor(s) %s use %s=%s, but libvirt reports no CPU socket for '
            'some NUMA cells of compute node(s) %s (no socket_id on their '
            'CPUs in "virsh capabilities", or several sockets in one '
            'cell): there such a cell is its own socket only, as with '
            '%s.' % (_listed(wanting), names.AFFINITY_POLICY_KEY,
                     names.POLICY_SOCKET, _listed(unknown),
                     names.POLICY_REQUIRED)))
    return Result(Code.SUCCESS, (
        '%d flavor(s) use %s=%s; all %d compute node(s) with render nodes '
        'report the socket of every NUMA cell.' % (
            len(wanting), names.AFFINITY_POLICY_KEY, names.POLICY_SOCKET,
            len(nodes))))


def check_nova_version():
    problems = ['%s: %s' % (expected.qualname, why)
                for expected in nova_compat.COMPUTE + nova_compat.SCHEDULER
                for why in [nova_compat.problem(expected)] if why]
    version = nova_compat.nova_version()
    if problems:
        return Result(Code.FAILURE, 'Nova %s lacks what the plugin wraps '
                      '(supported: %s): %s' % (
                          version, nova_compat.SUPPORTED_NOVA,
                          '; '.join(problems)))
    if not nova_compat.is_supported_version(version):
        return Result(Code.WARNING, 'Nova %s is outside %s.' % (
            version, nova_compat.SUPPORTED_NOVA))
    return Result(Code.SUCCESS, 'Nova %s (supported: %s).' % (
        version, nova_compat.SUPPORTED_NOVA))


def _all_flavors():
    from nova import context as nova_context
    from nova import objects
    return objects.FlavorList.get_all(nova_context.get_admin_context())


@dataclasses.dataclass
class Source:
    """What one service gave the checks, or why it could not."""

    value: ty.Any = None
    #: One line naming the service, the option to look at and the cause.
    error: ty.Optional[str] = None


def _secrets(conf):
    """Passwords in nova.conf that an error message might quote."""
    found = set()
    for group in ('database', 'api_database'):
        try:
            found.add(urllib.parse.urlsplit(conf[group].connection).password)
        except Exception:
            pass  # not set, or not a URL: nothing to hide
    try:
        found.add(conf.placement.password)
    except Exception:
        pass  # the auth plugin in use has no password option
    return {secret for secret in found if secret}


def _one_line(error, secrets):
    text = ' '.join(str(error).split()) or type(error).__name__
    for secret in secrets:
        text = text.replace(secret, '***')
    return strutils.mask_password(text)


def read_source(read, where, secrets=()):
    """Source of read(); any failure becomes the reason, never a crash.

    :param where: what was read and the nova.conf options that say how,
        for a message an operator can act on
    """
    try:
        return Source(value=read())
    except placement_cmd.PlacementError as e:
        # Already names [placement] and the request.
        return Source(error=_one_line(e, secrets))
    except Exception as e:
        LOG.debug('Reading %s failed', where, exc_info=True)
        return Source(error='cannot read %s: %s: %s' % (
            where, type(e).__name__, _one_line(e, secrets)))


def run_checks(conf, placement_factory=None, flavors=None,
               compute_nodes=nova_db.compute_nodes):
    """[(name, Result)] in a fixed order.

    :param placement_factory: makes the Placement reader; its failure to
        connect or read fails the checks that need Placement only
    :param flavors: a list of flavors, instead of the API database's
    :param compute_nodes: a callable returning the ComputeNodes of every
        cell (one query per cell)
    """
    secrets = _secrets(conf)
    placement_factory = placement_factory or placement_cmd.Placement
    fleet = read_source(lambda: placement_factory().fleet(),
                        'Placement ([placement] in nova.conf)', secrets)
    flavor_source = read_source(
        _all_flavors if flavors is None else lambda: flavors,
        'Nova\'s API database ([api_database] connection in nova.conf)',
        secrets)
    nodes_source = read_source(
        compute_nodes, 'Nova\'s cell databases ([database] connection in '
        'nova.conf)', secrets)
    return [
        ('Nova version', check_nova_version()),
        ('Scheduler filter', check_filters(conf)),
        ('Load weigher', check_weigher(conf)),
        ('Compute driver', check_compute_driver(conf, fleet)),
        ('Render flavors', check_flavors(flavor_source)),
        ('Published render nodes', check_published_render_nodes(
            fleet, nodes_source)),
        ('Render providers gone', check_legacy_providers(fleet)),
        ('CPU sockets', check_socket_info(flavor_source, fleet,
                                          nodes_source)),
    ]


def exit_code(results):
    return max([int(result.code) for _, result in results] or [0])


def render_table(results):
    # One row per check; details wrapped under it, as nova-status does,
    # so the table stays within 80 columns.
    lines = ['%-22s %s' % ('CHECK', 'RESULT')]
    for name, result in results:
        lines.append('%-22s %s' % (name, upgradecheck.UPGRADE_CHECK_MSG_MAP[
            result.code]))
        for line in textwrap.wrap(result.details or '', 74):
            lines.append('    ' + line)
    return '\n'.join(lines) + '\n'


def render_json(results):
    return output.to_json({
        'exit_code': exit_code(results),
        'checks': [{'check': name,
                    'result': upgradecheck.UPGRADE_CHECK_MSG_MAP[
                        result.code],
                    'code': int(result.code),
                    'details': result.details}
                   for name, result in results]})


def run(args, conf, placement_factory=placement_cmd.Placement):
    results = run_checks(conf, placement_factory)
    text = (render_json(results) if args.format == output.FORMAT_JSON
            else render_table(results))
    return exit_code(results), text
