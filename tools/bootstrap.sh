#!/usr/bin/env bash
# Prepare this checkout for tests and the demo, on Debian or Ubuntu as root.
#
#  1. installs the system packages of bindep.txt (profile "test" by default,
#     BINDEP_PROFILE=build for the build set only), running apt-get update
#     only when a package is missing;
#  2. creates .venv (Python from $PYTHON, default python3) when missing;
#  3. installs requirements.txt and test-requirements.txt pinned by
#     upper-constraints.txt, skipped while .venv/.bootstrap-stamp matches the
#     hash of those files;
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
STAMP=$VENV/.bootstrap-stamp

log() { echo "bootstrap: $*"; }

# --- 1. system packages ------------------------------------------------------

# Print the packages of bindep.txt that apply to a dpkg platform and to the
# profile: entries without selectors, or whose selectors name platform:dpkg
# (or no platform) and the profile (or no profile). Negated selectors (!x)
# exclude.
bindep_packages() {
    awk -v profile="$1" '
        /^[[:space:]]*(#|$)/ { next }
        {
            pkg = $1
            sel = ""
            if (match($0, /\[[^]]*\]/)) {
                sel = substr($0, RSTART + 1, RLENGTH - 2)
            }
            n = split(sel, s, /[[:space:]]+/)
            has_plat = 0; plat_ok = 0; has_prof = 0; prof_ok = 0; neg = 0
            for (i = 1; i <= n; i++) {
                if (s[i] == "") continue
                if (s[i] ~ /^!/) {
                    x = substr(s[i], 2)
                    if (x == "platform:dpkg" || x == profile) neg = 1
                    continue
                }
                if (s[i] ~ /^platform:/) {
                    has_plat = 1
                    if (s[i] == "platform:dpkg") plat_ok = 1
                } else {
                    has_prof = 1
                    if (s[i] == profile) prof_ok = 1
                }
            }
            if (neg) next
            if (has_plat && !plat_ok) next
            if (has_prof && !prof_ok) next
            print pkg
        }' bindep.txt
}

install_system_packages() {
    if ! command -v dpkg-query >/dev/null 2>&1; then
        log "no dpkg: install the packages of bindep.txt (profile" \
            "$PROFILE) by hand"
        return 0
    fi
    local missing=() pkg
    for pkg in $(bindep_packages "$PROFILE"); do
        if [ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null)" != \
             "install ok installed" ]; then
            missing+=("$pkg")
        fi
    done
    if [ ${#missing[@]} -eq 0 ]; then
        return 0
    fi
    if [ "$(id -u)" != 0 ]; then
        log "missing system packages: ${missing[*]}; run as root or" \
            "install them" >&2
        exit 1
    fi
    log "installing system packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# --- 2. virtual environment --------------------------------------------------

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
    "$PYTHON" -m venv "$VENV"
}

# --- 3. pinned requirements ----------------------------------------------------

requirements_hash() {
    {
        cat requirements.txt test-requirements.txt upper-constraints.txt
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
        setuptools wheel pbr \
        -r requirements.txt -r test-requirements.txt
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
install_system_packages
t_system=$((SECONDS - start))
ensure_venv
install_requirements
t_python=$((SECONDS - start - t_system))
install_project
log "ready: $VENV ($((SECONDS - start)) s: system packages ${t_system} s," \
    "venv and requirements ${t_python} s)"
