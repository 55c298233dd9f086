"""The requests: a phone with a render slot, a guest without one."""

import uuid as uuid_lib

from nova import context as nova_context
from nova import objects
from nova.virt import hardware

from benchmarks.scale import fleet as fleet_lib
from nova_gpu_numa_sched import names


def _spec(ctxt, name, extra_specs, num_instances):
    """A RequestSpec for a flavor, as the conductor hands it over."""
    flavor = objects.Flavor(
        id=1, flavorid=name, name=name, vcpus=fleet_lib.PHONE_VCPUS,
        memory_mb=fleet_lib.PHONE_MB, root_gb=fleet_lib.PHONE_DISK_GB,
        ephemeral_gb=0, swap=0, rxtx_factor=1.0, vcpu_weight=0,
        disabled=False, is_public=True, description=None, projects=[],
        extra_specs=extra_specs)
    image = {'id': str(uuid_lib.UUID(int=0x1a9e)), 'name': 'android',
             'status': 'active', 'container_format': 'bare',
             'disk_format': 'qcow2', 'min_ram': 0, 'min_disk': 0,
             'size': 2 << 30, 'properties': {}}
    image_meta = objects.ImageMeta.from_dict(image)
    spec = objects.RequestSpec.from_components(
        ctxt, str(uuid_lib.uuid4()), image, flavor,
        hardware.numa_get_constraints(flavor, image_meta),
        objects.InstancePCIRequests(requests=[]), {}, None, None,
        project_id=ctxt.project_id, user_id=ctxt.user_id)
    spec.num_instances = num_instances
    spec.is_bfv = False
    return spec


def phone_spec(ctxt, num_instances=1):
    """A phone: 2 vCPU, 2 GiB, one render slot, hw:numa_nodes=1."""
    return _spec(ctxt, 'phone.2c2g',
                 {'hw:numa_nodes': '1',
                  'resources:%s' % names.RESOURCE_CLASS: '1'},
                 num_instances)


def plain_spec(ctxt, num_instances=1):
    """The same guest without a render slot (Nova's NUMA filter decides)."""
    return _spec(ctxt, 'vm.2c2g', {'hw:numa_nodes': '1'}, num_instances)


def new_context():
    """A fresh request context: a new request id, as for each request."""
    return nova_context.RequestContext(
        user_id='bench-user', project_id='bench-project', is_admin=True)
