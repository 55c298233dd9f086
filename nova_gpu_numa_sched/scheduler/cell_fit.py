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
  it, not against the one cell handed to the fit (with Nova's private
  ``hardware._numa_cells_support_network_metadata``, the function the
  claim's fit calls).

The fit itself and the network check are ``pinned_fit``'s, the code the
compute claim and the scheduler's consume run for a one-cell guest pinned
to a cell: the three cannot disagree on the fit
(``tests/unit/test_fit_agreement.py`` checks it on drawn hosts and guests).

The memo lives in the request's provider view (``provider_view``), which is
per thread and per request id: nothing is shared between requests or
threads, and it goes when the next request starts.
"""

from nova import objects
from nova.objects import fields
from oslo_log import log as logging

from nova_gpu_numa_sched import pinned_fit
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
    memo = _memo()
    wants = _request_of(memo, spec_obj, guest)
    if wants.network_metadata is not None and not pinned_fit.network_fits(
            host_topology, host_cell, wants.network_metadata):
        return False
    ratios = (host_state.cpu_allocation_ratio,
              host_state.ram_allocation_ratio)
    if wants.pci_requests:
        return _fit(host_cell, guest.obj_clone(), ratios,
                    wants.pci_requests, host_state.pci_stats,
                    provider_mapping)
    key = (wants.guest_sig, ratios, cell_key(host_cell))
    found = memo.results.get(key)
    if found is None:
        found = _fit(host_cell, _scratch_guest(memo, guest, wants.guest_sig),
                     ratios)
        memo.results[key] = found
    else:
        memo.hits += 1
    return found


def _fit(host_cell, guest, ratios, pci_requests=None, pci_stats=None,
         provider_mapping=None):
    limits = objects.NUMATopologyLimits(
        cpu_allocation_ratio=ratios[0], ram_allocation_ratio=ratios[1])
    return pinned_fit.fit_cell_alone(
        host_cell, guest, limits, pci_requests, pci_stats,
        provider_mapping) is not None


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


#: Fields of a host cell that Nova's one-cell fit reads (its id is left
#: out: the answer does not depend on it; network metadata is checked on
#: its own, outside the memo).
_CELL_FIELDS = ('cpuset', 'pcpuset', 'memory', 'cpu_usage', 'memory_usage',
                'pinned_cpus', 'siblings', 'mempages')
_PAGE_FIELDS = ('size_kb', 'total', 'used', 'reserved')
_GUEST_CELL_FIELDS = ('cpu_policy', 'cpu_thread_policy', 'cpuset',
                      'pcpuset', 'memory', 'pagesize')


def _values(obj, fields):
    """The values of an object's fields, None for a field not set.

    oslo.versionedobjects keeps each field's value in the instance
    attribute ``_obj_<field>``; reading those is several times cheaper than
    its property getters, and this runs for every host cell of a request.
    ``test_topology_filter`` checks that every field changes the key.
    """
    attributes = vars(obj)
    return [attributes.get('_obj_' + field) for field in fields]


def _frozen(value):
    if isinstance(value, (set, frozenset)):
        return frozenset(value)
    if isinstance(value, list):
        return tuple(_frozen(item) for item in value)
    return value


def cell_key(cell):
    """Everything of a host cell that Nova's one-cell fit reads."""
    (cpuset, pcpuset, memory, cpu_usage, memory_usage, pinned_cpus,
     siblings, mempages) = _values(cell, _CELL_FIELDS)
    return (
        _frozen(cpuset), _frozen(pcpuset), memory, cpu_usage, memory_usage,
        _frozen(pinned_cpus),
        None if siblings is None else tuple(map(frozenset, siblings)),
        None if mempages is None else tuple(
            tuple(_values(pages, _PAGE_FIELDS)) for pages in mempages))


def guest_key(guest):
    """Everything of a one-cell guest topology that Nova's fit reads."""
    return (vars(guest).get('_obj_emulator_threads_policy'),) + tuple(
        _frozen(value)
        for value in _values(guest.cells[0], _GUEST_CELL_FIELDS))


class _Wants:
    """What a request's fits read from its RequestSpec, read once."""

    def __init__(self, spec_obj, guest):
        self.spec_obj = spec_obj
        self.guest = guest
        self.guest_sig = guest_key(guest)
        self.network_metadata = _network_metadata(spec_obj)
        self.pci_requests = None
        if spec_obj.pci_requests and spec_obj.pci_requests.requests:
            self.pci_requests = spec_obj.pci_requests.requests


def _request_of(memo, spec_obj, guest):
    """The request's ``_Wants``, read once per spec and guest topology.

    Filters do not write into the RequestSpec. After each instance of a
    multi-create the scheduler's claim fits the guest topology and replaces
    it with a new object, which this recognises by identity: it is read
    again then.
    """
    wants = memo.wants
    if wants is None or wants.spec_obj is not spec_obj or (
            wants.guest is not guest):
        wants = memo.wants = _Wants(spec_obj, guest)
    return wants


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
        self.wants = None


def _memo():
    """The memo of the request in this thread (a throw-away one if none)."""
    view = provider_view.current()
    if view is None:
        return Memo()
    memo = getattr(view, 'fit_memo', None)
    if memo is None:
        memo = view.fit_memo = Memo()
    return memo
