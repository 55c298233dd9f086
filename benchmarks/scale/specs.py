"""The requests: a phone with a render slot, a guest without one."""

from nova import context as nova_context

from benchmarks.common import request_spec as request_spec_lib
from benchmarks.scale import fleet as fleet_lib
from nova_gpu_numa_sched import names


def _spec(ctxt, name, extra_specs, num_instances):
    """A RequestSpec for a flavor, as the conductor hands it over."""
    return request_spec_lib.build(
        ctxt, name, fleet_lib.PHONE_VCPUS, fleet_lib.PHONE_MB,
        fleet_lib.PHONE_DISK_GB, extra_specs, num_instances=num_instances)


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
