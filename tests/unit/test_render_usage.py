"""Tests of the render node account both services share (render_usage)."""

import logging

import fixtures
from oslo_serialization import jsonutils
import testtools

from nova_gpu_numa_sched import names
from nova_gpu_numa_sched import render_usage


def node(key, cell=0, used=0, slots=10, load=None, devnode=None):
    return render_usage.RenderNodeUsage(key=key, cell=cell, slots=slots,
                                        used=used, load=load,
                                        devnode=devnode)


class UsageTestCase(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.log = self.useFixture(fixtures.FakeLogger(
            level=logging.WARNING, format='%(levelname)s %(message)s'))


class JsonTestCase(UsageTestCase):

    def test_round_trip(self):
        nodes = {n.key: n for n in (
            node('gpu0', 1, used=3, slots=8, load=40,
                 devnode='/dev/dri/renderD128'),
            node('gpu1', 3, slots=10),
            node('gone', None, used=2, slots=0))}
        self.assertEqual(nodes, render_usage.loads(render_usage.dumps(nodes)))
        self.assertEqual('', self.log.output)

    def test_published_keys(self):
        """What deployed computes publish, and older schedulers read."""
        value = render_usage.dumps({'gpu0': node(
            'gpu0', 1, used=3, slots=8, load=40, devnode='/dev/dri/r128')})
        self.assertEqual(
            {'gpu0': {'cell': 1, 'slots': 8, 'used': 3, 'load': 40,
                      'devnode': '/dev/dri/r128'}},
            jsonutils.loads(value))
        # Stable text: the compute saves its stats only when they change.
        self.assertEqual(value, render_usage.dumps({'gpu0': node(
            'gpu0', 1, used=3, slots=8, load=40, devnode='/dev/dri/r128')}))

    def test_published_render_nodes(self):
        parsed = render_usage.loads(jsonutils.dumps({
            'gpu0': {'cell': 1, 'slots': 8, 'used': 3, 'load': 40,
                     'devnode': '/dev/dri/renderD128'},
            'gpu1': {'cell': 3, 'slots': 10, 'used': 0, 'load': None,
                     'devnode': None}}))
        self.assertEqual({'gpu0', 'gpu1'}, set(parsed))
        self.assertEqual(node('gpu0', 1, used=3, slots=8, load=40,
                              devnode='/dev/dri/renderD128'),
                         parsed['gpu0'])
        self.assertEqual(5, parsed['gpu0'].free)
        gpu1 = parsed['gpu1']
        self.assertEqual((3, 10, 0, 10, None, None),
                         (gpu1.cell, gpu1.slots, gpu1.used, gpu1.free,
                          gpu1.load, gpu1.devnode))

    def test_missing_fields(self):
        """A vanished render node (cell unknown, no usable slot)."""
        parsed = render_usage.loads(jsonutils.dumps(
            {'gone': {'cell': None, 'slots': 0, 'used': 2}, 'bare': {}}))
        self.assertIsNone(parsed['gone'].cell)
        self.assertEqual((0, 2, 0), (parsed['gone'].slots,
                                     parsed['gone'].used,
                                     parsed['gone'].free))
        self.assertEqual((None, 0, 0, None),
                         (parsed['bare'].cell, parsed['bare'].slots,
                          parsed['bare'].used, parsed['bare'].load))

    def test_nothing_published(self):
        for value in (None, '', '{}'):
            self.assertEqual({}, render_usage.loads(value))
        self.assertEqual('{}', render_usage.dumps({}))
        self.assertEqual('', self.log.output)

    def test_unreadable_is_empty_with_a_warning(self):
        for value in ('{"gpu0": ', '["gpu0"]', '{"gpu0": {"slots": "x"}}',
                      '{"gpu0": 3}'):
            self.assertEqual({}, render_usage.loads(value), value)
        warnings = self.log.output.splitlines()
        self.assertEqual(4, len(warnings), warnings)
        for line in warnings:
            self.assertTrue(line.startswith('WARNING Unreadable %s'
                                            % names.RENDER_NODES_STAT), line)


class LoadShareTestCase(UsageTestCase):

    def test_slots_only_when_load_unknown(self):
        self.assertAlmostEqual(0.2, node('a', used=2).load_share(0.5))
        self.assertAlmostEqual(0.2, node('a', used=2).load_share(1.0))

    def test_known_load_weighted(self):
        gpu = node('a', used=2, load=60)
        self.assertAlmostEqual(0.4, gpu.load_share(0.5))
        self.assertAlmostEqual(0.2, gpu.load_share(0.0))
        self.assertAlmostEqual(0.6, gpu.load_share(1.0))
        self.assertAlmostEqual(0.8 * 0.2 + 0.2 * 0.6, gpu.load_share(0.2))
        # An idle GPU at zero percent is a known load too.
        self.assertAlmostEqual(0.1, node('a', used=2, load=0).load_share(0.5))

    def test_no_usable_slot_is_full(self):
        self.assertEqual(1.0, node('a', slots=0).load_share(0.5))
        self.assertEqual(1.0, node('a', slots=0, load=0).load_share(0.0))
        self.assertEqual(0, node('a', slots=0, used=2).free)
        self.assertEqual(0, node('a', slots=2, used=3).free)


class OrderTestCase(UsageTestCase):

    def test_least_loaded_first_ties_by_key(self):
        nodes = [node('c', used=2), node('b', used=1), node('a', used=1),
                 node('d', used=0, load=80)]
        self.assertEqual(['a', 'b', 'c', 'd'], [
            n.key for n in sorted(nodes, key=render_usage.order(0.5))])
        self.assertEqual(['d', 'a', 'b', 'c'], [
            n.key for n in sorted(nodes, key=render_usage.order(0.0))])

    def test_packing_most_loaded_first_ties_by_key(self):
        nodes = [node('a', used=1), node('c', used=2), node('b', used=1)]
        self.assertEqual(['c', 'a', 'b'], [
            n.key for n in sorted(nodes, key=render_usage.order(
                0.5, packing=True))])
