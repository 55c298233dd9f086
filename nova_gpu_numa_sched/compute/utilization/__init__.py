"""Measured GPU utilisation of render nodes, read on the compute host.

The scheduler cannot look at GPUs, so the compute service turns what it
reads here into a coarse ``CUSTOM_GPU_LOAD_<N>`` trait of each render
node's provider.
"""

import dataclasses
import typing as ty

from nova_gpu_numa_sched.compute import render_node as rn
from nova_gpu_numa_sched.compute.utilization import nvml
from nova_gpu_numa_sched.compute.utilization import sysfs
from nova_gpu_numa_sched import names


@dataclasses.dataclass(frozen=True)
class GpuUtilization:
    """Utilisation of one GPU in percent; None where it is unknown."""

    busy_percent: ty.Optional[float]
    vram_used_percent: ty.Optional[float]

    @property
    def percent(self) -> ty.Optional[float]:
        """The larger known value, or None when both are unknown.

        The maximum, not the mean: a GPU whose engines are saturated serves
        a new guest badly however much VRAM is free, and one whose VRAM is
        full cannot hold a new guest's buffers however idle it is.
        """
        known = [value for value in (self.busy_percent,
                                     self.vram_used_percent)
                 if value is not None]
        return max(known) if known else None


def _known(values):
    return values is not None and any(v is not None for v in values)


def read_utilization(
    render_node: rn.RenderNode, sysfs_root: str = '/sys',
) -> ty.Optional[GpuUtilization]:
    """Return the render node's GpuUtilization, or None if unreadable.

    sysfs (amdgpu) is tried first as it needs no library; NVML only when
    sysfs has nothing. Never raises for I/O errors or bad values, so a
    broken GPU cannot stop the compute service's periodic update.
    """
    values = sysfs.read(render_node, sysfs_root)
    if not _known(values):
        values = nvml.read(render_node)
    if not _known(values):
        return None
    return GpuUtilization(*values)


def bucket(percent: float, width: int) -> int:
    """Floor percent to a multiple of width, clamped to 0..100.

    Coarse buckets keep a provider's traits stable while the load jitters.
    """
    if width <= 0:
        raise ValueError('bucket width must be positive, not %r' % width)
    percent = min(max(percent, 0), 100)
    return int(percent // width) * width


def load_trait_for(
    utilization: ty.Optional[GpuUtilization], width: int,
) -> ty.Optional[str]:
    """Return the load trait of a GpuUtilization, or None if unknown."""
    if utilization is None or utilization.percent is None:
        return None
    return names.load_trait(bucket(utilization.percent, width))
