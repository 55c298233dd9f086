"""neutron-server's API application for uwsgi, mappers configured at load.

Listing ports reads ``Port.port_forwardings``, a backref SQLAlchemy adds
only when the mappers are configured, which the first query does. With no
agent or mechanism driver querying at start, a ``GET /v2.0/ports`` (which
Nova's API sends for every server) as first request would fail with
AttributeError; configure them once the application is loaded.
"""

from neutron.wsgi import api
from sqlalchemy import orm

application = api.application
orm.configure_mappers()
