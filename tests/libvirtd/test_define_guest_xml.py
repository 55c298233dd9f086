"""Define every sample guest XML in a real libvirtd, with schema validation.

The folder named by ``GPU_NUMA_GUEST_XML_DIR`` (default: ``samples/`` next to
this file) holds hand-written cloud-phone domains and, once the functional
tests have run, the XML that Nova generated through the plugin's driver
(``nova-*.xml``). Each file is defined on ``qemu:///system`` with
``VIR_DOMAIN_DEFINE_VALIDATE`` and undefined again; no guest is started, so
neither KVM, a GPU nor the NUMA cells named in the XML need to exist.

Without a reachable libvirtd the test is skipped, unless
``GPU_NUMA_REQUIRE_LIBVIRTD=1`` (set by ``tools/run-tests.sh``), where it
fails. ``tools/start-libvirtd.sh`` starts a suitable daemon as root.
"""

import glob
import os
import uuid

from lxml import etree
import testtools

try:
    import libvirt
except ImportError:  # pragma: no cover - depends on the environment
    libvirt = None

URI = 'qemu:///system'
DEFAULT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                           'samples')
NAME_PREFIX = 'gpu-numa-define-check-'


def _require_libvirtd():
    return os.environ.get('GPU_NUMA_REQUIRE_LIBVIRTD', '') == '1'


def guest_xml_dir():
    return os.environ.get('GPU_NUMA_GUEST_XML_DIR') or DEFAULT_DIR


def guest_xml_files(directory):
    return sorted(glob.glob(os.path.join(directory, '*.xml')))


def prepare_for_define(xml_text):
    """Return ``xml_text`` ready for a define-only check on any host.

    The domain type ``kvm`` becomes ``qemu`` (no KVM needed), the domain gets
    a unique name and no UUID, and a firmware NVRAM file path is dropped
    (libvirt derives it from the name), so that the check can never replace
    or remove a guest or a file that exists on the host.
    """
    parser = etree.XMLParser(remove_blank_text=False)
    root = etree.fromstring(xml_text.encode('utf-8'), parser)
    if root.tag != 'domain':
        raise ValueError('root element is <%s>, not <domain>' % root.tag)
    if root.get('type') == 'kvm':
        root.set('type', 'qemu')
    name = root.find('name')
    if name is None:
        name = etree.Element('name')
        root.insert(0, name)
    name.text = NAME_PREFIX + uuid.uuid4().hex[:12]
    for element in root.findall('uuid'):
        root.remove(element)
    for nvram in root.findall('os/nvram'):
        nvram.text = None
    return etree.tostring(root, encoding='unicode'), name.text


class PrepareForDefineTest(testtools.TestCase):
    """The rewrite itself, without libvirtd."""

    def test_kvm_becomes_qemu_and_identity_is_replaced(self):
        xml = ("<domain type='kvm' xmlns:qemu="
               "'http://libvirt.org/schemas/domain/qemu/1.0'>"
               "<name>instance-00000001</name>"
               "<uuid>6f1f2f8e-3c34-4d0a-9a63-0c3b8d6f2a11</uuid>"
               "<os><type>hvm</type><nvram template='/t.fd'>/x_VARS.fd"
               "</nvram></os></domain>")
        out, name = prepare_for_define(xml)
        root = etree.fromstring(out.encode('utf-8'))
        self.assertEqual('qemu', root.get('type'))
        self.assertTrue(name.startswith(NAME_PREFIX))
        self.assertEqual(name, root.findtext('name'))
        self.assertIsNone(root.find('uuid'))
        self.assertIsNone(root.find('os/nvram').text)
        self.assertEqual('/t.fd', root.find('os/nvram').get('template'))

    def test_qemu_type_is_kept(self):
        out, _ = prepare_for_define(
            "<domain type='qemu'><name>a</name></domain>")
        self.assertEqual('qemu', etree.fromstring(out).get('type'))

    def test_not_a_domain(self):
        self.assertRaises(ValueError, prepare_for_define, '<network/>')


class DefineGuestXmlTest(testtools.TestCase):
    """Every guest XML defines (and validates) on a real libvirtd."""

    def _unavailable(self, why):
        if _require_libvirtd():
            self.fail('GPU_NUMA_REQUIRE_LIBVIRTD=1 but %s' % why)
        self.skipTest(why)

    def _connect(self):
        if libvirt is None:
            self._unavailable('the libvirt Python binding is not installed')
        # Keep libvirt from printing every error on stderr; they are raised.
        libvirt.registerErrorHandler(lambda ctx, err: None, None)
        try:
            conn = libvirt.open(URI)
        except libvirt.libvirtError as exc:
            self._unavailable('libvirtd does not answer on %s: %s'
                              % (URI, exc))
        self.addCleanup(conn.close)
        return conn

    def _define_and_undefine(self, conn, path):
        with open(path, encoding='utf-8') as f:
            xml, name = prepare_for_define(f.read())
        dom = conn.defineXMLFlags(xml, libvirt.VIR_DOMAIN_DEFINE_VALIDATE)
        try:
            if dom is None or dom.name() != name:
                raise AssertionError('defineXMLFlags returned %r' % dom)
        finally:
            if dom is not None:
                dom.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_NVRAM)

    def test_define_validates(self):
        directory = guest_xml_dir()
        files = guest_xml_files(directory)
        # An empty folder must not pass silently: the check would be void.
        self.assertNotEqual([], files,
                            'no *.xml guest definitions in %s' % directory)
        conn = self._connect()
        failures = []
        for path in files:
            try:
                self._define_and_undefine(conn, path)
            except (libvirt.libvirtError, ValueError, AssertionError,
                    etree.XMLSyntaxError) as exc:
                failures.append('%s: %s' % (os.path.basename(path), exc))
        if failures:
            self.fail('%d of %d guest XML files do not define on %s:\n%s'
                      % (len(failures), len(files), URI,
                         '\n'.join(failures)))
