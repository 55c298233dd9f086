"""``gpu_numa:affinity_policy=socket`` end to end on a 2 x 2 host.

Every test boots through the real API, scheduler, conductor and compute
(fake libvirt, real Placement). The host has two sockets of two cells
(fakelibvirt numbers them socket by socket: cells 0 and 1 on socket 0,
cells 2 and 3 on socket 1), 2 CPUs and 4 GB per cell, and its GPU on cell
1. A 3 GB phone fills a cell so that a second one no longer fits there.
"""

import json

from nova import objects

from nova_gpu_numa_sched import names
from tests.functional import fake_drm
from tests.functional import test_affinity_policy
from tests.functional import test_cmd_status

KEY = names.AFFINITY_POLICY_KEY
SOCKET = names.POLICY_SOCKET
BIG_MB = test_affinity_policy.BIG_MB
#: 4 cells of 4096 MB each.
KB_MEM = 16 * 1024 * 1024


def start_two_socket_host(test, hostname, gpu_cell=1, first_bus=3,
                          split_cell=None):
    """Start a 2 x 2 host; ``split_cell``: a cell whose CPUs report two
    sockets, for which Nova's driver records no socket.
    """
    test.start_gpu_compute(
        hostname, cells=4, sockets=2, kB_mem=KB_MEM,
        gpus=fake_drm.gpus_on_cells([gpu_cell], first_bus=first_bus))
    if split_cell is not None:
        driver = test.computes[hostname].driver
        caps = driver._host.get_capabilities()
        caps.host.topology.cells[split_cell].cpus[-1].socket_id = 7
        test.run_periodics(hostname)
    return test.computes[hostname]


class SocketPolicyTest(test_affinity_policy.AffinityPolicyBase):

    def start_host(self, hostname='host1', **kwargs):
        compute = start_two_socket_host(self, hostname, **kwargs)
        topology = compute.driver._get_host_numa_topology()
        return {cell.id: cell.socket for cell in topology.cells}

    def assertOnCell(self, server, guest_cell, gpu_cell=1):
        """Render node of the GPU's cell; vCPUs, emulator, RAM on a cell."""
        placed = self.placed(server)
        gpu = self.gpu_of_rendernode(placed.host, placed.rendernode)
        self.assertIsNotNone(gpu, placed)
        self.assertEqual(gpu_cell, gpu.numa_node, placed)
        self.assertEqual(gpu_cell, placed.gpu_cell, placed)
        for cell in (placed.vcpu_cell, placed.memory_cell,
                     placed.emulator_cell):
            self.assertEqual(guest_cell, cell, placed)
        self.assertEqual([guest_cell], placed.claimed_cell, placed)
        return placed

    def test_fake_host_reports_two_sockets(self):
        """The hosts below are what the policy is for."""
        self.assertEqual({0: 0, 1: 0, 2: 1, 3: 1}, self.start_host())

    def test_own_cell_preferred_when_it_has_room(self):
        self.start_host()
        server = self.boot(self.flavor(SOCKET), 'phone')
        self.assertColocated(server)
        self.assertEqual([], self.log_lines('INFO', KEY))

    def test_sibling_cell_of_the_socket_when_own_cell_full(self):
        self.start_host()
        self.fill_gpu_cell('host1')
        server = self.boot(self.flavor(SOCKET), 'phone')
        placed = self.assertOnCell(server, guest_cell=0)
        self.assertEqual('/dev/dri/renderD128', placed.rendernode)
        self.assertEqual({('host1', '/dev/dri/renderD128'): 2},
                         self.slot_usage())
        self.assertEqual({0: BIG_MB, 1: BIG_MB, 2: 0, 3: 0},
                         self.cell_memory_usage('host1'))
        # The scheduler, the claim and the driver each say why.
        for words in (('on host(s): host1.',),
                      ('claimed on another cell of socket 0', 'on cell 1'),
                      ('on the socket of its render node',)):
            self.assertEqual(1, len(self.log_lines(
                'INFO', server['id'], *words)), words)
        self.assertEqual([], self.log_lines('WARNING', KEY))
        self.assertNoOrphanAllocations()

    def test_no_valid_host_when_the_socket_is_full(self):
        """Socket 1 is free, but it is not the GPU's socket."""
        self.start_host()
        self.fill_gpu_cell('host1')
        self.assertOnCell(self.boot(self.flavor(SOCKET), 'first'), 0)
        server = self.boot(self.flavor(SOCKET), 'second',
                           expected_state='ERROR')
        self.assertIn('No valid host', server['fault']['message'])
        self.assertEqual({}, self._get_allocations_by_server_uuid(
            server['id']))
        self.assertEqual({0: BIG_MB, 1: BIG_MB, 2: 0, 3: 0},
                         self.cell_memory_usage('host1'))
        # The same host takes a preferred phone, on the other socket.
        preferred = self.boot(self.flavor(names.POLICY_PREFERRED),
                              'preferred')
        self.assertIn(self.placed(preferred).claimed_cell, ([2], [3]))
        self.assertNoOrphanAllocations()

    def test_multi_create_fills_the_gpu_cell_then_its_sibling(self):
        """One request, one set of scheduler limits, two cells."""
        self.start_host()
        body = self._build_server(name='phone', flavor_id=self.flavor(
            SOCKET), networks='none')
        body.update(min_count=2, max_count=2, return_reservation_id=True)
        reservation = self.api.post_server({'server': body})[
            'reservation_id']
        servers = [self._wait_for_state_change(server, 'ACTIVE')
                   for server in self.api.get_servers(
                       detail=True,
                       search_opts={'reservation_id': reservation})]
        self.assertEqual(
            [[0], [1]], sorted(self.placed(server).claimed_cell
                               for server in servers))
        for server in servers:
            placed = self.placed(server)
            self.assertOnCell(server, placed.claimed_cell[0])
        self.assertEqual({0: BIG_MB, 1: BIG_MB, 2: 0, 3: 0},
                         self.cell_memory_usage('host1'))
        self.assertNoOrphanAllocations()

    def test_host_without_socket_information_acts_as_required(self):
        """The GPU's cell reports CPUs of two sockets: no socket known."""
        self.assertEqual({0: 0, 1: None, 2: 1, 3: 1},
                         self.start_host(split_cell=1))
        self.fill_gpu_cell('host1')
        server = self.boot(self.flavor(SOCKET), 'phone',
                           expected_state='ERROR')
        self.assertIn('No valid host', server['fault']['message'])
        self.assertEqual(1, len(self.log_lines(
            'WARNING', server['id'], 'no CPU socket', 'host1')))


