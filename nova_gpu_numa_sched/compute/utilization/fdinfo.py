"""GPU busy time from the kernel's DRM client usage stats (fdinfo).

Every DRM driver that implements ``show_fdinfo`` (i915, xe, amdgpu,
panfrost, panthor, msm, v3d, etnaviv, ...) prints the same keys in
``/proc/<pid>/fdinfo/<fd>`` for each open DRM file, as specified by the
kernel's ``Documentation/gpu/drm-usage-stats.rst``::

    drm-driver:     i915
    drm-pdev:       0000:00:02.0
    drm-client-id:  7
    drm-engine-render:      9288864723 ns
    drm-engine-capacity-video:      2

So this is the one utilisation source that works for every vendor, with no
library. A render node's busy time is the sum, over the DRM clients that
hold it open (QEMU of each phone), of each engine's busy nanoseconds; the
busy percentage is the growth of that sum between two samples over the wall
time between them. The reader therefore keeps the previous sample of each
device, and the first sample of a device gives no value.

One walk of ``/proc`` (``scan``) yields a ``Snapshot``: one ``ClientSample``
per DRM client and process. The load of each render node (the driver's
``CUSTOM_GPU_LOAD_<N>`` trait) and the GPU use of each instance
(``per_instance``) are both aggregated from it, so a read that serves both
walks ``/proc`` once.
"""

import dataclasses
import errno
import os
import re
import stat
import threading
import time
import typing as ty

from oslo_log import log as logging

from nova_gpu_numa_sched.compute.utilization import once

LOG = logging.getLogger(__name__)

#: The character device major of every DRM node (``DRM_MAJOR``).
DRM_MAJOR = 226

#: Shortest window a busy percentage is computed over. The resource
#: tracker updates providers on every claim as well as every minute; a
#: window of milliseconds between two claims would make the load bucket
#: jitter, so a sample younger than this keeps its value and its baseline.
MIN_WINDOW_NS = 10 * 1000 ** 3

ENGINE = 'drm-engine-'
CAPACITY = 'drm-engine-capacity-'
CYCLES = 'drm-cycles-'
TOTAL_CYCLES = 'drm-total-cycles-'
RESIDENT = 'drm-resident-'
#: The deprecated alias of drm-resident- (amdgpu before Linux 6.13).
MEMORY = 'drm-memory-'
#: Units of memory keys: bytes by default, or kibi-/mebi-/gibibytes.
_MEMORY_UNITS = {None: 1, 'KiB': 1024, 'MiB': 1024 ** 2, 'GiB': 1024 ** 3}

_PCI_RE = re.compile(r'^(?:([0-9a-f]{1,8}):)?([0-9a-f]{1,2}):'
                     r'([0-9a-f]{1,2})\.([0-7])$')

# Errors that mean the process or the fd went away while it was read.
_GONE = (errno.ENOENT, errno.ESRCH)
_DENIED = (errno.EACCES, errno.EPERM)

_warn = once.WarnOnce(LOG)


def _monotonic_ns():
    """The reader's clock; a test replaces it to step time."""
    return time.monotonic_ns()


def pci_address(text):
    """Normalise a PCI address to ``dddd:bb:dd.f``, or None."""
    match = _PCI_RE.match((text or '').strip().lower())
    if match is None:
        return None
    domain, bus, device, function = match.groups()
    return '%04x:%02x:%02x.%s' % (int(domain or '0', 16), int(bus, 16),
                                  int(device, 16), function)


def parse(text):
    """Return the ``drm-*`` keys of an fdinfo text as {key: value}.

    One ``key: value`` pair per line; whitespace after the colon is
    ignored. The generic fdinfo lines (``pos``, ``flags``, ...) and
    driver-specific keys (``amd-*``, ``i915-*``) are left out.
    """
    fields = {}
    for line in text.splitlines():
        key, sep, value = line.partition(':')
        key = key.strip()
        if sep and key.startswith('drm-'):
            fields[key] = value.strip()
    return fields


