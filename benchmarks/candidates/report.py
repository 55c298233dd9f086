"""Tables and ratio lines of the Placement benchmark.

The issue's two ratios, against a plain 2-vCPU guest's query on the same
hosts without render providers (under the same Placement options):

* phone / plain without render providers, goal at most 1.5 (aim 1.2);
* plain with / plain without render providers, goal at most 1.2.

Across the fleets of the levers, each is given as the ratio of the
minimums (the least disturbed runs) and of the medians; a goal counts as
met when the ratio of the medians meets it. The interleaved comparison of
the provider models (``interleaved``) gives the ratio of the minimums and
the median of the per-round ratios, each marked against the goal; its
lines come last.
"""

import statistics

from benchmarks.candidates import timing
from benchmarks.common import tables

PHONE_GOAL = 1.5
PHONE_AIM = 1.2
PLAIN_GOAL = 1.2


def _fleet(record):
    if not record['gpus']:
        return '%d hosts' % record['hosts']
    text = '%d hosts x %d GPUs' % (record['hosts'], record['gpus'])
    if record['model'] == 'per cell':
        text += ' on one provider per cell'
    return text


def cost_table(backend, records):
    rows = []
    for r in records:
        low, mid = timing.summary(r['cpu'])
        rows.append((r['hosts'], r['gpus'] or '-', r['model'], r['guest'],
                     r['variant'], tables.ms(low), tables.ms(mid),
                     tables.ms(timing.summary(r['wall'])[1]),
                     r['candidates'], r['distinct_hosts'], r['summaries'],
                     'yes' if r['same'] else 'no'))
    lines = ['Part 1 (%s): CPU time per GET /allocation_candidates, minimum '
             'and median of the timed rounds, wall median' % backend]
    lines += tables.table(
        ('hosts', 'GPUs/host', 'providers', 'guest', 'variant', 'CPU min ms',
         'CPU median ms', 'wall ms', 'candidates', 'distinct hosts',
         'provider summaries', 'same answer'), rows)
    return lines


def models_table(backend, records):
    rows = []
    for r in records:
        answers = r['answers']
        rows.append((r['hosts'], r['gpus'], r['model'], r['rows']) + tuple(
            '%s/%s' % (tables.ms(min(r[key])), tables.ms(
                statistics.median(r[key])))
            for key in ('base', 'plain', 'phone')) + (
            answers['phone'].get('candidates', 0),
            answers['phone'].get('hosts', 0),
            '%d/%d' % (answers['plain'].get('summaries', 0),
                       answers['phone'].get('summaries', 0)),
            '%.1f/%.1f' % (statistics.median(r['insert_s']),
                           statistics.median(r['remove_s'])),
            '%.1f' % statistics.median(r.get('settle_s') or [0.0])))
    lines = ['Part 1, interleaved (%s): CPU ms per GET /allocation_candidates'
             ' (minimum/median of the rounds) of the plain guest on the bare '
             'hosts, then with the model\'s rows: plain guest, phone' %
             backend]
    lines += tables.table(
        ('hosts', 'GPUs/host', 'model', 'rows added', 'plain bare',
         'plain with', 'phone with', 'phone candidates', 'phone hosts',
         'summaries plain/phone', 'insert/remove s', 'quiet wait s'),
        rows)
    return lines


def balance_table(backend, records):
    rows = []
    for r in records:
        spread = ' '.join('%s:%d' % item for item in r['histogram'].items())
        rows.append((r['label'], tables.ms(r['query_cpu']),
                     '%g' % r['hosts_per_query'],
                     '%d/%d' % (r['hosts_offered'], r['hosts']),
                     '%d/%d' % (r['gpus_offered'], r['gpus']),
                     '%d/%d' % (r['hosts_used'], r['hosts']),
                     '%d/%d' % (r['gpus_used'], r['gpus']),
                     r['max_host'], r['max_gpu'], spread))
    lines = ['Part 2 (%s): balance of a stream of phone boots' % backend]
    lines += ['  %-40s %s' % (r['label'], r['options']) for r in records]
    lines += tables.table(
        ('run', 'query CPU ms', 'hosts/query', 'hosts offered',
         'GPUs offered', 'hosts used', 'GPUs used', 'max/host', 'max/GPU',
         'phones per GPU: number of GPUs'), rows)
    failed = sum(r['failed'] for r in records)
    if failed:
        lines.append('%d boots found no candidate' % failed)
    return lines


def _per_100(record, key):
    return 100.0 * record.get(key, 0) / record['burst']


def conflicts_table(backend, records):
    rows = [(r['label'], '%.1f' % r['seconds'], r.get('placed', 0),
             r.get('conflict', 0), r.get('error', 0),
             r.get('internal retries', 0), r.get('changes', 0),
             r.get('written', 0), r.get('refused', 0), r.get('failed', 0),
             r.get('given up', 0)) for r in records]
    lines = ['Part 3 (%s): a burst of claims while load traits move' %
             backend]
    lines += tables.table(
        ('run', 'seconds', 'placed', 'claims refused (409)', 'other errors',
         'allocation writes retried in Placement', 'trait changes',
         'trait writes', 'trait writes refused (409)', 'trait writes failed '
         '(500)', 'trait updates given up'), rows)
    return lines


