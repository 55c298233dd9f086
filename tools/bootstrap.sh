#!/usr/bin/env bash
# Prepare this checkout for tests and the demo, on Debian or Ubuntu as root.
#
#  1. creates .venv (Python from $PYTHON, default python3) when missing,
#     installing Debian's python3-venv first if the interpreter lacks it;
#  2. installs the ``bindep`` tool into .venv, pinned by
#     upper-constraints.txt, and lets it list the missing system packages of
#     bindep.txt (profile "test" by default, BINDEP_PROFILE=build for the
#     build set only); installs them, running apt-get update only when one
#     is missing;
#  3. installs requirements.txt and test-requirements.txt (or the files
#     $REQUIREMENTS names) pinned by upper-constraints.txt, skipped while
#     .venv/.bootstrap-stamp matches the hash of those files;
#  4. always reinstalls the project itself, NOT editable: Nova loads the
#     compute driver as nova.virt.gpu_numa, which only a regular install
#     places inside Nova's package.
#
# Idempotent; a second run takes a few seconds.
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO_ROOT"

PROFILE=${BINDEP_PROFILE:-test}
PYTHON=${PYTHON:-python3}
VENV=${VENV:-$REPO_ROOT/.venv}
# shellcheck disable=SC2206
REQUIREMENTS=(${REQUIREMENTS:-requirements.txt test-requirements.txt})
STAMP=$VENV/.bootstrap-stamp

log() { echo "bootstrap: $*"; }

# --- 1. virtual environment --------------------------------------------------

ensure_venv() {
    if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c 'import sys' \
            >/dev/null 2>&1; then
        return 0
    fi
    if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))'
    then
        log "$PYTHON is older than Python 3.10" >&2
        exit 1
    fi
    log "creating $VENV with $("$PYTHON" -V 2>&1)"
    rm -rf "$VENV"
    if ! "$PYTHON" -m venv "$VENV" >/dev/null 2>&1; then
        # Debian's interpreter ships venv and pip separately; bindep and
        # everything else come from the venv, so this is the one package
        # installed before bindep can be asked.
        rm -rf "$VENV"
        if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1
        then
            log "$PYTHON cannot create a venv; install python3-venv" >&2
            exit 1
        fi
        log "installing python3-venv"
        DEBIAN_FRONTEND=noninteractive apt-get update -q
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
            --no-install-recommends python3-venv
        "$PYTHON" -m venv "$VENV"
    fi
}

# --- 2. system packages, as the bindep tool selects them ------------------

BINDEP=$VENV/bin/bindep

ensure_bindep() {
    if [ -x "$BINDEP" ] && "$BINDEP" --version >/dev/null 2>&1; then
        return 0
    fi
    log "installing bindep into $VENV"
    "$VENV/bin/python" -m pip install -q -c upper-constraints.txt bindep
}

install_system_packages() {
    if ! command -v dpkg-query >/dev/null 2>&1; then
        log "no dpkg: install the packages \`$BINDEP -b $PROFILE\` lists" \
            "by hand"
        return 0
    fi
    ensure_bindep
    local missing rc=0
    # -b: brief, one missing package a line; exit status 1 when some are
    # missing, which is not an error here.
    missing=$("$BINDEP" -b -f bindep.txt "$PROFILE") || rc=$?
    if [ "$rc" -eq 0 ]; then
        return 0
    fi
    # Anything but package names means bindep itself failed.
    if [ -z "$missing" ] ||
            printf '%s\n' "$missing" | grep -qv '^[a-z0-9][a-z0-9.+-]*$'
    then
        log "bindep failed on bindep.txt (exit $rc): $missing" >&2
        exit 1
    fi
    # shellcheck disable=SC2086
    set -- $missing
    if [ "$(id -u)" != 0 ]; then
        log "missing system packages: $*; run as root or install them" >&2
        exit 1
    fi
    log "installing system packages: $*"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends "$@"
}

# --- 3. pinned requirements ----------------------------------------------------

requirements_hash() {
    {
        cat "${REQUIREMENTS[@]}" upper-constraints.txt
        "$VENV/bin/python" -VV
    } | sha256sum | cut -d' ' -f1
}

install_requirements() {
    local want
    want=$(requirements_hash)
    if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
        return 0
    fi
    log "installing the pinned requirements into $VENV"
    rm -f "$STAMP"
    # setuptools, wheel and pbr build the project without build isolation
    # below (no download on every reinstall).
    "$VENV/bin/python" -m pip install -q -c upper-constraints.txt \
        setuptools wheel pbr "${REQUIREMENTS[@]/#/-r}"
    echo "$want" > "$STAMP"
}

# --- 4. the project, non-editable ---------------------------------------------

install_project() {
    # A stale build/ would carry modules deleted from the tree into the wheel.
    rm -rf build ./*.egg-info
    # pbr takes the version from git; a tree without git metadata (an
    # exported copy) gets a fixed one.
    if ! git -C "$REPO_ROOT" rev-parse --git-dir >/dev/null 2>&1; then
        export PBR_VERSION=${PBR_VERSION:-0.0.0}
    fi
    SKIP_GENERATE_AUTHORS=1 SKIP_WRITE_GIT_CHANGELOG=1 \
        "$VENV/bin/python" -m pip install -q --no-deps --no-build-isolation \
        --force-reinstall "$REPO_ROOT"
    rm -rf build ./*.egg-info
    # stevedore caches entry points per sys.path; a reinstall under the same
    # version may change them (Nova loads extra spec validators that way).
    rm -rf "${XDG_CACHE_HOME:-$HOME/.cache}/python-entrypoints"
}

start=$SECONDS
ensure_venv
install_system_packages
t_system=$((SECONDS - start))
install_requirements
t_python=$((SECONDS - start - t_system))
install_project
log "ready: $VENV ($((SECONDS - start)) s: system packages ${t_system} s," \
    "venv and requirements ${t_python} s)"
