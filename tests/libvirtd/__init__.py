"""Checks of guest XML against a real libvirtd (define only, never start).

These tests use the real ``libvirt`` binding and must not inherit Nova's
test base, which poisons ``import libvirt``.
"""
