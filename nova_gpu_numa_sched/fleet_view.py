"""The fleet's render slots: per host from Placement, per render node from
the compute nodes' stats.

Since host-level slots, Placement knows a compute node's render slots only
as one ``CUSTOM_GPU_RENDER_SLOT`` inventory on its own (root) provider;
which render node, and so which NUMA cell, each slot is on is nova-compute's
business, published in the compute node record's ``stats`` under
``names.RENDER_NODES_STAT``. Nova's REST API shows neither the stats nor an
instance's ``resources``, so:

- ``nova-gpu-numa status`` and ``check`` (nova.conf, Nova's databases)
  read the render nodes with :func:`render_nodes` from the compute nodes;
- the ``openstack gpu`` commands (REST only) read the per-host slots with
  :func:`read_fleet` and :func:`read_host`.

Nothing here imports Nova. The Placement readers take a ``get(path)`` that
returns the decoded JSON of a Placement GET at :data:`MICROVERSION`.
Placement has no bulk read of inventories and usages; the fleet is read in
a fixed number of requests, never one per host:

1. ``GET /resource_providers``: names and trees of every provider (render
   node child providers of earlier releases included, named
   ``<compute node>_render_<key>``).
2. ``GET /allocation_candidates?resources=CUSTOM_GPU_RENDER_SLOT:1``: its
   ``provider_summaries`` give capacity, usage and traits of every compute
   node with a free slot (all inventories since microversion 1.27).
3. Only when a compute node is missing from them: the same with
   ``MEMORY_MB:1``, whose summaries cover every compute node with a free MB
   of RAM, so those without a free slot too. A compute node with neither
   free RAM nor a free slot stays unread (``Fleet.unread``).

With ``host``, one more request finds the compute node and the others are
narrowed to its tree (``in_tree``).
"""

import dataclasses
import typing as ty
import urllib.parse

from oslo_utils import uuidutils

from nova_gpu_numa_sched import names
from nova_gpu_numa_sched import render_usage

#: 1.17: traits in provider summaries; 1.27: every inventory in them;
#: 1.29: root_provider_uuid; 1.31: in_tree on allocation candidates.
MICROVERSION = '1.31'

#: The resource class of the second summaries query (step 3): every
#: compute node's root provider has RAM.
_ROOT_RESOURCE = 'MEMORY_MB'

_GPU_TRAIT_PREFIXES = (names.VENDOR_TRAIT_PREFIX, names.PRODUCT_TRAIT_PREFIX)


class NotFound(Exception):
    """What was asked for is not in Placement; the message says what."""


def _looks_like_pci(key):
    parts = key.split(':')
    return len(parts) == 3 and '.' in parts[2]


# Per render node: the compute node's stats --------------------------------


@dataclasses.dataclass
class RenderNode:
    """One render node as its nova-compute last published it."""

    host: str
    key: str
    cell: ty.Optional[int] = None
    #: Usable slots; 0 for a vanished GPU whose slots are still held.
    slots: int = 0
    #: Slots in use (instances' ``resources``, as the tracker counts them).
    used: int = 0
    #: Lower bound of the measured utilisation bucket, percent.
    load_percent: ty.Optional[int] = None
    devnode: ty.Optional[str] = None

    @property
    def pci_address(self):
        return self.key if _looks_like_pci(self.key) else None

    @property
    def label(self):
        """How an operator knows the render node: PCI address or devnode."""
        return self.pci_address or self.devnode or self.key


def render_nodes(host, value):
    """[RenderNode] of one compute node's ``RENDER_NODES_STAT`` value.

    Sorted by cell (unknown last), then key. None for no value.

    :raises ValueError: the value is not what nova-compute publishes
    """
    if not value:
        return None
    found = [RenderNode(host=host, key=usage.key, cell=usage.cell,
                        slots=usage.slots, used=usage.used,
                        load_percent=usage.load, devnode=usage.devnode)
             for usage in render_usage.decode(value).values()]
    found.sort(key=lambda node: (node.cell is None, node.cell or 0,
                                 node.key))
    return found


def stats_value(stats):
    """The published render nodes among a compute node's ``stats``."""
    return (stats or {}).get(names.RENDER_NODES_STAT)


# Per host: Placement ------------------------------------------------------


@dataclasses.dataclass
class HostSlots:
    """A compute node's render slots as Placement counts them."""

    uuid: str
    host: str
    #: (total - reserved) * allocation_ratio, as Placement counts it.
    capacity: ty.Optional[int] = None
    used: ty.Optional[int] = None
    #: Slots held on vanished render nodes; only read by ``read_host``.
    reserved: ty.Optional[int] = None
    #: The GPUs' CUSTOM_GPU_VENDOR_/CUSTOM_GPU_PRODUCT_ traits, sorted.
    traits: ty.List[str] = dataclasses.field(default_factory=list)

    def _ids(self, prefix):
        return sorted(trait[len(prefix):] for trait in self.traits
                      if trait.startswith(prefix))

    @property
    def vendor_ids(self):
        return self._ids(names.VENDOR_TRAIT_PREFIX)

    @property
    def product_ids(self):
        return self._ids(names.PRODUCT_TRAIT_PREFIX)


@dataclasses.dataclass
class Fleet:
    """Compute node providers and the render slots Placement counts."""

    #: {root provider uuid: name} of every root provider.
    roots: dict
    #: HostSlots of every compute node with render slots, by name.
    hosts: ty.List[HostSlots]
    #: {compute node name: [render node child provider name]}: providers
    #: of an earlier release, gone once its nova-compute restarts.
    legacy: dict = dataclasses.field(default_factory=dict)
    #: Names of compute nodes absent from both summaries (no free RAM,
    #: no free slot): whether they have render slots is not known.
    unread: ty.List[str] = dataclasses.field(default_factory=list)

    def hosts_without_slots(self):
        with_slots = {slots.host for slots in self.hosts}
        unread = set(self.unread)
        return sorted(name for name in self.roots.values()
                      if name not in with_slots and name not in unread)


