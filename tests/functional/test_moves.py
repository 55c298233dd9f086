"""Moves keep a phone on its GPU's cell; live migration is refused."""

from unittest import mock

from lxml import etree
from nova.tests.functional.api import client

from tests.functional import base
from tests.functional import fake_drm

_MIGRATE_DISK = ('nova.virt.libvirt.driver.LibvirtDriver.'
                 'migrate_disk_and_power_off')


class TwoGpuHostsBase(base.GpuNumaTestBase):
    """Two 4-cell hosts whose one GPU sits on a different cell each.

    A move between them must re-pin the claim to the destination GPU's
    cell.
    """

    def setUp(self):
        super().setUp()
        self.start_gpu_compute('host1', cells=4,
                               gpus=fake_drm.gpus_on_cells([1]))
        self.start_gpu_compute('host2', cells=4,
                               gpus=fake_drm.gpus_on_cells([2]))
        self.flavor = self.phone_flavor()


class MoveTest(TwoGpuHostsBase):

    def _boot(self):
        server = self._create_server(flavor_id=self.flavor, networks='none')
        return server, self.assertColocated(server)

    def test_cold_migrate_follows_destination_gpu(self):
        server, before = self._boot()
        with mock.patch(_MIGRATE_DISK, return_value='{}'):
            server = self._migrate_server(server, api=self.admin_api)
        self._confirm_resize(server)
        after = self.assertColocated(server)
        self.assertNotEqual(before.host, after.host)
        self.assertNotEqual(before.gpu_cell, after.gpu_cell)
        usage = self.slot_usage()
        self.assertEqual(0, usage[(before.host, '/dev/dri/renderD128')])
        self.assertEqual(1, usage[(after.host, '/dev/dri/renderD128')])

    def test_resize_stays_colocated(self):
        server, before = self._boot()
        bigger = self.phone_flavor(vcpu=2, memory_mb=1024)
        with mock.patch(_MIGRATE_DISK, return_value='{}'):
            server = self._resize_server(server, bigger)
        self._confirm_resize(server)
        after = self.assertColocated(server)
        xml = etree.fromstring(self.guest_xml[server['id']])
        self.assertEqual(2, len(xml.findall('./cputune/vcpupin')))
        self.assertEqual(before.rendernode, after.rendernode)

    def test_live_migration_is_refused_before_it_starts(self):
        server, before = self._boot()
        other = 'host2' if before.host == 'host1' else 'host1'
        # Nova's conductor turns the failed pre-check into NoValidHost.
        self.assertRaises(
            client.OpenStackApiException,
            self.admin_api.post_server_action, server['id'],
            {'os-migrateLive': {'host': other, 'block_migration': 'auto'}})
        self._wait_for_migration_status(server, ['error'])
        self.assertIn('cannot live migrate a virgl device',
                      self.stdlog.logger.output)
        server = self._wait_for_state_change(server, 'ACTIVE')
        after = self.placed(server)
        self.assertEqual(before.host, after.host)
        self.assertEqual(before.rendernode, after.rendernode)

    def test_unshelve_lands_on_a_gpu_cell(self):
        server, before = self._boot()
        self.flags(shelved_offload_time=0)
        server = self._shelve_server(server)
        self.assertEqual({}, self._get_allocations_by_server_uuid(
            server['id']))
        server = self._unshelve_server(server)
        self.assertColocated(server)
