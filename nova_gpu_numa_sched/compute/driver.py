"""The libvirt driver, taught about GPU render nodes and their NUMA cell."""

import copy

from nova import exception
from nova.virt.libvirt import driver as libvirt_driver
from oslo_log import log as logging

from nova_gpu_numa_sched import cell_limits
from nova_gpu_numa_sched.compute import claim_cell
from nova_gpu_numa_sched.compute import device_spec
from nova_gpu_numa_sched.compute import discovery
from nova_gpu_numa_sched.compute import guest_devices
from nova_gpu_numa_sched.compute import held_slots
from nova_gpu_numa_sched.compute import placement_report
from nova_gpu_numa_sched.compute import slot_choice
from nova_gpu_numa_sched.compute import utilization
from nova_gpu_numa_sched.compute.utilization import fdinfo
from nova_gpu_numa_sched.compute.utilization import once
from nova_gpu_numa_sched import conf
from nova_gpu_numa_sched import names

LOG = logging.getLogger(__name__)
CONF = conf.CONF


class GpuNumaLibvirtDriver(libvirt_driver.LibvirtDriver):
    """LibvirtDriver that reports render nodes and attaches them to guests.

    - discovers render nodes over libvirt's node-device API;
    - reports their slots on the compute node's provider, one resource
      per slot, and each render node's cell, use and load in the compute
      node's stats for the scheduler;
    - tags every host cell with a token so claims can be pinned to a cell,
      and has each claim choose a render node and pin the guest to its
      cell;
    - gives each guest its render node and refuses a guest whose NUMA cell
      is not the render node's (nor, for the ``socket`` policy, on its
      socket).
    """

    #: Where utilisation is read from; a test points them at fake trees.
    sysfs_root = '/sys'
    proc_root = '/proc'

    def __init__(self, virtapi, read_only=False):
        super().__init__(virtapi, read_only)
        # Parse now: a bad option must stop the service at start.
        self._device_spec = device_spec.parse(CONF.gpu_numa.device_spec)
        self._render_nodes = {}
        self._loads = {}
        #: {old provider uuid: render node key} after a reshape, until the
        #: resource tracker has moved the instances' slots (slot_choice).
        self.reshaped_render_providers = None
        self._layout = None
        self._held = None
        self._service_host = CONF.host
        # Keeps the previous fdinfo sample of each GPU, for busy deltas.
        self._fdinfo = fdinfo.FdinfoReader(self.proc_root)
        # The bucket each render node reported last, for hysteresis.
        self._load_buckets = utilization.LoadBuckets()
        self._utilization_failed = once.WarnOnce(LOG)
        # Slot hand-out and the render nodes' stats: also without pinning.
        slot_choice.install()
        claim_cell.install()

    def init_host(self, host):
        # Instances record the compute service's host, which need not be
        # the hypervisor's hostname.
        self._service_host = host
        return super().init_host(host)

    def _get_host_numa_topology(self):
        return cell_limits.add_cell_tokens(super()._get_host_numa_topology())

    def _host_cell_ids(self):
        topology = self._get_host_numa_topology()
        return [cell.id for cell in topology.cells] if topology else []

    def _refresh_render_nodes(self):
        """Rediscover render nodes; keep the last known ones on error."""
        try:
            discovered = discovery.discover_render_nodes(
                self._host.get_connection())
        except discovery.DiscoveryError as e:
            LOG.warning('%s; keeping the %d render node(s) known before.',
                        e, len(self._render_nodes))
            return list(self._render_nodes.values())
        nodes = device_spec.resolve(
            discovered, self._device_spec, self._host_cell_ids(),
            CONF.gpu_numa.slots_per_gpu)
        self._render_nodes = {node.key: node for node in nodes}
        return nodes

    def _held_slots(self, nodes, nodename):
        """Slots held by instances, read only when they could be dropped."""
        layout = {node.key: node.slots for node in nodes}
        shrinking = self._layout is None or any(
            layout.get(key, 0) < slots for key, slots in self._layout.items())
        if shrinking or self._held_outside(layout):
            self._held = held_slots.held_slots(self._service_host,
                                               nodename)
        self._layout = layout
        return self._held or set()

    def _held_outside(self, layout):
        """Whether a held slot is beyond the current layout (reserved)."""
        for identifier in self._held or ():
            key, index = placement_report.parse_slot(identifier)
            if index >= layout.get(key, 0):
                return True
        return False

    def _load_buckets_of(self, nodes):
        """{node key: load bucket or None}; never raises.

        read_all already turns any failure of a source into "unknown" for
        its render node; this guard is the last fence, so that a reading
        bug can never stop the render slots from being reported.
        """
        try:
            found = utilization.read_all(nodes, self.sysfs_root,
                                         self._fdinfo)
            return self._load_buckets.buckets(
                found, CONF.gpu_numa.load_bucket_percent,
                CONF.gpu_numa.load_bucket_hysteresis_percent)
        except Exception as e:
            self._utilization_failed(self._service_host, type(e).__name__,
                                     'Cannot read GPU utilisation; render '
                                     'nodes are reported without load: %s',
                                     e, exc_info=True)
            return {}

    def render_node_report(self):
        """({key: RenderNode}, {key: load bucket}) of the last update."""
        return dict(self._render_nodes), dict(self._loads)

    def update_provider_tree(self, provider_tree, nodename, allocations=None):
        super().update_provider_tree(provider_tree, nodename,
                                     allocations=allocations)
        if placement_report.legacy_providers(provider_tree, nodename):
            if allocations is None:
                # Render node providers of an earlier release: their
                # allocations move with them (at start-up only).
                raise exception.ReshapeNeeded()
            self.reshaped_render_providers = placement_report.reshape(
                provider_tree, nodename, allocations)
        nodes = self._refresh_render_nodes()
        placement_report.update_provider_tree(
            provider_tree, nodename, nodes,
            self._held_slots(nodes, nodename))
        self._loads = self._load_buckets_of(nodes)
        # LibvirtDriver keeps its own copy; keep the render slots in it.
        self.provider_tree = copy.deepcopy(provider_tree)

    def check_can_live_migrate_source(self, context, instance,
                                      dest_check_data,
                                      block_device_info=None):
        # QEMU blocks migration of a virgl GPU ("virgl is not yet
        # migratable"); fail the pre-check with a reason instead of
        # leaving the migration to fail inside libvirt.
        if held_slots.render_resources(instance.resources):
            raise exception.MigrationPreCheckError(
                reason='instance %s renders through a host GPU (%s); QEMU '
                       'cannot live migrate a virgl device. Use cold '
                       'migration or resize instead.' % (
                           instance.uuid, names.RESOURCE_CLASS))
        return super().check_can_live_migrate_source(
            context, instance, dest_check_data,
            block_device_info=block_device_info)

    def _render_node_of(self, instance):
        """The render node of the instance's allocated slot, or None."""
        slots = held_slots.render_resources(instance.resources)
        if not slots:
            return None
        keys = sorted({placement_report.node_key_of_slot(res.identifier)
                       for res in slots})
        if len(keys) > 1:
            LOG.warning('Instance %s holds slots on %d render nodes; QEMU '
                        'renders through one, using %s.', instance.uuid,
                        len(keys), keys[0])
        node = self._render_nodes.get(keys[0])
        if node is None:
            self._refresh_render_nodes()
            node = self._render_nodes.get(keys[0])
        if node is None:
            raise guest_devices.RenderNodeUnknown(
                instance=instance.uuid, slot=slots[0].identifier)
        return node

    def _get_guest_config(self, instance, *args, **kwargs):
        guest = super()._get_guest_config(instance, *args, **kwargs)
        node = self._render_node_of(instance)
        if node is not None:
            guest_devices.check_same_cell(instance, node,
                                          self._get_host_numa_topology)
            guest_devices.attach_render_node(guest, node.devnode)
            guest_devices.drop_insecure_loader_flag(guest)
        return guest
