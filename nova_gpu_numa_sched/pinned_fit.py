"""Nova's NUMA fit, on the pinned cell alone when the limits pin one.

Nova's ``hardware.numa_fit_instance_to_host`` tries the host cells one
permutation after another and writes what it chose on a cell into the
guest cell it was given (the page size picked for
``hw:mem_page_size=any|large|small``, the cell id) before it checks the
request's network NUMA affinity, where the plugin's cell token lives. When
that check rejects the cell, the next cell is fitted with the page size of
the rejected one: a phone with ``any`` whose render node's cell has only
4 KiB pages failed its compute claim after cell 0 had offered 2 MiB pages,
although the scheduler, fitting on the render node's cell alone, accepted
it; the same for ``large`` with 1 GiB pages on cell 0 and 2 MiB on the
GPU's cell.

This module wraps that function, in nova-compute (the claim) and
nova-scheduler (``HostState.consume_from_request`` re-fits with the
filter's limits), for the fits the plugin pins: NUMA limits whose network
metadata carry exactly one cell token. A one-cell guest is then fitted on
the pinned cell alone, on a fresh copy of the guest, with the request's
network affinity checked against the whole host as Nova checks it, which
is the fit the scheduler's filter runs (``scheduler.cell_fit``). Every
other fit is Nova's own call, unchanged: guests without a render slot,
``preferred`` splits (no token), and guests of several cells, for which
Nova's whole-host permutations are the point; they run on a fresh copy,
and the filter runs that same whole-host fit, so scheduler and claim agree
for them too. Delete the wrap when Nova fits each permutation on a fresh
guest cell.
"""

import functools

from nova import objects
from nova.virt import hardware

from nova_gpu_numa_sched import names
from nova_gpu_numa_sched import nova_compat

_WRAPPED_MARK = '_gpu_numa_pinned_fit'


def pinned_cell(limits):
    """The host cell id that ``limits`` pin the fit to, else None."""
    if not limits or 'network_metadata' not in limits:
        return None
    metadata = limits.network_metadata
    if not metadata or 'physnets' not in metadata:
        return None
    tokens = [name for name in metadata.physnets
              if names.is_cell_token(name)]
    if len(tokens) != 1:
        return None
    suffix = tokens[0][len(names.CELL_TOKEN_PREFIX):]
    return int(suffix) if suffix.isdigit() else None


def network_fits(host_topology, host_cell, network_metadata):
    """Whether a guest on ``host_cell`` alone meets its network affinity.

    Nova's own check (its private ``_numa_cells_support_network_metadata``,
    which ``numa_fit_instance_to_host`` calls): a physnet or tunneled
    network with affinity to another cell of the host rules the cell out.
    """
    return hardware._numa_cells_support_network_metadata(
        host_topology, [host_cell], network_metadata)


def fit_cell_alone(host_cell, guest, limits=None, pci_requests=None,
                   pci_stats=None, provider_mapping=None):
    """Nova's fit of ``guest`` on one host cell, without network checks.

    ``guest`` is written into (as Nova's fit does): pass a copy.
    ``limits`` here only carry the allocation ratios.
    """
    return _nova_fit()(
        objects.NUMATopology(cells=[host_cell]), guest, provider_mapping,
        limits=limits, pci_requests=pci_requests, pci_stats=pci_stats)


def _ratios_only(limits):
    """A copy of NUMA limits without network metadata."""
    return objects.NUMATopologyLimits(
        cpu_allocation_ratio=limits.cpu_allocation_ratio,
        ram_allocation_ratio=limits.ram_allocation_ratio)


def numa_fit_instance_to_host(host_topology, instance_topology,
                              provider_mapping, limits=None,
                              pci_requests=None, pci_stats=None):
    """``hardware.numa_fit_instance_to_host``, pinned fits on one cell."""
    cell_id = pinned_cell(limits)
    if (cell_id is None or not host_topology or not instance_topology or
            len(instance_topology.cells) != 1):
        if cell_id is not None and instance_topology:
            # A guest of several cells: Nova's whole-host fit, which must
            # not write into the caller's topology between permutations.
            instance_topology = instance_topology.obj_clone()
        return _nova_fit()(
            host_topology, instance_topology, provider_mapping,
            limits=limits, pci_requests=pci_requests, pci_stats=pci_stats)
    host_cell = next(
        (cell for cell in host_topology.cells if cell.id == cell_id), None)
    if host_cell is None or not network_fits(
            host_topology, host_cell, limits.network_metadata):
        return None
    return fit_cell_alone(
        host_cell, instance_topology.obj_clone(), _ratios_only(limits),
        pci_requests, pci_stats, provider_mapping)


def _nova_fit():
    """Nova's own function, as it was when the wrap was installed.

    Kept at install time rather than read from the module on each call,
    so that a later patch of the module attribute (a test's spy around
    the wrap) does not make the wrap call itself.
    """
    return _NOVA_FIT.get('fit') or hardware.numa_fit_instance_to_host


#: {'fit': Nova's numa_fit_instance_to_host} once install() wrapped it.
_NOVA_FIT = {}


def install():
    """Wrap ``hardware.numa_fit_instance_to_host`` (idempotent).

    Nova's callers (``compute/claims.py``, ``scheduler/host_manager.py``,
    the NUMATopologyFilter) look the function up in the module on every
    call, so the wrap reaches them all.
    """
    nova_compat.check(nova_compat.NUMA_FIT)
    nova_fit = hardware.numa_fit_instance_to_host
    if getattr(nova_fit, _WRAPPED_MARK, False) is True:
        return
    _NOVA_FIT.setdefault('fit', nova_fit)

    @functools.wraps(nova_fit)
    def wrapper(*args, **kwargs):
        return numa_fit_instance_to_host(*args, **kwargs)

    setattr(wrapper, _WRAPPED_MARK, True)
    hardware.numa_fit_instance_to_host = wrapper
