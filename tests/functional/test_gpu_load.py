"""Phones go to the least loaded GPU, or pack when the multiplier is negative.

Every host has four NUMA cells with one GPU each, four render slots per
GPU; the spreading tests stop at half load (two phones per GPU).
Nova's default weighers (RAM, CPU, disk, ...) also spread guests over hosts
but know nothing about GPUs; each is normalised to 0..1 and multiplied by
1.0, so the GPU weigher gets a multiplier of 10 to outweigh their sum.
Without it, a host whose least loaded GPU is busier could still win on free
RAM and the slots would drift apart.
"""

import collections

from nova_gpu_numa_sched.compute import placement_report
from nova_gpu_numa_sched import names
from tests.functional import base
from tests.functional import fake_drm

SLOTS = 4
CELLS = 4


class GpuLoadTest(base.GpuNumaTestBase):
    """Two hosts at most, 4 GPUs each; multiplier 10 (see module doc)."""

    SCHEDULER_FLAGS = {'gpu_numa.weight_multiplier': 10.0}

    def setUp(self):
        super().setUp()
        self.flags(slots_per_gpu=SLOTS, group='gpu_numa')

    def start_hosts(self, *hostnames):
        # 3 cores per cell at the default cpu_allocation_ratio of 4.0 give
        # 12 vCPUs per cell: room for a full GPU's one-vCPU phones.
        # 16 GB over 4 cells: 4 GB per cell, plenty for 256 MB phones.
        for i, hostname in enumerate(hostnames):
            self.start_gpu_compute(
                hostname, cells=CELLS, cores=3,
                gpus=fake_drm.gpus_on_cells(range(CELLS),
                                            first_bus=3 + 16 * i))

    def boot(self, flavor, name):
        return self._create_server(name=name, flavor_id=flavor,
                                   networks='none')

    def boot_many(self, flavor, count):
        """One API request for ``count`` phones; return them all ACTIVE."""
        body = self._build_server(name='phone', flavor_id=flavor,
                                  networks='none')
        body.update(min_count=count, max_count=count,
                    return_reservation_id=True)
        reservation = self.api.post_server({'server': body})[
            'reservation_id']
        servers = self.api.get_servers(
            detail=True, search_opts={'reservation_id': reservation})
        self.assertEqual(count, len(servers))
        # One scheduling pass places them all before any build starts.
        return [self._wait_for_state_change(server, 'ACTIVE',
                                            max_retries=600)
                for server in servers]

    def where(self, server):
        """(host, render node) the phone got, checked co-located."""
        placed = self.assertColocated(server)
        return placed.host, placed.rendernode

    def assertEvenlySpread(self, per_gpu):
        usage = self.slot_usage()
        self.assertEqual(8, len(usage), usage)
        self.assertLessEqual(max(usage.values()) - min(usage.values()), 1,
                             usage)
        self.assertEqual({per_gpu}, set(usage.values()), usage)

    def write_busy_percent(self, devnode, percent):
        fake_drm.write_busy_percent(self.sysfs_root, devnode, percent)

    def render_provider(self, hostname, devnode):
        gpu = next(g for g in self.drm[hostname].gpus if g.devnode == devnode)
        return self.render_providers(hostname)[
            placement_report.provider_name(hostname, gpu.pci_address)]

    def load_bucket(self, hostname, devnode):
        """The load bucket nova-compute published for a render node."""
        return self.render_provider(hostname, devnode)['load']

    def root_generation(self, hostname):
        """Generation of the compute node's provider: bumped by writes."""
        return self.placement.get('/resource_providers/%s' %
                                  self.compute_rp_uuids[hostname]).body[
            'generation']

    # Spreading -------------------------------------------------------------

    def test_multi_create_spreads_evenly(self):
        """One 16-phone request: the scheduler counts its own claims."""
        self.start_hosts('host1', 'host2')
        servers = self.boot_many(self.phone_flavor(memory_mb=256), 16)
        self.assertEvenlySpread(2)
        got = collections.Counter(self.where(s) for s in servers)
        self.assertEqual({2}, set(got.values()), got)
        self.assertEqual(8, len(got), got)

    def test_sequential_boots_spread_evenly(self):
        self.start_hosts('host1', 'host2')
        flavor = self.phone_flavor(memory_mb=256)
        got = collections.Counter()
        for i in range(16):
            got[self.where(self.boot(flavor, 'phone%d' % i))] += 1
        self.assertEvenlySpread(2)
        self.assertEqual({2}, set(got.values()), got)
        self.assertEqual(8, len(got), got)

    def test_freed_gpu_is_refilled_first(self):
        self.start_hosts('host1', 'host2')
        flavor = self.phone_flavor(memory_mb=256)
        servers = self.boot_many(flavor, 16)
        self.assertEvenlySpread(2)
        freed = ('host1', '/dev/dri/renderD128')
        on_freed = [s for s in servers if self.where(s) == freed]
        self.assertEqual(2, len(on_freed))
        for server in on_freed:
            self._delete_server(server)
        self.assertEqual(0, self.slot_usage()[freed])
        for i in range(2):
            self.assertEqual(freed, self.where(
                self.boot(flavor, 'refill%d' % i)))
        self.assertEvenlySpread(2)

    def test_busy_gpu_is_avoided(self):
        """Measured utilisation breaks the tie between empty GPUs."""
        for devnode in ('/dev/dri/renderD128', '/dev/dri/renderD129',
                        '/dev/dri/renderD131'):
            self.write_busy_percent(devnode, 93)
        self.write_busy_percent('/dev/dri/renderD130', 12)
        self.start_hosts('host1')
        self.assertEqual(90, self.load_bucket('host1', '/dev/dri/renderD128'))
        self.assertEqual(10, self.load_bucket('host1', '/dev/dri/renderD130'))
        flavor = self.phone_flavor(memory_mb=256)
        self.assertEqual(('host1', '/dev/dri/renderD130'),
                         self.where(self.boot(flavor, 'phone0')))

        # The load moves: renderD131 goes idle, renderD130 gets busy.
        self.write_busy_percent('/dev/dri/renderD130', 95)
        self.write_busy_percent('/dev/dri/renderD131', 3)
        generation = self.root_generation('host1')
        self.run_periodics()
        self.assertEqual(0, self.load_bucket('host1', '/dev/dri/renderD131'))
        self.assertEqual(90, self.load_bucket('host1', '/dev/dri/renderD130'))
        # Load is published with the compute node, not written to
        # Placement: no generation bump for a claim to race.
        self.assertEqual(generation, self.root_generation('host1'))
        self.assertEqual(('host1', '/dev/dri/renderD131'),
                         self.where(self.boot(flavor, 'phone1')))

    def test_jitter_keeps_the_load_bucket(self):
        """Hysteresis: a reading around a boundary keeps the bucket."""
        gpu = ('host1', '/dev/dri/renderD128')
        self.write_busy_percent(gpu[1], 38)
        self.start_hosts('host1')
        generation = self.root_generation('host1')
        for percent in (41, 36, 44):
            self.write_busy_percent(gpu[1], percent)
            self.run_periodics()
            self.assertEqual(30, self.load_bucket(*gpu))
        # Past the margin (5 by default) the bucket moves.
        self.write_busy_percent(gpu[1], 46)
        self.run_periodics()
        self.assertEqual(40, self.load_bucket(*gpu))
        # None of it is a Placement write.
        self.assertEqual(generation, self.root_generation('host1'))

    def test_no_hysteresis_follows_every_reading(self):
        self.flags(load_bucket_hysteresis_percent=0, group='gpu_numa')
        gpu = ('host1', '/dev/dri/renderD128')
        self.write_busy_percent(gpu[1], 38)
        self.start_hosts('host1')
        self.write_busy_percent(gpu[1], 41)
        self.run_periodics()
        self.assertEqual(40, self.load_bucket(*gpu))

    # Packing ---------------------------------------------------------------

    def test_negative_multiplier_packs(self):
        """Each GPU fills up to its slots before another one starts."""
        self.flags(weight_multiplier=-10.0, group='gpu_numa')
        self.start_hosts('host1', 'host2')
        flavor = self.phone_flavor(memory_mb=256)
        order = [self.where(self.boot(flavor, 'phone%d' % i))
                 for i in range(SLOTS + 2)]
        self.assertEqual(1, len(set(order[:SLOTS])), order)
        self.assertEqual(1, len(set(order[SLOTS:])), order)
        self.assertNotEqual(order[0], order[SLOTS])
        self.assertEqual([0] * 6 + [2, SLOTS],
                         sorted(self.slot_usage().values()))

    def test_aggregate_multiplier_overrides_config(self):
        """Aggregate metadata packs on a host the config would spread."""
        self.start_hosts('host1')
        aggregate = self.admin_api.post_aggregate(
            {'aggregate': {'name': 'packed'}})
        self.admin_api.add_host_to_aggregate(aggregate['id'], 'host1')
        self.admin_api.post_aggregate_action(aggregate['id'], {
            'set_metadata': {'metadata': {
                names.WEIGHT_MULTIPLIER_AGGREGATE_KEY: '-10'}}})
        flavor = self.phone_flavor(memory_mb=256)
        packed = {self.where(self.boot(flavor, 'phone%d' % i))
                  for i in range(3)}
        self.assertEqual(1, len(packed), packed)
        self.assertEqual([0, 0, 0, 3], sorted(self.slot_usage().values()))

        # Without the key the config (+10) applies again: spread.
        self.admin_api.post_aggregate_action(aggregate['id'], {
            'set_metadata': {'metadata': {
                names.WEIGHT_MULTIPLIER_AGGREGATE_KEY: None}}})
        spread = self.where(self.boot(flavor, 'phone3'))
        self.assertNotIn(spread, packed)
        self.assertEqual([0, 0, 1, 3], sorted(self.slot_usage().values()))
