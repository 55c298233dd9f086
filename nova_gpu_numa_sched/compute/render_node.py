"""What the compute host knows about one DRM render node."""

import dataclasses
import typing as ty


@dataclasses.dataclass(frozen=True)
class RenderNode:
    """A render node and the facts needed to place and attach it.

    ``key`` is stable across reboots (the parent PCI address when there is
    one, else the libvirt node-device name); ``devnode`` is what QEMU opens
    and may be renumbered by the kernel.
    """

    key: str
    devnode: str
    numa_node: ty.Optional[int]
    pci_address: ty.Optional[str] = None
    vendor_id: ty.Optional[str] = None
    product_id: ty.Optional[str] = None
    slots: ty.Optional[int] = None

    @property
    def name(self):
        """The devnode's basename, e.g. ``renderD128``."""
        return self.devnode.rsplit('/', 1)[-1]
