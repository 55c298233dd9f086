"""A phone's render node, vCPUs and RAM share one host NUMA cell."""

from nova.tests.functional.api import client

from tests.functional import base
from tests.functional import fake_drm


class ColocationTest(base.GpuNumaTestBase):

    def test_gpus_on_some_cells_of_four_cell_host(self):
        # GPUs on cells 1 and 3 only; cells 0 and 2 have none.
        self.start_gpu_compute('host1', cells=4,
                               gpus=fake_drm.gpus_on_cells([1, 3]))
        flavor = self.phone_flavor()
        cells = set()
        for i in range(4):
            server = self._create_server(
                name='phone%d' % i, flavor_id=flavor, networks='none')
            placed = self.assertColocated(server)
            cells.add(placed.gpu_cell)
        self.assertEqual({1, 3}, cells)


class FlavorValidationTest(base.GpuNumaTestBase):
    """A bad render-slot extra spec is refused at the API, key named."""

    def test_non_integer_slot_count_rejected(self):
        flavor = self._create_flavor(vcpu=1, memory_mb=512, disk=1,
                                     ephemeral=0)
        error = self.assertRaises(
            client.OpenStackApiException,
            self.admin_api.post_extra_spec, flavor,
            {'extra_specs': {'hw:numa_nodes': '1',
                             'resources:CUSTOM_GPU_RENDER_SLOT': 'one'}})
        self.assertEqual(400, error.response.status_code)
        self.assertIn("extra spec 'resources:CUSTOM_GPU_RENDER_SLOT' must "
                      "be an integer >= 0", str(error))

    def test_negative_and_suffixed_bad_values_rejected(self):
        flavor = self._create_flavor(vcpu=1, memory_mb=512, disk=1,
                                     ephemeral=0)
        for key, value in (('resources:CUSTOM_GPU_RENDER_SLOT', '-1'),
                           ('resources_GPU:CUSTOM_GPU_RENDER_SLOT', 'x')):
            error = self.assertRaises(
                client.OpenStackApiException,
                self.admin_api.post_extra_spec, flavor,
                {'extra_specs': {key: value}})
            self.assertEqual(400, error.response.status_code)

    def test_valid_slot_specs_accepted(self):
        """Valid render specs are stored as given and the phone boots."""
        self.start_gpu_compute('host1', cells=2,
                               gpus=fake_drm.gpus_on_cells([1]))
        for group, policy in (('', 'required'), ('_GPU', 'preferred')):
            wanted = {'hw:numa_nodes': '1',
                      'resources%s:CUSTOM_GPU_RENDER_SLOT' % group: '1',
                      'gpu_numa:affinity_policy': policy}
            flavor = self.phone_flavor(group=group, extra_spec={
                'gpu_numa:affinity_policy': policy})
            # Read back through the API, as a user sees them.
            self.assertEqual(wanted,
                             self.api.get_extra_specs(flavor))
            self.assertEqual(wanted,
                             self.api.get_flavor(flavor)['extra_specs'])
            server = self._create_server(
                name='phone%s' % group, flavor_id=flavor, networks='none')
            self.assertEqual('ACTIVE', server['status'])
            self.assertEqual(1, self.assertColocated(server).gpu_cell)
