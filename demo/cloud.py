"""The demo's phone story through the one-machine cloud and real clients.

``python -m demo --cloud`` (``./tools/demo.sh --cloud``) runs against the
cloud of ``tools/cloud.sh up``: Nova's services as separate processes with
RabbitMQ, MariaDB, Keystone, Placement, Glance and Neutron. It does what an
operator does, with the clients an operator uses, and prints each command:
``openstack flavor create/set``, ``openstack server create --min/--max
--nic none``, ``openstack resource provider list / inventory list / usage
show`` (osc-placement), ``nova-gpu-numa status`` and ``check`` on the
controller's nova.conf. Where each phone landed is read as in the cloud
tests (``tests.cloud.checks``): the domain XML the hypervisor was given,
the claimed cells in MariaDB and the render allocation in Placement, and
printed with the embedded demo's table (``demo.report``). The phones and
the flavor are deleted at the end.
"""

import os
import shlex
import sys
import time

from demo import layout
from demo import report

FLAVOR = 'phone.demo'
NAME = 'demo-phone'
TITLE = ('Cloud phones on GPU hosts: Nova %s as separate services '
         '(tools/cloud.sh: API, conductor,\n2 scheduler workers, 3 '
         'nova-compute processes on a stand-in hypervisor; RabbitMQ,\n'
         'MariaDB, Keystone, Placement, Glance, Neutron), driven with '
         'the operator\'s clients.')


class DemoError(Exception):
    """A step of the story failed; the message says which."""


class Story:
    """Runs and prints the commands; collects where the phones landed."""

    def __init__(self, cloud_client, checks):
        self.client = cloud_client
        self.checks = checks
        self.cloud = cloud_client.Cloud()
        self.db = cloud_client.Databases()

    def run(self, argv, show=True, lines=None):
        """Run a client of the cloud's venv, echo it; its stdout."""
        print('$ %s' % ' '.join(shlex.quote(a) for a in argv), flush=True)
        result = self.client.run_cli(argv)
        if result.returncode:
            raise DemoError('%s exited %d: %s' % (
                argv[0], result.returncode,
                (result.stderr or result.stdout).strip()[-1000:]))
        if show:
            out = result.stdout.rstrip('\n').splitlines()
            if lines and len(out) > lines:
                out = out[:lines] + ['... (%d more lines)'
                                     % (len(out) - lines)]
            print('\n'.join(out) + '\n' if out else '', flush=True)
        return result.stdout

    def hosts(self):
        lines = ['Hosts (tools/cloud/hosts/*.yaml):']
        gpus = {}
        for (host, devnode), cell in sorted(
                self.checks.rendernode_cells().items()):
            gpus.setdefault(host, []).append('%s on cell %s' % (
                devnode.rsplit('/', 1)[-1], cell))
        for service in sorted(self.cloud.compute_services(),
                              key=lambda s: s['host']):
            host = service['host']
            lines.append('  %-10s %s' % (host, ', '.join(gpus[host])
                                         if host in gpus else 'no GPU'))
        return '\n'.join(lines)

    def boot(self, phones, batch):
        image = self.cloud.image_id('name')
        self.run(['openstack', 'flavor', 'create', '--vcpus',
                  str(layout.PHONE_VCPUS), '--ram',
                  str(layout.PHONE_MEMORY_MB), '--disk', '1', FLAVOR],
                 show=False)
        self.run(['openstack', 'flavor', 'set', FLAVOR,
                  '--property', 'hw:numa_nodes=1',
                  '--property', 'resources:CUSTOM_GPU_RENDER_SLOT=1',
                  '--property', 'gpu_numa:affinity_policy=required'],
                 show=False)
        start = time.monotonic()
        create = ['openstack', 'server', 'create', '--flavor', FLAVOR,
                  '--image', image, '--nic', 'none', '-f', 'value',
                  '-c', 'id']
        if batch > 1:
            self.run(create + ['--min', str(batch), '--max', str(batch),
                               NAME], show=False)
            self.cloud.wait_for_servers(name='^%s-' % NAME, count=batch)
        for number in range(batch + 1 if batch > 1 else 1, phones + 1):
            self.run(create + ['--wait', '%s-%d' % (NAME, number)],
                     show=False)
        servers = self.cloud.wait_for_servers(name='^%s-' % NAME,
                                              count=phones)
        return servers, time.monotonic() - start

    def rows(self, servers):
        reader = self.checks.Reader(self.cloud, self.db)
        rows = []
        for server in servers:
            if server['status'] != 'ACTIVE':
                rows.append(report.Row(
                    name=server['name'], status=server['status'],
                    host=server.get('OS-EXT-SRV-ATTR:host'),
                    fault=server.get('fault', {}).get('message', '')))
                continue
            placed = reader.placed(server)
            rows.append(report.Row(
                name=placed.name, status='ACTIVE', host=placed.host,
                rendernode=placed.rendernode, gpu_cell=placed.gpu_cell,
                vcpu_cell=placed.vcpu_cell, memory_cell=placed.memory_cell,
                emulator_cell=placed.emulator_cell,
                claimed_cell=placed.claimed_cell,
                colocated=self.checks.colocated(placed)))
        return sorted(rows, key=report.phone_order)

    def placement(self):
        """What Placement holds, through osc-placement."""
        self.run(['openstack', 'resource', 'provider', 'list'])
        render = self.checks.render_providers(self.cloud)
        if not render:
            raise DemoError('no compute node with render slots in Placement')
        rp = max(render, key=lambda rp: rp.used)
        self.run(['openstack', 'resource', 'provider', 'inventory', 'list',
                  rp.uuid])
        self.run(['openstack', 'resource', 'provider', 'usage', 'show',
                  rp.uuid])

    def operator_tools(self):
        conf = os.path.relpath(self.client.NOVA_CONF, os.getcwd())
        for command in ('status', 'check'):
            self.run(['nova-gpu-numa', '--config-file', conf, command])

    def clean_up(self):
        ids = [s['id'] for s in self.cloud.servers(name='^%s-' % NAME)]
        if ids:
            self.run(['openstack', 'server', 'delete', '--wait'] + ids,
                     show=False)
        self.run(['openstack', 'flavor', 'delete', FLAVOR], show=False)


