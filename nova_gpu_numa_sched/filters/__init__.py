"""Scheduler filters of the plugin (load by import path)."""

from nova_gpu_numa_sched.filters.gpu_numa_affinity import (  # noqa: F401
    GpuNumaAffinityFilter)
from nova_gpu_numa_sched.filters.gpu_numa_topology import (  # noqa: F401
    GpuNumaTopologyFilter)
