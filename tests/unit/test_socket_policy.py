"""``gpu_numa:affinity_policy=socket``: tokens, filter, claim, driver check.

Hosts here have two sockets of two cells each (cells 0 and 1 on socket 0,
cells 2 and 3 on socket 1), as AMD EPYC in NPS2 or Kunpeng 920 report
them; the GPU sits on cell 1.
"""

import logging
import types

import fixtures
from nova import exception
from nova import objects
from nova.virt import hardware
from oslo_utils.fixture import uuidsentinel as uuids
import testtools

from nova_gpu_numa_sched import cell_limits
from nova_gpu_numa_sched.compute import guest_devices
from nova_gpu_numa_sched import names
from nova_gpu_numa_sched import policy
from tests.unit import test_cell_pinning as pinning
from tests.unit import test_filter_weigher as fw

SOCKET = names.POLICY_SOCKET
FULL = fw.CELL_MEMORY_MB


def two_sockets(topology, sockets=(0, 0, 1, 1)):
    """Give cells their sockets (None: unknown), then their tokens."""
    for cell, socket_id in zip(topology.cells, sockets):
        cell.socket = socket_id
        cell.network_metadata = objects.NetworkMetadata(
            physnets=set(), tunneled=False)
    return cell_limits.add_cell_tokens(topology)


class SocketTokensTestCase(testtools.TestCase):

    def test_cells_carry_their_socket_token(self):
        topology = two_sockets(pinning.host_topology(n_cells=4))
        self.assertEqual(
            [{names.cell_token(0), names.socket_token(0), names.PACK_TOKEN},
             {names.cell_token(1), names.socket_token(0), names.PACK_TOKEN},
             {names.cell_token(2), names.socket_token(1), names.PACK_TOKEN},
             {names.cell_token(3), names.socket_token(1), names.PACK_TOKEN}],
            [cell.network_metadata.physnets for cell in topology.cells])

    def test_cell_without_socket_gets_no_socket_token(self):
        topology = two_sockets(pinning.host_topology(n_cells=2),
                               sockets=(None, 0))
        self.assertEqual({names.cell_token(0), names.PACK_TOKEN},
                         topology.cells[0].network_metadata.physnets)
        # An object from before NUMACell had the field: no socket either.
        cell = objects.NUMACell(id=5)
        self.assertIsNone(cell_limits.cell_socket(cell))

    def test_socket_of_and_siblings(self):
        topology = two_sockets(pinning.host_topology(n_cells=4),
                               sockets=(0, 0, 1, None))
        self.assertEqual([0, 0, 1, None, None], [
            cell_limits.socket_of(topology, cell) for cell in range(5)])
        self.assertEqual([1], cell_limits.socket_siblings(topology, 0))
        self.assertEqual([0], cell_limits.socket_siblings(topology, 1))
        # Alone on its socket, or of unknown socket: no sibling.
        self.assertEqual([], cell_limits.socket_siblings(topology, 2))
        self.assertEqual([], cell_limits.socket_siblings(topology, 3))
        self.assertIsNone(cell_limits.socket_of(None, 0))

    def test_socket_known_from_the_token_only(self):
        """A host reported by an older nova-compute: socket, no token."""
        topology = pinning.host_topology(n_cells=2)
        self.assertEqual(0, topology.cells[0].socket)
        self.assertIsNone(cell_limits.socket_of(topology, 0))
        self.assertEqual([], cell_limits.socket_siblings(topology, 0))
        cell_limits.add_cell_tokens(topology)
        self.assertEqual(0, cell_limits.socket_of(topology, 0))
        self.assertEqual([1], cell_limits.socket_siblings(topology, 0))

    def test_socket_limits_replace_every_pin_keep_physnets(self):
        limits = objects.NUMATopologyLimits(
            cpu_allocation_ratio=8.0, ram_allocation_ratio=1.5,
            network_metadata=pinning.metadata(
                ['physnet1', names.cell_token(1), names.socket_token(1)],
                tunneled=True))
        pinned = cell_limits.socket_numa_limits(limits, 0, 1.0, 1.0)
        self.assertEqual({'physnet1', names.socket_token(0)},
                         pinned.network_metadata.physnets)
        self.assertTrue(pinned.network_metadata.tunneled)
        self.assertEqual((8.0, 1.5), (pinned.cpu_allocation_ratio,
                                      pinned.ram_allocation_ratio))
        # The cell pin and the unpinned limits drop a socket token too.
        self.assertEqual(
            {'physnet1', names.cell_token(3)},
            cell_limits.pinned_numa_limits(
                pinned, 3, 1.0, 1.0).network_metadata.physnets)
        self.assertEqual(
            {'physnet1'}, cell_limits.unpinned_numa_limits(
                pinned, 1.0, 1.0).network_metadata.physnets)
        created = cell_limits.socket_numa_limits(
            None, 1, 4.0, 1.0, pinning.metadata(['physnet2']))
        self.assertEqual({'physnet2', names.socket_token(1)},
                         created.network_metadata.physnets)
        self.assertEqual(4.0, created.cpu_allocation_ratio)

    def test_names(self):
        self.assertIn(SOCKET, names.AFFINITY_POLICIES)
        for token in (names.cell_token(2), names.socket_token(2)):
            self.assertTrue(names.is_pin_token(token))
        self.assertFalse(names.is_cell_token(names.socket_token(2)))
        self.assertFalse(names.is_socket_token(names.cell_token(2)))
        self.assertFalse(names.is_pin_token('physnet1'))

    def test_policy(self):
        flavor = objects.Flavor(name='f', extra_specs={
            names.AFFINITY_POLICY_KEY: SOCKET})
        self.assertEqual(SOCKET, policy.flavor_policy(flavor))
        self.assertTrue(policy.keeps_socket(flavor))
        self.assertFalse(policy.allows_split(flavor))
        self.assertFalse(policy.keeps_socket(None))


