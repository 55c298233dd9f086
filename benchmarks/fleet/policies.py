"""The policies compared, and the filters and weighers each one runs.

``stock``
    Nova without the plugin: ``NUMATopologyFilter`` and Nova's weighers;
    the scheduler claims the host's candidate (a render slot on its root
    provider), the compute claim's fit picks the cell and the slot lands
    on the first render node with room, whatever its cell.
``required`` / ``preferred``
    the plugin, with ``gpu_numa:affinity_policy`` set to that value in the
    phone flavors: the NUMA filters that ``README.rst`` tells operators to
    enable, Nova's weighers and ``GpuLoadWeigher`` with the multiplier the
    README advises. ``preferred`` is left out, and said so, when this tree's
    filter does not implement it.
"""

import os
import re

import nova.conf
from nova.scheduler import filters as nova_filters
from nova.scheduler.filters import numa_topology_filter
from nova.scheduler import weights as nova_weights

from benchmarks.fleet import specs
from nova_gpu_numa_sched import filters as plugin_filters
from nova_gpu_numa_sched import names
from nova_gpu_numa_sched.weights import gpu_load

CONF = nova.conf.CONF

README = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), 'README.rst')
#: What README.rst told operators when this benchmark was written.
DEFAULT_FILTERS = ('NUMATopologyFilter', 'GpuNumaAffinityFilter')
#: The README's advice: above the sum of Nova's spreading weighers.
WEIGHT_MULTIPLIER = 4.0

#: Filters of ``enabled_filters`` that pass every host of this simulation
#: (enabled services, no image, group or capability constraints).
_NEUTRAL_FILTERS = ('ComputeFilter', 'ComputeCapabilitiesFilter',
                    'ImagePropertiesFilter', 'ServerGroupAntiAffinityFilter',
                    'ServerGroupAffinityFilter')


def documented_filters(readme=README):
    """The NUMA filters of the README's ``enabled_filters``, in order."""
    try:
        with open(readme) as handle:
            text = handle.read()
    except OSError:
        return DEFAULT_FILTERS
    match = re.search(r'^\s*enabled_filters\s*=\s*(\S+)', text, re.M)
    if not match:
        return DEFAULT_FILTERS
    found = tuple(name for name in match.group(1).split(',')
                  if name and name not in _NEUTRAL_FILTERS)
    return found or DEFAULT_FILTERS


def filter_class(name):
    if name == 'NUMATopologyFilter':
        return numa_topology_filter.NUMATopologyFilter
    cls = getattr(plugin_filters, name, None)
    if cls is None:
        raise ValueError('README.rst enables filter %r, which neither Nova '
                         'nor nova_gpu_numa_sched.filters has' % name)
    return cls


def nova_weighers():
    """Nova's default ``weight_classes`` (all_weighers)."""
    return sorted(nova_weights.all_weighers(), key=lambda c: c.__name__)


def preferred_available():
    """Whether this tree's filter implements ``preferred``."""
    if getattr(names, 'POLICY_PREFERRED', None) is None:
        return False
    affinity = plugin_filters.GpuNumaAffinityFilter
    return affinity.filter_all is not nova_filters.BaseHostFilter.filter_all


class Policy:
    def __init__(self, name, filters, weighers):
        self.name = name
        self.filters = filters
        self.weighers = weighers

    def describe(self):
        return 'filters %s; weighers %s' % (
            ', '.join(f.__name__ for f in self.filters),
            ', '.join(w.__name__ for w in self.weighers))


def build():
    """[Policy], and a note on ``preferred`` when it is missing."""
    CONF.set_override('weight_multiplier', WEIGHT_MULTIPLIER,
                      group=names.CONFIG_GROUP)
    weighers = nova_weighers()
    plugin = [filter_class(name) for name in documented_filters()]
    found = [Policy(specs.STOCK,
                    [numa_topology_filter.NUMATopologyFilter], weighers),
             Policy('required', plugin, weighers + [gpu_load.GpuLoadWeigher])]
    note = None
    if preferred_available():
        found.append(Policy(names.POLICY_PREFERRED, plugin,
                            weighers + [gpu_load.GpuLoadWeigher]))
    else:
        note = ('preferred: not yet available (this tree\'s '
                'GpuNumaAffinityFilter does not implement it)')
    return found, note
