"""Read the fleet's render node providers from Placement in bulk.

Placement's REST API has no bulk read of inventories, usages or traits:
those are per provider. ``status`` and ``check`` must not make one call per
provider, so the command reads what it needs with a number of calls that
depends on the number of NUMA cells and load buckets, never on the number
of hosts or providers:

1. ``GET /resource_providers``: names and tree of every provider. A render
   node provider is a child named ``<compute node>_render_<key>``
   (``placement_report.provider_name``).
2. ``GET /traits?name=startswith:CUSTOM_NUMA_NODE_`` and, per cell trait,
   ``GET /resource_providers?required=<trait>``: the cell of each provider.
3. The same for ``CUSTOM_GPU_LOAD_``: the load bucket of each provider.
4. ``GET /allocation_candidates?resources=CUSTOM_GPU_RENDER_SLOT:1``: its
   ``provider_summaries`` carry capacity and usage of every provider in a
   tree with at least one free slot (since microversion 1.29 the whole
   tree, full siblings included). A render provider missing from them has
   no free slot: its usage equals its capacity.

With ``--host`` every call is narrowed to that compute node's tree
(``in_tree``), plus one call to find the tree.
"""

import dataclasses
import typing as ty
import urllib.parse

from keystoneauth1 import exceptions as ks_exc
from openstack import exceptions as sdk_exc

from nova_gpu_numa_sched.cmd import common
from nova_gpu_numa_sched.compute import placement_report
from nova_gpu_numa_sched import names

#: 1.29: provider summaries cover the whole tree; 1.31: in_tree on
#: allocation candidates.
MICROVERSION = '1.31'


class PlacementError(common.CommandError):
    """Placement could not be reached or refused a request."""


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


class Placement:
    """Placement through Nova's own report client and ``[placement]``."""

    def __init__(self):
        # Imported here: the report client pulls in most of the scheduler.
        from nova.scheduler.client import report
        try:
            self._client = report.SchedulerReportClient()
        except (ks_exc.ClientException, sdk_exc.SDKException) as e:
            raise PlacementError(
                'cannot reach Placement with the [placement] options of '
                'nova.conf: %s' % _one_line(e))
        #: Number of requests made, for tests and --debug.
        self.calls = 0

    def get(self, path):
        self.calls += 1
        try:
            resp = self._client.get(path, version=MICROVERSION)
        except ks_exc.Unauthorized as e:
            raise PlacementError(
                'Placement rejected the credentials of [placement] in '
                'nova.conf: %s' % _one_line(e))
        except (ks_exc.ClientException, sdk_exc.SDKException) as e:
            raise PlacementError(
                'cannot reach Placement (GET %s) with the [placement] '
                'options of nova.conf: %s' % (path, _one_line(e)))
        if resp is None:
            raise PlacementError('no answer from Placement for GET %s' % path)
        if resp.status_code in (401, 403):
            raise PlacementError(
                'Placement rejected the credentials of [placement] in '
                'nova.conf (HTTP %d on GET %s)' % (resp.status_code, path))
        if resp.status_code >= 400:
            raise PlacementError('Placement answered HTTP %d to GET %s: %s' % (
                resp.status_code, path, _one_line(resp.text)))
        return resp.json()

    # Bulk reads --------------------------------------------------------

    def _providers(self, query=None, tree=None):
        params = dict(query or {})
        if tree:
            params['in_tree'] = tree
        path = '/resource_providers'
        if params:
            path += '?' + urllib.parse.urlencode(params)
        return self.get(path)['resource_providers']

    def _traits(self, prefix):
        return sorted(self.get('/traits?name=startswith:%s' % prefix)[
            'traits'])

    def _by_trait(self, prefix, parse, tree):
        """{provider uuid: parsed value} over every trait with prefix."""
        found = {}
        for trait in self._traits(prefix):
            value = parse([trait])
            if value is None:
                continue
            for rp in self._providers({'required': trait}, tree):
                found[rp['uuid']] = value
        return found

    def _summaries(self, tree):
        params = {'resources': '%s:1' % names.RESOURCE_CLASS}
        if tree:
            params['in_tree'] = tree
        return self.get('/allocation_candidates?' + urllib.parse.urlencode(
            params))['provider_summaries']

    def _root_of_host(self, host):
        rps = self._providers({'name': host})
        if not rps:
            raise common.CommandError(
                'Placement has no compute node provider named %r (see '
                '"openstack hypervisor list")' % host)
        return rps[0]['uuid']

    def fleet(self, host=None):
        """Read every render node provider, or those of one compute node."""
        tree = self._root_of_host(host) if host else None
        providers = self._providers(tree=tree)
        roots = {rp['uuid']: rp['name'] for rp in providers
                 if not rp.get('parent_provider_uuid')}
        render = []
        for rp in providers:
            root_name = roots.get(rp.get('root_provider_uuid'))
            if root_name is None or rp['uuid'] == rp['root_provider_uuid']:
                continue
            prefix = placement_report.provider_name(root_name, '')
            if rp['name'].startswith(prefix):
                render.append(RenderProvider(
                    uuid=rp['uuid'], name=rp['name'], host=root_name,
                    key=rp['name'][len(prefix):]))
        cells = self._by_trait(names.NUMA_TRAIT_PREFIX,
                               names.cell_from_traits, tree)
        loads = self._by_trait(names.LOAD_TRAIT_PREFIX,
                               names.load_from_traits, tree)
        summaries = self._summaries(tree)
        for rp in render:
            rp.cell = cells.get(rp.uuid)
            rp.load_percent = loads.get(rp.uuid)
            slots = summaries.get(rp.uuid, {}).get('resources', {}).get(
                names.RESOURCE_CLASS)
            if slots is not None:
                rp.capacity = slots['capacity']
                rp.used = slots['used']
                rp.summarised = True
        render.sort(key=lambda rp: (rp.host, rp.cell is None, rp.cell,
                                    rp.key))
        return Fleet(roots=roots, render=render)


def _one_line(error):
    return ' '.join(str(error).split()) or type(error).__name__
