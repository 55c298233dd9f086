"""Moves between two nova-compute processes keep phones co-located."""

from tests.cloud import base
from tests.cloud import checks
from tests.cloud import cloud as cloud_client

#: Seconds a move may take to reach its next state.
MOVE_BOUND = 180


class TestMoves(base.CloudTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.bigger = cls.cloud.create_flavor(
            'phone-%s-bigger' % cls.__name__.lower(),
            vcpus=base.PHONE_VCPUS + 1, ram=base.PHONE_RAM_MB,
            extra_specs=base.PHONE_SPECS)

    @classmethod
    def tearDownClass(cls):
        cls.cloud.delete_flavor(cls.bigger)
        super().tearDownClass()

    def setUp(self):
        super().setUp()
        self.gpu_hosts = sorted({rp.node for rp in
                                 checks.render_providers(self.cloud)})
        self.assertGreaterEqual(len(self.gpu_hosts), 2, self.gpu_hosts)

    def _phone(self):
        server, = self.boot()
        self.assertEqual('ACTIVE', server['status'], server)
        self.assertColocated([server])
        return server

    def _other_gpu_host(self, server):
        host = server['OS-EXT-SRV-ATTR:host']
        return [h for h in self.gpu_hosts if h != host][0]

    def _settle(self, server, statuses):
        server = self.cloud.wait_for_server(server['id'], statuses,
                                            bound=MOVE_BOUND)
        self.assertIn(server['status'], statuses, server)
        return server

    def assertMovedColocated(self, server, host):
        """On ``host``, co-located, one render allocation, nothing lost."""
        server = self._settle(server, ('ACTIVE',))
        self.assertEqual(host, server['OS-EXT-SRV-ATTR:host'])
        placed = self.reader.placed(server)
        self.assertTrue(checks.colocated(placed), placed)
        self.assertEqual(1, placed.render_allocations, placed)
        self.assertNothingLost(self.phones())

    def test_cold_migration(self):
        server = self._phone()
        target = self._other_gpu_host(server)
        self.cloud.action(server['id'], {'migrate': {'host': target}})
        self._settle(server, ('VERIFY_RESIZE',))
        self.cloud.action(server['id'], {'confirmResize': None})
        self.assertMovedColocated(server, target)

    def test_resize_confirm(self):
        server = self._phone()
        self.cloud.action(server['id'], {'resize': {'flavorRef':
                                                    self.bigger}})
        moved = self._settle(server, ('VERIFY_RESIZE',))
        target = moved['OS-EXT-SRV-ATTR:host']
        self.assertNotEqual(server['OS-EXT-SRV-ATTR:host'], target)
        self.cloud.action(server['id'], {'confirmResize': None})
        self.assertMovedColocated(server, target)
        self.assertEqual(base.PHONE_VCPUS + 1, self.cloud.server(
            server['id'])['flavor']['vcpus'])

    def test_resize_revert(self):
        server = self._phone()
        source = server['OS-EXT-SRV-ATTR:host']
        self.cloud.action(server['id'], {'resize': {'flavorRef':
                                                    self.bigger}})
        self._settle(server, ('VERIFY_RESIZE',))
        self.cloud.action(server['id'], {'revertResize': None})
        self.assertMovedColocated(server, source)

    def test_evacuate_after_sigkill(self):
        server = self._phone()
        source = server['OS-EXT-SRV-ATTR:host']
        target = self._other_gpu_host(server)
        cloud_client.kill_service(source)
        self.addCleanup(self._bring_back, source)
        self.cloud.set_forced_down(source, True)
        self.assertTrue(self.cloud.wait_for_service(source, 'down'))
        self.cloud.action(server['id'], {'evacuate': {}})
        # The phone stays ACTIVE on the source until the evacuation starts:
        # wait for it to be ACTIVE on the target.
        self.wait_until(
            lambda: self._on(self.cloud.server(server['id']), target),
            MOVE_BOUND, 'evacuated to %s' % target)
        server = self.cloud.server(server['id'])
        placed = self.reader.placed(server)
        # Nova keeps the source's allocation until that compute restarts
        # and sees the phone evacuated.
        self.assertEqual(2, placed.render_allocations, placed)
        self.assertTrue(checks.colocated(
            placed._replace(render_allocations=1)), placed)
        # The source comes back and frees its slot there: one render
        # allocation, nothing orphaned.
        self._bring_back(source)
        self.assertMovedColocated(server, target)
        self.assertNotIn(server['id'],
                         cloud_client.hypervisor_domains(source))

    @staticmethod
    def _on(server, host):
        return (server['status'] == 'ACTIVE' and
                server['OS-EXT-SRV-ATTR:host'] == host and
                not server['OS-EXT-STS:task_state'])

    def _bring_back(self, host):
        if self.cloud.compute_up(host):
            return
        cloud_client.restart_service(host)
        # Nova refuses to force a host up while its evacuations are not
        # yet cleaned up by the restarted compute ("done", not
        # "completed").

        def forced_up():
            try:
                self.cloud.set_forced_down(host, False)
            except cloud_client.CloudError as e:
                if 'evacuation migration records' not in str(e):
                    raise
                return False
            return True
        self.wait_until(forced_up, MOVE_BOUND,
                        '%s forced up after its evacuations' % host)
        self.assertTrue(self.cloud.wait_for_service(host, 'up'),
                        '%s did not come back' % host)
