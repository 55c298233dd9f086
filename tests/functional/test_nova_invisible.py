"""Nova's own NUMA functional tests, run unchanged with the plugin enabled.

A guest without a render slot must see no difference from stock Nova.
These classes subclass Nova's NUMA test classes and change only their
setup: computes run the plugin's driver
(``compute_driver = gpu_numa.GpuNumaLibvirtDriver``), the scheduler runs
``GpuNumaTopologyFilter`` in place of ``NUMATopologyFilter`` and
``GpuLoadWeigher`` next to Nova's weighers, as the docs configure them.
Every test method is Nova's: its NUMA servers tests, and the PCI tests
whose outcome hangs on NUMA affinity.

Nova's ``NUMAServersTestBase`` wraps ``NUMATopologyFilter.host_passes`` in
a mock and counts its calls; ``GpuNumaTopologyFilter`` runs that same
method for every request without a render slot, so those counts hold.
"""

import os
import sys

from nova.tests.functional.libvirt import test_numa_servers
from nova.tests.functional.libvirt import test_pci_sriov_servers as test_pci

PLUGIN_FILTER = 'nova_gpu_numa_sched.filters.GpuNumaTopologyFilter'
PLUGIN_WEIGHER = 'nova_gpu_numa_sched.weights.GpuLoadWeigher'


class PluginEnabledMixin:
    """The plugin's driver, filter and weigher, as documented."""

    def setUp(self):
        # An installed nova keeps api-paste.ini under <prefix>/etc/nova.
        self.flags(api_paste_config=os.path.join(
            sys.prefix, 'etc', 'nova', 'api-paste.ini'), group='wsgi')
        super().setUp()

    def _setup_compute_service(self):
        super()._setup_compute_service()
        self.flags(compute_driver='gpu_numa.GpuNumaLibvirtDriver')

    def _setup_scheduler_service(self):
        # The Nova class's filters, GpuNumaTopologyFilter in place of
        # NUMATopologyFilter.
        self.ADDITIONAL_FILTERS = [
            'GpuNumaTopologyFilter' if name == 'NUMATopologyFilter' else name
            for name in type(self).ADDITIONAL_FILTERS]
        self.flags(available_filters=[
            'nova.scheduler.filters.all_filters', PLUGIN_FILTER],
            weight_classes=[
            'nova.scheduler.weights.all_weighers', PLUGIN_WEIGHER],
            group='filter_scheduler')
        return super()._setup_scheduler_service()

    def test_plugin_enabled(self):
        """The scheduler runs the plugin's filter and weigher, not Nova's."""
        manager = self.scheduler.manager.host_manager
        filters = [f.__class__.__name__ for f in manager.enabled_filters]
        self.assertIn('GpuNumaTopologyFilter', filters)
        self.assertNotIn('NUMATopologyFilter', filters)
        self.assertIn('GpuLoadWeigher',
                      [w.__class__.__name__ for w in manager.weighers])


class NUMAServersTest(PluginEnabledMixin,
                      test_numa_servers.NUMAServersTest):
    pass


class NUMAServersWithNetworksTest(
        PluginEnabledMixin, test_numa_servers.NUMAServersWithNetworksTest):
    pass


class NUMAServersRebuildTests(PluginEnabledMixin,
                              test_numa_servers.NUMAServersRebuildTests):
    pass


class PCIServersWithPreferredNUMATest(
        PluginEnabledMixin, test_pci.PCIServersWithPreferredNUMATest):
    pass


class PCIServersWithRequiredNUMATest(
        PluginEnabledMixin, test_pci.PCIServersWithRequiredNUMATest):
    pass


class PCIServersWithSRIOVAffinityPoliciesTest(
        PluginEnabledMixin, test_pci.PCIServersWithSRIOVAffinityPoliciesTest):
    pass


class TestPackNUMACellsWithPCIDevices(
        PluginEnabledMixin, test_pci.TestPackNUMACellsWithPCIDevices):
    pass
