"""DRM render nodes for nova's fake libvirt connection.

fakelibvirt knows PCI, mdev and vDPA devices only; these helpers add GPUs
(a PCI device with a NUMA node) and their render nodes, and answer
``listAllDevices`` with the DRM capability flag as real libvirt does.
"""

import dataclasses
import os
import typing as ty

from nova.tests.fixtures import libvirt as fakelibvirt

from nova_gpu_numa_sched.compute import discovery


@dataclasses.dataclass
class FakeGpu:
    """A GPU as the fake host reports it; ``numa_node`` None = unknown."""

    devnode: str
    pci_address: ty.Optional[str]
    numa_node: ty.Optional[int]
    vendor_id: str = '0x1002'
    product_id: str = '0x73bf'

    @property
    def pci_name(self):
        return 'pci_' + self.pci_address.replace(':', '_').replace('.', '_')

    @property
    def drm_name(self):
        return 'drm_' + self.devnode.rsplit('/', 1)[-1]


def gpus_on_cells(cells, first_bus=3):
    """One GPU per listed cell, renderD128 upwards."""
    return [FakeGpu(devnode='/dev/dri/renderD%d' % (128 + i),
                    pci_address='0000:%02x:00.0' % (first_bus + i),
                    numa_node=cell)
            for i, cell in enumerate(cells)]


def write_busy_percent(sysfs_root, devnode, percent):
    """Fake amdgpu's gpu_busy_percent of a render node (every host)."""
    device = os.path.join(sysfs_root, 'class', 'drm',
                          os.path.basename(devnode), 'device')
    os.makedirs(device, exist_ok=True)
    with open(os.path.join(device, 'gpu_busy_percent'), 'w') as f:
        f.write('%d\n' % percent)


def _pci_xml(gpu):
    domain, bus, slot_fn = gpu.pci_address.split(':')
    slot, function = slot_fn.split('.')
    numa = ('<numa node="%d"/>' % gpu.numa_node
            if gpu.numa_node is not None else '')
    return (
        '<device><name>%(name)s</name><parent>computer</parent>'
        '<capability type="pci"><class>0x030000</class>'
        '<domain>%(domain)d</domain><bus>%(bus)d</bus><slot>%(slot)d</slot>'
        '<function>%(function)d</function>'
        '<product id="%(product)s"/><vendor id="%(vendor)s"/>%(numa)s'
        '</capability></device>' % {
            'name': gpu.pci_name, 'domain': int(domain, 16),
            'bus': int(bus, 16), 'slot': int(slot, 16),
            'function': int(function, 16), 'product': gpu.product_id,
            'vendor': gpu.vendor_id, 'numa': numa})


def _drm_xml(gpu):
    parent = gpu.pci_name if gpu.pci_address else 'computer'
    return (
        '<device><name>%s</name><path>/sys/devices/x/drm/%s</path>'
        '<devnode type="dev">%s</devnode><parent>%s</parent>'
        '<capability type="drm"><type>render</type></capability>'
        '</device>' % (gpu.drm_name, gpu.drm_name, gpu.devnode, parent))


class FakeDrmDevices:
    """Holds the GPUs of one fake connection; add or remove them live."""

    def __init__(self, connection):
        self.connection = connection
        self.gpus = []
        self.fail_listing = False
        list_all = connection.listAllDevices

        def list_all_devices(flags):
            devices = []
            if flags & discovery.CAP_DRM_FLAG:
                if self.fail_listing:
                    raise fakelibvirt.make_libvirtError(
                        fakelibvirt.libvirtError, 'listing failed',
                        error_code=fakelibvirt.VIR_ERR_INTERNAL_ERROR,
                        error_domain=fakelibvirt.VIR_FROM_NODEDEV)
                devices.extend(
                    fakelibvirt.NodeDevice(connection, xml=_drm_xml(gpu))
                    for gpu in self.gpus)
            return devices + list_all(flags & ~discovery.CAP_DRM_FLAG)

        connection.listAllDevices = list_all_devices

    def add(self, *gpus):
        for gpu in gpus:
            self.gpus.append(gpu)
            if gpu.pci_address:
                self.connection._nodedevs[gpu.pci_name] = (
                    fakelibvirt.NodeDevice(self.connection,
                                           xml=_pci_xml(gpu)))

    def remove(self, devnode):
        for gpu in [g for g in self.gpus if g.devnode == devnode]:
            self.gpus.remove(gpu)
            self.connection._nodedevs.pop(gpu.pci_name, None)