def _url(path, params=None):
    params = {key: value for key, value in (params or {}).items()
              if value is not None}
    return path + ('?' + urllib.parse.urlencode(params) if params else '')


def _providers(get, query=None, tree=None):
    params = dict(query or {}, in_tree=tree)
    return get(_url('/resource_providers', params))['resource_providers']


def _summaries(get, resource_class, tree):
    return get(_url('/allocation_candidates', {
        'resources': '%s:1' % resource_class, 'in_tree': tree}))[
        'provider_summaries']


def root_of_host(get, host):
    rps = _providers(get, {'name': host})
    if not rps:
        raise NotFound(
            'Placement has no compute node provider named %r (see '
            '"openstack hypervisor list")' % host)
    return rps[0]['uuid']


def legacy_providers(providers):
    """{root name: [child name]} of render node providers left over."""
    roots = {rp['uuid']: rp['name'] for rp in providers
             if not rp.get('parent_provider_uuid')}
    found = {}
    for rp in providers:
        root_name = roots.get(rp.get('root_provider_uuid'))
        if root_name is None or rp['uuid'] == rp['root_provider_uuid']:
            continue
        if rp['name'].startswith(names.render_provider_name(root_name, '')):
            found.setdefault(root_name, []).append(rp['name'])
    return {root: sorted(children) for root, children in found.items()}


def _host_slots(uuid, name, summary):
    """HostSlots from a provider summary, or None without render slots."""
    slots = summary.get('resources', {}).get(names.RESOURCE_CLASS)
    if slots is None:
        return None
    return HostSlots(
        uuid=uuid, host=name, capacity=int(slots['capacity']),
        used=int(slots['used']),
        traits=sorted(trait for trait in summary.get('traits', ())
                      if trait.startswith(_GPU_TRAIT_PREFIXES)))


def read_fleet(get, host=None):
    """The render slots of every compute node, or of one.

    :param get: ``get(path)`` -> decoded JSON of a Placement GET.
    """
    tree = root_of_host(get, host) if host else None
    providers = _providers(get, tree=tree)
    roots = {rp['uuid']: rp['name'] for rp in providers
             if not rp.get('parent_provider_uuid')}
    hosts, seen = {}, set()
    for resource_class in (names.RESOURCE_CLASS, _ROOT_RESOURCE):
        if seen >= set(roots):
            break
        for uuid, summary in _summaries(get, resource_class, tree).items():
            if uuid not in roots or uuid in seen:
                continue
            seen.add(uuid)
            slots = _host_slots(uuid, roots[uuid], summary)
            if slots is not None:
                hosts[uuid] = slots
    return Fleet(roots=roots,
                 hosts=sorted(hosts.values(), key=lambda h: h.host),
                 legacy=legacy_providers(providers),
                 unread=sorted(roots[uuid] for uuid in set(roots) - seen))


def read_host(get, name_or_uuid):
    """One compute node's render slots, exact whether full or not.

    Per-provider reads: the provider, its inventory, usage and traits.
    """
    filters = ['name']
    if uuidutils.is_uuid_like(name_or_uuid):
        filters.insert(0, 'uuid')
    rps = []
    for name in filters:
        rps = rps or _providers(get, {name: name_or_uuid})
    if not rps:
        message = 'Placement has no resource provider %r' % name_or_uuid
        if names.RENDER_PROVIDER_INFIX in name_or_uuid:
            message += (
                '; render nodes are no longer resource providers: give '
                'the compute node (%s), and see "nova-gpu-numa status '
                '--host" for its render nodes' % name_or_uuid.split(
                    names.RENDER_PROVIDER_INFIX)[0])
        raise NotFound(message)
    rp = rps[0]
    base = '/resource_providers/%s' % rp['uuid']
    inventory = get(base + '/inventories')['inventories'].get(
        names.RESOURCE_CLASS)
    if rp.get('parent_provider_uuid') or inventory is None:
        raise NotFound('resource provider %s (%s) is not a compute node with '
                       'render slots' % (rp['name'], rp['uuid']))
    traits = get(base + '/traits')['traits']
    return HostSlots(
        uuid=rp['uuid'], host=rp['name'],
        capacity=int((inventory['total'] - inventory['reserved']) *
                     inventory['allocation_ratio']),
        used=get(base + '/usages')['usages'].get(names.RESOURCE_CLASS, 0),
        reserved=inventory['reserved'],
        traits=sorted(t for t in traits if t.startswith(_GPU_TRAIT_PREFIXES)))


def slot_consumers(get, provider_uuid):
    """{consumer uuid: slots held} on one compute node provider."""
    allocations = get('/resource_providers/%s/allocations' % provider_uuid)[
        'allocations']
    return {consumer: held['resources'][names.RESOURCE_CLASS]
            for consumer, held in allocations.items()
            if held['resources'].get(names.RESOURCE_CLASS)}


def render_allocation(get, consumer_uuid):
    """{provider uuid: slots} of the render slots a consumer holds."""
    allocations = get('/allocations/%s' % consumer_uuid)['allocations']
    return {rp_uuid: held['resources'][names.RESOURCE_CLASS]
            for rp_uuid, held in allocations.items()
            if held['resources'].get(names.RESOURCE_CLASS)}
