"""Part 3: claims racing the computes' Placement writes, in both models.

The earlier release put each render node in Placement as a child provider
with a ``CUSTOM_GPU_LOAD_<bucket>`` trait that nova-compute rewrote as the
GPU's load moved: each change a ``PUT /resource_providers/{uuid}/traits``
with the provider's generation, which bumps it; every claim (``PUT
/allocations/{consumer}``) bumps the generations of the providers it
allocates from. Placement retries an allocation write internally
(``allocation_conflict_retry_count``) when a generation moved under it,
and answers 409 when the retries run out; the compute's trait write is
refused with 409 when a claim moved the generation since the compute last
read it, and Nova's report client then re-reads the provider tree and
tries again. The plugin no longer has that code: it is kept here, as a
description of the earlier model, to compare with.

With host-level slots the render slots sit on the compute node's provider
and the load goes into the compute node's ``stats`` (a Nova database
write, not Placement's). The compute's report writes the root's
inventory or traits only when they change: the plugin's own
``placement_report.update_provider_tree`` runs on a Nova ``ProviderTree``
of each host at every update and is compared with what was last written,
as Nova's report client does; during a burst its slots do not change, so
it writes nothing and no claim can meet a load write: zero conflicts from
load by construction, which the last run checks.

A burst of ``--burst`` phones is claimed by ``--claimers`` threads (the
scheduler's ``PUT /allocations``; each phone's render node drawn in the
same order in every run, the earlier model claiming that render node's
provider, host-level slots that host's root) in steps of
``--phones-per-update`` phones; during each step ``--writers`` threads
play the computes of their share of the hosts: each GPU's reading
(``busy = base + per phone x phones on it + noise``) turned into a bucket
by the plugin's own ``utilization.LoadBuckets``, then, in the earlier
model, the trait written when it changed, with the generation the writer
last saw, re-read after a 409 as Nova's report client does; with
host-level slots, the bucket published (counted) and the root provider
written only if the plugin's report of it changed. Counted: the claims'
409s, Placement's internal retries of allocation writes (its log), the
load changes, the Placement writes and the writes refused.
"""

import collections
import logging
import queue
import random
import threading
import time
import uuid as uuid_lib

from benchmarks.candidates import slot_fleet
from benchmarks.common import fleet as fleet_lib
from benchmarks.common import nova_request
from benchmarks.common import placement_app
from nova_gpu_numa_sched.compute import placement_report
from nova_gpu_numa_sched.compute import utilization
from nova_gpu_numa_sched import names

#: What Placement logs on each internal retry of an allocation write.
_RETRY_MESSAGE = 'Retrying allocations write on resource provider'
#: How often Nova's report client tries a refused provider update.
WRITE_ATTEMPTS = 4


