"""Phones with huge pages, dedicated CPUs, isolated emulator threads, ports.

Every test boots through the real API, scheduler, conductor and compute
(fake libvirt, real Placement) on a host of two cells with its GPU on cell
1: each phone is co-located with its render node, or gets a clean
NoValidHost from the scheduler, never a failed compute claim. Each class
runs with the filter pair of the base and again with
``GpuNumaTopologyFilter`` (``test_topology_filter``).
"""

from lxml import etree
from nova.conf import neutron as neutron_conf
from nova import objects
from nova.tests.fixtures import libvirt as fakelibvirt
from nova.tests.functional.libvirt import base as libvirt_base
from oslo_serialization import jsonutils

from tests.functional import base
from tests.functional import fake_drm

#: Two cells of 4096 MB each, two CPUs each (0-1 on cell 0, 2-3 on 1).
KB_MEM = 8 * 1024 * 1024
GPU_CELL = 1
#: The GPU cell's CPUs on a host of three cores per cell.
GPU_CELL_CPUS = {3, 4, 5}
#: 1 GiB of huge pages of a size, on one cell.
PAGES_2M = (2048, 512)
PAGES_1G = (1024 * 1024, 1)
NO_VALID_HOST = 'No valid host was found'


class GuestKindsBase(base.GpuNumaTestBase):

    def start_host(self, huge_pages=None, cores=2, pci_info=None):
        return self.start_gpu_compute(
            'host1', cells=2, cores=cores, kB_mem=KB_MEM,
            huge_pages=huge_pages, pci_info=pci_info,
            gpus=fake_drm.gpus_on_cells([GPU_CELL]))

    def boot(self, extra_spec, vcpu=1, memory_mb=512, name='phone',
             expected_state='ACTIVE', networks='none'):
        flavor = self.phone_flavor(vcpu=vcpu, memory_mb=memory_mb,
                                   extra_spec=extra_spec)
        return self._create_server(
            name=name, flavor_id=flavor, networks=networks,
            expected_state=expected_state)

    def assertNoValidHost(self, server):
        """Refused by the scheduler: no claim failed, no reschedule."""
        server = self.admin_api.get_server(server['id'])
        self.assertEqual('ERROR', server['status'])
        self.assertIn(NO_VALID_HOST, server['fault']['message'])
        self.assertNotIn('retries', server['fault']['message'])
        self.assertIsNone(server['OS-EXT-SRV-ATTR:host'])

    def claimed_cells(self, server):
        return objects.InstanceNUMATopology.get_by_instance_uuid(
            self.ctxt, server['id']).cells

    def xml_page_sizes(self, server):
        """{guest cell: page size KiB} of the guest XML's huge pages."""
        xml = etree.fromstring(self.guest_xml[server['id']])
        return {int(page.get('nodeset')): int(page.get('size'))
                for page in xml.findall('./memoryBacking/hugepages/page')}


