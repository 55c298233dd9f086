"""Compute side: the libvirt driver that knows render nodes."""
