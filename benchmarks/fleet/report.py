"""Print the set-up, one table per policy, and the ratios last."""

import collections

from benchmarks.fleet import metrics
from benchmarks.fleet import specs
from benchmarks.fleet import workload

#: Targets of the placement-quality issue.
TARGET_CROSS_NUMA = 0.0
TARGET_OF_BOUND = 99.0
TARGET_SPREAD = 1


def print_setup(hosts, stream, policies, note, peak_bound):
    kinds = collections.Counter(host.kind.name for host in hosts)
    slots = sum(gpu.capacity for host in hosts for gpu in host.gpus)
    boots = [e for e in stream.events if e.action == 'boot']
    phones = sum(1 for e in boots if e.size.kind == workload.PHONE)
    print('fleet: %d hosts (%s), %d GPUs, %d render slots' % (
        len(hosts), ', '.join('%d %s' % (n, k)
                              for k, n in sorted(kinds.items())),
        sum(len(host.gpus) for host in hosts), slots))
    print('stream: %d events: %d fill-phase boots (half loaded after %d), '
          'then churn; %d phone boots, %d VM boots, %d deletes' % (
              len(stream.events), stream.fill_end, stream.half, phones,
              len(boots) - phones, len(stream.events) - len(boots)))
    for policy in policies:
        print('%-10s %s' % (policy.name + ':', policy.describe()))
    if note:
        print(note)
    print('bound after fill: %s' % _bounds(peak_bound))
    print()


def _bounds(found):
    return ', '.join('%s %.1f phones (%s, %.2f s)' % (
        label, bound.phones, bound.kind, bound.seconds)
        for label, bound in found.items())


def _row(label, *cells):
    print('  %-38s %13s %13s %13s' % ((label,) + cells))


def print_policy(result, peak_bound, capacities):
    print('policy %s' % result.policy)
    half, peak, final = result.half, result.peak, result.final
    _row('', 'half loaded', 'after fill', 'end of stream')
    _row('phones running', half.phones, peak.phones, final.phones)
    _row('VMs running', half.vms, peak.vms, final.vms)
    final_bound = result.final_bound
    _row('co-located bound (phones)', '',
         '%.1f' % peak_bound['co-located'].phones,
         '%.1f' % final_bound['co-located'].phones)
    _row('% of co-located bound', '',
         '%.1f' % metrics.percent(peak.phones,
                                  peak_bound['co-located'].phones),
         '%.1f' % metrics.percent(final.phones,
                                  final_bound['co-located'].phones))
    _row('% of split-allowed bound', '',
         '%.1f' % metrics.percent(peak.phones, peak_bound['split'].phones),
         '%.1f' % metrics.percent(final.phones,
                                  final_bound['split'].phones))
    _row('% cross-NUMA (running phones)',
         *['%.1f' % metrics.percent(s.cross_numa, s.phones)
           for s in (half, peak, final)])
    spreads = [metrics.spread(s, capacities) for s in (half, peak, final)]
    _row('spread in a host: worst (max - min)', *[s.worst for s in spreads])
    _row('spread in a host: mean', *['%.2f' % s.mean for s in spreads])
    _row('hosts with spread > 1', *['%d/%d' % (s.hosts_over_one, s.hosts)
                                    for s in spreads])
    _row('CV of GPU usage over the fleet',
         *['%.3f' % s.cv for s in spreads])
    idle = collections.Counter()
    for (kind, used), caps in zip(peak.gpu_used, capacities):
        idle[kind] += sum(caps) - sum(used)
    print('  render slots idle after fill, by host kind: %s' % ', '.join(
        '%s %d' % (kind, n) for kind, n in sorted(idle.items())))
    print('  end-of-stream bound: %s' % _bounds(final_bound))
    print('  phone boots refused after the fill phase that a re-placement '
          'of the running instances would have held: %d'
          % result.avoidable_refusals)
    print('  over the stream: %d/%d phone boots placed (%.1f %%), %d/%d VM '
          'boots, %d of the placed phones cross-NUMA (%.1f %%), %d claim '
          'failures' % (
              result.phones_placed, result.phones_asked,
              metrics.percent(result.phones_placed, result.phones_asked),
              result.vms_placed, result.vms_asked, result.cross_numa,
              metrics.percent(result.cross_numa, result.phones_placed),
              result.claim_failures))
    print('  scheduling time per request (filters + weighers%s): phone '
          'median %.2f ms, VM median %.2f ms' % (
              '' if result.policy == specs.STOCK else ' + provider view',
              metrics.median_ms(result.phone_seconds),
              metrics.median_ms(result.vm_seconds)))
    print()


def print_ratios(results, peak_bound, capacities, note):
    """The ratio lines, last; returns 0."""
    stock = next(r for r in results if r.policy == specs.STOCK)
    stock_ms = metrics.median_ms(stock.phone_seconds)
    print('Per policy: phones running / co-located bound after fill and at '
          'end of stream; cross-NUMA share of placed phones; worst in-host '
          'spread half loaded and at end; fleet CV half loaded; median '
          'phone scheduling time / stock.')
    print()
    print('Ratios')
    targets = []
    for result in results:
        half = metrics.spread(result.half, capacities)
        final = metrics.spread(result.final, capacities)
        of_peak = metrics.percent(result.peak.phones,
                                  peak_bound['co-located'].phones)
        of_final = metrics.percent(
            result.final.phones, result.final_bound['co-located'].phones)
        cross = metrics.percent(result.cross_numa, result.phones_placed)
        ms = metrics.median_ms(result.phone_seconds)
        print('ratio %-9s placed %5.1f %% / %5.1f %% of bound, cross-NUMA '
              '%5.1f %%, spread %d / %d, CV %.3f, time x%.2f' % (
                  result.policy, of_peak, of_final, cross, half.worst,
                  final.worst, half.cv, ms / stock_ms if stock_ms else 0.0))
        if result.policy == 'required':
            targets = [
                ('cross-NUMA 0 %', cross <= TARGET_CROSS_NUMA),
                ('placed >= 99 % of bound after fill',
                 of_peak >= TARGET_OF_BOUND),
                ('at end of stream', of_final >= TARGET_OF_BOUND),
                ('spread <= 1 in every host half loaded',
                 half.worst <= TARGET_SPREAD),
                ('at end of stream', final.worst <= TARGET_SPREAD)]
    if note:
        print('ratio preferred  not yet available')
    print('ratio targets for required: %s' % '; '.join(
        '%s: %s' % (label, 'met' if ok else 'MISSED')
        for label, ok in targets))
    return 0
