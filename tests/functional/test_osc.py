"""The ``openstack gpu`` commands against Nova's own services.

API, conductor, scheduler and GPU computes run in this process with a real
Placement, as for ``nova-gpu-numa status``. The commands run through the
real ``openstack`` shell (OpenStackShell, cliff, osc-lib, osc-placement's
client, openstacksdk's compute client), loaded from the installed entry
points; their HTTP reaches the fixtures' Placement and Nova API through
wsgi-intercept. Only Keystone is stood in for: a token ``admin`` is what
keystonemiddleware would turn into an admin user's headers.
"""

import io
import json
import os
import re

import fixtures
from openstackclient import shell
from wsgi_intercept import interceptor

from nova_gpu_numa_sched import names
from nova_gpu_numa_sched.osc import client as osc_client
from tests.functional import fake_drm
from tests.functional import test_cmd_status

#: Where a run writes each command's table output, for the docs.
OUTPUT_DIR = os.environ.get('GPU_NUMA_CLI_OUTPUT_DIR')

COMPUTE_ENDPOINT = 'http://compute.gpu-numa.test:80/'
TOKEN = 'admin'


class _KeystoneHeaders:
    """What keystonemiddleware sets in front of Nova for a valid token."""

    def __init__(self, app, project_id):
        self.app = app
        self.project_id = project_id

    def __call__(self, environ, start_response):
        if environ.get('HTTP_X_AUTH_TOKEN') != TOKEN:
            start_response('401 Unauthorized',
                           [('Content-Type', 'text/plain')])
            return [b'bad token']
        environ.update({'HTTP_X_AUTH_USER': 'admin',
                        'HTTP_X_AUTH_PROJECT_ID': self.project_id,
                        'HTTP_X_ROLES': 'reader,member,admin'})
        return self.app(environ, start_response)


class OscTestBase(test_cmd_status.CommandTestBase):

    def setUp(self):
        super().setUp()
        nova_app = self.api_fixture.app()
        project_id = self.api_fixture.project_id
        intercept = interceptor.RequestsInterceptor(
            lambda: _KeystoneHeaders(nova_app, project_id),
            url=COMPUTE_ENDPOINT)
        intercept.install_intercept()
        self.addCleanup(intercept.uninstall_intercept)
        # Placement through the token plugin's endpoint, Nova through the
        # compute endpoint override (as in clouds.yaml).
        self.useFixture(fixtures.EnvironmentVariable(
            'OS_COMPUTE_ENDPOINT_OVERRIDE', COMPUTE_ENDPOINT + 'v2.1'))
        for name in ('OS_CLOUD', 'OS_AUTH_URL', 'OS_PLACEMENT_API_VERSION',
                     'OS_COMPUTE_API_VERSION'):
            self.useFixture(fixtures.EnvironmentVariable(name))
        # osc-lib caches each client on the ClientManager class; every
        # shell of this test must build its own, as a new process would.
        self.useFixture(fixtures.MonkeyPatch(
            'osc_lib.clientmanager.ClientCache.__get__',
            lambda cache, instance, owner: cache.factory(instance)))
        self.osc_gets = self.record_paths(osc_client.GpuNumaClient,
                                          'placement_get')

    def openstack(self, *argv, token=TOKEN, expect=0):
        """Run ``openstack argv``; return stdout (stderr when it fails)."""
        out, err = io.StringIO(), io.StringIO()
        del self.osc_gets[:]
        with fixtures.MonkeyPatch('sys.stdout', out), \
                fixtures.MonkeyPatch('sys.stderr', err):
            try:
                code = shell.OpenStackShell().run([
                    '--os-auth-type', 'admin_token',
                    '--os-endpoint', self.placement.fixture.endpoint,
                    '--os-token', token] + list(argv))
            except SystemExit as e:
                code = e.code
        self.assertEqual(expect, code, (argv, out.getvalue(),
                                        err.getvalue()))
        if OUTPUT_DIR and code == 0:
            name = re.sub('[^A-Za-z0-9.-]+', '_', ' '.join(argv))
            with open(os.path.join(OUTPUT_DIR, name + '.txt'), 'w') as f:
                f.write('$ openstack %s\n%s' % (' '.join(argv),
                                                out.getvalue()))
            with open(os.path.join(OUTPUT_DIR, name + '.calls'), 'w') as f:
                f.write('\n'.join(self.osc_gets) + '\n')
        return out.getvalue() if code == 0 else err.getvalue()

    def openstack_json(self, *argv):
        return json.loads(self.openstack(*argv, '-f', 'json'))


