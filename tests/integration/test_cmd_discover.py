"""``nova-gpu-numa discover`` against libvirt's test driver.

The command opens ``[libvirt] connection_uri`` from a real nova.conf file
and runs discovery over real libvirt-python, as on a compute host. Nova's
test base is not used (it poisons ``import libvirt``).
"""

import io
import json
import logging
import os
import subprocess
import sys

import fixtures
import libvirt
from oslo_config import cfg
from prometheus_client import parser as prom_parser
import testtools

from nova_gpu_numa_sched.cmd import discover
from nova_gpu_numa_sched.cmd import main as cmd_main
from nova_gpu_numa_sched.compute import device_spec
from tests.integration import test_discovery_libvirt as hosts
from tests.unit import test_fdinfo

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))

#: GPUs on NUMA nodes 0 and 1 and one whose firmware reports no node.
DEVICES = (
    hosts.pci(0x03, '0x1002', '0x73bf', numa=0),
    hosts.drm('renderD128', 'pci_0000_03_00_0'),
    hosts.pci(0x83, '0x1002', '0x73bf', numa=1),
    hosts.drm('renderD129', 'pci_0000_83_00_0'),
    hosts.pci(0xc1, '0x8086', '0x56a0'),
    hosts.drm('renderD130', 'pci_0000_c1_00_0'),
)


