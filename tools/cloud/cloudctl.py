"""The Python half of tools/cloud.sh: configs, catalog, image, waits.

Runs in the cloud's venv (.cloud/venv). One process per step saves the
start-up of an ``openstack`` command per call (about a second each).

    cloudctl.py render              write .cloud/etc from tools/cloud/etc
    cloudctl.py catalog             services, endpoints and users in Keystone
    cloudctl.py finish N S          upload the small raw image to Glance,
                                    then wait up to S seconds until N
                                    computes are up and in Placement

Settings come from the environment tools/cloud.sh exports (CLOUD_DIR,
CLOUD_PASSWORD, the ports).
"""

import os
import re
import shutil
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TEMPLATES = os.path.join(HERE, 'etc')
HOSTS = os.path.join(HERE, 'hosts')

#: Users of the services, all in project "service" with the admin role.
SERVICE_USERS = ('nova', 'placement', 'glance', 'neutron')
#: Catalog: service name, type, port variable, path after the port.
SERVICES = (
    ('nova', 'compute', 'NOVA_PORT', '/v2.1'),
    ('placement', 'placement', 'PLACEMENT_PORT', ''),
    ('glance', 'image', 'GLANCE_PORT', ''),
    ('neutron', 'network', 'NEUTRON_PORT', ''),
)
IMAGE_NAME = 'phone-raw'
REGION = 'RegionOne'


def env(name):
    try:
        return os.environ[name]
    except KeyError:
        raise SystemExit('cloudctl: %s is not set (run tools/cloud.sh)' %
                         name)


def compute_hosts():
    """Host names of the host descriptions, compute-1 first."""
    return sorted(os.path.splitext(name)[0] for name in os.listdir(HOSTS)
                  if name.endswith('.yaml'))


# render ---------------------------------------------------------------------

def render_text(text, values):
    """Replace @NAME@ by values[NAME] and @AUTHTOKEN:user@ by its block."""
    def authtoken(match):
        with open(os.path.join(TEMPLATES, 'authtoken.inc')) as f:
            block = f.read().rstrip('\n')
        return block.replace('@SERVICE_USER@', match.group(1))

    text = re.sub(r'@AUTHTOKEN:(\w+)@', authtoken, text)

    def value(match):
        if match.group(1) not in values:
            raise SystemExit('cloudctl: no value for @%s@' % match.group(1))
        return values[match.group(1)]

    return re.sub(r'@([A-Z_]+)@', value, text)


def render(values=None):
    cloud = env('CLOUD_DIR')
    values = values or {
        'CLOUD': cloud, 'PASSWORD': env('CLOUD_PASSWORD'),
        'DB': 'mysql+pymysql://cloud:%s@127.0.0.1:%s' % (
            env('CLOUD_PASSWORD'), env('MYSQL_PORT')),
        'TRANSPORT_URL': 'rabbit://guest:guest@127.0.0.1:%s/' % env(
            'RABBIT_PORT'),
        'KEYSTONE_PORT': env('KEYSTONE_PORT'),
        'MEMCACHED_PORT': env('MEMCACHED_PORT'),
    }
    etc = os.path.join(cloud, 'etc')
    prefix = sys.prefix
    outputs = {
        'keystone.conf': 'keystone/keystone.conf',
        'placement.conf': 'placement/placement.conf',
        'glance-api.conf': 'glance/glance-api.conf',
        'neutron.conf': 'neutron/neutron.conf',
        'ml2_conf.ini': 'neutron/plugins/ml2/ml2_conf.ini',
        'nova.conf': 'nova.conf',
    }
    for template, target in outputs.items():
        with open(os.path.join(TEMPLATES, template)) as f:
            _write(os.path.join(etc, target), render_text(f.read(), values))
    with open(os.path.join(TEMPLATES, 'nova-compute.conf')) as f:
        compute = f.read()
    for host in compute_hosts():
        _write(os.path.join(etc, host + '.conf'),
               render_text(compute, dict(values, HOST=host)))
    # The paste pipelines the services ship.
    for source, target in (
            ('nova/api-paste.ini', 'nova/api-paste.ini'),
            ('glance/glance-api-paste.ini', 'glance/glance-api-paste.ini'),
            ('neutron/api-paste.ini', 'neutron/api-paste.ini')):
        os.makedirs(os.path.dirname(os.path.join(etc, target)),
                    exist_ok=True)
        shutil.copyfile(os.path.join(prefix, 'etc', source),
                        os.path.join(etc, target))
    _write(os.path.join(cloud, 'admin-openrc'), ''.join(
        'export %s=%s\n' % item for item in admin_env().items()))


