"""Demonstration: cloud phones on GPU hosts, with the plugin and without.

``python -m demo`` (from the repository root) runs Nova's own services in
one process on Nova's functional test fixtures: API, conductor, scheduler,
compute hosts with a fake libvirt that has GPU render nodes, and the real
Placement service. It boots a fleet of phones twice, once with the plugin
and once with stock Nova's placement, and prints where each phone's render
node, vCPUs, emulator thread and RAM ended up.
"""
