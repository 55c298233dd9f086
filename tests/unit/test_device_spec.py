"""Tests of ``[gpu_numa] device_spec`` parsing and of resolve()."""

import logging

import fixtures
from nova import exception
import testtools

from nova_gpu_numa_sched.compute import device_spec
from nova_gpu_numa_sched.compute import render_node


def node(devnode, numa_node, pci_address=None, key=None):
    return render_node.RenderNode(
        key=key or pci_address or devnode.rsplit('/', 1)[-1],
        devnode=devnode, numa_node=numa_node, pci_address=pci_address)


D128 = node('/dev/dri/renderD128', 0, '0000:03:00.0')
D129 = node('/dev/dri/renderD129', 1, '0000:83:00.0')
D130 = node('/dev/dri/renderD130', None, '0000:c1:00.0')
PLATFORM = node('/dev/dri/renderD131', None, key='drm_renderD131')


class ParseEntryTestCase(testtools.TestCase):

    def assertInvalid(self, text, *fragments):
        """The error names the option, the entry and what is wrong."""
        error = self.assertRaises(exception.InvalidConfiguration,
                                  device_spec.parse_entry, text)
        message = str(error)
        self.assertIn('[gpu_numa] device_spec', message)
        self.assertIn(repr(text), message)
        for fragment in fragments:
            self.assertIn(fragment, message)

    def test_bad_json(self):
        self.assertInvalid('{"devnode": "/dev/dri/renderD128"',
                           'not valid JSON')
        self.assertInvalid("{'devnode': '/dev/dri/renderD128'}",
                           'not valid JSON')

    def test_not_an_object(self):
        self.assertInvalid('["/dev/dri/renderD128"]', 'JSON object')
        self.assertInvalid('"/dev/dri/renderD128"', 'JSON object')
        self.assertInvalid('null', 'JSON object')

    def test_unknown_key(self):
        # A typo must not silently expose every GPU.
        self.assertInvalid(
            '{"devnode": "/dev/dri/renderD128", "numa": 1, "slot": 2}',
            'unknown key(s) numa, slot',
            'allowed: devnode, pci_address, slots, numa_node')

    def test_no_match_key(self):
        self.assertInvalid('{}', 'must name "devnode" or "pci_address"')
        self.assertInvalid('{"slots": 4}', 'must name')
        self.assertInvalid('{"devnode": ""}', 'must name')

    def test_match_key_not_a_string(self):
        self.assertInvalid('{"devnode": 128}', '"devnode" must be a string')
        self.assertInvalid(
            '{"devnode": "/dev/dri/renderD128", "pci_address": ["x"]}',
            '"pci_address" must be a string')

    def test_bad_slots(self):
        for value in ('"4"', '-1', '1.5', 'true', 'false', '[4]'):
            self.assertInvalid(
                '{"devnode": "/dev/dri/renderD128", "slots": %s}' % value,
                '"slots" must be an integer >= 0')

    def test_bad_numa_node(self):
        for value in ('"1"', '-1', '0.0', 'true', '{}'):
            self.assertInvalid(
                '{"pci_address": "0000:83:00.0", "numa_node": %s}' % value,
                '"numa_node" must be an integer >= 0')

    def test_valid_entries(self):
        self.assertEqual(
            device_spec.DeviceSpecEntry(devnode='/dev/dri/renderD128'),
            device_spec.parse_entry('{"devnode": "/dev/dri/renderD128"}'))
        self.assertEqual(
            device_spec.DeviceSpecEntry(pci_address='0000:83:00.0',
                                        slots=0, numa_node=3),
            device_spec.parse_entry(
                '{"pci_address": "0000:83:00.0", "slots": 0, '
                '"numa_node": 3}'))
        # null means "not given", like a missing key.
        self.assertEqual(
            device_spec.DeviceSpecEntry(devnode='/dev/dri/renderD128'),
            device_spec.parse_entry(
                '{"devnode": "/dev/dri/renderD128", "slots": null}'))

    def test_pci_address_is_lowercased(self):
        """Operators copy addresses from lspci or NVML, in either case."""
        entry = device_spec.parse_entry('{"pci_address": "0000:C1:00.0"}')
        self.assertEqual('0000:c1:00.0', entry.pci_address)
        self.assertTrue(entry.matches(D130))
        self.assertFalse(entry.matches(D129))

    def test_parse_list(self):
        self.assertEqual([], device_spec.parse([]))
        self.assertEqual([], device_spec.parse(None))
        entries = device_spec.parse(['{"devnode": "/dev/dri/renderD128"}',
                                     '{"pci_address": "0000:83:00.0"}'])
        self.assertEqual(['/dev/dri/renderD128', None],
                         [e.devnode for e in entries])
        self.assertRaises(exception.InvalidConfiguration, device_spec.parse,
                          ['{"devnode": "/dev/dri/renderD128"}', '{}'])


