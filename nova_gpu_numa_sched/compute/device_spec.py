"""``[gpu_numa] device_spec``: which render nodes to expose, and how.

Parsed once at service start so that a typo stops nova-compute with the
option named, instead of silently exposing the wrong GPUs.
"""

import dataclasses
import fnmatch
import typing as ty

from nova import exception
from oslo_log import log as logging
from oslo_serialization import jsonutils

from nova_gpu_numa_sched import names

LOG = logging.getLogger(__name__)

OPTION = '[%s] device_spec' % names.CONFIG_GROUP
_MATCH_KEYS = ('devnode', 'pci_address')
_INT_KEYS = {'slots': 0, 'numa_node': 0}


@dataclasses.dataclass(frozen=True)
class DeviceSpecEntry:
    devnode: ty.Optional[str] = None
    pci_address: ty.Optional[str] = None
    slots: ty.Optional[int] = None
    numa_node: ty.Optional[int] = None

    def matches(self, node):
        if self.devnode and not fnmatch.fnmatchcase(
                node.devnode, self.devnode):
            return False
        if self.pci_address and not (
                node.pci_address and fnmatch.fnmatchcase(
                    node.pci_address, self.pci_address)):
            return False
        return True


def _invalid(entry, reason):
    # InvalidConfiguration's msg_fmt has no %(reason)s: pass the message.
    return exception.InvalidConfiguration(
        '%s entry %r is invalid: %s' % (OPTION, entry, reason))


def parse_entry(text):
    """Parse one JSON line of the option, raising InvalidConfiguration."""
    try:
        raw = jsonutils.loads(text)
    except ValueError as e:
        raise _invalid(text, 'not valid JSON (%s)' % e)
    if not isinstance(raw, dict):
        raise _invalid(text, 'it must be a JSON object')
    unknown = set(raw) - set(_MATCH_KEYS) - set(_INT_KEYS)
    if unknown:
        raise _invalid(text, 'unknown key(s) %s; allowed: %s' % (
            ', '.join(sorted(unknown)),
            ', '.join(_MATCH_KEYS + tuple(_INT_KEYS))))
    if not any(raw.get(key) for key in _MATCH_KEYS):
        raise _invalid(text, 'it must name "devnode" or "pci_address"')
    for key in _MATCH_KEYS:
        if key in raw and not isinstance(raw[key], str):
            raise _invalid(text, '"%s" must be a string' % key)
    for key, minimum in _INT_KEYS.items():
        value = raw.get(key)
        if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or
                value < minimum):
            raise _invalid(
                text, '"%s" must be an integer >= %d' % (key, minimum))
    pci_address = raw.get('pci_address')
    return DeviceSpecEntry(
        devnode=raw.get('devnode'),
        pci_address=pci_address.lower() if pci_address else None,
        slots=raw.get('slots'),
        numa_node=raw.get('numa_node'))


def parse(lines):
    return [parse_entry(line) for line in lines or ()]


def _first_match(entries, node):
    for entry in entries:
        if entry.matches(node):
            return entry
    return None


#: Where a render node's NUMA cell came from (``Resolved.numa_source``).
SOURCE_FIRMWARE = 'firmware'
SOURCE_DEVICE_SPEC = 'device_spec'
SOURCE_SINGLE_CELL = 'single-cell'

#: Why a render node is left out (``LeftOut.kind``).
LEFT_NOT_SELECTED = 'not-selected'
LEFT_NO_SLOTS = 'no-slots'
LEFT_UNKNOWN_NUMA = 'unknown-numa'
LEFT_NOT_A_HOST_CELL = 'not-a-host-cell'


@dataclasses.dataclass(frozen=True)
class LeftOut:
    """A discovered render node that is not exposed, why, and the fix."""

    node: ty.Any
    #: One of the LEFT_* constants.
    kind: str
    reason: str
    fix: str


@dataclasses.dataclass
class Resolution:
    """What resolve_detailed() decided for every discovered render node."""

    exposed: list = dataclasses.field(default_factory=list)
    #: {render node key: SOURCE_*} of every exposed node.
    numa_source: dict = dataclasses.field(default_factory=dict)
    left_out: list = dataclasses.field(default_factory=list)


