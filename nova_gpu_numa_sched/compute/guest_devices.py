"""Give a guest its render node: egl-headless display and a virgl GPU.

Nova has no render-node support; these two devices are what QEMU needs to
render through a host GPU without passing it through:
``<graphics type='egl-headless'><gl rendernode=.../></graphics>`` and a
virtio video device with ``accel3d='yes'`` (``virtio-vga-gl`` on q35,
``virtio-gpu-gl-pci`` on aarch64 ``virt``).
"""

from lxml import etree
from nova import exception
from nova.virt.libvirt import config as vconfig
from oslo_log import log as logging

from nova_gpu_numa_sched import cell_limits
from nova_gpu_numa_sched import names
from nova_gpu_numa_sched import policy

LOG = logging.getLogger(__name__)


class RenderNodeNumaMismatch(exception.NovaException):
    msg_fmt = ('Instance %(instance)s was placed on host NUMA cell(s) '
               '%(guest_cells)s but its render node %(devnode)s is on cell '
               '%(gpu_cell)s; refusing to define the domain so that it is '
               'rescheduled.')


class RenderNodeUnknown(exception.NovaException):
    msg_fmt = ('Instance %(instance)s holds render slot %(slot)s whose '
               'render node is not present on this host any more.')


class LibvirtConfigGuestEglHeadless(vconfig.LibvirtConfigGuestDevice):
    """``<graphics type='egl-headless'>`` with an explicit render node."""

    def __init__(self, rendernode=None, **kwargs):
        super().__init__(root_name='graphics', **kwargs)
        self.rendernode = rendernode

    def format_dom(self):
        dev = super().format_dom()
        dev.set('type', 'egl-headless')
        if self.rendernode:
            dev.append(etree.Element('gl', rendernode=self.rendernode))
        return dev


class LibvirtConfigGuestAccelVideo(vconfig.LibvirtConfigGuestVideo):
    """A virtio video device with 3D acceleration (virgl)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.type = 'virtio'

    def format_dom(self):
        dev = super().format_dom()
        model = dev.find('model')
        model.append(etree.Element('acceleration', accel3d='yes'))
        return dev


def attach_render_node(guest, devnode):
    """Replace the guest's video devices with a virgl one on ``devnode``."""
    old_videos = [dev for dev in guest.devices
                  if isinstance(dev, vconfig.LibvirtConfigGuestVideo)]
    for dev in old_videos:
        guest.devices.remove(dev)
    video = LibvirtConfigGuestAccelVideo()
    if old_videos:
        video.heads = old_videos[0].heads
    guest.add_device(video)
    guest.add_device(LibvirtConfigGuestEglHeadless(rendernode=devnode))
    return guest


def guest_cells(instance):
    """Host cells the instance was fitted to (empty without NUMA)."""
    topology = instance.numa_topology
    if not topology:
        return set()
    return {cell.id for cell in topology.cells}


def check_same_cell(instance, node, host_topology=None):
    """Raise unless the render node's cell is one of the guest's cells.

    A one-cell guest must sit on the render node's cell; a guest of several
    cells must have it among them (the rule Nova applies to PCI devices).
    A flavor with ``gpu_numa:affinity_policy=preferred`` may sit elsewhere
    when no host could co-locate it: that is accepted with a WARNING; with
    ``socket`` a guest with a cell on the render node's socket is accepted
    (INFO). A guest without a NUMA topology is always refused.

    :param host_topology: a callable returning the host's NUMATopology,
        asked only for a ``socket`` guest off its render node's cell
    """
    cells = guest_cells(instance)
    if node.numa_node in cells:
        return
    flavor = instance.flavor if 'flavor' in instance else None
    if cells and host_topology is not None and policy.keeps_socket(flavor):
        if _on_render_socket(instance, node, cells, host_topology()):
            return
    if cells and policy.allows_split(flavor):
        LOG.warning('Instance %(instance)s runs on host NUMA cell(s) '
                    '%(guest_cells)s but renders through %(devnode)s on '
                    'cell %(gpu_cell)s: %(key)s=%(preferred)s allowed the '
                    'split because its render node\'s cell could not hold '
                    'it.',
                    {'instance': instance.uuid, 'guest_cells': sorted(cells),
                     'devnode': node.devnode, 'gpu_cell': node.numa_node,
                     'key': names.AFFINITY_POLICY_KEY,
                     'preferred': names.POLICY_PREFERRED},
                    instance=instance)
        return
    raise RenderNodeNumaMismatch(
        instance=instance.uuid,
        guest_cells=sorted(cells) or 'none (no hw:numa_nodes)',
        devnode=node.devnode, gpu_cell=node.numa_node)


def _on_render_socket(instance, node, cells, host_topology):
    """Whether one of the guest's cells shares the render node's socket."""
    siblings = set(cell_limits.socket_siblings(host_topology,
                                               node.numa_node))
    if siblings & cells:
        LOG.info('Instance %(instance)s runs on host NUMA cell(s) '
                 '%(guest_cells)s, on the socket of its render node '
                 '%(devnode)s (cell %(gpu_cell)s), as %(key)s=%(socket)s '
                 'allows.',
                 {'instance': instance.uuid, 'guest_cells': sorted(cells),
                  'devnode': node.devnode, 'gpu_cell': node.numa_node,
                  'key': names.AFFINITY_POLICY_KEY,
                  'socket': names.POLICY_SOCKET}, instance=instance)
        return True
    if cell_limits.socket_of(host_topology, node.numa_node) is None:
        LOG.warning('Instance %(instance)s: libvirt reports no CPU socket '
                    'for NUMA cell %(gpu_cell)s of its render node '
                    '%(devnode)s; %(key)s=%(socket)s applies as '
                    '%(required)s.',
                    {'instance': instance.uuid, 'gpu_cell': node.numa_node,
                     'devnode': node.devnode,
                     'key': names.AFFINITY_POLICY_KEY,
                     'socket': names.POLICY_SOCKET,
                     'required': names.POLICY_REQUIRED}, instance=instance)
    return False


def drop_insecure_loader_flag(guest):
    """Let libvirt >= 8.6 define an autoselected-UEFI guest.

    Nova writes ``<os firmware='efi'>`` with ``<loader secure='no'/>`` for
    UEFI guests (every aarch64 phone); libvirt 9 refuses that pair ("loader
    attribute 'secure' cannot be specified when firmware autoselection is
    enabled"). ``secure='no'`` asks for nothing, so it is dropped; a
    requested secure boot (``secure='yes'``) is left as Nova wrote it.
    """
    if guest.os_firmware and guest.os_loader_secure is False:
        guest.os_loader_secure = None
    return guest
