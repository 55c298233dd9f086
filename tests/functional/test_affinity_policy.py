"""gpu_numa:affinity_policy end to end, guests of several cells, the API.

Every test boots through the real API, scheduler, conductor and compute
(fake libvirt, real Placement). Hosts have 2 CPUs and 4 GB per cell; a
"filler" phone of 3 GB on the GPU's cell leaves that cell unable to hold a
second 3 GB phone while the other cell still can.
"""

from unittest import mock

from nova import objects
from nova.tests.functional.api import client

from nova_gpu_numa_sched import names
from tests.functional import base
from tests.functional import fake_drm

KEY = names.AFFINITY_POLICY_KEY
#: 2 cells of 4096 MB each.
KB_MEM = 8 * 1024 * 1024
BIG_MB = 3072
_MIGRATE_DISK = ('nova.virt.libvirt.driver.LibvirtDriver.'
                 'migrate_disk_and_power_off')


class AffinityPolicyBase(base.GpuNumaTestBase):

    #: A split host would win on GPU load alone with this multiplier.
    SCHEDULER_FLAGS = {'gpu_numa.weight_multiplier': 10.0}

    def start_host(self, hostname, gpu_cell=1, first_bus=3, cells=2):
        self.start_gpu_compute(
            hostname, cells=cells, kB_mem=KB_MEM,
            gpus=fake_drm.gpus_on_cells([gpu_cell], first_bus=first_bus))

    def flavor(self, policy=None, memory_mb=BIG_MB, vcpu=1, numa_nodes=1):
        extra_spec = {'hw:numa_nodes': str(numa_nodes)}
        if policy:
            extra_spec[KEY] = policy
        return self.phone_flavor(vcpu=vcpu, memory_mb=memory_mb,
                                 extra_spec=extra_spec)

    def boot(self, flavor, name, host=None, expected_state='ACTIVE'):
        return self._create_server(name=name, flavor_id=flavor,
                                   networks='none', host=host,
                                   expected_state=expected_state)

    def fill_gpu_cell(self, hostname):
        """A required phone that leaves the GPU's cell 1 GB free."""
        filler = self.boot(self.flavor(), 'filler-' + hostname,
                           host=hostname)
        self.assertColocated(filler)
        return filler

    def log_lines(self, level, *words):
        return [line for line in self.stdlog.logger.output.splitlines()
                if ' %s ' % level in line and all(w in line for w in words)]

    def cell_memory_usage(self, hostname):
        """{cell: MB} the resource tracker has claimed on the host."""
        rt = self.computes[hostname].manager.rt
        topology = objects.NUMATopology.obj_from_db_obj(
            rt.compute_nodes[hostname].numa_topology)
        return {cell.id: cell.memory_usage for cell in topology.cells}

    def assertSplit(self, server, gpu_cell=1, guest_cell=0):
        """Render node in the XML, vCPUs, emulator and RAM elsewhere."""
        placed = self.placed(server)
        gpu = self.gpu_of_rendernode(placed.host, placed.rendernode)
        self.assertIsNotNone(gpu, placed)
        self.assertEqual(gpu_cell, gpu.numa_node, placed)
        self.assertEqual(gpu_cell, placed.gpu_cell, placed)
        for cell in (placed.vcpu_cell, placed.memory_cell,
                     placed.emulator_cell):
            self.assertEqual(guest_cell, cell, placed)
        self.assertEqual([guest_cell], placed.claimed_cell, placed)
        return placed


