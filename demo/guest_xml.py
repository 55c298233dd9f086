"""Where a guest's render node, vCPUs, emulator and RAM are, from its XML.

One reading of the libvirt domain XML Nova defines, shared by the
functional tests (XML captured in the process), the demo and the tests
against the one-machine cloud (XML written by its fake hypervisor, as
``virsh dumpxml`` shows it). Host CPUs are turned into host NUMA cells by
the caller's ``{cell: cpus}``: the host topology is not in the guest XML.
"""

import collections

from lxml import etree

#: Host CPUs and host NUMA nodes the guest XML pins to.
Pins = collections.namedtuple(
    'Pins', 'rendernode vcpu_cpus emulator_cpus memnodes')


def cpuset(text):
    """The CPUs of a libvirt cpuset string such as ``0-3,6``."""
    cpus = set()
    for part in (text or '').split(','):
        part = part.strip()
        if part.startswith('^'):
            cpus.discard(int(part[1:]))
        elif '-' in part:
            low, high = part.split('-')
            cpus.update(range(int(low), int(high) + 1))
        elif part:
            cpus.add(int(part))
    return cpus


def pins(xml):
    """Render node, pinned host CPUs and memory nodes of a domain XML."""
    root = etree.fromstring(xml.encode() if isinstance(xml, str) else xml)
    gl = root.find("./devices/graphics[@type='egl-headless']/gl")
    vcpu_cpus = set()
    for pin in root.findall('./cputune/vcpupin'):
        vcpu_cpus |= cpuset(pin.get('cpuset'))
    emulator = root.find('./cputune/emulatorpin')
    memnodes = set()
    for node in root.findall('./numatune/memnode'):
        memnodes |= cpuset(node.get('nodeset'))
    return Pins(
        rendernode=gl.get('rendernode') if gl is not None else None,
        vcpu_cpus=vcpu_cpus,
        emulator_cpus=(cpuset(emulator.get('cpuset'))
                       if emulator is not None else set()),
        memnodes=memnodes)


def one_or_all(cells):
    """A single cell as an int, several (or none) as a sorted list."""
    cells = set(cells)
    return cells.pop() if len(cells) == 1 else sorted(cells)


def cells_of(cpus, cell_cpus):
    """The host cell(s) of ``cpus``, given ``{cell id: set of CPUs}``."""
    return one_or_all(cell for cell, owned in cell_cpus.items()
                      if cpus & owned)
