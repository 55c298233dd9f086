#!/usr/bin/env python3
# Licensed under the Apache License, Version 2.0 (the "License"); you may
# not use this file except in compliance with the License. You may obtain
# a copy of the License at
#
#      http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
# License for the specific language governing permissions and limitations
# under the License.

"""What GpuNumaAffinityFilter and GpuLoadWeigher cost a scheduler at scale.

Part 1 times one scheduling request's filter and weigher pass over the same
synthetic fleet (Nova HostState objects built from ComputeNode records,
4-cell NUMA topologies with cell tokens, Placement allocation candidates and
provider summaries), with Nova's NUMATopologyFilter alone and with the
plugin after it, as deployed.

Part 2 drives Nova's real SchedulerManager.select_destinations with the
plugin enabled against a stand-in for the Placement HTTP API that counts
every call the report client makes, and checks that the count per request
does not grow with the number of hosts.

Run from the repository root::

    PYTHONPATH=. python benchmarks/scheduler_scale.py
"""

import argparse
import collections
import copy
import gc
import random
import statistics
import sys
import time
from unittest import mock
import uuid as uuid_lib

from keystoneauth1 import session as ks_session
import nova.conf
from nova import context as nova_context
from nova import objects
from nova import rpc
from nova.scheduler.client import report
from nova.scheduler import filters as nova_filters
from nova.scheduler.filters import numa_topology_filter
from nova.scheduler import host_manager
from nova.scheduler import manager as scheduler_manager
from nova.scheduler import utils as scheduler_utils
from nova.scheduler import weights as nova_weights
from nova.virt import hardware
import os_traits
from oslo_serialization import jsonutils
from oslo_utils import timeutils

from nova_gpu_numa_sched import cell_limits
from nova_gpu_numa_sched.filters import gpu_numa_affinity
from nova_gpu_numa_sched import names
from nova_gpu_numa_sched.scheduler import provider_view
from nova_gpu_numa_sched.weights import gpu_load

CONF = nova.conf.CONF

PLUGIN_FILTER = 'nova_gpu_numa_sched.filters.GpuNumaAffinityFilter'
PLUGIN_WEIGHER = 'nova_gpu_numa_sched.weights.GpuLoadWeigher'
#: Nova's default enabled_filters, then the NUMA filter and the plugin.
NOVA_DEFAULT_FILTERS = [
    'ComputeFilter', 'ComputeCapabilitiesFilter', 'ImagePropertiesFilter',
    'ServerGroupAntiAffinityFilter', 'ServerGroupAffinityFilter']

CELL_UUID = str(uuid_lib.UUID(int=0xce11))
NUMA_CELLS = 4
SLOTS_PER_GPU = 8
#: Nova's initial_cpu_allocation_ratio / initial_ram_allocation_ratio.
CPU_RATIO = 4.0
RAM_RATIO = 1.0
PHONE_VCPUS = 2
PHONE_MB = 2048
PHONE_DISK_GB = 8
HOST_DISK_GB = 2000


# Synthetic fleet ----------------------------------------------------------

Gpu = collections.namedtuple('Gpu', 'uuid cell capacity used load')


