"""Keep only candidates whose render node's cell can hold the whole guest.

With ``gpu_numa:affinity_policy=preferred`` and no host able to do that,
keep the candidates that can hold the guest anywhere on their host instead;
with ``socket``, those that can hold it on another cell of the render
node's socket.
"""

from nova.scheduler import filters
from nova.scheduler import utils as scheduler_utils
from nova.virt import hardware
from oslo_log import log as logging

from nova_gpu_numa_sched import cell_limits
from nova_gpu_numa_sched import names
from nova_gpu_numa_sched import pinned_fit
from nova_gpu_numa_sched import policy
from nova_gpu_numa_sched.scheduler import cell_fit
from nova_gpu_numa_sched.scheduler import load
from nova_gpu_numa_sched.scheduler import provider_view
from nova_gpu_numa_sched.scheduler import request

LOG = logging.getLogger(__name__)


class GpuNumaAffinityFilter(filters.BaseHostFilter,
                            filters.CandidateFilterMixin):
    """Co-locate a guest's render slot, vCPUs and RAM on one host cell.

    For a request with a render slot, passes a host when one of its NUMA
    cells has a render node with a free slot and can also fit the guest
    (Nova's own NUMA fit, confined to that cell; for a guest of several
    cells, Nova's fit over the whole host with the render node's cell
    among the guest's), as nova-compute published them with the host's
    state. It remembers the preferred render node for the weigher and
    pins the claim's NUMA limits to its cell; nova-compute's claim makes
    the final, exact choice. Run it after NUMATopologyFilter.

    ``filter_all`` adds the ``preferred`` and ``socket`` policies: when no
    host of the request can co-locate, hosts that can hold the guest on
    other cells than its render node (``socket``: on another cell of the
    render node's socket) pass, named in one log line. That decision needs
    every host at once, so it lives in ``filter_all``, which Nova calls
    with the whole host list; ``host_passes`` alone only co-locates.
    """

    RUN_ON_REBUILD = False

    def __init__(self):
        super().__init__()
        provider_view.install()
        # The scheduler's consume re-fits with this filter's pinned limits.
        pinned_fit.install()

    def filter_all(self, filter_obj_list, spec_obj):
        """Co-locating hosts; with none, for ``preferred`` splitting ones,
        for ``socket`` those that keep the guest on the GPU's socket.

        A co-locating host always beats any other, however idle the other
        host's GPU: they never pass together.
        """
        hosts = list(filter_obj_list)
        if (not request.render_slots_requested(spec_obj) or
                scheduler_utils.request_is_rebuild(spec_obj)):
            # As BaseHostFilter: a rebuild keeps its host and allocation.
            return hosts
        if not self._guest_topology_ok(spec_obj):
            return []
        chosen = policy.flavor_policy(spec_obj.flavor)
        candidates = [host.allocation_candidates for host in hosts]
        co_located = [host for host in hosts
                      if self.host_passes(host, spec_obj)]
        if co_located or chosen == names.POLICY_REQUIRED:
            return co_located
        # host_passes emptied the candidate lists it rejected.
        for host, original in zip(hosts, candidates):
            host.allocation_candidates = original
        if chosen == names.POLICY_SOCKET:
            return self._socket_hosts(hosts, spec_obj)
        split = [host for host in hosts
                 if self._split_passes(host, spec_obj)]
        if split:
            self._warn_split(split, spec_obj)
        return split

    def _socket_hosts(self, hosts, spec_obj):
        """Hosts that can hold the guest on its render node's socket.

        One INFO line names them; one WARNING names the hosts that could
        not be considered because libvirt reports no socket for their
        render nodes' cells.
        """
        unknown = []
        passing = [host for host in hosts
                   if self._socket_passes(host, spec_obj, unknown)]
        if unknown:
            LOG.warning(
                'Instance %(instance)s: %(key)s=%(socket)s, but libvirt '
                'reports no CPU socket for the NUMA cell of the render '
                'node(s) on host(s) %(hosts)s; there it is treated as '
                '%(required)s (that cell only). Run "nova-gpu-numa check".',
                {'instance': spec_obj.instance_uuid,
                 'key': names.AFFINITY_POLICY_KEY,
                 'socket': names.POLICY_SOCKET,
                 'required': names.POLICY_REQUIRED,
                 'hosts': self._named(unknown)},
                instance_uuid=spec_obj.instance_uuid)
        if passing:
            LOG.info(
                'Instance %(instance)s: no host can put its render node, '
                'vCPUs and RAM on one NUMA cell; as %(key)s=%(socket)s, it '
                'may use another cell of its render node\'s socket on '
                'host(s): %(hosts)s.',
                {'instance': spec_obj.instance_uuid,
                 'key': names.AFFINITY_POLICY_KEY,
                 'socket': names.POLICY_SOCKET,
                 'hosts': self._named([host.host for host in passing])},
                instance_uuid=spec_obj.instance_uuid)
        return passing

    def host_passes(self, host_state, spec_obj):
        slots = request.render_slots_requested(spec_obj)
        if not slots:
            return True
        if not self._guest_topology_ok(spec_obj):
            return False
        if not host_state.numa_topology:
            LOG.debug('%s reports no NUMA topology; cannot place a render '
                      'guest on one cell.', host_state)
            return False
        view = provider_view.current()
        if view is None:
            LOG.error('No scheduling request is being followed; cannot '
                      'tell the render nodes of %s.', host_state)
            return False
        ranked = load.ranked_cells(view.render_nodes(host_state), slots,
                                   load.multiplier(host_state))
        one_cell = len(spec_obj.numa_topology.cells) == 1
        fits = {}

        def co_locating(candidate):
            """The first (cell, render node) that can hold the guest."""
            for cell, node in ranked:
                key = (cell, self._pci_key(spec_obj, candidate))
                if key not in fits:
                    if one_cell:
                        fits[key] = self._fits_on_cell(
                            host_state, spec_obj, cell, candidate)
                    else:
                        fits[key] = self._fits_on_host(
                            host_state, spec_obj, candidate,
                            self._pinned_limits(host_state, spec_obj, cell))
                if fits[key]:
                    return cell, node
            return None

        remaining = self.filter_candidates(
            host_state, lambda candidate: co_locating(candidate) is not None)
        if not remaining:
            LOG.debug('%(host)s: no render node has a free slot on a NUMA '
                      'cell that can also fit the guest\'s %(cpus)d vCPUs '
                      'and %(mem)d MB.',
                      {'host': host_state, 'cpus': spec_obj.vcpus,
                       'mem': spec_obj.memory_mb},
                      instance_uuid=spec_obj.instance_uuid)
            return False
        cell, node = co_locating(remaining[0])
        view.chosen[host_state.uuid] = node.key
        host_state.limits['numa_topology'] = self._packing(
            host_state, self._pinned_limits(host_state, spec_obj, cell))
        return True

    @staticmethod
    def _guest_topology_ok(spec_obj):
        """A render guest needs a NUMA topology: hw:numa_nodes >= 1."""
        if spec_obj.numa_topology and spec_obj.numa_topology.cells:
            return True
        LOG.error(
            'Flavor %(flavor)s requests %(rc)s but has no hw:numa_nodes; '
            'set hw:numa_nodes (1 or more) so that the guest\'s vCPUs and '
            'RAM can be placed on its GPU\'s NUMA cell. Rejecting every '
            'host.',
            {'flavor': spec_obj.flavor.name, 'rc': names.RESOURCE_CLASS},
            instance_uuid=spec_obj.instance_uuid)
        return False

    @staticmethod
    def _pci_key(spec_obj, candidate):
        """What else a fit depends on: the candidate's PCI mappings."""
        if spec_obj.pci_requests and spec_obj.pci_requests.requests:
            return repr(sorted(candidate['mappings'].items()))
        return None

    def _split_passes(self, host_state, spec_obj):
        """Whether the guest fits anywhere on the host, GPU on any cell.

        For ``preferred`` when no host co-locates: a host with a render
        node with a free slot whose guest passes Nova's full NUMA fit over
        the whole host, with claim limits not pinned to a cell
        (NUMATopologyFilter need not have run). ``filter_all`` logs the
        split.
        """
        if not host_state.numa_topology:
            return False
        view = provider_view.current()
        if view is None:
            return False
        node = load.preferred_node(
            view.render_nodes(host_state),
            request.render_slots_requested(spec_obj),
            load.multiplier(host_state))
        if node is None:
            return False
        limits = self._unpinned_limits(host_state, spec_obj)
        fits = {}

        def placeable(candidate):
            key = self._pci_key(spec_obj, candidate)
            if key not in fits:
                fits[key] = self._fits_on_host(
                    host_state, spec_obj, candidate, limits)
            return fits[key]

        if not self.filter_candidates(host_state, placeable):
            return False
        view.chosen[host_state.uuid] = node.key
        host_state.limits['numa_topology'] = self._packing(host_state,
                                                           limits)
        LOG.debug('%(host)s: may hold the guest with its render node on '
                  'NUMA cell %(cell)s and its vCPUs and RAM elsewhere.',
                  {'host': host_state, 'cell': node.cell},
                  instance_uuid=spec_obj.instance_uuid)
        return True

    def _socket_passes(self, host_state, spec_obj, unknown):
        """Whether the guest fits on another cell of a GPU's socket.

        For ``socket`` when no host co-locates: a host with a render node
        with a free slot whose cell's socket siblings can hold the guest (a
        guest of several cells: Nova's fit over the whole host with one of
        the guest's cells on that socket); sets the claim limits to that
        socket. A host whose render nodes' cells have no socket
        information is added to ``unknown``.
        """
        if not host_state.numa_topology:
            return False
        view = provider_view.current()
        if view is None:
            return False
        topology = host_state.numa_topology
        one_cell = len(spec_obj.numa_topology.cells) == 1
        ranked = load.ranked_cells(view.render_nodes(host_state),
                                   request.render_slots_requested(spec_obj),
                                   load.multiplier(host_state))
        fits = {}

        def on_socket(candidate):
            for cell, node in ranked:
                key = (cell, self._pci_key(spec_obj, candidate))
                if key not in fits:
                    socket_id = cell_limits.socket_of(topology, cell)
                    if socket_id is None:
                        if host_state.host not in unknown:
                            unknown.append(host_state.host)
                        fits[key] = False
                    elif one_cell:
                        fits[key] = any(
                            self._fits_on_cell(host_state, spec_obj,
                                               sibling, candidate)
                            for sibling in cell_limits.socket_siblings(
                                topology, cell))
                    else:
                        fits[key] = self._fits_on_host(
                            host_state, spec_obj, candidate,
                            self._socket_limits(host_state, spec_obj,
                                                socket_id))
                if fits[key]:
                    return cell, node
            return None

        remaining = self.filter_candidates(
            host_state, lambda candidate: on_socket(candidate) is not None)
        if not remaining:
            return False
        cell, node = on_socket(remaining[0])
        view.chosen[host_state.uuid] = node.key
        host_state.limits['numa_topology'] = self._packing(
            host_state, self._socket_limits(
                host_state, spec_obj, cell_limits.socket_of(topology, cell)))
        return True

    #: Hosts named in the split WARNING; the rest are counted.
    _SPLIT_HOSTS_LOGGED = 10

    @classmethod
    def _named(cls, items, total=None):
        """The first items as text, the rest (of ``total``) counted."""
        named = list(items[:cls._SPLIT_HOSTS_LOGGED])
        total = len(items) if total is None else total
        if total > len(named):
            named.append('%d more' % (total - len(named)))
        return ', '.join(str(item) for item in named)

    def _warn_split(self, hosts, spec_obj):
        """One WARNING per request (not per host): instance, hosts, why."""
        view = provider_view.current()
        named = []
        for host in hosts[:self._SPLIT_HOSTS_LOGGED]:
            node = view.render_nodes(host).get(view.chosen.get(host.uuid))
            named.append('%s (render node on NUMA cell %s)' % (
                host.host, node.cell if node else 'unknown'))
        LOG.warning(
            'Instance %(instance)s: no host can put its render node, '
            '%(cpus)d vCPUs and %(mem)d MB on one NUMA cell (no render node '
            'with a free slot sits on a cell that can also fit the guest); '
            'as %(key)s=%(preferred)s, it may be placed with its render '
            'node on another cell than its vCPUs and RAM, on host(s): '
            '%(hosts)s.',
            {'instance': spec_obj.instance_uuid, 'cpus': spec_obj.vcpus,
             'mem': spec_obj.memory_mb, 'key': names.AFFINITY_POLICY_KEY,
             'preferred': names.POLICY_PREFERRED,
             'hosts': self._named(named, len(hosts))},
            instance_uuid=spec_obj.instance_uuid)

    @staticmethod
    def _packing(host_state, numa_limits):
        """Claim limits that tell the compute which way to choose."""
        return cell_limits.with_packing(numa_limits,
                                        load.multiplier(host_state) < 0)

    @staticmethod
    def _network_metadata(spec_obj):
        if 'network_metadata' in spec_obj:
            return spec_obj.network_metadata
        return None

    @classmethod
    def _pinned_limits(cls, host_state, spec_obj, cell):
        return cell_limits.pinned_numa_limits(
            host_state.limits.get('numa_topology'), cell,
            host_state.cpu_allocation_ratio,
            host_state.ram_allocation_ratio, cls._network_metadata(spec_obj))

    @classmethod
    def _socket_limits(cls, host_state, spec_obj, socket_id):
        return cell_limits.socket_numa_limits(
            host_state.limits.get('numa_topology'), socket_id,
            host_state.cpu_allocation_ratio,
            host_state.ram_allocation_ratio, cls._network_metadata(spec_obj))

    def _fits_on_cell(self, host_state, spec_obj, cell, candidate):
        # Nova's fit on that cell alone: the same answer as with the pinned
        # limits over all cells, memoised per request (scheduler.cell_fit).
        return cell_fit.fits(host_state, spec_obj, cell,
                             candidate['mappings'])

    @classmethod
    def _unpinned_limits(cls, host_state, spec_obj):
        """Claim limits of a split placement: no cell token, real physnets."""
        return cell_limits.unpinned_numa_limits(
            host_state.limits.get('numa_topology'),
            host_state.cpu_allocation_ratio,
            host_state.ram_allocation_ratio, cls._network_metadata(spec_obj))

    def _fits_on_host(self, host_state, spec_obj, candidate, limits):
        """Nova's NUMA fit of the guest over the whole host, with ``limits``.

        With limits pinned to a cell (``_pinned_limits``) it holds a guest of
        several cells with the render node's cell among them; unpinned, it
        is NUMATopologyFilter's own test.
        """
        pci_requests = None
        if spec_obj.pci_requests:
            pci_requests = spec_obj.pci_requests.requests
        # numa_fit_instance_to_host writes into the topology it is given.
        return hardware.numa_fit_instance_to_host(
            host_state.numa_topology, spec_obj.numa_topology.obj_clone(),
            limits=limits, pci_requests=pci_requests,
            pci_stats=host_state.pci_stats,
            provider_mapping=candidate['mappings']) is not None
