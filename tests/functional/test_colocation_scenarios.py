"""Co-location of phones with their GPU's NUMA cell, scenario by scenario.

Each test boots through the real API, scheduler, conductor and compute
(fake libvirt, real Placement) and checks where the render node, vCPUs,
emulator thread and RAM really are: in the guest XML nova wrote, in the
claimed instance NUMA topology and in the Placement allocation.
"""

import json

from lxml import etree
from nova import exception
from nova import objects
from nova.tests.fixtures import libvirt as fakelibvirt

from nova_gpu_numa_sched.cmd import discover
from nova_gpu_numa_sched.compute import device_spec
from nova_gpu_numa_sched.compute import placement_report
from nova_gpu_numa_sched import names
from tests.functional import base
from tests.functional import fake_drm

CONF = base.CONF


def _spec(**entry):
    return json.dumps(entry)


class ColocationScenarioBase(base.GpuNumaTestBase):

    def boot_phones(self, count, flavor=None, prefix='phone'):
        flavor = flavor or self.phone_flavor()
        return [self._create_server(name='%s%d' % (prefix, i),
                                    flavor_id=flavor, networks='none')
                for i in range(count)]

    def assertOnCell(self, server, cell):
        """Like assertColocated, for a GPU whose NUMA node is configured.

        The fake GPU reports no NUMA node, so the expected cell is given.
        """
        placed = self.placed(server)
        self.assertIsNotNone(
            self.gpu_of_rendernode(placed.host, placed.rendernode), placed)
        for where in (placed.gpu_cell, placed.vcpu_cell, placed.memory_cell,
                      placed.emulator_cell):
            self.assertEqual(cell, where, placed)
        self.assertEqual([cell], placed.claimed_cell, placed)
        return placed

    def run_periodics_cleanly(self, hostname):
        """Run the resource update; it must not fail.

        Nova's report client logs a Placement generation conflict at ERROR
        level and the resource tracker retries it (an allocation bumps the
        provider's generation); only a failed update counts here.
        """
        mark = len(self.stdlog.logger.output)
        self.run_periodics(hostname)
        logged = self.stdlog.logger.output[mark:]
        self.assertNotIn('Error updating resources', logged)
        self.assertNotIn('Traceback', logged)

    def allocated_provider(self, server):
        """Per-render-node name of the slot the server holds.

        The compute claim chose it; Placement holds one slot on the
        compute node's provider for it.
        """
        placed = self.placed(server)
        allocations = self._get_allocations_by_server_uuid(server['id'])
        self.assertEqual(
            {self.compute_rp_uuids[placed.host]: 1},
            {uuid: alloc['resources'][names.RESOURCE_CLASS]
             for uuid, alloc in allocations.items()
             if names.RESOURCE_CLASS in alloc['resources']})
        instance = objects.Instance.get_by_uuid(
            self.ctxt, server['id'], expected_attrs=['resources'])
        found = [placement_report.provider_name(
                     placed.host,
                     placement_report.node_key_of_slot(res.identifier))
                 for res in instance.resources or ()
                 if res.resource_class == names.RESOURCE_CLASS]
        self.assertEqual(1, len(found), found)
        return found[0]

    def assertRendersOnAllocatedGpu(self, server):
        """The XML's render node is the GPU whose slot was allocated."""
        placed = self.placed(server)
        gpu = self.gpu_of_rendernode(placed.host, placed.rendernode)
        self.assertIsNotNone(gpu, placed)
        self.assertEqual(
            placement_report.provider_name(placed.host, gpu.pci_address),
            self.allocated_provider(server))

    def log_lines(self, level, *words):
        """Log lines of ``level`` holding every one of ``words``."""
        return [line for line in self.stdlog.logger.output.splitlines()
                if ' %s ' % level in line and all(w in line for w in words)]

    def provider_of(self, hostname, gpu):
        return self.render_providers(hostname)[
            placement_report.provider_name(hostname, gpu.pci_address)]

    def used_per_gpu(self, servers):
        """{(host, devnode): phones} as the guests' XML says."""
        used = {}
        for server in servers:
            placed = self.placed(server)
            key = (placed.host, placed.rendernode)
            used[key] = used.get(key, 0) + 1
        return used