class Host:
    """One compute node: NUMA cells with usage and GPUs on some cells."""

    def __init__(self, index, rng):
        self.index = index
        self.name = 'compute-%04d' % index
        self.uuid = str(uuid_lib.UUID(int=rng.getrandbits(128)))
        cpus = rng.choice((8, 10, 12, 14, 16))
        self.cell_cpus = cpus
        self.cell_mb = cpus * 4096
        self.gpus = []
        for _ in range(rng.randint(2, 4)):
            self.gpus.append(Gpu(
                uuid=str(uuid_lib.UUID(int=rng.getrandbits(128))),
                cell=rng.randrange(NUMA_CELLS),
                capacity=SLOTS_PER_GPU,
                used=rng.randint(0, SLOTS_PER_GPU),
                load=rng.choice((None, 0, 10, 20, 30, 50, 70, 90))))
        # Phones run where their GPU is; other guests fill cells at random,
        # some cells up to the brim.
        self.cpu_usage, self.memory_usage = [], []
        for cell in range(NUMA_CELLS):
            phones = sum(g.used for g in self.gpus if g.cell == cell)
            others = rng.random()
            self.cpu_usage.append(min(
                int(cpus * CPU_RATIO),
                phones * PHONE_VCPUS + int(others * cpus * CPU_RATIO * 0.6)))
            self.memory_usage.append(min(
                self.cell_mb,
                phones * PHONE_MB + int(others * self.cell_mb)))
        self.instances = sum(g.used for g in self.gpus) + rng.randint(0, 8)

    def numa_topology(self):
        cells = []
        for cell in range(NUMA_CELLS):
            cpuset = set(range(cell * self.cell_cpus,
                               (cell + 1) * self.cell_cpus))
            cells.append(objects.NUMACell(
                id=cell, socket=cell // 2, cpuset=cpuset, pcpuset=set(),
                memory=self.cell_mb, cpu_usage=self.cpu_usage[cell],
                memory_usage=self.memory_usage[cell], pinned_cpus=set(),
                siblings=[{cpu} for cpu in sorted(cpuset)],
                mempages=[
                    objects.NUMAPagesTopology(
                        size_kb=4, total=self.cell_mb * 256, used=0,
                        reserved=0),
                    objects.NUMAPagesTopology(
                        size_kb=2048, total=0, used=0, reserved=0)],
                network_metadata=objects.NetworkMetadata(
                    physnets=set(), tunneled=False)))
        # What the plugin's compute driver reports: one token per cell.
        return cell_limits.add_cell_tokens(objects.NUMATopology(cells=cells))

    def compute_node(self, now):
        vcpus = self.cell_cpus * NUMA_CELLS
        memory_mb = self.cell_mb * NUMA_CELLS
        memory_used = sum(self.memory_usage)
        disk_used = self.instances * PHONE_DISK_GB
        return objects.ComputeNode(
            id=self.index + 1, uuid=self.uuid, host=self.name,
            hypervisor_hostname=self.name, service_id=None,
            vcpus=vcpus, vcpus_used=sum(self.cpu_usage),
            memory_mb=memory_mb, memory_mb_used=memory_used,
            free_ram_mb=memory_mb - memory_used,
            local_gb=HOST_DISK_GB, local_gb_used=disk_used,
            free_disk_gb=HOST_DISK_GB - disk_used,
            disk_available_least=HOST_DISK_GB - disk_used,
            hypervisor_type='QEMU', hypervisor_version=8002000,
            host_ip='10.%d.%d.%d' % (self.index // 65536,
                                     self.index // 256 % 256,
                                     self.index % 256),
            cpu_info='{}', running_vms=self.instances, current_workload=0,
            supported_hv_specs=[objects.HVSpec(
                arch='x86_64', hv_type='kvm', vm_mode='hvm')],
            stats={'num_instances': str(self.instances),
                   'io_workload': '0'},
            metrics='[]', numa_topology=self.numa_topology()._to_json(),
            pci_device_pools=objects.PciDevicePoolList(objects=[]),
            cpu_allocation_ratio=CPU_RATIO, ram_allocation_ratio=RAM_RATIO,
            disk_allocation_ratio=1.0, updated_at=now, created_at=now)

    def service(self, now):
        return objects.Service(
            id=self.index + 1, host=self.name, binary='nova-compute',
            topic='compute', disabled=False, disabled_reason=None,
            forced_down=False,
            report_count=1, created_at=now, updated_at=now,
            last_seen_up=now, uuid=self.uuid)

    def candidates(self):
        """Placement allocation requests: one per GPU with a free slot."""
        found = []
        for gpu in self.gpus:
            if gpu.used >= gpu.capacity:
                continue
            found.append({
                'allocations': {
                    self.uuid: {'resources': {
                        'VCPU': PHONE_VCPUS, 'MEMORY_MB': PHONE_MB,
                        'DISK_GB': PHONE_DISK_GB}},
                    gpu.uuid: {'resources': {names.RESOURCE_CLASS: 1}}},
                'mappings': {'': [self.uuid, gpu.uuid]}})
        return found

    def summaries(self):
        """Placement provider summaries of the host's provider tree."""
        vcpus = self.cell_cpus * NUMA_CELLS
        found = {self.uuid: {
            'resources': {
                'VCPU': {'capacity': int(vcpus * CPU_RATIO),
                         'used': sum(self.cpu_usage)},
                'MEMORY_MB': {'capacity': self.cell_mb * NUMA_CELLS,
                              'used': sum(self.memory_usage)},
                'DISK_GB': {'capacity': HOST_DISK_GB,
                            'used': self.instances * PHONE_DISK_GB}},
            'traits': sorted([
                os_traits.OWNER_NOVA, os_traits.COMPUTE_NET_ATTACH_INTERFACE,
                os_traits.HW_CPU_X86_AVX2, os_traits.COMPUTE_VOLUME_EXTEND]),
            'parent_provider_uuid': None,
            'root_provider_uuid': self.uuid}}
        for gpu in self.gpus:
            traits = [os_traits.OWNER_NOVA, names.numa_trait(gpu.cell),
                      names.VENDOR_TRAIT_PREFIX + '1002',
                      names.PRODUCT_TRAIT_PREFIX + '73BF']
            if gpu.load is not None:
                traits.append(names.load_trait(gpu.load))
            found[gpu.uuid] = {
                'resources': {names.RESOURCE_CLASS: {
                    'capacity': gpu.capacity, 'used': gpu.used}},
                'traits': sorted(traits),
                'parent_provider_uuid': self.uuid,
                'root_provider_uuid': self.uuid}
        return found


