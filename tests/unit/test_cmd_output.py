"""Rendering of the nova-gpu-numa formats and check's pure decisions."""

import json
import types

from oslo_config import cfg
from prometheus_client import parser as prom_parser
import testtools

from nova_gpu_numa_sched.cmd import check
from nova_gpu_numa_sched.cmd import instances
from nova_gpu_numa_sched.cmd import output
from nova_gpu_numa_sched.cmd import status
from nova_gpu_numa_sched import names


class TableTest(testtools.TestCase):

    def test_aligned_columns_and_unknowns(self):
        text = output.table(['A', 'LONGER'], [['xyz', None], [1, 2.4]])
        self.assertEqual(['A    LONGER', 'xyz  -', '1    2'],
                         text.splitlines())

    def test_json_is_stable(self):
        self.assertEqual('{\n  "a": 1,\n  "b": [\n    2\n  ]\n}\n',
                         output.to_json({'b': [2], 'a': 1}))


class InstancesTableTest(testtools.TestCase):

    def data(self, name, uninspected=0):
        return {'interval_seconds': 1.0, 'other_processes': [],
                'uninspected_processes': uninspected,
                'instances': [{
                    'uuid': '0b5e8a3c-7a21-4c3e-9d0f-1a2b3c4d5e01',
                    'name': name, 'devnode': '/dev/dri/renderD128',
                    'cell': 1, 'busy_percent': 42.4,
                    'resident_total_bytes': 1536 * 1024 ** 2}]}

    def test_long_name_is_shortened_to_80_columns(self):
        lines = instances.render_table(
            self.data('phone-of-a-customer-with-a-long-name')).splitlines()
        self.assertEqual(80, len(lines[2]))
        self.assertTrue(lines[2].endswith('  phone-o~'), lines[2])
        self.assertIn('  42%   1536 MiB  ', lines[2])

    def test_uninspected_processes_are_named(self):
        text = instances.render_table(self.data('phone-1', uninspected=3))
        self.assertEqual('3 process(es) could not be inspected: run as root '
                         '(or with CAP_SYS_PTRACE) to see every instance.',
                         text.splitlines()[-1])
        empty = dict(self.data('x'), instances=[])
        self.assertIn('No instance holds a render node open.',
                      instances.render_table(empty))


class PrometheusTest(testtools.TestCase):

    def test_labels_and_unknown_values(self):
        text = output.prometheus_text(
            [{'host': 'h1', 'cell': 0, 'devnode': None,
              'pci_address': '0000:03:00.0', 'total': 8, 'util': None}],
            [('total', 'slots_total', 'Slots.'),
             ('util', 'utilization_percent', 'Utilisation.')])
        families = {f.name: f for f in
                    prom_parser.text_string_to_metric_families(text)}
        (sample,) = families['nova_gpu_numa_slots_total'].samples
        self.assertEqual(({'host': 'h1', 'cell': '0', 'devnode': '',
                           'pci_address': '0000:03:00.0'}, 8.0),
                         (sample.labels, sample.value))
        # Unknown utilisation is left out, not exported as 0.
        self.assertEqual([], families[
            'nova_gpu_numa_utilization_percent'].samples)


class StatusRenderTest(testtools.TestCase):

    DATA = {'hosts': [{'host': 'compute-1', 'compute_node_uuid': 'u',
                       'render_nodes': [{
                           'key': '0000:03:00.0',
                           'pci_address': '0000:03:00.0',
                           'devnode': '/dev/dri/renderD128', 'cell': 1,
                           'load_percent': 30, 'slots_used': 1,
                           'slots_total': 8,
                           'instances': [{'uuid': 'i', 'name': 'phone-1',
                                          'slot': 0}]}, {
                           'key': '0000:05:00.0',
                           'pci_address': '0000:05:00.0', 'devnode': None,
                           'cell': None, 'load_percent': None,
                           'slots_used': 1, 'slots_total': 0,
                           'instances': [{'uuid': 'j', 'name': 'phone-2',
                                          'slot': 3}]}]}],
            'hosts_without_render_nodes': ['compute-2'],
            'hosts_with_unreadable_render_nodes': ['compute-3']}

    def test_table(self):
        self.assertEqual(
            'HOST       CELL  RENDER NODE   SLOTS  LOAD  INSTANCES\n'
            'compute-1  1     0000:03:00.0  1/8    30%   phone-1\n'
            'compute-1  -     0000:05:00.0  1/0    -     phone-2\n'
            '\n'
            '1 compute node(s) report no render node: compute-2\n'
            '\n'
            '1 compute node(s) published unreadable gpu_numa_render_nodes '
            '(see "nova-gpu-numa check"): compute-3\n',
            status.render_table(self.DATA))

    def test_json_roundtrip(self):
        self.assertEqual(self.DATA, json.loads(output.to_json(self.DATA)))


