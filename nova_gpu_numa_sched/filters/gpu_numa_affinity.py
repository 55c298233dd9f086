"""Keep only candidates whose render node's cell can hold the whole guest."""

from nova.scheduler import filters
from oslo_log import log as logging

from nova_gpu_numa_sched import cell_limits
from nova_gpu_numa_sched import names
from nova_gpu_numa_sched.scheduler import cell_fit
from nova_gpu_numa_sched.scheduler import load
from nova_gpu_numa_sched.scheduler import provider_view
from nova_gpu_numa_sched.scheduler import request

LOG = logging.getLogger(__name__)


class GpuNumaAffinityFilter(filters.BaseHostFilter,
                            filters.CandidateFilterMixin):
    """Co-locate a guest's render slot, vCPUs and RAM on one host cell.

    For a request with a render slot, drops allocation candidates whose
    render node sits on a cell that cannot also fit the guest (Nova's own
    NUMA fit, confined to that cell), puts the preferred GPU first (the
    scheduler claims the first candidate) and pins the claim's NUMA limits
    to its cell. Run it after NUMATopologyFilter.
    """

    RUN_ON_REBUILD = False

    def __init__(self):
        super().__init__()
        provider_view.install()

    def host_passes(self, host_state, spec_obj):
        slots = request.render_slots_requested(spec_obj)
        if not slots:
            return True
        guest = spec_obj.numa_topology
        if not guest or len(guest.cells) != 1:
            LOG.error(
                'Flavor %(flavor)s requests %(rc)s but %(why)s; set '
                'hw:numa_nodes=1 so that the guest fits on its GPU\'s NUMA '
                'cell. Rejecting every host.',
                {'flavor': spec_obj.flavor.name, 'rc': names.RESOURCE_CLASS,
                 'why': 'has no hw:numa_nodes' if not guest else
                 'hw:numa_nodes=%d' % len(guest.cells)})
            return False
        if not host_state.numa_topology:
            LOG.debug('%s reports no NUMA topology; cannot place a render '
                      'guest on one cell.', host_state)
            return False
        view = provider_view.current()
        if view is None:
            LOG.error('No Placement provider summaries for this request; '
                      'cannot tell the NUMA cell of %s render nodes.',
                      host_state)
            return False
        fits = {}

        def co_locatable(candidate):
            cell = self._render_cell(view, candidate)
            if cell is None:
                return False
            key = (cell, repr(sorted(candidate['mappings'].items()))
                   if spec_obj.pci_requests and
                   spec_obj.pci_requests.requests else None)
            if key not in fits:
                fits[key] = self._fits_on_cell(
                    host_state, spec_obj, cell, candidate)
            return fits[key]

        remaining = self.filter_candidates(host_state, co_locatable)
        if not remaining:
            LOG.debug('%(host)s: no render node has a free slot on a NUMA '
                      'cell that can also fit the guest\'s %(cpus)d vCPUs '
                      'and %(mem)d MB.',
                      {'host': host_state, 'cpus': spec_obj.vcpus,
                       'mem': spec_obj.memory_mb},
                      instance_uuid=spec_obj.instance_uuid)
            return False
        host_state.allocation_candidates = load.order_candidates(
            view, remaining, load.multiplier(host_state))
        first_cell = self._render_cell(
            view, host_state.allocation_candidates[0])
        host_state.limits['numa_topology'] = self._pinned_limits(
            host_state, spec_obj, first_cell)
        return True

    @staticmethod
    def _render_cell(view, candidate):
        """The one cell of a candidate's render providers with room.

        None when they have no room, no known cell or several cells.
        """
        cells = set()
        for rp_uuid, amount in request.render_providers(candidate).items():
            provider = view.get(rp_uuid)
            if provider is None or provider.cell is None:
                return None
            if provider.free < amount:
                return None
            cells.add(provider.cell)
        return cells.pop() if len(cells) == 1 else None

    @staticmethod
    def _pinned_limits(host_state, spec_obj, cell):
        network_metadata = None
        if 'network_metadata' in spec_obj:
            network_metadata = spec_obj.network_metadata
        return cell_limits.pinned_numa_limits(
            host_state.limits.get('numa_topology'), cell,
            host_state.cpu_allocation_ratio,
            host_state.ram_allocation_ratio, network_metadata)

    def _fits_on_cell(self, host_state, spec_obj, cell, candidate):
        # Nova's fit on that cell alone: the same answer as with the pinned
        # limits over all cells, memoised per request (scheduler.cell_fit).
        return cell_fit.fits(host_state, spec_obj, cell,
                             candidate['mappings'])