class NovaFitWithSocketLimitsTestCase(testtools.TestCase):
    """Nova's own fit obeys a socket token: why the claim lever works."""

    def setUp(self):
        super().setUp()
        self.host = two_sockets(pinning.host_topology(n_cells=4))

    def fit(self, socket_id, guest):
        limits = cell_limits.socket_numa_limits(None, socket_id, 1.0, 1.0)
        fitted = hardware.numa_fit_instance_to_host(
            self.host, guest, None, limits=limits)
        return fitted and [cell.id for cell in fitted.cells]

    def test_one_cell_guest_stays_on_the_socket(self):
        self.assertEqual([2], self.fit(1, pinning.guest_topology()))
        self.host.cells[2].memory_usage = 4096
        self.assertEqual([3], self.fit(1, pinning.guest_topology()))
        self.host.cells[3].memory_usage = 4096
        # Cells 0 and 1 are free, but on the other socket.
        self.assertIsNone(self.fit(1, pinning.guest_topology()))

    def test_two_cell_guest_has_a_cell_on_the_socket(self):
        """Nova's rule for PCI devices: one of the guest's cells there."""
        guest = objects.InstanceNUMATopology(cells=[
            objects.InstanceNUMACell(id=i, cpuset={i}, pcpuset=set(),
                                     memory=512, cpu_policy=None)
            for i in range(2)])
        self.host.cells[2].memory_usage = 4096
        fitted = self.fit(1, guest)
        self.assertIn(3, fitted)
        self.host.cells[3].memory_usage = 4096
        self.assertIsNone(self.fit(1, guest.obj_clone()))


