"""Flavors and RequestSpecs, as the conductor hands them to the scheduler.

A phone's flavor asks for one render slot and one guest NUMA cell; the
plugin's policies add ``gpu_numa:affinity_policy``. Stock Nova gets the
same flavor without it. Background VMs ask for one NUMA cell and no GPU.
"""

from nova import context as nova_context
from nova.scheduler import utils as scheduler_utils

from benchmarks.common import request_spec as request_spec_lib
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
    return request_spec_lib.build(
        ctxt, size.name, size.vcpus, size.memory_mb, size.disk_gb,
        extra_specs(size, policy), image_int=0xa9d701d)


class SpecCache:
    """One RequestSpec per size and policy: the filters leave it intact.

    With it, the ``ResourceRequest`` Nova's scheduler builds from it for
    the candidate query.
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