class _RetryCounter(logging.Handler):
    """Counts Placement's internal retries of allocation writes."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.count = 0
        self._lock = threading.Lock()

    def emit(self, record):
        if str(record.msg).startswith(_RETRY_MESSAGE):
            with self._lock:
                self.count += 1


class Readings:
    """Deterministic GPU readings: the same in every run of one seed."""

    def __init__(self, gpus, seed, noise, per_phone):
        rng = random.Random('%s-base' % seed)
        self.base = {gpu: rng.uniform(5, 60) for gpu in gpus}
        self.seed, self.noise, self.per_phone = seed, noise, per_phone

    def busy(self, gpu, update, phones):
        rng = random.Random('%s-%s-%d' % (self.seed, gpu, update))
        return (self.base[gpu] + self.per_phone * phones +
                rng.gauss(0, self.noise))


def _share(items, parts):
    """``items`` cut into at most ``parts`` runs of consecutive items."""
    size = -(-len(items) // parts)
    return [items[i:i + size] for i in range(0, len(items), size)]


class _Writer:
    """The computes of some hosts: read, bucket, write what changed."""

    def __init__(self, burst, roots, margin):
        self.burst, self.roots, self.margin = burst, roots, margin
        self.gpus = [gpu for gpu in sorted(burst.fleet.gpus)
                     if gpu[0] in roots]
        self.buckets = utilization.LoadBuckets()
        self.generation = {}
        self.counts = collections.Counter()

    def _readings(self, number):
        return {gpu: utilization.GpuUtilization(
            self.burst.readings.busy(gpu, number, self.burst.phones_on[gpu]),
            None) for gpu in self.gpus}

    def _write(self, rp_uuid, path, body_of):
        """PUT ``path`` with the generation last seen; retry as Nova does.

        :returns: whether it was written
        """
        for _ in range(WRITE_ATTEMPTS):
            try:
                body = self.burst.placement.put(
                    path % rp_uuid, body_of(self.generation[rp_uuid]),
                    version='1.6')
            except placement_app.PlacementError as e:
                # 409: the generation moved since the compute read it. 500:
                # it moved inside Placement's own transaction (Placement
                # does not turn that ConcurrentUpdateDetected into 409).
                if '-> 409' in str(e):
                    self.counts['refused'] += 1
                elif 'concurrently updated' in str(e):
                    self.counts['failed'] += 1
                else:
                    raise
                # Nova's report client drops its cache of the tree and
                # reads it again before the next attempt.
                self._read(rp_uuid)
                continue
            self.generation[rp_uuid] = body['resource_provider_generation']
            self.counts['written'] += 1
            return True
        self.counts['given up'] += 1
        return False


class _TraitWriter(_Writer):
    """The earlier release: load traits on the render node providers."""

    def __init__(self, burst, roots, margin):
        super().__init__(burst, roots, margin)
        self.traits = {}

    def _read(self, rp_uuid):
        placement = self.burst.placement
        rp = placement.get('/resource_providers/%s' % rp_uuid)
        traits = placement.get('/resource_providers/%s/traits' % rp_uuid,
                               version='1.6')['traits']
        self.generation[rp_uuid] = rp['generation']
        self.traits[rp_uuid] = set(traits)

    def read_all(self):
        for gpu in self.gpus:
            self._read(self.burst.fleet.providers[gpu])

    def update(self, number):
        """One update of every GPU: read, bucket, write what changed."""
        wanted = self.buckets.traits(self._readings(number),
                                     self.burst.width, self.margin)
        for gpu in self.gpus:
            rp_uuid = self.burst.fleet.providers[gpu]
            traits = {t for t in self.traits[rp_uuid]
                      if not t.startswith(names.LOAD_TRAIT_PREFIX)}
            traits.add(wanted[gpu])
            if traits != self.traits[rp_uuid]:
                self.counts['changes'] += 1
                if self._write(rp_uuid, '/resource_providers/%s/traits',
                               lambda generation: {
                                   'resource_provider_generation':
                                       generation,
                                   'traits': sorted(traits)}):
                    self.traits[rp_uuid] = traits
        self.counts['updates'] += len(self.gpus)


class _SlotWriter(_Writer):
    """Host-level slots: load into the stats, the root written on change."""

    def __init__(self, burst, roots, margin):
        super().__init__(burst, roots, margin)
        shape = burst.fleet.shape
        self.trees = {root: slot_fleet.root_tree(
            shape, burst.fleet.nodes[root]) for root in roots}
        #: {root: (inventory, traits)} as last written to Placement.
        self.written = {root: slot_fleet.root_report(shape)
                        for root in roots}
        self.published = {}

    def _read(self, rp_uuid):
        rp = self.burst.placement.get('/resource_providers/%s' % rp_uuid)
        self.generation[rp_uuid] = rp['generation']

    def read_all(self):
        for root in self.roots:
            self._read(root)

    def _held(self, root):
        """Identifiers of the slots the host's instances hold."""
        with self.burst.lock:
            phones_on = dict(self.burst.phones_on)
        return {placement_report.slot_identifier(key, index)
                for (host, key), count in phones_on.items()
                if host == root for index in range(count)}

    def update(self, number):
        """One update of every host: publish the load, report the root."""
        buckets = self.buckets.buckets(self._readings(number),
                                       self.burst.width, self.margin)
        for gpu in self.gpus:
            if buckets[gpu] != self.published.get(gpu):
                # Published in the compute node's stats: no Placement call.
                self.counts['load changes'] += 1
                self.published[gpu] = buckets[gpu]
        for root in self.roots:
            tree, name = self.trees[root]
            placement_report.update_provider_tree(
                tree, name, self.burst.fleet.nodes[root], self._held(root))
            data = tree.data(name)
            report = (dict(data.inventory), frozenset(data.traits))
            if report == self.written[root]:
                continue
            # What Nova's report client sends for a changed root.
            self.counts['root changes'] += 1
            inventory, traits = self.written[root]
            if report[0] != inventory and self._write(
                    root, '/resource_providers/%s/inventories',
                    lambda generation: {
                        'resource_provider_generation': generation,
                        'inventories': report[0]}):
                inventory = report[0]
            if report[1] != traits and self._write(
                    root, '/resource_providers/%s/traits',
                    lambda generation: {
                        'resource_provider_generation': generation,
                        'traits': sorted(report[1])}):
                traits = report[1]
            self.written[root] = (inventory, traits)
        self.counts['updates'] += len(self.gpus)


#: The runs: (label, model, margin). Margin None: no load at all.
EARLIER, SLOTS = 'render providers', 'host-level slots'


def runs(hysteresis):
    """[(label, model, margin)] of part 3."""
    return ([('%s, no load traits' % EARLIER, EARLIER, None),
             ('%s, load traits, no hysteresis' % EARLIER, EARLIER, 0)] +
            [('%s, load traits, hysteresis %g %%' % (EARLIER, m), EARLIER,
              m) for m in hysteresis] +
            [('%s, load in the compute node stats' % SLOTS, SLOTS, 0)])