class SocketFilterTestCase(fw.PluginTestCase):
    """filter_all: own cell first, else a sibling cell of the GPU's socket."""

    def host(self, name='host1', usage=None, gpus=(('gpu1', 1),),
             sockets=(0, 0, 1, 1)):
        """A 2x2 host; ``gpus``: (render node, cell[, used slots])."""
        state = fw.host_state(name, usage=usage, gpus=list(gpus))
        two_sockets(state.numa_topology, sockets)
        return state

    def fitted_cells(self, state, guest=None):
        fitted = hardware.numa_fit_instance_to_host(
            state.numa_topology, (guest or fw.spec()).numa_topology,
            provider_mapping=None, limits=state.limits['numa_topology'])
        return fitted and [cell.id for cell in fitted.cells]

    def test_own_cell_first(self):
        state = self.host()
        self.assertEqual([state], self.filter.filter_all(
            [state], fw.spec(policy=SOCKET)))
        self.assertEqual({names.cell_token(1)}, self.pins(state))
        self.assertEqual('gpu1', self.chosen(state))
        self.assertEqual([1], self.fitted_cells(state))
        self.assertEqual([], self.lines('INFO'))

    def test_sibling_cell_when_own_cell_full(self):
        state = self.host(usage={1: (0, FULL)})
        self.assertEqual([state], self.filter.filter_all(
            [state], fw.spec(policy=SOCKET)))
        self.assertEqual({names.socket_token(0)}, self.pins(state))
        self.assertEqual('gpu1', self.chosen(state))
        self.assertEqual([0], self.fitted_cells(state))
        info, = self.lines('INFO')
        self.assertIn('%s=socket' % names.AFFINITY_POLICY_KEY, info)
        self.assertIn('host(s): host1.', info)
        self.assertEqual([], self.lines('WARNING'))

    def test_whole_socket_full_other_socket_free(self):
        state = self.host(usage={0: (0, FULL), 1: (0, FULL)})
        self.assertEqual([], self.filter.filter_all(
            [state], fw.spec(policy=SOCKET)))
        self.assertEqual([], state.allocation_candidates)
        # The same host takes a preferred phone on socket 1.
        state = self.host(usage={0: (0, FULL), 1: (0, FULL)})
        self.assertEqual([state], self.filter.filter_all(
            [state], fw.spec(policy=names.POLICY_PREFERRED)))
        self.assertIn(self.fitted_cells(state)[0], (2, 3))

    def test_required_never_uses_the_sibling(self):
        state = self.host(usage={1: (0, FULL)})
        self.assertEqual([], self.filter.filter_all([state], fw.spec()))

    def test_co_locating_host_beats_socket_host(self):
        """However idle the socket host's GPU, co-location wins."""
        self.conf.config(weight_multiplier=10.0, group='gpu_numa')
        on_socket = self.host('hostB', usage={1: (0, FULL)},
                              gpus=(('b1', 1, 0),))
        colocating = self.host('hostA', gpus=(('a1', 1, 9),))
        self.assertEqual([colocating], self.filter.filter_all(
            [on_socket, colocating], fw.spec(policy=SOCKET)))
        self.assertEqual({names.cell_token(1)}, self.pins(colocating))

    def test_own_cell_gpu_before_sibling_gpu_on_one_host(self):
        """gpu1's cell is full, gpu2's cell fits: gpu2, pinned to its cell."""
        state = self.host(usage={1: (0, FULL)},
                          gpus=(('gpu1', 1, 0), ('gpu2', 2, 5)))
        self.assertEqual([state], self.filter.filter_all(
            [state], fw.spec(policy=SOCKET)))
        self.assertEqual('gpu2', self.chosen(state))
        self.assertEqual({names.cell_token(2)}, self.pins(state))

    def test_socket_of_the_least_loaded_gpu_with_room(self):
        state = self.host(usage={1: (0, FULL), 2: (0, FULL)},
                          gpus=(('gpu1', 1, 5), ('gpu2', 2, 1),
                                ('full', 3, 10)))
        self.assertEqual([state], self.filter.filter_all(
            [state], fw.spec(policy=SOCKET)))
        self.assertEqual('gpu2', self.chosen(state))
        self.assertEqual({names.socket_token(1)}, self.pins(state))
        self.assertEqual([3], self.fitted_cells(state))

    def test_next_gpu_when_its_socket_is_full(self):
        state = self.host(usage={0: (0, FULL), 1: (0, FULL), 2: (0, FULL)},
                          gpus=(('gpu1', 1, 0), ('gpu2', 2, 5)))
        self.assertEqual([state], self.filter.filter_all(
            [state], fw.spec(policy=SOCKET)))
        self.assertEqual('gpu2', self.chosen(state))
        self.assertEqual({names.socket_token(1)}, self.pins(state))
        self.assertEqual([3], self.fitted_cells(state))

    def test_packing_travels_with_the_socket_limits(self):
        self.conf.config(weight_multiplier=-1.0, group='gpu_numa')
        state = self.host(usage={1: (0, FULL)})
        self.assertEqual([state], self.filter.filter_all(
            [state], fw.spec(policy=SOCKET)))
        self.assertEqual({names.socket_token(0), names.PACK_TOKEN},
                         self.pinned_physnets(state))
        self.assertEqual([0], self.fitted_cells(state))

    def test_real_physnets_and_ratios_kept(self):
        state = self.host(usage={1: (0, FULL)})
        state.limits['numa_topology'] = objects.NUMATopologyLimits(
            cpu_allocation_ratio=2.0, ram_allocation_ratio=1.0,
            network_metadata=objects.NetworkMetadata(
                physnets={'physnet-a', names.cell_token(1)}, tunneled=True))
        self.assertEqual([state], self.filter.filter_all(
            [state], fw.spec(policy=SOCKET)))
        self.assertEqual({'physnet-a', names.socket_token(0)},
                         self.pinned_physnets(state))
        self.assertTrue(
            state.limits['numa_topology'].network_metadata.tunneled)
        self.assertEqual(2.0,
                         state.limits['numa_topology'].cpu_allocation_ratio)

    def test_no_socket_information_is_required_with_one_warning(self):
        hosts = [self.host('host%d' % i, usage={1: (0, FULL)},
                           sockets=(None, None, None, None))
                 for i in range(3)]
        self.assertEqual([], self.filter.filter_all(
            hosts, fw.spec(policy=SOCKET)))
        warning, = self.lines('WARNING')
        for word in (uuids.instance, 'host0, host1, host2',
                     'no CPU socket', 'nova-gpu-numa check'):
            self.assertIn(word, warning)

    def test_two_cell_guest(self):
        """Neither pair with cell 1 fits; a pair with cell 0 does."""
        guest = dict(vcpus=2, memory_mb=1024, numa_nodes=2)
        state = self.host(usage={1: (0, FULL)})
        self.assertEqual([], self.filter.filter_all(
            [state], fw.spec(**guest)))
        state = self.host(usage={1: (0, FULL)})
        self.assertEqual([state], self.filter.filter_all(
            [state], fw.spec(policy=SOCKET, **guest)))
        self.assertEqual({names.socket_token(0)}, self.pins(state))
        cells = self.fitted_cells(state, fw.spec(**guest))
        self.assertIn(0, cells)
        self.assertNotIn(1, cells)


