"""Find DRM render nodes and their NUMA node through libvirt.

The node-device API gives the render node, its parent PCI device and that
device's ``<numa node>``, over the same connection nova-compute already
holds, so no sysfs parsing or extra privileges are needed.
"""

from lxml import etree
from oslo_log import log as logging

from nova_gpu_numa_sched.compute import render_node

LOG = logging.getLogger(__name__)

#: ``VIR_CONNECT_LIST_NODE_DEVICES_CAP_DRM`` (libvirt >= 3.1); spelled out
#: because not every libvirt binding (nor nova's fake) defines it.
CAP_DRM_FLAG = 1 << 12


class DiscoveryError(Exception):
    """Listing devices failed; the caller keeps what it reported before."""


def _text(tree, path):
    value = tree.findtext(path)
    return value.strip() if value else None


def _int(text):
    try:
        return int(text, 0)
    except (TypeError, ValueError):
        return None


def _parse_render_device(xml):
    """Return (devnode, parent name) of a DRM render device, else None."""
    tree = etree.fromstring(xml)
    cap = tree.find("capability[@type='drm']")
    if cap is None or _text(cap, 'type') != 'render':
        return None
    devnode = _text(tree, "devnode[@type='dev']")
    if not devnode:
        return None
    return devnode, _text(tree, 'parent'), _text(tree, 'name')


def _parse_pci_parent(xml):
    """Return (pci_address, vendor, product, numa_node) of a PCI device."""
    tree = etree.fromstring(xml)
    cap = tree.find("capability[@type='pci']")
    if cap is None:
        return None, None, None, None
    parts = [_int(_text(cap, key))
             for key in ('domain', 'bus', 'slot', 'function')]
    address = None
    if None not in parts:
        address = '%04x:%02x:%02x.%x' % tuple(parts)
    vendor = cap.find('vendor')
    product = cap.find('product')
    numa = cap.find('numa')
    numa_node = _int(numa.get('node')) if numa is not None else None
    if numa_node is not None and numa_node < 0:
        numa_node = None
    return (address,
            vendor.get('id') if vendor is not None else None,
            product.get('id') if product is not None else None,
            numa_node)


def _describe(conn, device):
    parsed = _parse_render_device(device.XMLDesc(0))
    if parsed is None:
        return None
    devnode, parent_name, device_name = parsed
    address = vendor = product = numa_node = None
    if parent_name and parent_name != 'computer':
        parent = conn.nodeDeviceLookupByName(parent_name)
        address, vendor, product, numa_node = _parse_pci_parent(
            parent.XMLDesc(0))
    return render_node.RenderNode(
        key=address or device_name or devnode,
        devnode=devnode,
        numa_node=numa_node,
        pci_address=address,
        vendor_id=vendor,
        product_id=product)


def discover_render_nodes(conn):
    """Return the host's render nodes, sorted by devnode.

    A device that vanishes or fails to describe itself is skipped with a
    warning; failing to list devices at all raises DiscoveryError.
    """
    try:
        devices = conn.listAllDevices(CAP_DRM_FLAG)
    except Exception as e:
        raise DiscoveryError('Listing DRM node devices failed: %s' % e)
    nodes = []
    for device in devices:
        try:
            node = _describe(conn, device)
        except Exception as e:
            LOG.warning('Skipping DRM node device %s: %s',
                        _safe_name(device), e)
            continue
        if node is not None:
            nodes.append(node)
    return sorted(nodes, key=lambda n: n.devnode)


def _safe_name(device):
    try:
        return device.name()
    except Exception:
        return '<unknown>'
