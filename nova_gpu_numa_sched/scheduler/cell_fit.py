"""Nova's NUMA fit of a one-cell guest on one host cell, done cheaply.

The scheduler asks, for every host and every cell that holds a GPU with a
free slot, whether the guest fits on that cell. Nova's answer comes from
``hardware.numa_fit_instance_to_host``; this module calls it on the one
cell, with three savings that keep the answer the same:

* a per-request memo: the answer depends only on the host cell's state, the
  allocation ratios and the guest's topology, and a fleet of identical
  hosts has thousands of identical cells. The key holds everything the fit
  reads, so a cell whose usage, pinned CPUs or pages differ is fitted
  again. Requests with PCI devices skip the memo (the answer then also
  depends on the host's PCI pools and the candidate's mapping);
* no clone of the guest topology per fit: Nova's fit writes the host cell
  id into the guest cell it is given, and for a shared-CPU guest without a
  page size that is all it writes, so one scratch copy per request serves
  every fit. Guests with pinned CPUs or a page size get a fresh copy per
  fit, as the fit also writes their pinning and page size;
* the request's network NUMA affinity (physnets, tunneled networks) is
  checked against the host's whole topology, as the compute claim checks
  it, not against the one cell handed to the fit.

The memo lives in the request's provider view (``provider_view``), which is
per thread and per request id: nothing is shared between requests or
threads, and it goes when the next request starts.
"""

from nova import objects
from nova.objects import fields
from nova.virt import hardware
from oslo_log import log as logging

from nova_gpu_numa_sched.scheduler import provider_view

LOG = logging.getLogger(__name__)

#: Guest CPU policies whose fit writes nothing but the cell id.
_SHARED_POLICIES = (None, fields.CPUAllocationPolicy.SHARED)


def fits(host_state, spec_obj, cell_id, provider_mapping):
    """Whether the one-cell guest of ``spec_obj`` fits on cell ``cell_id``.

    The same answer as Nova's ``numa_fit_instance_to_host`` over the whole
    host with the claim limits pinned to ``cell_id`` (the host's allocation
    ratios, the request's network metadata and the cell's token).

    :param provider_mapping: the allocation candidate's ``mappings``, which
        Nova's fit hands to the PCI check
    """
    host_topology = host_state.numa_topology
    guest = spec_obj.numa_topology
    if not host_topology or not guest or len(guest.cells) != 1:
        return False
    host_cell = _cell_by_id(host_topology, cell_id)
    if host_cell is None:
        return False
    network_metadata = _network_metadata(spec_obj)
    if network_metadata is not None and not (
            hardware._numa_cells_support_network_metadata(
                host_topology, [host_cell], network_metadata)):
        return False
    pci_requests = None
    if spec_obj.pci_requests and spec_obj.pci_requests.requests:
        pci_requests = spec_obj.pci_requests.requests
    ratios = (host_state.cpu_allocation_ratio,
              host_state.ram_allocation_ratio)
    if pci_requests:
        return _fit(host_cell, guest.obj_clone(), ratios, pci_requests,
                    host_state.pci_stats, provider_mapping)
    memo = _memo()
    guest_sig = guest_key(guest)
    key = (guest_sig, ratios, cell_key(host_cell))
    found = memo.results.get(key)
    if found is None:
        found = _fit(host_cell, _scratch_guest(memo, guest, guest_sig),
                     ratios)
        memo.results[key] = found
    else:
        memo.hits += 1
    return found


def _fit(host_cell, guest, ratios, pci_requests=None, pci_stats=None,
         provider_mapping=None):
    limits = objects.NUMATopologyLimits(
        cpu_allocation_ratio=ratios[0], ram_allocation_ratio=ratios[1])
    return hardware.numa_fit_instance_to_host(
        objects.NUMATopology(cells=[host_cell]), guest,
        limits=limits, pci_requests=pci_requests, pci_stats=pci_stats,
        provider_mapping=provider_mapping) is not None


def _cell_by_id(host_topology, cell_id):
    for cell in host_topology.cells:
        if cell.id == cell_id:
            return cell
    return None


def _network_metadata(spec_obj):
    """The request's network NUMA affinity, None when it asks for none."""
    if 'network_metadata' not in spec_obj or not spec_obj.network_metadata:
        return None
    metadata = spec_obj.network_metadata
    physnets = metadata.physnets if 'physnets' in metadata else None
    tunneled = metadata.tunneled if 'tunneled' in metadata else False
    if not physnets and not tunneled:
        return None
    return metadata


def cell_key(cell):
    """Everything of a host cell that Nova's one-cell fit reads.

    The id is left out (the fit's answer does not depend on it) so that the
    same cell state on any cell id shares one answer. Network metadata is
    checked on its own, outside the memo.
    """
    return (
        frozenset(cell.cpuset), frozenset(cell.pcpuset), cell.memory,
        cell.cpu_usage, cell.memory_usage, frozenset(cell.pinned_cpus),
        tuple(frozenset(s) for s in cell.siblings),
        tuple((p.size_kb, p.total, p.used,
               p.reserved if 'reserved' in p else 0)
              for p in cell.mempages) if 'mempages' in cell else None)


def guest_key(guest):
    """Everything of a one-cell guest topology that Nova's fit reads."""
    cell = guest.cells[0]
    return (
        guest.emulator_threads_policy
        if 'emulator_threads_policy' in guest else None,
        cell.cpu_policy if 'cpu_policy' in cell else None,
        cell.cpu_thread_policy if 'cpu_thread_policy' in cell else None,
        frozenset(cell.cpuset), frozenset(cell.pcpuset), cell.memory,
        cell.pagesize if 'pagesize' in cell else None)


def _reusable(guest):
    """Whether a fit writes nothing into this guest but cell ids."""
    cell = guest.cells[0]
    policy = cell.cpu_policy if 'cpu_policy' in cell else None
    pagesize = cell.pagesize if 'pagesize' in cell else None
    return policy in _SHARED_POLICIES and not pagesize


def _scratch_guest(memo, guest, guest_sig):
    """A copy of the guest that Nova's fit may write into."""
    if not _reusable(guest):
        return guest.obj_clone()
    scratch = memo.scratch.get(guest_sig)
    if scratch is None:
        scratch = memo.scratch[guest_sig] = guest.obj_clone()
    return scratch


class Memo:
    """Fit answers and scratch guests of one request."""

    def __init__(self):
        self.results = {}
        self.scratch = {}
        self.hits = 0


def _memo():
    """The memo of the request in this thread (a throw-away one if none)."""
    view = provider_view.current()
    if view is None:
        return Memo()
    memo = getattr(view, 'fit_memo', None)
    if memo is None:
        memo = view.fit_memo = Memo()
    return memo