class Fleet:
    """N hosts, and what Placement would answer for one phone."""

    def __init__(self, size, seed):
        rng = random.Random('%s-%d' % (seed, size))
        self.hosts = [Host(i, rng) for i in range(size)]
        self.gpu_cell = {gpu.uuid: gpu.cell
                         for host in self.hosts for gpu in host.gpus}
        now = timeutils.utcnow(with_timezone=True)
        self.compute_nodes = [h.compute_node(now) for h in self.hosts]
        self.services = {h.name: h.service(now) for h in self.hosts}
        allocation_requests, summaries = [], {}
        for host in self.hosts:
            candidates = host.candidates()
            if candidates:
                allocation_requests.extend(candidates)
                summaries.update(host.summaries())
        self.placement_body = jsonutils.dumps({
            'allocation_requests': allocation_requests,
            'provider_summaries': summaries})
        self.summaries = summaries
        self.candidates_by_host = collections.defaultdict(list)
        for candidate in allocation_requests:
            for rp_uuid in candidate['allocations']:
                self.candidates_by_host[rp_uuid].append(candidate)

    def host_states(self):
        """HostStates as Nova's HostManager builds them per request."""
        states = []
        for compute in self.compute_nodes:
            if compute.uuid not in self.candidates_by_host:
                continue
            state = host_manager.HostState(
                compute.host, compute.hypervisor_hostname, CELL_UUID)
            state.update(compute, dict(self.services[compute.host]), [], {})
            states.append(state)
        return states


# A counting stand-in for the Placement HTTP API ---------------------------

class FakeResponse:
    def __init__(self, status_code, body=None):
        self.status_code = status_code
        self.text = jsonutils.dumps(body) if body is not None else ''
        self.headers = {}

    def json(self):
        return jsonutils.loads(self.text)

    def __bool__(self):
        return self.status_code < 400