class DiscoverTestBase(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.tmp = self.useFixture(fixtures.TempDir()).path
        self.host_file = os.path.join(self.tmp, 'host.xml')
        with open(self.host_file, 'w') as f:
            f.write(hosts.host_xml(*DEVICES))
        self.useFixture(fixtures.FakeLogger(level=logging.WARNING))
        # main() parses into the global options; forget the files after.
        self.addCleanup(cfg.CONF.reset)
        self.addCleanup(cfg.CONF.clear)

    def write_conf(self, uri=None, device_spec_lines=()):
        path = os.path.join(self.tmp, 'nova.conf')
        with open(path, 'w') as f:
            f.write('[libvirt]\nconnection_uri = %s\n' % (
                uri or 'test://' + self.host_file))
            f.write('[gpu_numa]\nslots_per_gpu = 4\n')
            for line in device_spec_lines:
                f.write('device_spec = %s\n' % line)
        return path

    def discover(self, *argv, **conf):
        out, err = io.StringIO(), io.StringIO()
        with fixtures.MonkeyPatch('sys.stdout', out), \
                fixtures.MonkeyPatch('sys.stderr', err):
            code = cmd_main.main(
                ['--config-file', self.write_conf(**conf), 'discover'] +
                list(argv))
        return code, out.getvalue(), err.getvalue()


class DiscoverCommandTest(DiscoverTestBase):

    def test_json(self):
        code, out, err = self.discover('--format', 'json')
        self.assertEqual((0, ''), (code, err))
        data = json.loads(out)
        self.assertEqual('test://' + self.host_file, data['libvirt_uri'])
        # A custom test-driver host has no NUMA cells in its capabilities,
        # so the driver treats it as one cell 0: renderD130 lands on cell 0,
        # and renderD129, whose firmware says NUMA node 1, is left out: no
        # guest could be placed on a cell the host does not have.
        self.assertEqual([], data['cells'])
        nodes = {n['devnode']: n for n in data['render_nodes']}
        self.assertEqual(
            [('/dev/dri/renderD128', '0000:03:00.0', 0, 'firmware', 4),
             ('/dev/dri/renderD130', '0000:c1:00.0', 0, 'single-cell', 4)],
            [(n['devnode'], n['pci_address'], n['cell'], n['cell_source'],
              n['slots']) for n in data['render_nodes']])
        d128 = nodes['/dev/dri/renderD128']
        self.assertEqual(data['host'], d128['compute_node'])
        # Cell, load and slots are nova-compute's; Placement gets the
        # slots and these traits on the compute node's provider.
        self.assertEqual(['CUSTOM_GPU_PRODUCT_73BF', 'CUSTOM_GPU_VENDOR_1002'],
                         d128['traits'])
        self.assertEqual(('0x1002', '0x73bf', None),
                         (d128['vendor_id'], d128['product_id'],
                          d128['utilization_percent']))
        self.assertEqual(
            [{'devnode': '/dev/dri/renderD129',
              'pci_address': '0000:83:00.0', 'firmware_cell': 1,
              'reason': device_spec.LEFT_NOT_A_HOST_CELL,
              'detail': 'is on NUMA node 1 (from firmware), which is not '
                        'one of the host cells [0]',
              'fix': 'set its cell in [gpu_numa] device_spec, e.g. '
                     '{"pci_address": "0000:83:00.0", "numa_node": 0}'}],
            data['left_out'])

        # The fix it prints places the node on the host's cell.
        code, out, err = self.discover('--format', 'json', device_spec_lines=(
            '{"pci_address": "0000:83:00.0", "numa_node": 0}',
            '{"devnode": "/dev/dri/renderD1*"}'))
        self.assertEqual((0, ''), (code, err))
        data = json.loads(out)
        self.assertEqual([], data['left_out'])
        self.assertEqual(
            [('/dev/dri/renderD128', 0, 'firmware'),
             ('/dev/dri/renderD129', 0, 'device_spec'),
             ('/dev/dri/renderD130', 0, 'single-cell')],
            [(n['devnode'], n['cell'], n['cell_source'])
             for n in data['render_nodes']])

    def test_table_fits_80_columns(self):
        code, out, err = self.discover()
        self.assertEqual((0, ''), (code, err))
        lines = out.splitlines()
        self.assertIn('libvirt reports no NUMA cells', out)
        self.assertIn(['DEVNODE', 'PCI', 'ID', 'CELL', 'FROM', 'SLOTS',
                       'UTIL'], [line.split() for line in lines])
        self.assertIn(['/dev/dri/renderD130', '0000:c1:00.0', '8086:56a0',
                       '0', 'single-cell', '4', '-'],
                      [line.split() for line in lines])
        self.assertIn('slot(s) 0000:03:00.0#slot<N> on compute node ', out)
        self.assertTrue(all(len(line) <= 80 for line in lines), out)

    def test_prometheus(self):
        code, out, err = self.discover('--format', 'prometheus')
        self.assertEqual((0, ''), (code, err))
        samples = [s for family in prom_parser.text_string_to_metric_families(
            out) for s in family.samples]
        totals = {s.labels['devnode']: s for s in samples
                  if s.name == 'nova_gpu_numa_slots_total'}
        self.assertEqual(2, len(totals))
        d128 = totals['/dev/dri/renderD128']
        self.assertEqual(4.0, d128.value)
        self.assertEqual('0', d128.labels['cell'])
        self.assertEqual('0000:03:00.0', d128.labels['pci_address'])
        left = [s for s in samples
                if s.name == 'nova_gpu_numa_render_nodes_left_out']
        self.assertEqual([1.0], [s.value for s in left])

    def test_device_spec_selects_and_places(self):
        code, out, err = self.discover('--format', 'json', device_spec_lines=(
            '{"pci_address": "0000:c1:00.0", "numa_node": 0, "slots": 2}',
            '{"devnode": "/dev/dri/renderD128"}'))
        self.assertEqual((0, ''), (code, err))
        data = json.loads(out)
        self.assertEqual(
            [('/dev/dri/renderD128', 0, 'firmware', 4),
             ('/dev/dri/renderD130', 0, 'device_spec', 2)],
            [(n['devnode'], n['cell'], n['cell_source'], n['slots'])
             for n in data['render_nodes']])
        (left,) = data['left_out']
        self.assertEqual(('/dev/dri/renderD129', 'not-selected'),
                         (left['devnode'], left['reason']))
        self.assertEqual('add {"pci_address": "0000:83:00.0"} to [gpu_numa] '
                         'device_spec', left['fix'])

        code, out, err = self.discover(
            '--format', 'prometheus',
            device_spec_lines=('{"devnode": "/dev/dri/renderD128"}',))
        self.assertIn('nova_gpu_numa_render_nodes_left_out{host=', out)
        self.assertIn('} 2.0', out)


class TwoCellHostTest(DiscoverTestBase):
    """Render nodes on a two-cell host, one without NUMA information.

    A custom test-driver file cannot define NUMA cells, so the host's
    capabilities come from the test driver's built-in host (two cells),
    and the render nodes from the custom file: both real libvirt answers.
    """

    def setUp(self):
        super().setUp()
        self.devices = libvirt.open('test://' + self.host_file)
        self.addCleanup(self.devices.close)
        default = libvirt.open('test:///default')
        self.addCleanup(default.close)
        self.capabilities = default.getCapabilities()

    def collect(self, conf):
        test = self

        class TwoCellConnection:
            def __getattr__(self, name):
                return getattr(test.devices, name)

            def getCapabilities(self):
                return test.capabilities

        return discover.collect(TwoCellConnection(), conf, 'test:///x')

    def conf(self, device_spec_lines=()):
        conf = cfg.ConfigOpts()
        from nova_gpu_numa_sched import conf as plugin_conf
        plugin_conf.register_opts(conf)
        conf([], default_config_files=[])
        conf.set_override('device_spec', list(device_spec_lines),
                          group='gpu_numa')
        return conf

    def test_unknown_numa_left_out_with_fix(self):
        data = self.collect(self.conf())
        self.assertEqual([0, 1], [c['id'] for c in data['cells']])
        self.assertTrue(all(c['cpus'] > 0 and c['memory_mb'] > 0
                            for c in data['cells']))
        self.assertEqual(['/dev/dri/renderD128', '/dev/dri/renderD129'],
                         [n['devnode'] for n in data['render_nodes']])
        (left,) = data['left_out']
        self.assertEqual(
            ('/dev/dri/renderD130', '0000:c1:00.0', None,
             device_spec.LEFT_UNKNOWN_NUMA),
            (left['devnode'], left['pci_address'], left['firmware_cell'],
             left['reason']))
        self.assertEqual('reports no NUMA node and this host has 2 NUMA '
                         'cells', left['detail'])
        self.assertEqual('set its cell in [gpu_numa] device_spec, e.g. '
                         '{"pci_address": "0000:c1:00.0", "numa_node": 0}',
                         left['fix'])
        table = discover.render_table(data)
        self.assertIn('Left out (not reported to Placement):', table)
        self.assertIn('fix: set its cell in [gpu_numa] device_spec', table)
        self.assertTrue(all(len(line) <= 80 for line in table.splitlines()),
                        table)

    def test_numa_node_outside_the_host(self):
        data = self.collect(self.conf(
            ['{"devnode": "/dev/dri/renderD1*", "numa_node": 3}']))
        self.assertEqual([], data['render_nodes'])
        self.assertEqual({device_spec.LEFT_NOT_A_HOST_CELL},
                         {left['reason'] for left in data['left_out']})


SECOND = test_fdinfo.SECOND
MIB = 1024 ** 2
PHONES = {
    'phone-1': '0b5e8a3c-7a21-4c3e-9d0f-1a2b3c4d5e01',
    'phone-2': '0b5e8a3c-7a21-4c3e-9d0f-1a2b3c4d5e02',
    'phone-3': '0b5e8a3c-7a21-4c3e-9d0f-1a2b3c4d5e03',
}
_DOMAIN = """
  <domain type='test'><name>%(domain)s</name><uuid>%(uuid)s</uuid>
    <metadata>
      <nova:instance xmlns:nova="http://openstack.org/xmlns/libvirt/nova/1.1">
        <nova:package version="34.0.0"/><nova:name>%(name)s</nova:name>
      </nova:instance>
    </metadata>
    <memory>2097152</memory><vcpu>2</vcpu><os><type>hvm</type></os>
  </domain>"""


def amdgpu(client_id, gfx=0, vram_kib=7664):
    return test_fdinfo.amdgpu(client_id, gfx=gfx).replace(
        'drm-memory-vram:\t7664 KiB', 'drm-memory-vram:\t%d KiB' % vram_kib)


class InstancesTest(DiscoverTestBase):
    """``discover --instances``: libvirt's running domains (test driver)
    and their QEMU processes in fake /proc and /sys trees.

    Between the command's two reads phone-1 renders 30 s of 60 on
    renderD128, phone-2 6 s there and 12 s on renderD129 (it holds both),
    phone-3 boots, and a compositor renders 3 s on renderD128.
    """

    def setUp(self):
        super().setUp()
        domains = [_DOMAIN % {'domain': 'instance-%08x' % i, 'uuid': uuid,
                              'name': name}
                   for i, (name, uuid) in enumerate(sorted(PHONES.items()),
                                                    1)]
        with open(self.host_file, 'w') as f:
            f.write(hosts.host_xml(*(DEVICES + tuple(domains))))
        sysfs = os.path.join(self.tmp, 'sys')
        for minor in (128, 129, 130):
            path = os.path.join(sysfs, 'class', 'drm', 'renderD%d' % minor)
            os.makedirs(path)
            with open(os.path.join(path, 'dev'), 'w') as f:
                f.write('226:%d\n' % minor)
        self.proc = test_fdinfo.FakeProc(os.path.join(self.tmp, 'proc'))
        self.clock = test_fdinfo.FakeClock()
        self.sleeps = []
        for name, value in (('PROC_ROOT', self.proc.root),
                            ('SYSFS_ROOT', sysfs), ('_sleep', self.work)):
            self.useFixture(fixtures.MonkeyPatch(
                'nova_gpu_numa_sched.cmd.discover.' + name, value))
        self.useFixture(fixtures.MonkeyPatch(
            'nova_gpu_numa_sched.compute.utilization.fdinfo._monotonic_ns',
            self.clock))
        self.qemu(1001, 'phone-1', [(30, 128, amdgpu(11, gfx=SECOND))])
        self.qemu(1002, 'phone-2', [(30, 128, amdgpu(12)),
                                    (31, 129, amdgpu(13, vram_kib=4096))])
        self.proc.start(900, ['/usr/bin/Xorg', ':0'])
        self.proc.open(900, 7, '/dev/dri/card0', amdgpu(2))

    def discover(self, *argv):
        # The test driver's custom host has one cell, 0: place renderD129,
        # whose firmware says node 1, there as an operator would.
        return super().discover(*argv, device_spec_lines=(
            '{"pci_address": "0000:83:00.0", "numa_node": 0}',
            '{"devnode": "/dev/dri/renderD1*"}'))

    def qemu(self, pid, name, fds):
        self.proc.start(pid, test_fdinfo.qemu_cmdline(PHONES[name]))
        for fd, minor, text in fds:
            self.proc.open(pid, fd, '/dev/dri/renderD%d' % minor, text)

    def work(self, seconds):
        """What happens on the host while the command waits."""
        self.sleeps.append(seconds)
        self.clock.now += int(seconds * SECOND)
        self.proc.write(1001, 30, amdgpu(11, gfx=31 * SECOND,
                                         vram_kib=128 * 1024))
        self.proc.write(1002, 30, amdgpu(12, gfx=6 * SECOND))
        self.proc.write(1002, 31, amdgpu(13, gfx=12 * SECOND,
                                         vram_kib=4096))
        self.proc.write(900, 7, amdgpu(2, gfx=3 * SECOND))
        self.qemu(1003, 'phone-3', [(30, 128, amdgpu(14, gfx=SECOND))])

    def test_json(self):
        code, out, err = self.discover('--instances', '--interval', '60',
                                       '--format', 'json')
        self.assertEqual((0, ''), (code, err))
        self.assertEqual([60.0], self.sleeps)
        data = json.loads(out)
        self.assertEqual((60.0, 0), (data['interval_seconds'],
                                     data['uninspected_processes']))
        self.assertEqual(
            [('phone-1', '/dev/dri/renderD128', 0, 50.0),
             ('phone-2', '/dev/dri/renderD129', 0, 20.0),
             ('phone-2', '/dev/dri/renderD128', 0, 10.0),
             ('phone-3', '/dev/dri/renderD128', 0, None)],
            [(i['name'], i['devnode'], i['cell'], i['busy_percent'])
             for i in data['instances']])
        phone_1 = data['instances'][0]
        self.assertEqual(
            (PHONES['phone-1'], 'instance-00000001', '0000:03:00.0',
             {'gfx': 50.0}, [1001], 1),
            (phone_1['uuid'], phone_1['domain'], phone_1['render_node'],
             phone_1['engines'], phone_1['pids'], phone_1['clients']))
        self.assertEqual({'vram': 128 * MIB, 'gtt': 2052 * 1024, 'cpu': 0},
                         phone_1['resident_bytes'])
        self.assertEqual(128 * MIB + 2052 * 1024,
                         phone_1['resident_total_bytes'])
        (other,) = data['other_processes']
        self.assertEqual(('/dev/dri/renderD128', 5.0, [900]),
                         (other['devnode'], other['busy_percent'],
                          other['pids']))
        # The render nodes' load, from the same two reads: 30 + 6 + 3 s.
        self.assertEqual(
            {'/dev/dri/renderD128': 65.0, '/dev/dri/renderD129': 20.0,
             '/dev/dri/renderD130': 0.0},
            {n['devnode']: n['utilization_percent']
             for n in data['render_nodes']})

    def test_prometheus(self):
        code, out, err = self.discover('--instances', '--interval', '60',
                                       '--format', 'prometheus')
        self.assertEqual((0, ''), (code, err))
        samples = [s for family in prom_parser.text_string_to_metric_families(
            out) for s in family.samples]

        def values(name):
            return {(s.labels['instance_uuid'], s.labels['devnode'],
                     s.labels['cell'], s.labels.get('engine',
                                                    s.labels.get('region'))):
                    s.value for s in samples if s.name == name}

        uuid_2 = PHONES['phone-2']
        self.assertEqual(
            {(PHONES['phone-1'], '/dev/dri/renderD128', '0', None): 50.0,
             (uuid_2, '/dev/dri/renderD129', '0', None): 20.0,
             (uuid_2, '/dev/dri/renderD128', '0', None): 10.0},
            values('nova_gpu_numa_instance_busy_percent'))
        self.assertEqual(
            20.0, values('nova_gpu_numa_instance_engine_busy_percent')[
                (uuid_2, '/dev/dri/renderD129', '0', 'gfx')])
        self.assertEqual(
            4096 * 1024, values('nova_gpu_numa_instance_resident_bytes')[
                (uuid_2, '/dev/dri/renderD129', '0', 'vram')])
        self.assertEqual(
            4, len(values('nova_gpu_numa_instance_drm_clients')))
        self.assertIn('nova_gpu_numa_processes_uninspected{host=', out)
        # The render node metrics are still there, in the same file.
        self.assertIn('nova_gpu_numa_utilization_percent{', out)

    def test_table_busiest_first_in_80_columns(self):
        code, out, err = self.discover('--instances', '--interval', '60')
        self.assertEqual((0, ''), (code, err))
        lines = out.splitlines()
        start = lines.index('Instances, GPU use over 60 s (busiest first):')
        self.assertEqual(
            [['INSTANCE', 'NODE', 'CELL', 'BUSY', 'MEMORY', 'NAME'],
             [PHONES['phone-1'], 'renderD128', '0', '50%', '130', 'MiB',
              'phone-1'],
             [PHONES['phone-2'], 'renderD129', '0', '20%', '6', 'MiB',
              'phone-2'],
             [PHONES['phone-2'], 'renderD128', '0', '10%', '9', 'MiB',
              'phone-2'],
             [PHONES['phone-3'], 'renderD128', '0', '-', '9', 'MiB',
              'phone-3'],
             ['(other', 'processes)', 'renderD128', '0', '5%', '9', 'MiB',
              'pid', '900']],
            [line.split() for line in lines[start + 1:]])
        self.assertTrue(all(len(line) <= 80 for line in lines), out)

    def test_without_instances_nothing_changes(self):
        code, out, err = self.discover('--format', 'json')
        self.assertEqual((0, ''), (code, err))
        self.assertNotIn('instances', json.loads(out))

    def test_bad_interval_is_named(self):
        for value in ('0', '-1', 'soon', '3600'):
            err = io.StringIO()
            with fixtures.MonkeyPatch('sys.stderr', err):
                exit = self.assertRaises(
                    SystemExit, cmd_main.main,
                    ['--config-file', self.write_conf(), 'discover',
                     '--instances', '--interval', value])
            self.assertEqual(3, exit.code)
            self.assertIn('argument --interval: must be a number of '
                          'seconds above 0 and at most 300, not %r' % value,
                          err.getvalue())


class DiscoverErrorsTest(DiscoverTestBase):

    def assertOneLineError(self, result, *fragments):
        code, out, err = result
        self.assertEqual((3, ''), (code, out))
        self.assertEqual(1, len(err.splitlines()), err)
        for fragment in fragments:
            self.assertIn(fragment, err)

    def test_libvirt_unreachable(self):
        uri = 'test://%s/missing.xml' % self.tmp
        self.assertOneLineError(
            self.discover(uri=uri),
            'nova-gpu-numa discover: cannot connect to libvirt at %s '
            '([libvirt] connection_uri)' % uri)

    def test_bad_device_spec(self):
        self.assertOneLineError(
            self.discover(device_spec_lines=('{"slots": 2}',)),
            '[gpu_numa] device_spec', 'must name "devnode" or "pci_address"')


class ConsoleScriptTest(DiscoverTestBase):
    """The installed ``nova-gpu-numa`` script, run as a user runs it."""

    def run_script(self, *argv, **kwargs):
        script = os.path.join(os.path.dirname(sys.executable),
                              'nova-gpu-numa')
        env = dict(os.environ, PYTHONPATH=REPO_ROOT)
        env.pop('OS_NOVA_DISABLE_EVENTLET_PATCHING', None)
        env.update(kwargs.pop('env', {}))
        return subprocess.run([script] + list(argv), capture_output=True,
                              text=True, env=env, timeout=120, **kwargs)

    def test_help(self):
        result = self.run_script('--help')
        self.assertEqual(0, result.returncode, result.stderr)
        for command in ('discover', 'status', 'check', '--config-file',
                        '--config-dir'):
            self.assertIn(command, result.stdout)
        self.assertEqual('', result.stderr)

    def test_unreadable_config(self):
        path = os.path.join(self.tmp, 'secret.conf')
        with open(path, 'w') as f:
            f.write('[DEFAULT]\n')
        os.chmod(path, 0)
        if os.access(path, os.R_OK):  # root reads anything: use a dir
            path = self.tmp
        result = self.run_script('--config-file', path, 'status')
        self.assertEqual(3, result.returncode)
        self.assertEqual('', result.stdout)
        self.assertEqual(1, len(result.stderr.splitlines()), result.stderr)
        self.assertIn('nova-gpu-numa status: ', result.stderr)
        self.assertIn(path, result.stderr)

    def test_databases_not_configured(self):
        # status reads Nova's databases only; here nova.conf names none.
        path = os.path.join(self.tmp, 'nova.conf')
        with open(path, 'w') as f:
            # Nothing listens on the discard port: Placement is not asked.
            f.write('[placement]\nauth_type = none\n'
                    'endpoint_override = http://127.0.0.1:9\n')
        result = self.run_script('--config-file', path, 'status')
        self.assertEqual(3, result.returncode, result.stderr)
        self.assertEqual('', result.stdout)
        self.assertEqual(1, len(result.stderr.splitlines()), result.stderr)
        self.assertIn('nova-gpu-numa status: cannot read Nova\'s databases '
                      '([database] and [api_database] connection in '
                      'nova.conf)', result.stderr)
        self.assertNotIn('unexpected', result.stderr)

    def write_unreachable_conf(self, api_database):
        path = os.path.join(self.tmp, 'nova.conf')
        with open(path, 'w') as f:
            # Keystone on the discard port, where nothing listens.
            f.write('[placement]\nauth_type = password\n'
                    'auth_url = http://127.0.0.1:9/identity\n'
                    'username = nova\npassword = PlacementS3cret\n'
                    'user_domain_name = Default\nproject_name = service\n'
                    'project_domain_name = Default\n'
                    '[api_database]\nconnection = %s\n' % api_database)
        return path

    def test_check_runs_every_check_without_placement_and_database(self):
        """As nova-status upgrade check: Failures with reasons, exit 2."""
        # An API database in a directory that does not exist.
        path = self.write_unreachable_conf(
            'sqlite:///%s/missing/nova_api.sqlite' % self.tmp)
        result = self.run_script('--config-file', path, 'check',
                                 '--format', 'json')
        self.assertEqual(2, result.returncode, result.stderr)
        self.assertEqual('', result.stderr)
        checks = {c['check']: c for c in json.loads(result.stdout)['checks']}
        self.assertEqual(
            ['Nova version', 'Scheduler filter', 'Load weigher',
             'Compute driver', 'Render flavors', 'Published render nodes',
             'Render providers gone', 'CPU sockets'],
            list(checks))
        # The configuration checks ran: Nova's default filters lack the
        # plugin's, its weigher is missing.
        self.assertEqual('Success', checks['Nova version']['result'])
        self.assertEqual('Failure', checks['Scheduler filter']['result'])
        self.assertIn('enabled_filters has neither GpuNumaTopologyFilter',
                      checks['Scheduler filter']['details'])
        self.assertEqual('Warning', checks['Load weigher']['result'])
        for name in ('Compute driver', 'Published render nodes',
                     'Render providers gone'):
            self.assertEqual('Failure', checks[name]['result'])
            self.assertIn('cannot reach Placement with the [placement] '
                          'options of nova.conf', checks[name]['details'])
        flavors = checks['Render flavors']
        self.assertEqual('Failure', flavors['result'])
        self.assertIn('cannot read the flavors: cannot read Nova\'s API '
                      'database ([api_database] connection in nova.conf): ',
                      flavors['details'])
        self.assertIn('unable to open database file', flavors['details'])
        # Which flavors use the socket policy is unknown without them.
        self.assertEqual(flavors['details'],
                         checks['CPU sockets']['details'])

        table = self.run_script('--config-file', path, 'check')
        self.assertEqual((2, ''), (table.returncode, table.stderr))
        self.assertIn('Render flavors         Failure', table.stdout)
        self.assertTrue(all(len(line) <= 80
                            for line in table.stdout.splitlines()),
                        table.stdout)
        for output in (result.stdout, table.stdout):
            self.assertNotIn('S3cret', output)
            self.assertNotIn('Traceback', output)

    def test_check_hides_passwords_an_error_quotes(self):
        # SQLAlchemy quotes this URL, password and all, in its error.
        path = self.write_unreachable_conf(
            'sqlite://nova:DbS3cret@/%s/nova_api.sqlite' % self.tmp)
        result = self.run_script('--config-file', path, 'check',
                                 '--format', 'json')
        self.assertEqual((2, ''), (result.returncode, result.stderr))
        checks = {c['check']: c for c in json.loads(result.stdout)['checks']}
        self.assertIn('Invalid SQLite URL: sqlite://nova:***@/',
                      checks['Render flavors']['details'])
        self.assertNotIn('S3cret', result.stdout)

    def test_discover_json(self):
        result = self.run_script('--config-file', self.write_conf(),
                                 'discover', '--format', 'json')
        self.assertEqual(0, result.returncode, result.stderr)
        self.assertEqual(2, len(json.loads(result.stdout)['render_nodes']))

    def test_discover_instances_on_this_host(self):
        # The real /proc of the test machine: no QEMU of the test
        # driver's domains, so no instance, and the command still works.
        result = self.run_script('--config-file', self.write_conf(),
                                 'discover', '--instances', '--interval',
                                 '0.1', '--format', 'json')
        self.assertEqual(0, result.returncode, result.stderr)
        data = json.loads(result.stdout)
        self.assertEqual(([], 0.1), (data['instances'],
                                     data['interval_seconds']))

    def test_missing_libvirt_binding(self):
        # The script's own interpreter, with the binding made unimportable.
        code = ("import sys; sys.modules['libvirt'] = None; "
                "from nova_gpu_numa_sched.cmd import main; "
                "sys.exit(main.main(sys.argv[1:]))")
        env = dict(os.environ, PYTHONPATH=REPO_ROOT)
        env.pop('OS_NOVA_DISABLE_EVENTLET_PATCHING', None)
        result = subprocess.run(
            [sys.executable, '-c', code, '--config-file', self.write_conf(),
             'discover'], capture_output=True, text=True, env=env,
            timeout=120)
        self.assertEqual(3, result.returncode, result.stderr)
        self.assertEqual(1, len(result.stderr.splitlines()), result.stderr)
        self.assertIn('the libvirt Python binding is not installed',
                      result.stderr)
