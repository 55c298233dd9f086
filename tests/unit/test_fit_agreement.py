"""The scheduler and the compute claim agree, for every guest Nova describes.

A property-based differential test (hypothesis). It draws a host (cells on
one or two per socket, SMT siblings or none, shared and dedicated CPUs with
some pinned, 4 KiB, 2 MiB and 1 GiB pages with some used and reserved,
allocation ratios, physnets and tunneled networks local to some cells,
render nodes with free slots on some cells, PCI devices) and a phone
flavor (shared, dedicated or mixed CPUs; thread policies; emulator threads
shared or isolated; a realtime mask; a page size; one to four guest cells;
a PCI alias of each NUMA policy; network NUMA affinity), builds the guest
with Nova's own ``hardware.numa_get_constraints`` and PCI requests with
Nova's ``get_pci_requests_from_flavor``, then asks both sides:

* the scheduler: ``GpuNumaTopologyFilter`` (Nova's CPU-policy check, then
  ``GpuNumaAffinityFilter`` and ``scheduler.cell_fit``) over the render
  nodes nova-compute publishes in the host's stats, each alone and all
  together, then the scheduler's own consume of the chosen host
  (``HostState``);
* the compute claim: Nova's ``Claim._test_numa_topology`` with the limits
  ``claim_cell.pinned_limits`` pins to each render node's cell.

Every render node the filter keeps must be claimable on its cell, every
one it drops must fail the claim there; the host passes exactly when one
render node's cell is claimable, the render node the filter chooses is the
one the claim, trying cells in ``slot_choice``'s order, lands on, and the
consume must fit the guest on its cell.

Runs: the ``ci`` profile (the default; derandomized, so every run draws
the same cases) in the normal test run;
``GPU_NUMA_HYPOTHESIS_PROFILE=thorough`` draws new random cases,
``GPU_NUMA_HYPOTHESIS_EXAMPLES`` of them (default 20000). See
``doc/source/testing.rst``.
"""

import logging
import os
import types

import fixtures
import hypothesis
from hypothesis import strategies as st
from nova.compute import claims
from nova import conf as nova_conf
from nova import exception
from nova import objects
from nova.objects import fields
from nova.pci import request as pci_request
from nova.pci import stats as pci_stats
from nova.pci import whitelist
from nova.scheduler import host_manager
from nova.virt import hardware
from oslo_config import fixture as config_fixture
from oslo_serialization import jsonutils
from oslo_utils.fixture import uuidsentinel as uuids

from nova_gpu_numa_sched import cell_limits
from nova_gpu_numa_sched.compute import claim_cell
from nova_gpu_numa_sched.compute import slot_choice
from nova_gpu_numa_sched import filters
from nova_gpu_numa_sched import names
from nova_gpu_numa_sched import pinned_fit
from nova_gpu_numa_sched import render_usage
from tests.unit import test_filter_weigher as helpers

#: No 'explain' phase: it re-runs a failing case many times over.
_PHASES = (hypothesis.Phase.explicit, hypothesis.Phase.reuse,
           hypothesis.Phase.generate, hypothesis.Phase.shrink)
hypothesis.settings.register_profile(
    'ci', max_examples=1500, derandomize=True, deadline=None,
    database=None, print_blob=True, phases=_PHASES,
    suppress_health_check=[hypothesis.HealthCheck.too_slow])
hypothesis.settings.register_profile(
    'thorough', max_examples=int(os.environ.get(
        'GPU_NUMA_HYPOTHESIS_EXAMPLES', '20000')),
    deadline=None, database=None, print_blob=True, phases=_PHASES,
    suppress_health_check=[hypothesis.HealthCheck.too_slow])
PROFILE = hypothesis.settings.get_profile(
    os.environ.get('GPU_NUMA_HYPOTHESIS_PROFILE', 'ci'))

HOST = 'host1'
PAGE_SMALL, PAGE_2M, PAGE_1G = 4, 2048, 1024 * 1024
PHYSNETS = ('foo', 'bar')
PCI_VENDOR, PCI_PRODUCT = '8086', '1528'
PCI_POLICIES = tuple(fields.PCINUMAAffinityPolicy.ALL)
#: One alias per PCI NUMA policy, named after it.
PCI_ALIASES = [jsonutils.dumps({
    'name': 'nic-%s' % policy, 'vendor_id': PCI_VENDOR,
    'product_id': PCI_PRODUCT, 'device_type': 'type-PCI',
    'numa_policy': policy}) for policy in PCI_POLICIES]
PCI_DEVICE_SPEC = [jsonutils.dumps({'vendor_id': PCI_VENDOR,
                                    'product_id': PCI_PRODUCT})]


