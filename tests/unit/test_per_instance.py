"""GPU use per instance from the fdinfo reader, on fake /proc and /sys trees.

QEMU processes are shaped as libvirt starts them (``-uuid`` of the domain
in the command line, ``status`` with the parent), their DRM files as the
kernel prints them (``tests/unit/test_fdinfo.py``). Every test reads
through the reader the driver uses, so the per-instance numbers and the
render nodes' load come from the same walks of ``/proc``.
"""

import os

import fixtures

from nova_gpu_numa_sched.compute.utilization import fdinfo
from nova_gpu_numa_sched.compute.utilization import per_instance
from tests.unit import test_fdinfo

SECOND = test_fdinfo.SECOND
MIB = 1024 ** 2
NODE = test_fdinfo.NODE
OTHER = test_fdinfo.OTHER
i915 = test_fdinfo.i915

PHONE_1 = '0b5e8a3c-7a21-4c3e-9d0f-1a2b3c4d5e01'
PHONE_2 = '0b5e8a3c-7a21-4c3e-9d0f-1a2b3c4d5e02'
PHONE_3 = '0b5e8a3c-7a21-4c3e-9d0f-1a2b3c4d5e03'
STOPPED = '0b5e8a3c-7a21-4c3e-9d0f-1a2b3c4d5eff'
RUNNING = {PHONE_1, PHONE_2, PHONE_3}


class PerInstanceTestCase(test_fdinfo.FdinfoTestCase):

    def setUp(self):
        super().setUp()
        self.walks = 0
        scan = fdinfo.scan

        def counted(*args, **kwargs):
            self.walks += 1
            return scan(*args, **kwargs)

        self.useFixture(fixtures.MonkeyPatch(
            'nova_gpu_numa_sched.compute.utilization.fdinfo.scan', counted))

    def qemu(self, pid, uuid, fds=(), ppid=1):
        """A QEMU of a domain with ``fds``: [(fd, devnode, fdinfo text)]."""
        self.proc.start(pid, test_fdinfo.qemu_cmdline(uuid), ppid=ppid)
        for fd, devnode, text in fds:
            self.proc.open(pid, fd, devnode, text)

    def usage(self, step=None, seconds=60, nodes=(NODE, OTHER)):
        """First read, ``step()``, ``seconds`` later the second read."""
        def sleep(interval):
            self.assertEqual(seconds, interval)
            if step is not None:
                step()
            self.later(seconds)

        return per_instance.read_usage(self.reader, list(nodes), RUNNING,
                                       sleep, seconds, self.sysfs_root)[2]

    @staticmethod
    def rows(usages):
        return [(u.uuid, u.node, u.busy_percent) for u in usages]


