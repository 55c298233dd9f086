"""Tests of the DRM fdinfo utilisation reader on fake /proc and /sys trees.

The fdinfo texts are shaped as the kernel prints them: the generic
``pos``/``flags``/``mnt_id``/``ino`` lines of fs/proc/fd.c, then
``drm_show_fdinfo``'s ``drm-driver``/``drm-client-id``/``drm-pdev`` and
each driver's own keys (Documentation/gpu/drm-usage-stats.rst), with tab
separators. A process's ``fd/<n>`` is a symlink to the device it opened,
as in /proc; the device need not exist on the test host.
"""

import errno
import logging
import os
import shutil
import threading

import fixtures
import testtools

from nova_gpu_numa_sched.compute import render_node
from nova_gpu_numa_sched.compute.utilization import fdinfo
from nova_gpu_numa_sched.compute.utilization import once

SECOND = 1000 ** 3
MINUTE = 60 * SECOND

NODE = render_node.RenderNode(
    key='0000:03:00.0', devnode='/dev/dri/renderD128', numa_node=0,
    pci_address='0000:03:00.0', vendor_id='0x8086')
OTHER = render_node.RenderNode(
    key='0000:04:00.0', devnode='/dev/dri/renderD129', numa_node=1,
    pci_address='0000:04:00.0', vendor_id='0x8086')
# An Arm SoC GPU: a platform device, no PCI address, no drm-pdev.
SOC = render_node.RenderNode(
    key='renderD128', devnode='/dev/dri/renderD128', numa_node=0)

HEADER = 'pos:\t0\nflags:\t02100002\nmnt_id:\t26\nino:\t1195\n'


def i915(client_id, render=0, copy=0, video=0, pdev='0000:03:00.0',
         resident_mib=8):
    """drivers/gpu/drm/i915/i915_drm_client.c via drm_show_fdinfo."""
    return HEADER + (
        'drm-driver:\ti915\n'
        'drm-client-id:\t%(id)s\n'
        'drm-pdev:\t%(pdev)s\n'
        'drm-total-system0:\t8 MiB\n'
        'drm-shared-system0:\t0\n'
        'drm-active-system0:\t0\n'
        'drm-resident-system0:\t%(resident)d MiB\n'
        'drm-purgeable-system0:\t0\n'
        'drm-total-stolen-system0:\t0\n'
        'drm-resident-stolen-system0:\t0\n'
        'drm-engine-render:\t%(render)d ns\n'
        'drm-engine-copy:\t%(copy)d ns\n'
        'drm-engine-video:\t%(video)d ns\n'
        'drm-engine-capacity-video:\t2\n'
        'drm-engine-video-enhance:\t0 ns\n'
    ) % {'id': client_id, 'pdev': pdev, 'render': render, 'copy': copy,
         'video': video, 'resident': resident_mib}


def amdgpu(client_id, **engines):
    """drivers/gpu/drm/amd/amdgpu/amdgpu_fdinfo.c: only used engines."""
    text = HEADER + (
        'pasid:\t32770\n'
        'drm-driver:\tamdgpu\n'
        'drm-pdev:\t0000:03:00.0\n'
        'drm-client-id:\t%s\n'
        'drm-memory-vram:\t7664 KiB\n'
        'drm-memory-gtt: \t2052 KiB\n'
        'drm-memory-cpu: \t0 KiB\n'
        'amd-memory-visible-vram:\t7664 KiB\n'
        'amd-evicted-vram:\t0 KiB\n'
        'amd-requested-vram:\t7664 KiB\n'
        'amd-requested-gtt:\t2052 KiB\n') % client_id
    for engine, ns in engines.items():
        text += 'drm-engine-%s:\t%d ns\n' % (engine, ns)
    return text