class HugePagesTest(GuestKindsBase):
    """``hw:mem_page_size``: the GPU's cell's pages, not an earlier cell's.

    Nova's fit writes the page size it picked on an earlier cell into the
    guest before the claim's cell pin rejects that cell
    (``pinned_fit``); these hosts have cell 0, which Nova tries first,
    offer other pages than the GPU's cell 1.
    """

    def test_any_takes_small_pages_of_gpu_cell(self):
        # Cell 0: 2 MiB pages free; cell 1 (GPU): 4 KiB pages only.
        self.start_host(huge_pages={0: [PAGES_2M]})
        server = self.boot({'hw:mem_page_size': 'any'})
        self.assertColocated(server)
        self.assertEqual(4, self.claimed_cells(server)[0].pagesize)
        self.assertEqual({}, self.xml_page_sizes(server))

    def test_any_takes_huge_pages_of_gpu_cell(self):
        self.start_host(huge_pages={0: [PAGES_1G], 1: [PAGES_2M]})
        server = self.boot({'hw:mem_page_size': 'any'})
        self.assertColocated(server)
        self.assertEqual(2048, self.claimed_cells(server)[0].pagesize)
        self.assertEqual({0: 2048}, self.xml_page_sizes(server))

    def test_large_takes_gpu_cells_large_pages(self):
        # Cell 0: 1 GiB pages; cell 1 (GPU): 2 MiB pages.
        self.start_host(huge_pages={0: [PAGES_1G], 1: [PAGES_2M]})
        server = self.boot({'hw:mem_page_size': 'large'})
        self.assertColocated(server)
        self.assertEqual(2048, self.claimed_cells(server)[0].pagesize)
        self.assertEqual({0: 2048}, self.xml_page_sizes(server))

    def test_explicit_size_of_gpu_cell(self):
        self.start_host(huge_pages={0: [PAGES_1G], 1: [PAGES_2M]})
        server = self.boot({'hw:mem_page_size': '2MB'})
        self.assertColocated(server)
        self.assertEqual({0: 2048}, self.xml_page_sizes(server))

    def test_explicit_size_gpu_cell_lacks_is_no_valid_host(self):
        # Only cell 0 has 1 GiB pages: the scheduler refuses the host.
        self.start_host(huge_pages={0: [PAGES_1G], 1: [PAGES_2M]})
        server = self.boot({'hw:mem_page_size': '1GB'}, memory_mb=1024,
                           expected_state='ERROR')
        self.assertNoValidHost(server)

    def test_large_without_gpu_cell_huge_pages_is_no_valid_host(self):
        self.start_host(huge_pages={0: [PAGES_2M]})
        server = self.boot({'hw:mem_page_size': 'large'},
                           expected_state='ERROR')
        self.assertNoValidHost(server)

    def test_gpu_cells_pages_used_up_is_no_valid_host(self):
        # 1 GiB of 2 MiB pages on the GPU's cell: a second phone of 768 MB
        # does not fit there, though cell 0 has the same pages free.
        self.start_host(huge_pages={0: [PAGES_2M], 1: [PAGES_2M]})
        first = self.boot({'hw:mem_page_size': 'large'}, memory_mb=768)
        self.assertColocated(first)
        second = self.boot({'hw:mem_page_size': 'large'}, memory_mb=768,
                           name='second', expected_state='ERROR')
        self.assertNoValidHost(second)


class DedicatedCpusTest(GuestKindsBase):
    """``hw:cpu_policy=dedicated`` on the ``cpu_dedicated_set``."""

    def setUp(self):
        super().setUp()
        self.flags(cpu_dedicated_set='0-5', cpu_shared_set=None,
                   group='compute')
        self.flags(vcpu_pin_set=None)

    def pinned_cpus(self, server):
        return set(self.claimed_cells(server)[0].cpu_pinning.values())

    def test_dedicated_phone_pinned_on_gpu_cell(self):
        self.start_host(cores=3)
        server = self.boot({'hw:cpu_policy': 'dedicated'}, vcpu=2)
        self.assertColocated(server)
        self.assertEqual(2, len(self.pinned_cpus(server)))
        self.assertEqual(set(), self.pinned_cpus(server) - GPU_CELL_CPUS)

    def test_isolated_emulator_thread_on_gpu_cell(self):
        self.start_host(cores=3)
        server = self.boot({'hw:cpu_policy': 'dedicated',
                            'hw:emulator_threads_policy': 'isolate'},
                           vcpu=2)
        placed = self.assertColocated(server)
        reserved = set(self.claimed_cells(server)[0].cpuset_reserved)
        self.assertEqual(1, len(reserved))
        self.assertEqual(set(), reserved - GPU_CELL_CPUS, placed)
        self.assertEqual(set(), reserved & self.pinned_cpus(server))

    def test_gpu_cell_cpus_taken_is_no_valid_host(self):
        # The GPU's cell has 3 dedicated CPUs: 2 for the phone and 1 for
        # its isolated emulator thread; a second phone does not fit there
        # although cell 0's three CPUs are free.
        self.start_host(cores=3)
        first = self.boot({'hw:cpu_policy': 'dedicated',
                           'hw:emulator_threads_policy': 'isolate'},
                          vcpu=2)
        self.assertColocated(first)
        second = self.boot({'hw:cpu_policy': 'dedicated'}, vcpu=1,
                           name='second', expected_state='ERROR')
        self.assertNoValidHost(second)


