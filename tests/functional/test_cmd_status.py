"""``nova-gpu-numa status`` and ``check`` against Nova's own services.

API, conductor, scheduler and GPU computes run in this process with a real
Placement; the command is run as a user would, through ``main(argv)``, and
reaches Placement through Nova's report client (which the Placement
fixture routes to the in-process service) and Nova's databases through the
fixtures' cells. Nothing of Placement is mocked; its requests and the
commands' cell database queries are counted.
"""

import io
import json
import os

import fixtures
from nova import context as nova_context
from nova import objects
from prometheus_client import parser as prom_parser

from nova_gpu_numa_sched.cmd import main as cmd_main
from nova_gpu_numa_sched.cmd import placement as cmd_placement
from nova_gpu_numa_sched import names
from tests.functional import base
from tests.functional import fake_drm


class CommandTestBase(base.GpuNumaTestBase):

    def setUp(self):
        super().setUp()
        # An empty nova.conf: the test's options come from the fixtures.
        self.conf_file = os.path.join(
            self.useFixture(fixtures.TempDir()).path, 'nova.conf')
        with open(self.conf_file, 'w') as f:
            f.write('[DEFAULT]\n')
        self.placement_gets = self.record_paths(cmd_placement.Placement,
                                                'get')
        #: One entry per query of every cell database (scatter-gather).
        self.cell_queries = []
        gather = nova_context.scatter_gather_all_cells

        def recording(ctxt, fn, *args, **kwargs):
            self.cell_queries.append(fn.__name__)
            return gather(ctxt, fn, *args, **kwargs)

        self.useFixture(fixtures.MonkeyPatch(
            'nova.context.scatter_gather_all_cells', recording))

    def record_paths(self, cls, method):
        """The paths every call of cls.method(path) gets, in order."""
        paths = []
        original = getattr(cls, method)

        def recording(obj, path):
            paths.append(path)
            return original(obj, path)

        self.useFixture(fixtures.MockPatchObject(cls, method, recording))
        return paths

    def nova_gpu_numa(self, *argv):
        """Run the command; return (exit code, stdout, stderr)."""
        out, err = io.StringIO(), io.StringIO()
        self.useFixture(fixtures.MonkeyPatch('sys.stdout', out))
        self.useFixture(fixtures.MonkeyPatch('sys.stderr', err))
        del self.placement_gets[:]
        del self.cell_queries[:]
        code = cmd_main.main(['--config-file', self.conf_file] + list(argv))
        return code, out.getvalue(), err.getvalue()

    def boot_phone(self, name, flavor):
        server = self._create_server(name=name, flavor_id=flavor,
                                     networks='none')
        return server