def panfrost(client_id, fragment=0, vertex_tiler=0, profiling=True):
    """drivers/gpu/drm/panfrost/panfrost_drv.c; engines need profiling."""
    text = HEADER + 'drm-driver:\tpanfrost\ndrm-client-id:\t%s\n' % client_id
    for engine, ns in (('fragment', fragment),
                       ('vertex-tiler', vertex_tiler)):
        if profiling:
            text += 'drm-engine-%s:\t%d ns\n' % (engine, ns)
            text += 'drm-cycles-%s:\t%d\n' % (engine, ns * 8 // 10)
        text += 'drm-maxfreq-%s:\t799999987 Hz\n' % engine
        text += 'drm-curfreq-%s:\t799999987 Hz\n' % engine
    return text + (
        'drm-total-memory:\t290 MiB\n'
        'drm-shared-memory:\t0\n'
        'drm-active-memory:\t226 MiB\n'
        'drm-resident-memory:\t36496 KiB\n'
        'drm-purgeable-memory:\t128 KiB\n')


def msm(client_id, gpu=0):
    """drivers/gpu/drm/msm/msm_gpu.c msm_gpu_show_fdinfo."""
    return HEADER + (
        'drm-driver:\tmsm\n'
        'drm-client-id:\t%s\n'
        'drm-engine-gpu:\t%d ns\n'
        'drm-cycles-gpu:\t%d\n'
        'drm-maxfreq-gpu:\t680000000 Hz\n'
        'drm-total-memory:\t12 MiB\n'
        'drm-resident-memory:\t12 MiB\n') % (client_id, gpu, gpu // 2)


def xe(client_id, rcs=0, vcs=0, total=0):
    """drivers/gpu/drm/xe/xe_drm_client.c: GPU cycles, no busy ns."""
    return HEADER + (
        'drm-driver:\txe\n'
        'drm-client-id:\t%(id)s\n'
        'drm-pdev:\t0000:03:00.0\n'
        'drm-total-system:\t0\n'
        'drm-total-gtt:\t4 MiB\n'
        'drm-total-vram0:\t20 MiB\n'
        'drm-resident-vram0:\t20 MiB\n'
        'drm-cycles-rcs:\t%(rcs)d\n'
        'drm-total-cycles-rcs:\t%(total)d\n'
        'drm-cycles-bcs:\t0\n'
        'drm-total-cycles-bcs:\t%(total)d\n'
        'drm-cycles-vcs:\t%(vcs)d\n'
        'drm-engine-capacity-vcs:\t2\n'
        'drm-total-cycles-vcs:\t%(total)d\n'
    ) % {'id': client_id, 'rcs': rcs, 'vcs': vcs, 'total': total}


def qemu_cmdline(uuid, domain='instance-00000001'):
    """A QEMU command line as libvirt's qemu driver builds it (abridged)."""
    return ['/usr/bin/qemu-system-x86_64', '-name',
            'guest=%s,debug-threads=on' % domain, '-S', '-machine',
            'pc-q35-8.2,usb=off,dump-guest-core=off', '-m', 'size=2097152k',
            '-smp', '2,sockets=2,dies=1,cores=1,threads=1', '-uuid', uuid,
            '-display', 'egl-headless,rendernode=/dev/dri/renderD128',
            '-device', 'virtio-vga-gl']


class FakeProc:
    """A /proc tree: ``<pid>/fd/<n>`` symlinks and ``<pid>/fdinfo/<n>``,
    and for a started process its ``cmdline`` and ``status``.
    """

    def __init__(self, root):
        self.root = root
        os.makedirs(root, exist_ok=True)

    def start(self, pid, argv, ppid=1, name=None):
        """A process's ``cmdline`` (NUL-separated) and ``status``."""
        path = os.path.join(self.root, str(pid))
        os.makedirs(path, exist_ok=True)
        with open(os.path.join(path, 'cmdline'), 'wb') as f:
            f.write(b''.join(arg.encode() + b'\0' for arg in argv))
        with open(os.path.join(path, 'status'), 'w') as f:
            f.write('Name:\t%s\nUmask:\t0022\nState:\tS (sleeping)\n'
                    'Tgid:\t%d\nNgid:\t0\nPid:\t%d\nPPid:\t%d\n'
                    'TracerPid:\t0\n' % (
                        name or os.path.basename(argv[0])[:15], pid, pid,
                        ppid))

    def open(self, pid, fd, target, text=None):
        fd_dir = os.path.join(self.root, str(pid), 'fd')
        info_dir = os.path.join(self.root, str(pid), 'fdinfo')
        os.makedirs(fd_dir, exist_ok=True)
        os.makedirs(info_dir, exist_ok=True)
        os.symlink(target, os.path.join(fd_dir, str(fd)))
        self.write(pid, fd, text if text is not None else HEADER)

    def write(self, pid, fd, text):
        with open(os.path.join(self.root, str(pid), 'fdinfo', str(fd)),
                  'w') as f:
            f.write(text)

    def exit(self, pid):
        shutil.rmtree(os.path.join(self.root, str(pid)))


class FakeClock:

    def __init__(self):
        self.now = 1000 * SECOND

    def __call__(self):
        return self.now


class FdinfoTestCase(testtools.TestCase):

    def setUp(self):
        super().setUp()
        root = self.useFixture(fixtures.TempDir()).path
        self.proc = FakeProc(os.path.join(root, 'proc'))
        self.sysfs_root = os.path.join(root, 'sys')
        for name, dev in (('renderD128', '226:128'),
                          ('renderD129', '226:129')):
            self.write_sysfs_dev(name, dev)
        self.clock = FakeClock()
        self.useFixture(fixtures.MonkeyPatch(
            'nova_gpu_numa_sched.compute.utilization.fdinfo._monotonic_ns',
            self.clock))
        self.useFixture(fixtures.MonkeyPatch(
            'nova_gpu_numa_sched.compute.utilization.fdinfo._warn',
            once.WarnOnce(fdinfo.LOG)))
        self.log = self.useFixture(fixtures.FakeLogger(
            level=logging.DEBUG, format='%(levelname)s %(message)s'))
        self.reader = fdinfo.FdinfoReader(self.proc.root)

    def write_sysfs_dev(self, name, dev):
        path = os.path.join(self.sysfs_root, 'class', 'drm', name)
        os.makedirs(path, exist_ok=True)
        with open(os.path.join(path, 'dev'), 'w') as f:
            f.write(dev + '\n')

    def read(self, *nodes):
        nodes = nodes or (NODE,)
        return self.reader.read(nodes, self.sysfs_root)

    def busy(self, node=NODE):
        return self.read(node)[node.key]

    def later(self, seconds=60):
        self.clock.now += seconds * SECOND

    def warnings(self):
        return [line for line in self.log.output.splitlines()
                if line.startswith('WARNING')]

    def deny(self, pid):
        """Make one process's fds unreadable, as for another user."""
        listdir = os.listdir
        denied = os.path.join(self.proc.root, str(pid), 'fd')

        def checked(path):
            if path == denied:
                raise PermissionError(errno.EACCES, 'Permission denied',
                                      path)
            return listdir(path)

        self.useFixture(fixtures.MonkeyPatch(
            'nova_gpu_numa_sched.compute.utilization.fdinfo.os.listdir',
            checked))


class FormatTestCase(FdinfoTestCase):
    """One driver at a time, 60 seconds between the two samples."""

    def test_first_read_is_unknown(self):
        self.proc.open(100, 9, NODE.devnode, i915(7, render=5 * SECOND))
        self.assertIsNone(self.busy())

    def test_i915_busiest_engine(self):
        self.proc.open(100, 9, NODE.devnode, i915(7, render=5 * SECOND,
                                                  copy=SECOND))
        self.busy()
        self.later(60)
        self.proc.write(100, 9, i915(7, render=35 * SECOND,
                                     copy=7 * SECOND))
        # render: 30 s of 60 s; copy: 6 s of 60 s.
        self.assertAlmostEqual(50.0, self.busy())
        self.assertEqual([], self.warnings())

    def test_engine_capacity_divides(self):
        self.proc.open(100, 9, NODE.devnode, i915(7, render=0, video=0))
        self.busy()
        self.later(60)
        # Two video engines busy all the time: 120 s of 2 x 60 s = 100 %;
        # 90 s is 75 %, above render's 10 %.
        self.proc.write(100, 9, i915(7, render=6 * SECOND,
                                     video=90 * SECOND))
        self.assertAlmostEqual(75.0, self.busy())

    def test_amdgpu_engine_printed_once_used(self):
        self.proc.open(200, 12, NODE.devnode, amdgpu(6, gfx=10 * SECOND))
        self.busy()
        self.later(60)
        # compute was not printed while unused: it counts from 0.
        self.proc.write(200, 12, amdgpu(6, gfx=16 * SECOND,
                                        compute=24 * SECOND))
        self.assertAlmostEqual(40.0, self.busy())

    def test_panfrost_matched_by_path(self):
        self.proc.open(300, 5, SOC.devnode, panfrost(14))
        self.busy(SOC)
        self.later(60)
        self.proc.write(300, 5, panfrost(14, fragment=45 * SECOND,
                                         vertex_tiler=3 * SECOND))
        self.assertAlmostEqual(75.0, self.busy(SOC))

    def test_panfrost_without_profiling_is_unknown(self):
        self.proc.open(300, 5, SOC.devnode, panfrost(14, profiling=False))
        self.busy(SOC)
        self.later(60)
        self.assertIsNone(self.busy(SOC))

    def test_msm(self):
        self.proc.open(400, 7, SOC.devnode, msm(3, gpu=SECOND))
        self.busy(SOC)
        self.later(60)
        self.proc.write(400, 7, msm(3, gpu=13 * SECOND))
        self.assertAlmostEqual(20.0, self.busy(SOC))

    def test_xe_cycles(self):
        self.proc.open(500, 4, NODE.devnode, xe(43, total=10 ** 9))
        self.busy()
        self.later(60)
        # 2.5e9 GPU timestamp ticks: rcs busy for 1e9 of them (40 %);
        # two vcs engines busy for 1.5e9 of 2 x 2.5e9 (30 %).
        self.proc.write(500, 4, xe(43, rcs=10 ** 9, vcs=15 * 10 ** 8,
                                   total=35 * 10 ** 8))
        self.assertAlmostEqual(40.0, self.busy())

    def test_no_client_is_idle(self):
        self.assertIsNone(self.busy())
        self.later(60)
        self.assertEqual(0.0, self.busy())

    def test_never_above_100(self):
        self.proc.open(100, 9, NODE.devnode, i915(7))
        self.busy()
        self.later(60)
        self.proc.write(100, 9, i915(7, render=61 * SECOND))
        self.assertEqual(100.0, self.busy())


class ClientsTestCase(FdinfoTestCase):

    def test_one_client_behind_several_fds(self):
        # QEMU forked or passed the fd: the same drm_file twice.
        self.proc.open(100, 9, NODE.devnode, i915(7))
        self.proc.open(100, 15, NODE.devnode, i915(7))
        self.proc.open(101, 9, NODE.devnode, i915(7))
        self.busy()
        self.later(60)
        for pid, fd in ((100, 9), (100, 15), (101, 9)):
            self.proc.write(pid, fd, i915(7, render=12 * SECOND))
        self.assertAlmostEqual(20.0, self.busy())

    def test_two_clients_add_up(self):
        self.proc.open(100, 9, NODE.devnode, i915(7))
        self.proc.open(200, 9, NODE.devnode, i915(8))
        self.busy()
        self.later(60)
        self.proc.write(100, 9, i915(7, render=12 * SECOND))
        self.proc.write(200, 9, i915(8, render=18 * SECOND))
        self.assertAlmostEqual(50.0, self.busy())

    def test_client_exits_between_reads(self):
        self.proc.open(100, 9, NODE.devnode, i915(7, render=50 * SECOND))
        self.proc.open(200, 9, NODE.devnode, i915(8, render=SECOND))
        self.busy()
        self.later(60)
        self.proc.exit(100)
        self.proc.write(200, 9, i915(8, render=7 * SECOND))
        # Only the client still there counts; never negative.
        self.assertAlmostEqual(10.0, self.busy())
        self.later(60)
        self.proc.exit(200)
        self.assertEqual(0.0, self.busy())

    def test_new_client_counts_from_first_sample(self):
        self.proc.open(100, 9, NODE.devnode, i915(7))
        self.busy()
        self.later(60)
        self.proc.write(100, 9, i915(7, render=6 * SECOND))
        self.proc.open(200, 9, NODE.devnode, i915(8, render=500 * SECOND))
        self.assertAlmostEqual(10.0, self.busy())
        self.later(60)
        self.proc.write(200, 9, i915(8, render=530 * SECOND))
        self.assertAlmostEqual(50.0, self.busy())

    def test_counter_stepping_back_adds_nothing(self):
        self.proc.open(100, 9, NODE.devnode, i915(7, render=30 * SECOND))
        self.busy()
        self.later(60)
        self.proc.write(100, 9, i915(7, render=20 * SECOND))
        self.assertEqual(0.0, self.busy())
        self.later(60)
        # The larger previous value stays the baseline until caught up.
        self.proc.write(100, 9, i915(7, render=36 * SECOND))
        self.assertAlmostEqual(10.0, self.busy())

    def test_clients_of_other_devices_are_apart(self):
        self.proc.open(100, 9, NODE.devnode, i915(7))
        self.proc.open(200, 9, OTHER.devnode, i915(7, pdev='0000:04:00.0'))
        self.read(NODE, OTHER)
        self.later(60)
        self.proc.write(100, 9, i915(7, render=30 * SECOND))
        self.proc.write(200, 9, i915(7, pdev='0000:04:00.0',
                                     render=6 * SECOND))
        self.assertEqual({NODE.key: 50.0, OTHER.key: 10.0},
                         self.read(NODE, OTHER))


class MatchingTestCase(FdinfoTestCase):

    def test_primary_node_matched_by_pdev(self):
        # A client of card0 loads the same GPU as one of renderD128.
        self.proc.open(100, 3, '/dev/dri/card0', i915(2))
        self.busy()
        self.later(60)
        self.proc.write(100, 3, i915(2, render=30 * SECOND))
        self.assertAlmostEqual(50.0, self.busy())

    def test_pdev_of_another_gpu_is_not_counted(self):
        self.proc.open(100, 3, '/dev/dri/card1', i915(2, pdev='0000:04:00.0'))
        self.busy()
        self.later(60)
        self.proc.write(100, 3, i915(2, render=30 * SECOND,
                                     pdev='0000:04:00.0'))
        self.assertEqual(0.0, self.busy())

    def test_matched_by_device_number(self):
        # A path the render node does not have (a container's bind mount)
        # with the render node's device number: /dev/null stands in for a
        # character device that exists on every test host.
        null = os.stat('/dev/null').st_rdev
        self.write_sysfs_dev('renderD128', '%d:%d' % (os.major(null),
                                                      os.minor(null)))
        self.proc.open(100, 9, '/dev/null', panfrost(1))
        self.busy(SOC)
        self.later(60)
        self.proc.write(100, 9, panfrost(1, fragment=6 * SECOND))
        self.assertAlmostEqual(10.0, self.busy(SOC))

    def test_other_files_are_not_read(self):
        for fd, target in enumerate(('socket:[4242]', 'pipe:[77]',
                                     'anon_inode:[eventfd]', '/dev/null',
                                     '/var/lib/nova/instances/x/disk',
                                     '/dev/dri/renderD129')):
            self.proc.open(100, fd, target, i915(fd, render=SECOND))
        self.busy()
        self.later(60)
        for fd in range(6):
            self.proc.write(100, fd, i915(fd, render=50 * SECOND,
                                          pdev='0000:04:00.0'))
        self.assertEqual(0.0, self.busy())

    def test_fd_without_usage_stats_is_unknown(self):
        # A kernel or driver without usage stats: only the generic lines.
        self.proc.open(100, 9, NODE.devnode, HEADER)
        self.busy()
        self.later(60)
        self.assertIsNone(self.busy())

    def test_primary_node_without_usage_stats_is_not_counted(self):
        self.proc.open(100, 9, '/dev/dri/card0', HEADER)
        self.busy()
        self.later(60)
        self.assertEqual(0.0, self.busy())

    def test_pci_address(self):
        self.assertEqual('0000:03:00.0', fdinfo.pci_address('0000:03:00.0'))
        self.assertEqual('0000:af:00.1', fdinfo.pci_address('AF:00.1'))
        self.assertEqual('0001:03:1f.7',
                         fdinfo.pci_address(' 00000001:03:1f.7\n'))
        self.assertIsNone(fdinfo.pci_address(None))
        self.assertIsNone(fdinfo.pci_address('pci_0000_03_00_0'))

    def test_parse(self):
        fields = fdinfo.parse(amdgpu(6, gfx=5))
        self.assertEqual('amdgpu', fields['drm-driver'])
        self.assertEqual('2052 KiB', fields['drm-memory-gtt'])
        self.assertEqual('5 ns', fields['drm-engine-gfx'])
        self.assertNotIn('pasid', fields)
        self.assertNotIn('amd-evicted-vram', fields)


class FaultsTestCase(FdinfoTestCase):

    def test_process_vanishes_while_read(self):
        self.proc.open(100, 9, NODE.devnode, i915(7))
        self.busy()
        self.later(60)
        # Listed, then gone: its fdinfo, then its fd directory.
        os.remove(os.path.join(self.proc.root, '100', 'fdinfo', '9'))
        os.makedirs(os.path.join(self.proc.root, '300'))
        self.assertEqual(0.0, self.busy())
        self.assertEqual([], self.warnings())

    def test_process_exits_during_the_walk(self):
        self.proc.open(100, 9, NODE.devnode, i915(7))
        self.proc.open(200, 9, NODE.devnode, i915(8))
        self.busy()
        self.later(60)
        self.proc.write(200, 9, i915(8, render=6 * SECOND))
        listdir = os.listdir

        def exit_on_list(path):
            names = listdir(path)
            if path == os.path.join(self.proc.root, '100', 'fd'):
                self.proc.exit(100)
                raise FileNotFoundError(errno.ENOENT, 'gone', path)
            return names

        self.useFixture(fixtures.MonkeyPatch(
            'nova_gpu_numa_sched.compute.utilization.fdinfo.os.listdir',
            exit_on_list))
        self.assertAlmostEqual(10.0, self.busy())
        self.assertEqual([], self.warnings())

    def test_unreadable_fdinfo_warned_once(self):
        self.proc.open(100, 9, NODE.devnode, i915(7))
        self.proc.open(200, 9, NODE.devnode, i915(8))
        info = os.path.join(self.proc.root, '100', 'fdinfo', '9')
        os.remove(info)
        os.mkdir(info)  # EISDIR: unreadable even for root
        self.busy()
        self.later(60)
        self.proc.write(200, 9, i915(8, render=6 * SECOND))
        self.assertAlmostEqual(10.0, self.busy())
        warnings = self.warnings()
        self.assertEqual(1, len(warnings), warnings)
        self.assertIn('Is a directory', warnings[0])

    def test_denied_process_without_visible_client_is_unknown(self):
        self.proc.open(100, 9, NODE.devnode, i915(7))
        self.deny(100)
        self.busy()
        self.later(60)
        self.assertIsNone(self.busy())
        warnings = self.warnings()
        self.assertEqual(1, len(warnings), warnings)
        self.assertIn('could not be inspected', warnings[0])

    def test_denied_process_beside_visible_client(self):
        self.proc.open(100, 9, NODE.devnode, i915(7))
        self.proc.open(200, 9, NODE.devnode, i915(8))
        self.deny(100)
        self.busy()
        self.later(60)
        self.proc.write(200, 9, i915(8, render=6 * SECOND))
        self.assertAlmostEqual(10.0, self.busy())

    def test_denied_fdinfo_counts_its_process_once(self):
        self.proc.open(100, 9, NODE.devnode, i915(7))
        self.proc.open(100, 10, NODE.devnode, i915(7))
        denied = os.path.join(self.proc.root, '100', 'fdinfo')

        def checked_open(path, *args, **kwargs):
            if path.startswith(denied):
                raise PermissionError(errno.EACCES, 'Permission denied',
                                      path)
            return open(path, *args, **kwargs)

        self.useFixture(fixtures.MonkeyPatch(
            'nova_gpu_numa_sched.compute.utilization.fdinfo.open',
            checked_open))
        self.busy()
        self.later(60)
        self.assertIsNone(self.busy())
        warnings = self.warnings()
        self.assertEqual(1, len(warnings), warnings)
        self.assertIn('1 process(es)', warnings[0])

    def test_garbage_values(self):
        text = i915(7).replace('drm-engine-render:\t0 ns',
                               'drm-engine-render:\tlots ns')
        text = text.replace('drm-engine-capacity-video:\t2',
                            'drm-engine-capacity-video:\t0')
        self.proc.open(100, 9, NODE.devnode, text)
        self.busy()
        self.later(60)
        # render was garbage: it counts from its first good value, no
        # jump from 0 to 500 s; video falls back to capacity 1.
        self.proc.write(100, 9, i915(7, render=500 * SECOND,
                                     video=3 * SECOND))
        self.assertAlmostEqual(2.5, self.busy())
        self.later(60)
        self.proc.write(100, 9, i915(7, render=512 * SECOND,
                                     video=3 * SECOND))
        self.assertAlmostEqual(20.0, self.busy())
        warnings = self.warnings()
        self.assertEqual(2, len(warnings), warnings)
        self.assertIn("'lots ns'", warnings[0])
        self.assertIn('drm-engine-capacity-video', warnings[1])

    def test_wrong_unit_is_garbage(self):
        self.proc.open(100, 9, NODE.devnode, i915(7))
        self.busy()
        self.later(60)
        self.proc.write(100, 9, i915(7, render=6 * SECOND).replace(
            '6000000000 ns', '6000000000 us'))
        self.assertEqual(0.0, self.busy())
        self.assertIn('drm-engine-render', self.warnings()[0])

    def test_binary_garbage(self):
        self.proc.open(100, 9, NODE.devnode, i915(7))
        self.busy()
        self.later(60)
        with open(os.path.join(self.proc.root, '100', 'fdinfo', '9'),
                  'wb') as f:
            f.write(b'drm-driver:\ti915\xff\xfe\ndrm-client-id:\t7\n'
                    b'drm-engine-render:\t\x00\n')
        # Its only client's counter is unreadable: unknown, not idle.
        self.assertIsNone(self.busy())
        self.assertIn('drm-engine-render', self.warnings()[0])

    def test_proc_root_missing(self):
        reader = fdinfo.FdinfoReader(os.path.join(self.proc.root, 'nope'))
        self.assertFalse(reader.available())
        self.assertRaises(fdinfo.ProcUnreadable, reader.read, [NODE],
                          self.sysfs_root)

    def test_failure_of_one_device_spares_the_others(self):
        self.proc.open(100, 9, NODE.devnode, i915(7))
        self.proc.open(200, 9, OTHER.devnode, i915(8, pdev='0000:04:00.0'))
        self.read(NODE, OTHER)
        self.later(60)
        self.proc.write(200, 9, i915(8, pdev='0000:04:00.0',
                                     render=6 * SECOND))
        busy_percent = fdinfo.busy_percent

        def broken_for_client_7(previous, current, elapsed_ns):
            if '7' in current:
                raise KeyError('engine')
            return busy_percent(previous, current, elapsed_ns)

        self.useFixture(fixtures.MonkeyPatch(
            'nova_gpu_numa_sched.compute.utilization.fdinfo.busy_percent',
            broken_for_client_7))
        self.assertEqual({NODE.key: None, OTHER.key: 10.0},
                         self.read(NODE, OTHER))
        self.later(60)
        self.read(NODE, OTHER)
        warnings = self.warnings()
        self.assertEqual(1, len(warnings), warnings)
        self.assertIn('KeyError', self.log.output)
        self.assertIn(NODE.devnode, warnings[0])


class WindowTestCase(FdinfoTestCase):

    def test_reads_within_the_window_keep_the_result(self):
        self.proc.open(100, 9, NODE.devnode, i915(7))
        self.busy()
        self.later(60)
        self.proc.write(100, 9, i915(7, render=30 * SECOND))
        self.assertAlmostEqual(50.0, self.busy())
        # A claim's update a second later: same value, same baseline.
        self.later(1)
        self.proc.write(100, 9, i915(7, render=31 * SECOND))
        self.assertAlmostEqual(50.0, self.busy())
        self.later(60)
        self.proc.write(100, 9, i915(7, render=37 * SECOND))
        # 7 s over the 61 s since the last baseline.
        self.assertAlmostEqual(700.0 / 61, self.busy())

    def test_forgets_devices_no_longer_read(self):
        self.read(NODE, OTHER)
        self.later(60)
        self.read(NODE)
        self.later(60)
        self.assertEqual({NODE.key: 0.0, OTHER.key: None},
                         self.read(NODE, OTHER))

    def test_concurrent_reads(self):
        """Threads reading at once see one consistent baseline."""
        self.proc.open(100, 9, NODE.devnode, i915(7))
        self.busy()
        self.later(60)
        self.proc.write(100, 9, i915(7, render=30 * SECOND))
        results = []
        errors = []

        def read():
            try:
                results.append(self.busy())
            except Exception as e:
                errors.append(e)

        threads = [threading.Thread(target=read) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.assertEqual([], errors)
        # One thread computed the delta; the others, inside the window,
        # got its value instead of a delta against a fresh baseline.
        self.assertEqual([50.0] * 8, results)