@dataclasses.dataclass
class Client:
    """What one DRM client (one ``struct drm_file``) has used so far.

    ``busy_ns``: {engine: busy nanoseconds}; ``cycles``: {engine: (busy
    cycles, total cycles)} for drivers that count in GPU clock cycles
    (xe); ``capacity``: {engine: identical engines behind that name};
    ``unreadable``: engines whose counter was garbage; ``resident``:
    {memory region: bytes of its buffers resident there}.
    """

    busy_ns: ty.Dict[str, int] = dataclasses.field(default_factory=dict)
    cycles: ty.Dict[str, ty.Tuple[int, int]] = dataclasses.field(
        default_factory=dict)
    capacity: ty.Dict[str, int] = dataclasses.field(default_factory=dict)
    unreadable: ty.Set[str] = dataclasses.field(default_factory=set)
    resident: ty.Dict[str, int] = dataclasses.field(default_factory=dict)

    def has_engines(self):
        return bool(self.busy_ns or self.cycles)

    def merge(self, other):
        """Keep the larger of two readings of each counter.

        Used for the fds of one client read at slightly different times,
        and against the previous sample: the kernel lets a counter step
        back for a while, and says to keep the larger previous value until
        it catches up.
        """
        for engine, value in other.busy_ns.items():
            self.busy_ns[engine] = max(value, self.busy_ns.get(engine, 0))
        for engine, value in other.cycles.items():
            self.cycles[engine] = max(value, self.cycles.get(engine, value))
        for engine, value in other.capacity.items():
            self.capacity[engine] = max(value,
                                        self.capacity.get(engine, 1))
        for region, value in other.resident.items():
            self.resident[region] = max(value, self.resident.get(region, 0))
        self.unreadable = ((self.unreadable | other.unreadable) -
                           set(self.busy_ns) - set(self.cycles))
        return self


def merged(clients):
    """{client id: Client} of (client id, Client) pairs, fresh objects.

    The fds of one client give one Client with each counter's largest
    value; the inputs are left as they are, so that two consumers of one
    snapshot never see each other's merges.
    """
    result = {}
    for client_id, client in clients:
        result.setdefault(client_id, Client()).merge(client)
    return result


@dataclasses.dataclass(frozen=True)
class ClientSample:
    """One DRM client as one process holds it, at one read.

    ``node``: the render node's key; ``client_id``: ``drm-client-id``
    (one ``struct drm_file``; an fd without one is its own client).
    """

    pid: int
    node: str
    client_id: ty.Hashable
    usage: Client


@dataclasses.dataclass
class Snapshot:
    """What one walk of ``/proc`` saw: every DRM client of the render
    nodes read, per process, and the processes it could not inspect.
    """

    time_ns: int
    nodes: ty.FrozenSet[str]
    samples: ty.List[ClientSample]
    denied: ty.Set[int]

    def clients_of(self, key):
        """{client id: Client} of one render node, fds merged."""
        return merged((s.client_id, s.usage) for s in self.samples
                      if s.node == key)


@dataclasses.dataclass
class DeviceSample:
    """One read of a render node: when, its clients, and the result."""

    time_ns: int
    clients: ty.Dict[ty.Hashable, Client]
    busy_percent: ty.Optional[float] = None


def _uint(value, unit=None):
    """Parse ``<uint> [unit]``; raise ValueError for anything else."""
    parts = value.split()
    if not parts or len(parts) > 2 or not parts[0].isdigit():
        raise ValueError(value)
    if len(parts) == 2 and parts[1] != unit:
        raise ValueError(value)
    return int(parts[0])


def _bytes(value):
    """Parse ``<uint> [KiB|MiB|GiB]`` into bytes; ValueError otherwise."""
    parts = value.split()
    if (not parts or len(parts) > 2 or not parts[0].isdigit() or
            (parts[1] if len(parts) == 2 else None) not in _MEMORY_UNITS):
        raise ValueError(value)
    return int(parts[0]) * _MEMORY_UNITS[parts[1] if len(parts) == 2
                                         else None]


