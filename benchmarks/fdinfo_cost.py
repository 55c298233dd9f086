"""What one read of GPU use per phone costs, against the load-only read.

Builds a fake ``/proc`` in the kernel's format (``tests/unit/test_fdinfo``
helpers): ``--phones`` QEMU processes as libvirt starts them (``-uuid`` in
the command line), each with ``--render-fds`` DRM files on one of
``--gpus`` render nodes and ``--other-fds`` other files (KVM, vCPU and
event fds, sockets, pipes, disks, tap), and ``--others`` background
processes of ``--other-fds`` files each. Then, ``--repeat`` times in turn:

``load``
    the compute driver's read: ``FdinfoReader.read`` of every render node
    (one walk of ``/proc``, the busy share per render node);
``per instance``
    the listing's read: ``FdinfoReader.observe`` (the same walk, keeping
    each process's clients), the QEMU of each process and the per-instance
    busy shares and memory against the previous read.

Usage (from the repository root)::

    PYTHONPATH=. python benchmarks/fdinfo_cost.py [--tiny]

The ratio comes last. See ``benchmarks/README.rst`` and
``doc/source/benchmarks.rst``.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid as uuid_lib
import warnings

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))

# Nova's modules import eventlet-era libraries that warn on import.
warnings.simplefilter('ignore')

from benchmarks.common import tables  # noqa: E402
from nova_gpu_numa_sched.compute import render_node  # noqa: E402
from nova_gpu_numa_sched.compute.utilization import fdinfo  # noqa: E402
from nova_gpu_numa_sched.compute.utilization import per_instance  # noqa
from tests.unit import test_fdinfo  # noqa: E402

SECOND = 1000 ** 3

#: The files of a QEMU besides its render node, as ``ls -l /proc/<pid>/fd``
#: shows them on a compute host (cycled to --other-fds).
_QEMU_FILES = (
    '/dev/null', '/dev/kvm', 'anon_inode:kvm-vm', 'anon_inode:kvm-vcpu:0',
    'anon_inode:kvm-vcpu:1', 'anon_inode:[eventfd]', 'anon_inode:[eventfd]',
    'anon_inode:[signalfd]', 'socket:[%d]', 'socket:[%d]', 'pipe:[%d]',
    '/dev/net/tun', '/dev/vhost-net', '/dev/urandom',
    '/var/lib/nova/instances/%s/disk', '/var/lib/nova/instances/%s/console',
    'anon_inode:[timerfd]', 'anon_inode:[eventpoll]',
)
_OTHER_FILES = ('/dev/null', 'socket:[%d]', 'pipe:[%d]',
                '/var/log/syslog', 'anon_inode:[eventpoll]', '/dev/pts/0')


def _target(pattern, serial):
    if '%d' in pattern:
        return pattern % serial
    if '%s' in pattern:
        return pattern % uuid_lib.UUID(int=serial)
    return pattern


def build(root, args):
    """The fake /proc and /sys; returns (proc, nodes, {pid: uuid})."""
    proc = test_fdinfo.FakeProc(os.path.join(root, 'proc'))
    sysfs = os.path.join(root, 'sys')
    nodes = []
    for gpu in range(args.gpus):
        name = 'renderD%d' % (128 + gpu)
        path = os.path.join(sysfs, 'class', 'drm', name)
        os.makedirs(path)
        with open(os.path.join(path, 'dev'), 'w') as f:
            f.write('226:%d\n' % (128 + gpu))
        nodes.append(render_node.RenderNode(
            key='0000:%02x:00.0' % (3 + gpu), devnode='/dev/dri/' + name,
            numa_node=gpu % 2, pci_address='0000:%02x:00.0' % (3 + gpu)))
    phones = {}
    serial = 1000
    for phone in range(args.phones):
        pid = 10000 + phone
        uuid = str(uuid_lib.UUID(int=phone + 1))
        phones[pid] = uuid
        proc.start(pid, test_fdinfo.qemu_cmdline(
            uuid, 'instance-%08x' % (phone + 1)))
        node = nodes[phone % len(nodes)]
        for fd in range(args.other_fds):
            serial += 1
            proc.open(pid, fd, _target(
                _QEMU_FILES[fd % len(_QEMU_FILES)], serial))
        for i in range(args.render_fds):
            proc.open(pid, args.other_fds + i, node.devnode, test_fdinfo.i915(
                phone * 4 + i, pdev=node.pci_address))
    for other in range(args.others):
        pid = 20000 + other
        proc.start(pid, ['/usr/sbin/daemon-%d' % other])
        for fd in range(args.other_fds // 4 or 1):
            serial += 1
            proc.open(pid, fd, _target(
                _OTHER_FILES[fd % len(_OTHER_FILES)], serial))
    return proc, nodes, sysfs, phones


def _work(proc, args, step):
    """Every phone's counters grow between two reads."""
    for phone in range(args.phones):
        for i in range(args.render_fds):
            proc.write(10000 + phone, args.other_fds + i, test_fdinfo.i915(
                phone * 4 + i, render=step * (phone % 50) * SECOND // 100,
                pdev='0000:%02x:00.0' % (3 + phone % args.gpus)))


