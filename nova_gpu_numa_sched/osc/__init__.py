"""The ``openstack gpu ...`` and ``openstack server gpu`` commands.

An OpenStackClient plugin (osc-lib and cliff): Placement through
osc-placement's client, Nova through the compute client of the
``openstack`` command, the compute nodes' render slots read by
:mod:`nova_gpu_numa_sched.fleet_view`. Nova's REST API shows neither the
render nodes nova-compute publishes (compute node ``stats``) nor the slot
an instance holds (its ``resources``): per render node, ask
``nova-gpu-numa status`` on a controller.
"""
