#!/usr/bin/env bash
# Run the demonstration (python -m demo, see demo/__init__.py) from the
# repository root with the project's virtual environment, bootstrapping it
# first. With --cloud the story runs through the cloud of tools/cloud.sh up
# instead (demo/cloud.py). Arguments are passed to the demo (--help lists
# them); the bootstrap's messages go to stderr, the demo's tables to
# stdout. Exits non-zero when a phone booted with the plugin is not
# co-located with its GPU.
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO_ROOT"

bash tools/bootstrap.sh >&2
# The cloud demo is a client only: no Nova service runs in this process,
# so it needs no eventlet.
case " $* " in
    *" --cloud "*) export OS_NOVA_DISABLE_EVENTLET_PATCHING=1 ;;
esac
exec "$REPO_ROOT/.venv/bin/python" -m demo "$@"