class SocketCheckTest(test_cmd_status.CommandTestBase):
    """``nova-gpu-numa check`` names hosts a socket flavor cannot use."""

    def socket_check(self):
        code, out, err = self.nova_gpu_numa('check', '--format', 'json')
        self.assertEqual('', err)
        results = {c['check']: (c['result'], c['details'])
                   for c in json.loads(out)['checks']}
        return code, results['CPU sockets']

    def test_socket_information(self):
        start_two_socket_host(self, 'host1')
        start_two_socket_host(self, 'host2', first_bus=0x20, split_cell=2)
        self.phone_flavor()
        code, (result, details) = self.socket_check()
        self.assertEqual(('Success', 0), (result, code))
        self.assertIn('No render flavor uses %s=socket' % KEY, details)

        ctxt = self.ctxt
        objects.Flavor(ctxt, name='socket-phone', memory_mb=512, vcpus=1,
                       root_gb=1, flavorid='socket-phone', extra_specs={
                           'resources:%s' % names.RESOURCE_CLASS: '1',
                           'hw:numa_nodes': '1', KEY: SOCKET}).create()
        code, (result, details) = self.socket_check()
        self.assertEqual(('Warning', 1), (result, code))
        self.assertIn('socket-phone', details)
        self.assertIn('compute node(s) host2 ', details)
        self.assertNotIn('host1', details)

        self.computes['host2'].driver._host.get_capabilities().host.topology\
            .cells[2].cpus[-1].socket_id = 1
        self.run_periodics('host2')
        code, (result, details) = self.socket_check()
        self.assertEqual(('Success', 0), (result, code))
        self.assertIn('all 2 compute node(s) with render nodes report the '
                      'socket', details)