#: Strategies with fixed bounds: hypothesis caches them, while one built
#: per draw (``st.integers(0, n)`` for each n) costs more than the fit.
_EIGHTHS = st.integers(0, 8)
#: Eighths of a cell in use, more often little than much.
_USAGE = st.sampled_from([0, 0, 0, 1, 2, 4, 6, 8])
_BOOLEANS = st.booleans()
_ONE_IN_FOUR = st.sampled_from([False, False, False, True])
#: Network NUMA affinity: none for most cells and requests.
_PHYSNET_SETS = st.sampled_from(
    [set(), set(), set(), {PHYSNETS[0]}, {PHYSNETS[1]}, set(PHYSNETS)])


def _share(draw, total, eighths=_EIGHTHS):
    """A drawn part of ``total``: none, all or some eighths of it."""
    return total * draw(eighths) // 8


def _pages(draw, size_kb, memory_kb):
    """A huge page pool of ``size_kb`` within ``memory_kb``, or None."""
    most = memory_kb // size_kb
    if not most or not draw(_BOOLEANS):
        return None
    total = max(1, _share(draw, most))
    used = _share(draw, total, _USAGE)
    reserved = _share(draw, total - used, _USAGE)
    return objects.NUMAPagesTopology(size_kb=size_kb, total=total,
                                     used=used, reserved=reserved)