def _match_hint(node):
    if node.pci_address:
        return 'pci_address', node.pci_address
    return 'devnode', node.devnode


def resolve_detailed(discovered, entries, host_cells, default_slots):
    """Decide, for every discovered node, whether and how it is exposed.

    The decisions of resolve(), with the reason and the fix for every node
    left out, so that an operator tool can show them; nothing is logged.
    A host whose libvirt reports no NUMA cells counts as one cell 0.
    """
    host_cells = sorted(host_cells) or [0]
    result = Resolution()
    for node in discovered:
        match, value = _match_hint(node)
        entry = _first_match(entries, node)
        if entries and entry is None:
            result.left_out.append(LeftOut(
                node, LEFT_NOT_SELECTED, 'not selected by %s' % OPTION,
                'add {"%s": "%s"} to %s' % (match, value, OPTION)))
            continue
        slots = default_slots
        numa_node = node.numa_node
        source = SOURCE_FIRMWARE
        if entry is not None and entry.slots is not None:
            slots = entry.slots
        if entry is not None and entry.numa_node is not None:
            numa_node = entry.numa_node
            source = SOURCE_DEVICE_SPEC
        if slots == 0:
            result.left_out.append(LeftOut(
                node, LEFT_NO_SLOTS, 'has 0 slots in %s' % OPTION,
                'give it "slots" >= 1 in %s' % OPTION))
            continue
        if numa_node is None and len(host_cells) == 1:
            numa_node = host_cells[0]
            source = SOURCE_SINGLE_CELL
        if numa_node is None:
            result.left_out.append(LeftOut(
                node, LEFT_UNKNOWN_NUMA,
                'reports no NUMA node and this host has %d NUMA cells' % len(
                    host_cells),
                'set its cell in %s, e.g. {"%s": "%s", "numa_node": 0}' % (
                    OPTION, match, value)))
            continue
        if numa_node not in host_cells:
            # A provider on a cell Nova's host topology lacks could never
            # be used: no guest cell can be fitted there.
            if source == SOURCE_FIRMWARE:
                fix = 'set its cell in %s, e.g. {"%s": "%s", "numa_node": ' \
                      '%d}' % (OPTION, match, value, host_cells[0])
            else:
                fix = 'correct "numa_node" for {"%s": "%s"} in %s' % (
                    match, value, OPTION)
            result.left_out.append(LeftOut(
                node, LEFT_NOT_A_HOST_CELL,
                'is on NUMA node %d (from %s), which is not one of the host '
                'cells %s' % (numa_node, source, host_cells), fix))
            continue
        result.exposed.append(dataclasses.replace(
            node, slots=slots, numa_node=numa_node))
        result.numa_source[node.key] = source
    return result


def resolve(discovered, entries, host_cells, default_slots):
    """Return the render nodes to expose, with slots and NUMA cell final.

    With entries, only matching nodes are kept and the first matching entry
    overrides slots and NUMA node. A node without a known NUMA node lands on
    the only cell of a single-cell host; on a multi-cell host it is left out
    with a warning naming the fix, because guessing would break affinity.
    A node on a NUMA node that is not a host cell is left out with a
    warning as well: no guest could ever be placed on its cell.
    """
    result = resolve_detailed(discovered, entries, host_cells, default_slots)
    for left in result.left_out:
        node = left.node
        if left.kind == LEFT_NOT_SELECTED:
            LOG.debug('Render node %s is not selected by %s; not exposed.',
                      node.devnode, OPTION)
        elif left.kind == LEFT_NO_SLOTS:
            LOG.info('Render node %s has 0 slots in %s; not exposed.',
                     node.devnode, OPTION)
        elif left.kind == LEFT_UNKNOWN_NUMA:
            LOG.warning('Render node %(dev)s (%(key)s) %(reason)s, so it is '
                        'not exposed. Fix: %(fix)s.',
                        {'dev': node.devnode, 'key': node.key,
                         'reason': left.reason, 'fix': left.fix})
        else:
            LOG.warning('Render node %(dev)s %(reason)s; not exposed. '
                        'Fix: %(fix)s.',
                        {'dev': node.devnode, 'reason': left.reason,
                         'fix': left.fix})
    return result.exposed
