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

    def test_list_has_the_slots_of_status(self):
        rows = self.openstack_json('gpu', 'render', 'list')
        self.assertEqual(['Host', 'Slots Used', 'Slots Total'],
                         list(rows[0]))
        code, out, _ = self.nova_gpu_numa('status', '--format', 'json')
        self.assertEqual(0, code)
        # Placement's per-host count is the sum of what nova-compute
        # published per render node.
        status = [(host['host'],
                   sum(n['slots_used'] for n in host['render_nodes']),
                   sum(n['slots_total'] for n in host['render_nodes']))
                  for host in json.loads(out)['hosts']]
        self.assertEqual(status, [
            (row['Host'], row['Slots Used'], row['Slots Total'])
            for row in rows])
        # host2's only GPU is full: Placement leaves it out of the slot
        # candidates, and the command still shows its slots.
        self.assertEqual([('host1', 1, 4), ('host2', 2, 2)], status)

    def test_long_host_and_formats(self):
        rows = self.openstack_json('gpu', 'render', 'list', '--long',
                                   '--host', 'host1')
        (row,) = rows
        traits = self.placement.get(
            '/resource_providers/%s/traits' % row['UUID'],
            version='1.6').body['traits']
        self.assertEqual(self.compute_rp_uuids['host1'], row['UUID'])
        self.assertEqual(
            sorted(t for t in traits if t.startswith(
                (names.VENDOR_TRAIT_PREFIX, names.PRODUCT_TRAIT_PREFIX))),
            sorted([names.VENDOR_TRAIT_PREFIX + v
                    for v in row['GPU Vendors']] +
                   [names.PRODUCT_TRAIT_PREFIX + p
                    for p in row['GPU Products']]))
        self.assertTrue(row['GPU Vendors'])
        # Every request is narrowed to host1's tree.
        self.assertTrue(all('in_tree=' in path
                            for path in self.osc_gets[1:]), self.osc_gets)

        table = self.openstack('gpu', 'render', 'list')
        header = table.splitlines()[1]
        self.assertEqual(['Host', 'Slots Used', 'Slots Total'],
                         [cell.strip() for cell in header.split('|')[1:-1]])
        self.openstack('gpu', 'render', 'list', '--long')
        csv = self.openstack('gpu', 'render', 'list', '-f', 'csv',
                             '--column', 'Host', '--column',
                             'Slots Used', '--sort-column', 'Slots Used',
                             '--sort-ascending')
        lines = csv.splitlines()
        self.assertEqual('"Host","Slots Used"', lines[0])
        self.assertEqual('"host2",2', lines[-1])
        value = self.openstack('gpu', 'render', 'list', '--host', 'host2',
                               '-f', 'value', '-c', 'Slots Total')
        self.assertEqual('2\n', value)
        yaml_out = self.openstack('gpu', 'render', 'list', '--host', 'host2',
                                  '-f', 'yaml')
        self.assertIn('Slots Used: 2', yaml_out)

        err = self.openstack('gpu', 'render', 'list', '--host', 'nohost',
                             expect=1)
        self.assertIn("no compute node provider named 'nohost'", err)
        # The help says where the render nodes are.
        help_text = self.openstack('help', 'gpu', 'render', 'list')
        self.assertIn('nova-gpu-numa status', help_text)

    def test_placement_calls_do_not_grow_with_the_fleet(self):
        self.openstack('gpu', 'render', 'list', '--long')
        small = list(self.osc_gets)
        # Three times the GPU hosts, GPUs on the same cells.
        for i in range(4, 10):
            self.start_gpu_compute('host%d' % i, cells=4,
                                   gpus=fake_drm.gpus_on_cells([1, 3]))
        rows = self.openstack_json('gpu', 'render', 'list', '--long')
        self.assertEqual(8, len(rows))
        self.assertEqual(small, self.osc_gets)
        # The providers, the compute nodes with a free slot, then (host2
        # is full, host3 has no GPU) those with a free MB of RAM.
        self.assertEqual(
            ['/resource_providers',
             '/allocation_candidates?resources=%s%%3A1' %
             names.RESOURCE_CLASS,
             '/allocation_candidates?resources=MEMORY_MB%3A1'], small)

    def test_show_by_name_and_uuid(self):
        shown = self.openstack_json('gpu', 'render', 'show', 'host2')
        self.assertEqual(
            ('host2', self.compute_rp_uuids['host2'], 2, 2, 0),
            (shown['Host'], shown['UUID'], shown['Slots Used'],
             shown['Slots Total'], shown['Slots Reserved']))
        self.assertEqual(
            [{'name': name, 'uuid': self.phones[name]['id'], 'slots': 1}
             for name in ('phone-a', 'phone-b')], shown['Instances'])
        again = self.openstack_json('gpu', 'render', 'show', shown['UUID'])
        self.assertEqual(shown, again)

        table = self.openstack('gpu', 'render', 'show', 'host2')
        self.assertIn('phone-a (%s)' % self.phones['phone-a']['id'], table)

        err = self.openstack('gpu', 'render', 'show', 'host3', expect=1)
        self.assertIn('is not a compute node with render slots', err)
        err = self.openstack('gpu', 'render', 'show',
                             'host2_render_0000:03:00.0', expect=1)
        self.assertIn('render nodes are no longer resource providers: give '
                      'the compute node (host2)', err)
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

    def test_required_phone(self):
        flavor = self.phone_flavor(vcpu=2)
        server = self._create_server(name='phone-1', flavor_id=flavor,
                                     networks='none')
        shown = self.openstack_json('server', 'gpu', 'show', server['id'])
        placed = self.placed(server)
        self.assertEqual(
            {'ID': server['id'], 'Name': 'phone-1', 'Host': 'host1',
             'Render Slots': 1, 'Host Cells': [placed.gpu_cell],
             'Affinity Policy': 'required'},
            shown)
        # The guest's host cell as the driver wrote it into the domain.
        self.assertEqual(placed.gpu_cell, placed.vcpu_cell)
        table = self.openstack('server', 'gpu', 'show', 'phone-1')
        self.assertIn('| Render Slots    | 1 ', table)

    def test_preferred_policy_and_stock_guest(self):
        flavor = self.phone_flavor(extra_spec={
            names.AFFINITY_POLICY_KEY: names.POLICY_PREFERRED})
        self._create_server(name='phone-p', flavor_id=flavor,
                            networks='none')
        shown = self.openstack_json('server', 'gpu', 'show', 'phone-p')
        self.assertEqual(('preferred', 1),
                         (shown['Affinity Policy'], shown['Render Slots']))

        stock = self._create_flavor(vcpu=1, memory_mb=512, disk=1)
        server = self._create_server(name='plain', flavor_id=stock,
                                     networks='none')
        shown = self.openstack_json('server', 'gpu', 'show', server['id'])
        self.assertEqual(
            {'ID': server['id'], 'Name': 'plain', 'Host': 'host1',
             'Render Slots': None, 'Host Cells': [],
             'Affinity Policy': None}, shown)

        err = self.openstack('server', 'gpu', 'show', 'no-such-server',
                             expect=1)
        self.assertIn('no-such-server', err)
