"""Pick a host as nova-scheduler would, and a render node as its compute.

A stand-in for the scheduler's filter and weigher stage and for the
compute claim's choice of render node, fed by the ``GET
/allocation_candidates`` response and by what each host publishes in its
compute node's stats, so that a stream of boots can be run against the
real Placement without the rest of Nova.

With host-level slots Placement offers hosts, not GPUs: one candidate per
host with a free render slot, on its root provider. Then:

* the scheduler reads each offered host's render nodes from the JSON its
  compute published (``render_usage.dumps``, read by the plugin's
  ``provider_view.ProviderView.render_nodes``) and takes, as
  ``GpuNumaAffinityFilter`` does, the preferred render node of the best
  ranked cell (``load.ranked_cells``);
* hosts are weighed like Nova's weigher handler: each weigher's raw
  weights normalised to 0..1 over the hosts, times its multiplier, summed:
  ``GpuLoadWeigher`` (1 - load of that render node) and Nova's RAM, CPU
  and disk weighers (free amounts, multiplier 1.0 each); the highest wins
  (``host_subset_size = 1``), ties to the first host;
* the compute claim then chooses the render node itself, as
  ``compute.claim_cell`` does: the first cell of
  ``slot_choice.ranked_cells`` (reversed when the scheduler packs) and its
  best render node.

Left out, because they cannot change the pick on this fleet: the NUMA fit
(every cell has room for more phones than its GPUs have slots) and Nova's
weighers that are equal on identical idle hosts.
"""

import collections
import types

import os_resource_classes as orc

from nova_gpu_numa_sched.compute import slot_choice
from nova_gpu_numa_sched import names
from nova_gpu_numa_sched.scheduler import load
from nova_gpu_numa_sched.scheduler import provider_view


def _free(summary, rc):
    res = summary['resources'].get(rc)
    return res['capacity'] - res['used'] if res else 0


def _normalised(values):
    """Nova's ``weights.normalize``: min-max to 0..1 (all equal -> 0)."""
    low, high = min(values), max(values)
    if high == low:
        return [0.0 for _ in values]
    return [(v - low) / (high - low) for v in values]


def candidate_root(body, candidate):
    """The root provider of a candidate's first provider."""
    rp_uuid = next(iter(candidate['allocations']))
    return body['provider_summaries'][rp_uuid]['root_provider_uuid']


def choose(body, gpu_multiplier, published, slots=1):
    """Return (root uuid, allocation request) for the next boot, or None.

    :param body: Placement's JSON answer to GET /allocation_candidates
    :param gpu_multiplier: ``[gpu_numa] weight_multiplier``
    :param published: {root uuid: the compute node's
        ``stats[RENDER_NODES_STAT]``}
    """
    summaries = body['provider_summaries']
    view = provider_view.ProviderView('balance')
    by_host = collections.OrderedDict()
    for candidate in body['allocation_requests']:
        by_host.setdefault(candidate_root(body, candidate), candidate)
    hosts, nodes = [], []
    for host in by_host:
        state = types.SimpleNamespace(uuid=host, stats={
            names.RENDER_NODES_STAT: published.get(host)})
        ranked = load.ranked_cells(view.render_nodes(state), slots,
                                   gpu_multiplier)
        if ranked:
            hosts.append(host)
            nodes.append(ranked[0][1])
    if not hosts:
        return None
    raw = {
        'gpu': [1.0 - load.node_load(node) for node in nodes],
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
    return hosts[best], by_host[hosts[best]]


def claim_node(usage, gpu_multiplier, slots=1):
    """The render node key the compute claim takes, or None.

    :param usage: {key: render_usage.RenderNodeUsage} of the chosen host
    """
    ranked = slot_choice.ranked_cells(usage, slots, gpu_multiplier < 0)
    return ranked[0][1].key if ranked else None