class SeveralPhonesTest(PerInstanceTestCase):

    def test_busiest_first_and_the_load_from_the_same_walks(self):
        self.qemu(100, PHONE_1, [(30, NODE.devnode, i915(7))])
        self.qemu(200, PHONE_2, [(30, NODE.devnode, i915(8))])
        self.qemu(300, PHONE_3, [(30, OTHER.devnode,
                                  i915(9, pdev=OTHER.key))])

        def work():
            self.proc.write(100, 30, i915(7, render=6 * SECOND,
                                          copy=3 * SECOND, resident_mib=40))
            self.proc.write(200, 30, i915(8, render=24 * SECOND,
                                          video=30 * SECOND,
                                          resident_mib=120))
            self.proc.write(300, 30, i915(9, pdev=OTHER.key,
                                          render=12 * SECOND))

        usages = self.usage(work)
        self.assertEqual(
            [(PHONE_2, NODE.key, 40.0), (PHONE_3, OTHER.key, 20.0),
             (PHONE_1, NODE.key, 10.0)], self.rows(usages))
        phone_2, phone_3, phone_1 = usages
        # Two video engines: 30 s of 2 x 60 s.
        self.assertEqual({'render': 40.0, 'copy': 0.0, 'video': 25.0,
                          'video-enhance': 0.0}, phone_2.engines)
        self.assertEqual({'render': 10.0, 'copy': 5.0, 'video': 0.0,
                          'video-enhance': 0.0}, phone_1.engines)
        self.assertEqual({'system0': 120 * MIB, 'stolen-system0': 0},
                         phone_2.resident_bytes)
        self.assertEqual(40 * MIB, phone_1.resident_total_bytes)
        self.assertEqual(([200], 1), (phone_2.pids, phone_2.clients))
        # The driver's load: the instances' render shares add up to it,
        # and the reader answers it from the two walks already made.
        self.assertEqual({NODE.key: 50.0, OTHER.key: 20.0},
                         self.read(NODE, OTHER))
        self.assertEqual(2, self.walks)

    def test_qemu_holding_two_render_nodes(self):
        self.qemu(100, PHONE_1, [(30, NODE.devnode, i915(7)),
                                 (31, OTHER.devnode,
                                  i915(3, pdev=OTHER.key))])

        def work():
            self.proc.write(100, 30, i915(7, render=30 * SECOND))
            self.proc.write(100, 31, i915(3, pdev=OTHER.key,
                                          render=3 * SECOND,
                                          resident_mib=16))

        usages = self.usage(work)
        self.assertEqual([(PHONE_1, NODE.key, 50.0),
                          (PHONE_1, OTHER.key, 5.0)], self.rows(usages))
        self.assertEqual([8 * MIB, 16 * MIB],
                         [u.resident_total_bytes for u in usages])

    def test_one_client_behind_several_fds_and_a_child(self):
        # QEMU's render server (forked, no -uuid of its own) shares the
        # drm_file with QEMU and opens one of its own.
        self.qemu(100, PHONE_1, [(30, NODE.devnode, i915(7)),
                                 (31, NODE.devnode, i915(7))])
        self.proc.start(101, ['/usr/libexec/virgl_render_server',
                              '--socket-fd', '12'], ppid=100)
        self.proc.open(101, 5, NODE.devnode, i915(7))
        self.proc.open(101, 6, NODE.devnode, i915(12))

        def work():
            for pid, fd in ((100, 30), (100, 31), (101, 5)):
                self.proc.write(pid, fd, i915(7, render=12 * SECOND))
            self.proc.write(101, 6, i915(12, copy=6 * SECOND))

        (usage,) = self.usage(work)
        self.assertEqual((PHONE_1, 20.0, 2, [100, 101]),
                         (usage.uuid, usage.busy_percent, usage.clients,
                          usage.pids))
        self.assertEqual(10.0, usage.engines['copy'])
        # Each client's memory once, not once per fd.
        self.assertEqual(16 * MIB, usage.resident_total_bytes)

    def test_other_processes_are_apart(self):
        self.qemu(100, PHONE_1, [(30, NODE.devnode, i915(7))])
        # A domain libvirt does not run (a stale QEMU) and a compositor.
        self.qemu(200, STOPPED, [(30, NODE.devnode, i915(8))])
        self.proc.start(300, ['/usr/bin/Xorg', ':0'])
        self.proc.open(300, 12, '/dev/dri/card0', i915(9))

        def work():
            self.proc.write(100, 30, i915(7, render=6 * SECOND))
            self.proc.write(200, 30, i915(8, render=30 * SECOND))
            self.proc.write(300, 12, i915(9, render=12 * SECOND))

        usages = self.usage(work, nodes=(NODE,))
        self.assertEqual([(PHONE_1, NODE.key, 10.0), (None, NODE.key, 70.0)],
                         self.rows(usages))
        self.assertEqual([200, 300], usages[1].pids)