class StatusTest(CommandTestBase):

    def setUp(self):
        super().setUp()
        # Two slots per GPU, so that host2's only GPU can be filled.
        self.flags(slots_per_gpu=2, group='gpu_numa')
        self.start_gpu_compute('host1', cells=4,
                               gpus=fake_drm.gpus_on_cells([1, 3]))
        self.start_gpu_compute('host2', cells=2,
                               gpus=fake_drm.gpus_on_cells([0]))
        self.start_gpu_compute('host3', cells=2)
        self.flavor = self.phone_flavor()

    def _fill(self):
        self.phones = {}
        for host, name in (('host2', 'phone-a'), ('host2', 'phone-b'),
                           ('host1', 'phone-c')):
            self.phones[name] = self._create_server(
                name=name, flavor_id=self.flavor, networks='none',
                az='nova:%s' % host)
        return self.phones

    def test_status_json_table_and_prometheus(self):
        phones = self._fill()
        code, out, err = self.nova_gpu_numa('status', '--format', 'json')
        self.assertEqual((0, ''), (code, err))
        data = json.loads(out)
        hosts = {h['host']: h for h in data['hosts']}
        self.assertEqual(['host1', 'host2'], sorted(hosts))
        self.assertEqual(['host3'], data['hosts_without_render_nodes'])

        host1 = hosts['host1']['render_nodes']
        self.assertEqual([(1, '0000:03:00.0'), (3, '0000:04:00.0')],
                         [(n['cell'], n['pci_address']) for n in host1])
        used = {n['cell']: (n['slots_used'], n['slots_total'])
                for n in host1}
        # phone-c took one GPU of host1; which one is the weigher's choice.
        self.assertEqual([(0, 2), (1, 2)], sorted(used.values()))
        holder = [n for n in host1 if n['instances']][0]
        self.assertEqual(
            [{'name': 'phone-c', 'uuid': phones['phone-c']['id'],
              'slot': holder['instances'][0]['slot']}],
            holder['instances'])
        # The render node the claim chose, as the instance records it.
        instance = objects.Instance.get_by_uuid(
            self.ctxt, phones['phone-c']['id'], expected_attrs=['resources'])
        (res,) = instance.resources
        self.assertEqual(self.compute_rp_uuids['host1'], res.provider_uuid)
        self.assertTrue(res.identifier.startswith(holder['key'] + '#slot'))
        self.assertEqual(self.compute_rp_uuids['host1'],
                         hosts['host1']['compute_node_uuid'])
        # As nova-compute published it.
        published = self.render_nodes('host1')[holder['key']]
        self.assertEqual((published['cell'], published['devnode']),
                         (holder['cell'], holder['devnode']))

        # host2's only GPU is full; Placement's total agrees.
        (host2,) = hosts['host2']['render_nodes']
        self.assertEqual((2, 2, 0), (host2['slots_used'],
                                     host2['slots_total'], host2['cell']))
        self.assertEqual((2, 0, 2), self.host_slots('host2'))
        self.assertEqual(['phone-a', 'phone-b'],
                         sorted(i['name'] for i in host2['instances']))
        self.assertEqual([0, 1], sorted(i['slot']
                                        for i in host2['instances']))

        code, table, err = self.nova_gpu_numa('status')
        self.assertEqual((0, ''), (code, err))
        lines = table.splitlines()
        self.assertEqual(['HOST', 'CELL', 'RENDER', 'NODE', 'SLOTS', 'LOAD',
                          'INSTANCES'], lines[0].split())
        (row,) = [line for line in lines if line.startswith('host2')]
        # Instances are listed in slot order; which phone got slot 0 is
        # the resource tracker's choice.
        self.assertIn(row, ('host2  0     0000:03:00.0  2/2    -     '
                            'phone-%s, phone-%s' % pair
                            for pair in (('a', 'b'), ('b', 'a'))))
        self.assertIn('1 compute node(s) report no render node: host3',
                      table)
        self.assertTrue(all(len(line) <= 80 for line in lines), table)

        code, text, err = self.nova_gpu_numa('status', '--format',
                                             'prometheus')
        self.assertEqual((0, ''), (code, err))
        samples = {}
        for family in prom_parser.text_string_to_metric_families(text):
            for sample in family.samples:
                samples[(sample.name, sample.labels['host'],
                         sample.labels['pci_address'])] = sample
        total = samples[('nova_gpu_numa_slots_total', 'host2',
                         '0000:03:00.0')]
        self.assertEqual(2.0, total.value)
        self.assertEqual({'host': 'host2', 'cell': '0',
                          'devnode': host2['devnode'],
                          'pci_address': '0000:03:00.0'}, total.labels)
        self.assertTrue(host2['devnode'].startswith('/dev/dri/renderD'))
        self.assertEqual(2.0, samples[('nova_gpu_numa_slots_used', 'host2',
                                       '0000:03:00.0')].value)
        self.assertEqual(4, len([key for key in samples
                                 if key[0].startswith('nova_gpu_numa_slots')
                                 and key[1] == 'host1']))

    def test_host_narrows_output(self):
        self._fill()
        code, out, err = self.nova_gpu_numa('status', '--host', 'host2',
                                            '--format', 'json')
        self.assertEqual((0, ''), (code, err))
        data = json.loads(out)
        self.assertEqual(['host2'], [h['host'] for h in data['hosts']])
        self.assertEqual(1, len(data['hosts'][0]['render_nodes']))

        code, out, err = self.nova_gpu_numa('status', '--host', 'host3',
                                            '--format', 'json')
        self.assertEqual((0, ''), (code, err))
        self.assertEqual([{'host': 'host3', 'render_nodes': [],
                           'compute_node_uuid':
                               self.compute_rp_uuids['host3']}],
                         json.loads(out)['hosts'])

        code, out, err = self.nova_gpu_numa('status', '--host', 'nohost')
        self.assertEqual((3, ''), (code, out))
        self.assertEqual(1, len(err.splitlines()), err)
        self.assertIn("no compute node named 'nohost'", err)

    def test_queries_do_not_grow_with_the_fleet(self):
        self._fill()
        code, _, _ = self.nova_gpu_numa('status', '--format', 'json')
        self.assertEqual(0, code)
        small = list(self.cell_queries)
        # Three times the GPU hosts, GPUs on the same cells.
        for i in range(4, 10):
            self.start_gpu_compute('host%d' % i, cells=4,
                                   gpus=fake_drm.gpus_on_cells([1, 3]))
        code, out, _ = self.nova_gpu_numa('status', '--format', 'json')
        self.assertEqual(0, code)
        self.assertEqual(8, len(json.loads(out)['hosts']))
        # One query of each cell database for the compute nodes, one for
        # the instances; Placement is not asked.
        self.assertEqual(['_nodes_in_cell', '_holders_in_cell'], small)
        self.assertEqual(small, self.cell_queries)
        self.assertEqual([], self.placement_gets)


