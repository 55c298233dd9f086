"""The real Placement service in this process, on a database file.

``openstack-placement``'s own WSGI application (``placement.deploy``), with
``noauth2``, its schema made by its own migrations (``sync_on_startup``)
on a SQLite file. Requests go straight into the WSGI pipeline with
``webob``: every middleware, the microversion handling, the handlers and
the SQL run; only the socket is skipped, so times are Placement's own.

The database engine of Placement is configured once per process
(``placement.db_api.configure`` runs once), so one process has one
Placement database; ``wipe()`` empties it between fleets.
"""

import json
import os

from oslo_config import cfg
from oslo_policy import opts as policy_opts
from placement import conf as placement_conf
from placement import db_api
from placement import deploy
import webob

#: Tables emptied by ``wipe()``, children first.
_FLEET_TABLES = ('allocations', 'consumers', 'projects', 'users',
                 'resource_provider_traits', 'resource_provider_aggregates',
                 'inventories', 'resource_providers')


class PlacementError(Exception):
    """Placement answered a request with an unexpected status."""


class Placement:
    """One in-process Placement application on ``db_path``."""

    def __init__(self, db_path):
        if os.path.exists(db_path):
            os.unlink(db_path)
        self.db_path = db_path
        self.conf = cfg.ConfigOpts()
        placement_conf.register_opts(self.conf)
        self.conf.set_default(
            'connection', 'sqlite:///%s' % os.path.abspath(db_path),
            group='placement_database')
        self.conf([], project='placement', default_config_files=[])
        self.conf.set_override('sync_on_startup', True,
                               group='placement_database')
        self.conf.set_override('auth_strategy', 'noauth2', group='api')
        policy_opts.set_defaults(self.conf, enforce_new_defaults=False)
        db_api.configure(self.conf)
        # Runs Placement's migrations to head, then syncs the standard
        # traits and resource classes, as ``placement-manage db sync``
        # and a starting service do.
        self.app = deploy.loadapp(self.conf)

    @property
    def engine(self):
        return db_api.get_placement_engine()

    def configure(self, **options):
        """Set ``[placement]`` options; the next request reads them."""
        for name, value in options.items():
            self.conf.set_override(name, value, group='placement')

    def request(self, method, path, body=None, version='1.39',
                expect=(200, 201, 204)):
        """Send one request through the WSGI pipeline; return JSON or None."""
        req = webob.Request.blank(path, method=method)
        req.headers['X-Auth-Token'] = 'admin'
        req.headers['OpenStack-API-Version'] = 'placement %s' % version
        req.headers['Accept'] = 'application/json'
        if body is not None:
            req.body = json.dumps(body).encode('utf-8')
            req.content_type = 'application/json'
        resp = req.get_response(self.app)
        if resp.status_int not in expect:
            raise PlacementError('%s %s -> %s: %s' % (
                method, path, resp.status, resp.text[:500]))
        if resp.body:
            return json.loads(resp.body)
        return None

    def get(self, path, **kwargs):
        return self.request('GET', path, **kwargs)

    def put(self, path, body, **kwargs):
        return self.request('PUT', path, body=body, **kwargs)

    def wipe(self):
        """Remove every provider, inventory, trait link and allocation."""
        with self.engine.begin() as conn:
            for table in _FLEET_TABLES:
                conn.exec_driver_sql('DELETE FROM %s' % table)

    def free_allocations(self):
        """Remove every allocation and consumer, keep the fleet."""
        with self.engine.begin() as conn:
            for table in ('allocations', 'consumers'):
                conn.exec_driver_sql('DELETE FROM %s' % table)
            conn.exec_driver_sql(
                'UPDATE resource_providers SET generation = 0')