class ComingAndGoingTest(PerInstanceTestCase):

    def test_clients_and_processes_between_reads(self):
        self.qemu(100, PHONE_1, [(30, NODE.devnode, i915(7))])
        self.qemu(200, PHONE_2, [(30, NODE.devnode,
                                  i915(8, render=100 * SECOND)),
                                 (31, NODE.devnode, i915(9))])

        def work():
            # Phone 1 stops; phone 3 boots; phone 2 closes one client,
            # opens another and renders on the one it kept.
            self.proc.exit(100)
            self.qemu(300, PHONE_3, [(30, NODE.devnode,
                                      i915(11, render=5 * SECOND))])
            os.remove(os.path.join(self.proc.root, '200', 'fd', '31'))
            self.proc.write(200, 30, i915(8, render=112 * SECOND))
            self.proc.open(200, 32, NODE.devnode,
                           i915(10, render=500 * SECOND))

        usages = self.usage(work)
        # Phone 3 has no earlier sample: unknown, listed after the known.
        self.assertEqual([(PHONE_2, NODE.key, 20.0),
                          (PHONE_3, NODE.key, None)], self.rows(usages))
        self.assertEqual(2, usages[0].clients)
        self.assertEqual({}, usages[1].engines)
        # The driver's load agrees: the new client counts from now.
        self.assertEqual(20.0, self.busy())

    def test_counter_stepping_back_adds_nothing(self):
        self.qemu(100, PHONE_1, [(30, NODE.devnode,
                                  i915(7, render=30 * SECOND))])

        def work():
            self.proc.write(100, 30, i915(7, render=20 * SECOND))

        (usage,) = self.usage(work, nodes=(NODE,))
        self.assertEqual(0.0, usage.busy_percent)

    def test_denied_process_is_counted(self):
        self.qemu(100, PHONE_1, [(30, NODE.devnode, i915(7))])
        self.qemu(200, PHONE_2, [(30, NODE.devnode, i915(8))])
        self.deny(200)
        first = self.reader.observe([NODE], self.sysfs_root)
        self.assertEqual({200}, first.denied)
        self.assertEqual([100], [s.pid for s in first.samples])


class MemoryTest(PerInstanceTestCase):

    def test_amdgpu_legacy_memory_keys(self):
        self.qemu(100, PHONE_1, [(30, NODE.devnode,
                                  test_fdinfo.amdgpu(6, gfx=SECOND))])

        def work():
            self.proc.write(100, 30, test_fdinfo.amdgpu(6, gfx=7 * SECOND))

        (usage,) = self.usage(work, nodes=(NODE,))
        self.assertEqual({'vram': 7664 * 1024, 'gtt': 2052 * 1024,
                          'cpu': 0}, usage.resident_bytes)
        self.assertEqual(10.0, usage.busy_percent)

    def test_units_and_garbage(self):
        fields = fdinfo.parse(
            'drm-driver:\txe\ndrm-client-id:\t4\n'
            'drm-resident-vram0:\t2 GiB\ndrm-resident-gtt:\t4096\n'
            'drm-resident-system:\tlots\ndrm-memory-gtt:\t1 MiB\n')
        client = fdinfo.client_from_fields(fields, NODE.key)
        # drm-resident- wins over its alias; garbage is left out, warned.
        self.assertEqual({'vram0': 2 * 1024 ** 3, 'gtt': 4096},
                         client.resident)
        warnings = self.warnings()
        self.assertEqual(1, len(warnings), warnings)
        self.assertIn('drm-resident-system', warnings[0])


class QemuUuidTest(PerInstanceTestCase):

    def test_cmdline(self):
        argv = test_fdinfo.qemu_cmdline(PHONE_1.upper())
        cmdline = b''.join(arg.encode() + b'\0' for arg in argv)
        self.assertEqual(PHONE_1, per_instance.qemu_uuid(cmdline))
        self.assertIsNone(per_instance.qemu_uuid(b'/usr/bin/Xorg\0:0\0'))
        self.assertIsNone(per_instance.qemu_uuid(b'qemu\0-uuid\0nope\0'))
        self.assertIsNone(per_instance.qemu_uuid(b'qemu\0-uuid\0'))

    def test_owners_walk_up_to_a_qemu(self):
        self.proc.start(100, test_fdinfo.qemu_cmdline(PHONE_1))
        self.proc.start(101, ['sh'], ppid=100)
        self.proc.start(102, ['render'], ppid=101)
        self.proc.start(200, ['bash'], ppid=1)
        self.assertEqual(
            {100: PHONE_1, 101: PHONE_1, 102: PHONE_1, 200: None,
             999: None},
            per_instance.owners(self.proc.root, [100, 101, 102, 200, 999],
                                RUNNING))
