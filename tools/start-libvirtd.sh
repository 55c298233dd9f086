#!/usr/bin/env bash
# Start a real libvirtd (QEMU driver, qemu:///system) for the define-only
# checks of guest XML in tests/libvirtd. Run as root on Debian or Ubuntu with
# the "test" profile of bindep.txt installed (tools/bootstrap.sh does that).
#
# Idempotent: does nothing when a daemon already answers on qemu:///system.
# No guest is ever started; KVM is not needed.
set -euo pipefail

URI=qemu:///system
PID_FILE=${LIBVIRTD_PID_FILE:-/run/libvirtd.pid}
WAIT_S=${LIBVIRTD_WAIT_S:-60}

answers() {
    timeout 20 virsh -c "$URI" version >/dev/null 2>&1
}

if answers; then
    echo "libvirtd already answers on $URI"
    exit 0
fi

for cmd in libvirtd virsh; do
    if ! command -v "$cmd" >/dev/null 2>&1; then
        echo "start-libvirtd: '$cmd' not found; install the test profile" \
             "of bindep.txt (tools/bootstrap.sh)" >&2
        exit 1
    fi
done
if [ "$(id -u)" != 0 ]; then
    echo "start-libvirtd: must run as root" >&2
    exit 1
fi

# The QEMU driver runs guests as libvirt-qemu:kvm on Debian; without the
# user and group it refuses to load.
getent group kvm >/dev/null || groupadd -r kvm
if ! getent passwd libvirt-qemu >/dev/null; then
    getent group libvirt-qemu >/dev/null || groupadd -r libvirt-qemu
    useradd -r -g libvirt-qemu -G kvm -d /var/lib/libvirt \
        -s /usr/sbin/nologin libvirt-qemu
fi
# Give /dev/kvm to the kvm group, else every daemon start probes QEMU's
# capabilities again for about a minute.
if [ -e /dev/kvm ]; then
    { chgrp kvm /dev/kvm && chmod 660 /dev/kvm; } || true
fi
mkdir -p /var/log/libvirt /var/lib/libvirt /run/libvirt

# A stale pid file of a dead daemon makes libvirtd refuse to start.
if [ -f "$PID_FILE" ] && ! kill -0 "$(cat "$PID_FILE")" 2>/dev/null; then
    rm -f "$PID_FILE"
fi

echo "starting libvirtd (pid file $PID_FILE)"
libvirtd -d --pid-file "$PID_FILE"

for _ in $(seq 1 "$WAIT_S"); do
    if answers; then
        virsh -c "$URI" version
        exit 0
    fi
    sleep 1
done
echo "start-libvirtd: libvirtd did not answer on $URI within ${WAIT_S}s" >&2
exit 1
