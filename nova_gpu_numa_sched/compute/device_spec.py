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


def resolve(discovered, entries, host_cells, default_slots):
    """Return the render nodes to expose, with slots and NUMA cell final.

    With entries, only matching nodes are kept and the first matching entry
    overrides slots and NUMA node. A node without a known NUMA node lands on
    the only cell of a single-cell host; on a multi-cell host it is left out
    with a warning naming the fix, because guessing would break affinity.
    """
    host_cells = sorted(host_cells)
    exposed = []
    for node in discovered:
        entry = _first_match(entries, node)
        if entries and entry is None:
            LOG.debug('Render node %s is not selected by %s; not exposed.',
                      node.devnode, OPTION)
            continue
        slots = default_slots
        numa_node = node.numa_node
        if entry is not None and entry.slots is not None:
            slots = entry.slots
        if entry is not None and entry.numa_node is not None:
            numa_node = entry.numa_node
        if slots == 0:
            LOG.info('Render node %s has 0 slots in %s; not exposed.',
                     node.devnode, OPTION)
            continue
        if numa_node is None and len(host_cells) <= 1:
            numa_node = host_cells[0] if host_cells else 0
        if numa_node is None:
            LOG.warning(
                'Render node %(dev)s (%(key)s) reports no NUMA node and this '
                'host has %(n)d NUMA cells, so it is not exposed. Set its '
                'cell with %(opt)s, e.g. {"%(match)s": "%(value)s", '
                '"numa_node": 0}.',
                {'dev': node.devnode, 'key': node.key, 'n': len(host_cells),
                 'opt': OPTION,
                 'match': 'pci_address' if node.pci_address else 'devnode',
                 'value': node.pci_address or node.devnode})
            continue
        if host_cells and numa_node not in host_cells:
            LOG.warning(
                'Render node %(dev)s is on NUMA node %(cell)d, which is not '
                'one of the host cells %(cells)s; not exposed. Check %(opt)s.',
                {'dev': node.devnode, 'cell': numa_node, 'cells': host_cells,
                 'opt': OPTION})
            continue
        exposed.append(dataclasses.replace(
            node, slots=slots, numa_node=numa_node))
    return exposed
