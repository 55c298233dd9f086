"""The committed sample config is what oslo-config-generator makes now."""

import os

import fixtures
from oslo_config import generator
import testtools

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
GENERATOR_CONF = os.path.join(
    'etc', 'oslo-config-generator', 'nova-gpu-numa-sched.conf')
SAMPLE = os.path.join('etc', 'nova-gpu-numa-sched.conf.sample')
REGENERATE = 'tox -e genconfig (or: oslo-config-generator --config-file %s)'


class SampleConfigTest(testtools.TestCase):

    def test_sample_is_current(self):
        out = os.path.join(self.useFixture(fixtures.TempDir()).path,
                           'sample.conf')
        generator.main(['--config-file',
                        os.path.join(REPO_ROOT, GENERATOR_CONF),
                        '--output-file', out])
        with open(out) as f:
            generated = f.read()
        with open(os.path.join(REPO_ROOT, SAMPLE)) as f:
            committed = f.read()
        self.assertIn('[gpu_numa]', generated)
        self.assertTrue(
            generated == committed,
            '%s is stale; regenerate it with %s' % (
                SAMPLE, REGENERATE % GENERATOR_CONF))
