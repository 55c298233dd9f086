"""Validate the plugin's extra specs at the API, naming the key.

Nova's generic ``resources{group}:CUSTOM_*`` validator rejects a bad value
with a message that does not say which extra spec was wrong; a flavor
author setting several specs at once deserves the key. The same goes for
``gpu_numa:affinity_policy`` (whose message also lists the allowed values)
and for a key of the ``gpu_numa`` namespace that does not exist (Nova
rejects it once the namespace has a validator; the message here also
lists the keys that do exist). Loaded by nova-api through the
``nova.api.extra_spec_validators`` entry point.

The unsuffixed key is always served by this validator (Nova looks names up
exactly first); for a suffixed group Nova may pick its generic validator,
which still rejects the value, in its own words.
"""

from nova.api.validation.extra_specs import base
from nova import exception

from nova_gpu_numa_sched import names

_DESCRIPTION = (
    'GPU render slots requested: one slot of a host GPU render node, on '
    'a NUMA cell of the guest (needs hw:numa_nodes set, 1 or more).')

_POLICY_DESCRIPTION = (
    'What to do when no host can put the render node, vCPUs, emulator '
    'thread and RAM on one NUMA cell. "required" (the default): do not '
    'place the guest. "preferred": co-locate whenever any host can; else '
    'place the render node on another cell than the guest, with a '
    'warning. "socket": co-locate whenever the render node\'s cell can '
    'hold the guest; else use another cell of the same CPU socket, never '
    'another socket.')


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


class PolicyValidator(base.ExtraSpecValidator):
    """One of the affinity policies, or a message naming key and values."""

    def validate(self, name, value):
        if value not in self.value['enum']:
            raise exception.ValidationError(
                f"Validation failed; extra spec '{name}' must be one of: "
                f"{', '.join(self.value['enum'])}; got '{value}'.")
        super().validate(name, value)


class UnknownKeyValidator(base.ExtraSpecValidator):
    """Any other key of the namespace: refused, naming the known ones."""

    def validate(self, name, value):
        raise exception.ValidationError(
            f"Validation failed; extra spec '{name}' is not a known "
            f"'{names.EXTRA_SPEC_NAMESPACE}' extra spec; known: "
            f"'{names.AFFINITY_POLICY_KEY}' (one of: "
            f"{', '.join(names.AFFINITY_POLICIES)}).")


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
        PolicyValidator(
            name=names.AFFINITY_POLICY_KEY,
            description=_POLICY_DESCRIPTION,
            value={'type': str, 'enum': list(names.AFFINITY_POLICIES),
                   'description': 'the affinity policy'}),
        # Looked up only when no exact name matches.
        UnknownKeyValidator(
            name='%s:{key}' % names.EXTRA_SPEC_NAMESPACE,
            description='Not a known extra spec of this plugin.',
            value={'type': str},
            parameters=[{'name': 'key', 'pattern': r'.+'}]),
    ]
