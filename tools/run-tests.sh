#!/usr/bin/env bash
# The project's test command (README, CI): bootstrap, start libvirtd, run
# flake8 and the whole stestr suite, then print one closing line
#
#     N passed, N failed, N skipped
#
# Exits non-zero when flake8 or any test fails, or when no test ran. The
# tests of guest XML against the real libvirtd fail instead of skipping
# (GPU_NUMA_REQUIRE_LIBVIRTD=1).
#
# Nova's services run on native threads by default and its tests on
# eventlet unless OS_NOVA_DISABLE_EVENTLET_PATCHING=1, so without arguments
# the suite runs in four labelled stestr runs:
#
#   [eventlet]  unit, functional and integration tests, in Nova's
#               eventlet test mode, but for tests/exclude/eventlet.txt;
#   [threading] tests/functional again, with
#               OS_NOVA_DISABLE_EVENTLET_PATCHING=1 (native threads), but
#               for tests/exclude/threading.txt (each line says why: the
#               older filter pair's copies of scenarios, what the [cloud]
#               run shows on native threads, client-side commands);
#   [libvirtd]  tests/libvirtd;
#   [cloud]     tests/cloud against the one-machine cloud (native
#               threads, as Nova's services run): tools/cloud.sh up, the
#               tests one at a time (tests/cloud/disruptive, which kill and
#               restart services, last), tools/cloud.sh down, also when
#               something fails or the run is interrupted. After a failure
#               the services' logs are kept in a folder it names and their
#               last lines printed. GPU_NUMA_CLOUD_TESTS=0 leaves it out.
#
# "--cloud [ARGS]" runs only the [cloud] run (ARGS: a test id regex, as
# for stestr, e.g. tests.cloud.test_racing).
# Unit and integration tests do not run Nova's services, so they run once.
# The functional tests write the guest XML that Nova generated into
# $GPU_NUMA_GUEST_XML_DIR; tests/libvirtd defines the hand-written samples
# and that XML in libvirtd. The folder is a fresh temporary copy of
# tests/libvirtd/samples unless GPU_NUMA_GUEST_XML_DIR is set. With
# arguments, one "stestr run ARGS" in the mode the environment says (for
# example a test id regex: bash tools/run-tests.sh tests.unit). The closing
# line sums every run. A test that hangs fails after OS_TEST_TIMEOUT
# seconds (default 300).
set -uo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO_ROOT" || exit 1

CONCURRENCY=${STESTR_CONCURRENCY:-2}
LIBVIRTD_TESTS='^tests\.libvirtd\.'
FUNCTIONAL_TESTS='^tests\.functional\.'
# What the [eventlet] and [threading] runs leave out, one regex a line,
# each with its reason.
EVENTLET_EXCLUDE=tests/exclude/eventlet.txt
THREADING_EXCLUDE=tests/exclude/threading.txt
CLOUD_TESTS='^tests\.cloud\.'
DISRUPTIVE_CLOUD_TESTS='^tests\.cloud\.disruptive\.'

cloud_only=0
if [ "${1:-}" = --cloud ]; then
    cloud_only=1
    shift
fi

bash tools/bootstrap.sh || { echo "run-tests: bootstrap failed" >&2; exit 1; }
# A libvirtd this script starts, it stops at the end (by its PID).
libvirtd_pid=
libvirtd_pid_file=${LIBVIRTD_PID_FILE:-/run/libvirtd.pid}
if ! timeout 20 virsh -c qemu:///system version >/dev/null 2>&1; then
    bash tools/start-libvirtd.sh || {
        echo "run-tests: libvirtd could not be started" >&2; exit 1; }
    libvirtd_pid=$(cat "$libvirtd_pid_file" 2>/dev/null || true)
fi
libvirtd_stop() {
    if [ -n "$libvirtd_pid" ] && kill -0 "$libvirtd_pid" 2>/dev/null; then
        echo "run-tests: stopping the libvirtd it started (PID" \
             "$libvirtd_pid)"
        kill "$libvirtd_pid" 2>/dev/null
        local i
        for i in $(seq 50); do
            kill -0 "$libvirtd_pid" 2>/dev/null || break
            sleep 0.2
        done
        kill -9 "$libvirtd_pid" 2>/dev/null || true
    fi
    libvirtd_pid=
}

# shellcheck disable=SC1091
source .venv/bin/activate
export GPU_NUMA_REQUIRE_LIBVIRTD=1
export PYTHONDONTWRITEBYTECODE=1
export OS_TEST_TIMEOUT=${OS_TEST_TIMEOUT:-300}

