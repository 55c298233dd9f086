"""Read NVIDIA GPU utilisation through NVML, when it is installed.

The NVIDIA driver publishes no load files in sysfs, so the optional
``nvidia-ml-py`` package (module ``pynvml``) is the only source. Hosts
without it simply report no utilisation for NVIDIA GPUs.
"""

import re
import threading

from oslo_log import log as logging

from nova_gpu_numa_sched.compute.utilization import once

LOG = logging.getLogger(__name__)

NVIDIA_VENDOR_ID = '10de'

_PCI_ADDRESS_RE = re.compile(
    r'^(?:([0-9a-fA-F]{1,8}):)?([0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7])$')

_lock = threading.Lock()
_tried = False
_pynvml = None

# Warns once per (device, problem): the reader runs every periodic task,
# and one broken GPU must not flood the log.
_warn = once.WarnOnce(LOG)


def _library():
    """Return the initialised ``pynvml`` module, or None.

    Import and ``nvmlInit`` are tried once per process: failing again on
    every periodic task would only repeat the same log line.
    """
    global _tried, _pynvml
    with _lock:
        if _tried:
            return _pynvml
        _tried = True
        try:
            import pynvml
        except ImportError:
            LOG.debug('pynvml is not installed; NVIDIA GPU utilisation '
                      'is unknown')
            return None
        try:
            pynvml.nvmlInit()
        except (pynvml.NVMLError, OSError) as e:
            LOG.warning('Cannot initialise NVML; NVIDIA GPU utilisation is '
                        'unknown: %s', e)
            return None
        _pynvml = pynvml
        return _pynvml


def nvml_bus_id(pci_address):
    """Return a PCI address in NVML's form, e.g. ``00000000:83:00.0``.

    sysfs and libvirt use a 4 digit domain; NVML reports 8 digits.
    Returns None for an address that is not ``[domain:]bus:device.fn``.
    """
    match = _PCI_ADDRESS_RE.match(pci_address.strip())
    if match is None:
        return None
    domain, bus_devfn = match.groups()
    return '%08x:%s' % (int(domain or '0', 16), bus_devfn.lower())


def _may_be_nvidia(render_node):
    if not render_node.pci_address:
        return False
    vendor = (render_node.vendor_id or '').lower().removeprefix('0x')
    return not vendor or vendor == NVIDIA_VENDOR_ID


def _call(pynvml, device, func, *args):
    """Call an NVML function; return None, logged, if NVML fails."""
    try:
        return func(*args)
    except pynvml.NVMLError as e:
        _warn(device, (func.__name__, str(e)), '%s failed for GPU %s, '
                'its value is treated as unknown: %s',
                func.__name__, device, e)
        return None


def read(render_node):
    """Return ``(busy_percent, vram_used_percent)`` or None.

    None means NVML is unavailable or has no GPU at the render node's PCI
    address; either value of the pair is None when NVML cannot read it.
    """
    if not _may_be_nvidia(render_node):
        return None
    pynvml = _library()
    if pynvml is None:
        return None
    device = render_node.pci_address
    bus_id = nvml_bus_id(device)
    if bus_id is None:
        _warn(device, 'address', 'Cannot ask NVML about %s: %r is not a '
                'PCI address', render_node.devnode, device)
        return None
    try:
        handle = pynvml.nvmlDeviceGetHandleByPciBusId(bus_id)
    except pynvml.NVMLError as e:
        if getattr(e, 'value', None) == pynvml.NVML_ERROR_NOT_FOUND:
            LOG.debug('NVML has no GPU at %s', bus_id)
        else:
            _warn(device, str(e), 'NVML cannot open the GPU at %s: %s',
                    bus_id, e)
        return None

    busy = None
    rates = _call(pynvml, device, pynvml.nvmlDeviceGetUtilizationRates,
                  handle)
    if rates is not None:
        if 0 <= rates.gpu <= 100:
            busy = float(rates.gpu)
        else:
            _warn(device, 'busy range', 'Ignoring busy percentage %s of '
                    'GPU %s', rates.gpu, device)

    vram = None
    memory = _call(pynvml, device, pynvml.nvmlDeviceGetMemoryInfo, handle)
    if memory is not None:
        if memory.total > 0 and 0 <= memory.used <= memory.total:
            vram = memory.used * 100.0 / memory.total
        else:
            _warn(device, 'vram range', 'Ignoring VRAM usage of GPU %s: '
                    '%s of %s bytes used is not possible',
                    device, memory.used, memory.total)
    return busy, vram