def client_from_fields(fields, device):
    """The engine counters of one fdinfo, garbage values left out.

    ``drm-engine-capacity-*`` and ``drm-total-cycles-*`` are matched
    before the shorter prefixes they start with. Of the memory keys only
    ``drm-resident-<region>`` (or its older alias ``drm-memory-<region>``)
    is read: what the client's buffers hold now.
    """
    client = Client()
    totals = {}
    for key, value in fields.items():
        try:
            if key.startswith(RESIDENT):
                client.resident[key[len(RESIDENT):]] = _bytes(value)
            elif key.startswith(MEMORY):
                client.resident.setdefault(key[len(MEMORY):], _bytes(value))
            elif key.startswith(CAPACITY):
                capacity = _uint(value)
                if capacity == 0:
                    raise ValueError(value)
                client.capacity[key[len(CAPACITY):]] = capacity
            elif key.startswith(ENGINE):
                client.busy_ns[key[len(ENGINE):]] = _uint(value, 'ns')
            elif key.startswith(TOTAL_CYCLES):
                totals[key[len(TOTAL_CYCLES):]] = _uint(value)
            elif key.startswith(CYCLES):
                client.cycles[key[len(CYCLES):]] = _uint(value)
        except ValueError:
            # A bad capacity leaves the engine at capacity 1; a bad
            # counter makes the engine unknown for this sample.
            if not key.startswith(CAPACITY):
                for prefix in (ENGINE, TOTAL_CYCLES, CYCLES):
                    if key.startswith(prefix):
                        client.unreadable.add(key[len(prefix):])
                        break
            _warn(device, ('garbage', key), 'Ignoring %s of a DRM client of '
                  '%s: %r is not what drm-usage-stats specifies',
                  key, device, value)
    # Cycles count only with their total (xe); without it (panfrost,
    # msm print drm-maxfreq instead) the busy nanoseconds are used.
    client.cycles = {engine: (value, totals[engine])
                     for engine, value in client.cycles.items()
                     if engine in totals and engine not in client.busy_ns}
    client.unreadable -= set(client.busy_ns) | set(client.cycles)
    return client


def engine_shares(previous, current, elapsed_ns):
    """{engine: busy share of its capacity} between two samples, or None.

    Per engine: the growth of every client's busy time over the wall time,
    divided by the engine's capacity (identical engines behind one name).
    A client seen only in the current sample counts from its first sample;
    one that exited is dropped; a counter that stepped back adds nothing.
    An engine a known client did not print before counts from 0 (amdgpu
    prints only engines it has used); one whose counter was garbage in
    the previous sample counts from its next one. None when no time
    passed or no client prints busy time; {} when nothing grew.
    """
    if elapsed_ns <= 0:
        return None
    if current and not any(c.has_engines() for c in current.values()):
        # The driver prints fdinfo without busy time (virtio_gpu, ...).
        return None
    busy = {}
    capacity = {}
    for client_id, now in current.items():
        for engine, value in now.capacity.items():
            capacity[engine] = max(value, capacity.get(engine, 1))
        before = previous.get(client_id)
        if before is None:
            continue
        for engine, value in now.busy_ns.items():
            if engine in before.unreadable:
                continue
            grown = max(0, value - before.busy_ns.get(engine, 0))
            busy[engine] = busy.get(engine, 0.0) + grown / elapsed_ns
        for engine, (cycles, total) in now.cycles.items():
            if engine not in before.cycles:
                continue
            old_cycles, old_total = before.cycles[engine]
            if total > old_total:
                busy[engine] = busy.get(engine, 0.0) + max(
                    0, cycles - old_cycles) / (total - old_total)
    return {engine: value / capacity.get(engine, 1)
            for engine, value in busy.items()}


def percent(share):
    """A busy share as a percentage, capped at 100."""
    return min(100.0, share * 100.0)


def busy_percent(previous, current, elapsed_ns):
    """Busy percentage of a device between two samples, or None.

    The busiest engine's share (see engine_shares), not a mean or a sum:
    engines run in parallel, and a saturated render engine cannot take
    another phone's frames however idle the video or copy engines are,
    while a sum would count one frame that uses two engines twice.
    """
    shares = engine_shares(previous, current, elapsed_ns)
    if shares is None:
        return None
    return percent(max(shares.values())) if shares else 0.0