class SocketClaimTestCase(testtools.TestCase):
    """The claim: a render node's cell, else its socket, never beyond."""

    def setUp(self):
        super().setUp()
        self.log = self.useFixture(fixtures.FakeLogger(
            name='nova_gpu_numa_sched', level=logging.INFO,
            format='%(levelname)s %(message)s'))
        self.topology = two_sockets(pinning.host_topology(n_cells=4))
        self.tracker = self.make_tracker([pinning.gpu('gpu1', 1)])

    def make_tracker(self, nodes):
        return pinning.Tracker(nodes, topology=self.topology)

    def instance(self, chosen=SOCKET):
        return pinning.instance(chosen)

    def claim(self, chosen=SOCKET, tracker=None):
        tracker = tracker or self.tracker
        tracker.sync()
        return tracker.instance_claim(
            None, self.instance(chosen), pinning.NODENAME,
            pinning.allocations())

    def pins(self, tracker=None):
        return [{p for p in pinning.physnets(limits)
                 if names.is_pin_token(p)}
                for limits in (tracker or self.tracker).calls]

    def test_own_cell_when_it_fits(self):
        self.claim()
        self.assertEqual([{names.cell_token(1)}], self.pins())
        self.assertEqual([([1], ['gpu1#slot0'])], self.tracker.claimed)
        self.assertEqual('', self.log.output)

    def test_sibling_cell_when_own_cell_full(self):
        self.topology.cells[1].memory_usage = 4096
        self.claim()
        self.assertEqual([{names.cell_token(1)}, {names.socket_token(0)}],
                         self.pins())
        self.assertEqual([([0], ['gpu1#slot0'])], self.tracker.claimed)
        info, = self.log.output.splitlines()
        for word in ('INFO', uuids.instance, 'cell 1', 'socket 0',
                     '%s=socket' % names.AFFINITY_POLICY_KEY,
                     'render node /dev/dri/gpu1'):
            self.assertIn(word, info)

    def test_never_outside_the_socket(self):
        self.topology.cells[0].memory_usage = 4096
        self.topology.cells[1].memory_usage = 4096
        self.assertRaises(exception.ComputeResourcesUnavailable, self.claim)
        self.assertEqual(2, len(self.tracker.calls))
        self.assertEqual([], self.tracker.claimed)
        # The same host takes a preferred phone on socket 1.
        self.claim(names.POLICY_PREFERRED)
        self.assertIn(self.tracker.claimed[0][0], ([2], [3]))

    def test_every_render_cell_before_any_socket(self):
        """A GPU whose own cell fits beats a sibling of the first GPU."""
        tracker = self.make_tracker([pinning.gpu('gpu1', 1),
                                     pinning.gpu('gpu2', 2)])
        tracker._add_assigned_resources([objects.Resource(
            provider_uuid=uuids.compute1, resource_class=pinning.RC,
            identifier='gpu2#slot0')])
        self.topology.cells[1].memory_usage = 4096
        self.claim(tracker=tracker)
        self.assertEqual([{names.cell_token(1)}, {names.cell_token(2)}],
                         self.pins(tracker))
        self.assertEqual([([2], ['gpu2#slot1'])], tracker.claimed)
        self.assertEqual('', self.log.output)

    def test_socket_of_the_next_render_node(self):
        """The first GPU's socket is full: the second GPU's socket."""
        tracker = self.make_tracker([pinning.gpu('gpu1', 1),
                                     pinning.gpu('gpu2', 2)])
        for cell in (0, 1, 2):
            self.topology.cells[cell].memory_usage = 4096
        self.claim(tracker=tracker)
        self.assertEqual(
            [{names.cell_token(1)}, {names.cell_token(2)},
             {names.socket_token(0)}, {names.socket_token(1)}],
            self.pins(tracker))
        self.assertEqual([([3], ['gpu2#slot0'])], tracker.claimed)

    def test_required_does_not_retry(self):
        self.topology.cells[1].memory_usage = 4096
        self.assertRaises(exception.ComputeResourcesUnavailable, self.claim,
                          names.POLICY_REQUIRED)
        self.assertEqual(1, len(self.tracker.calls))

    def test_cell_without_socket_is_required_with_warning(self):
        two_sockets(self.topology, (None, None, None, None))
        self.topology.cells[1].memory_usage = 4096
        self.assertRaises(exception.ComputeResourcesUnavailable, self.claim)
        self.assertEqual(1, len(self.tracker.calls))
        warning, = self.log.output.splitlines()
        self.assertIn('WARNING', warning)
        self.assertIn('no CPU socket', warning)
        self.assertIn('applies as required', warning)

    def test_alone_on_its_socket_no_retry(self):
        two_sockets(self.topology, (2, 0, 1, 1))
        self.topology.cells[1].memory_usage = 4096
        self.assertRaises(exception.ComputeResourcesUnavailable, self.claim)
        self.assertEqual(1, len(self.tracker.calls))

    def test_no_render_slot_no_retry(self):
        for cell in self.topology.cells:
            cell.memory_usage = 4096
        self.tracker.sync()
        limits = pinning.scheduler_limits()
        self.assertRaises(
            exception.ComputeResourcesUnavailable,
            self.tracker.instance_claim, None, self.instance(),
            pinning.NODENAME, pinning.allocations(0), limits)
        self.assertEqual([limits], self.tracker.calls)

    def test_move_follows_the_new_flavor(self):
        self.topology.cells[1].memory_usage = 4096
        self.tracker.sync()
        flavor = self.instance().flavor
        self.tracker._move_claim(
            None, self.instance(names.POLICY_REQUIRED), flavor,
            pinning.NODENAME, None, pinning.allocations(), limits=None)
        self.assertEqual([([0], ['gpu1#slot0'])], self.tracker.claimed)


