"""The ``GET /allocation_candidates`` Nova's scheduler sends for a flavor.

Built with Nova's own code, as ``SchedulerManager.select_destinations``
does: the RequestSpec the conductor hands over, Nova's request filters
(``request_filter.process_reqspec``), then
``scheduler.utils.resources_from_request_spec`` and
``ResourceRequest.to_querystring()``, sent at the microversion of Nova's
report client. ``limit`` is ``[scheduler] max_placement_results``.
"""

from unittest import mock

import nova.conf
from nova import context as nova_context
from nova import objects
from nova.scheduler.client import report
from nova.scheduler import request_filter
from nova.scheduler import utils as scheduler_utils

from benchmarks.common import request_spec as request_spec_lib
from nova_gpu_numa_sched import names

CONF = nova.conf.CONF
#: The microversion SchedulerReportClient.get_allocation_candidates uses.
VERSION = report.SAME_SUBTREE_VERSION

_registered = False


def _register():
    global _registered
    if not _registered:
        objects.register_all()
        _registered = True


def flavor_extra_specs(render, group=''):
    """The phone flavor's extra specs; without the slot for a plain guest.

    ``group``: the request group suffix of the slot ('' the unnumbered
    group, with the guest's VCPU, MEMORY_MB and DISK_GB).
    """
    specs = {'hw:numa_nodes': '1'}
    if render:
        specs['resources%s:%s' % (group, names.RESOURCE_CLASS)] = '1'
    return specs


def request_spec(ctxt, render=True, vcpus=2, memory_mb=2048, disk_gb=8,
                 extra_specs=None):
    _register()
    if extra_specs is None:
        extra_specs = flavor_extra_specs(render)
    return request_spec_lib.build(
        ctxt, 'phone.2c2g' if render else 'plain.2c2g', vcpus, memory_mb,
        disk_gb, extra_specs, flavorid='phone')


def allocation_candidates_path(render=True, limit=1000, **flavor):
    """The path and query string Nova's scheduler requests.

    ``flavor``: vcpus, memory_mb, disk_gb, and ``extra_specs`` in place of
    the phone's (or plain guest's) own.
    """
    ctxt = nova_context.RequestContext(
        user_id='bench-user', project_id='bench-project', is_admin=True)
    spec = request_spec(ctxt, render=render, **flavor)
    # owner_nova_filter asks the cell databases for the oldest
    # nova-compute; every compute of this fleet is this Nova's.
    with mock.patch.object(request_filter, '_should_filter_by_owner',
                           return_value=True):
        request_filter.process_reqspec(ctxt, spec)
    CONF.set_override('max_placement_results', limit, group='scheduler')
    try:
        resources = scheduler_utils.resources_from_request_spec(
            ctxt, spec, host_manager=None)
    finally:
        CONF.clear_override('max_placement_results', group='scheduler')
    return '/allocation_candidates?%s' % resources.to_querystring()
