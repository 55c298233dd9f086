"""A client of the one-machine cloud of ``tools/cloud.sh``.

Everything goes through the interfaces an operator has: Keystone
credentials from ``.cloud/admin-openrc`` (one keystoneauth session, REST
calls to Nova, Placement and Glance), the controller's
``.cloud/etc/nova.conf`` for the MariaDB databases, the domain XML the fake
hypervisor writes to ``.cloud/domains/`` and ``tools/cloud.sh`` to stop and
start services. Used by ``tests/cloud``, ``demo.cloud`` and
``benchmarks/cloud_throughput.py``.
"""

import configparser
import datetime
import glob
import json
import os
import shlex
import subprocess
import time
import urllib.parse

from keystoneauth1 import adapter
from keystoneauth1.identity import v3
from keystoneauth1 import session as ks_session

from nova_gpu_numa_sched import names

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
CLOUD_DIR = os.environ.get('GPU_NUMA_CLOUD_DIR',
                           os.path.join(REPO_ROOT, '.cloud'))
CLOUD_SH = os.path.join(REPO_ROOT, 'tools', 'cloud.sh')
OPENRC = os.path.join(CLOUD_DIR, 'admin-openrc')
NOVA_CONF = os.path.join(CLOUD_DIR, 'etc', 'nova.conf')
DOMAINS_DIR = os.path.join(CLOUD_DIR, 'domains')
LOGS_DIR = os.path.join(CLOUD_DIR, 'logs')
#: The cloud's own virtual environment: its services and the clients.
CLOUD_BIN = os.path.join(CLOUD_DIR, 'venv', 'bin')

#: 2.37: ``networks: none``; 2.53: force down by service id; 2.56: cold
#: migration to a named host; 2.79 is far below Nova 34's maximum.
COMPUTE_MICROVERSION = '2.79'
#: 1.39: allocation candidates and usages with consumer types.
PLACEMENT_MICROVERSION = '1.39'

#: Seconds a phone may take from create to ACTIVE or ERROR on CI's
#: 2 cores, with several phones building at once.
BOOT_BOUND = 180
#: Seconds a deleted phone may take to be gone.
DELETE_BOUND = 120


def parse_time(text):
    """A naive UTC datetime of Nova's timestamps (with or without zone)."""
    text = text.rstrip('Z')
    if '+' in text[10:]:
        text = text[:10] + text[10:].split('+')[0]
    return datetime.datetime.fromisoformat(text)


class CloudError(Exception):
    """The cloud is not there, or answered what a client cannot use."""


def openrc(path=OPENRC):
    """The ``OS_*`` variables an openrc file exports, as a dict."""
    if not os.path.exists(path):
        raise CloudError('%s is missing: is the cloud up '
                         '(tools/cloud.sh up)?' % path)
    env = {}
    with open(path) as f:
        for line in f:
            words = shlex.split(line, comments=True)
            if words[:1] == ['export']:
                words = words[1:]
            for word in words:
                name, sep, value = word.partition('=')
                if sep and name.startswith('OS_'):
                    env[name] = value
    return env


def client_env():
    """This process's environment plus the admin credentials."""
    env = dict(os.environ)
    env.update(openrc())
    env['PATH'] = CLOUD_BIN + os.pathsep + env.get('PATH', '')
    return env


def nova_conf(path=NOVA_CONF):
    parser = configparser.RawConfigParser(strict=False)
    if not parser.read(path):
        raise CloudError('%s is missing: is the cloud up?' % path)
    return parser


