"""Tests against the one-machine cloud of ``tools/cloud.sh``.

Nova's services run as separate processes there (API under uwsgi,
conductor, two scheduler workers, three nova-compute on the fake
hypervisor) with RabbitMQ, MariaDB, Keystone, Placement, Glance and
Neutron: these tests see the plugin across process boundaries, through the
interfaces an operator uses. ``tools/run-tests.sh`` brings the cloud up,
runs them one at a time (``tests.cloud.disruptive`` last: those kill and
restart services) and always brings it down.

Without a running cloud every test skips, unless GPU_NUMA_REQUIRE_CLOUD=1
(as the test command sets it), which turns the skip into a failure.
"""
