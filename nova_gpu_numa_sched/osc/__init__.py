"""The ``openstack gpu ...`` and ``openstack server gpu`` commands.

An OpenStackClient plugin (osc-lib and cliff): Placement through
osc-placement's client, Nova through the compute client of the
``openstack`` command, the fleet read by :mod:`nova_gpu_numa_sched.fleet_view`
as ``nova-gpu-numa status`` reads it.
"""