class CountingPlacement:
    """Stands in for the keystoneauth adapter of SchedulerReportClient.

    All of the report client's code runs; only the HTTP exchange is
    replaced. Every call is counted by method and path template.
    """

    def __init__(self, fleet):
        self.fleet = fleet
        self.calls = collections.Counter()
        self.allocations = {}

    def _count(self, method, url):
        path = url.split('?', 1)[0]
        parts = path.strip('/').split('/')
        if len(parts) > 1:
            path = '/%s/{id}%s' % (
                parts[0], ''.join('/' + p for p in parts[2:]))
        self.calls['%s %s' % (method, path)] += 1
        return parts

    def get(self, url, microversion=None, global_request_id=None, **kwargs):
        parts = self._count('GET', url)
        if parts[0].startswith('allocation_candidates'):
            if names.RESOURCE_CLASS not in url:
                raise AssertionError('render slot not requested: %s' % url)
            response = FakeResponse(200)
            response.text = self.fleet.placement_body
            return response
        if parts[0] == 'allocations' and len(parts) == 2:
            return FakeResponse(200, {
                'allocations': self.allocations.get(parts[1], {})})
        raise AssertionError('unexpected Placement call GET %s' % url)

    def put(self, url, json=None, microversion=None, global_request_id=None,
            **kwargs):
        parts = self._count('PUT', url)
        if parts[0] == 'allocations' and len(parts) == 2:
            self.allocations[parts[1]] = json['allocations']
            return FakeResponse(204)
        raise AssertionError('unexpected Placement call PUT %s' % url)

    def post(self, url, json=None, microversion=None, global_request_id=None,
             **kwargs):
        self._count('POST', url)
        raise AssertionError('unexpected Placement call POST %s' % url)

    def delete(self, url, microversion=None, global_request_id=None,
               **kwargs):
        parts = self._count('DELETE', url)
        if parts[0] == 'allocations' and len(parts) == 2:
            self.allocations.pop(parts[1], None)
            return FakeResponse(204)
        raise AssertionError('unexpected Placement call DELETE %s' % url)


class HttpGuard:
    """Counts (and refuses) any HTTP request that bypasses the stand-in."""

    def __init__(self):
        self.count = 0

    def request(self, *args, **kwargs):
        self.count += 1
        raise AssertionError('unexpected HTTP request %s' % (args,))


# Requests -----------------------------------------------------------------

def phone_spec(ctxt, num_instances=1):
    """A RequestSpec for a phone flavor, as the conductor hands it over."""
    flavor = objects.Flavor(
        id=1, flavorid='phone', name='phone.2c2g', vcpus=PHONE_VCPUS,
        memory_mb=PHONE_MB, root_gb=PHONE_DISK_GB, ephemeral_gb=0, swap=0,
        rxtx_factor=1.0, vcpu_weight=0, disabled=False, is_public=True,
        description=None, projects=[],
        extra_specs={'hw:numa_nodes': '1',
                     'resources:%s' % names.RESOURCE_CLASS: '1'})
    image = {'id': str(uuid_lib.UUID(int=0x1a9e)), 'name': 'android',
             'status': 'active', 'container_format': 'bare',
             'disk_format': 'qcow2', 'min_ram': 0, 'min_disk': 0,
             'size': 2 << 30, 'properties': {}}
    image_meta = objects.ImageMeta.from_dict(image)
    spec = objects.RequestSpec.from_components(
        ctxt, str(uuid_lib.uuid4()), image, flavor,
        hardware.numa_get_constraints(flavor, image_meta),
        objects.InstancePCIRequests(requests=[]), {}, None, None,
        project_id=ctxt.project_id, user_id=ctxt.user_id)
    spec.num_instances = num_instances
    spec.is_bfv = False
    return spec


def new_context():
    """A fresh request context: a new request id, as for each request."""
    return nova_context.RequestContext(
        user_id='bench-user', project_id='bench-project', is_admin=True)


# Part 1: filter and weigher time ------------------------------------------

class Timings:
    def __init__(self):
        self.samples = collections.defaultdict(list)

    def add(self, name, seconds):
        self.samples[name].append(seconds)

    def median(self, name):
        return statistics.median(self.samples[name])

    def row(self, name):
        values = self.samples[name]
        median = statistics.median(values)
        q = statistics.quantiles(values, n=4) if len(values) > 1 else [
            median] * 3
        return (median * 1e3, min(values) * 1e3, max(values) * 1e3,
                (q[2] - q[0]) / median * 100 if median else 0.0)


def _timed(func, *args):
    gc.collect()
    start = time.perf_counter()
    result = func(*args)
    return time.perf_counter() - start, result


def _reset(states, fleet):
    """What the scheduler starts each request with: fresh candidates."""
    for state in states:
        state.allocation_candidates = copy.deepcopy(
            fleet.candidates_by_host[state.uuid])
        state.limits = {}