class GpuCellTooSmallTest(AffinityPolicyBase):
    """The GPU's cell cannot hold the phone; the other cell can."""

    def test_required_gets_no_valid_host(self):
        self.start_host('host1')
        self.fill_gpu_cell('host1')
        for policy in (None, names.POLICY_REQUIRED):
            server = self.boot(self.flavor(policy), 'phone-%s' % policy,
                               expected_state='ERROR')
            self.assertIn('No valid host', server['fault']['message'])
            self.assertEqual({}, self._get_allocations_by_server_uuid(
                server['id']))
        self.assertEqual([], self.log_lines('WARNING', KEY))
        self.assertEqual({0: 0, 1: BIG_MB}, self.cell_memory_usage('host1'))

    def test_unvalidated_bad_value_is_required(self):
        """Set before API validation (microversion 2.85): never loosens."""
        self.start_host('host1')
        self.fill_gpu_cell('host1')
        admin = self.api_fixture.admin_api
        self.addCleanup(setattr, admin, 'microversion', admin.microversion)
        admin.microversion = '2.85'
        flavor = self.flavor('Preferred')
        server = self.boot(flavor, 'phone', expected_state='ERROR')
        self.assertIn('No valid host', server['fault']['message'])
        self.assertNotEqual([], self.log_lines(
            'ERROR', "'%s' is 'Preferred', not one of: required, "
            "preferred" % KEY))

    def test_preferred_splits_across_cells(self):
        self.start_host('host1')
        self.fill_gpu_cell('host1')
        server = self.boot(self.flavor(names.POLICY_PREFERRED), 'phone')
        placed = self.assertSplit(server)
        self.assertEqual('/dev/dri/renderD128', placed.rendernode)
        self.assertEqual({('host1', '/dev/dri/renderD128'): 2},
                         self.slot_usage())
        # The scheduler, the compute claim and the driver each say why.
        self.assertEqual(1, len(self.log_lines(
            'WARNING', server['id'], '%s=preferred' % KEY,
            'on host(s): host1 (render node on NUMA cell 1).')))
        self.assertEqual(1, len(self.log_lines(
            'WARNING', server['id'], 'no render node with 1 free slot(s) on '
            'a NUMA cell of host1', 'cell 1:', 'cannot fit',
            'claiming on any cell')))
        self.assertNotEqual([], self.log_lines(
            'WARNING', server['id'], 'renders through /dev/dri/renderD128 '
            'on cell 1'))
        # The pinned claim that failed first left nothing behind.
        self.assertEqual({0: BIG_MB, 1: BIG_MB},
                         self.cell_memory_usage('host1'))
        self.assertNoOrphanAllocations()

    def test_preferred_co_locates_when_the_gpu_cell_fits(self):
        self.start_host('host1')
        server = self.boot(self.flavor(names.POLICY_PREFERRED), 'phone')
        self.assertColocated(server)
        self.assertEqual([], self.log_lines('WARNING', KEY))

    def test_resize_to_preferred_follows_the_new_flavor(self):
        """The move claim reads the new flavor, not the instance's old one.

        The phone is required and co-located; its new, bigger flavor is
        preferred and its GPU's cell cannot hold it any more.
        """
        self.flags(allow_resize_to_same_host=True)
        self.start_host('host1')
        self.fill_gpu_cell('host1')
        server = self.boot(self.flavor(memory_mb=512), 'phone')
        self.assertColocated(server)
        bigger = self.flavor(names.POLICY_PREFERRED, memory_mb=2048)
        with mock.patch(_MIGRATE_DISK, return_value='{}'):
            server = self._resize_server(server, bigger)
        server = self._confirm_resize(server)
        self.assertSplit(server)
        self.assertEqual({0: 2048, 1: BIG_MB},
                         self.cell_memory_usage('host1'))
        self.assertNoOrphanAllocations()


class TwoHostsTest(AffinityPolicyBase):

    def test_preferred_picks_the_co_locating_host(self):
        """hostB's GPU is idler, but only hostA can co-locate."""
        self.start_host('hostA')
        self.start_host('hostB', first_bus=0x20)
        small = self.flavor(memory_mb=512)
        for i in range(2):
            self.assertColocated(self.boot(small, 'busy%d' % i,
                                           host='hostA'))
        self.fill_gpu_cell('hostB')
        self.assertEqual({('hostA', '/dev/dri/renderD128'): 2,
                          ('hostB', '/dev/dri/renderD128'): 1},
                         self.slot_usage())

        server = self.boot(self.flavor(names.POLICY_PREFERRED), 'phone')
        placed = self.assertColocated(server)
        self.assertEqual('hostA', placed.host)
        self.assertEqual([], self.log_lines('WARNING', KEY))


