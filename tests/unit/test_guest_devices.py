"""Tests of the render node devices added to nova's guest config."""

import logging

import fixtures
from lxml import etree
from nova import objects
from nova.virt.libvirt import config as vconfig
from oslo_utils.fixture import uuidsentinel as uuids
import testtools

from nova_gpu_numa_sched.compute import guest_devices
from nova_gpu_numa_sched.compute import render_node
from nova_gpu_numa_sched import names

objects.register_all()

NODE = render_node.RenderNode(
    key='0000:83:00.0', devnode='/dev/dri/renderD129', numa_node=1,
    pci_address='0000:83:00.0', slots=8)


def make_guest(*devices):
    guest = vconfig.LibvirtConfigGuest()
    guest.virt_type = 'kvm'
    guest.name = 'phone'
    guest.uuid = uuids.instance
    guest.memory = 2 * 1024 * 1024
    guest.vcpus = 2
    guest.os_type = 'hvm'
    for dev in devices:
        guest.add_device(dev)
    return guest


def video(model='virtio', heads=None):
    dev = vconfig.LibvirtConfigGuestVideo()
    dev.type = model
    dev.heads = heads
    return dev


def vnc():
    dev = vconfig.LibvirtConfigGuestGraphics()
    dev.type = 'vnc'
    dev.listen = '127.0.0.1'
    return dev


def instance_on(*cells, policy=None):
    topology = None
    if cells:
        topology = objects.InstanceNUMATopology(cells=[
            objects.InstanceNUMACell(id=cell, cpuset={i}, pcpuset=set(),
                                     memory=1024)
            for i, cell in enumerate(cells)])
    instance = objects.Instance(uuid=uuids.instance, numa_topology=topology)
    if policy is not None:
        instance.flavor = objects.Flavor(
            name='phone', extra_specs={names.AFFINITY_POLICY_KEY: policy})
    return instance


class AttachRenderNodeTestCase(testtools.TestCase):

    def domain(self, guest):
        """The XML nova would hand to libvirt."""
        return etree.fromstring(guest.to_xml())

    def test_replaces_video_and_adds_egl_headless(self):
        serial = vconfig.LibvirtConfigGuestSerial()
        serial.type = 'pty'
        guest = make_guest(video(model='vga', heads=2), vnc(), serial)
        result = guest_devices.attach_render_node(guest, NODE.devnode)
        self.assertIs(guest, result)
        dom = self.domain(guest)

        videos = dom.findall('./devices/video')
        self.assertEqual(1, len(videos))
        model = videos[0].find('model')
        self.assertEqual({'type': 'virtio', 'heads': '2'}, dict(model.attrib))
        accel = model.findall('acceleration')
        self.assertEqual([{'accel3d': 'yes'}], [dict(a.attrib) for a in accel])

        graphics = dom.findall('./devices/graphics')
        self.assertEqual(['vnc', 'egl-headless'],
                         [g.get('type') for g in graphics])
        self.assertEqual('127.0.0.1', graphics[0].get('listen'))
        gl = graphics[1].findall('gl')
        self.assertEqual([{'rendernode': '/dev/dri/renderD129'}],
                         [dict(g.attrib) for g in gl])
        # Other devices stay.
        self.assertEqual(['pty'], [s.get('type') for s in
                                   dom.findall('./devices/serial')])

    def test_several_videos_become_one(self):
        guest = make_guest(video(heads=1), video(model='cirrus'))
        guest_devices.attach_render_node(guest, NODE.devnode)
        videos = self.domain(guest).findall('./devices/video')
        self.assertEqual(1, len(videos))
        self.assertEqual('1', videos[0].find('model').get('heads'))

    def test_guest_without_video(self):
        guest = make_guest(vnc())
        guest_devices.attach_render_node(guest, NODE.devnode)
        dom = self.domain(guest)
        model, = dom.findall('./devices/video/model')
        self.assertEqual({'type': 'virtio'}, dict(model.attrib))
        self.assertEqual(
            'yes', model.find('acceleration').get('accel3d'))
        self.assertEqual(
            ['/dev/dri/renderD129'],
            [g.get('rendernode') for g in dom.findall(
                "./devices/graphics[@type='egl-headless']/gl")])