class RenderTest(OscTestBase):

    def setUp(self):
        super().setUp()
        # Two slots per GPU, so that host2's only GPU can be filled.
        self.flags(slots_per_gpu=2, group='gpu_numa')
        # Measured load: renderD128 (host1 cell 1, host2 cell 0) busy,
        # renderD129 (host1 cell 3) unknown.
        fake_drm.write_busy_percent(self.sysfs_root, '/dev/dri/renderD128',
                                    45)
        self.start_gpu_compute('host1', cells=4,
                               gpus=fake_drm.gpus_on_cells([1, 3]))
        self.start_gpu_compute('host2', cells=2,
                               gpus=fake_drm.gpus_on_cells([0]))
        self.start_gpu_compute('host3', cells=2)
        self.flavor = self.phone_flavor()
        self.phones = {}
        for host, name in (('host2', 'phone-a'), ('host2', 'phone-b'),
                           ('host1', 'phone-c')):
            self.phones[name] = self._create_server(
                name=name, flavor_id=self.flavor, networks='none',
                az='nova:%s' % host)

    def test_list_has_the_data_of_status(self):
        rows = self.openstack_json('gpu', 'render', 'list')
        code, out, _ = self.nova_gpu_numa('status', '--format', 'json')
        self.assertEqual(0, code)
        status = [(host['host'], node['cell'], node['provider_name'],
                   node['slots_used'], node['slots_total'],
                   node['load_percent'])
                  for host in json.loads(out)['hosts']
                  for node in host['render_nodes']]
        self.assertEqual(status, [
            (row['Host'], row['Cell'], row['Provider'], row['Slots Used'],
             row['Slots Total'], row['Load']) for row in rows])
        # host2's only GPU is full: Placement leaves its tree out of the
        # slot candidates, and the command still shows its slots.
        self.assertIn(('host2', 0, 'host2_render_0000:03:00.0', 2, 2, 40),
                      status)
        self.assertEqual([40, None, 40], [row['Load'] for row in rows])
        self.assertEqual(['host1', 'host1', 'host2'],
                         [row['Host'] for row in rows])

    def test_long_host_and_formats(self):
        rows = self.openstack_json('gpu', 'render', 'list', '--long',
                                   '--host', 'host1')
        self.assertEqual(
            [(1, '0000:03:00.0'), (3, '0000:04:00.0')],
            [(row['Cell'], row['PCI Address']) for row in rows])
        for row, load in zip(rows, ([names.load_trait(40)], [])):
            vendor = names.VENDOR_TRAIT_PREFIX + row['Vendor']
            product = names.PRODUCT_TRAIT_PREFIX + row['Product']
            self.assertEqual(
                sorted([names.numa_trait(row['Cell']), vendor, product] +
                       load), row['Traits'])
        # Every request is narrowed to host1's tree.
        self.assertTrue(all('in_tree=' in path for path in self.osc_gets[1:]
                            if not path.startswith('/traits')),
                        self.osc_gets)

        table = self.openstack('gpu', 'render', 'list')
        header = table.splitlines()[1]
        self.assertEqual(['Host', 'Cell', 'Provider', 'Slots Used',
                          'Slots Total', 'Load'],
                         [cell.strip() for cell in header.split('|')[1:-1]])
        self.openstack('gpu', 'render', 'list', '--long')
        csv = self.openstack('gpu', 'render', 'list', '-f', 'csv',
                             '--column', 'Provider', '--column',
                             'Slots Used', '--sort-column', 'Slots Used',
                             '--sort-ascending')
        lines = csv.splitlines()
        self.assertEqual('"Provider","Slots Used"', lines[0])
        self.assertEqual('"host2_render_0000:03:00.0",2', lines[-1])
        value = self.openstack('gpu', 'render', 'list', '--host', 'host2',
                               '-f', 'value', '-c', 'Slots Total')
        self.assertEqual('2\n', value)
        yaml_out = self.openstack('gpu', 'render', 'list', '--host', 'host2',
                                  '-f', 'yaml')
        self.assertIn('Slots Used: 2', yaml_out)

        err = self.openstack('gpu', 'render', 'list', '--host', 'nohost',
                             expect=1)
        self.assertIn("no compute node provider named 'nohost'", err)

    def test_placement_calls_do_not_grow_with_the_fleet(self):
        self.openstack('gpu', 'render', 'list', '--long')
        small = list(self.osc_gets)
        self.nova_gpu_numa('status')
        status_calls = len(self.placement_gets)
        # Three times the GPU hosts, GPUs on the same cells.
        for i in range(4, 10):
            self.start_gpu_compute('host%d' % i, cells=4,
                                   gpus=fake_drm.gpus_on_cells([1, 3]))
        rows = self.openstack_json('gpu', 'render', 'list', '--long')
        self.assertEqual(15, len(rows))
        self.assertEqual(len(small), len(self.osc_gets),
                         (small, self.osc_gets))
        # status's requests, the full render node's one more, and the
        # vendor and product traits: one to list each, one per trait.
        traits = self.placement.get('/traits', version='1.6').body['traits']
        models = len([t for t in traits if t.startswith(
            (names.VENDOR_TRAIT_PREFIX, names.PRODUCT_TRAIT_PREFIX))])
        self.assertEqual(status_calls + 1 + 2 + models, len(small), small)

        self.openstack('gpu', 'render', 'list')
        self.assertEqual(status_calls + 1, len(self.osc_gets),
                         self.osc_gets)

    def test_show_by_name_and_uuid(self):
        rp = self.openstack_json('gpu', 'render', 'show',
                                 'host2_render_0000:03:00.0')
        self.assertEqual(('host2', 0, '0000:03:00.0', 2, 2),
                         (rp['Host'], rp['Cell'], rp['PCI Address'],
                          rp['Slots Used'], rp['Slots Total']))
        self.assertEqual(
            [{'name': name, 'uuid': self.phones[name]['id'], 'slots': 1}
             for name in ('phone-a', 'phone-b')], rp['Instances'])
        again = self.openstack_json('gpu', 'render', 'show', rp['UUID'])
        self.assertEqual(rp, again)

        table = self.openstack('gpu', 'render', 'show',
                               'host2_render_0000:03:00.0')
        self.assertIn('phone-a (%s)' % self.phones['phone-a']['id'], table)

        err = self.openstack('gpu', 'render', 'show', 'host1', expect=1)
        self.assertIn('is not a render node', err)
        err = self.openstack('gpu', 'render', 'show', 'nothing', expect=1)
        self.assertIn("Placement has no resource provider 'nothing'", err)

    def test_token_of_a_reader(self):
        # Placement's policy lets only admins list providers.
        err = self.openstack('gpu', 'render', 'list', token='nobody',
                             expect=1)
        self.assertEqual(
            'Placement answered HTTP 403 to GET /resource_providers '
            '(microversion 1.31): Policy does not allow '
            'placement:resource_providers:list to be performed.\n', err)


