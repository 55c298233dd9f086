"""nova-compute of the one-machine cloud, on a stand-in hypervisor.

Runs Nova's own nova-compute service with the plugin's driver (whatever
``compute_driver`` says) over Nova's fake libvirt
(``nova.tests.fixtures.libvirt``), patched the way Nova's functional libvirt
tests patch it, plus what a real libvirtd has and the fake lacks:

* the host's CPUs, NUMA cells, memory, huge pages and DRM render nodes come
  from one host description file (``tools/cloud/hosts/<host>.yaml``);
* domains survive a restart of this process: every defined domain's XML is
  kept in ``<state>/domains/`` and defined again at start, as libvirtd keeps
  them;
* the XML Nova defines for each guest is also written to
  ``<cloud>/domains/<server uuid>.xml``, to be read like ``virsh dumpxml``.

Usage::

    python tools/cloud/compute.py HOST_FILE CLOUD_DIR -- NOVA_ARGS...

Every other argument is nova-compute's (``--config-file`` ...).
"""

import os
import sys

# Nova 34's services run on native threads; the test fixtures must not pull
# in eventlet, which this switch forbids. It must be set before Nova loads.
os.environ['OS_NOVA_DISABLE_EVENTLET_PATCHING'] = '1'

from nova.cmd import compute as nova_compute  # noqa: E402  (patches first)

import glob  # noqa: E402
import io  # noqa: E402
from unittest import mock  # noqa: E402

# The package, not ``fixtures.nova``: it wires the fixtures' imports.
from nova.tests import fixtures as nova_fixtures  # noqa: E402
from nova.tests.fixtures import libvirt as fakelibvirt  # noqa: E402
import yaml  # noqa: E402

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))


def load_host(path):
    """The host description of ``path`` as a dict, with defaults filled."""
    with open(path) as f:
        host = yaml.safe_load(f)
    host.setdefault('sockets', 1)
    host.setdefault('threads_per_core', 1)
    host.setdefault('hugepages_2m_per_cell', 0)
    host.setdefault('render_nodes', [])
    for key in ('hostname', 'cells_per_socket', 'cores_per_cell',
                'memory_mb_per_cell'):
        if key not in host:
            raise SystemExit('%s: missing key %r' % (path, key))
    cells = host['sockets'] * host['cells_per_socket']
    for node in host['render_nodes']:
        if node.get('numa_node') is not None and not (
                0 <= node['numa_node'] < cells):
            raise SystemExit('%s: render node %s: numa_node %r is not one of '
                             'the host\'s %d cells' % (
                                 path, node.get('devnode'),
                                 node['numa_node'], cells))
    return host


