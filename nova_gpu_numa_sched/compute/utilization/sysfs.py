"""Read amdgpu utilisation from sysfs.

amdgpu publishes engine load and VRAM usage as plain files next to the
render node, so no vendor library is needed.
"""

import errno
import os

from oslo_log import log as logging

from nova_gpu_numa_sched.compute.utilization import once

LOG = logging.getLogger(__name__)

BUSY_FILE = 'gpu_busy_percent'
VRAM_USED_FILE = 'mem_info_vram_used'
VRAM_TOTAL_FILE = 'mem_info_vram_total'

# Warns once per (device, problem): the reader runs every periodic task,
# and one broken GPU must not flood the log.
_warn = once.WarnOnce(LOG)


def _read_int(device_dir, filename):
    """Return the integer in a sysfs file, or None if it is not readable.

    A missing file is normal (not every driver or GPU has it); anything
    else is logged because it hides the GPU's load from the scheduler.
    """
    path = os.path.join(device_dir, filename)
    try:
        with open(path) as f:
            text = f.read().strip()
    except OSError as e:
        if e.errno == errno.ENOENT:
            LOG.debug('%s does not exist', path)
        else:
            # The device may be runtime-suspended, resetting or unplugged;
            # one warning per device and error, whichever file hit it.
            _warn(device_dir, e.errno, 'Cannot read %s, its value is '
                    'treated as unknown: %s', path, e)
        return None
    try:
        return int(text)
    except ValueError:
        _warn(device_dir, (filename, 'garbage'),
                'Ignoring %s: %r is not an integer', path, text)
        return None


def _busy_percent(device_dir):
    value = _read_int(device_dir, BUSY_FILE)
    if value is None:
        return None
    if not 0 <= value <= 100:
        _warn(device_dir, (BUSY_FILE, 'range'),
                'Ignoring %s/%s: %d is not a percentage',
                device_dir, BUSY_FILE, value)
        return None
    return float(value)


def _vram_used_percent(device_dir):
    used = _read_int(device_dir, VRAM_USED_FILE)
    total = _read_int(device_dir, VRAM_TOTAL_FILE)
    if used is None or total is None:
        return None
    if total <= 0 or not 0 <= used <= total:
        _warn(device_dir, (VRAM_USED_FILE, 'range'),
                'Ignoring %s/%s and %s: %d of %d bytes used is not possible',
                device_dir, VRAM_USED_FILE, VRAM_TOTAL_FILE, used, total)
        return None
    return used * 100.0 / total


def read(render_node, sysfs_root='/sys'):
    """Return ``(busy_percent, vram_used_percent)`` or None.

    None means the render node has no device directory; either value of
    the pair is None when its files are missing or unreadable.
    """
    device_dir = os.path.join(
        sysfs_root, 'class', 'drm', render_node.name, 'device')
    if not os.path.isdir(device_dir):
        LOG.debug('No sysfs device directory for %s at %s',
                  render_node.devnode, device_dir)
        return None
    return _busy_percent(device_dir), _vram_used_percent(device_dir)
