"""Which render slots instances on this host hold, from Nova's database.

Needed only when the set of slots shrinks (a GPU vanished, fewer slots
configured): a slot still held must stay reported, or the resource tracker
fails every update with AssignedResourceNotFound.
"""

from nova import context as nova_context
from nova import objects

from nova_gpu_numa_sched import names


def render_resources(resources):
    """The render slots among an instance's assigned resources."""
    return [res for res in resources or ()
            if res.resource_class == names.RESOURCE_CLASS]


def held_slots(host, nodename):
    """Return the identifiers of the render slots held on this host."""
    ctxt = nova_context.get_admin_context()
    resources = []
    instances = objects.InstanceList.get_by_host(
        ctxt, host, expected_attrs=['resources', 'migration_context'])
    for instance in instances:
        resources.extend(render_resources(instance.resources))
        resources.extend(_migration_resources(instance.migration_context))
    migrations = objects.MigrationList.get_in_progress_and_error(
        ctxt, host, nodename)
    for migration in migrations:
        if migration.dest_compute != host:
            continue
        instance = objects.Instance.get_by_uuid(
            ctxt, migration.instance_uuid,
            expected_attrs=['migration_context'])
        resources.extend(_migration_resources(instance.migration_context))
    return {res.identifier for res in resources}


def _migration_resources(migration_context):
    if not migration_context:
        return []
    found = []
    for field in ('old_resources', 'new_resources'):
        if field in migration_context:
            found.extend(render_resources(
                getattr(migration_context, field)))
    return found