@st.composite
def host_cells(draw):
    """The NUMA cells of a host, with their tokens (as the driver adds)."""
    count = draw(st.integers(1, 4))
    per_socket = draw(st.sampled_from([1, 2]))
    threads = draw(st.sampled_from([1, 2]))
    cores = draw(st.integers(1, 3))
    cpu_sets = draw(st.sampled_from(['shared', 'shared', 'dedicated',
                                     'both', 'both']))
    cells, first = [], 0
    for cell_id in range(count):
        cpus = list(range(first, first + cores * threads))
        first += len(cpus)
        siblings = [set(cpus[i:i + threads])
                    for i in range(0, len(cpus), threads)]
        if cpu_sets == 'shared':
            shared, dedicated = set(cpus), set()
        elif cpu_sets == 'dedicated':
            shared, dedicated = set(), set(cpus)
        else:
            shared = set().union(*siblings[:(len(siblings) + 1) // 2])
            dedicated = set(cpus) - shared
        # Each dedicated CPU pinned by an earlier guest, or not.
        pinned = {cpu for cpu in sorted(dedicated) if draw(_ONE_IN_FOUR)}
        memory = draw(st.sampled_from([1024, 2048, 3072, 4096]))
        memory_kb = memory * 1024
        huge, left_kb = [], memory_kb
        for size_kb in (PAGE_1G, PAGE_2M):
            pages = _pages(draw, size_kb, left_kb)
            if pages is not None:
                huge.append(pages)
                left_kb -= size_kb * pages.total
        small_total = left_kb // PAGE_SMALL
        mempages = [objects.NUMAPagesTopology(
            size_kb=PAGE_SMALL, total=small_total,
            used=_share(draw, small_total, _USAGE), reserved=0)] + huge[::-1]
        cells.append(objects.NUMACell(
            id=cell_id, socket=cell_id // per_socket, cpuset=shared,
            pcpuset=dedicated, memory=memory,
            cpu_usage=_share(draw, 2 * len(shared), _USAGE),
            memory_usage=_share(draw, memory, _USAGE),
            pinned_cpus=pinned, siblings=siblings, mempages=mempages,
            network_metadata=objects.NetworkMetadata(
                physnets=draw(_PHYSNET_SETS),
                tunneled=draw(_ONE_IN_FOUR))))
    return cell_limits.add_cell_tokens(objects.NUMATopology(cells=cells))


_RENDER_SLOTS = st.sampled_from([None, 0, 1, 1, 2])
_PCI_NODE = st.integers(-1, 3)


@st.composite
def hosts(draw):
    topology = draw(host_cells())
    count = len(topology.cells)
    # {cell: free slots} of the render nodes, at most one per cell.
    render = {}
    for cell in range(count):
        free = draw(_RENDER_SLOTS)
        if free is not None:
            render[cell] = free
    hypothesis.assume(render)
    # NUMA node of each PCI device (None: the device reports none).
    pci_devices = [None if node < 0 else node % count
                   for node in draw(st.lists(_PCI_NODE, max_size=3))]
    return types.SimpleNamespace(
        topology=topology,
        cpu_ratio=draw(st.sampled_from([1.0, 2.0, 4.0, 16.0])),
        ram_ratio=draw(st.sampled_from([1.0, 1.5])),
        render=render, pci_devices=pci_devices)


_THREAD_POLICY = st.sampled_from([None, 'prefer', 'isolate', 'require'])
_EMULATOR_POLICY = st.sampled_from([None, 'share', 'isolate'])
_PAGE_SIZE = st.sampled_from(
    [None, 'small', 'large', 'any', '4KB', '2MB', '1GB'])
#: Half the phones without a PCI device.
_PCI_POLICY = st.sampled_from((None,) * len(PCI_POLICIES) + PCI_POLICIES)
#: Phones are mostly one cell.
_GUEST_CELLS = st.sampled_from([1, 1, 1, 2, 3, 4])


@st.composite
def phones(draw):
    """(flavor, network metadata) of a phone with one render slot."""
    numa_nodes = draw(_GUEST_CELLS)
    vcpus = numa_nodes * draw(st.integers(1, 3))
    memory_mb = numa_nodes * draw(st.sampled_from([256, 512, 1024]))
    specs = {'hw:numa_nodes': str(numa_nodes),
             'resources:%s' % names.RESOURCE_CLASS: '1'}
    policy = draw(st.sampled_from([None, 'shared', 'dedicated', 'mixed']))
    if policy:
        specs['hw:cpu_policy'] = policy
    if policy == 'mixed':
        hypothesis.assume(vcpus >= 2)
        specs['hw:cpu_dedicated_mask'] = '^0'
    if policy in ('dedicated', 'mixed'):
        for key, strategy in (
                ('hw:cpu_thread_policy', _THREAD_POLICY),
                ('hw:emulator_threads_policy', _EMULATOR_POLICY)):
            value = draw(strategy)
            if value:
                specs[key] = value
        if policy == 'dedicated' and vcpus >= 2 and draw(_BOOLEANS):
            specs['hw:cpu_realtime'] = 'yes'
            specs['hw:cpu_realtime_mask'] = '^0'
    page_size = draw(_PAGE_SIZE)
    if page_size:
        specs['hw:mem_page_size'] = page_size
    pci = draw(_PCI_POLICY)
    if pci:
        specs['pci_passthrough:alias'] = 'nic-%s:1' % pci
    flavor = objects.Flavor(
        id=1, flavorid='phone', name='phone', vcpus=vcpus,
        memory_mb=memory_mb, root_gb=1, ephemeral_gb=0, swap=0,
        extra_specs=specs)
    network = objects.NetworkMetadata(
        physnets=draw(_PHYSNET_SETS), tunneled=draw(_ONE_IN_FOUR))
    return flavor, network


def _pci_stats(topology, devices):
    """Nova's PCI pools of the host, from its devices."""
    found = pci_stats.PciDeviceStats(
        topology, dev_filter=whitelist.Whitelist(PCI_DEVICE_SPEC))
    for index, numa_node in enumerate(devices):
        found.add_device(objects.PciDevice(
            compute_node_id=1, address='0000:81:00.%d' % index,
            vendor_id=PCI_VENDOR, product_id=PCI_PRODUCT,
            numa_node=numa_node, status=fields.PciDeviceStatus.AVAILABLE,
            dev_type=fields.PciDeviceType.STANDARD, parent_addr=None,
            extra_info={}, request_id=None, instance_uuid=None,
            dev_id='pci_0000_81_00_%d' % index, label='label_8086_1528'))
    return found


class FitAgreementTest(helpers.PluginTestCase):

    def setUp(self):
        super().setUp()
        # Nova's fit logs each try at DEBUG: thousands of cases would
        # spend most of their time formatting them.
        self.useFixture(fixtures.FakeLogger(level=logging.WARNING))
        nova_config = self.useFixture(config_fixture.Config(nova_conf.CONF))
        nova_config.config(alias=PCI_ALIASES, group='pci')
        # Nova reads [pci] alias once per process (functools.cache).
        pci_request.get_alias_from_config.cache_clear()
        self.addCleanup(pci_request.get_alias_from_config.cache_clear)
        self.topology_filter = filters.GpuNumaTopologyFilter()
        # What claim_cell.install() does in nova-compute (the filter's
        # constructor has done it for nova-scheduler).
        pinned_fit.install()

    def guest(self, flavor):
        """Nova's guest topology and PCI requests, or None if invalid."""
        image = objects.ImageMeta.from_dict({'properties': {}})
        try:
            topology = hardware.numa_get_constraints(flavor, image)
            requests = pci_request.get_pci_requests_from_flavor(flavor)
        except exception.Invalid:
            return None
        return topology, requests, image

    def scheduler_host(self, host, cells=None):
        """The host as the scheduler sees it.

        Its render nodes as nova-compute publishes them (only those on
        ``cells``, if given).
        """
        state = host_manager.HostState(HOST, HOST, uuids.cell)
        state.uuid = uuids.host
        state.cpu_allocation_ratio = host.cpu_ratio
        state.ram_allocation_ratio = host.ram_ratio
        state.numa_topology = host.topology.obj_clone()
        state.pci_stats = _pci_stats(state.numa_topology, host.pci_devices)
        state.stats = {names.RENDER_NODES_STAT: helpers.published([
            ('gpu%d' % cell, cell, 2 - free, 2)
            for cell, free in sorted(host.render.items())
            if cells is None or cell in cells])}
        # Placement's one candidate: the slots are on the compute node.
        state.allocation_candidates = [helpers.candidate(state.uuid)]
        return state

    def tracker(self, host):
        """What ``pinned_limits`` and ``Claim`` read of a resource tracker."""
        node = objects.ComputeNode(
            uuid=uuids.host,
            cpu_allocation_ratio=host.cpu_ratio,
            ram_allocation_ratio=host.ram_ratio,
            numa_topology=host.topology._to_json())
        return types.SimpleNamespace(
            compute_nodes={HOST: node},
            pci_tracker=types.SimpleNamespace(
                stats=_pci_stats(host.topology.obj_clone(),
                                 host.pci_devices)))

    def claim(self, tracker, guest, pci_requests, cell, limits):
        """Nova's claim test, limits pinned by ``claim_cell``: cells|None."""
        pinned = claim_cell.pinned_limits(tracker, HOST, limits, cell)
        # Claim.__init__ without the copy of a whole Instance it makes.
        claim = claims.Claim.__new__(claims.Claim)
        claim.instance = objects.Instance(uuid=uuids.instance,
                                          numa_topology=guest.obj_clone())
        claim.nodename = HOST
        claim._pci_requests = pci_requests
        claim.tracker = tracker
        try:
            claim._claim_test(tracker.compute_nodes[HOST], pinned)
        except exception.ComputeResourcesUnavailable:
            return None
        return [c.id for c in claim.claimed_numa_topology.cells]

    def scheduler_passes(self, host, spec_obj, cells=None):
        """The filter's answer for the host, in a new request's view."""
        state = self.scheduler_host(host, cells)
        self.set_view()
        passed = bool(self.topology_filter.filter_all([state], spec_obj))
        return state, passed

    @hypothesis.settings(PROFILE)
    @hypothesis.given(host=hosts(), phone=phones())
    def test_scheduler_and_claim_agree(self, host, phone):
        flavor, network = phone
        built = self.guest(flavor)
        hypothesis.assume(built is not None)
        guest, pci_requests, image = built
        hypothesis.assume(len(guest.cells) <= len(host.topology.cells))

        def request():
            return objects.RequestSpec(
                flavor=flavor, numa_topology=guest.obj_clone(), image=image,
                pci_requests=pci_requests, instance_uuid=uuids.instance,
                network_metadata=network, num_instances=1)

        spec_obj = request()
        state, passed = self.scheduler_passes(host, spec_obj)
        chosen = self.view.chosen.get(state.uuid)
        # Without a pass, the limits NUMATopologyFilter would hand the
        # claim: the ratios and the request's network affinity.
        limits = state.limits if passed else {
            'numa_topology': objects.NUMATopologyLimits(
                cpu_allocation_ratio=host.cpu_ratio,
                ram_allocation_ratio=host.ram_ratio,
                network_metadata=network)}
        tracker = self.tracker(host)
        claimable = set()
        for cell, free in sorted(host.render.items()):
            if not free:
                continue
            claimed = self.claim(tracker, guest, pci_requests, cell, limits)
            # The scheduler's answer for that render node alone.
            _, kept = self.scheduler_passes(host, request(), {cell})
            if kept:
                self.assertIsNotNone(
                    claimed, 'the scheduler keeps cell %d, the claim '
                    'fails there' % cell)
                self.assertIn(cell, claimed)
                if len(guest.cells) == 1:
                    self.assertEqual([cell], claimed)
                claimable.add(cell)
            else:
                self.assertIsNone(
                    claimed, 'the scheduler drops cell %d, the claim '
                    'holds it' % cell)
        self.assertEqual(bool(claimable), passed)
        if not passed:
            self.assertIsNone(chosen)
            return
        # The claim tries the cells in the order the scheduler ranks them
        # (least used render node first): it lands where the scheduler
        # chose.
        usage = {'gpu%d' % cell: render_usage.RenderNodeUsage(
            key='gpu%d' % cell, cell=cell, slots=2, used=2 - free)
            for cell, free in host.render.items()}
        first = next(cell for cell, _ in slot_choice.ranked_cells(usage, 1)
                     if cell in claimable)
        self.assertEqual('gpu%d' % first, chosen)
        # The scheduler's own consume of the chosen host re-fits with
        # the filter's limits: on the chosen render node's cell.
        state.consume_from_request(spec_obj)
        self.assertIsNotNone(spec_obj.numa_topology)
        self.assertIn(first, [c.id for c in spec_obj.numa_topology.cells])
