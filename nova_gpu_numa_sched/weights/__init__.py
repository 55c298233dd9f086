"""Scheduler weighers of the plugin (load by import path)."""

from nova_gpu_numa_sched.weights.gpu_load import GpuLoadWeigher  # noqa: F401