class Cloud:
    """One Keystone session and adapters for the services the tests use."""

    def __init__(self):
        env = openrc()
        auth = v3.Password(
            auth_url=env['OS_AUTH_URL'],
            username=env['OS_USERNAME'], password=env['OS_PASSWORD'],
            project_name=env['OS_PROJECT_NAME'],
            user_domain_name=env.get('OS_USER_DOMAIN_NAME', 'Default'),
            project_domain_name=env.get('OS_PROJECT_DOMAIN_NAME',
                                        'Default'))
        self.session = ks_session.Session(auth=auth)
        interface = env.get('OS_INTERFACE', 'public')
        region = env.get('OS_REGION_NAME')
        self.compute = adapter.Adapter(
            self.session, service_type='compute', interface=interface,
            region_name=region, default_microversion=COMPUTE_MICROVERSION,
            raise_exc=False)
        self.placement = adapter.Adapter(
            self.session, service_type='placement', interface=interface,
            region_name=region,
            default_microversion=PLACEMENT_MICROVERSION,
            raise_exc=False)
        self.image = adapter.Adapter(
            self.session, service_type='image', interface=interface,
            region_name=region, raise_exc=False)

    # REST -----------------------------------------------------------------

    @staticmethod
    def _json(resp, what):
        if resp.status_code >= 400:
            raise CloudError('%s: HTTP %d %s' % (what, resp.status_code,
                                                 resp.text[:500]))
        return resp.json() if resp.content else {}

    def nova(self, method, path, body=None, microversion=None):
        kwargs = {'json': body} if body is not None else {}
        if microversion:
            kwargs['microversion'] = microversion
        resp = self.compute.request(path, method, **kwargs)
        return self._json(resp, '%s %s' % (method, path))

    def placement_get(self, path):
        return self._json(self.placement.get(path), 'GET ' + path)

    # Flavors, images, servers --------------------------------------------

    def image_id(self, key='id'):
        """The id (or ``key``) of the image service's first image."""
        images = self._json(self.image.get('/v2/images'),
                            'GET /v2/images')['images']
        if not images:
            raise CloudError('the image service holds no image')
        return images[0][key]

    def create_flavor(self, name, vcpus=1, ram=512, disk=1, extra_specs=None):
        """A private flavor with ``extra_specs``; replaces one of that name."""
        for flavor in self.nova('GET', '/flavors?is_public=None')['flavors']:
            if flavor['name'] == name:
                self.nova('DELETE', '/flavors/%s' % flavor['id'])
        flavor = self.nova('POST', '/flavors', {'flavor': {
            'name': name, 'vcpus': vcpus, 'ram': ram, 'disk': disk}})[
            'flavor']
        if extra_specs:
            self.nova('POST', '/flavors/%s/os-extra_specs' % flavor['id'],
                      {'extra_specs': extra_specs})
        return flavor['id']

    def delete_flavor(self, flavor_id):
        self.compute.delete('/flavors/%s' % flavor_id)

    def create_servers(self, name, flavor, image, count=1, **extra):
        """One create request for ``count`` phones; their reservation id."""
        server = {'name': name, 'flavorRef': flavor, 'imageRef': image,
                  'networks': 'none', 'min_count': count,
                  'max_count': count, 'return_reservation_id': True}
        server.update(extra)
        return self.nova('POST', '/servers', {'server': server})[
            'reservation_id']

    def servers(self, **filters):
        """Every server (all projects) matching ``filters``, with details."""
        query = dict(filters, all_tenants='1')
        return self.nova('GET', '/servers/detail?' +
                         urllib.parse.urlencode(query))['servers']

    def server(self, server_id):
        return self.nova('GET', '/servers/%s' % server_id)['server']

    def wait_for_servers(self, bound=BOOT_BOUND, settled=('ACTIVE', 'ERROR'),
                         count=None, **filters):
        """Poll until every matching server is in ``settled``.

        Returns the servers as last seen; the caller asserts on them (one
        still building after ``bound`` seconds is returned as it is).
        """
        deadline = time.monotonic() + bound
        while True:
            servers = self.servers(**filters)
            done = (all(s['status'] in settled and
                        not s.get('OS-EXT-STS:task_state') for s in servers)
                    and (count is None or len(servers) >= count))
            if done or time.monotonic() > deadline:
                return servers
            time.sleep(1)

    def wait_for_server(self, server_id, statuses, bound=BOOT_BOUND):
        deadline = time.monotonic() + bound
        while True:
            server = self.server(server_id)
            if (server['status'] in statuses and
                    not server.get('OS-EXT-STS:task_state')):
                return server
            if time.monotonic() > deadline:
                return server
            time.sleep(1)

    def delete_servers(self, servers, bound=DELETE_BOUND):
        """Delete ``servers`` (ids or dicts); wait until they are gone."""
        ids = {s['id'] if isinstance(s, dict) else s for s in servers}
        for server_id in ids:
            self.compute.delete('/servers/%s' % server_id)
        deadline = time.monotonic() + bound
        while ids and time.monotonic() < deadline:
            left = {s['id'] for s in self.servers()}
            ids &= left
            if ids:
                time.sleep(1)
        return ids

    def action(self, server_id, body):
        return self.nova('POST', '/servers/%s/action' % server_id, body)

    # Compute services ------------------------------------------------------

    def compute_services(self):
        return self.nova('GET', '/os-services?binary=nova-compute')[
            'services']

    def set_forced_down(self, host, down):
        for service in self.compute_services():
            if service['host'] == host:
                self.nova('PUT', '/os-services/%s' % service['id'],
                          {'forced_down': down}, microversion='2.53')
                return
        raise CloudError('no nova-compute service on %s' % host)

    def compute_up(self, host):
        return any(service['host'] == host and service['state'] == 'up' and
                   not service.get('forced_down')
                   for service in self.compute_services())

    def wait_for_service(self, host, state, bound=120, since=None):
        """Wait until the compute service on ``host`` is ``up``/``down``.

        ``since``: a naive UTC datetime (``utcnow()``); the service must
        also have reported after it (a restarted process, not the old
        one's last report).
        """
        deadline = time.monotonic() + bound
        while time.monotonic() < deadline:
            for service in self.compute_services():
                if (service['host'] == host and service['state'] == state
                        and (since is None or (
                            service['updated_at'] and
                            parse_time(service['updated_at']) > since))):
                    return True
            time.sleep(2)
        return False

    @staticmethod
    def utcnow():
        return datetime.datetime.now(datetime.timezone.utc).replace(
            tzinfo=None)

    # Placement ---------------------------------------------------------

    def providers(self):
        return self.placement_get('/resource_providers')[
            'resource_providers']

    def allocations(self, consumer):
        return self.placement_get('/allocations/%s' % consumer)[
            'allocations']

    def provider_allocations(self, rp_uuid):
        return self.placement_get(
            '/resource_providers/%s/allocations' % rp_uuid)['allocations']

    def traits(self, rp_uuid):
        return self.placement_get(
            '/resource_providers/%s/traits' % rp_uuid)['traits']

    def inventories(self, rp_uuid):
        return self.placement_get(
            '/resource_providers/%s/inventories' % rp_uuid)['inventories']

    def usages(self, rp_uuid):
        return self.placement_get(
            '/resource_providers/%s/usages' % rp_uuid)['usages']

    # The fake hypervisor's domains ------------------------------------------

    @staticmethod
    def domain_xml(server_id):
        """The XML Nova defined for a server, as ``virsh dumpxml`` shows."""
        path = os.path.join(DOMAINS_DIR, '%s.xml' % server_id)
        try:
            with open(path) as f:
                return f.read()
        except FileNotFoundError:
            return None