class PackingStrategyTest(ColocationScenarioBase):
    """Nova's cell order must not win over the render node's cell.

    Both strategies put a fresh guest on cell 0 first (most used, or most
    free, ties in id order); the GPUs are on cells 1 and 3 only.
    """

    def _boot_on_cells_1_and_3(self):
        self.start_gpu_compute('host1', cells=4,
                               gpus=fake_drm.gpus_on_cells([1, 3]))
        cells = [self.assertColocated(server).gpu_cell
                 for server in self.boot_phones(4)]
        self.assertEqual([1, 1, 3, 3], sorted(cells))

    def test_packing_strategy(self):
        """Packing prefers the busiest cell; the GPU's cell still wins."""
        self.flags(packing_host_numa_cells_allocation_strategy=True,
                   group='compute')
        self._boot_on_cells_1_and_3()

    def test_spreading_strategy(self):
        """Spreading prefers the freest cell; the GPU's cell still wins."""
        self.flags(packing_host_numa_cells_allocation_strategy=False,
                   group='compute')
        self._boot_on_cells_1_and_3()


class MultiHostTest(ColocationScenarioBase):

    def test_phones_on_two_hosts_are_colocated(self):
        """Each host's cells are its own: GPU cells differ between hosts."""
        self.start_gpu_compute('host1', cells=4,
                               gpus=fake_drm.gpus_on_cells([0]))
        self.start_gpu_compute('host2', cells=4,
                               gpus=fake_drm.gpus_on_cells([1, 2]))
        placed = [self.assertColocated(server)
                  for server in self.boot_phones(4)]
        self.assertEqual({'host1', 'host2'}, {p.host for p in placed})
        self.assertEqual({('host1', 0), ('host2', 1), ('host2', 2)},
                         {(p.host, p.gpu_cell) for p in placed})


class SlotExhaustionTest(ColocationScenarioBase):

    def test_boot_until_slots_run_out(self):
        """Slots are the capacity; a freed slot is reused on its GPU."""
        self.flags(slots_per_gpu=2, group='gpu_numa')
        self.start_gpu_compute('host1', cells=4,
                               gpus=fake_drm.gpus_on_cells([0, 2]))
        flavor = self.phone_flavor()
        phones = self.boot_phones(4, flavor)
        for phone in phones:
            self.assertColocated(phone)
        self.assertEqual({('host1', '/dev/dri/renderD128'): 2,
                          ('host1', '/dev/dri/renderD129'): 2},
                         self.used_per_gpu(phones))
        self.assertEqual(self.used_per_gpu(phones), self.slot_usage())

        fifth = self._create_server(name='phone4', flavor_id=flavor,
                                    networks='none', expected_state='ERROR')
        self.assertIn('No valid host', fifth['fault']['message'])
        self.assertEqual({}, self._get_allocations_by_server_uuid(
            fifth['id']))

        gone = self.placed(phones[1])
        gone_provider = self.allocated_provider(phones[1])
        self._delete_server(phones[1])
        del phones[1]
        sixth = self._create_server(name='phone5', flavor_id=flavor,
                                    networks='none')
        self.assertEqual(gone.rendernode,
                         self.assertColocated(sixth).rendernode)
        self.assertRendersOnAllocatedGpu(sixth)
        self.assertEqual(gone_provider, self.allocated_provider(sixth))
        phones.append(sixth)
        self.assertEqual(self.used_per_gpu(phones), self.slot_usage())
        self.assertEqual({2}, set(self.slot_usage().values()))