def time_filters(fleet, client, repeat):
    """Time NUMATopologyFilter, then the plugin on the hosts it kept.

    Nova's filter handler runs each enabled filter over the hosts the
    previous one kept, so a deployed ``[..., NUMATopologyFilter,
    GpuNumaAffinityFilter]`` costs exactly the two timed passes in a row.
    """
    numa_filter = numa_topology_filter.NUMATopologyFilter()
    gpu_filter = gpu_numa_affinity.GpuNumaAffinityFilter()
    weigher = gpu_load.GpuLoadWeigher()
    filter_handler = nova_filters.HostFilterHandler()
    weight_handler = nova_weights.HostWeightHandler()
    states = fleet.host_states()
    ctxt = new_context()
    spec = phone_spec(ctxt)
    resources = scheduler_utils.resources_from_request_spec(
        ctxt, spec, None, enable_pinning_translate=True)

    def numa_only():
        return list(filter_handler.get_filtered_objects(
            [numa_filter], states, spec))

    def plugin(numa_passed):
        passed = list(filter_handler.get_filtered_objects(
            [gpu_filter], numa_passed, spec))
        return weight_handler.get_weighed_objects([weigher], passed, spec)

    def view_build():
        # What the report-client wrap adds to each candidate query.
        provider_view.ProviderView('timing').add_summaries(fleet.summaries)

    timings = Timings()
    stats = {}
    for rep in range(repeat + 1):
        # The real wrap installs this request's view, as in the scheduler.
        ctxt = new_context()
        client.get_allocation_candidates(ctxt, resources)
        if provider_view.current().request_id != ctxt.request_id:
            raise AssertionError('provider view not installed by the wrap')
        _reset(states, fleet)
        t_numa, numa_passed = _timed(numa_only)
        stats['numa_hosts'] = len(numa_passed)
        stats['numa_candidates'] = sum(
            len(s.allocation_candidates) for s in numa_passed)
        t_plugin, weighed = _timed(plugin, numa_passed)
        t_view, _ = _timed(view_build)
        stats['plugin_hosts'] = len(weighed)
        stats['plugin_candidates'] = sum(
            len(w.obj.allocation_candidates) for w in weighed)
        _check_colocated(fleet, weighed)
        if rep == 0:
            continue  # warm-up
        timings.add('numa', t_numa)
        timings.add('plugin', t_plugin + t_view)
        timings.add('view', t_view)
        timings.add('both', t_numa + t_plugin + t_view)
        timings.add('ratio_both', (t_numa + t_plugin + t_view) / t_numa)
        timings.add('ratio_plugin', (t_plugin + t_view) / t_numa)
    stats['hosts'] = len(states)
    stats['candidates'] = sum(
        len(fleet.candidates_by_host[s.uuid]) for s in states)
    return timings, stats


def _check_colocated(fleet, weighed):
    """Each kept host's first GPU sits on the cell its claim is pinned to."""
    for weighed_host in weighed:
        state = weighed_host.obj
        gpu = [rp for rp in state.allocation_candidates[0]['allocations']
               if rp in fleet.gpu_cell][0]
        physnets = state.limits['numa_topology'].network_metadata.physnets
        if names.cell_token(fleet.gpu_cell[gpu]) not in physnets:
            raise AssertionError('%s: claim not pinned to GPU cell'
                                 % state.host)


# Part 2: Placement calls through Nova's scheduler manager -----------------

class FleetHostManager(host_manager.HostManager):
    """Nova's HostManager reading a synthetic fleet instead of databases.

    Only the database reads are replaced: cells, aggregates, compute nodes
    and services, instance lists (given as already tracked, as with
    ``track_instance_changes``). Host states, filters and weighers are
    Nova's.
    """

    fleet = None

    def refresh_cells_caches(self):
        cell = objects.CellMapping(uuid=CELL_UUID, name='cell1',
                                   disabled=False)
        self.cells = {CELL_UUID: cell}
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
        return {CELL_UUID: computes}, dict(self.fleet.services)


