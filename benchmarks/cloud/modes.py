"""Switch the running cloud between the plugin and stock Nova.

Through oslo.config's environment source (``OS_<GROUP>__<OPTION>``, read
before the config files), given to the restarted service by
``tools/cloud.sh restart``: no nova.conf is edited, and a restart without
these variables brings the cloud back to its own configuration.

* plugin: the cloud as ``tools/cloud.sh up`` configures it, the install
  guide's settings (GpuNumaTopologyFilter, GpuLoadWeigher, the plugin's
  driver with claim pinning);
* stock: the scheduler with Nova's own filters (NUMATopologyFilter in
  place of GpuNumaTopologyFilter) and weighers only, the computes with
  ``stock_driver.StockClaimsDriver``;
* ``[scheduler] workers``: 1 or 2.
"""

import os
import re

from tests.cloud import cloud as cloud_client

PLUGIN = 'plugin'
STOCK = 'stock'
#: ``stock_driver.DRIVER``, by name: importing the driver here would load
#: Nova before this client process picks its concurrency mode.
STOCK_DRIVER = 'gpu_numa_stock.StockClaimsDriver'


def _enabled_filters():
    """The cloud's enabled_filters, NUMATopologyFilter for the plugin's."""
    text = open(cloud_client.NOVA_CONF).read()
    match = re.search(r'^enabled_filters\s*=\s*(.*)$', text, re.M)
    filters = [f.strip() for f in match.group(1).split(',')]
    return ','.join('NUMATopologyFilter' if f.startswith('GpuNuma') else f
                    for f in filters)


def scheduler_env(kind, workers):
    env = {'OS_SCHEDULER__WORKERS': str(workers)} if workers else {}
    if kind == STOCK:
        env['OS_FILTER_SCHEDULER__ENABLED_FILTERS'] = _enabled_filters()
        env['OS_FILTER_SCHEDULER__WEIGHT_CLASSES'] = (
            'nova.scheduler.weights.all_weighers')
    return env


def compute_env(kind):
    if kind == STOCK:
        return {'OS_DEFAULT__COMPUTE_DRIVER': STOCK_DRIVER}
    return {}


def _restart(service, env):
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    try:
        cloud_client.restart_service(service)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def switch(cloud, kind, workers, computes):
    """Restart the scheduler and the computes in this mode; wait for them."""
    since = cloud.utcnow()
    _restart('nova-scheduler', scheduler_env(kind, workers))
    for host in computes:
        _restart(host, compute_env(kind))
    for host in computes:
        if not cloud.wait_for_service(host, 'up', bound=180, since=since):
            raise cloud_client.CloudError('%s did not come back' % host)


def restore(cloud, computes):
    """The cloud's own configuration again."""
    switch(cloud, None, None, computes)