class GuestXmlTest(ColocationScenarioBase):

    def _check_render_devices(self, server):
        """egl-headless on the allocated node, one virgl video, strict RAM."""
        placed = self.assertColocated(server)
        self.assertRendersOnAllocatedGpu(server)
        xml = etree.fromstring(self.guest_xml[server['id']])
        graphics = xml.findall("./devices/graphics[@type='egl-headless']")
        self.assertEqual(1, len(graphics))
        self.assertEqual([placed.rendernode],
                         [gl.get('rendernode')
                          for gl in graphics[0].findall('gl')])
        self.assertRegex(placed.rendernode, r'^/dev/dri/renderD12\d$')
        models = xml.findall('./devices/video/model')
        self.assertEqual(['virtio'], [m.get('type') for m in models])
        self.assertEqual(['yes'], [a.get('accel3d') for a in
                                   models[0].findall('acceleration')])
        memnodes = xml.findall('./numatune/memnode')
        self.assertEqual([('strict', str(placed.gpu_cell))],
                         [(m.get('mode'), m.get('nodeset'))
                          for m in memnodes])
        return xml

    def test_x86_64_guest_xml(self):
        """Each phone's XML names its own render node and its cell."""
        self.start_gpu_compute('host1', cells=4,
                               gpus=fake_drm.gpus_on_cells([1, 3]))
        servers = self.boot_phones(2)
        for server in servers:
            xml = self._check_render_devices(server)
            self.assertEqual('x86_64', xml.find('./os/type').get('arch'))
        self.assertEqual(
            {'/dev/dri/renderD128', '/dev/dri/renderD129'},
            {self.placed(server).rendernode for server in servers})
        self.dump_guest_xml(servers[0], 'x86_64-phone')

    def test_aarch64_guest_xml(self):
        """An Arm host: virt machine, UEFI, same render devices and cell."""
        self.flags(virt_type='qemu', group='libvirt')
        # The fake host's capabilities follow os.uname(); the default fake
        # image says x86_64, so the phone boots from an aarch64 image.
        self.libvirt.mock_uname.return_value = fakelibvirt.os_uname(
            'Linux', '', '5.4.0-0-generic', '', 'aarch64')
        self.start_gpu_compute('host1', cells=2,
                               gpus=fake_drm.gpus_on_cells([1]),
                               arch='aarch64')
        image = self._create_image({'architecture': 'aarch64'})
        server = self._create_server(
            name='phone', image_uuid=image['id'],
            flavor_id=self.phone_flavor(), networks='none')
        xml = self._check_render_devices(server)
        self.assertEqual('qemu', xml.get('type'))
        os_type = xml.find('./os/type')
        self.assertEqual('aarch64', os_type.get('arch'))
        self.assertTrue(os_type.get('machine').startswith('virt'))
        self.dump_guest_xml(server, 'aarch64-phone')