log=$(mktemp)
cleanup=("$log")
cloud_started=0
# cloud_down: stop the cloud this script brought up (by the PIDs
# tools/cloud.sh recorded), once.
cloud_down() {
    if [ "$cloud_started" -eq 1 ]; then
        cloud_started=0
        echo "run-tests: tools/cloud.sh down"
        bash tools/cloud.sh down || echo "run-tests: tools/cloud.sh down" \
            "failed" >&2
    fi
}
# The cloud's install (pip downloads, compiling uwsgi) runs in the
# background while the other runs test, when the [cloud] run follows them.
cloud_install_pid=
cloud_install_log=$(mktemp)
cleanup+=("$cloud_install_log")
cloud_install_stop() {
    if [ -n "$cloud_install_pid" ] && kill -0 "$cloud_install_pid" \
            2>/dev/null; then
        kill -- "-$cloud_install_pid" 2>/dev/null ||
            kill "$cloud_install_pid" 2>/dev/null
        wait "$cloud_install_pid" 2>/dev/null
    fi
    cloud_install_pid=
}
trap 'cloud_install_stop; cloud_down; libvirtd_stop; rm -rf "${cleanup[@]}"' EXIT
trap 'exit 130' INT TERM
if [ -z "${GPU_NUMA_GUEST_XML_DIR:-}" ]; then
    GPU_NUMA_GUEST_XML_DIR=$(mktemp -d)
    cleanup+=("$GPU_NUMA_GUEST_XML_DIR")
    cp tests/libvirtd/samples/*.xml "$GPU_NUMA_GUEST_XML_DIR"/ 2>/dev/null
fi
export GPU_NUMA_GUEST_XML_DIR

echo "run-tests: flake8"
flake8_rc=0
flake8 || flake8_rc=$?
if [ "$flake8_rc" -eq 0 ]; then
    echo "run-tests: flake8 passed"
else
    echo "run-tests: flake8 FAILED (exit $flake8_rc)"
fi

stestr_rc=0
# run_stestr LABEL EVENTLET_PATCHING_DISABLED ARGS...
run_stestr() {
    local label=$1 disabled=$2
    shift 2
    echo "run-tests: [$label] stestr run $*"
    OS_NOVA_DISABLE_EVENTLET_PATCHING=$disabled stestr run "$@" 2>&1 |
        tee -a "$log"
    local rc=${PIPESTATUS[0]}
    [ "$rc" -eq 0 ] || stestr_rc=$rc
    echo >> "$log"
    echo "run-tests: [$label] finished (exit $rc)"
}
# keep_cloud_logs: copy the services' logs of a failed cloud run to a new
# folder, name it and print the end of each log.
keep_cloud_logs() {
    local kept
    kept=$(mktemp -d "${TMPDIR:-/tmp}/gpu-numa-cloud-logs.XXXXXX")
    cp -r .cloud/logs/. "$kept"/ 2>/dev/null
    echo "run-tests: the cloud's logs of this failed run are in $kept"
    local file
    for file in "$kept"/*.log; do
        [ -f "$file" ] || continue
        echo "run-tests: --- last lines of $(basename "$file") ---"
        tail -n 15 "$file"
    done
}
# cloud_running: true when any service of tools/cloud.sh runs here (its
# status table: SERVICE PID ... HEALTH; a row with a PID that is not
# stopped).
cloud_running() {
    local table
    table=$(bash tools/cloud.sh status 2>/dev/null) || true
    printf '%s\n' "$table" | awk '
        /^$/ { exit }
        NR > 1 && $2 ~ /^[0-9]+$/ && $NF != "stopped" { found = 1 }
        END { exit !found }'
}
# run_cloud [ARGS]: bring the cloud up, run the cloud tests (ARGS: a
# regex instead of all of them), bring it down; keep the logs on failure.
run_cloud() {
    local before=$stestr_rc up_start=$SECONDS
    if cloud_running; then
        echo "run-tests: a cloud is already running here; stop it first" \
             "(tools/cloud.sh down), the cloud tests kill its services"
        stestr_rc=1
        return
    fi
    local installed=0
    if [ -n "$cloud_install_pid" ]; then
        echo "run-tests: waiting for the cloud's install (started in the" \
             "background)"
        local install_rc=0
        wait "$cloud_install_pid" || install_rc=$?
        cloud_install_pid=
        cat "$cloud_install_log"
        if [ "$install_rc" -ne 0 ]; then
            echo "run-tests: tools/cloud.sh install failed (exit" \
                 "$install_rc)"
            stestr_rc=1
            return
        fi
        installed=1
    fi
    echo "run-tests: tools/cloud.sh up"
    cloud_started=1
    if ! CLOUD_INSTALLED=$installed bash tools/cloud.sh up; then
        echo "run-tests: tools/cloud.sh up failed"
        stestr_rc=1
        keep_cloud_logs
        cloud_down
        return
    fi
    echo "run-tests: cloud up in $((SECONDS - up_start)) s"
    stestr_rc=0
    if [ $# -gt 0 ]; then
        GPU_NUMA_REQUIRE_CLOUD=1 run_stestr cloud 1 --concurrency 1 "$@"
    else
        # Services are killed and restarted only after the other tests.
        GPU_NUMA_REQUIRE_CLOUD=1 run_stestr cloud 1 --concurrency 1 \
            "$CLOUD_TESTS" --exclude-regex "$DISRUPTIVE_CLOUD_TESTS"
        GPU_NUMA_REQUIRE_CLOUD=1 run_stestr cloud 1 --concurrency 1 \
            "$DISRUPTIVE_CLOUD_TESTS"
    fi
    [ "$stestr_rc" -eq 0 ] || keep_cloud_logs
    cloud_down
    echo "run-tests: cloud run took $((SECONDS - up_start)) s, up and" \
         "down included"
    [ "$before" -eq 0 ] || stestr_rc=$before
}

start=$SECONDS
if [ "$cloud_only" -eq 1 ]; then
    run_cloud "$@"
elif [ $# -eq 0 ]; then
    if [ "${GPU_NUMA_CLOUD_TESTS:-1}" != 0 ] && ! cloud_running; then
        echo "run-tests: tools/cloud.sh install, in the background"
        set -m
        bash tools/cloud.sh install > "$cloud_install_log" 2>&1 &
        cloud_install_pid=$!
        set +m
    fi
    run_stestr eventlet 0 --concurrency "$CONCURRENCY" \
        --exclude-list "$EVENTLET_EXCLUDE"
    run_stestr threading 1 --concurrency "$CONCURRENCY" "$FUNCTIONAL_TESTS" \
        --exclude-list "$THREADING_EXCLUDE"
    echo "run-tests: guest XML to define:" \
         "$(cd "$GPU_NUMA_GUEST_XML_DIR" && echo *.xml)"
    # The functional tests write nova's own phone XML; it must be there.
    for xml in nova-x86_64-phone.xml nova-aarch64-phone.xml; do
        if [ ! -f "$GPU_NUMA_GUEST_XML_DIR/$xml" ]; then
            echo "run-tests: $xml was not written by the functional tests"
            stestr_rc=1
        fi
    done
    run_stestr libvirtd 0 --concurrency 1 --combine "$LIBVIRTD_TESTS"
    if [ "${GPU_NUMA_CLOUD_TESTS:-1}" != 0 ]; then
        run_cloud
    else
        echo "run-tests: [cloud] left out (GPU_NUMA_CLOUD_TESTS=0)"
    fi
else
    mode=${OS_NOVA_DISABLE_EVENTLET_PATCHING:-0}
    case "$mode" in
        1|true|yes) label=threading ;;
        *) label=eventlet ;;
    esac
    run_stestr "$label" "$mode" --concurrency "$CONCURRENCY" "$@"
fi
echo "run-tests: tests took $((SECONDS - start)) s"

# Counts from the Totals blocks that stestr printed for these very runs
# (not "stestr last", which would show an older run if one never started).
count() {
    sed -n "s/^ - $1: \([0-9][0-9]*\).*/\1/p" "$log" |
        awk '{ n += $1 } END { print n + 0 }'
}
passed=$(( $(count Passed) + $(count 'Expected Fail') ))
failed=$(( $(count Failed) + $(count 'Unexpected Success') ))
skipped=$(count Skipped)

rc=0
if [ "$stestr_rc" -ne 0 ]; then
    rc=1
    if [ "$failed" -eq 0 ]; then
        # Import errors at discovery or a crashed worker: no test failed
        # on its own, but the run did.
        echo
        echo "run-tests: stestr exited $stestr_rc (discovery or runner" \
             "error), counted as one failure"
        failed=1
    fi
fi
if [ "$flake8_rc" -ne 0 ]; then
    echo "run-tests: flake8 failed, counted as one failure"
    failed=$((failed + 1))
    rc=1
fi
if [ $((passed + failed)) -eq 0 ]; then
    echo "run-tests: no test ran"
    rc=1
fi
echo "$passed passed, $failed failed, $skipped skipped"
exit "$rc"
