"""Phones per minute through the one-machine cloud, plugin and stock Nova.

Runs against the cloud of ``tools/cloud.sh up`` (separate processes,
RabbitMQ, MariaDB, Keystone, Placement over HTTP), through Nova's REST API.
For each mode (the plugin as the install guide configures it, stock Nova:
see ``benchmarks/cloud/modes.py``) and each number of scheduler workers
(1, 2) it boots ``--phones`` phones in multi-create requests of
``--batch``, one request at a time: a batch is created, awaited (every
phone ACTIVE or ERROR) and deleted before the next, as the cloud's three
GPUs hold 24 phones. Per run it prints phones per minute (ACTIVE phones
over the summed time from each create request to its last phone's
``launched_at``), p50 and p95 of ``launched_at - created`` per phone, and
the CPU seconds all services used while booting (``/proc`` of every
service's session, deletes not counted); the ratios come last. The cloud is
left in its own configuration.

Usage (from the repository root, the cloud up)::

    PYTHONPATH=. OS_NOVA_DISABLE_EVENTLET_PATCHING=1 \\
        python benchmarks/cloud_throughput.py [--phones 200 --batch 20]
"""

import argparse
import dataclasses
import os
import sys
import time
import typing as ty

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))

from benchmarks.cloud import modes  # noqa: E402
from benchmarks.cloud import service_cpu  # noqa: E402
from benchmarks.common import tables  # noqa: E402
from tests.cloud import base  # noqa: E402
from tests.cloud import checks  # noqa: E402
from tests.cloud import cloud as cloud_client  # noqa: E402

FLAVOR = 'phone-bench'
RUNS = ((modes.PLUGIN, 1), (modes.PLUGIN, 2), (modes.STOCK, 1),
        (modes.STOCK, 2))


@dataclasses.dataclass
class Run:
    kind: str
    workers: int
    phones: int = 0
    active: int = 0
    errors: int = 0
    colocated: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    latencies: ty.List[float] = dataclasses.field(default_factory=list)

    @property
    def per_minute(self):
        return self.active * 60.0 / self.seconds if self.seconds else 0.0

    @property
    def cpu_per_phone(self):
        return self.cpu_seconds / self.active if self.active else 0.0

    def percentile(self, fraction):
        if not self.latencies:
            return 0.0
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog='cloud_throughput.py',
        description='Boot phones through the running one-machine cloud '
                    'with the plugin and with stock Nova, with 1 and 2 '
                    'scheduler workers; print phones per minute, latency '
                    'and CPU time, and their ratios.')
    parser.add_argument('--phones', type=int, default=200,
                        help='phones per run (default 200)')
    parser.add_argument('--batch', type=int, default=20,
                        help='phones per multi-create request (default 20)')
    args = parser.parse_args(argv)
    if args.phones < 1 or args.batch < 1:
        parser.error('--phones and --batch must be at least 1')
    return args


def boot_batch(cloud, flavor, image, count, run, number):
    """One multi-create request, awaited and measured, then deleted."""
    pids = os.path.join(cloud_client.CLOUD_DIR, 'pids')
    cpu_before = service_cpu.snapshot(pids)
    sent = cloud.utcnow()
    reservation = cloud.create_servers('bench-%s-%d-%d' % (
        run.kind, run.workers, number), flavor, image, count=count)
    servers = cloud.wait_for_servers(reservation_id=reservation,
                                     count=count)
    run.cpu_seconds += service_cpu.used(cpu_before,
                                        service_cpu.snapshot(pids))
    run.phones += count
    last = sent
    reader = checks.Reader(cloud, cloud_client.Databases())
    for server in servers:
        if server['status'] != 'ACTIVE':
            run.errors += 1
            continue
        run.active += 1
        launched = cloud_client.parse_time(server['OS-SRV-USG:launched_at'])
        run.latencies.append((launched - cloud_client.parse_time(
            server['created'])).total_seconds())
        last = max(last, launched)
        run.colocated += checks.colocated(reader.placed(server))
    run.seconds += (last - sent).total_seconds()
    left = cloud.delete_servers(servers)
    if left:
        raise cloud_client.CloudError('%d phones not deleted' % len(left))


def report(runs):
    print('\n'.join(tables.table(
        ('run', 'workers', 'ACTIVE', 'ERROR', 'co-located', 'phones/min',
         'p50 s', 'p95 s', 'CPU s', 'CPU s/phone'),
        [(r.kind, r.workers, r.active, r.errors, r.colocated,
          '%.1f' % r.per_minute, '%.1f' % r.percentile(0.5),
          '%.1f' % r.percentile(0.95), '%.0f' % r.cpu_seconds,
          '%.2f' % r.cpu_per_phone) for r in runs])))
    by = {(r.kind, r.workers): r for r in runs}
    print()
    print('Ratios')
    for workers in (1, 2):
        plugin, stock = by.get((modes.PLUGIN, workers)), by.get(
            (modes.STOCK, workers))
        if plugin and stock:
            print('ratio plugin / stock, %d worker(s): phones per minute '
                  '%.2f, p50 %.2f, p95 %.2f, CPU s per phone %.2f' % (
                      workers, _ratio(plugin.per_minute, stock.per_minute),
                      _ratio(plugin.percentile(0.5), stock.percentile(0.5)),
                      _ratio(plugin.percentile(0.95),
                             stock.percentile(0.95)),
                      _ratio(plugin.cpu_per_phone, stock.cpu_per_phone)))
    for kind in (modes.PLUGIN, modes.STOCK):
        one, two = by.get((kind, 1)), by.get((kind, 2))
        if one and two:
            print('ratio 2 / 1 scheduler workers, %s: phones per minute '
                  '%.2f, p95 %.2f' % (
                      kind, _ratio(two.per_minute, one.per_minute),
                      _ratio(two.percentile(0.95), one.percentile(0.95))))


def _ratio(a, b):
    return a / b if b else float('nan')


def main(argv):
    args = parse_args(argv)
    cloud = cloud_client.Cloud()
    image = cloud.image_id()
    computes = sorted(s['host'] for s in cloud.compute_services())
    flavor = cloud.create_flavor(FLAVOR, vcpus=base.PHONE_VCPUS,
                                 ram=base.PHONE_RAM_MB,
                                 extra_specs=base.PHONE_SPECS)
    print('%d phones per run (%d vCPU, %d MB, hw:numa_nodes=1, one render '
          'slot) in multi-create requests of %d, one at a time, on %s.'
          % (args.phones, base.PHONE_VCPUS, base.PHONE_RAM_MB, args.batch,
             ', '.join(computes)), flush=True)
    runs = []
    start = time.monotonic()
    try:
        for kind, workers in RUNS:
            modes.switch(cloud, kind, workers, computes)
            run = Run(kind, workers)
            number = 0
            while run.phones < args.phones:
                number += 1
                boot_batch(cloud, flavor, image,
                           min(args.batch, args.phones - run.phones), run,
                           number)
            print('%s, %d scheduler worker(s): %d/%d ACTIVE in %.0f s' % (
                kind, workers, run.active, run.phones, run.seconds),
                flush=True)
            runs.append(run)
    finally:
        modes.restore(cloud, computes)
        cloud.delete_flavor(flavor)
    print('\nwall time %.0f s\n' % (time.monotonic() - start))
    report(runs)
    return 0 if all(r.active == r.phones for r in runs) else 1


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