class SocketGuestCheckTestCase(testtools.TestCase):
    """The driver's check before define accepts a socket sibling."""

    NODE = types.SimpleNamespace(numa_node=1, devnode='/dev/dri/renderD128')

    def setUp(self):
        super().setUp()
        self.log = self.useFixture(fixtures.FakeLogger(
            level=logging.INFO, format='%(levelname)s %(message)s'))
        self.topology = two_sockets(pinning.host_topology(n_cells=4))

    def instance(self, cell, chosen=SOCKET):
        return objects.Instance(
            uuid=uuids.instance,
            numa_topology=objects.InstanceNUMATopology(cells=[
                objects.InstanceNUMACell(id=cell, cpuset={0}, memory=512)]),
            flavor=objects.Flavor(name='phone', extra_specs={
                names.AFFINITY_POLICY_KEY: chosen}))

    def check(self, instance):
        return guest_devices.check_same_cell(instance, self.NODE,
                                             lambda: self.topology)

    def test_sibling_accepted_other_socket_refused(self):
        self.check(self.instance(1))
        self.assertEqual('', self.log.output)
        self.check(self.instance(0))
        self.assertIn('INFO', self.log.output)
        self.assertIn('on the socket of its render node', self.log.output)
        for cell in (2, 3):
            self.assertRaises(guest_devices.RenderNodeNumaMismatch,
                              self.check, self.instance(cell))

    def test_other_policies_refuse_the_sibling(self):
        self.assertRaises(guest_devices.RenderNodeNumaMismatch, self.check,
                          self.instance(0, names.POLICY_REQUIRED))
        # Without the host's topology (as before this policy) also refused.
        self.assertRaises(guest_devices.RenderNodeNumaMismatch,
                          guest_devices.check_same_cell,
                          self.instance(0), self.NODE)

    def test_no_socket_information_refused_with_warning(self):
        two_sockets(self.topology, (None, None, None, None))
        self.assertRaises(guest_devices.RenderNodeNumaMismatch, self.check,
                          self.instance(0))
        self.assertIn('WARNING', self.log.output)
        self.assertIn('no CPU socket', self.log.output)
