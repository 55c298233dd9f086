"""Tests of the start-up check of the Nova methods the plugin wraps."""

import functools

from unittest import mock

import testtools

from nova_gpu_numa_sched import nova_compat

OWNER = 'nova.fake:Tracker'
CLAIM = nova_compat.Expected(
    OWNER, 'instance_claim',
    named=('instance', 'nodename', 'allocations', 'limits'))
QUERY = nova_compat.Expected(
    OWNER, 'get_allocation_candidates', leading=('context', 'resources'))


class Tracker:
    def instance_claim(self, context, instance, nodename, allocations,
                       limits=None):
        pass

    def get_allocation_candidates(self, context, resources):
        pass


class OldTracker:
    """A Nova whose claim does not receive the allocations."""

    def instance_claim(self, context, instance, nodename, limits=None):
        pass

    def get_allocation_candidates(self, resources, context):
        pass


class NovaCompatTest(testtools.TestCase):

    def test_matching_methods_pass(self):
        nova_compat.check([CLAIM, QUERY], owners={OWNER: Tracker})

    def test_missing_parameter_names_method_and_versions(self):
        error = self.assertRaises(
            nova_compat.UnsupportedNova, nova_compat.check, [CLAIM],
            owners={OWNER: OldTracker})
        message = str(error)
        self.assertIn('nova.fake.Tracker.instance_claim', message)
        self.assertIn("no parameter 'allocations'", message)
        self.assertIn(nova_compat.SUPPORTED_NOVA, message)
        self.assertIn('nova>=34.0.0,<35', message)

    def test_reordered_positional_parameters_fail(self):
        error = self.assertRaises(
            nova_compat.UnsupportedNova, nova_compat.check, [QUERY],
            owners={OWNER: OldTracker})
        self.assertIn('get_allocation_candidates', str(error))
        self.assertIn('(context, resources) first', str(error))

    def test_missing_method_fails(self):
        gone = nova_compat.Expected(OWNER, '_move_claim')
        error = self.assertRaises(
            nova_compat.UnsupportedNova, nova_compat.check, [gone],
            owners={OWNER: Tracker})
        self.assertIn('nova.fake.Tracker._move_claim: the method does not '
                      'exist', str(error))

    def test_every_problem_is_reported(self):
        error = self.assertRaises(
            nova_compat.UnsupportedNova, nova_compat.check, [CLAIM, QUERY],
            owners={OWNER: OldTracker})
        self.assertIn('instance_claim', str(error))
        self.assertIn('get_allocation_candidates', str(error))

    def test_missing_class_fails(self):
        expected = nova_compat.Expected('nova.no_such_module:Thing', 'x')
        error = self.assertRaises(
            nova_compat.UnsupportedNova, nova_compat.check, [expected])
        self.assertIn('Nova has no nova.no_such_module.Thing', str(error))

    def test_module_function_is_checked(self):
        # scheduler.cell_fit calls module functions of nova.virt.hardware.
        fit = nova_compat.Expected(
            'nova.virt.hardware:', 'numa_fit_instance_to_host',
            named=('limits', 'no_such_parameter'))
        error = self.assertRaises(
            nova_compat.UnsupportedNova, nova_compat.check, [fit])
        self.assertIn("nova.virt.hardware.numa_fit_instance_to_host: it has "
                      "no parameter 'no_such_parameter'", str(error))
        gone = nova_compat.Expected('nova.virt.hardware:', 'no_such_fit')
        error = self.assertRaises(
            nova_compat.UnsupportedNova, nova_compat.check, [gone])
        self.assertIn('nova.virt.hardware.no_such_fit: the method does not '
                      'exist', str(error))

    def test_installed_wrap_shows_novas_signature(self):
        original = Tracker.instance_claim

        @functools.wraps(original)
        def wrapper(self, *args, **kwargs):
            return original(self, *args, **kwargs)

        wrapped = type('Wrapped', (), {'instance_claim': wrapper})
        nova_compat.check([CLAIM], owners={OWNER: wrapped})

    def test_installed_nova_matches(self):
        # The Nova this suite runs against is a supported one.
        self.assertTrue(nova_compat.is_supported_version(
            nova_compat.nova_version()))
        nova_compat.check(nova_compat.COMPUTE)
        nova_compat.check(nova_compat.SCHEDULER)
        nova_compat.check(nova_compat.NUMA_FIT)

    def test_check_command_covers_the_numa_fit(self):
        # nova-gpu-numa check lists COMPUTE + SCHEDULER.
        for expected in nova_compat.NUMA_FIT:
            self.assertIn(expected, nova_compat.SCHEDULER)

    def test_version_range(self):
        self.assertTrue(nova_compat.is_supported_version('34.0.0'))
        self.assertTrue(nova_compat.is_supported_version('34.2.1'))
        self.assertFalse(nova_compat.is_supported_version('35.0.0'))
        self.assertFalse(nova_compat.is_supported_version('33.1.0'))
        self.assertFalse(nova_compat.is_supported_version(None))

    def test_matching_methods_on_other_version_only_warn(self):
        with mock.patch.object(nova_compat, 'nova_version',
                               return_value='35.0.0'), \
                mock.patch.object(nova_compat.LOG, 'warning') as warning:
            nova_compat.check([CLAIM], owners={OWNER: Tracker})
        self.assertEqual(1, warning.call_count)
        self.assertIn(nova_compat.SUPPORTED_NOVA, warning.call_args[0])
