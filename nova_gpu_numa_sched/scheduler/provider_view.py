"""A per-request view of render node providers: cell, slots, utilisation.

Nova's scheduler fetches allocation candidates together with provider
summaries (capacity, usage and traits of every provider involved), then
keeps only their keys. This module keeps the render providers' part, for
the request being scheduled in this thread, and adds the scheduler's own
claims as it makes them, so that a multi-create sees its earlier picks.
It costs no Placement call of its own: the data is the scheduler's, as
fresh as the candidates.

Two narrow wraps of ``SchedulerReportClient`` feed it; delete them when
Nova hands provider summaries to filters.
"""

import dataclasses
import functools
import threading
import typing as ty

from nova.scheduler.client import report
from oslo_log import log as logging

from nova_gpu_numa_sched import names
from nova_gpu_numa_sched import nova_compat
from nova_gpu_numa_sched.scheduler import request

LOG = logging.getLogger(__name__)

_local = threading.local()
_WRAPPED_MARK = '_gpu_numa_view'


@dataclasses.dataclass
class RenderProvider:
    uuid: str
    cell: ty.Optional[int]
    capacity: int
    used: int
    utilization: ty.Optional[int] = None

    @property
    def free(self):
        return self.capacity - self.used

    def load(self, utilization_weight):
        """Load as a fraction of 1 (see ``[gpu_numa] utilization_weight``).

        Slot usage alone when the utilisation is unknown.
        """
        slots = float(self.used) / self.capacity if self.capacity else 1.0
        if self.utilization is None:
            return slots
        return ((1.0 - utilization_weight) * slots +
                utilization_weight * self.utilization / 100.0)


class ProviderView:
    """Render providers of one scheduling request."""

    def __init__(self, request_id):
        self.request_id = request_id
        self.providers = {}
        #: Per-request answers of ``cell_fit`` (set by that module).
        self.fit_memo = None

    def add_summaries(self, provider_summaries):
        for rp_uuid, summary in (provider_summaries or {}).items():
            slots = summary.get('resources', {}).get(names.RESOURCE_CLASS)
            if slots is None:
                continue
            traits = summary.get('traits', ())
            self.providers[rp_uuid] = RenderProvider(
                uuid=rp_uuid,
                cell=names.cell_from_traits(traits),
                capacity=int(slots.get('capacity', 0)),
                used=int(slots.get('used', 0)),
                utilization=names.load_from_traits(traits))

    def record_claim(self, alloc_request):
        """Count a claim the scheduler just made in this request."""
        for rp_uuid, amount in request.render_providers(
                alloc_request).items():
            provider = self.providers.get(rp_uuid)
            if provider is not None:
                provider.used += amount

    def get(self, rp_uuid):
        return self.providers.get(rp_uuid)


def current():
    """The view of the request being scheduled in this thread, or None."""
    return getattr(_local, 'view', None)


def _request_id(context):
    return getattr(context, 'request_id', None)


def asks_render_slots(resources):
    """Whether a candidate query (a ``ResourceRequest``) wants render slots.

    A request without one needs no view: its filters and weigher return
    before they look, so its summaries are not read at all.
    """
    try:
        merged = resources.merged_resources()
    except AttributeError:
        return True  # not Nova's ResourceRequest: keep the summaries
    return bool(merged.get(names.RESOURCE_CLASS))


def record_candidates(request_id, resources, provider_summaries):
    """Keep what a request's candidate query answered; return its view.

    A new request id starts a new view for this thread; a second query of
    the same request (Nova's PCPU fallback) adds to the first.
    """
    view = current()
    if view is None or request_id is None or view.request_id != request_id:
        view = ProviderView(request_id)
        _local.view = view
    if provider_summaries and asks_render_slots(resources):
        view.add_summaries(provider_summaries)
    return view


def _wrap_get_allocation_candidates(method):
    @functools.wraps(method)
    def wrapper(self, context, resources, *args, **kwargs):
        result = method(self, context, resources, *args, **kwargs)
        record_candidates(_request_id(context), resources,
                          result[1] if result else None)
        return result
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
