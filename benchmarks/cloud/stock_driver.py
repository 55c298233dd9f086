"""The plugin's compute driver with its NUMA pinning off: stock Nova's claim.

Stock Nova can neither report nor attach a render node, so the benchmark's
stock run keeps the plugin's driver for that (render node providers in
Placement, the allocated render node in the guest XML) and turns off what
ties a guest to its GPU's cell on the compute: the claim pinning of
``claim_cell`` and the same-cell check before define. Nova's own NUMA fit
then picks the cell, as ``tests.functional.base.StockNovaTestBase`` does in
one process.

Selected per nova-compute through oslo.config's environment source, without
touching any nova.conf::

    OS_DEFAULT__COMPUTE_DRIVER=gpu_numa_stock.StockClaimsDriver

(Nova 34 loads ``compute_driver`` only as ``nova.virt.<name>``; the cloud's
compute entry point, ``tools/cloud/compute.py``, makes this module
importable as ``nova.virt.gpu_numa_stock``.)
"""

from unittest import mock

from nova_gpu_numa_sched.compute import driver
from nova_gpu_numa_sched.compute import guest_devices

#: The compute_driver value that selects this driver.
DRIVER = 'gpu_numa_stock.StockClaimsDriver'


class StockClaimsDriver(driver.GpuNumaLibvirtDriver):
    """Reports and attaches render nodes; Nova's NUMA fit picks the cell."""

    def __init__(self, virtapi, read_only=False):
        # The claim pinning wraps the resource tracker when the driver is
        # created; this process must never get it.
        with mock.patch('nova_gpu_numa_sched.compute.claim_cell.install'):
            super().__init__(virtapi, read_only=read_only)
        # Only this nova-compute process loads this module.
        guest_devices.check_same_cell = _any_cell


def _any_cell(instance, node, *args, **kwargs):
    """Stock Nova puts the guest where its NUMA fit says."""