class PublishProblemTest(testtools.TestCase):

    def _node(self, value):
        stats = {} if value is None else {
            names.RENDER_NODES_STAT: json.dumps(value)}
        return types.SimpleNamespace(hypervisor_hostname='c1', stats=stats)

    def test_problems(self):
        good = {'0000:03:00.0': {'cell': 0, 'slots': 4, 'used': 0}}
        # A vanished GPU still holding slots has no cell: not a problem.
        gone = {'0000:05:00.0': {'cell': None, 'slots': 0, 'used': 1}}
        self.assertIsNone(check._publish_problem(self._node(good)))
        self.assertIsNone(check._publish_problem(self._node(
            dict(good, **gone))))
        self.assertEqual('none published',
                         check._publish_problem(self._node(None)))
        self.assertEqual('no cell for 0000:03:00.0', check._publish_problem(
            self._node({'0000:03:00.0': {'cell': None, 'slots': 4}})))
        bad = types.SimpleNamespace(hypervisor_hostname='c1',
                                    stats={names.RENDER_NODES_STAT: '{'})
        self.assertEqual('unreadable', check._publish_problem(bad))


def _conf(enabled, available=(), weighers=()):
    conf = cfg.ConfigOpts()
    conf.register_opts([
        cfg.ListOpt('enabled_filters', default=list(enabled)),
        cfg.MultiStrOpt('available_filters', default=[
            'nova.scheduler.filters.all_filters'] + list(available)),
        cfg.MultiStrOpt('weight_classes', default=list(weighers)),
    ], group='filter_scheduler')
    conf([], default_config_files=[])
    return conf


class CheckDecisionsTest(testtools.TestCase):

    PAIR = 'nova_gpu_numa_sched.filters.GpuNumaAffinityFilter'

    def test_filters(self):
        Code = check.Code
        self.assertEqual(Code.FAILURE, check.check_filters(
            _conf(['ComputeFilter', 'NUMATopologyFilter'])).code)
        self.assertEqual(Code.SUCCESS, check.check_filters(
            _conf(['NUMATopologyFilter', 'GpuNumaAffinityFilter'],
                  [self.PAIR])).code)
        # The module path is as good as the package path.
        self.assertEqual(Code.SUCCESS, check.check_filters(
            _conf(['GpuNumaTopologyFilter'], [
                'nova_gpu_numa_sched.filters.gpu_numa_topology.'
                'GpuNumaTopologyFilter'])).code)
        result = check.check_filters(
            _conf(['GpuNumaAffinityFilter'], [self.PAIR]))
        self.assertEqual(Code.FAILURE, result.code)
        self.assertIn('needs NUMATopologyFilter before it', result.details)

    def test_flavor_problems(self):
        self.assertEqual([], check._flavor_problems({'hw:numa_nodes': '1'}))
        # Dedicated CPUs give a guest a one-node topology in Nova.
        self.assertEqual([], check._flavor_problems(
            {'hw:cpu_policy': 'dedicated'}))
        self.assertEqual(['no NUMA topology (set hw:numa_nodes=1)'],
                         check._flavor_problems({'hw:cpu_policy': 'shared'}))
        self.assertEqual(1, len(check._flavor_problems(
            {'hw:numa_nodes': '1', 'gpu_numa:affinity_policy': 'x'})))

    def test_exit_code_is_the_worst(self):
        results = [('a', check.Result(check.Code.SUCCESS)),
                   ('b', check.Result(check.Code.WARNING, 'w'))]
        self.assertEqual(1, check.exit_code(results))
        self.assertEqual(0, check.exit_code([]))
        self.assertEqual(2, json.loads(check.render_json(
            results + [('c', check.Result(check.Code.FAILURE, 'f'))]))[
            'exit_code'])
