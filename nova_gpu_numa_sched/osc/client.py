"""Placement and Nova reads of the ``openstack gpu`` commands.

Placement goes through osc-placement's ``SessionClient`` (the auth, region
and interface options of ``openstack``, its version negotiation and its
errors); every request asks for :data:`fleet_view.MICROVERSION`. Nova goes
through the compute client that ``openstack`` gives (openstacksdk), at
:data:`COMPUTE_MICROVERSION`.
"""

from openstack import exceptions as sdk_exc
from openstack import utils as sdk_utils
from osc_lib import exceptions

from nova_gpu_numa_sched import fleet_view

#: 2.47: the server's embedded flavor carries its extra specs; 2.78: the
#: server topology API.
COMPUTE_MICROVERSION = '2.78'


class GpuNumaClient:
    """Placement (osc-placement) and Nova (openstacksdk) of one command."""

    def __init__(self, client_manager):
        self._manager = client_manager
        self._placement_client = None
        self._compute_client = None
        #: Placement requests made, not counting osc-placement's version
        #: negotiation; for --debug and tests.
        self.placement_calls = 0

    # Placement -----------------------------------------------------------

    def placement_get(self, path):
        """Decoded JSON of ``GET path`` at the fleet view's microversion."""
        if self._placement_client is None:
            # osc-placement negotiates its version when it makes the client.
            self._placement_client = self._manager.placement
        self.placement_calls += 1
        try:
            return self._placement_client.request(
                'GET', path, version=fleet_view.MICROVERSION).json()
        except exceptions.ClientException as e:
            raise exceptions.CommandError(
                'Placement answered HTTP %s to GET %s (microversion %s): '
                '%s' % (e.http_status, path, fleet_view.MICROVERSION,
                        e.message))

    def _placement(self, read, *args, **kwargs):
        try:
            return read(self.placement_get, *args, **kwargs)
        except fleet_view.NotFound as e:
            raise exceptions.CommandError(str(e))

    def fleet(self, host=None):
        """The render slots of every compute node (or of ``host``)."""
        return self._placement(fleet_view.read_fleet, host=host)

    def host_slots(self, name_or_uuid):
        """One compute node's render slots, reserved ones included."""
        return self._placement(fleet_view.read_host, name_or_uuid)

    def slot_consumers(self, provider_uuid):
        return self._placement(fleet_view.slot_consumers, provider_uuid)

    def render_allocation(self, consumer_uuid):
        return self._placement(fleet_view.render_allocation, consumer_uuid)

    # Nova ----------------------------------------------------------------

    @property
    def compute(self):
        if self._compute_client is None:
            self._compute_client = self._manager.compute
        return self._compute_client

    def _compute_get(self, path):
        if not sdk_utils.supports_microversion(self.compute,
                                               COMPUTE_MICROVERSION):
            raise exceptions.CommandError(
                'the compute API does not support microversion %s (server '
                'topology), which this command needs' % COMPUTE_MICROVERSION)
        response = self.compute.get(path, microversion=COMPUTE_MICROVERSION)
        sdk_exc.raise_from_response(response)
        return response.json()

    def server(self, name_or_id, all_projects=False):
        """The server's detail (host, embedded flavor) at 2.78."""
        try:
            found = self.compute.find_server(
                name_or_id, ignore_missing=False, all_projects=all_projects)
        except sdk_exc.NotFoundException as e:
            raise exceptions.CommandError(str(e))
        return self._compute_get('/servers/%s' % found.id)['server']

    def topology(self, server_id):
        """Nova's server topology: guest cells and the host cell of each."""
        return self._compute_get('/servers/%s/topology' % server_id)

    def server_names(self, uuids):
        """{uuid: name} of the servers among consumers (None: not one)."""
        names = {}
        for uuid in uuids:
            try:
                names[uuid] = self.compute.get_server(uuid).name
            except sdk_exc.NotFoundException:
                # A migration's allocation, or a server being deleted.
                names[uuid] = None
        return names