def host_info(host):
    """fakelibvirt.HostInfo of a host description."""
    cells = host['sockets'] * host['cells_per_socket']
    cell_kb = host['memory_mb_per_cell'] * 1024
    huge_kb = host['hugepages_2m_per_cell'] * 2048
    pages = [(4, (cell_kb - huge_kb) // 4)]
    if host['hugepages_2m_per_cell']:
        pages.append((2048, host['hugepages_2m_per_cell']))
    info = fakelibvirt.HostInfo(
        cpu_nodes=host['cells_per_socket'], cpu_sockets=host['sockets'],
        cpu_cores=host['cores_per_cell'],
        cpu_threads=host['threads_per_core'], kB_mem=cell_kb * cells,
        mempages=[fakelibvirt.create_mempages(pages)
                  for _ in range(cells)])
    return info


class PersistentConnection(fakelibvirt.Connection):
    """Fake libvirt connection whose domains outlive the process."""

    def __init__(self, host, state_dir, dump_dir, **kwargs):
        self.state_dir = state_dir
        self.dump_dir = dump_dir
        os.makedirs(state_dir, exist_ok=True)
        os.makedirs(dump_dir, exist_ok=True)
        super().__init__('qemu:///system', host_info=host_info(host),
                         hostname=host['hostname'], **kwargs)

    def _path(self, uuid, suffix):
        return os.path.join(self.state_dir, uuid + suffix)

    def getInfo(self):
        # Real libvirt reports memory in MiB; the fake gives KiB, which
        # would make every host look 1024 times bigger to Nova.
        info = super().getInfo()
        info[1] = self.host_info.kB_mem // 1024
        return info

    def defineXML(self, xml):
        dom = super().defineXML(xml)
        uuid = dom.UUIDString()
        _write(self._path(uuid, '.xml'), xml)
        _write(os.path.join(self.dump_dir, uuid + '.xml'), xml)
        return dom

    def _undefine(self, dom):
        super()._undefine(dom)
        uuid = dom.UUIDString()
        for suffix in ('.xml', '.running'):
            _remove(self._path(uuid, suffix))
        # The guest may have been defined on another host meanwhile (a
        # move); its dump then belongs to that host.
        others = glob.glob(os.path.join(
            os.path.dirname(os.path.dirname(self.state_dir)), '*',
            'domains', uuid + '.xml'))
        if not others:
            _remove(os.path.join(self.dump_dir, uuid + '.xml'))

    def _mark_running(self, dom):
        super()._mark_running(dom)
        _write(self._path(dom.UUIDString(), '.running'), '')

    def _mark_not_running(self, dom):
        super()._mark_not_running(dom)
        _remove(self._path(dom.UUIDString(), '.running'))

    def restore(self):
        """Define again the domains a previous process defined."""
        for path in sorted(glob.glob(self._path('*', '.xml'))):
            with open(path) as f:
                xml = f.read()
            dom = fakelibvirt.Domain(connection=self, xml=xml)
            self._vms[dom.name()] = dom
            if os.path.exists(path[:-len('.xml')] + '.running'):
                dom.create()
        return len(self._vms)


def _write(path, text):
    tmp = path + '.tmp'
    with open(tmp, 'w') as f:
        f.write(text)
    os.replace(tmp, path)


def _remove(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def add_render_nodes(connection, host):
    """List the host's render nodes as DRM node devices, as libvirt does."""
    # The functional tests' helper, so both see the same node devices.
    sys.path.append(REPO_ROOT)
    from tests.functional import fake_drm
    drm = fake_drm.FakeDrmDevices(connection)
    drm.add(*(fake_drm.FakeGpu(devnode=node['devnode'],
                               pci_address=node.get('pci_address'),
                               numa_node=node.get('numa_node'))
              for node in host['render_nodes']))
    return drm


def _init_events_without_thread(self):
    # LibvirtFixture stubs Host._init_events out entirely, which leaves no
    # executor for delayed lifecycle events: every delete then fails. Keep
    # the executor, skip the event thread (the fake emits no events).
    from nova import thread_pool_factory
    self._delayed_executor = (
        thread_pool_factory.StaticallyDelayingCancellableTaskExecutorWrapper(
            delay=15, executor=thread_pool_factory.get_executor(
                thread_pool_factory.ExecutorType.DEFAULT)))


def stub_hypervisor(connection, total_kb):
    """What Nova's functional libvirt base patches, for a long-lived host."""
    sys.modules['libvirt'] = fakelibvirt
    for fixture in (nova_fixtures.LibvirtImageBackendFixture(),
                    nova_fixtures.LibvirtFixture(),
                    nova_fixtures.OSBrickFixture()):
        fixture.setUp()
    patches = [
        mock.patch('nova.virt.libvirt.host.Host._init_events',
                   _init_events_without_thread),
        mock.patch('nova.virt.libvirt.host.Host.get_connection',
                   return_value=connection),
        mock.patch('nova.virt.libvirt.host.Host._get_avail_memory_kb',
                   return_value=total_kb),
        mock.patch('nova.virt.libvirt.LibvirtDriver._create_image',
                   return_value=(False, False)),
        # No disk files to copy between hosts: cold migration and resize
        # move the guest as Nova's functional libvirt tests do.
        mock.patch('nova.virt.libvirt.LibvirtDriver.'
                   'migrate_disk_and_power_off', return_value='{}'),
        mock.patch('nova.virt.libvirt.LibvirtDriver._get_local_gb_info',
                   return_value={'total': 512, 'used': 0, 'free': 512}),
        mock.patch('nova.virt.libvirt.driver.libvirt_utils.'
                   'is_valid_hostname', return_value=True),
        mock.patch('nova.virt.libvirt.driver.libvirt_utils.file_open',
                   side_effect=lambda *a, **k: io.BytesIO(b'')),
        mock.patch('nova.privsep.utils.supports_direct_io',
                   return_value=True),
    ]
    for patch in patches:
        patch.start()


def point_plugin_at(state_dir):
    """Keep the plugin's utilisation readers off this machine's GPUs."""
    from nova_gpu_numa_sched.compute import driver
    driver.GpuNumaLibvirtDriver.sysfs_root = os.path.join(state_dir, 'sys')
    driver.GpuNumaLibvirtDriver.proc_root = os.path.join(state_dir, 'proc')


#: Drivers of this repository that ``compute_driver`` may name, as
#: ``<name>.<class>``: Nova 34 loads ``compute_driver`` only as
#: ``nova.virt.<name>``. ``benchmarks/cloud_throughput.py``'s stock runs
#: select the first (``benchmarks/cloud/modes.py``).
REPO_DRIVERS = {'gpu_numa_stock': 'benchmarks.cloud.stock_driver'}


def expose_repo_drivers():
    """Make :data:`REPO_DRIVERS` importable as ``nova.virt.<name>``."""
    import importlib
    import nova.virt
    if REPO_ROOT not in sys.path:
        sys.path.append(REPO_ROOT)
    for name, module_name in REPO_DRIVERS.items():
        module = importlib.import_module(module_name)
        sys.modules['nova.virt.%s' % name] = module
        setattr(nova.virt, name, module)


def main():
    if len(sys.argv) < 3 or '--' not in sys.argv:
        raise SystemExit(__doc__)
    split = sys.argv.index('--')
    host_file, cloud_dir = sys.argv[1:3]
    host = load_host(host_file)
    state_dir = os.path.join(cloud_dir, 'state', host['hostname'])
    connection = PersistentConnection(
        host, os.path.join(state_dir, 'domains'),
        os.path.join(cloud_dir, 'domains'))
    stub_hypervisor(connection, connection.host_info.kB_mem)
    add_render_nodes(connection, host)
    restored = connection.restore()
    point_plugin_at(state_dir)
    expose_repo_drivers()
    print('%s: %d CPUs, %d cells, %d MiB, %d render nodes, %d domains '
          'restored' % (host['hostname'], connection.host_info.cpus,
                        len(connection.host_info.numa_topology.cells),
                        connection.host_info.kB_mem // 1024,
                        len(host['render_nodes']), restored), flush=True)
    sys.argv = ['nova-compute'] + sys.argv[split + 1:]
    nova_compute.main()


if __name__ == '__main__':
    main()
