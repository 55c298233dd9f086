"""A per-request view of each host's render nodes: cell, slots, load.

nova-compute publishes its render nodes in the compute node's ``stats``
(``names.RENDER_NODES_STAT``) at every claim, and the scheduler reads the
compute node with every request, so the host state carries what the last
claim left. This module reads that, and adds the scheduler's own claims of
the request being scheduled in this thread, so that a multi-create sees
its earlier picks. Placement is asked nothing more: it only counts a
host's slots.

Two narrow wraps of ``SchedulerReportClient`` mark where a request starts
and what it claimed; delete them when Nova hands filters its claims.
"""

import dataclasses
import functools
import threading

from nova.scheduler.client import report

from nova_gpu_numa_sched import names
from nova_gpu_numa_sched import nova_compat
from nova_gpu_numa_sched import render_usage
from nova_gpu_numa_sched.scheduler import request

_local = threading.local()
_WRAPPED_MARK = '_gpu_numa_view'


class ProviderView:
    """Render nodes of the hosts of one scheduling request."""

    def __init__(self, request_id):
        self.request_id = request_id
        #: {host uuid: (stats value, {key: RenderNodeUsage})}
        self._parsed = {}
        #: {(host uuid, render node key): slots claimed in this request}
        self.claimed = {}
        #: {host uuid: the render node this request would take there}
        self.chosen = {}
        #: Per-request answers of ``cell_fit`` (set by that module).
        self.fit_memo = None

    def render_nodes(self, host_state):
        """{key: RenderNodeUsage} of a host, with this request's claims."""
        uuid = host_state.uuid
        value = (host_state.stats or {}).get(names.RENDER_NODES_STAT)
        cached = self._parsed.get(uuid)
        if cached is None or cached[0] is not value:
            cached = (value, render_usage.loads(value))
            self._parsed[uuid] = cached
        nodes = cached[1]
        if not self.claimed:
            return nodes
        result = {}
        for key, node in nodes.items():
            extra = self.claimed.get((uuid, key), 0)
            result[key] = (dataclasses.replace(node, used=node.used + extra)
                           if extra else node)
        return result

    def record_claim(self, alloc_request):
        """Count a claim the scheduler just made in this request."""
        for rp_uuid, amount in request.render_providers(
                alloc_request).items():
            key = self.chosen.get(rp_uuid)
            if key is not None:
                self.claimed[(rp_uuid, key)] = (
                    self.claimed.get((rp_uuid, key), 0) + amount)


def current():
    """The view of the request being scheduled in this thread, or None."""
    return getattr(_local, 'view', None)


def _request_id(context):
    return getattr(context, 'request_id', None)


def start(request_id):
    """The view of ``request_id``: a new request starts a new view.

    A second query of the same request (Nova's PCPU fallback) keeps it.
    """
    view = current()
    if view is None or request_id is None or view.request_id != request_id:
        view = ProviderView(request_id)
        _local.view = view
    return view


def _wrap_get_allocation_candidates(method):
    @functools.wraps(method)
    def wrapper(self, context, resources, *args, **kwargs):
        start(_request_id(context))
        return method(self, context, resources, *args, **kwargs)
    return wrapper


def _wrap_claim_resources(method):
    @functools.wraps(method)
    def wrapper(self, context, consumer_uuid, alloc_request, *args,
                **kwargs):
        claimed = method(self, context, consumer_uuid, alloc_request,
                         *args, **kwargs)
        view = current()
        if claimed and view is not None and (
                view.request_id == _request_id(context)):
            view.record_claim(alloc_request)
        return claimed
    return wrapper


def install():
    """Wrap the report client's candidate query and claim (idempotent)."""
    nova_compat.check(nova_compat.SCHEDULER)
    client = report.SchedulerReportClient
    for name, wrap in (
            ('get_allocation_candidates', _wrap_get_allocation_candidates),
            ('claim_resources', _wrap_claim_resources)):
        method = getattr(client, name)
        if not getattr(method, _WRAPPED_MARK, False):
            wrapped = wrap(method)
            setattr(wrapped, _WRAPPED_MARK, True)
            setattr(client, name, wrapped)