class DeviceSpecTest(ColocationScenarioBase):

    def test_selection_exposes_only_matching_render_node(self):
        """With entries, a GPU no entry matches is not offered at all."""
        self.flags(device_spec=[_spec(devnode='/dev/dri/renderD129')],
                   group='gpu_numa')
        gpus = fake_drm.gpus_on_cells([0, 1])
        self.start_gpu_compute('host1', cells=2, gpus=gpus)
        self.assertEqual(
            [placement_report.provider_name('host1', gpus[1].pci_address)],
                         list(self.render_providers('host1')))
        server, = self.boot_phones(1)
        self.assertEqual('/dev/dri/renderD129',
                         self.assertColocated(server).rendernode)

    def test_slots_override(self):
        """An entry's slots beat slots_per_gpu; first match wins."""
        self.flags(slots_per_gpu=8, group='gpu_numa')
        self.flags(device_spec=[
            _spec(pci_address='0000:03:00.0', slots=3),
            _spec(devnode='/dev/dri/renderD*')], group='gpu_numa')
        gpus = fake_drm.gpus_on_cells([0, 1])
        self.start_gpu_compute('host1', cells=2, gpus=gpus)
        self.assertEqual(
            {placement_report.provider_name('host1', '0000:03:00.0'): (3, 0),
             placement_report.provider_name('host1', '0000:04:00.0'): (8, 0)},
            {name: (rp['inventory']['total'], rp['inventory']['reserved'])
             for name, rp in self.render_providers('host1').items()})

    def test_numa_node_override_for_unknown_numa(self):
        """Firmware without NUMA info: the configured cell is used."""
        gpu = fake_drm.FakeGpu(devnode='/dev/dri/renderD128',
                               pci_address='0000:83:00.0', numa_node=None)
        self.flags(device_spec=[_spec(pci_address=gpu.pci_address,
                                      numa_node=2)], group='gpu_numa')
        self.start_gpu_compute('host1', cells=4, gpus=[gpu])
        self.assertEqual(2, self.provider_of('host1', gpu)['cell'])
        for server in self.boot_phones(2):
            self.assertOnCell(server, 2)

    def test_unknown_numa_without_override(self):
        """Hidden (with a warning) on a multi-cell host, cell 0 if single."""
        multi = fake_drm.FakeGpu(devnode='/dev/dri/renderD128',
                                 pci_address='0000:83:00.0', numa_node=None)
        single = fake_drm.FakeGpu(devnode='/dev/dri/renderD130',
                                  pci_address='0000:84:00.0', numa_node=None)
        self.start_gpu_compute('multi', cells=4, gpus=[multi])
        self.start_gpu_compute('single', cells=1, gpus=[single])
        self.assertEqual({}, self.render_providers('multi'))
        warnings = self.log_lines('WARNING', multi.devnode, multi.pci_address,
                                  '[gpu_numa] device_spec')
        self.assertNotEqual([], warnings)
        self.assertEqual([], self.log_lines('WARNING', single.devnode))

        self.assertEqual(0, self.provider_of('single', single)['cell'])
        server, = self.boot_phones(1)
        placed = self.assertOnCell(server, 0)
        self.assertEqual(('single', single.devnode),
                         (placed.host, placed.rendernode))

    def test_firmware_cell_the_host_lacks(self):
        """Not reported (warning, fix named); discover says the same."""
        gpus = fake_drm.gpus_on_cells([1, 3])
        self.start_gpu_compute('host1', cells=2, gpus=gpus)
        on_1, on_3 = gpus
        self.assertEqual([placement_report.provider_name('host1',
                                                         on_1.pci_address)],
                         list(self.render_providers('host1')))
        fix = ('{"pci_address": "%s", "numa_node": 0}' % on_3.pci_address)
        self.assertNotEqual([], self.log_lines(
            'WARNING', on_3.devnode, 'is on NUMA node 3 (from firmware), '
            'which is not one of the host cells [0, 1]', fix))

        # discover, over the compute's own libvirt connection.
        data = discover.collect(
            self.computes['host1'].driver._host.get_connection(), CONF,
            sysfs_root=self.sysfs_root)
        self.assertEqual(list(self.render_providers('host1')),
                         [placement_report.provider_name('host1', n['key'])
                          for n in data['render_nodes']])
        self.assertEqual(
            [(on_3.devnode, device_spec.LEFT_NOT_A_HOST_CELL)],
            [(left['devnode'], left['reason'])
             for left in data['left_out']])
        self.assertIn(fix, data['left_out'][0]['fix'])

    def test_invalid_device_spec_stops_compute(self):
        """A typo must stop the service, naming the option."""
        for value, reason in (
                (_spec(slots=2), 'must name "devnode" or "pci_address"'),
                ('{"devnode": "/dev/dri/renderD128"', 'not valid JSON')):
            self.flags(device_spec=[value], group='gpu_numa')
            error = self.assertRaises(
                exception.InvalidConfiguration, self.start_gpu_compute,
                'host1', cells=2, gpus=fake_drm.gpus_on_cells([0]))
            self.assertIn('[gpu_numa] device_spec', str(error))
            self.assertIn(reason, str(error))
            self.assertNotIn('host1', self.computes)


class FlavorWithoutNumaTest(ColocationScenarioBase):

    def test_render_flavor_without_numa_nodes_is_refused(self):
        """Without hw:numa_nodes no cell can be pinned: refuse, and say why."""
        self.start_gpu_compute('host1', cells=2,
                               gpus=fake_drm.gpus_on_cells([0, 1]))
        flavor = self._create_flavor(
            name='phone-without-numa', vcpu=1, memory_mb=512, disk=1,
            ephemeral=0, extra_spec={
                'resources:%s' % names.RESOURCE_CLASS: '1'})
        server = self._create_server(name='phone', flavor_id=flavor,
                                     networks='none', expected_state='ERROR')
        self.assertIn('No valid host', server['fault']['message'])
        self.assertNotEqual([], self.log_lines(
            'ERROR', 'phone-without-numa', 'hw:numa_nodes'))
        self.assertEqual({('host1', '/dev/dri/renderD128'): 0,
                          ('host1', '/dev/dri/renderD129'): 0},
                         self.slot_usage())