class ServerGpuTest(OscTestBase):

    def setUp(self):
        super().setUp()
        self.start_gpu_compute('host1', cells=4,
                               gpus=fake_drm.gpus_on_cells([1, 3]))

    def test_required_phone_is_co_located(self):
        flavor = self.phone_flavor(vcpu=2)
        server = self._create_server(name='phone-1', flavor_id=flavor,
                                     networks='none')
        shown = self.openstack_json('server', 'gpu', 'show', server['id'])
        (rp_uuid,) = [
            uuid for uuid, held in self.placement.get(
                '/allocations/%s' % server['id']).body['allocations'].items()
            if names.RESOURCE_CLASS in held['resources']]
        rp = self.openstack_json('gpu', 'render', 'show', rp_uuid)
        self.assertEqual(
            {'ID': server['id'], 'Name': 'phone-1', 'Host': 'host1',
             'Render Node': rp['PCI Address'], 'Provider': rp['Provider'],
             'Render Node Cell': rp['Cell'], 'Host Cells': [rp['Cell']],
             'Affinity Policy': 'required', 'Co-located': True},
            shown)
        # The guest's host cell as the driver wrote it into the domain.
        self.assertEqual(rp['Cell'], self.placed(server).vcpu_cell)
        table = self.openstack('server', 'gpu', 'show', 'phone-1')
        self.assertIn('| Co-located       | True ', table)

    def test_preferred_policy_and_stock_guest(self):
        flavor = self.phone_flavor(extra_spec={
            names.AFFINITY_POLICY_KEY: names.POLICY_PREFERRED})
        self._create_server(name='phone-p', flavor_id=flavor,
                            networks='none')
        shown = self.openstack_json('server', 'gpu', 'show', 'phone-p')
        self.assertEqual(('preferred', True),
                         (shown['Affinity Policy'], shown['Co-located']))

        stock = self._create_flavor(vcpu=1, memory_mb=512, disk=1)
        server = self._create_server(name='plain', flavor_id=stock,
                                     networks='none')
        shown = self.openstack_json('server', 'gpu', 'show', server['id'])
        self.assertEqual(
            {'ID': server['id'], 'Name': 'plain', 'Host': 'host1',
             'Render Node': None, 'Provider': None,
             'Render Node Cell': None, 'Host Cells': [],
             'Affinity Policy': None, 'Co-located': None}, shown)

        err = self.openstack('server', 'gpu', 'show', 'no-such-server',
                             expect=1)
        self.assertIn('no-such-server', err)
