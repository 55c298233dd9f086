"""demo.guest_xml: the reading of guest XML the demo and the tests share."""

import os

import testtools

from demo import guest_xml

SAMPLES = os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), 'libvirtd', 'samples')


def _sample(name):
    with open(os.path.join(SAMPLES, name)) as f:
        return f.read()


class TestCpuset(testtools.TestCase):

    def test_ranges_lists_and_exclusions(self):
        self.assertEqual({0, 1, 2, 3, 6}, guest_xml.cpuset('0-3,6'))
        self.assertEqual({0, 1, 3}, guest_xml.cpuset('0-3,^2'))
        self.assertEqual(set(), guest_xml.cpuset(''))
        self.assertEqual(set(), guest_xml.cpuset(None))


class TestPins(testtools.TestCase):

    def test_x86_64_sample(self):
        pins = guest_xml.pins(_sample('phone-x86_64-q35.xml'))
        cpus = set(range(0, 8)) | set(range(16, 24))
        self.assertEqual('/dev/dri/renderD128', pins.rendernode)
        self.assertEqual(cpus, pins.vcpu_cpus)
        self.assertEqual(cpus, pins.emulator_cpus)
        self.assertEqual({0}, pins.memnodes)

    def test_aarch64_sample_bytes(self):
        pins = guest_xml.pins(_sample('phone-aarch64-virt.xml').encode())
        self.assertEqual('/dev/dri/renderD129', pins.rendernode)
        self.assertEqual(set(range(32, 64)), pins.vcpu_cpus)
        self.assertEqual({1}, pins.memnodes)

    def test_guest_without_pins_or_render_node(self):
        pins = guest_xml.pins('<domain type="kvm"><name>plain</name>'
                              '</domain>')
        self.assertEqual(guest_xml.Pins(None, set(), set(), set()), pins)


class TestCells(testtools.TestCase):

    CELLS = {0: {0, 1, 2, 3}, 1: {4, 5, 6, 7}}

    def test_one_cell_is_an_int(self):
        self.assertEqual(1, guest_xml.cells_of({4, 7}, self.CELLS))

    def test_split_is_a_sorted_list(self):
        self.assertEqual([0, 1], guest_xml.cells_of({3, 4}, self.CELLS))

    def test_no_cpus_is_an_empty_list(self):
        self.assertEqual([], guest_xml.cells_of(set(), self.CELLS))