def main(args):
    """Tell the story; 0 when every phone is co-located."""
    from tests.cloud import checks
    from tests.cloud import cloud as cloud_client
    try:
        story = Story(cloud_client, checks)
        if story.cloud.servers(name='^%s-' % NAME):
            raise DemoError('servers named %s-* exist already (an earlier '
                            'demo?); delete them first' % NAME)
    except (cloud_client.CloudError, DemoError) as e:
        print('demo --cloud: %s' % e, file=sys.stderr)
        return 2
    print(TITLE % report.nova_version())
    print()
    print(story.hosts())
    print()
    print('1. A phone flavor; %d phones: %s.' % (
        args.phones, '%d in one multi-create request, then %d one by one'
        % (args.batch, args.phones - args.batch) if args.batch > 1
        else 'one by one'))
    code = 0
    try:
        servers, seconds = story.boot(args.phones, args.batch)
        rows = story.rows(servers)
        print(report.table(rows))
        print()
        print(report.LEGEND)
        colocated = sum(1 for row in rows if row.colocated)
        print('\n%d/%d phones co-located (%.0f s from the first create).\n'
              % (colocated, args.phones, seconds))
        if colocated != args.phones:
            code = 1
        print('2. What Placement holds (osc-placement)\n')
        story.placement()
        print('3. What an operator sees (nova-gpu-numa on the controller\'s '
              'nova.conf)\n')
        story.operator_tools()
    except (cloud_client.CloudError, DemoError) as e:
        print('demo --cloud: %s' % e, file=sys.stderr)
        code = 2
    finally:
        print('\n4. Clean up\n')
        try:
            story.clean_up()
        except (cloud_client.CloudError, DemoError) as e:
            print('demo --cloud: clean-up: %s' % e, file=sys.stderr)
            code = code or 2
    return code