class PhysnetAffinityTest(GuestKindsBase):
    """A port on a physnet with NUMA affinity, ``[neutron] physnets``.

    ``foo`` (network_1) is local to the GPU's cell 1, ``bar`` (network_2)
    to cell 0; ``network_3`` is tunneled, local to both cells.
    """

    def setUp(self):
        self.flags(physnets=['foo', 'bar'], group='neutron')
        neutron_conf.register_dynamic_opts(base.CONF)
        self.flags(numa_nodes=[GPU_CELL], group='neutron_physnet_foo')
        self.flags(numa_nodes=[0], group='neutron_physnet_bar')
        self.flags(numa_nodes=[0, 1], group='neutron_tunnel')
        super().setUp()
        self.neutron = self.useFixture(
            libvirt_base.LibvirtNeutronFixture(self))

    def test_port_on_gpu_cells_physnet_co_located(self):
        self.start_host()
        server = self.boot(
            {}, networks=[
                {'uuid': libvirt_base.LibvirtNeutronFixture.network_1['id']},
                {'uuid': libvirt_base.LibvirtNeutronFixture.network_3['id']}])
        self.assertColocated(server)

    def test_port_on_other_cells_physnet_is_no_valid_host(self):
        self.start_host()
        server = self.boot(
            {}, expected_state='ERROR', networks=[
                {'uuid': libvirt_base.LibvirtNeutronFixture.network_2['id']}])
        self.assertNoValidHost(server)


class SriovPortTest(GuestKindsBase):
    """An SR-IOV VF port on ``physnet4``, NUMA-affine to one cell."""

    #: The PciPassthroughFilter that SR-IOV ports need, before the plugin.
    ADDITIONAL_FILTERS = ['NUMATopologyFilter', 'PciPassthroughFilter',
                          'GpuNumaAffinityFilter']
    PHYSNET = 'physnet4'
    PORT = libvirt_base.LibvirtNeutronFixture.network_4_port_1

    def setUp(self):
        self.flags(device_spec=[jsonutils.dumps({
            'vendor_id': fakelibvirt.PCI_VEND_ID, 'product_id': product,
            'physical_network': self.PHYSNET})
            for product in (fakelibvirt.PF_PROD_ID,
                            fakelibvirt.VF_PROD_ID)], group='pci')
        self.flags(physnets=[self.PHYSNET], group='neutron')
        neutron_conf.register_dynamic_opts(base.CONF)
        super().setUp()
        self.neutron = self.useFixture(
            libvirt_base.LibvirtNeutronFixture(self))

    def boot_with_port(self, nic_cell, expected_state='ACTIVE'):
        """A phone with a VF of a NIC on ``nic_cell``, the physnet's cell."""
        self.flags(numa_nodes=[nic_cell],
                   group='neutron_physnet_%s' % self.PHYSNET)
        self.start_host(pci_info=fakelibvirt.HostPCIDevicesInfo(
            num_pfs=1, num_vfs=2, numa_node=nic_cell))
        self.neutron.create_port({'port': self.PORT})
        return self.boot({}, networks=[{'port': self.PORT['id']}],
                         expected_state=expected_state)

    def test_vf_on_gpu_cell_co_located(self):
        server = self.boot_with_port(GPU_CELL)
        self.assertColocated(server)
        port = self.neutron.show_port(self.PORT['id'])['port']
        self.assertEqual(self.PHYSNET,
                         port['binding:profile']['physical_network'])

    def test_vf_on_other_cell_is_no_valid_host(self):
        server = self.boot_with_port(0, expected_state='ERROR')
        self.assertNoValidHost(server)
