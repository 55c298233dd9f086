"""Demonstration: cloud phones on GPU hosts, with the plugin and without.

``python -m demo`` (from the repository root) runs Nova's own services in
one process on Nova's functional test fixtures: API, conductor, scheduler,
compute hosts with a fake libvirt that has GPU render nodes, and the real
Placement service. It boots a fleet of phones twice, once with the plugin
and once with stock Nova's placement, and prints where each phone's render
node, vCPUs, emulator thread and RAM ended up.
"""

# The demo runs on Nova's functional test fixtures: pick Nova's concurrency
# mode the way its test packages do, before anything imports eventlet (see
# tests/__init__.py).

# autopep8: off
from nova import monkey_patch ; monkey_patch.patch()  # noqa
# autopep8: on