# Databases ------------------------------------------------------------------

def _connect(url):
    """A PyMySQL connection for an SQLAlchemy ``mysql+pymysql://`` URL."""
    import pymysql
    from sqlalchemy.engine import make_url
    url = make_url(url)
    return pymysql.connect(
        host=url.host or 'localhost', port=url.port or 3306,
        user=url.username, password=url.password, database=url.database,
        autocommit=True, connect_timeout=10)


class Databases:
    """Nova's API database and the cell1 database, as nova.conf names."""

    def __init__(self):
        conf = nova_conf()
        self._api_url = conf.get('api_database', 'connection')
        self._cell_url = None

    def _cell1_url(self):
        if self._cell_url is None:
            rows = self.query(self._api_url,
                              "SELECT database_connection FROM "
                              "cell_mappings WHERE name = 'cell1'")
            if not rows:
                raise CloudError('no cell1 in the API database')
            self._cell_url = rows[0][0]
        return self._cell_url

    @staticmethod
    def query(url, sql, args=()):
        connection = _connect(url)
        try:
            with connection.cursor() as cursor:
                cursor.execute(sql, args)
                return cursor.fetchall()
        finally:
            connection.close()

    def cell1(self, sql, args=()):
        return self.query(self._cell1_url(), sql, args)

    def instance_cells(self, server_id):
        """Host cells of the instance's claimed NUMA topology (cell1)."""
        rows = self.cell1('SELECT numa_topology FROM instance_extra '
                          'WHERE instance_uuid = %s', (server_id,))
        if not rows or not rows[0][0]:
            return []
        topology = json.loads(rows[0][0])['nova_object.data']
        return [cell['nova_object.data']['id']
                for cell in topology['cells']]

    def render_slots(self, server_id):
        """Identifiers of the render slots the instance holds (cell1)."""
        rows = self.cell1('SELECT resources FROM instance_extra '
                          'WHERE instance_uuid = %s', (server_id,))
        if not rows or not rows[0][0]:
            return []
        resources = json.loads(rows[0][0])['nova_object.data']['objects']
        return [res['nova_object.data']['identifier']
                for res in resources
                if res['nova_object.data']['resource_class'] ==
                names.RESOURCE_CLASS]

    def render_nodes(self, hypervisor_hostname):
        """{render node key: published facts} of a compute node (cell1)."""
        rows = self.cell1('SELECT stats FROM compute_nodes WHERE '
                          'hypervisor_hostname = %s AND deleted = 0',
                          (hypervisor_hostname,))
        if not rows or not rows[0][0]:
            return {}
        value = json.loads(rows[0][0]).get(names.RENDER_NODES_STAT)
        return json.loads(value) if value else {}

    def host_cell_cpus(self, host):
        """{cell id: host CPUs} of a compute node, as it reported them."""
        rows = self.cell1('SELECT numa_topology FROM compute_nodes WHERE '
                          'host = %s AND deleted = 0', (host,))
        if not rows or not rows[0][0]:
            raise CloudError('compute node %s reports no NUMA topology'
                             % host)
        cells = {}
        for cell in json.loads(rows[0][0])['nova_object.data']['cells']:
            data = cell['nova_object.data']
            cells[data['id']] = set(data.get('cpuset', [])) | set(
                data.get('pcpuset', []))
        return cells


