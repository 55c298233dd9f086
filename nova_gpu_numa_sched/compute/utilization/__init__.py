"""Measured GPU utilisation of render nodes, read on the compute host.

The scheduler cannot look at GPUs, so the compute service turns what it
reads here into a coarse ``CUSTOM_GPU_LOAD_<N>`` trait of each render
node's provider. Sources and their order: ``doc/source/utilization.rst``.
"""

import dataclasses
import typing as ty

from oslo_log import log as logging

from nova_gpu_numa_sched.compute import render_node as rn
from nova_gpu_numa_sched.compute.utilization import fdinfo
from nova_gpu_numa_sched.compute.utilization import nvml
from nova_gpu_numa_sched.compute.utilization import once
from nova_gpu_numa_sched.compute.utilization import sysfs
from nova_gpu_numa_sched import names

LOG = logging.getLogger(__name__)


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


#: Failed reads, warned about once per (render node, cause).
_warn = once.WarnOnce(LOG)


class _Failed(Exception):
    """A source raised; the render node has no known load this period."""


def _guarded(node, source, func, *args):
    """Call one source for one node; turn any exception into _Failed.

    A monitoring read must never take a GPU away: whatever a source raises
    (I/O, a library's own error, a bug: RuntimeError, KeyError, ...) is
    logged once per render node and cause and ends that node's reading for
    this period.
    """
    try:
        return func(*args)
    except Exception as e:
        _warn(node.key, (source, type(e).__name__),
              'Reading the %s utilisation of %s (%s) failed; its load is '
              'unknown until a read succeeds: %s: %s', source, node.devnode,
              node.key, type(e).__name__, e, exc_info=True)
        raise _Failed() from e


def _vendor(node, sysfs_root):
    """(busy, vram) from the first vendor source that knows either."""
    values = _guarded(node, 'sysfs', sysfs.read, node, sysfs_root)
    if not _known(values):
        values = _guarded(node, 'nvml', nvml.read, node)
    return values if _known(values) else (None, None)


def _fdinfo_busy(nodes, sysfs_root, fdinfo_reader):
    """{key: busy percent or None} from DRM fdinfo, never raising."""
    if not nodes or fdinfo_reader is None or not fdinfo_reader.available():
        return {}
    try:
        return fdinfo_reader.read(nodes, sysfs_root)
    except Exception as e:
        for node in nodes:
            _warn(node.key, ('fdinfo', type(e).__name__),
                  'Reading the fdinfo utilisation of %s (%s) failed; its '
                  'load is unknown until a read succeeds: %s: %s',
                  node.devnode, node.key, type(e).__name__, e,
                  exc_info=True)
        raise _Failed() from e


def read_all(
    render_nodes: ty.Iterable[rn.RenderNode], sysfs_root: str = '/sys',
    fdinfo_reader: ty.Optional[fdinfo.FdinfoReader] = None,
) -> ty.Dict[str, ty.Optional[GpuUtilization]]:
    """Return {render node key: GpuUtilization or None}; never raises.

    Sources, in order: amdgpu sysfs, then NVIDIA NVML (vendor-exact: the
    GPU's own activity counters, covering work no /proc scan can see, and
    known from the first read); the first that knows either value gives
    both. DRM fdinfo then gives the busy value of every render node whose
    vendor source does not know it (i915, xe, panfrost, panthor, msm, v3d,
    ...). A source that raises leaves its render node unknown for this
    period (no fallback to the next source, so one read never mixes
    sources) and is logged once per node and cause.
    """
    render_nodes = list(render_nodes)
    vendor = {}
    for node in render_nodes:
        try:
            vendor[node.key] = _vendor(node, sysfs_root)
        except _Failed:
            vendor[node.key] = None
    need_busy = [node for node in render_nodes
                 if vendor[node.key] is not None and
                 vendor[node.key][0] is None]
    try:
        busy = _fdinfo_busy(need_busy, sysfs_root, fdinfo_reader)
    except _Failed:
        busy = None
    result = {}
    for node in render_nodes:
        values = vendor[node.key]
        if values is None:
            result[node.key] = None
            continue
        if values[0] is None:
            if busy is None:
                result[node.key] = None
                continue
            values = (busy.get(node.key), values[1])
        result[node.key] = (GpuUtilization(*values) if _known(values)
                            else None)
    return result


def read_utilization(
    render_node: rn.RenderNode, sysfs_root: str = '/sys',
    fdinfo_reader: ty.Optional[fdinfo.FdinfoReader] = None,
) -> ty.Optional[GpuUtilization]:
    """Return the render node's GpuUtilization, or None if unknown.

    One render node's share of read_all: never raises, so a broken GPU or
    a failing library cannot stop the compute service's periodic update.
    """
    return read_all([render_node], sysfs_root, fdinfo_reader)[
        render_node.key]


def bucket(percent: float, width: int) -> int:
    """Floor percent to a multiple of width, clamped to 0..100.

    Coarse buckets keep a provider's traits stable while the load jitters.
    """
    if width <= 0:
        raise ValueError('bucket width must be positive, not %r' % width)
    percent = min(max(percent, 0), 100)
    return int(percent // width) * width


def damped_bucket(percent: float, width: int, previous: ty.Optional[int],
                  margin: float) -> int:
    """The bucket of percent, kept at ``previous`` within ``margin``.

    Hysteresis: a reading that jitters across a bucket boundary would
    change the published load, and so rewrite the compute node record and
    reorder the scheduler's choice, on every update. The bucket changes
    only once the reading has left ``[previous - margin, previous + width
    + margin)``.
    """
    current = bucket(percent, width)
    if previous is None or margin <= 0 or current == previous:
        return current
    if previous - margin <= percent < previous + width + margin:
        return previous
    return current


def load_bucket_for(
    utilization: ty.Optional[GpuUtilization], width: int,
) -> ty.Optional[int]:
    """Return the load bucket of a GpuUtilization, or None if unknown."""
    if utilization is None or utilization.percent is None:
        return None
    return bucket(utilization.percent, width)


class LoadBuckets:
    """The load bucket last reported for each render node.

    Turns readings into load buckets with ``damped_bucket``; a render node
    whose reading is unknown loses its bucket and its history, so that it
    starts afresh when reads work again.
    """

    def __init__(self):
        self._last = {}

    def buckets(
        self, readings: ty.Dict[str, ty.Optional[GpuUtilization]],
        width: int, margin: float,
    ) -> ty.Dict[str, ty.Optional[int]]:
        """{render node key: load bucket (percent) or None} of one update."""
        result = {}
        for key, value in readings.items():
            if value is None or value.percent is None:
                self._last.pop(key, None)
                result[key] = None
                continue
            found = damped_bucket(value.percent, width, self._last.get(key),
                                  margin)
            self._last[key] = found
            result[key] = found
        for key in set(self._last) - set(readings):
            del self._last[key]
        return result

    def traits(
        self, readings: ty.Dict[str, ty.Optional[GpuUtilization]],
        width: int, margin: float,
    ) -> ty.Dict[str, ty.Optional[str]]:
        """{render node key: load trait or None} of one update."""
        return {key: None if found is None else names.load_trait(found)
                for key, found in self.buckets(readings, width,
                                               margin).items()}
