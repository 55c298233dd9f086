"""Check at service start that Nova has what the plugin wraps.

The plugin wraps a few Nova internals (the resource tracker's claims, the
scheduler report client's candidate query and claim) and overrides a few
``LibvirtDriver`` methods. A Nova release that renames one of them, or a
parameter the wrap reads, would otherwise mis-schedule silently: a wrap
that no longer fires leaves claims unpinned. So each service checks the
methods it relies on when the plugin loads, and refuses to start, naming
the method and the supported Nova releases, when one does not match.
"""

import dataclasses
import importlib
import inspect
import typing as ty

from oslo_log import log as logging
from packaging import specifiers
from packaging import version as pkg_version

LOG = logging.getLogger(__name__)

#: The Nova releases this plugin is written and tested against.
SUPPORTED_NOVA = 'nova>=34.0.0,<35'


class UnsupportedNova(RuntimeError):
    """Nova lacks a method or parameter the plugin relies on."""


@dataclasses.dataclass(frozen=True)
class Expected:
    """A Nova method the plugin wraps or overrides.

    :param owner: ``module:Class`` of the method, or ``module:`` for a
        module-level function.
    :param method: the method's name.
    :param leading: names of the first parameters after ``self``, in
        order (the plugin passes them by position).
    :param named: further parameters the plugin passes or reads by name.
    """

    owner: str
    method: str
    leading: ty.Tuple[str, ...] = ()
    named: ty.Tuple[str, ...] = ()

    @property
    def qualname(self):
        module, _, cls = self.owner.partition(':')
        return '.'.join(part for part in (module, cls, self.method) if part)


_TRACKER = 'nova.compute.resource_tracker:ResourceTracker'
_REPORT = 'nova.scheduler.client.report:SchedulerReportClient'
_LIBVIRT = 'nova.virt.libvirt.driver:LibvirtDriver'
_HARDWARE = 'nova.virt.hardware:'

#: What the compute driver and ``compute.claim_cell`` rely on.
COMPUTE = (
    Expected(_TRACKER, 'instance_claim',
             named=('instance', 'nodename', 'allocations', 'limits')),
    Expected(_TRACKER, '_move_claim',
             named=('instance', 'nodename', 'allocations', 'limits',
                    'new_flavor')),
    Expected(_LIBVIRT, '__init__', leading=('virtapi', 'read_only')),
    Expected(_LIBVIRT, 'init_host', leading=('host',)),
    Expected(_LIBVIRT, '_get_host_numa_topology'),
    Expected(_LIBVIRT, 'update_provider_tree',
             leading=('provider_tree', 'nodename', 'allocations')),
    Expected(_LIBVIRT, 'check_can_live_migrate_source',
             leading=('context', 'instance', 'dest_check_data',
                      'block_device_info')),
    Expected(_LIBVIRT, '_get_guest_config', leading=('instance',)),
    Expected(_LIBVIRT, '_get_guest_xml', leading=('context', 'instance')),
)

#: What ``pinned_fit`` wraps and calls, in nova-compute and nova-scheduler
#: (``scheduler.cell_fit`` calls them too). ``SCHEDULER`` includes them,
#: so that ``nova-gpu-numa check`` covers them.
NUMA_FIT = (
    Expected(_HARDWARE, 'numa_fit_instance_to_host',
             leading=('host_topology', 'instance_topology',
                      'provider_mapping'),
             named=('limits', 'pci_requests', 'pci_stats')),
    Expected(_HARDWARE, '_numa_cells_support_network_metadata',
             leading=('host_topology', 'chosen_host_cells',
                      'network_metadata')),
)

#: What the filter and ``scheduler.provider_view`` rely on.
SCHEDULER = (
    Expected(_REPORT, 'get_allocation_candidates',
             leading=('context', 'resources')),
    Expected(_REPORT, 'claim_resources',
             leading=('context', 'consumer_uuid', 'alloc_request')),
    Expected('nova.scheduler.filters:CandidateFilterMixin',
             'filter_candidates', leading=('host_state', 'filter_func')),
) + NUMA_FIT


def nova_version():
    """The installed Nova's version string, or None if unknown."""
    try:
        from nova import version
        return version.version_string()
    except Exception:  # pragma: no cover - any failure means unknown
        return None


def is_supported_version(version):
    """Whether ``version`` is within ``SUPPORTED_NOVA``."""
    spec = specifiers.SpecifierSet(SUPPORTED_NOVA[len('nova'):])
    try:
        return pkg_version.Version(version or '') in spec
    except pkg_version.InvalidVersion:
        return False


def problem(expected, owner_cls=None):
    """Why Nova's method does not match ``expected``, or None if it does.

    :param owner_cls: the class to inspect; imported from
        ``expected.owner`` when not given.
    """
    if owner_cls is None:
        module_name, _, cls_name = expected.owner.partition(':')
        try:
            owner_cls = importlib.import_module(module_name)
            if cls_name:
                owner_cls = getattr(owner_cls, cls_name)
        except (ImportError, AttributeError):
            return 'Nova has no %s' % expected.owner.replace(':', '.')
    method = getattr(owner_cls, expected.method, None)
    if not callable(method):
        return 'the method does not exist'
    try:
        # Follows __wrapped__, so an installed wrap shows Nova's signature.
        params = list(inspect.signature(method).parameters.values())
    except (TypeError, ValueError):
        return 'its signature cannot be read'
    if params and params[0].name == 'self':
        params = params[1:]
    positional = [p.name for p in params
                  if p.kind in (p.POSITIONAL_ONLY,
                                p.POSITIONAL_OR_KEYWORD)]
    if tuple(positional[:len(expected.leading)]) != expected.leading:
        return 'expected parameters (%s) first, found (%s)' % (
            ', '.join(expected.leading), ', '.join(positional))
    keyword = {p.name for p in params
               if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    missing = [name for name in expected.named if name not in keyword]
    if missing:
        return 'it has no parameter %s (found: %s)' % (
            ', '.join(repr(name) for name in missing),
            ', '.join(p.name for p in params))
    return None


def check(expectations, owners=None):
    """Raise UnsupportedNova if a method in ``expectations`` mismatches.

    :param owners: {``Expected.owner``: class} to inspect instead of
        importing Nova's (for tests).
    """
    owners = owners or {}
    problems = []
    for expected in expectations:
        why = problem(expected, owners.get(expected.owner))
        if why:
            problems.append('%s: %s' % (expected.qualname, why))
    version = nova_version()
    if problems:
        raise UnsupportedNova(
            'nova-gpu-numa-sched cannot wrap this Nova (%s); it supports '
            '%s. Refusing to start rather than mis-schedule: %s' % (
                version or 'unknown version', SUPPORTED_NOVA,
                '; '.join(problems)))
    if not is_supported_version(version):
        LOG.warning('Nova %s is outside the releases nova-gpu-numa-sched '
                    'supports (%s); the methods it wraps match, starting '
                    'anyway.', version or '(unknown version)',
                    SUPPORTED_NOVA)
