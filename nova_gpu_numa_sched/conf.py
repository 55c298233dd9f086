"""Options of the ``[gpu_numa]`` group, read by scheduler and compute."""

from oslo_config import cfg

from nova_gpu_numa_sched import names

gpu_numa_group = cfg.OptGroup(
    names.CONFIG_GROUP,
    title='GPU render node NUMA affinity',
    help="""
Options for placing guests that render through a host GPU's DRM render node
on the same host NUMA cell as that GPU, and for spreading them over GPUs.
""")

gpu_numa_opts = [
    cfg.IntOpt(
        'slots_per_gpu',
        default=8,
        min=1,
        help="""
How many guests one render node may serve at once.

Each render node adds this many ``CUSTOM_GPU_RENDER_SLOT`` units to the
compute node's resource provider in Placement, unless a ``device_spec``
entry gives its own ``slots``. Lowering it below the number of guests
already using a GPU reserves the excess instead of failing, so no
allocation is orphaned.
"""),
    cfg.MultiStrOpt(
        'device_spec',
        default=[],
        help="""
Select and describe render nodes, one JSON object per line.

Each object matches render nodes by ``devnode`` (for example
``"/dev/dri/renderD128"``) or ``pci_address`` (for example
``"0000:83:00.0"``; ``*`` wildcards are allowed in either). Optional keys:
``slots`` (int >= 0, overrides ``slots_per_gpu``; 0 hides the GPU) and
``numa_node`` (int >= 0, for firmware that reports no NUMA node). When any
entry is given, only matching render nodes are exposed.

Example::

    [gpu_numa]
    device_spec = {"pci_address": "0000:03:00.0", "numa_node": 0}
    device_spec = {"devnode": "/dev/dri/renderD129", "slots": 4}
"""),
    cfg.FloatOpt(
        'weight_multiplier',
        default=1.0,
        help="""
Multiplier of the GPU load weigher and of the order of GPUs within a host.

Positive values prefer the least loaded GPU (spread); negative values prefer
the most loaded GPU that still has a free slot (pack), so that idle GPUs can
be powered down. The scheduler tells the compute claim which way to choose
the render node. Host aggregate metadata ``gpu_numa_weight_multiplier``
overrides it per aggregate. Nova normalises each weigher to 0..1 before the
multiplier applies: to dominate the default RAM, CPU and disk weighers, use a
value larger than the sum of their multipliers.
"""),
    cfg.FloatOpt(
        'utilization_weight',
        default=0.5,
        min=0.0,
        max=1.0,
        help="""
Share of the measured GPU utilisation in a render node's load.

load = (1 - utilization_weight) * slot_usage + utilization_weight *
utilisation, both as fractions of 1. A GPU whose utilisation cannot be read
is weighed by slot usage alone. 0 ignores measured utilisation.
"""),
    cfg.IntOpt(
        'load_bucket_percent',
        default=10,
        min=1,
        max=100,
        help="""
Width of the utilisation buckets of the render nodes' load, in percent.

nova-compute publishes each render node's load as the lower bound of its
bucket in the compute node's stats, which the scheduler reads. Coarse
buckets keep the published load from changing on every periodic update.
"""),
    cfg.FloatOpt(
        'load_bucket_hysteresis_percent',
        default=5.0,
        min=0.0,
        max=100.0,
        help="""
Hysteresis of a render node's load bucket, in utilisation percent.

A render node keeps its load bucket until the reading leaves that bucket by
more than this margin (bucket 30 with width 10 and margin 5: the bucket
changes below 25 % or from 45 % on), so that a reading that jitters around a
bucket boundary does not change the published load, and the GPU the
scheduler and the compute claim prefer, on every update. 0 publishes the
bucket of every reading.
"""),
]


def register_opts(conf):
    conf.register_group(gpu_numa_group)
    conf.register_opts(gpu_numa_opts, group=gpu_numa_group)


def list_opts():
    """Entry point of ``oslo.config.opts`` for oslo-config-generator."""
    return [(gpu_numa_group, gpu_numa_opts)]


CONF = cfg.CONF
register_opts(CONF)
