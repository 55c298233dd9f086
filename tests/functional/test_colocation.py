"""A phone's render node, vCPUs and RAM share one host NUMA cell."""

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
