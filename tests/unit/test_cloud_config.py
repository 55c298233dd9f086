"""The one-machine cloud configures the plugin as the install guide says.

tools/cloud.sh renders every Nova service's nova.conf from
tools/cloud/etc/nova.conf; an operator follows doc/source/install.rst. The
cloud's tests only prove what the guide says if both hold the same plugin
settings, so this compares them key by key.
"""

import importlib.util
import os
import re

import fixtures
from oslo_config import cfg
import testtools
import yaml

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
CLOUD_TOOLS = os.path.join(REPO_ROOT, 'tools', 'cloud')
INSTALL_RST = os.path.join(REPO_ROOT, 'doc', 'source', 'install.rst')


def _load_cloudctl():
    spec = importlib.util.spec_from_file_location(
        'cloudctl', os.path.join(CLOUD_TOOLS, 'cloudctl.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def ini_blocks_of_section(rst, title):
    """The ``.. code-block:: ini`` bodies of one section of an rst text."""
    match = re.search(r'^%s\n-+\n(.*?)(?=^\S[^\n]*\n-+\n|\Z)' % re.escape(
        title), rst, re.S | re.M)
    if match is None:
        raise AssertionError('install.rst has no section %r' % title)
    blocks = []
    for block in re.finditer(
            r'^\.\. code-block:: ini\n\n((?:(?:    .*)?\n)+)',
            match.group(1), re.M):
        blocks.append('\n'.join(line[4:] for line in
                                block.group(1).splitlines()) + '\n')
    return blocks


class TestCloudNovaConf(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.tmp = self.useFixture(fixtures.TempDir()).path
        self.cloudctl = _load_cloudctl()
        with open(INSTALL_RST) as f:
            self.rst = f.read()

    def parse(self, text):
        """{section: {key: [values]}} as oslo.config reads an ini file."""
        path = os.path.join(self.tmp, 'parsed.conf')
        with open(path, 'w') as f:
            f.write(text)
        sections = {}
        cfg.ConfigParser(path, sections).parse()
        return sections

    def rendered(self, template, **extra):
        with open(os.path.join(CLOUD_TOOLS, 'etc', template)) as f:
            text = f.read()
        values = {name: 'x' for name in (
            'CLOUD', 'PASSWORD', 'DB', 'TRANSPORT_URL', 'KEYSTONE_PORT',
            'MEMCACHED_PORT', 'HOST')}
        values.update(extra)
        return self.parse(self.cloudctl.render_text(text, values))

    def assertSettingsIn(self, guide, conf, where):
        for section, options in guide.items():
            for key, values in options.items():
                self.assertEqual(
                    values, conf.get(section, {}).get(key),
                    '[%s] %s of %s differs from doc/source/install.rst' % (
                        section, key, where))

    def guide(self, title):
        blocks = ini_blocks_of_section(self.rst, title)
        self.assertTrue(blocks, 'no ini block under %r' % title)
        # The first block is the setting; later ones are optional examples
        # (device_spec) that the cloud does not use.
        return self.parse(blocks[0])

    def test_compute_settings_as_in_install_guide(self):
        guide = self.guide('Compute hosts')
        self.assertIn('compute_driver', guide['DEFAULT'])
        self.assertSettingsIn(guide, self.rendered('nova.conf'),
                              'tools/cloud/etc/nova.conf')

    def test_scheduler_settings_as_in_install_guide(self):
        guide = self.guide('Scheduler')
        self.assertIn('enabled_filters', guide['filter_scheduler'])
        self.assertSettingsIn(guide, self.rendered('nova.conf'),
                              'tools/cloud/etc/nova.conf')

    def test_compute_overlay_keeps_the_plugin_settings(self):
        # Each nova-compute reads nova.conf and then its own <host>.conf,
        # whose values win: that file must not touch the plugin's keys.
        overlay = self.rendered('nova-compute.conf', HOST='compute-1')
        for title in ('Compute hosts', 'Scheduler'):
            for section, options in self.guide(title).items():
                for key in options:
                    self.assertNotIn(key, overlay.get(section, {}),
                                     '[%s] %s' % (section, key))

    def test_a_difference_is_caught(self):
        guide = self.guide('Compute hosts')
        conf = self.rendered('nova.conf')
        conf['gpu_numa']['slots_per_gpu'] = ['4']
        self.assertRaises(AssertionError, self.assertSettingsIn, guide, conf,
                          'changed nova.conf')


class TestCloudHosts(testtools.TestCase):
    """The host descriptions give the cloud the hosts the issue needs."""

    def hosts(self):
        hosts = {}
        directory = os.path.join(CLOUD_TOOLS, 'hosts')
        for name in sorted(os.listdir(directory)):
            with open(os.path.join(directory, name)) as f:
                hosts[name] = yaml.safe_load(f)
        return hosts

    def test_names_match_files_and_cells_exist(self):
        for name, host in self.hosts().items():
            self.assertEqual(name, host['hostname'] + '.yaml')
            cells = host.get('sockets', 1) * host['cells_per_socket']
            for node in host.get('render_nodes') or ():
                self.assertIn(node['numa_node'], range(cells), name)

    def test_a_four_cell_gpu_host_and_a_host_without_gpu(self):
        hosts = self.hosts().values()
        self.assertTrue(any(
            host.get('sockets', 1) * host['cells_per_socket'] == 4 and
            len({n['numa_node'] for n in host['render_nodes']}) == 2
            for host in hosts))
        self.assertTrue(any(not host.get('render_nodes') for host in hosts))