def _find(records, hosts, model, gpus, guest, variant):
    for r in records:
        if (r['hosts'], r['model'], r['gpus'], r['guest'],
                r['variant']) == (hosts, model, gpus, guest, variant):
            return r
    return None


def _ratio_line(what, backend, record, base, goal):
    low = min(record['cpu']) / min(base['cpu'])
    mid = timing.summary(record['cpu'])[1] / timing.summary(base['cpu'])[1]
    return ('ratio %s, %s, %s, %s: min %.2f, median %.2f (goal <= %.1f: '
            '%s)' % (what, backend, _fleet(record), record['variant'], low,
                     mid, goal, 'met' if mid <= goal else 'not met'))


def issue_ratios(backend, records, variants):
    """The two ratios of every fleet with GPUs, for ``variants``."""
    lines = []
    for r in records:
        if not r['gpus'] or r['variant'] not in variants:
            continue
        base = (_find(records, r['hosts'], 'none', 0, 'plain', r['variant'])
                or _find(records, r['hosts'], 'none', 0, 'plain',
                         'defaults'))
        if base is None:
            continue
        if r['guest'] == 'phone':
            lines.append(_ratio_line(
                'phone / plain guest without render providers', backend, r,
                base, PHONE_GOAL))
        else:
            lines.append(_ratio_line(
                'plain guest with / without render providers', backend, r,
                base, PLAIN_GOAL))
    return lines


def backend_ratios(results):
    """MariaDB against SQLite, same fleet, query and options."""
    by_backend = {res['backend']: res.get('cost', []) for res in results}
    if not {'sqlite', 'mariadb'} <= set(by_backend):
        return []
    lines = []
    for r in by_backend['mariadb']:
        if r['variant'] != 'defaults':
            continue
        other = _find(by_backend['sqlite'], r['hosts'], r['model'],
                      r['gpus'], r['guest'], 'defaults')
        if other:
            lines.append('ratio query CPU time MariaDB / SQLite, %s, %s '
                         'guest: median %.2f' % (
                             _fleet(r), r['guest'],
                             timing.summary(r['cpu'])[1] /
                             timing.summary(other['cpu'])[1]))
    return lines


def balance_ratios(backend, records):
    return ['ratio hosts offered / fleet, %s, %s: %.2f; GPUs used / '
            'phones: %.2f; max phones per GPU: %d' % (
                backend, r['label'], r['hosts_offered'] / r['hosts'],
                r['gpus_used'] / max(r['placed'], 1), r['max_gpu'])
            for r in records]


def conflict_ratios(backend, records):
    return ['ratio per 100 phones, %s, %s: claims refused %.1f, allocation '
            'writes retried in Placement %.1f, trait writes %.1f, trait '
            'writes refused or failed %.1f' % (
                backend, r['label'], _per_100(r, 'conflict'),
                _per_100(r, 'internal retries'), _per_100(r, 'written'),
                _per_100(r, 'refused') + _per_100(r, 'failed'))
            for r in records]


def _goal_mark(low, mid, goal, aim=None):
    """Each of the two ratios against the goal (and the aim)."""
    text = 'goal <= %.1f: min %s, median %s' % (
        goal, 'pass' if low <= goal else 'FAIL',
        'pass' if mid <= goal else 'FAIL')
    if aim:
        text += '; aim %.1f: min %s, median %s' % (
            aim, 'met' if low <= aim else 'not met',
            'met' if mid <= aim else 'not met')
    return text


def interleaved_ratios(backend, records):
    """The issue's two ratios of every model, from the interleaved rounds.

    Minimum against minimum, and the median of the ratios of each round
    (queries seconds apart).
    """
    lines = []
    for r in records:
        for guest, what, goal, aim in (
                ('phone', 'phone / plain guest without render providers',
                 PHONE_GOAL, PHONE_AIM),
                ('plain', 'plain guest with / without render providers',
                 PLAIN_GOAL, None)):
            low = min(r[guest]) / min(r['base'])
            mid = statistics.median(
                [a / b for a, b in zip(r[guest], r['base'])])
            lines.append(
                'ratio interleaved %s, %s, %s, %d hosts x %d GPUs: min '
                '%.2f, median of rounds %.2f (%s)' % (
                    what, backend, r['model'], r['hosts'], r['gpus'], low,
                    mid, _goal_mark(low, mid, goal, aim)))
    return lines


def ratio_lines(results):
    """Every ratio; the interleaved ratios of the provider models last."""
    lines = []
    for res in results:
        backend = res['backend']
        lines += balance_ratios(backend, res.get('balance', []))
        lines += conflict_ratios(backend, res.get('conflicts', []))
    lines += backend_ratios(results)
    for res in results:
        records = res.get('cost', [])
        levers = {r['variant'] for r in records} - {'defaults'}
        lines += issue_ratios(res['backend'], [
            r for r in records if r['model'] != 'per cell'], levers)
        lines += issue_ratios(res['backend'], [
            r for r in records if r['model'] in ('per cell', 'none')],
            {'defaults'})
    for res in results:
        lines += issue_ratios(res['backend'], [
            r for r in res.get('cost', []) if r['model'] != 'per cell'],
            {'defaults'})
    for res in results:
        lines += interleaved_ratios(res['backend'], res.get('models', []))
    return lines
