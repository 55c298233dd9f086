"""The ``nova-gpu-numa`` operator command.

Like nova-manage and nova-status, the command picks Nova's concurrency mode
before anything imports eventlet: native threads, unless the process (a
test run) already chose.
"""

import os

from nova import monkey_patch


def _patch():
    if monkey_patch.is_patched():
        return
    try:
        monkey_patch.patch(backend='threading')
    except Exception:
        # patch() reads [DEFAULT] concurrency_backend from the config files
        # on the command line; a missing or broken file is reported later,
        # with the option named, by the command itself.
        os.environ['OS_NOVA_DISABLE_EVENTLET_PATCHING'] = '1'
        monkey_patch.patch(backend='threading')


_patch()