class CheckSameCellTestCase(testtools.TestCase):

    def test_same_cell_passes(self):
        self.assertIsNone(guest_devices.check_same_cell(instance_on(1), NODE))

    def test_other_cell_raises(self):
        error = self.assertRaises(guest_devices.RenderNodeNumaMismatch,
                                  guest_devices.check_same_cell,
                                  instance_on(0), NODE)
        message = str(error)
        self.assertIn('/dev/dri/renderD129', message)
        self.assertIn('host NUMA cell(s) [0]', message)
        self.assertIn('is on cell 1', message)
        self.assertIn(uuids.instance, message)

    def setUp(self):
        super().setUp()
        self.log = self.useFixture(fixtures.FakeLogger(
            level=logging.WARNING, format='%(levelname)s %(message)s'))

    def test_spanning_cells_with_the_render_cell_passes(self):
        """A guest of several cells needs the GPU's cell among them."""
        self.assertIsNone(guest_devices.check_same_cell(
            instance_on(0, 1), NODE))
        self.assertEqual('', self.log.output)

    def test_spanning_other_cells_raises(self):
        error = self.assertRaises(guest_devices.RenderNodeNumaMismatch,
                                  guest_devices.check_same_cell,
                                  instance_on(2, 0), NODE)
        self.assertIn('cell(s) [0, 2]', str(error))

    def test_required_policy_split_raises(self):
        self.assertRaises(guest_devices.RenderNodeNumaMismatch,
                          guest_devices.check_same_cell,
                          instance_on(0, policy=names.POLICY_REQUIRED), NODE)
        self.assertEqual('', self.log.output)

    def test_preferred_policy_split_passes_with_warning(self):
        self.assertIsNone(guest_devices.check_same_cell(
            instance_on(0, policy=names.POLICY_PREFERRED), NODE))
        warning, = self.log.output.splitlines()
        for word in ('WARNING', uuids.instance, 'cell(s) [0]',
                     '/dev/dri/renderD129 on cell 1',
                     '%s=preferred' % names.AFFINITY_POLICY_KEY):
            self.assertIn(word, warning)

    def test_preferred_policy_without_numa_topology_raises(self):
        """No hw:numa_nodes is never accepted, whatever the policy."""
        error = self.assertRaises(
            guest_devices.RenderNodeNumaMismatch,
            guest_devices.check_same_cell,
            instance_on(policy=names.POLICY_PREFERRED), NODE)
        self.assertIn('none (no hw:numa_nodes)', str(error))

    def test_no_numa_topology_raises(self):
        error = self.assertRaises(guest_devices.RenderNodeNumaMismatch,
                                  guest_devices.check_same_cell,
                                  instance_on(), NODE)
        self.assertIn('none (no hw:numa_nodes)', str(error))
        self.assertIn('/dev/dri/renderD129', str(error))


class InsecureLoaderFlagTest(testtools.TestCase):
    """An autoselected-UEFI guest must not carry loader secure='no'."""

    def _guest(self, firmware, secure):
        guest = vconfig.LibvirtConfigGuest()
        guest.virt_type = 'qemu'
        guest.name = 'phone'
        guest.uuid = uuids.phone
        guest.memory = 1024 * 1024
        guest.vcpus = 1
        guest.os_type = 'hvm'
        guest.os_loader = '/usr/share/AAVMF/AAVMF_CODE.fd'
        guest.os_loader_type = 'pflash'
        guest.os_firmware = firmware
        guest.os_loader_secure = secure
        return guest

    def test_secure_no_dropped_with_autoselection(self):
        guest = guest_devices.drop_insecure_loader_flag(
            self._guest('efi', False))
        xml = etree.fromstring(guest.to_xml())
        self.assertIsNone(xml.find('./os/loader').get('secure'))
        self.assertEqual('efi', xml.find('./os').get('firmware'))

    def test_requested_secure_boot_kept(self):
        guest = guest_devices.drop_insecure_loader_flag(
            self._guest('efi', True))
        self.assertTrue(guest.os_loader_secure)

    def test_no_autoselection_untouched(self):
        guest = guest_devices.drop_insecure_loader_flag(
            self._guest(None, False))
        self.assertIs(False, guest.os_loader_secure)
