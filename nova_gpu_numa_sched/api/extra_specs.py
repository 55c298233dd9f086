"""Validate the render-slot extra spec at the API, naming the key.

Nova's generic ``resources{group}:CUSTOM_*`` validator rejects a bad value
with a message that does not say which extra spec was wrong; a flavor
author setting several specs at once deserves the key. Loaded by nova-api
through the ``nova.api.extra_spec_validators`` entry point.

The unsuffixed key is always served by this validator (Nova looks names up
exactly first); for a suffixed group Nova may pick its generic validator,
which still rejects the value, in its own words.
"""

from nova.api.validation.extra_specs import base
from nova import exception

from nova_gpu_numa_sched import names

_DESCRIPTION = (
    'GPU render slots requested: one slot of a host GPU render node, on '
    'the NUMA cell that holds the guest (needs hw:numa_nodes=1).')


class RenderSlotValidator(base.ExtraSpecValidator):
    """A non-negative integer, or a message naming the extra spec."""

    def validate(self, name, value):
        try:
            amount = int(value)
        except (TypeError, ValueError):
            amount = -1
        if amount < 0:
            raise exception.ValidationError(
                f"Validation failed; extra spec '{name}' must be an integer "
                f">= 0 (GPU render slots), got '{value}'.")
        super().validate(name, value)


def _validator(name, parameters):
    return RenderSlotValidator(
        name=name, description=_DESCRIPTION, value={'type': int},
        parameters=parameters)


def register():
    return [
        _validator('resources:%s' % names.RESOURCE_CLASS, []),
        _validator('resources{group}:%s' % names.RESOURCE_CLASS,
                   [{'name': 'group',
                     'pattern': r'[a-zA-Z0-9_-]{1,64}'}]),
    ]
