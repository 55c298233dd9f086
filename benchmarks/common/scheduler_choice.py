"""Pick a host and GPU from Placement's answer as nova-scheduler would.

A stand-in for the scheduler's filter and weigher stage, fed only by the
``GET /allocation_candidates`` response, so that a stream of boots can be
run against the real Placement without the rest of Nova:

* the GPU order within a host is the plugin's own: a ``ProviderView``
  built from the provider summaries and ``load.order_candidates`` (what
  ``GpuNumaAffinityFilter`` does to each host's candidates);
* hosts are weighed like Nova's weigher handler: each weigher's raw
  weights normalised to 0..1 over the hosts, times its multiplier, summed:
  ``GpuLoadWeigher`` (1 - load of the host's first candidate) and Nova's
  RAM, CPU and disk weighers (free amounts, multiplier 1.0 each); the
  highest wins (``host_subset_size = 1``), ties to the first host.

Left out, because they cannot change the pick on this fleet: the NUMA fit
(every cell has room for more phones than its GPUs have slots) and Nova's
weighers that are equal on identical idle hosts.
"""

import collections

import os_resource_classes as orc

from nova_gpu_numa_sched.scheduler import load
from nova_gpu_numa_sched.scheduler import provider_view
from nova_gpu_numa_sched.scheduler import request


def _free(summary, rc):
    res = summary['resources'].get(rc)
    return res['capacity'] - res['used'] if res else 0


def _normalised(values):
    """Nova's ``weights.normalize``: min-max to 0..1 (all equal -> 0)."""
    low, high = min(values), max(values)
    if high == low:
        return [0.0 for _ in values]
    return [(v - low) / (high - low) for v in values]


def choose(body, gpu_multiplier):
    """Return (root uuid, allocation request) for the next boot, or None.

    :param body: Placement's JSON answer to GET /allocation_candidates
    :param gpu_multiplier: ``[gpu_numa] weight_multiplier``
    """
    summaries = body['provider_summaries']
    if not body['allocation_requests']:
        return None
    view = provider_view.ProviderView('balance')
    view.add_summaries(summaries)
    by_host = collections.OrderedDict()
    for candidate in body['allocation_requests']:
        rp_uuid = next(iter(candidate['allocations']))
        root = summaries[rp_uuid]['root_provider_uuid']
        by_host.setdefault(root, []).append(candidate)
    hosts = list(by_host)
    firsts = [load.order_candidates(view, by_host[host], gpu_multiplier)[0]
              for host in hosts]
    raw = {
        'gpu': [1.0 - load.candidate_load(view, first) for first in firsts],
        'ram': [_free(summaries[h], orc.MEMORY_MB) for h in hosts],
        'cpu': [_free(summaries[h], orc.VCPU) for h in hosts],
        'disk': [_free(summaries[h], orc.DISK_GB) for h in hosts],
    }
    multipliers = {'gpu': gpu_multiplier, 'ram': 1.0, 'cpu': 1.0,
                   'disk': 1.0}
    totals = [0.0] * len(hosts)
    for name, values in raw.items():
        for index, value in enumerate(_normalised(values)):
            totals[index] += multipliers[name] * value
    best = max(range(len(hosts)), key=lambda i: (totals[i], -i))
    return hosts[best], firsts[best]


def render_provider(candidate):
    """The render provider uuid a candidate allocates from, or None."""
    found = request.render_providers(candidate)
    return next(iter(found)) if found else None
