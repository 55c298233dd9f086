"""Tests of the cell-pinned NUMA fit (``pinned_fit``)."""

from nova import objects
from nova.virt import hardware
import testtools

from nova_gpu_numa_sched import cell_limits
from nova_gpu_numa_sched import names
from nova_gpu_numa_sched import pinned_fit

objects.register_all()

MB = 1024


def cell(cell_id, huge_2m=0, physnets=()):
    """A 4 GiB cell of 2 CPUs; ``huge_2m`` MiB of it in 2 MiB pages."""
    small_kb = (4096 - huge_2m) * MB
    mempages = [objects.NUMAPagesTopology(size_kb=4, total=small_kb // 4,
                                          used=0, reserved=0)]
    if huge_2m:
        mempages.append(objects.NUMAPagesTopology(
            size_kb=2048, total=huge_2m // 2, used=0, reserved=0))
    cpus = {2 * cell_id, 2 * cell_id + 1}
    return objects.NUMACell(
        id=cell_id, cpuset=cpus, pcpuset=set(), memory=4096, cpu_usage=0,
        memory_usage=0, pinned_cpus=set(), siblings=[{c} for c in cpus],
        socket=0, mempages=mempages,
        network_metadata=objects.NetworkMetadata(physnets=set(physnets),
                                                 tunneled=False))


def host(*cells):
    return cell_limits.add_cell_tokens(objects.NUMATopology(cells=cells))


def guest(pagesize=None, cells=1):
    return objects.InstanceNUMATopology(cells=[
        objects.InstanceNUMACell(id=i, cpuset={i}, pcpuset=set(),
                                 memory=512, cpu_policy=None,
                                 pagesize=pagesize)
        for i in range(cells)])


def limits(cell_id=None, physnets=()):
    tokens = {names.cell_token(cell_id)} if cell_id is not None else set()
    return objects.NUMATopologyLimits(
        cpu_allocation_ratio=1.0, ram_allocation_ratio=1.0,
        network_metadata=objects.NetworkMetadata(
            physnets=tokens | set(physnets), tunneled=False))


class PinnedCellTest(testtools.TestCase):

    def test_token_names_the_cell(self):
        self.assertEqual(3, pinned_fit.pinned_cell(limits(3, ['foo'])))

    def test_no_token_no_cell(self):
        self.assertIsNone(pinned_fit.pinned_cell(limits(None, ['foo'])))
        self.assertIsNone(pinned_fit.pinned_cell(None))
        self.assertIsNone(pinned_fit.pinned_cell(
            objects.NUMATopologyLimits(cpu_allocation_ratio=1.0,
                                       ram_allocation_ratio=1.0)))


class PinnedFitTest(testtools.TestCase):
    """Cell 0 offers 2 MiB pages, the pinned cell 1 only 4 KiB pages."""

    def setUp(self):
        super().setUp()
        self.host = host(cell(0, huge_2m=2048), cell(1))
        self.nova_fit = pinned_fit._nova_fit()

    def test_nova_carries_cell_0_page_size_to_cell_1(self):
        # The defect this module works around, in Nova's own fit.
        self.assertIsNone(self.nova_fit(
            self.host, guest(hardware.MEMPAGES_ANY), None, limits=limits(1)))

    def test_any_fits_on_pinned_cell_with_its_pages(self):
        fitted = pinned_fit.numa_fit_instance_to_host(
            self.host, guest(hardware.MEMPAGES_ANY), None, limits=limits(1))
        self.assertEqual([1], [c.id for c in fitted.cells])
        self.assertEqual(4, fitted.cells[0].pagesize)

    def test_callers_guest_is_left_alone(self):
        requested = guest(hardware.MEMPAGES_ANY)
        pinned_fit.numa_fit_instance_to_host(
            self.host, requested, None, limits=limits(0))
        self.assertEqual(hardware.MEMPAGES_ANY, requested.cells[0].pagesize)
        self.assertEqual(0, requested.cells[0].id)

    def test_explicit_size_the_pinned_cell_lacks(self):
        self.assertIsNone(pinned_fit.numa_fit_instance_to_host(
            self.host, guest(2048), None, limits=limits(1)))

    def test_unknown_cell(self):
        self.assertIsNone(pinned_fit.numa_fit_instance_to_host(
            self.host, guest(), None, limits=limits(7)))

    def test_physnet_of_another_cell_rules_the_cell_out(self):
        topology = host(cell(0, physnets=['foo']), cell(1))
        self.assertIsNone(pinned_fit.numa_fit_instance_to_host(
            topology, guest(), None, limits=limits(1, ['foo'])))
        fitted = pinned_fit.numa_fit_instance_to_host(
            topology, guest(), None, limits=limits(0, ['foo']))
        self.assertEqual([0], [c.id for c in fitted.cells])

    def test_unpinned_fit_is_novas(self):
        for requested_limits in (None, limits(None)):
            ours = pinned_fit.numa_fit_instance_to_host(
                self.host, guest(hardware.MEMPAGES_ANY), None,
                limits=requested_limits)
            nova = self.nova_fit(self.host, guest(hardware.MEMPAGES_ANY),
                                 None, limits=requested_limits)
            self.assertEqual(
                [(c.id, c.pagesize) for c in nova.cells],
                [(c.id, c.pagesize) for c in ours.cells])

    def test_several_guest_cells_keep_novas_whole_host_fit(self):
        topology = host(cell(0), cell(1), cell(2))
        fitted = pinned_fit.numa_fit_instance_to_host(
            topology, guest(cells=2), None, limits=limits(2))
        self.assertIn(2, [c.id for c in fitted.cells])


class InstallTest(testtools.TestCase):

    def test_wraps_once_and_names_novas_function(self):
        nova_fit = pinned_fit._nova_fit()
        self.addCleanup(setattr, hardware, 'numa_fit_instance_to_host',
                        hardware.numa_fit_instance_to_host)
        pinned_fit.install()
        installed = hardware.numa_fit_instance_to_host
        pinned_fit.install()
        self.assertIs(installed, hardware.numa_fit_instance_to_host)
        self.assertIs(nova_fit, installed.__wrapped__)
        self.assertIs(nova_fit, pinned_fit._nova_fit())