class RobustnessTest(ColocationScenarioBase):

    def test_gpu_vanishes_while_in_use(self):
        """A used slot outlives its GPU, in use, until the phone goes."""
        gpus = fake_drm.gpus_on_cells([0, 1])
        self.start_gpu_compute('host1', cells=2, gpus=gpus)
        phone, = self.boot_phones(1)
        used = self.gpu_of_rendernode('host1', self.placed(phone).rendernode)
        other = [gpu for gpu in gpus if gpu is not used][0]
        self.drm['host1'].remove(used.devnode)
        self.run_periodics_cleanly('host1')

        rp = self.provider_of('host1', used)
        self.assertEqual(1, rp['usage'])
        self.assertEqual(rp['inventory']['total'],
                         rp['inventory']['reserved'])
        # Placement: the held slot stays in the compute node's total, in
        # use; only the other GPU's slots are free.
        total, reserved, used_slots = self.host_slots('host1')
        self.assertEqual((0, 1), (reserved, used_slots))
        self.assertEqual(self.render_providers('host1')[
            placement_report.provider_name('host1', other.pci_address)][
            'inventory']['total'], total - used_slots)
        self.assertIn(self.compute_rp_uuids['host1'],
                      self._get_allocations_by_server_uuid(phone['id']))
        # The next phone cannot land on the vanished GPU.
        second = self._create_server(name='phone1',
                                     flavor_id=self.phone_flavor(),
                                     networks='none')
        self.assertEqual(other.devnode,
                         self.assertColocated(second).rendernode)

        self._delete_server(phone)
        self.run_periodics_cleanly('host1')
        self.assertEqual(
            [placement_report.provider_name('host1', other.pci_address)],
            list(self.render_providers('host1')))

    def test_listing_error_keeps_providers(self):
        """A libvirt hiccup must not withdraw GPUs from Placement."""
        self.start_gpu_compute('host1', cells=2,
                               gpus=fake_drm.gpus_on_cells([0, 1]))
        phone, = self.boot_phones(1)
        before = self.render_providers('host1')
        slots_before = self.host_slots('host1')
        self.drm['host1'].fail_listing = True
        self.run_periodics_cleanly('host1')
        self.assertNotEqual([], self.log_lines(
            'WARNING', 'Listing DRM node devices failed'))

        after = self.render_providers('host1')
        self.assertEqual(before, after)
        self.assertEqual(slots_before, self.host_slots('host1'))
        self.assertEqual(2, len(after))
        self.assertEqual(1, sum(rp['usage'] for rp in after.values()))

    def test_slots_lowered_below_usage(self):
        """Fewer slots than phones: allocations stay valid, none added."""
        self.flags(slots_per_gpu=4, group='gpu_numa')
        gpu, = fake_drm.gpus_on_cells([1])
        self.start_gpu_compute('host1', cells=2, gpus=[gpu])
        phones = self.boot_phones(3)
        for phone in phones:
            self.assertColocated(phone)

        self.flags(slots_per_gpu=1, group='gpu_numa')
        self.run_periodics_cleanly('host1')
        rp = self.provider_of('host1', gpu)
        self.assertEqual(3, rp['usage'])
        inventory = rp['inventory']
        self.assertGreaterEqual(inventory['total'], 3)
        # Only the configured single slot counts as capacity.
        self.assertEqual(1, inventory['total'] - inventory['reserved'])
        # Placement: all three held (two beyond the one usable), in use.
        self.assertEqual((3, 0, 3), self.host_slots('host1'))
        for phone in phones:
            self.assertIn(self.compute_rp_uuids['host1'],
                          self._get_allocations_by_server_uuid(phone['id']))
        # Nothing more fits until usage drops below the new size.
        refused = self._create_server(
            name='phone3', flavor_id=self.phone_flavor(), networks='none',
            expected_state='ERROR')
        self.assertIn('No valid host', refused['fault']['message'])


class MultiCreateTest(ColocationScenarioBase):

    def test_one_request_for_eight_phones(self):
        """Every instance of one request gets its own GPU's cell."""
        self.start_gpu_compute('host1', cells=4,
                               gpus=fake_drm.gpus_on_cells([0, 1, 2, 3]))
        body = self._build_server(name='phone',
                                  flavor_id=self.phone_flavor(),
                                  networks='none')
        body.update(min_count=8, max_count=8, return_reservation_id=True)
        reservation = self.api.post_server({'server': body})[
            'reservation_id']
        servers = self.api.get_servers(
            search_opts={'reservation_id': reservation})
        self.assertEqual(8, len(servers))
        servers = [self._wait_for_state_change(server, 'ACTIVE')
                   for server in servers]
        cells = [self.assertColocated(server).gpu_cell for server in servers]
        self.assertEqual({0, 1, 2, 3}, set(cells))
        for server in servers:
            self.assertRendersOnAllocatedGpu(server)
        self.assertEqual(self.used_per_gpu(servers), self.slot_usage())
        # The request's own earlier claims count: two phones per GPU.
        self.assertEqual({2}, set(self.slot_usage().values()))
