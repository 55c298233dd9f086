"""The render nodes of the fleet as Placement sees them, read in bulk.

Shared by ``nova-gpu-numa status``/``check`` (through Nova's report client)
and the ``openstack gpu ...`` commands (through osc-placement's client):
both hand in a ``get(path)`` that returns the decoded JSON of a Placement
GET at :data:`MICROVERSION`, so both show the same data from the same
requests. Nothing here imports Nova.

Placement's REST API has no bulk read of inventories, usages or traits:
those are per provider. The fleet is read with a number of requests that
depends on the number of NUMA cells and load buckets (and, for details,
GPU models), never on the number of hosts or providers:

1. ``GET /resource_providers``: names and tree of every provider. A render
   node provider is a child named ``<compute node>_render_<key>``
   (:func:`names.render_provider_name`).
2. ``GET /traits?name=startswith:CUSTOM_NUMA_NODE_`` and, per cell trait,
   ``GET /resource_providers?required=<trait>``: the cell of each provider.
3. The same for ``CUSTOM_GPU_LOAD_``: the load bucket of each provider
   (and, with ``details``, for the vendor and product traits).
4. ``GET /allocation_candidates?resources=CUSTOM_GPU_RENDER_SLOT:1``: its
   ``provider_summaries`` carry capacity and usage of every provider in a
   tree with at least one free slot (since microversion 1.29 the whole
   tree, full siblings included). A render provider missing from them has
   no free slot: its usage equals its capacity.
5. Only with ``complete`` and when step 4 left a render provider out: the
   same with ``MEMORY_MB:1``, whose summaries cover every tree with a free
   MB of RAM, so full render nodes too. ``status`` instead counts the
   slots that instances hold in Nova's databases.

With ``host`` every call is narrowed to that compute node's tree
(``in_tree``), plus one call to find the tree.
"""

import dataclasses
import typing as ty
import urllib.parse

from oslo_utils import uuidutils

from nova_gpu_numa_sched import names

#: 1.29: provider summaries cover the whole tree; 1.31: in_tree on
#: allocation candidates.
MICROVERSION = '1.31'

#: The resource class of the second summaries query (step 5): every
#: compute node's root provider has RAM.
_ROOT_RESOURCE = 'MEMORY_MB'


class NotFound(Exception):
    """What was asked for is not in Placement; the message says what."""


@dataclasses.dataclass
class RenderProvider:
    """A render node provider as Placement sees it."""

    uuid: str
    name: str
    host: str
    key: str
    cell: ty.Optional[int] = None
    load_percent: ty.Optional[int] = None
    #: Capacity and usage of CUSTOM_GPU_RENDER_SLOT; capacity is
    #: (total - reserved) * allocation_ratio, as Placement counts it.
    capacity: ty.Optional[int] = None
    used: ty.Optional[int] = None
    #: Whether capacity and usage came from Placement's summaries (False:
    #: the provider has no free slot and was absent from them).
    summarised: bool = False
    #: PCI vendor and product ids (hex), from the GPU traits; read only
    #: when details are asked for.
    vendor_id: ty.Optional[str] = None
    product_id: ty.Optional[str] = None
    #: The plugin's traits found on the provider (cell, load, vendor,
    #: product), sorted; with details only.
    traits: ty.List[str] = dataclasses.field(default_factory=list)

    @property
    def pci_address(self):
        return self.key if _looks_like_pci(self.key) else None

    @property
    def devnode(self):
        """The devnode, when the key is a libvirt DRM device name.

        Placement does not store devnodes; PCI GPUs are known by address.
        """
        if self.key.startswith('drm_'):
            return '/dev/dri/' + self.key[len('drm_'):]
        return None

    @property
    def label(self):
        """How an operator knows the render node: PCI address or devnode."""
        return self.pci_address or self.devnode or self.key


def _looks_like_pci(key):
    parts = key.split(':')
    return len(parts) == 3 and '.' in parts[2]


@dataclasses.dataclass
class Fleet:
    """Compute node (root) providers and their render node providers."""

    #: {root provider uuid: name} of every root provider.
    roots: dict
    render: ty.List[RenderProvider]

    def hosts_without_render(self):
        with_render = {rp.host for rp in self.render}
        return sorted(name for name in self.roots.values()
                      if name not in with_render)


def _suffix(traits, prefix):
    """The suffix of the first trait with prefix, or None."""
    for trait in sorted(traits or ()):
        if trait.startswith(prefix) and len(trait) > len(prefix):
            return trait[len(prefix):]
    return None


def _vendor(traits):
    return _suffix(traits, names.VENDOR_TRAIT_PREFIX)


def _product(traits):
    return _suffix(traits, names.PRODUCT_TRAIT_PREFIX)


#: (attribute, trait prefix, parse) of what the by-trait reads set.
_TRAIT_FIELDS = (
    ('cell', names.NUMA_TRAIT_PREFIX, names.cell_from_traits),
    ('load_percent', names.LOAD_TRAIT_PREFIX, names.load_from_traits),
)
_DETAIL_FIELDS = (
    ('vendor_id', names.VENDOR_TRAIT_PREFIX, _vendor),
    ('product_id', names.PRODUCT_TRAIT_PREFIX, _product),
)
_PLUGIN_TRAIT_PREFIXES = tuple(
    prefix for _, prefix, _ in _TRAIT_FIELDS + _DETAIL_FIELDS)


