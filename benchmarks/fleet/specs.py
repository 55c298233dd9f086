"""Flavors and RequestSpecs, as the conductor hands them to the scheduler.

A phone's flavor asks for one render slot and one guest NUMA cell; the
plugin's policies add ``gpu_numa:affinity_policy``. Stock Nova gets the
same flavor without it. Background VMs ask for one NUMA cell and no GPU.
"""

import uuid as uuid_lib

from nova import context as nova_context
from nova import objects
from nova.scheduler import utils as scheduler_utils
from nova.virt import hardware

from benchmarks.fleet import workload
from nova_gpu_numa_sched import names

STOCK = 'stock'


def extra_specs(size, policy):
    found = {'hw:numa_nodes': '1'}
    if size.kind == workload.PHONE:
        found['resources:%s' % names.RESOURCE_CLASS] = '1'
        if policy != STOCK:
            found[names.AFFINITY_POLICY_KEY] = policy
    return found


def _context():
    return nova_context.RequestContext(
        user_id='farm-user', project_id='farm-project', is_admin=True)


def request_spec(size, policy):
    """A RequestSpec for one boot of ``size`` under ``policy``."""
    ctxt = _context()
    flavor = objects.Flavor(
        id=1, flavorid=size.name, name=size.name, vcpus=size.vcpus,
        memory_mb=size.memory_mb, root_gb=size.disk_gb, ephemeral_gb=0,
        swap=0, rxtx_factor=1.0, vcpu_weight=0, disabled=False,
        is_public=True, description=None, projects=[],
        extra_specs=extra_specs(size, policy))
    image = {'id': str(uuid_lib.UUID(int=0xa9d701d)), 'name': 'android',
             'status': 'active', 'container_format': 'bare',
             'disk_format': 'qcow2', 'min_ram': 0, 'min_disk': 0,
             'size': 2 << 30, 'properties': {}}
    image_meta = objects.ImageMeta.from_dict(image)
    spec = objects.RequestSpec.from_components(
        ctxt, str(uuid_lib.uuid4()), image, flavor,
        hardware.numa_get_constraints(flavor, image_meta),
        objects.InstancePCIRequests(requests=[]), {}, None, None,
        project_id=ctxt.project_id, user_id=ctxt.user_id)
    spec.num_instances = 1
    spec.is_bfv = False
    return spec


class SpecCache:
    """One RequestSpec per size and policy: the filters leave it intact.

    With it, the ``ResourceRequest`` Nova's scheduler builds from it for
    the candidate query, which the plugin's provider view reads.
    """

    def __init__(self, policy):
        self.policy = policy
        self._specs = {}

    def get(self, size):
        """(RequestSpec, ResourceRequest) of one boot of ``size``."""
        found = self._specs.get(size.name)
        if found is None:
            spec = request_spec(size, self.policy)
            resources = scheduler_utils.resources_from_request_spec(
                _context(), spec, None, enable_pinning_translate=True)
            found = self._specs[size.name] = (spec, resources)
        return found