class CheckTest(CommandTestBase):

    def setUp(self):
        super().setUp()
        self.start_gpu_compute('host1', cells=2,
                               gpus=fake_drm.gpus_on_cells([0, 1]))
        self.flavor = self.phone_flavor()

    def checks(self, *argv):
        code, out, err = self.nova_gpu_numa('check', '--format', 'json',
                                            *argv)
        self.assertEqual('', err)
        data = json.loads(out)
        self.assertEqual(code, data['exit_code'])
        return code, {c['check']: (c['result'], c['details'])
                      for c in data['checks']}

    def test_all_good_table_and_json(self):
        code, checks = self.checks()
        self.assertEqual(0, code, checks)
        self.assertEqual({'Success'}, {r for r, _ in checks.values()})
        self.assertEqual(
            ['Nova version', 'Scheduler filter', 'Load weigher',
             'Compute driver', 'Render flavors', 'Published render nodes',
             'Render providers gone', 'CPU sockets'],
            list(checks))
        self.assertIn('GpuNumaAffinityFilter after NUMATopologyFilter',
                      checks['Scheduler filter'][1])
        self.assertIn('1 flavor(s) request', checks['Render flavors'][1])

        code, table, err = self.nova_gpu_numa('check')
        self.assertEqual((0, ''), (code, err))
        self.assertEqual(['CHECK', 'RESULT'], table.splitlines()[0].split())
        self.assertIn('Published render nodes Success', table)
        self.assertTrue(all(len(line) <= 80 for line in table.splitlines()))

    def test_filter_order_and_mix(self):
        enabled = ['ComputeFilter', 'GpuNumaAffinityFilter',
                   'NUMATopologyFilter']
        self.flags(enabled_filters=enabled, group='filter_scheduler')
        code, checks = self.checks()
        self.assertEqual(2, code)
        self.assertEqual('Failure', checks['Scheduler filter'][0])
        self.assertIn('comes before NUMATopologyFilter',
                      checks['Scheduler filter'][1])

        # The drop-in filter together with the pair fits each guest twice.
        self.flags(enabled_filters=['NUMATopologyFilter',
                                    'GpuNumaTopologyFilter'],
                   available_filters=[
                       'nova.scheduler.filters.all_filters',
                       'nova_gpu_numa_sched.filters.GpuNumaTopologyFilter'],
                   group='filter_scheduler')
        code, checks = self.checks()
        self.assertEqual(('Warning', 1),
                         (checks['Scheduler filter'][0], code))
        self.assertIn('fitted twice', checks['Scheduler filter'][1])

        # Enabled but not available.
        self.flags(enabled_filters=['GpuNumaTopologyFilter'],
                   available_filters=['nova.scheduler.filters.all_filters'],
                   group='filter_scheduler')
        code, checks = self.checks()
        self.assertEqual('Failure', checks['Scheduler filter'][0])
        self.assertIn('available_filters = nova_gpu_numa_sched.filters.'
                      'GpuNumaTopologyFilter', checks['Scheduler filter'][1])

        # The drop-in filter alone is right.
        self.flags(available_filters=[
            'nova.scheduler.filters.all_filters',
            'nova_gpu_numa_sched.filters.GpuNumaTopologyFilter'],
            group='filter_scheduler')
        code, checks = self.checks()
        self.assertEqual(('Success', 'GpuNumaTopologyFilter is enabled.'),
                         checks['Scheduler filter'])

    def test_weigher_missing_is_a_warning(self):
        self.flags(weight_classes=['nova.scheduler.weights.all_weighers'],
                   group='filter_scheduler')
        code, checks = self.checks()
        self.assertEqual(1, code)
        self.assertEqual('Warning', checks['Load weigher'][0])
        self.assertIn('weight_classes = nova_gpu_numa_sched.weights.'
                      'GpuLoadWeigher', checks['Load weigher'][1])

    def test_bad_flavors_and_render_node_without_cell(self):
        # Flavors written before the plugin's validators were installed on
        # nova-api: stored as they are, without the API's validation.
        ctxt = nova_context.get_admin_context()
        for name, specs in (
                ('no-numa', {'resources:%s' % names.RESOURCE_CLASS: '1'}),
                ('bad-policy', {'resources_G:%s' % names.RESOURCE_CLASS: '1',
                                'hw:numa_nodes': '1',
                                names.AFFINITY_POLICY_KEY: 'always'}),
                ('two-nodes', {'resources:%s' % names.RESOURCE_CLASS: '1',
                               'hw:numa_nodes': '2'}),
                ('bad-nodes', {'resources:%s' % names.RESOURCE_CLASS: '1',
                               'hw:numa_nodes': 'two'}),
                ('no-gpu', {})):
            flavor = objects.Flavor(
                ctxt, name=name, memory_mb=512, vcpus=1, root_gb=1,
                flavorid=name, extra_specs=specs)
            flavor.create()
        # What a nova-compute that cannot tell a GPU's cell publishes.
        node = objects.ComputeNode.get_by_uuid(
            ctxt, self.compute_rp_uuids['host1'])
        published = self.render_nodes('host1')
        key = sorted(published)[0]
        published[key]['cell'] = None
        node.stats = dict(node.stats, **{
            names.RENDER_NODES_STAT: json.dumps(published)})
        node.save()

        code, checks = self.checks()
        self.assertEqual(2, code)
        result, details = checks['Render flavors']
        self.assertEqual('Failure', result)
        self.assertIn('no-numa: no NUMA topology (set hw:numa_nodes=1)',
                      details)
        self.assertIn('bad-policy: gpu_numa:affinity_policy=always is not '
                      'one of required, preferred', details)
        self.assertIn('bad-nodes: hw:numa_nodes=two is not a whole number',
                      details)
        # A render guest may span several cells.
        self.assertNotIn('two-nodes', details)
        self.assertNotIn('no-gpu', details)
        result, details = checks['Published render nodes']
        self.assertEqual('Failure', result)
        self.assertIn('host1 (no cell for %s)' % key, details)

        # A compute node that publishes nothing.
        node.stats = {}
        node.save()
        code, checks = self.checks()
        self.assertIn('host1 (none published)',
                      checks['Published render nodes'][1])

    def test_render_provider_of_an_earlier_release(self):
        # What an earlier release's nova-compute left in Placement.
        response = self.placement.post('/resource_providers', {
            'name': 'host1_render_0000:09:00.0',
            'parent_provider_uuid': self.compute_rp_uuids['host1']},
            version='1.20')
        self.assertEqual(200, response.status)
        code, checks = self.checks()
        self.assertEqual(1, code, checks)
        result, details = checks['Render providers gone']
        self.assertEqual('Warning', result)
        self.assertIn('1 render node provider(s) of an earlier release',
                      details)
        self.assertIn('nova-compute of this release on host1', details)

    def test_compute_driver(self):
        self.flags(compute_driver='libvirt.LibvirtDriver')
        code, checks = self.checks()
        self.assertEqual(2, code)
        self.assertIn('compute_driver = gpu_numa.GpuNumaLibvirtDriver',
                      checks['Compute driver'][1])

    def test_unreachable_placement_fails_only_its_checks(self):
        """As nova-status: every check runs, Placement's ones fail."""
        code, before = self.checks()
        self.assertEqual(0, code, before)
        # Placement's address becomes a closed port (the discard port),
        # as a stopped or firewalled Placement looks to the client.
        self.placement.fixture.endpoint = 'http://127.0.0.1:9'
        code, checks = self.checks()
        self.assertEqual(2, code, checks)
        self.assertEqual(list(before), list(checks))
        # The configuration and the API database are still read.
        for name in ('Nova version', 'Scheduler filter', 'Load weigher',
                     'Render flavors'):
            self.assertEqual(before[name], checks[name])
        for name in ('Compute driver', 'Published render nodes',
                     'Render providers gone'):
            result, details = checks[name]
            self.assertEqual('Failure', result)
            self.assertIn('cannot reach Placement (GET /resource_providers) '
                          'with the [placement] options of nova.conf: ',
                          details)
            self.assertIn('127.0.0.1:9', details)

        # A wrong driver in this nova.conf is still named.
        self.flags(compute_driver='libvirt.LibvirtDriver')
        code, checks = self.checks()
        self.assertIn('this nova.conf sets compute_driver = '
                      'libvirt.LibvirtDriver', checks['Compute driver'][1])

        code, table, err = self.nova_gpu_numa('check')
        self.assertEqual((2, ''), (code, err))
        self.assertEqual(['CHECK', 'RESULT'], table.splitlines()[0].split())
        self.assertIn('Published render nodes Failure', table)
        self.assertIn('Load weigher           Success', table)
        self.assertNotIn('Traceback', table)


