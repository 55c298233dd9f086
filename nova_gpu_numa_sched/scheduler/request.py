"""Read a render request out of a RequestSpec."""

import re

from nova_gpu_numa_sched import names

# resources[SUFFIX]:CUSTOM_GPU_RENDER_SLOT, as Nova parses request groups.
_RENDER_KEY = re.compile(
    r'^resources([1-9][0-9]*|_[a-zA-Z0-9_-]+)?:%s$' % names.RESOURCE_CLASS)


def render_slots_requested(spec_obj):
    """Number of render slots the flavor asks for (0 if none)."""
    flavor = spec_obj.flavor
    extra_specs = (flavor.extra_specs or {}) if flavor else {}
    total = 0
    for key, value in extra_specs.items():
        if _RENDER_KEY.match(key):
            try:
                total += int(value)
            except (TypeError, ValueError):
                continue
    return total


def render_providers(candidate):
    """{provider uuid: slots} of the render providers in a candidate."""
    found = {}
    for rp_uuid, alloc in candidate['allocations'].items():
        amount = alloc['resources'].get(names.RESOURCE_CLASS)
        if amount:
            found[rp_uuid] = amount
    return found
