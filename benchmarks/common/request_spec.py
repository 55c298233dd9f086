"""One RequestSpec builder for every benchmark.

The benchmarks hand Nova's scheduler the RequestSpec the conductor would:
a flavor, an Android image and the NUMA constraints Nova derives from them.
"""

import uuid as uuid_lib

from nova import objects
from nova.virt import hardware


def build(ctxt, name, vcpus, memory_mb, disk_gb, extra_specs,
          image_int=0x1a9e, flavorid=None, num_instances=1):
    """A RequestSpec for one flavor, as the conductor hands it over."""
    flavor = objects.Flavor(
        id=1, flavorid=flavorid or name, name=name, vcpus=vcpus,
        memory_mb=memory_mb, root_gb=disk_gb, ephemeral_gb=0,
        swap=0, rxtx_factor=1.0, vcpu_weight=0, disabled=False,
        is_public=True, description=None, projects=[],
        extra_specs=extra_specs)
    image = {'id': str(uuid_lib.UUID(int=image_int)), 'name': 'android',
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