class MatchTestCase(testtools.TestCase):

    def test_devnode_wildcard(self):
        entry = device_spec.parse_entry('{"devnode": "/dev/dri/renderD12?"}')
        self.assertTrue(entry.matches(D128))
        self.assertTrue(entry.matches(D129))
        self.assertFalse(entry.matches(D130))

    def test_pci_wildcard(self):
        entry = device_spec.parse_entry('{"pci_address": "0000:8*:00.*"}')
        self.assertEqual([D129], [n for n in (D128, D129, D130, PLATFORM)
                                  if entry.matches(n)])

    def test_pci_address_never_matches_a_platform_device(self):
        entry = device_spec.parse_entry('{"pci_address": "*"}')
        self.assertTrue(entry.matches(D128))
        self.assertFalse(entry.matches(PLATFORM))

    def test_both_keys_must_match(self):
        entry = device_spec.parse_entry(
            '{"devnode": "/dev/dri/renderD128", "pci_address": "0000:83:*"}')
        self.assertFalse(entry.matches(D128))
        self.assertFalse(entry.matches(D129))
        entry = device_spec.parse_entry(
            '{"devnode": "/dev/dri/renderD129", "pci_address": "0000:83:*"}')
        self.assertTrue(entry.matches(D129))


class ResolveTestCase(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.log = self.useFixture(fixtures.FakeLogger(
            level=logging.DEBUG, format='%(levelname)s %(message)s'))

    def resolve(self, nodes, lines=(), cells=(0, 1), slots=8):
        return device_spec.resolve(nodes, device_spec.parse(lines),
                                   list(cells), slots)

    def warnings(self):
        return [line for line in self.log.output.splitlines()
                if line.startswith('WARNING')]

    def test_no_entries_exposes_every_known_node(self):
        exposed = self.resolve([D128, D129])
        self.assertEqual([(D128.key, 0, 8), (D129.key, 1, 8)],
                         [(n.key, n.numa_node, n.slots) for n in exposed])
        self.assertEqual([], self.warnings())

    def test_entries_select(self):
        """With any entry, only matching render nodes are exposed."""
        exposed = self.resolve([D128, D129],
                               ['{"devnode": "/dev/dri/renderD129"}'])
        self.assertEqual([D129.key], [n.key for n in exposed])
        self.assertIn('Render node /dev/dri/renderD128 is not selected',
                      self.log.output)

    def test_first_match_wins(self):
        exposed = self.resolve([D128, D129], [
            '{"devnode": "/dev/dri/renderD128", "slots": 2}',
            '{"devnode": "/dev/dri/renderD12*", "slots": 5}',
        ])
        self.assertEqual([2, 5], [n.slots for n in exposed])
        exposed = self.resolve([D128, D129], [
            '{"devnode": "/dev/dri/renderD12*", "slots": 5}',
            '{"devnode": "/dev/dri/renderD128", "slots": 2}',
        ])
        self.assertEqual([5, 5], [n.slots for n in exposed])

    def test_entry_without_slots_keeps_default(self):
        exposed = self.resolve(
            [D128], ['{"devnode": "/dev/dri/renderD128", "numa_node": 1}'],
            slots=3)
        self.assertEqual([(3, 1)], [(n.slots, n.numa_node) for n in exposed])

    def test_zero_slots_hides(self):
        exposed = self.resolve([D128, D129], [
            '{"pci_address": "0000:03:00.0", "slots": 0}',
            '{"pci_address": "*"}',
        ])
        self.assertEqual([D129.key], [n.key for n in exposed])
        self.assertIn('INFO Render node /dev/dri/renderD128 has 0 slots',
                      self.log.output)

    def test_unknown_numa_on_single_cell_host(self):
        exposed = self.resolve([D130, PLATFORM], cells=[0])
        self.assertEqual([0, 0], [n.numa_node for n in exposed])
        exposed = self.resolve([D130], cells=[3])
        self.assertEqual([3], [n.numa_node for n in exposed])
        # A host without NUMA topology counts as one cell 0.
        exposed = self.resolve([D130], cells=[])
        self.assertEqual([0], [n.numa_node for n in exposed])
        self.assertEqual([], self.warnings())

    def test_unknown_numa_on_multi_cell_host_is_left_out(self):
        """Guessing the cell would break affinity: warn with the fix."""
        exposed = self.resolve([D128, D130, PLATFORM], cells=[0, 1])
        self.assertEqual([D128.key], [n.key for n in exposed])
        warnings = self.warnings()
        self.assertEqual(2, len(warnings), warnings)
        self.assertIn('/dev/dri/renderD130 (0000:c1:00.0) reports no NUMA '
                      'node and this host has 2 NUMA cells', warnings[0])
        self.assertIn('[gpu_numa] device_spec', warnings[0])
        self.assertIn('{"pci_address": "0000:c1:00.0", "numa_node": 0}',
                      warnings[0])
        self.assertIn('/dev/dri/renderD131 (drm_renderD131)', warnings[1])
        self.assertIn('{"devnode": "/dev/dri/renderD131", "numa_node": 0}',
                      warnings[1])

    def test_numa_override(self):
        exposed = self.resolve([D128, D130], [
            '{"pci_address": "0000:c1:00.0", "numa_node": 1}',
            '{"devnode": "/dev/dri/renderD128", "numa_node": 1}',
        ])
        self.assertEqual([(D128.key, 1), (D130.key, 1)],
                         [(n.key, n.numa_node) for n in exposed])
        self.assertEqual([], self.warnings())

    def test_numa_not_among_host_cells_is_left_out(self):
        exposed = self.resolve([D128, D129], cells=[0])
        self.assertEqual([D128.key], [n.key for n in exposed])
        exposed = self.resolve(
            [D130], ['{"devnode": "/dev/dri/renderD130", "numa_node": 4}'],
            cells=[0, 1])
        self.assertEqual([], exposed)
        warnings = self.warnings()
        self.assertEqual(2, len(warnings), warnings)
        self.assertIn('/dev/dri/renderD129 is on NUMA node 1 (from '
                      'firmware), which is not one of the host cells [0]',
                      warnings[0])
        # The firmware's value is fixed by giving the cell in device_spec.
        self.assertIn('Fix: set its cell in [gpu_numa] device_spec, e.g. '
                      '{"pci_address": "0000:83:00.0", "numa_node": 0}',
                      warnings[0])
        self.assertIn('/dev/dri/renderD130 is on NUMA node 4 (from '
                      'device_spec)', warnings[1])
        self.assertIn('Fix: correct "numa_node" for {"pci_address": '
                      '"0000:c1:00.0"} in [gpu_numa] device_spec', warnings[1])

    def test_host_without_numa_cells_counts_as_cell_0(self):
        """A node on any other cell than 0 could never be used there."""
        result = device_spec.resolve_detailed([D128, D129, D130], [], [], 8)
        self.assertEqual([(D128.key, 0), (D130.key, 0)],
                         [(n.key, n.numa_node) for n in result.exposed])
        (left,) = result.left_out
        self.assertEqual((D129.key, device_spec.LEFT_NOT_A_HOST_CELL),
                         (left.node.key, left.kind))
        self.assertEqual('is on NUMA node 1 (from firmware), which is not '
                         'one of the host cells [0]', left.reason)
        self.assertEqual('set its cell in [gpu_numa] device_spec, e.g. '
                         '{"pci_address": "0000:83:00.0", "numa_node": 0}',
                         left.fix)
        # The fix it names places the node.
        exposed = self.resolve(
            [D129], ['{"pci_address": "0000:83:00.0", "numa_node": 0}'],
            cells=[])
        self.assertEqual([(D129.key, 0)],
                         [(n.key, n.numa_node) for n in exposed])

    def test_input_nodes_not_modified(self):
        exposed = self.resolve(
            [D130], ['{"devnode": "/dev/dri/renderD130", "numa_node": 1, '
                     '"slots": 2}'])
        self.assertEqual((1, 2), (exposed[0].numa_node, exposed[0].slots))
        self.assertIsNone(D130.numa_node)
        self.assertIsNone(D130.slots)