def make_scheduler(fleet, with_plugin):
    """Nova's scheduler manager, with or without the plugin enabled."""
    filters = NOVA_DEFAULT_FILTERS + ['NUMATopologyFilter']
    weighers = ['nova.scheduler.weights.all_weighers']
    if with_plugin:
        filters.append('GpuNumaAffinityFilter')
        weighers.append(PLUGIN_WEIGHER)
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
    ctxt = new_context()
    spec = phone_spec(ctxt, num_instances)
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
    """The claims took a render slot; the view saw them; limits pinned."""
    view = provider_view.current()
    claimed = collections.Counter()
    for instance_uuid, selection in zip(instance_uuids, selections):
        allocations = placement.allocations[instance_uuid]
        gpus = [rp for rp in allocations if rp in fleet.gpu_cell]
        if len(gpus) != 1:
            raise AssertionError('claim without exactly one render slot')
        claimed[gpus[0]] += 1
        if len(instance_uuids) == 1:
            physnets = selection[0].limits.numa_topology.network_metadata
            if names.cell_token(fleet.gpu_cell[gpus[0]]) not in (
                    physnets.physnets):
                raise AssertionError('selection not pinned to GPU cell')
    for gpu_uuid, count in claimed.items():
        before = fleet.summaries[gpu_uuid]['resources'][
            names.RESOURCE_CLASS]['used']
        if view.get(gpu_uuid).used != before + count:
            raise AssertionError('provider view missed a claim')


# Output -------------------------------------------------------------------

def print_part1(results):
    print('Part 1: time per scheduling request (one phone: 2 vCPU, 2 GiB, '
          '1 render slot, hw:numa_nodes=1)')
    print('  "plugin" = GpuNumaAffinityFilter + GpuLoadWeigher run on the '
          'hosts NUMATopologyFilter kept, plus building the provider view '
          'from the provider summaries (the report-client wrap).')
    print('  IQR% = interquartile range / median.')
    header = ('%6s  %-34s %10s %10s %10s %6s'
              % ('hosts', 'what', 'median ms', 'min ms', 'max ms', 'IQR%'))
    print(header)
    print('-' * len(header))
    labels = (('numa', 'NUMATopologyFilter alone'),
              ('both', 'NUMATopologyFilter + plugin'),
              ('plugin', 'plugin only'),
              ('view', '  of which provider view build'))
    for size, (timings, stats, repeat) in results.items():
        for key, label in labels:
            print('%6d  %-34s %10.2f %10.2f %10.2f %6.1f'
                  % ((size, label) + timings.row(key)))
        print('%6s  %d hosts with candidates (%d candidates); '
              'NUMATopologyFilter kept %d (%d), plugin kept %d (%d); '
              '%d timed repetitions'
              % ('', stats['hosts'], stats['candidates'],
                 stats['numa_hosts'], stats['numa_candidates'],
                 stats['plugin_hosts'], stats['plugin_candidates'], repeat))
    print()
    print('Ratios of the medians [median, min-max of the ratios within '
          'each repetition]:')
    for size, (timings, _stats, _repeat) in results.items():
        numa = timings.median('numa')
        for key, label in (
                ('both', '(NUMATopologyFilter + plugin) / NUMATopologyFilter'),
                ('plugin', 'plugin only / NUMATopologyFilter')):
            ratios = timings.samples['ratio_' + key]
            print('  %4d hosts: %-51s = %.2f  [%.2f, %.2f-%.2f]'
                  % (size, label, timings.median(key) / numa,
                     statistics.median(ratios), min(ratios), max(ratios)))
    print()


def print_part2(counts):
    print('Part 2: Placement calls per select_destinations, counted at the '
          'HTTP layer of Nova\'s SchedulerReportClient')
    print('  Nova\'s SchedulerManager.select_destinations with its default '
          'filters + NUMATopologyFilter (+ GpuNumaAffinityFilter), all '
          'weighers (+ GpuLoadWeigher); hosts from synthetic compute '
          'nodes; any other HTTP request fails the run.')
    header = ('%6s  %-6s %9s %6s  %s'
              % ('hosts', 'plugin', 'instances', 'calls', 'calls by kind'))
    print(header)
    print('-' * len(header))
    for (size, plugin, instances), calls in counts.items():
        print('%6d  %-6s %9d %6d  %s'
              % (size, 'yes' if plugin else 'no', instances,
                 sum(calls.values()),
                 ', '.join('%s x%d' % (k, v)
                           for k, v in sorted(calls.items()))))
    print()


