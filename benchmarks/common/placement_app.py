"""The real Placement service in this process, on a database of its own.

``openstack-placement``'s own WSGI application (``placement.deploy``), with
``noauth2``, its schema made by its own migrations (``sync_on_startup``)
on a SQLite file or on any database URL oslo.db takes (MariaDB through
PyMySQL: ``mysql+pymysql://...``). Requests go straight into the WSGI
pipeline with ``webob``: every middleware, the microversion handling, the
handlers and the SQL run; only the socket is skipped, so times are
Placement's own.

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
    """One in-process Placement application on ``db_path`` or ``url``.

    ``db_path``: a SQLite file, made anew; ``url``: an empty database on a
    server (``[placement_database] connection``).
    """

    def __init__(self, db_path=None, url=None):
        if (db_path is None) == (url is None):
            raise ValueError('give a SQLite file or a database URL')
        if url is None:
            if os.path.exists(db_path):
                os.unlink(db_path)
            url = 'sqlite:///%s' % os.path.abspath(db_path)
        self.db_path = db_path
        self.url = url
        self.conf = cfg.ConfigOpts()
        placement_conf.register_opts(self.conf)
        self.conf.set_default('connection', url, group='placement_database')
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

    @property
    def backend(self):
        """``sqlite`` or ``mysql``: the SQL dialect of the database."""
        return self.engine.dialect.name

    def configure(self, **options):
        """Set Placement options by name; the next request reads them.

        Names are those of ``[placement]``, or of ``[workarounds]`` for
        ``optimize_for_wide_provider_trees``.
        """
        for name, value in options.items():
            group = ('workarounds' if name in self.conf.workarounds
                     else 'placement')
            self.conf.set_override(name, value, group=group)

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
        mysql = self.backend == 'mysql'
        with self.engine.begin() as conn:
            if mysql:
                # InnoDB checks each row's foreign keys as it goes, and a
                # root provider refers to itself.
                conn.exec_driver_sql('SET FOREIGN_KEY_CHECKS = 0')
            for table in _FLEET_TABLES:
                conn.exec_driver_sql('DELETE FROM %s' % table)
            if mysql:
                conn.exec_driver_sql('SET FOREIGN_KEY_CHECKS = 1')

    def free_allocations(self):
        """Remove every allocation and consumer, keep the fleet."""
        with self.engine.begin() as conn:
            for table in ('allocations', 'consumers'):
                conn.exec_driver_sql('DELETE FROM %s' % table)
            conn.exec_driver_sql(
                'UPDATE resource_providers SET generation = 0')
