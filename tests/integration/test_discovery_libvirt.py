"""Render node discovery through real libvirt-python and its test driver.

The test driver reads node devices from a host file, so discovery runs
over the same node-device API calls it makes against a real host
(``listAllDevices`` with the DRM flag, ``nodeDeviceLookupByName``,
``XMLDesc``) without a GPU. Nova's test base is not used: it poisons
``import libvirt``. A missing binding fails the import of this module, so
the tests fail instead of being skipped.
"""

import logging
import os
import re

import fixtures
import libvirt
import testtools

from nova_gpu_numa_sched.compute import device_spec
from nova_gpu_numa_sched.compute import discovery

_PCI = """
  <device><name>pci_0000_%(bus)02x_00_0</name><parent>computer</parent>
    <capability type='pci'><class>0x030000</class><domain>0</domain>
      <bus>%(bus)d</bus><slot>0</slot><function>0</function>
      <product id='%(product)s'/><vendor id='%(vendor)s'/>%(numa)s
    </capability></device>"""

_DRM = """
  <device><name>drm_%(name)s</name>
    <devnode type='dev'>/dev/dri/%(name)s</devnode>
    <parent>%(parent)s</parent>
    <capability type='drm'><type>%(type)s</type></capability></device>"""


def pci(bus, vendor, product, numa=None):
    return _PCI % {
        'bus': bus, 'vendor': vendor, 'product': product,
        'numa': "<numa node='%d'/>" % numa if numa is not None else ''}


def drm(name, parent, drm_type='render'):
    return _DRM % {'name': name, 'parent': parent, 'type': drm_type}


def host_xml(*devices):
    return ("<node><cpu><nodes>2</nodes><sockets>1</sockets><cores>4</cores>"
            "<threads>2</threads><mhz>2400</mhz><model>x86_64</model></cpu>"
            "<memory>33554432</memory>%s</node>" % ''.join(devices))


#: Two AMD GPUs on cells 0 and 1 (the first also has a primary node), an
#: Intel GPU whose firmware reports no NUMA node, and a platform GPU
#: (panfrost) that has no PCI parent at all.
HOST_DEVICES = (
    pci(0x03, '0x1002', '0x73bf', numa=0),
    drm('card0', 'pci_0000_03_00_0', drm_type='primary'),
    drm('renderD128', 'pci_0000_03_00_0'),
    pci(0x83, '0x1002', '0x73bf', numa=1),
    drm('renderD129', 'pci_0000_83_00_0'),
    pci(0xc1, '0x8086', '0x56a0'),
    drm('renderD130', 'pci_0000_c1_00_0'),
    drm('renderD131', 'computer'),
)


