"""The one place that spells the names operators and Placement see.

Every module imports these instead of repeating literals, so that a rename
is a one-line change.
"""

#: oslo.config group of every option of this plugin.
CONFIG_GROUP = 'gpu_numa'

#: Placement resource class: one unit per guest a render node may serve.
#: The compute node's own provider carries the slots of all its render
#: nodes; nova-compute decides which render node (and cell) a slot is on.
RESOURCE_CLASS = 'CUSTOM_GPU_RENDER_SLOT'

#: Key of the compute node's ``stats`` under which nova-compute publishes
#: its render nodes (JSON: cell, usable slots, slots in use, load bucket),
#: rewritten at every claim, so the scheduler sees what the last claim left.
RENDER_NODES_STAT = 'gpu_numa_render_nodes'

#: Infix of a render node provider's name: ``<compute node>_render_<key>``
#: (key: the GPU's PCI address, or the libvirt DRM device name). Such
#: child providers are what releases before host-level slots reported;
#: nova-compute reshapes them into the compute node's provider.
RENDER_PROVIDER_INFIX = '_render_'

#: Trait prefix naming the host NUMA cell of a render node's provider
#: (child providers of earlier releases only).
NUMA_TRAIT_PREFIX = 'CUSTOM_NUMA_NODE_'

#: Trait prefixes naming the PCI vendor and product of the GPU.
VENDOR_TRAIT_PREFIX = 'CUSTOM_GPU_VENDOR_'
PRODUCT_TRAIT_PREFIX = 'CUSTOM_GPU_PRODUCT_'

#: Trait prefix of the coarse measured-utilisation bucket (percent), on
#: the child providers of earlier releases; now published in the compute
#: node's stats (``RENDER_NODES_STAT``), which costs no Placement write.
LOAD_TRAIT_PREFIX = 'CUSTOM_GPU_LOAD_'

#: Namespace of this plugin's flavor extra specs; nova-api rejects unknown
#: keys in it.
EXTRA_SPEC_NAMESPACE = 'gpu_numa'

#: Flavor extra spec: what to do when render node, vCPUs and RAM cannot
#: share one host cell.
AFFINITY_POLICY_KEY = '%s:affinity_policy' % EXTRA_SPEC_NAMESPACE
#: Render node, vCPUs, emulator thread and RAM on one cell, or no placement.
POLICY_REQUIRED = 'required'
#: Co-locate whenever any host can; else allow the render node on another
#: cell than the guest, with a warning.
POLICY_PREFERRED = 'preferred'
#: Co-locate whenever the render node's cell can; else keep vCPUs, emulator
#: thread and RAM on another cell of the same socket (hosts with several
#: cells per socket), never on another socket.
POLICY_SOCKET = 'socket'
AFFINITY_POLICIES = (POLICY_REQUIRED, POLICY_PREFERRED, POLICY_SOCKET)
DEFAULT_AFFINITY_POLICY = POLICY_REQUIRED

#: Aggregate metadata key overriding ``[gpu_numa] weight_multiplier``.
WEIGHT_MULTIPLIER_AGGREGATE_KEY = 'gpu_numa_weight_multiplier'

#: Prefix of the per-cell token carried in host cells' and claim limits'
#: ``network_metadata.physnets``; it pins the compute claim to one cell.
CELL_TOKEN_PREFIX = 'gpu-numa-cell-'

#: Prefix of the per-socket token carried beside the cell token; it pins a
#: claim to the cells of one socket (``gpu_numa:affinity_policy=socket``).
SOCKET_TOKEN_PREFIX = 'gpu-numa-socket-'


#: Token every host cell carries and the claim limits carry when the
#: scheduler packs (negative ``[gpu_numa] weight_multiplier``): it tells
#: the compute claim to fill the busiest render node with room first.
PACK_TOKEN = 'gpu-numa-pack'


def render_provider_name(nodename, node_key):
    return '%s%s%s' % (nodename, RENDER_PROVIDER_INFIX, node_key)


def numa_trait(cell_id):
    return '%s%d' % (NUMA_TRAIT_PREFIX, cell_id)


def cell_from_traits(traits):
    """Return the NUMA cell named by a provider's traits, or None."""
    for trait in traits or ():
        if trait.startswith(NUMA_TRAIT_PREFIX):
            suffix = trait[len(NUMA_TRAIT_PREFIX):]
            if suffix.isdigit():
                return int(suffix)
    return None


def load_trait(bucket_percent):
    return '%s%d' % (LOAD_TRAIT_PREFIX, bucket_percent)


def load_from_traits(traits):
    """Return the utilisation bucket (percent) named by traits, or None."""
    for trait in traits or ():
        if trait.startswith(LOAD_TRAIT_PREFIX):
            suffix = trait[len(LOAD_TRAIT_PREFIX):]
            if suffix.isdigit():
                return int(suffix)
    return None


def cell_token(cell_id):
    return '%s%d' % (CELL_TOKEN_PREFIX, cell_id)


def is_cell_token(name):
    return name.startswith(CELL_TOKEN_PREFIX)


def socket_token(socket_id):
    return '%s%d' % (SOCKET_TOKEN_PREFIX, socket_id)


def is_socket_token(name):
    return name.startswith(SOCKET_TOKEN_PREFIX)


def is_pin_token(name):
    """Whether a physnet name is one of the plugin's cell or socket tokens."""
    return is_cell_token(name) or is_socket_token(name)