class Burst:
    """One burst of claims, with or without the computes' writers."""

    def __init__(self, placement, fleet, args, readings, model):
        self.placement, self.fleet = placement, fleet
        self.readings, self.width = readings, args.bucket_width
        self.phones_per_update = args.phones_per_update
        self.phones_on = collections.Counter()
        self.lock = threading.Lock()
        self.args = args
        self.model = model

    def _allocations(self, gpu):
        root, _key = gpu
        resources = {'VCPU': 2, 'MEMORY_MB': 2048, 'DISK_GB': 8}
        if self.model == SLOTS:
            resources[names.RESOURCE_CLASS] = 1
            return {root: {'resources': resources}}
        return {root: {'resources': resources},
                self.fleet.providers[gpu]: {
                    'resources': {names.RESOURCE_CLASS: 1}}}

    def _claimer(self, work, results):
        while True:
            try:
                gpu = work.get_nowait()
            except queue.Empty:
                return
            body = {'allocations': self._allocations(gpu),
                    'consumer_generation': None,
                    'project_id': 'bench-project', 'user_id': 'bench-user'}
            try:
                self.placement.put('/allocations/%s' % uuid_lib.uuid4(),
                                   body, version=nova_request.VERSION)
            except placement_app.PlacementError as e:
                with self.lock:
                    results['conflict' if '409' in str(e) else 'error'] += 1
                continue
            with self.lock:
                results['placed'] += 1
                self.phones_on[gpu] += 1

    def run(self, margin):
        """Claim the burst; margin None: no writers at all.

        In steps: in each, the claimers place the next
        ``phones_per_update`` phones while every writer runs one update
        of its hosts, so that every update races claims however fast
        either side is on this machine.
        """
        args = self.args
        rng = random.Random('%s-order' % args.seed)
        gpus = sorted(self.fleet.gpus)
        rng.shuffle(gpus)
        phones = [gpus[index % len(gpus)] for index in range(args.burst)]
        writers = []
        if margin is not None:
            kind = _SlotWriter if self.model == SLOTS else _TraitWriter
            writers = [kind(self, set(roots), margin) for roots in _share(
                sorted(self.fleet.hosts), args.writers)]
        for writer in writers:
            writer.read_all()
        results = collections.Counter()
        start = time.perf_counter()
        step = self.phones_per_update
        for number, first in enumerate(range(0, len(phones), step), 1):
            work = queue.Queue()
            for gpu in phones[first:first + step]:
                work.put(gpu)
            threads = [threading.Thread(target=self._claimer,
                                        args=(work, results))
                       for _ in range(args.claimers)]
            threads += [threading.Thread(target=writer.update,
                                         args=(number,))
                        for writer in writers]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        results['seconds'] = time.perf_counter() - start
        for writer in writers:
            results.update(writer.counts)
        return results


def run(placement, args):
    """The burst in the earlier model and with host-level slots: [record]."""
    shape = fleet_lib.Shape(hosts=args.conflict_hosts,
                            gpus_per_host=args.conflict_gpus)
    if args.burst > shape.hosts * shape.gpus_per_host * shape.slots_per_gpu:
        raise ValueError('--burst: %d phones do not fit in %s' % (
            args.burst, shape.label()))
    counter = _RetryCounter()
    log = logging.getLogger('placement.objects.allocation')
    log.addHandler(counter)
    old_level, old_propagate = log.level, log.propagate
    log.setLevel(logging.DEBUG)
    # Counted here, not printed.
    log.propagate = False
    placement.configure(allocation_conflict_retry_count=args.retries)
    print('Part 3: a burst of %d phones on %s, %d claiming threads, %d '
          'compute writers updating their hosts once per %d phones placed; '
          'readings: base 5-60 %% + %g %% per phone + noise (sigma %g %%), '
          'buckets of %d %%, allocation_conflict_retry_count = %d. The '
          '"%s" runs replay the earlier release\'s load traits on one '
          'provider per render node (no longer in the plugin); the "%s" '
          'run is the plugin now: load in the compute node stats, the '
          'root provider written only when its slots change' % (
              args.burst, shape.label(), args.claimers, args.writers,
              args.phones_per_update, args.per_phone, args.noise,
              args.bucket_width, args.retries, EARLIER, SLOTS), flush=True)
    records = []
    try:
        for label, model, margin in runs(args.hysteresis):
            placement.wipe()
            if model == SLOTS:
                fleet = slot_fleet.populate_slots(placement, shape)
            else:
                fleet = slot_fleet.populate_render_providers(placement,
                                                             shape)
                for bucket in range(0, 101, args.bucket_width):
                    placement.put('/traits/%s' % names.load_trait(bucket),
                                  None, version='1.6', expect=(201, 204))
            readings = Readings(sorted(fleet.gpus), args.seed, args.noise,
                                args.per_phone)
            counter.count = 0
            results = Burst(placement, fleet, args, readings,
                            model).run(margin)
            results['internal retries'] = counter.count
            if model == SLOTS and results['written']:
                raise AssertionError(
                    'the computes wrote their root providers %d times in '
                    'a burst that changed no slots' % results['written'])
            record = dict(results, label=label, burst=args.burst)
            records.append(record)
            print('  %s: done in %.1f s; %d claims refused, %d load '
                  'changes, %d Placement writes by the computes' % (
                      label, results['seconds'], results['conflict'],
                      results['changes'] + results['load changes'],
                      results['written']), flush=True)
    finally:
        log.removeHandler(counter)
        log.setLevel(old_level)
        log.propagate = old_propagate
        placement.configure(allocation_conflict_retry_count=10)
    return records