class ErrorPathsTest(CommandTestBase):

    def setUp(self):
        super().setUp()
        self.start_gpu_compute('host1', cells=2,
                               gpus=fake_drm.gpus_on_cells([0]))

    def assertOneLineError(self, result, *fragments):
        code, out, err = result
        self.assertEqual(3, code)
        self.assertEqual('', out)
        self.assertEqual(1, len(err.splitlines()), err)
        self.assertNotIn('Traceback', err)
        for fragment in fragments:
            self.assertIn(fragment, err)

    def test_bad_credentials(self):
        # Placement answers 401 to a request without a valid token.
        self.placement.fixture.token = None
        # status reads Nova's databases only.
        code, out, err = self.nova_gpu_numa('status')
        self.assertEqual((0, ''), (code, err))
        self.assertIn('host1', out)
        # check reports it as the Failure of the checks that need it.
        code, out, err = self.nova_gpu_numa('check', '--format', 'json')
        self.assertEqual((2, ''), (code, err))
        checks = {c['check']: c for c in json.loads(out)['checks']}
        self.assertEqual('Success', checks['Scheduler filter']['result'])
        for name in ('Compute driver', 'Published render nodes'):
            self.assertEqual('Failure', checks[name]['result'])
            self.assertIn('Placement rejected the credentials of '
                          '[placement] in nova.conf (HTTP 401',
                          checks[name]['details'])

    def test_unreadable_config(self):
        missing = self.conf_file + '.missing'
        self.assertOneLineError(
            self._run_raw('--config-file', missing, 'status'),
            'nova-gpu-numa status: cannot read configuration file(s): %s' %
            missing)

    def _run_raw(self, *argv):
        out, err = io.StringIO(), io.StringIO()
        self.useFixture(fixtures.MonkeyPatch('sys.stdout', out))
        self.useFixture(fixtures.MonkeyPatch('sys.stderr', err))
        return cmd_main.main(list(argv)), out.getvalue(), err.getvalue()