# tools/cloud.sh -----------------------------------------------------------

def cloud_sh(*args, check=True, timeout=300):
    """Run ``tools/cloud.sh ARGS``; its combined output."""
    proc = subprocess.run(['bash', CLOUD_SH] + list(args),
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, timeout=timeout,
                          cwd=REPO_ROOT)
    if check and proc.returncode:
        raise CloudError('tools/cloud.sh %s exited %d:\n%s' % (
            ' '.join(args), proc.returncode, proc.stdout[-2000:]))
    return proc.stdout


def run_cli(argv, env=None, timeout=300):
    """Run a client of the cloud's venv with the admin credentials.

    ``openstack``, ``nova-gpu-numa``: the CompletedProcess, output as text.
    """
    argv = list(argv)
    argv[0] = os.path.join(CLOUD_BIN, argv[0])
    return subprocess.run(argv, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True,
                          env=env or client_env(), timeout=timeout,
                          cwd=REPO_ROOT)


def kill_service(name):
    """SIGKILL one service of the cloud (``tools/cloud.sh kill NAME``)."""
    return cloud_sh('kill', name)


def restart_service(name):
    """Stop (if running) and start one service, waiting until it serves."""
    return cloud_sh('restart', name)


def log_size(name):
    """Bytes in a service's log now: where to read from after a restart."""
    try:
        return os.path.getsize(os.path.join(LOGS_DIR, '%s.log' % name))
    except FileNotFoundError:
        return 0


def log_since(name, offset):
    with open(os.path.join(LOGS_DIR, '%s.log' % name), errors='replace') as f:
        f.seek(offset)
        return f.read()


def hypervisor_domains(host):
    """Servers whose domain the fake hypervisor of ``host`` keeps defined.

    What ``virsh list --all`` would show there.
    """
    return {os.path.basename(path)[:-len('.xml')]
            for path in glob.glob(os.path.join(CLOUD_DIR, 'state', host,
                                               'domains', '*.xml'))}
