"""Placement through Nova's report client, for ``check``.

The compute nodes' render slots are read by
:mod:`nova_gpu_numa_sched.fleet_view` (a fixed number of requests whatever
the fleet size, shared with the ``openstack gpu`` commands); this module
gives it Nova's ``[placement]`` credentials and turns transport failures
into one-line command errors.
"""

from keystoneauth1 import exceptions as ks_exc
from openstack import exceptions as sdk_exc

from nova_gpu_numa_sched.cmd import common
from nova_gpu_numa_sched import fleet_view

MICROVERSION = fleet_view.MICROVERSION
Fleet = fleet_view.Fleet


class PlacementError(common.CommandError):
    """Placement could not be reached or refused a request."""


class Placement:
    """Placement through Nova's own report client and ``[placement]``."""

    def __init__(self):
        # Imported here: the report client pulls in most of the scheduler.
        from nova.scheduler.client import report
        try:
            self._client = report.SchedulerReportClient()
        except (ks_exc.ClientException, sdk_exc.SDKException) as e:
            raise PlacementError(
                'cannot reach Placement with the [placement] options of '
                'nova.conf: %s' % _one_line(e))
        #: Number of requests made, for tests and --debug.
        self.calls = 0

    def get(self, path):
        self.calls += 1
        try:
            resp = self._client.get(path, version=MICROVERSION)
        except ks_exc.Unauthorized as e:
            raise PlacementError(
                'Placement rejected the credentials of [placement] in '
                'nova.conf: %s' % _one_line(e))
        except (ks_exc.ClientException, sdk_exc.SDKException) as e:
            raise PlacementError(
                'cannot reach Placement (GET %s) with the [placement] '
                'options of nova.conf: %s' % (path, _one_line(e)))
        if resp is None:
            raise PlacementError('no answer from Placement for GET %s' % path)
        if resp.status_code in (401, 403):
            raise PlacementError(
                'Placement rejected the credentials of [placement] in '
                'nova.conf (HTTP %d on GET %s)' % (resp.status_code, path))
        if resp.status_code >= 400:
            raise PlacementError('Placement answered HTTP %d to GET %s: %s' % (
                resp.status_code, path, _one_line(resp.text)))
        return resp.json()

    def fleet(self, host=None):
        """The render slots of every compute node, or of one."""
        try:
            return fleet_view.read_fleet(self.get, host)
        except fleet_view.NotFound as e:
            raise common.CommandError(str(e))


def _one_line(error):
    return ' '.join(str(error).split()) or type(error).__name__