def _timed(func):
    wall, cpu = time.perf_counter(), time.process_time()
    result = func()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def run(args):
    with tempfile.TemporaryDirectory(prefix='fdinfo-cost-') as root:
        proc, nodes, sysfs, phones = build(root, args)
        uuids = set(phones.values())
        load = fdinfo.FdinfoReader(proc.root, min_window_ns=0)
        listing = fdinfo.FdinfoReader(proc.root, min_window_ns=0)
        load.read(nodes, sysfs)
        previous = listing.observe(nodes, sysfs)
        times = {'load': [], 'per instance': []}
        found = None

        def per_instance_read():
            nonlocal previous
            current = listing.observe(nodes, sysfs)
            owners = per_instance.owners(
                proc.root, {s.pid for s in current.samples}, uuids)
            usages = per_instance.usage_between(previous, current, owners)
            previous = current
            return usages

        for repetition in range(args.repeat):
            _work(proc, args, repetition + 1)
            order = ['load', 'per instance']
            if repetition % 2:
                order.reverse()
            for what in order:
                func = ((lambda: load.read(nodes, sysfs)) if what == 'load'
                        else per_instance_read)
                result, wall, cpu = _timed(func)
                times[what].append((wall, cpu))
                if what == 'per instance':
                    found = result
        fds = sum(len(os.listdir(os.path.join(proc.root, pid, 'fd')))
                  for pid in os.listdir(proc.root))
    return times, found, fds


def check(found, args):
    """Every phone listed once per render fd's node, with its own uuid."""
    uuids = sorted(u.uuid for u in found)
    expected = sorted(str(uuid_lib.UUID(int=phone + 1))
                      for phone in range(args.phones))
    if uuids != expected:
        raise SystemExit('per-instance read found %d phones, expected %d'
                         % (len(uuids), len(expected)))


def report(times, fds, args):
    print('fdinfo read, %d phones (QEMU with %d render + %d other fds), %d '
          'other processes, %d GPUs: %d fds in all; %d repetitions'
          % (args.phones, args.render_fds, args.other_fds, args.others,
             args.gpus, fds, args.repeat))
    rows = []
    for what, values in times.items():
        wall = [w for w, _ in values]
        cpu = [c for _, c in values]
        rows.append([what, '%.1f' % (statistics.median(cpu) * 1000),
                     '%.1f' % (min(cpu) * 1000), '%.1f' % (max(cpu) * 1000),
                     '%.1f' % (statistics.median(wall) * 1000)])
    for line in tables.table(['read', 'CPU ms median', 'min', 'max',
                              'wall ms median'], rows):
        print(line)
    print()
    print('Ratios')
    # The minimum is the read's own cost; the median adds what other jobs
    # on the machine took from it.
    for name, stat in (('median', statistics.median), ('minimum', min)):
        ratio = (stat([c for _, c in times['per instance']]) /
                 stat([c for _, c in times['load']]))
        print('ratio per-instance read / load-only read (CPU time, %s): '
              '%.2f' % (name, ratio))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--phones', type=int, default=100)
    parser.add_argument('--gpus', type=int, default=4)
    parser.add_argument('--render-fds', type=int, default=2)
    parser.add_argument('--other-fds', type=int, default=60)
    parser.add_argument('--others', type=int, default=300)
    parser.add_argument('--repeat', type=int, default=15)
    parser.add_argument('--tiny', action='store_true',
                        help='3 phones, 2 GPUs, 3 repetitions (seconds)')
    args = parser.parse_args(argv)
    if args.tiny:
        args.phones, args.gpus, args.others, args.repeat = 3, 2, 4, 3
        args.other_fds = 8
    for name in ('phones', 'gpus', 'render_fds', 'other_fds', 'repeat'):
        if getattr(args, name) < 1:
            parser.error('--%s must be at least 1' % name.replace('_', '-'))
    if args.others < 0:
        parser.error('--others must be at least 0')
    return args


def main(argv=None):
    args = parse_args(argv)
    times, found, fds = run(args)
    check(found, args)
    report(times, fds, args)


if __name__ == '__main__':
    main()