def _url(path, params=None):
    params = {key: value for key, value in (params or {}).items()
              if value is not None}
    return path + ('?' + urllib.parse.urlencode(params) if params else '')


def _providers(get, query=None, tree=None):
    params = dict(query or {}, in_tree=tree)
    return get(_url('/resource_providers', params))['resource_providers']


def _by_trait(get, prefix, parse, tree):
    """{provider uuid: [trait]} over every trait with prefix that parses."""
    found = {}
    traits = get('/traits?name=startswith:%s' % prefix)['traits']
    for trait in sorted(traits):
        if parse([trait]) is None:
            continue
        for rp in _providers(get, {'required': trait}, tree):
            found.setdefault(rp['uuid'], []).append(trait)
    return found


def _summaries(get, resource_class, tree):
    return get(_url('/allocation_candidates', {
        'resources': '%s:1' % resource_class, 'in_tree': tree}))[
        'provider_summaries']


def _apply_summaries(render, summaries):
    for rp in render:
        slots = summaries.get(rp.uuid, {}).get('resources', {}).get(
            names.RESOURCE_CLASS)
        if slots is not None:
            rp.capacity = slots['capacity']
            rp.used = slots['used']
            rp.summarised = True


def root_of_host(get, host):
    rps = _providers(get, {'name': host})
    if not rps:
        raise NotFound(
            'Placement has no compute node provider named %r (see '
            '"openstack hypervisor list")' % host)
    return rps[0]['uuid']


def _render_providers(providers):
    roots = {rp['uuid']: rp['name'] for rp in providers
             if not rp.get('parent_provider_uuid')}
    render = []
    for rp in providers:
        root_name = roots.get(rp.get('root_provider_uuid'))
        if root_name is None or rp['uuid'] == rp['root_provider_uuid']:
            continue
        prefix = names.render_provider_name(root_name, '')
        if rp['name'].startswith(prefix):
            render.append(RenderProvider(
                uuid=rp['uuid'], name=rp['name'], host=root_name,
                key=rp['name'][len(prefix):]))
    return roots, render


def _set_traits(rp, traits, fields, details):
    for attribute, _prefix, parse in fields:
        # The last trait in name order wins, should a provider have two.
        values = [parse([trait]) for trait in sorted(traits)]
        values = [value for value in values if value is not None]
        setattr(rp, attribute, values[-1] if values else None)
    if details:
        rp.traits = sorted(t for t in traits
                           if t.startswith(_PLUGIN_TRAIT_PREFIXES))


def read_fleet(get, host=None, details=False, complete=False):
    """Read every render node provider, or those of one compute node.

    :param get: ``get(path)`` -> decoded JSON of a Placement GET.
    :param details: also read the GPU vendor and product traits.
    :param complete: one more query (step 5) when a render node is full.
    """
    tree = root_of_host(get, host) if host else None
    roots, render = _render_providers(_providers(get, tree=tree))
    fields = _TRAIT_FIELDS + (_DETAIL_FIELDS if details else ())
    traits = {}
    for _attribute, prefix, parse in fields:
        for uuid, found in _by_trait(get, prefix, parse, tree).items():
            traits.setdefault(uuid, []).extend(found)
    for rp in render:
        _set_traits(rp, traits.get(rp.uuid, []), fields, details)
    _apply_summaries(render, _summaries(get, names.RESOURCE_CLASS, tree))
    if complete and any(not rp.summarised for rp in render):
        _apply_summaries([rp for rp in render if not rp.summarised],
                         _summaries(get, _ROOT_RESOURCE, tree))
    render.sort(key=lambda rp: (rp.host, rp.cell is None, rp.cell,
                                rp.key))
    return Fleet(roots=roots, render=render)


def read_provider(get, name_or_uuid):
    """One render node provider, by uuid or name, with traits and slots.

    Per-provider reads (the provider, its root, traits, inventory and
    usage): exact whether or not the render node has a free slot.
    """
    # A provider's name may look like a UUID: try both, the likely first.
    filters = ['name']
    if uuidutils.is_uuid_like(name_or_uuid):
        filters.insert(0, 'uuid')
    rps = []
    for name in filters:
        rps = rps or _providers(get, {name: name_or_uuid})
    if not rps:
        raise NotFound('Placement has no resource provider %r' %
                       name_or_uuid)
    rp = rps[0]
    root = rp['root_provider_uuid']
    root_name = get('/resource_providers/%s' % root)['name'] if (
        root != rp['uuid']) else None
    prefix = names.render_provider_name(root_name or '', '')
    if root_name is None or not rp['name'].startswith(prefix):
        raise NotFound('resource provider %s (%s) is not a render node' % (
            rp['name'], rp['uuid']))
    provider = RenderProvider(uuid=rp['uuid'], name=rp['name'],
                              host=root_name, key=rp['name'][len(prefix):])
    base = '/resource_providers/%s' % rp['uuid']
    _set_traits(provider, get(base + '/traits')['traits'],
                _TRAIT_FIELDS + _DETAIL_FIELDS, True)
    inventory = get(base + '/inventories')['inventories'].get(
        names.RESOURCE_CLASS)
    if inventory is not None:
        provider.capacity = int(
            (inventory['total'] - inventory['reserved']) *
            inventory['allocation_ratio'])
        provider.used = get(base + '/usages')['usages'].get(
            names.RESOURCE_CLASS, 0)
        provider.summarised = True
    return provider


def slot_consumers(get, provider_uuid):
    """{consumer uuid: slots held} on one render node provider."""
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
