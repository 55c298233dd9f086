"""GPU use per instance, from two fdinfo Snapshots of one reader.

Each phone renders inside its own QEMU process, so the DRM clients a QEMU
process holds are its instance's. A process is mapped to its instance by
the ``-uuid`` argument libvirt gives every QEMU it starts (the domain UUID,
which Nova sets to the instance UUID), checked against the UUIDs of the
domains libvirt reports running; a process without one (a render server
QEMU forked) belongs to its nearest ancestor that has one. See
``doc/source/utilization.rst`` for why the command line and not libvirt's
pid file.
"""

import collections
import dataclasses
import errno
import os
import typing as ty

from oslo_log import log as logging
from oslo_utils import uuidutils

from nova_gpu_numa_sched.compute.utilization import fdinfo

LOG = logging.getLogger(__name__)

#: How far up the process tree a DRM client is attributed to a QEMU.
MAX_ANCESTORS = 4


def qemu_uuid(cmdline):
    """The ``-uuid`` value of a NUL-separated command line, or None."""
    args = cmdline.split(b'\0')
    for flag, value in zip(args, args[1:]):
        if flag == b'-uuid':
            text = value.decode('ascii', 'replace').strip().lower()
            return text if uuidutils.is_uuid_like(text) else None
    return None


def _read(proc_root, pid, name):
    with open(os.path.join(proc_root, str(pid), name), 'rb') as f:
        return f.read()


def _parent(proc_root, pid):
    """The PPid of a process from ``/proc/<pid>/status``, or None."""
    for line in _read(proc_root, pid, 'status').splitlines():
        if line.startswith(b'PPid:'):
            return int(line.split()[1])
    return None


class _Owners:
    """Process -> instance UUID, each process's files read at most once."""

    def __init__(self, proc_root, uuids):
        self.proc_root = proc_root
        self.uuids = uuids
        self._known = {}

    def of(self, pid, depth=0):
        if pid in self._known:
            return self._known[pid]
        owner = None
        try:
            uuid = qemu_uuid(_read(self.proc_root, pid, 'cmdline'))
            if uuid is not None:
                owner = uuid if uuid in self.uuids else None
            elif depth < MAX_ANCESTORS:
                parent = _parent(self.proc_root, pid)
                if parent and parent > 1:
                    owner = self.of(parent, depth + 1)
        except (OSError, ValueError, IndexError) as e:
            if getattr(e, 'errno', None) not in (errno.ENOENT, errno.ESRCH):
                LOG.debug('Cannot tell which instance process %s belongs '
                          'to: %s', pid, e)
        self._known[pid] = owner
        return owner


def owners(proc_root, pids, uuids):
    """{pid: instance UUID or None} of the processes ``pids``.

    ``uuids``: the UUIDs of the running domains. ``/proc/<pid>/cmdline``
    and ``status`` are readable without ptrace access, unlike the fds.
    """
    uuids = {uuid.lower() for uuid in uuids}
    resolver = _Owners(proc_root, uuids)
    return {pid: resolver.of(pid) for pid in pids}


@dataclasses.dataclass
class InstanceUsage:
    """What one instance (or, ``uuid`` None, other processes) used of one
    render node between two reads.

    ``engines``: {engine: busy percent of the engine's capacity};
    ``busy_percent``: the busiest engine's, None when no client of it was
    seen at both reads or its driver prints no busy time;
    ``resident_bytes``: {memory region: bytes resident at the second read}.
    """

    uuid: ty.Optional[str]
    node: str
    pids: ty.List[int]
    clients: int
    busy_percent: ty.Optional[float]
    engines: ty.Dict[str, float]
    resident_bytes: ty.Dict[str, int]

    @property
    def resident_total_bytes(self):
        return sum(self.resident_bytes.values())


def usage_between(first, second, owner_of):
    """[InstanceUsage] per (instance, render node), busiest first.

    ``first`` and ``second``: Snapshots of the same nodes, in time order;
    ``owner_of``: {pid: instance UUID or None}. A client is counted once
    per instance however many of its processes hold it (``drm-client-id``);
    its growth is taken against the same client in ``first``, on the same
    render node. The engines of one instance add up, over instances and
    other processes, to the render node's busy share as the driver computes
    it.
    """
    elapsed = second.time_ns - first.time_ns
    groups = collections.defaultdict(list)
    for sample in second.samples:
        groups[(owner_of.get(sample.pid), sample.node)].append(sample)
    earlier = collections.defaultdict(list)
    for sample in first.samples:
        earlier[(sample.node, sample.client_id)].append(sample.usage)
    usages = []
    for (uuid, node), samples in groups.items():
        current = fdinfo.merged((s.client_id, s.usage) for s in samples)
        before = fdinfo.merged(
            (client_id, usage) for client_id in current
            for usage in earlier.get((node, client_id), ()))
        shares = (fdinfo.engine_shares(before, current, elapsed)
                  if before else None)
        engines = {engine: fdinfo.percent(share)
                   for engine, share in (shares or {}).items()}
        resident = collections.Counter()
        for client in current.values():
            resident.update(client.resident)
        usages.append(InstanceUsage(
            uuid=uuid, node=node,
            pids=sorted({s.pid for s in samples}),
            clients=len(current),
            busy_percent=(None if shares is None else
                          max(engines.values()) if engines else 0.0),
            engines=engines, resident_bytes=dict(resident)))
    return sorted(usages, key=_busiest_first)


def _busiest_first(usage):
    busy = -1.0 if usage.busy_percent is None else usage.busy_percent
    return (usage.uuid is None, -busy, -usage.resident_total_bytes,
            usage.uuid or '', usage.node)


def read_usage(reader, nodes, uuids, sleep, interval, sysfs_root='/sys'):
    """Two observations ``interval`` seconds apart, per instance.

    Returns (first, second, [InstanceUsage]); the reader stores both
    walks as its samples, so its ``read`` within the window answers the
    render nodes' load from the same walks.
    """
    first = reader.observe(nodes, sysfs_root)
    sleep(interval)
    second = reader.observe(nodes, sysfs_root)
    pids = {sample.pid for sample in second.samples}
    return first, second, usage_between(
        first, second, owners(reader.proc_root, pids, uuids))