class MultiCellGuestTest(AffinityPolicyBase):

    def test_two_cell_guest_has_its_render_node_on_one_of_its_cells(self):
        """Nova alone would pick cells 0 and 1 of the idle host; GPU on 2."""
        self.start_host('host1', gpu_cell=2, cells=4)
        flavor = self.flavor(memory_mb=1024, vcpu=2, numa_nodes=2)
        server = self.boot(flavor, 'phone')
        placed = self.placed(server)
        self.assertEqual('/dev/dri/renderD128', placed.rendernode)
        self.assertEqual(2, placed.gpu_cell)
        self.assertEqual(2, len(placed.claimed_cell), placed)
        self.assertIn(2, placed.claimed_cell)
        self.assertEqual(sorted(placed.claimed_cell), placed.memory_cell)
        self.assertEqual(sorted(placed.claimed_cell), placed.vcpu_cell)
        self.assertEqual([], self.log_lines('ERROR', 'hw:numa_nodes'))


class PolicyValidationTest(AffinityPolicyBase):
    """nova-api refuses what the plugin would not understand, with 400."""

    def post(self, extra_specs):
        flavor = self._create_flavor(vcpu=1, memory_mb=512, disk=1,
                                     ephemeral=0)
        return self.admin_api.post_extra_spec(
            flavor, {'extra_specs': extra_specs})

    def test_bad_value_names_key_and_allowed_values(self):
        for value in ('Preferred', 'strict', ''):
            error = self.assertRaises(
                client.OpenStackApiException, self.post, {KEY: value})
            self.assertEqual(400, error.response.status_code)
            self.assertIn("extra spec '%s' must be one of: required, "
                          "preferred, socket; got '%s'" % (KEY, value),
                          str(error))

    def test_unknown_key_of_the_namespace_refused(self):
        for key in ('gpu_numa:affinity', 'gpu_numa:foo'):
            error = self.assertRaises(
                client.OpenStackApiException, self.post, {key: 'required'})
            self.assertEqual(400, error.response.status_code)
            self.assertIn("extra spec '%s' is not a known 'gpu_numa' extra "
                          "spec; known: '%s'" % (key, KEY), str(error))

    def test_valid_values_accepted(self):
        for value in names.AFFINITY_POLICIES:
            self.assertEqual(
                {KEY: value, 'hw:numa_nodes': '1'},
                self.post({KEY: value, 'hw:numa_nodes': '1'}).body[
                    'extra_specs'])


class DropInFilterTest(AffinityPolicyBase):
    """The same policy with GpuNumaTopologyFilter alone, no Nova NUMA filter.

    The split fit must not rely on NUMATopologyFilter having run.
    """

    ADDITIONAL_FILTERS = ['GpuNumaTopologyFilter']
    SCHEDULER_FLAGS = dict(AffinityPolicyBase.SCHEDULER_FLAGS, **{
        'filter_scheduler.available_filters': [
            'nova.scheduler.filters.all_filters',
            'nova_gpu_numa_sched.filters.GpuNumaTopologyFilter']})

    def test_required_refused_preferred_split(self):
        manager = self.scheduler.manager.host_manager
        self.assertEqual(
            ['GpuNumaTopologyFilter'],
            [f.__class__.__name__ for f in manager.enabled_filters
             if 'Numa' in f.__class__.__name__ or
             'NUMA' in f.__class__.__name__])
        self.start_host('host1')
        self.fill_gpu_cell('host1')
        server = self.boot(self.flavor(), 'required',
                           expected_state='ERROR')
        self.assertIn('No valid host', server['fault']['message'])
        server = self.boot(self.flavor(names.POLICY_PREFERRED), 'preferred')
        self.assertSplit(server)
        self.assertEqual({0: BIG_MB, 1: BIG_MB},
                         self.cell_memory_usage('host1'))