class LibvirtTestDriverTestCase(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.tmp = self.useFixture(fixtures.TempDir()).path
        self.log = self.useFixture(fixtures.FakeLogger(
            level=logging.INFO, format='%(levelname)s %(message)s'))
        # libvirt prints every error to stderr by default; the tests
        # provoke errors on purpose.
        libvirt.registerErrorHandler(lambda ctx, err: None, None)
        self.addCleanup(libvirt.registerErrorHandler, None, None)

    def open_host(self, *devices):
        path = os.path.join(self.tmp, 'host.xml')
        with open(path, 'w') as f:
            f.write(host_xml(*devices))
        conn = libvirt.open('test://' + path)
        self.addCleanup(self._close, conn)
        return conn

    @staticmethod
    def _close(conn):
        try:
            conn.close()
        except libvirt.libvirtError:
            pass  # already closed by the test

    @staticmethod
    def default_host_cells():
        """Cell ids of the test driver's default host (2 cells).

        A custom host file cannot define NUMA cells, so the topology used
        with resolve() comes from the driver's built-in host.
        """
        conn = libvirt.open('test:///default')
        try:
            caps = conn.getCapabilities()
        finally:
            conn.close()
        return sorted(int(i) for i in re.findall(r"<cell id='(\d+)'", caps))


class DiscoverRenderNodesTestCase(LibvirtTestDriverTestCase):

    def test_render_nodes_with_pci_facts_and_numa(self):
        """Each render node gets its parent's address, ids and NUMA node."""
        conn = self.open_host(*HOST_DEVICES)
        nodes = discovery.discover_render_nodes(conn)

        # card0 is a primary node: not something a guest renders through.
        self.assertEqual(
            ['/dev/dri/renderD128', '/dev/dri/renderD129',
             '/dev/dri/renderD130', '/dev/dri/renderD131'],
            [n.devnode for n in nodes])
        d128, d129, d130, d131 = nodes

        self.assertEqual(
            ('0000:03:00.0', '0000:03:00.0', '0x1002', '0x73bf', 0),
            (d128.key, d128.pci_address, d128.vendor_id, d128.product_id,
             d128.numa_node))
        # Bus 131 must be printed in hex, as the kernel and NVML spell it.
        self.assertEqual(
            ('0000:83:00.0', '0000:83:00.0', '0x1002', '0x73bf', 1),
            (d129.key, d129.pci_address, d129.vendor_id, d129.product_id,
             d129.numa_node))
        self.assertEqual(
            ('0000:c1:00.0', '0000:c1:00.0', '0x8086', '0x56a0', None),
            (d130.key, d130.pci_address, d130.vendor_id, d130.product_id,
             d130.numa_node))
        # No PCI parent: the node-device name is the stable key.
        self.assertEqual(
            ('drm_renderD131', None, None, None, None),
            (d131.key, d131.pci_address, d131.vendor_id, d131.product_id,
             d131.numa_node))
        self.assertEqual('renderD131', d131.name)
        self.assertIsNone(d128.slots)

    def test_order_is_by_devnode_not_listing_order(self):
        """The result order is stable whatever order libvirt lists in."""
        conn = self.open_host(*HOST_DEVICES)
        listed = [d.name() for d in conn.listAllDevices(
            discovery.CAP_DRM_FLAG)]
        self.assertEqual(
            {'drm_card0', 'drm_renderD128', 'drm_renderD129',
             'drm_renderD130', 'drm_renderD131'}, set(listed))
        nodes = discovery.discover_render_nodes(conn)
        devnodes = [n.devnode for n in nodes]
        self.assertEqual(sorted(devnodes), devnodes)
        self.assertEqual(4, len(devnodes))

    def test_host_without_render_nodes(self):
        """A host with only a primary DRM node has nothing to expose."""
        conn = self.open_host(
            pci(0x03, '0x1002', '0x73bf', numa=0),
            drm('card0', 'pci_0000_03_00_0', drm_type='primary'))
        self.assertEqual([], discovery.discover_render_nodes(conn))

    def test_device_whose_parent_vanished_is_skipped(self):
        """A lookup failure loses one device, not the whole listing."""
        conn = self.open_host(
            pci(0x83, '0x1002', '0x73bf', numa=1),
            drm('renderD128', 'pci_0000_ff_00_0'),
            drm('renderD129', 'pci_0000_83_00_0'))
        nodes = discovery.discover_render_nodes(conn)
        self.assertEqual(['/dev/dri/renderD129'], [n.devnode for n in nodes])
        self.assertIn('WARNING Skipping DRM node device drm_renderD128',
                      self.log.output)
        self.assertIn('pci_0000_ff_00_0', self.log.output)

    def test_listing_failure_raises_discovery_error(self):
        """A connection that cannot list devices raises DiscoveryError."""
        conn = self.open_host(*HOST_DEVICES)
        conn.close()
        # The binding itself raises libvirtError on the closed connection.
        self.assertRaises(libvirt.libvirtError, conn.listAllDevices,
                          discovery.CAP_DRM_FLAG)
        error = self.assertRaises(discovery.DiscoveryError,
                                  discovery.discover_render_nodes, conn)
        self.assertIn('Listing DRM node devices failed', str(error))
        self.assertIn('invalid connection', str(error))


class ResolveDiscoveredTestCase(LibvirtTestDriverTestCase):
    """device_spec.resolve() over what the test driver really reports."""

    def setUp(self):
        super().setUp()
        self.cells = self.default_host_cells()
        self.assertEqual([0, 1], self.cells)
        self.nodes = discovery.discover_render_nodes(
            self.open_host(*HOST_DEVICES))

    def test_unknown_numa_left_out_on_two_cell_host(self):
        exposed = device_spec.resolve(self.nodes, [], self.cells, 8)
        self.assertEqual(
            [('/dev/dri/renderD128', 0, 8), ('/dev/dri/renderD129', 1, 8)],
            [(n.devnode, n.numa_node, n.slots) for n in exposed])
        warnings = [line for line in self.log.output.splitlines()
                    if line.startswith('WARNING')]
        self.assertEqual(2, len(warnings), warnings)
        self.assertIn('/dev/dri/renderD130 (0000:c1:00.0)', warnings[0])
        self.assertIn('{"pci_address": "0000:c1:00.0", "numa_node": 0}',
                      warnings[0])
        # The platform GPU can only be named by its devnode.
        self.assertIn('/dev/dri/renderD131 (drm_renderD131)', warnings[1])
        self.assertIn('{"devnode": "/dev/dri/renderD131", "numa_node": 0}',
                      warnings[1])

    def test_numa_override_exposes_unknown_nodes(self):
        entries = device_spec.parse([
            '{"pci_address": "0000:C1:00.0", "numa_node": 1}',
            '{"devnode": "/dev/dri/renderD131", "numa_node": 0, "slots": 2}',
            '{"devnode": "/dev/dri/renderD12*"}',
        ])
        exposed = device_spec.resolve(self.nodes, entries, self.cells, 8)
        self.assertEqual(
            [('0000:03:00.0', 0, 8), ('0000:83:00.0', 1, 8),
             ('0000:c1:00.0', 1, 8), ('drm_renderD131', 0, 2)],
            [(n.key, n.numa_node, n.slots) for n in exposed])
        self.assertNotIn('WARNING', self.log.output)

    def test_single_cell_host_takes_unknown_nodes(self):
        """On a one-cell host, a node without NUMA info is on that cell.

        A node that reports a cell the host does not have is left out.
        """
        exposed = device_spec.resolve(self.nodes, [], [1], 8)
        self.assertEqual(
            [('/dev/dri/renderD129', 1), ('/dev/dri/renderD130', 1),
             ('/dev/dri/renderD131', 1)],
            [(n.devnode, n.numa_node) for n in exposed])
        self.assertIn('Render node /dev/dri/renderD128 is on NUMA node 0 '
                      '(from firmware), which is not one of the host cells '
                      '[1]', self.log.output)