def _device_number(sysfs_root, name):
    """``st_rdev`` of a render node from ``/sys/class/drm/<name>/dev``."""
    path = os.path.join(sysfs_root, 'class', 'drm', name, 'dev')
    try:
        with open(path) as f:
            major, minor = f.read().strip().split(':')
        return os.makedev(int(major), int(minor))
    except (OSError, ValueError) as e:
        LOG.debug('No device number for %s from %s: %s', name, path, e)
        return None


class _Targets:
    """The render nodes being read, by device number, path and PCI address.

    An fd belongs to a render node when the file it opened has the render
    node's device number, or the same path, or its ``drm-pdev`` is the
    render node's PCI address (which also counts clients of the GPU's
    primary node ``card<N>``: they load the same engines).
    """

    def __init__(self, nodes, sysfs_root):
        self.by_rdev = {}
        self.by_path = {}
        self.by_pdev = {}
        for node in nodes:
            rdev = _device_number(sysfs_root, node.name)
            if rdev is not None:
                self.by_rdev[rdev] = node.key
            self.by_path[node.devnode] = node.key
            pdev = pci_address(node.pci_address)
            if pdev is not None:
                self.by_pdev[pdev] = node.key

    def may_be_drm(self, target, rdev):
        if target in self.by_path or target.startswith('/dev/dri/'):
            return True
        return rdev is not None and (os.major(rdev) == DRM_MAJOR or
                                     rdev in self.by_rdev)

    def node_of(self, target, rdev, fields):
        return (self.by_rdev.get(rdev) or self.by_path.get(target) or
                self.by_pdev.get(pci_address(fields.get('drm-pdev'))))


class _Scan:
    """One walk of ``/proc``: every DRM client of the render nodes read."""

    def __init__(self, proc_root, targets):
        self.proc_root = proc_root
        self.targets = targets
        self.samples = []
        #: Processes whose fds could not be inspected (permissions).
        self.denied = set()

    def run(self):
        try:
            pids = [p for p in os.listdir(self.proc_root) if p.isdigit()]
        except OSError as e:
            raise ProcUnreadable('cannot list %s: %s' % (self.proc_root, e))
        for pid in pids:
            try:
                self._process(pid)
            except OSError as e:
                self._os_error(e, pid, os.path.join(self.proc_root, pid))
        return self

    def _os_error(self, e, pid, path):
        if e.errno in _GONE:
            LOG.debug('%s went away while it was read: %s', path, e)
        elif e.errno in _DENIED:
            self.denied.add(int(pid))
        else:
            _warn(self.proc_root, ('os', e.errno), 'Cannot read %s; its '
                  'GPU use is not counted: %s', path, e)

    def _process(self, pid):
        fd_dir = os.path.join(self.proc_root, pid, 'fd')
        for fd in os.listdir(fd_dir):
            link = os.path.join(fd_dir, fd)
            try:
                self._fd(pid, fd, link)
            except OSError as e:
                self._os_error(e, pid, link)

    def _fd(self, pid, fd, link):
        target = os.readlink(link)
        if not target.startswith('/dev/'):
            return  # sockets, pipes, files, anon inodes
        rdev = None
        try:
            st = os.stat(link)
        except OSError:
            pass  # a device node the host does not have: match by path
        else:
            if stat.S_ISCHR(st.st_mode):
                rdev = st.st_rdev
        if not self.targets.may_be_drm(target, rdev):
            return
        path = os.path.join(self.proc_root, pid, 'fdinfo', fd)
        with open(path, 'rb') as f:
            fields = parse(f.read().decode('ascii', 'replace'))
        key = self.targets.node_of(target, rdev, fields)
        if key is None:
            return
        if 'drm-driver' in fields:
            client = client_from_fields(fields, key)
        else:
            # A kernel or driver without usage stats: the render node is
            # in use but how much is unknown, never "idle".
            client = Client()
        # One drm_file may sit behind several fds and processes (dup,
        # fork, SCM_RIGHTS): drm-client-id names it. Without one, the fd
        # is its own client.
        client_id = fields.get('drm-client-id') or ('fd', pid, fd)
        self.samples.append(ClientSample(int(pid), key, client_id, client))


