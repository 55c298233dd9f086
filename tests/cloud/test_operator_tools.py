"""``nova-gpu-numa check`` and ``status`` on the controller's nova.conf.

The command runs as an operator runs it: the installed console script of
the cloud's environment, ``--config-file .cloud/etc/nova.conf``, Keystone
credentials from ``[placement]``, Nova's MariaDB databases.
"""

import json
import os
import tempfile

from tests.cloud import base
from tests.cloud import cloud as cloud_client

PHONES = 3
WRONG_PASSWORD = 'not-the-placement-password-7f3a'


class TestOperatorTools(base.CloudTestCase):

    def nova_gpu_numa(self, *args, conf=cloud_client.NOVA_CONF):
        # Only the cloud's environment: the command must not need the
        # OS_* variables of admin-openrc.
        env = {'PATH': os.environ.get('PATH', ''), 'LANG': 'C.UTF-8'}
        return cloud_client.run_cli(
            ['nova-gpu-numa', '--config-file', conf] + list(args), env=env)

    def test_check_and_status_list_the_running_phones(self):
        servers = self.boot(count=PHONES)
        self.assertEqual(['ACTIVE'] * PHONES, [s['status'] for s in servers])
        check = self.nova_gpu_numa('check')
        self.assertEqual(0, check.returncode, check.stdout + check.stderr)
        status = self.nova_gpu_numa('status', '--format', 'json')
        self.assertEqual(0, status.returncode, status.stderr)
        listed = {instance['uuid']: instance['name']
                  for host in json.loads(status.stdout)['hosts']
                  for node in host['render_nodes']
                  for instance in node['instances']}
        running = {s['id']: s['name'] for s in self.cloud.servers()
                   if s['status'] == 'ACTIVE'}
        self.assertEqual(running, listed)
        # The table lists the same phones by name.
        table = self.nova_gpu_numa('status')
        self.assertEqual(0, table.returncode, table.stderr)
        for server in servers:
            self.assertIn(server['name'], table.stdout)

    def test_wrong_placement_password(self):
        with tempfile.NamedTemporaryFile('w', suffix='.conf') as f:
            f.write(with_placement_password(cloud_client.NOVA_CONF,
                                            WRONG_PASSWORD))
            f.flush()
            # status reads Nova's databases only: Placement's password
            # does not matter to it.
            status = self.nova_gpu_numa('status', conf=f.name)
            output = status.stdout + status.stderr
            self.assertEqual(0, status.returncode, output)
            self.assertIn('RENDER NODE', output)
            self.assertNotIn(WRONG_PASSWORD, output)
            # check runs every check, as nova-status does: the checks
            # that need Placement fail with the reason, the others still
            # report, and the exit code is that of a failure (2).
            check = self.nova_gpu_numa('check', conf=f.name)
            output = check.stdout + check.stderr
            self.assertEqual(2, check.returncode, output)
            self.assertNotIn('Traceback', output)
            self.assertNotIn(WRONG_PASSWORD, output)
            failed = [line[:22].strip() for line in output.splitlines()
                      if line.rstrip().endswith('Failure')]
            for name in ('Compute driver', 'Published render nodes',
                         'Render providers gone'):
                self.assertIn(name, failed, output)
            # Every failure is Placement's refusal, named once each.
            self.assertEqual(len(failed),
                             output.count('[placement] options'), output)
            self.assertEqual(len(failed), output.count('HTTP 401'), output)
            self.assertIn('Nova version           Success', output)


def with_placement_password(path, password):
    """The text of ``path`` with ``[placement] password`` replaced.

    Line by line: a config parser would merge repeated options such as
    ``available_filters``.
    """
    lines, section, replaced = [], None, False
    with open(path) as f:
        for line in f:
            stripped = line.strip()
            if stripped.startswith('['):
                section = stripped
            elif (section == '[placement]' and
                  stripped.split('=')[0].strip() == 'password'):
                line = 'password = %s\n' % password
                replaced = True
            lines.append(line)
    if not replaced:
        raise AssertionError('no [placement] password in %s' % path)
    return ''.join(lines)