# Main ---------------------------------------------------------------------

def setup():
    CONF([], project='nova', default_config_files=[])
    objects.register_all()
    # Parsing a URL registers oslo.messaging's transport options; the
    # in-memory "fake" driver carries the scheduler's notifications.
    rpc.get_transport_url('fake:/')
    CONF.set_override('transport_url', 'fake:/')
    CONF.set_override('available_filters', [
        'nova.scheduler.filters.all_filters', PLUGIN_FILTER],
        group='filter_scheduler')
    # Above the sum of Nova's spreading weighers, as the docs advise.
    CONF.set_override('weight_multiplier', 4.0, group='gpu_numa')
    rpc.init(CONF)


#: (plugin enabled, instances) of each select_destinations in part 2.
REQUESTS = ((False, 1), (True, 1), (True, 2))


def measure_placement_calls(fleets):
    counts = {}
    # Outside the host manager the request filters read one thing from the
    # database: the minimum nova-compute version (owner_nova_filter). Every
    # compute of the synthetic fleet runs this Nova.
    with mock.patch.object(objects.service, 'get_minimum_version_all_cells',
                           return_value=objects.service.SERVICE_VERSION):
        for size, fleet in fleets.items():
            placement = CountingPlacement(fleet)
            report.PLACEMENTCLIENT = report.SchedulerReportClient(
                adapter=placement)
            for plugin, instances in REQUESTS:
                counts[(size, plugin, instances)] = count_placement_calls(
                    fleet, placement, plugin, instances)
    return counts


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--hosts', type=int, nargs='+', default=[100, 1000],
                        help='fleet sizes (default: 100 1000)')
    parser.add_argument('--repeat', type=int, default=None,
                        help='timed repetitions per size (default: 25 up '
                             'to 100 hosts, 9 above)')
    parser.add_argument('--seed', default='gpu-numa',
                        help='seed of the synthetic fleet')
    args = parser.parse_args(argv)
    setup()
    started = time.perf_counter()
    guard = HttpGuard()
    with mock.patch.object(ks_session.Session, 'request', guard.request):
        fleets = {size: Fleet(size, args.seed) for size in args.hosts}
        print('synthetic fleets built in %.1f s'
              % (time.perf_counter() - started))
        # Keep the fleets out of the collector's scans: each timed section
        # starts after a collection that then costs milliseconds, not 0.4 s.
        gc.collect()
        gc.freeze()
        results = {}
        for size, fleet in fleets.items():
            client = report.SchedulerReportClient(
                adapter=CountingPlacement(fleet))
            repeat = args.repeat or (25 if size <= 100 else 9)
            timings, stats = time_filters(fleet, client, repeat)
            results[size] = (timings, stats, repeat)
        print_part1(results)
        part2_started = time.perf_counter()
        counts = measure_placement_calls(fleets)
        print_part2(counts)
        print('part 2 took %.1f s' % (time.perf_counter() - part2_started))

    # Same calls, kind by kind, at every size, and with or without the
    # plugin; nothing but the stand-in was asked.
    equal = not guard.count and all(
        counts[(size, plugin, n)] == counts[(args.hosts[0], plugin, n)]
        for size in args.hosts for plugin, n in REQUESTS) and all(
        counts[(size, True, 1)] == counts[(size, False, 1)]
        for size in args.hosts)
    per_request = ', '.join(
        '%d hosts = %d' % (size, sum(counts[(size, True, 1)].values()))
        for size in args.hosts)
    print('HTTP requests that bypassed the Placement stand-in: %d'
          % guard.count)
    print('total run time: %.1f s' % (time.perf_counter() - started))
    print('placement calls per request: %s (equal: %s)'
          % (per_request, 'yes' if equal else 'no'))
    return 0 if equal else 1


if __name__ == '__main__':
    sys.exit(main())