def scan(proc_root, nodes, sysfs_root='/sys'):
    """One walk of ``/proc``: a Snapshot of the DRM clients of ``nodes``.

    Raises ProcUnreadable if the proc root cannot be listed; a process or
    fd that vanishes or cannot be read is left out (and counted in
    ``denied`` when permissions hid it).
    """
    nodes = list(nodes)
    now = _monotonic_ns()
    walk = _Scan(proc_root, _Targets(nodes, sysfs_root)).run()
    return Snapshot(now, frozenset(node.key for node in nodes),
                    walk.samples, walk.denied)


class ProcUnreadable(Exception):
    """The proc root itself cannot be listed."""


class FdinfoReader:
    """Busy percentages of render nodes from DRM fdinfo, per driver.

    Holds the previous sample of each device; one instance per compute
    driver. ``read`` may be called from several threads at once (claims
    and the periodic task): a lock makes each read-compute-store atomic,
    so two reads never compute against the same baseline or store out of
    order.
    """

    def __init__(self, proc_root='/proc', min_window_ns=MIN_WINDOW_NS):
        self.proc_root = proc_root
        self.min_window_ns = min_window_ns
        self._lock = threading.Lock()
        self._samples = {}

    def available(self):
        """Whether the proc root exists; a host without it has no source."""
        return os.path.isdir(self.proc_root)

    def observe(self, nodes, sysfs_root='/sys'):
        """Read every node now, whatever its window; return the Snapshot.

        Each node's sample (its busy percentage since its previous one)
        is stored as ``read`` stores it, so a ``read`` within the window
        answers from this walk; the Snapshot's per-process clients serve
        the per-instance listing (``per_instance``).
        """
        with self._lock:
            return self._sample(list(nodes), sysfs_root)

    def read(self, nodes, sysfs_root='/sys'):
        """Return {render node key: busy percent or None}.

        None for a device read for the first time, whose driver prints no
        busy time, or that no process could be seen using while some
        processes could not be inspected. Raises only if the proc root
        cannot be listed or on a bug; each device's own failure makes only
        that device None.
        """
        with self._lock:
            now = _monotonic_ns()
            due = [node for node in nodes if self._due(node.key, now)]
            if due:
                self._sample(due, sysfs_root)
            wanted = {node.key for node in nodes}
            for key in set(self._samples) - wanted:
                del self._samples[key]
            return {node.key: getattr(self._samples.get(node.key),
                                      'busy_percent', None)
                    for node in nodes}

    def _due(self, key, now):
        sample = self._samples.get(key)
        return sample is None or now - sample.time_ns >= self.min_window_ns

    def _sample(self, nodes, sysfs_root):
        snapshot = scan(self.proc_root, nodes, sysfs_root)
        if snapshot.denied:
            _warn(self.proc_root, 'denied', '%d process(es) under %s could '
                  'not be inspected (nova-compute needs to read the fds of '
                  'QEMU processes); a render node with no visible client '
                  'has no known load', len(snapshot.denied), self.proc_root)
        for node in nodes:
            try:
                self._store(node, snapshot.clients_of(node.key),
                            snapshot.denied, snapshot.time_ns)
            except Exception as e:
                self._samples.pop(node.key, None)
                _warn(node.key, ('fdinfo', type(e).__name__),
                      'Cannot compute the fdinfo load of %s; its load is '
                      'unknown this period: %s', node.devnode, e,
                      exc_info=True)
        return snapshot

    def _store(self, node, clients, denied, now):
        previous = self._samples.get(node.key)
        busy = None
        if previous is not None and not (denied and not clients):
            busy = busy_percent(previous.clients, clients,
                                now - previous.time_ns)
        # The next baseline: each counter at its largest value seen.
        baseline = {}
        for client_id, client in clients.items():
            before = previous.clients.get(client_id) if previous else None
            if before is not None:
                client.merge(before)
            baseline[client_id] = client
        self._samples[node.key] = DeviceSample(now, baseline, busy)
        LOG.debug('fdinfo: %s has %d client(s), busy %s%%', node.devnode,
                  len(clients), busy)