def admin_env():
    return {
        'OS_AUTH_URL': 'http://127.0.0.1:%s/v3' % env('KEYSTONE_PORT'),
        'OS_USERNAME': 'admin', 'OS_PASSWORD': env('CLOUD_PASSWORD'),
        'OS_PROJECT_NAME': 'admin', 'OS_USER_DOMAIN_NAME': 'Default',
        'OS_PROJECT_DOMAIN_NAME': 'Default', 'OS_REGION_NAME': REGION,
        'OS_IDENTITY_API_VERSION': '3',
    }


def _write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        f.write(text)
    os.chmod(path, 0o600)


# catalog, image, waits ----------------------------------------------------

def admin_connection():
    import openstack
    settings = admin_env()
    return openstack.connect(
        auth_url=settings['OS_AUTH_URL'], username='admin',
        password=settings['OS_PASSWORD'], project_name='admin',
        user_domain_name='Default', project_domain_name='Default',
        region_name=REGION, identity_api_version='3')


def catalog():
    conn = admin_connection()
    identity = conn.identity
    project = identity.find_project('service') or identity.create_project(
        name='service', domain_id='default')
    # "service": what keystonemiddleware requires of the service token
    # Nova sends along ([service_user]); without it, 401 from Neutron.
    roles = [identity.find_role(name) or identity.create_role(name=name)
             for name in ('admin', 'service')]
    for name in SERVICE_USERS:
        user = identity.find_user(name, domain_id='default') or (
            identity.create_user(name=name, domain_id='default',
                                 password=env('CLOUD_PASSWORD')))
        for role in roles:
            identity.assign_project_role_to_user(project, user, role)
    for name, kind, port, path in SERVICES:
        service = identity.find_service(name) or identity.create_service(
            name=name, type=kind)
        url = 'http://127.0.0.1:%s%s' % (env(port), path)
        existing = {(e.interface, e.url) for e in identity.endpoints(
            service_id=service.id)}
        for interface in ('public', 'internal'):
            if (interface, url) not in existing:
                identity.create_endpoint(service_id=service.id, url=url,
                                         interface=interface,
                                         region_id=REGION)


def image(conn):
    if conn.image.find_image(IMAGE_NAME):
        return
    path = os.path.join(env('CLOUD_DIR'), 'state', IMAGE_NAME + '.img')
    with open(path, 'wb') as f:
        f.truncate(1024 * 1024)
    conn.image.create_image(
        name=IMAGE_NAME, filename=path, disk_format='raw',
        container_format='bare', visibility='public', use_import=False,
        wait=True)


def wait_computes(conn, count, timeout):
    """Until ``count`` nova-compute services are up and have providers."""
    deadline = time.monotonic() + timeout
    up = providers = []
    while time.monotonic() < deadline:
        up = sorted(s.host for s in conn.compute.services(
            binary='nova-compute') if s.state == 'up')
        names = {rp['name'] for rp in conn.placement.get(
            '/resource_providers').json()['resource_providers']}
        providers = [host for host in up if host in names]
        if len(providers) >= count:
            print(' '.join(providers))
            return
        time.sleep(1)
    raise SystemExit('cloudctl: after %d s, computes up: %s; with a '
                     'resource provider: %s' % (timeout, up or 'none',
                                                providers or 'none'))


def main(argv):
    if not argv:
        raise SystemExit(__doc__)
    if argv[0] == 'render':
        render()
    elif argv[0] == 'catalog':
        catalog()
    elif argv[0] == 'finish':
        conn = admin_connection()
        image(conn)
        wait_computes(conn, int(argv[1]), int(argv[2]))
    elif argv[0] == 'hosts':
        print(' '.join(compute_hosts()))
    else:
        raise SystemExit(__doc__)


if __name__ == '__main__':
    main(sys.argv[1:])
