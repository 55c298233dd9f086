"""A Nova whose wrapped methods changed stops the plugin's services.

Simulates a Nova release whose methods lost a parameter the plugin's
wraps rely on: the compute driver and the scheduler (through its filter)
refuse to start, naming the method and the supported Nova releases.
"""

from nova.compute import resource_tracker
from nova.scheduler.client import report
from nova.scheduler import manager

from nova_gpu_numa_sched.filters import gpu_numa_affinity
from nova_gpu_numa_sched import nova_compat
from tests.functional import base
from tests.functional import fake_drm


def _instance_claim_without_allocations(self, context, instance, nodename,
                                        limits=None):
    raise AssertionError('never called')


def _claim_resources_reordered(self, context, alloc_request, consumer_uuid,
                               project_id, user_id,
                               allocation_request_version):
    raise AssertionError('never called')


class UnsupportedNovaTest(base.GpuNumaTestBase):

    def replace(self, cls, name, function):
        """Stand in for another Nova's method.

        Plain setattr: fixtures.MonkeyPatch would give the stand-in the
        signature of the method it replaces (functools.wraps).
        """
        self.addCleanup(setattr, cls, name, cls.__dict__[name])
        setattr(cls, name, function)

    def assertNamesMethodAndVersions(self, error, method):
        self.assertIn(method, str(error))
        self.assertIn(nova_compat.SUPPORTED_NOVA, str(error))
        self.assertIn('Refusing to start', str(error))

    def test_compute_refuses_to_start(self):
        self.replace(resource_tracker.ResourceTracker, 'instance_claim',
                     _instance_claim_without_allocations)
        error = self.assertRaises(
            nova_compat.UnsupportedNova, self.start_gpu_compute, 'host1',
            cells=2, gpus=fake_drm.gpus_on_cells([0]))
        self.assertNamesMethodAndVersions(
            error, 'nova.compute.resource_tracker.ResourceTracker.'
                   "instance_claim: it has no parameter 'allocations'")
        self.assertNotIn('host1', self.computes)

    def test_scheduler_refuses_to_start(self):
        self.replace(report.SchedulerReportClient, 'claim_resources',
                     _claim_resources_reordered)
        method = ('nova.scheduler.client.report.SchedulerReportClient.'
                  'claim_resources')
        error = self.assertRaises(nova_compat.UnsupportedNova,
                                  gpu_numa_affinity.GpuNumaAffinityFilter)
        self.assertNamesMethodAndVersions(error, method)
        # What a scheduler service does when it starts: load its filters.
        error = self.assertRaises(nova_compat.UnsupportedNova,
                                  manager.SchedulerManager)
        self.assertNamesMethodAndVersions(error, method)
