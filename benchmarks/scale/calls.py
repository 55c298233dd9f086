"""Placement calls per request through Nova's real scheduler manager.

``SchedulerManager.select_destinations`` runs the whole request (request
filters, the candidate query, Nova's default filters, all of Nova's
weighers, the claim, alternates, notifications) against the counting
Placement stand-in; a ``HostManager`` subclass reads the synthetic fleet
instead of the cell databases.
"""

import types
from unittest import mock
import uuid as uuid_lib

import nova.conf
from nova import objects
from nova.scheduler.client import report as report_client
from nova.scheduler import host_manager
from nova.scheduler import manager as scheduler_manager
from oslo_utils import timeutils

from benchmarks.scale import fleet as fleet_lib
from benchmarks.scale import placement as placement_lib
from benchmarks.scale import specs
from nova_gpu_numa_sched import names
from nova_gpu_numa_sched.scheduler import provider_view

CONF = nova.conf.CONF

PLUGIN_FILTER = 'nova_gpu_numa_sched.filters.GpuNumaTopologyFilter'
PLUGIN_WEIGHER = 'nova_gpu_numa_sched.weights.GpuLoadWeigher'
#: Nova's default enabled_filters, before the NUMA filter.
NOVA_DEFAULT_FILTERS = [
    'ComputeFilter', 'ComputeCapabilitiesFilter', 'ImagePropertiesFilter',
    'ServerGroupAntiAffinityFilter', 'ServerGroupAffinityFilter']

#: (plugin enabled, instances) of each select_destinations.
REQUESTS = ((False, 1), (True, 1), (True, 2))


class FleetHostManager(host_manager.HostManager):
    """Nova's HostManager reading a synthetic fleet instead of databases.

    Only the database reads are replaced: cells, aggregates, compute nodes
    and services, instance lists (given as already tracked, as with
    ``track_instance_changes``). Host states, filters and weighers are
    Nova's.
    """

    fleet = None

    def refresh_cells_caches(self):
        cell = objects.CellMapping(uuid=fleet_lib.CELL_UUID, name='cell1',
                                   disabled=False)
        self.cells = {fleet_lib.CELL_UUID: cell}
        self.enabled_cells = [cell]
        self.host_to_cell_uuid = {}

    def _init_aggregates(self):
        pass

    def _init_instance_info(self, computes_by_cell=None):
        self._instance_info = {
            host.name: {'instances': {}, 'updated': True}
            for host in self.fleet.hosts}

    def _get_computes_for_cells(self, context, cells, compute_uuids):
        wanted = set(compute_uuids) if compute_uuids is not None else None
        computes = [c for c in self.fleet.compute_nodes
                    if wanted is None or c.uuid in wanted]
        return {fleet_lib.CELL_UUID: computes}, dict(self.fleet.services)


def make_scheduler(fleet, with_plugin):
    """Nova's scheduler manager, stock or with the plugin as documented."""
    weighers = ['nova.scheduler.weights.all_weighers']
    if with_plugin:
        filters = NOVA_DEFAULT_FILTERS + ['GpuNumaTopologyFilter']
        weighers.append(PLUGIN_WEIGHER)
    else:
        filters = NOVA_DEFAULT_FILTERS + ['NUMATopologyFilter']
    CONF.set_override('enabled_filters', filters, group='filter_scheduler')
    CONF.set_override('weight_classes', weighers, group='filter_scheduler')
    FleetHostManager.fleet = fleet
    with mock.patch.object(scheduler_manager.host_manager, 'HostManager',
                           FleetHostManager):
        return scheduler_manager.SchedulerManager()


def count_placement_calls(fleet, placement, with_plugin, num_instances):
    """Placement calls of one select_destinations through Nova's manager."""
    scheduler = make_scheduler(fleet, with_plugin)
    # Computes report in every 10 s; ComputeFilter drops silent ones.
    now = timeutils.utcnow(with_timezone=True)
    for service in fleet.services.values():
        service.last_seen_up = now
    ctxt = specs.new_context()
    spec = specs.phone_spec(ctxt, num_instances)
    instance_uuids = [str(uuid_lib.uuid4()) for _ in range(num_instances)]
    placement.calls.clear()
    selections = scheduler.select_destinations(
        ctxt, spec_obj=spec, instance_uuids=instance_uuids,
        return_objects=True, return_alternates=True)
    calls = dict(placement.calls)
    if len(selections) != num_instances:
        raise AssertionError('expected %d selections' % num_instances)
    if with_plugin:
        _check_selections(fleet, placement, selections, instance_uuids)
    return calls


def _check_selections(fleet, placement, selections, instance_uuids):
    """The claims took a render slot; the view saw them; limits pinned.

    With host-level slots each claim holds one render slot on the chosen
    host's root provider, and the view counts it on the render node the
    filter chose there, on top of what the host published.
    """
    view = provider_view.current()
    for instance_uuid, selection in zip(instance_uuids, selections):
        allocations = placement.allocations[instance_uuid]
        root = selection[0].compute_node_uuid
        slots = {rp: alloc['resources'].get(names.RESOURCE_CLASS, 0)
                 for rp, alloc in allocations.items()}
        if slots.get(root) != 1 or sum(slots.values()) != 1:
            raise AssertionError('claim without exactly one render slot on '
                                 'the root provider')
        if len(instance_uuids) == 1:
            key = view.chosen.get(root)
            physnets = selection[0].limits.numa_topology.network_metadata
            if names.cell_token(fleet.gpu_cell[(root, key)]) not in (
                    physnets.physnets):
                raise AssertionError('selection not pinned to GPU cell')
    if sum(view.claimed.values()) != len(instance_uuids):
        raise AssertionError('provider view missed a claim')
    for (root, key), count in view.claimed.items():
        host = fleet.by_uuid[root]
        state = types.SimpleNamespace(
            uuid=root, stats={names.RENDER_NODES_STAT:
                              host.render_nodes_stat()})
        before = host.render_nodes()[key].used
        if view.render_nodes(state)[key].used != before + count:
            raise AssertionError('provider view missed a claim')


def measure(fleets):
    """{(size, plugin, instances): {call: count}} over every fleet."""
    counts = {}
    # Outside the host manager the request filters read one thing from the
    # database: the minimum nova-compute version (owner_nova_filter). Every
    # compute of the synthetic fleet runs this Nova.
    with mock.patch.object(objects.service, 'get_minimum_version_all_cells',
                           return_value=objects.service.SERVICE_VERSION):
        for size, fleet in fleets.items():
            placement = placement_lib.CountingPlacement(fleet)
            report_client.PLACEMENTCLIENT = (
                report_client.SchedulerReportClient(adapter=placement))
            for plugin, instances in REQUESTS:
                counts[(size, plugin, instances)] = count_placement_calls(
                    fleet, placement, plugin, instances)
    return counts


def consistent(counts, sizes):
    """Same calls, kind by kind, at every size, with or without the plugin."""
    return all(
        counts[(size, plugin, n)] == counts[(sizes[0], plugin, n)]
        for size in sizes for plugin, n in REQUESTS) and all(
        counts[(size, True, 1)] == counts[(size, False, 1)]
        for size in sizes)
