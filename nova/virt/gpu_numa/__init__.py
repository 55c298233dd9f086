"""Compute driver shim: ``compute_driver = gpu_numa.GpuNumaLibvirtDriver``.

Nova imports ``compute_driver`` as ``nova.virt.<value>``, so the plugin's
driver must be reachable under the ``nova.virt`` package. This module is
installed into Nova's ``nova/virt/`` by a regular (non-editable) install of
nova-gpu-numa-sched; the plugin ships no ``nova/__init__.py`` or
``nova/virt/__init__.py`` of its own, and Nova's files stay untouched.
"""

from nova_gpu_numa_sched.compute.driver import GpuNumaLibvirtDriver  # noqa

__all__ = ['GpuNumaLibvirtDriver']
