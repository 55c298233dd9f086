"""Part 3: claim conflicts while load traits move, with and without damping.

Every change of a render provider's ``CUSTOM_GPU_LOAD_<bucket>`` trait is
a ``PUT /resource_providers/{uuid}/traits`` with the provider's generation,
and bumps it; every claim (``PUT /allocations/{consumer}``) bumps the
generations of the providers it allocates from. Placement retries an
allocation write internally (``allocation_conflict_retry_count``) when a
generation moved under it, and answers 409 when the retries run out; the
compute's trait write is refused with 409 when a claim moved the
generation since the compute last read it, and Nova's report client then
re-reads the provider tree and tries again.

A burst of ``--burst`` phones is claimed by ``--claimers`` threads (the
scheduler's ``PUT /allocations``, each phone on a GPU with a free slot,
spread as the load weigher spreads them) in steps of
``--phones-per-update`` phones; during each step ``--writers`` threads
play the computes' update of every GPU (Nova's resource tracker updates a
host's provider tree on every claim on it, and periodically): each GPU's
reading (``busy = base + per phone x phones on it + noise``) turned into
the trait by the plugin's own ``utilization.LoadBuckets``, written when it
changed, with the generation the writer last saw, re-read after a 409 as
Nova's report client does. The same burst and readings run without load
traits, with undamped buckets and with the hysteresis. Counted: the
claims' 409s, Placement's internal retries of allocation writes (its
log), the trait writes and the writes refused.
"""

import collections
import logging
import queue
import random
import threading
import time
import uuid as uuid_lib

from benchmarks.common import fleet as fleet_lib
from benchmarks.common import nova_request
from benchmarks.common import placement_app
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


class _Writer:
    """The computes of some hosts, updating their GPUs' load traits."""

    def __init__(self, burst, gpus, margin):
        self.burst, self.gpus, self.margin = burst, gpus, margin
        self.buckets = utilization.LoadBuckets()
        self.traits = {}
        self.generation = {}
        self.counts = collections.Counter()

    def _read(self, gpu):
        rp = self.burst.placement.get('/resource_providers/%s' % gpu)
        traits = self.burst.placement.get(
            '/resource_providers/%s/traits' % gpu, version='1.6')['traits']
        self.generation[gpu] = rp['generation']
        self.traits[gpu] = set(traits)

    def _write(self, gpu, wanted):
        for _ in range(WRITE_ATTEMPTS):
            try:
                body = self.burst.placement.put(
                    '/resource_providers/%s/traits' % gpu, {
                        'resource_provider_generation':
                            self.generation[gpu],
                        'traits': sorted(wanted)}, version='1.6')
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
                self._read(gpu)
                continue
            self.generation[gpu] = body['resource_provider_generation']
            self.traits[gpu] = wanted
            self.counts['written'] += 1
            return
        self.counts['given up'] += 1

    def read_all(self):
        for gpu in self.gpus:
            self._read(gpu)

    def update(self, number):
        """One update of every GPU: read, bucket, write what changed."""
        readings = {gpu: utilization.GpuUtilization(
            self.burst.readings.busy(gpu, number, self.burst.phones_on[gpu]),
            None) for gpu in self.gpus}
        wanted = self.buckets.traits(readings, self.burst.width, self.margin)
        for gpu in self.gpus:
            traits = {t for t in self.traits[gpu]
                      if not t.startswith(names.LOAD_TRAIT_PREFIX)}
            traits.add(wanted[gpu])
            if traits != self.traits[gpu]:
                self.counts['changes'] += 1
                self._write(gpu, traits)
        self.counts['updates'] += len(self.gpus)


class Burst:
    """One burst of claims, with or without trait writers."""

    def __init__(self, placement, fleet, args, readings):
        self.placement, self.fleet = placement, fleet
        self.readings, self.width = readings, args.bucket_width
        self.phones_per_update = args.phones_per_update
        self.phones_on = collections.Counter()
        self._lock = threading.Lock()
        self.args = args

    def _claimer(self, work, results):
        while True:
            try:
                gpu = work.get_nowait()
            except queue.Empty:
                return
            root = self.fleet.gpus[gpu][0]
            body = {'allocations': {
                root: {'resources': {'VCPU': 2, 'MEMORY_MB': 2048,
                                     'DISK_GB': 8}},
                gpu: {'resources': {names.RESOURCE_CLASS: 1}}},
                'consumer_generation': None,
                'project_id': 'bench-project', 'user_id': 'bench-user'}
            try:
                self.placement.put('/allocations/%s' % uuid_lib.uuid4(),
                                   body, version=nova_request.VERSION)
            except placement_app.PlacementError as e:
                with self._lock:
                    results['conflict' if '409' in str(e) else 'error'] += 1
                continue
            with self._lock:
                results['placed'] += 1
                self.phones_on[gpu] += 1

    def run(self, margin):
        """Claim the burst; margin None: no load traits at all.

        In steps: in each, the claimers place the next
        ``phones_per_update`` phones while every writer runs one update
        of its GPUs, so that every update races claims however fast
        either side is on this machine.
        """
        args = self.args
        rng = random.Random('%s-order' % args.seed)
        gpus = sorted(self.fleet.gpus)
        rng.shuffle(gpus)
        phones = [gpus[index % len(gpus)] for index in range(args.burst)]
        writers = []
        if margin is not None:
            share = -(-len(gpus) // args.writers)
            writers = [_Writer(self, sorted(gpus[i:i + share]), margin)
                       for i in range(0, len(gpus), share)]
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
    """The burst without load traits, undamped and damped: [record]."""
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
          'trait writers updating their GPUs once per %d phones placed; '
          'readings: base 5-60 %% + %g %% per phone + noise (sigma %g %%), '
          'buckets of %d %%, allocation_conflict_retry_count = %d' % (
              args.burst, shape.label(), args.claimers, args.writers,
              args.phones_per_update, args.per_phone, args.noise,
              args.bucket_width, args.retries), flush=True)
    records = []
    try:
        for label, margin in [('no load traits', None),
                              ('load traits, no hysteresis', 0)] + [
                ('load traits, hysteresis %g %%' % m, m)
                for m in args.hysteresis]:
            placement.wipe()
            fleet = fleet_lib.populate(placement, shape)
            for bucket in range(0, 101, args.bucket_width):
                placement.put('/traits/%s' % names.load_trait(bucket), None,
                              version='1.6', expect=(201, 204))
            readings = Readings(sorted(fleet.gpus), args.seed, args.noise,
                                args.per_phone)
            counter.count = 0
            results = Burst(placement, fleet, args, readings).run(margin)
            results['internal retries'] = counter.count
            record = dict(results, label=label, burst=args.burst)
            records.append(record)
            print('  %s: done in %.1f s' % (label, results['seconds']),
                  flush=True)
    finally:
        log.removeHandler(counter)
        log.setLevel(old_level)
        log.propagate = old_propagate
        placement.configure(allocation_conflict_retry_count=10)
    return records
