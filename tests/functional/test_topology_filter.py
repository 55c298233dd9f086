"""Co-location scenarios with GpuNumaTopologyFilter in place of the pair.

The docs enable ``GpuNumaTopologyFilter`` instead of ``NUMATopologyFilter``
+ ``GpuNumaAffinityFilter``. These classes rerun representative scenarios
of the other functional modules, unchanged, with that configuration: the
filter must give the same co-location, GPU balance, slot accounting and
moves.
"""

from tests.functional import test_affinity_policy
from tests.functional import test_colocation
from tests.functional import test_colocation_scenarios as scenarios
from tests.functional import test_gpu_load
from tests.functional import test_guest_kinds
from tests.functional import test_moves

#: The filter and weigher as ``doc/source/install.rst`` enables them.
TOPOLOGY_FLAGS = {
    'filter_scheduler.available_filters': [
        'nova.scheduler.filters.all_filters',
        'nova_gpu_numa_sched.filters.GpuNumaTopologyFilter'],
}


class TopologyFilterMixin:
    """Run a scenario class with GpuNumaTopologyFilter alone."""

    ADDITIONAL_FILTERS = ['GpuNumaTopologyFilter']

    def _setup_scheduler_service(self):
        # After the base's own flags: the scenario's extra flags, then ours.
        self.SCHEDULER_FLAGS = dict(self.SCHEDULER_FLAGS, **TOPOLOGY_FLAGS)
        return super()._setup_scheduler_service()

    def test_pair_filters_not_enabled(self):
        """The scheduler runs GpuNumaTopologyFilter and neither of the pair."""
        enabled = [f.__class__.__name__ for f in
                   self.scheduler.manager.host_manager.enabled_filters]
        self.assertIn('GpuNumaTopologyFilter', enabled)
        self.assertNotIn('NUMATopologyFilter', enabled)
        self.assertNotIn('GpuNumaAffinityFilter', enabled)


class ColocationTest(TopologyFilterMixin, test_colocation.ColocationTest):
    pass


class PackingStrategyTest(TopologyFilterMixin,
                          scenarios.PackingStrategyTest):
    pass


class MultiHostTest(TopologyFilterMixin, scenarios.MultiHostTest):
    pass


class SlotExhaustionTest(TopologyFilterMixin, scenarios.SlotExhaustionTest):
    pass


class FlavorWithoutNumaTest(TopologyFilterMixin,
                            scenarios.FlavorWithoutNumaTest):
    pass


class MultiCreateTest(TopologyFilterMixin, scenarios.MultiCreateTest):
    pass


class GpuLoadTest(TopologyFilterMixin, test_gpu_load.GpuLoadTest):
    pass


class MoveTest(TopologyFilterMixin, test_moves.MoveTest):
    pass


class GpuCellTooSmallTest(TopologyFilterMixin,
                          test_affinity_policy.GpuCellTooSmallTest):
    pass


class TwoHostsTest(TopologyFilterMixin, test_affinity_policy.TwoHostsTest):
    pass


class MultiCellGuestTest(TopologyFilterMixin,
                         test_affinity_policy.MultiCellGuestTest):
    pass


class HugePagesTest(TopologyFilterMixin, test_guest_kinds.HugePagesTest):
    pass


class DedicatedCpusTest(TopologyFilterMixin,
                        test_guest_kinds.DedicatedCpusTest):
    pass


class PhysnetAffinityTest(TopologyFilterMixin,
                          test_guest_kinds.PhysnetAffinityTest):
    pass


class SriovPortTest(TopologyFilterMixin, test_guest_kinds.SriovPortTest):

    ADDITIONAL_FILTERS = ['PciPassthroughFilter', 'GpuNumaTopologyFilter']
