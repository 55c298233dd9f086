#!/usr/bin/env bash
# A real multi-process OpenStack cloud on this machine, with the plugin in
# Nova's services and only the hypervisor a stand-in (Nova's fake libvirt).
#
#   tools/cloud.sh up              install what is missing, start everything
#   tools/cloud.sh install         only install what is missing (no service)
#   tools/cloud.sh status          every service: PID, port, health
#   tools/cloud.sh down            stop every process `up` started (by PID)
#   tools/cloud.sh wipe            down, then remove all state (.cloud/)
#   tools/cloud.sh restart SERVICE stop one service and start it again
#   tools/cloud.sh kill SERVICE    SIGKILL one service (no restart)
#   tools/cloud.sh start SERVICE   start one stopped service
#   tools/cloud.sh services        the service names, one a line
#
# Debian 12 as root, no systemd: MariaDB, RabbitMQ and memcached come from
# Debian and run directly; Keystone, Placement, Glance, neutron-server and
# the Nova API run under uwsgi on 127.0.0.1; nova-conductor, nova-scheduler
# (2 workers) and one nova-compute per tools/cloud/hosts/*.yaml run from
# the venv .cloud/venv, which holds the plugin (a regular install).
# Everything lives under .cloud/: etc/, logs/, pids/, state/, domains/.
# doc/source/cloud.rst describes it.
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CLOUD_DIR=${CLOUD_DIR:-$REPO_ROOT/.cloud}
TOOLS=$REPO_ROOT/tools/cloud
VENV=${CLOUD_VENV:-$CLOUD_DIR/venv}
ETC=$CLOUD_DIR/etc
LOGS=$CLOUD_DIR/logs
PIDS=$CLOUD_DIR/pids
STATE=$CLOUD_DIR/state
PYTHON=${PYTHON:-python3}

export MYSQL_PORT=${MYSQL_PORT:-3306}
export RABBIT_PORT=${RABBIT_PORT:-5672}
export RABBIT_DIST_PORT=${RABBIT_DIST_PORT:-25672}
RABBIT_NODE=${RABBIT_NODE:-cloud}
export MEMCACHED_PORT=${MEMCACHED_PORT:-11211}
export KEYSTONE_PORT=${KEYSTONE_PORT:-5000}
export PLACEMENT_PORT=${PLACEMENT_PORT:-8778}
export GLANCE_PORT=${GLANCE_PORT:-9292}
export NEUTRON_PORT=${NEUTRON_PORT:-9696}
export NOVA_PORT=${NOVA_PORT:-8774}
export CLOUD_DIR

log() { echo "cloud: $*"; }
die() { echo "cloud: $*" >&2; exit 1; }

compute_hosts() {
    local f
    for f in "$TOOLS"/hosts/*.yaml; do basename "$f" .yaml; done
}

# service name -> TCP port it listens on (none for RPC-only services)
port_of() {
    case $1 in
        mariadb) echo "$MYSQL_PORT" ;;
        rabbitmq) echo "$RABBIT_PORT" ;;
        memcached) echo "$MEMCACHED_PORT" ;;
        keystone) echo "$KEYSTONE_PORT" ;;
        placement) echo "$PLACEMENT_PORT" ;;
        glance) echo "$GLANCE_PORT" ;;
        neutron) echo "$NEUTRON_PORT" ;;
        nova-api) echo "$NOVA_PORT" ;;
        *) echo - ;;
    esac
}

services() {
    echo mariadb rabbitmq memcached keystone placement glance neutron \
        nova-api nova-conductor nova-scheduler $(compute_hosts)
}

# --- processes -----------------------------------------------------------------

pid_of() { cat "$PIDS/$1" 2>/dev/null || true; }

alive() {
    local pid
    pid=$(pid_of "$1")
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

# launch NAME COMMAND...: in its own session (so the recorded PID leads the
# process group of its workers), output to logs/NAME.log, PID to pids/NAME.
launch() {
    local name=$1
    shift
    mkdir -p "$LOGS" "$PIDS"
    echo "--- $(date -u +%FT%TZ) start: $*" >> "$LOGS/$name.log"
    setsid "$@" >> "$LOGS/$name.log" 2>&1 < /dev/null &
    echo $! > "$PIDS/$name"
}

# stop NAME [SIGNAL]: the process group the recorded PID leads, then wait.
stop() {
    local name=$1 signal=${2:-TERM} pid i
    pid=$(pid_of "$name")
    if [ -z "$pid" ]; then
        return 0
    fi
    if kill -0 "$pid" 2>/dev/null; then
        kill -"$signal" -- "-$pid" 2>/dev/null || kill -"$signal" "$pid" \
            2>/dev/null || true
        for i in $(seq 1 100); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
            log "$name (PID $pid) ignored SIG$signal for 10 s; SIGKILL"
            kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" || true
        fi
    fi
    rm -f "$PIDS/$name"
}

# --- health ----------------------------------------------------------------------

port_open() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

http_ok() {
    local code
    code=$(curl -s -o /dev/null -m 5 -w '%{http_code}' \
        "http://127.0.0.1:$1/" 2>/dev/null) || return 1
    case $code in 2??|3??|401) return 0 ;; *) return 1 ;; esac
}

# health NAME: prints a word, true when healthy
health() {
    local name=$1 port
    port=$(port_of "$name")
    if ! alive "$name"; then
        echo stopped
        return 1
    fi
    case $name in
        mariadb|rabbitmq|memcached)
            if port_open "$port"; then echo ok; else echo "no-port"; return 1
            fi ;;
        keystone|placement|glance|neutron|nova-api)
            if http_ok "$port"; then echo ok; else echo "no-http"; return 1
            fi ;;
        *)
            echo running ;;
    esac
}

wait_for() {  # wait_for NAME SECONDS
    local name=$1 limit=$2 i
    for i in $(seq 1 $((limit * 4))); do
        if ! alive "$name"; then
            fail "$name" "exited during start"
        fi
        if health "$name" >/dev/null; then
            return 0
        fi
        sleep 0.25
    done
    fail "$name" "not healthy after $limit s"
}

# fail NAME WHY: report, tail the log, stop what was started, exit 1. In a
# background step (IN_STEP=1) only report: the caller stops everything.
fail() {
    local name=$1 why=$2
    echo "cloud: FAILED: $name $why" >&2
    if [ "${IN_STEP:-0}" = 1 ]; then
        exit 1
    fi
    if [ -f "$LOGS/$name.log" ]; then
        echo "--- last lines of $LOGS/$name.log:" >&2
        tail -n 30 "$LOGS/$name.log" >&2
        echo "---" >&2
    fi
    echo "cloud: stopping what was started" >&2
    down_all >&2
    exit 1
}

# run_step NAME COMMAND...: a one-off command logged to logs/NAME.log
run_step() {
    local name=$1
    shift
    mkdir -p "$LOGS"
    local line="$*" secret=${CLOUD_PASSWORD:-}
    [ -z "$secret" ] || line=${line//"$secret"/***}
    echo "--- $(date -u +%FT%TZ) run: $line" >> "$LOGS/$name.log"
    if ! "$@" >> "$LOGS/$name.log" 2>&1; then
        fail "$name" "step failed: $*"
    fi
}

# --- install -----------------------------------------------------------------------

install() {
    [ "$(id -u)" = 0 ] || die "run as root (starts Debian's daemons)"
    local start=$SECONDS
    BINDEP_PROFILE=cloud VENV=$VENV PYTHON=$PYTHON \
        REQUIREMENTS="requirements.txt tools/cloud/requirements.txt" \
        bash "$REPO_ROOT/tools/bootstrap.sh" | sed 's/^/  /'
    if [ $((SECONDS - start)) -gt 10 ]; then
        log "installed in $((SECONDS - start)) s"
    fi
}

# --- the services --------------------------------------------------------------------

password() {
    if [ ! -s "$STATE/password" ]; then
        mkdir -p "$STATE"
        (umask 077; head -c 18 /dev/urandom | base64 | tr -d '/+=' \
            > "$STATE/password")
    fi
    cat "$STATE/password"
}

start_mariadb() {
    local data=$STATE/mariadb
    if [ ! -d "$data/mysql" ]; then
        mkdir -p "$data"
        run_step mariadb mariadb-install-db --user=root --datadir="$data" \
            --auth-root-authentication-method=socket --skip-test-db
    fi
    launch mariadb /usr/sbin/mariadbd --no-defaults --user=root \
        --datadir="$data" --socket="$STATE/mariadb.sock" \
        --pid-file="$STATE/mariadb.pid" --bind-address=127.0.0.1 \
        --port="$MYSQL_PORT" --skip-name-resolve --max-connections=1000 \
        --innodb-buffer-pool-size=256M --innodb-flush-log-at-trx-commit=0
}

mysql_root() {
    mariadb --no-defaults --socket="$STATE/mariadb.sock" -u root "$@"
}

create_databases() {
    local pw=$1 db sql=""
    for db in keystone placement glance neutron nova_api nova_cell0 \
            nova_cell1; do
        sql+="CREATE DATABASE IF NOT EXISTS $db CHARACTER SET utf8mb4;"
    done
    sql+="CREATE USER IF NOT EXISTS 'cloud'@'127.0.0.1' IDENTIFIED BY '$pw';"
    sql+="GRANT ALL PRIVILEGES ON *.* TO 'cloud'@'127.0.0.1';"
    run_step mariadb mysql_root -e "$sql"
}

start_rabbitmq() {
    local base=$STATE/rabbitmq
    mkdir -p "$base"
    # Erlang's port mapper, in the foreground so that it is ours to stop;
    # one already running (another Erlang node's) is left alone.
    if ! port_open 4369; then
        launch epmd /usr/bin/epmd -address 127.0.0.1 -port 4369
    fi
    # Run as root in the foreground (Debian's wrapper would switch to the
    # rabbitmq user and daemonise); node data and cookie under .cloud.
    launch rabbitmq env HOME="$base" RABBITMQ_NODENAME="$RABBIT_NODE@localhost" \
        RABBITMQ_MNESIA_BASE="$base/mnesia" RABBITMQ_LOG_BASE="$LOGS" \
        RABBITMQ_LOGS=- RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 \
        RABBITMQ_NODE_PORT="$RABBIT_PORT" \
        RABBITMQ_DIST_PORT="$RABBIT_DIST_PORT" \
        RABBITMQ_ENABLED_PLUGINS_FILE="$base/enabled_plugins" \
        ERL_EPMD_ADDRESS=127.0.0.1 \
        /usr/lib/rabbitmq/bin/rabbitmq-server
}

start_memcached() {
    launch memcached /usr/bin/memcached -u memcache -l 127.0.0.1 \
        -p "$MEMCACHED_PORT" -m 64
}

# uwsgi_api NAME PORT MODULE PROCESSES ENV=...: with devstack's flags, which
# clients need (without them: ConnectionResetError 104).
uwsgi_api() {
    local name=$1 port=$2 module=$3 processes=$4
    shift 4
    launch "$name" env "$@" OS_NOVA_DISABLE_EVENTLET_PATCHING=1 \
        "$VENV/bin/uwsgi" --master --die-on-term --need-app \
        --http-socket "127.0.0.1:$port" --wsgi "$module:application" \
        --processes "$processes" --threads 1 --enable-threads --lazy-apps \
        --add-header "Connection: close" --buffer-size 65535 \
        --http-raw-body --http-chunked-input --http-auto-chunked \
        --thunder-lock --worker-reload-mercy 5 --procname-prefix "$name-"
}

start_service() {
    local name=$1
    case $name in
        mariadb) start_mariadb ;;
        rabbitmq) start_rabbitmq ;;
        memcached) start_memcached ;;
        # Two processes where requests of a burst go: Nova, Placement and
        # Keystone (token validation); one for the rest.
        keystone) uwsgi_api keystone "$KEYSTONE_PORT" keystone.wsgi.api 2 \
            OS_KEYSTONE_CONFIG_DIR="$ETC/keystone" ;;
        placement) uwsgi_api placement "$PLACEMENT_PORT" placement.wsgi.api \
            2 OS_PLACEMENT_CONFIG_DIR="$ETC/placement" ;;
        glance) uwsgi_api glance "$GLANCE_PORT" glance.wsgi.api 1 \
            OS_GLANCE_CONFIG_DIR="$ETC/glance" ;;
        neutron) uwsgi_api neutron "$NEUTRON_PORT" neutron_api 1 \
            PYTHONPATH="$TOOLS" OS_NEUTRON_CONFIG_DIR="$ETC/neutron" ;;
        nova-api) uwsgi_api nova-api "$NOVA_PORT" nova.wsgi.osapi_compute 2 \
            OS_NOVA_CONFIG_DIR="$ETC" \
            OS_NOVA_CONFIG_FILES="nova/api-paste.ini;nova.conf" ;;
        nova-conductor|nova-scheduler)
            launch "$name" env OS_NOVA_DISABLE_EVENTLET_PATCHING=1 \
                "$VENV/bin/$name" --config-file "$ETC/nova.conf" ;;
        *)
            [ -f "$TOOLS/hosts/$name.yaml" ] || die "unknown service: $name"
            mkdir -p "$STATE/$name"
            launch "$name" "$VENV/bin/python" "$TOOLS/compute.py" \
                "$TOOLS/hosts/$name.yaml" "$CLOUD_DIR" -- \
                --config-file "$ETC/nova.conf" \
                --config-file "$ETC/$name.conf" ;;
    esac
}

# --- commands ------------------------------------------------------------------------

check_ports() {
    local name port owner busy=0
    for name in $(services); do
        port=$(port_of "$name")
        [ "$port" = - ] && continue
        owner=$(ss -Hltnp "sport = :$port" 2>/dev/null | \
            grep -o 'users:(.*)' | head -n1 || true)
        if [ -n "$owner" ] || port_open "$port"; then
            echo "cloud: port $port ($name) is already taken by" \
                "${owner:-an unknown process}" >&2
            busy=1
        fi
    done
    [ "$busy" = 0 ] || die "free the port(s) above or set" \
        "<SERVICE>_PORT (see tools/cloud.sh)"
}

running_services() {
    local name
    for name in $(services); do
        if alive "$name"; then echo "$name"; fi
    done
}

keystone_manage() {
    run_step keystone "$VENV/bin/keystone-manage" \
        --config-file "$ETC/keystone/keystone.conf" "$@"
}

nova_manage() {
    run_step nova-manage "$VENV/bin/nova-manage" \
        --config-file "$ETC/nova.conf" "$@"
}

# Schemas and first data, as background jobs: few Python start-ups one
# after the other, since each costs seconds on a busy 2-core machine.
setup_keystone() {
    local fernet credential
    keystone_manage fernet_setup --keystone-user root --keystone-group root &
    fernet=$!
    keystone_manage credential_setup --keystone-user root \
        --keystone-group root &
    credential=$!
    keystone_manage db_sync
    OS_BOOTSTRAP_PASSWORD=$1 keystone_manage bootstrap \
        --bootstrap-admin-url "http://127.0.0.1:$KEYSTONE_PORT/v3" \
        --bootstrap-public-url "http://127.0.0.1:$KEYSTONE_PORT/v3" \
        --bootstrap-internal-url "http://127.0.0.1:$KEYSTONE_PORT/v3" \
        --bootstrap-region-id RegionOne
    wait "$fernet" && wait "$credential"
}

setup_nova() {
    local db="mysql+pymysql://cloud:$1@127.0.0.1:$MYSQL_PORT" cell1 cell0
    # cell1 and cell0 schemas beside the API database and the mappings.
    nova_manage db sync --local_cell &
    cell1=$!
    printf '[database]\nconnection = %s\n' "$db/nova_cell0?charset=utf8" \
        > "$ETC/nova-cell0.conf"
    run_step nova-manage "$VENV/bin/nova-manage" \
        --config-file "$ETC/nova.conf" --config-file "$ETC/nova-cell0.conf" \
        db sync --local_cell &
    cell0=$!
    nova_manage api_db sync
    nova_manage cell_v2 map_cell0 \
        --database_connection "$db/nova_cell0?charset=utf8"
    # Exit status 2: cell1 exists already (an `up` after `down`).
    "$VENV/bin/nova-manage" --config-file "$ETC/nova.conf" cell_v2 \
        create_cell --name cell1 >> "$LOGS/nova-manage.log" 2>&1 ||
        [ $? = 2 ] || fail nova-manage "cell_v2 create_cell failed"
    wait "$cell1" && wait "$cell0"
}

create_schemas() {
    local pw=$1
    log "creating the databases' schemas"
    local pids=() names=(keystone placement glance neutron nova-manage) i
    local failed=
    IN_STEP=1 setup_keystone "$pw" & pids+=($!)
    IN_STEP=1 run_step placement "$VENV/bin/placement-manage" \
        --config-file "$ETC/placement/placement.conf" db sync & pids+=($!)
    IN_STEP=1 run_step glance "$VENV/bin/glance-manage" \
        --config-dir "$ETC/glance" db_sync & pids+=($!)
    IN_STEP=1 run_step neutron "$VENV/bin/neutron-db-manage" \
        --config-file "$ETC/neutron/neutron.conf" \
        --config-file "$ETC/neutron/plugins/ml2/ml2_conf.ini" \
        upgrade heads & pids+=($!)
    IN_STEP=1 setup_nova "$pw" & pids+=($!)
    wait_for rabbitmq 60
    wait_for memcached 10
    for i in "${!pids[@]}"; do
        wait "${pids[$i]}" || failed=${failed:-${names[$i]}}
    done
    [ -z "$failed" ] || fail "$failed" "schema setup failed"
}


# A snapshot of the freshly set-up databases, Keystone's key repositories
# and the password, taken by the first `up` of a venv and loaded by every
# later `up` on an empty state (after `wipe`): the migrations of seven
# databases cost minutes of CPU on 2 cores, loading their result seconds.
# It lives in the venv (which `wipe` keeps) and is named after the
# installed packages and the ports stored in the databases, so another
# version or port set makes a new one. CLOUD_SCHEMA_CACHE=0 skips it.
DATABASES="keystone placement glance neutron nova_api nova_cell0 nova_cell1"

schema_cache() {
    local key
    key=$({ ls "$VENV"/lib/python3*/site-packages | grep 'dist-info$'
            echo "$MYSQL_PORT $RABBIT_PORT $KEYSTONE_PORT"; } |
          sha256sum | cut -c1-16)
    echo "$VENV/cloud-schemas-$key.tar"
}

save_schemas() {
    local file=$1 tmp
    tmp=$(mktemp -d)
    mariadb-dump --no-defaults --socket="$STATE/mariadb.sock" -u root \
        --databases $DATABASES > "$tmp/databases.sql"
    cp "$STATE/password" "$tmp/password"
    cp -a "$ETC/keystone/fernet-keys" "$ETC/keystone/credential-keys" "$tmp"
    tar -C "$tmp" -cf "$file.tmp" . && mv "$file.tmp" "$file"
    rm -rf "$tmp"
    log "saved the schemas for the next \`up\` after \`wipe\`: $file"
}

# cache_password FILE: the snapshot's password, its key repositories
cache_password() {
    tar -xOf "$1" ./password
}

restore_schemas() {
    local file=$1
    mkdir -p "$ETC/keystone"
    tar -C "$ETC/keystone" -xf "$file" ./fernet-keys ./credential-keys
    tar -xOf "$file" ./databases.sql | mysql_root ||
        fail mariadb "loading $file failed"
}

cmd_up() {
    local start running pw
    running=$(running_services)
    if [ -n "$running" ]; then
        log "the cloud is already running ($(echo $running | wc -w)" \
            "services up; \`tools/cloud.sh status\` lists them)"
        return 0
    fi
    check_ports
    # CLOUD_INSTALLED=1: the caller has just run `install` (run-tests.sh
    # does it in the background); checking it again costs half a minute.
    [ "${CLOUD_INSTALLED:-0}" = 1 ] || install
    start=$SECONDS
    mkdir -p "$LOGS" "$PIDS" "$STATE" "$CLOUD_DIR/domains"
    local fresh=no cache=
    if [ ! -d "$STATE/mariadb/mysql" ]; then
        fresh=yes
        if [ "${CLOUD_SCHEMA_CACHE:-1}" = 1 ] && [ -f "$(schema_cache)" ] &&
                [ ! -s "$STATE/password" ]; then
            cache=$(schema_cache)
            (umask 077; cache_password "$cache" > "$STATE/password")
        fi
    fi
    pw=$(password)
    export CLOUD_PASSWORD=$pw
    "$VENV/bin/python" "$TOOLS/cloudctl.py" render
    mkdir -p "$STATE/nova/lock" "$STATE/glance" "$STATE/neutron/lock"

    log "starting MariaDB, RabbitMQ, memcached"
    start_service mariadb
    start_service rabbitmq
    start_service memcached
    wait_for mariadb 60
    create_databases "$pw"

    if [ -n "$cache" ]; then
        log "loading the databases' schemas from $cache"
        restore_schemas "$cache"
        wait_for rabbitmq 60
        wait_for memcached 10
    else
        create_schemas "$pw"
        if [ "$fresh" = yes ] && [ "${CLOUD_SCHEMA_CACHE:-1}" = 1 ]; then
            save_schemas "$(schema_cache)"
        fi
    fi

    log "starting the APIs"
    for name in keystone placement glance neutron nova-api; do
        start_service "$name"
    done
    wait_for keystone 90
    run_step keystone "$VENV/bin/python" "$TOOLS/cloudctl.py" catalog
    # Their service users exist now: conductor and scheduler check their
    # Placement credentials at start.
    log "starting nova-conductor, nova-scheduler, $(echo $(compute_hosts))"
    for name in nova-conductor nova-scheduler $(compute_hosts); do
        start_service "$name"
    done
    for name in placement glance neutron nova-api; do
        wait_for "$name" 90
    done
    # The image, then the computes' registration, in one Python process.
    if ! "$VENV/bin/python" "$TOOLS/cloudctl.py" finish \
            "$(compute_hosts | wc -l)" 180 >> "$LOGS/cloudctl.log" 2>&1; then
        for name in glance nova-conductor nova-scheduler $(compute_hosts); do
            alive "$name" || fail "$name" "exited during start"
        done
        fail cloudctl "image upload or compute registration failed"
    fi
    nova_manage cell_v2 discover_hosts
    log "up in $((SECONDS - start)) s: $(echo $(services) | wc -w) services;" \
        "source $CLOUD_DIR/admin-openrc"
}

down_all() {
    local name
    # Reverse order: computes and Nova first, the daemons last.
    for name in $(services | tr ' ' '\n' | tac); do
        if [ -f "$PIDS/$name" ]; then
            stop "$name"
            echo "cloud: stopped $name"
        fi
    done
    # epmd is started by RabbitMQ on demand; stop it only if it is ours.
    if [ -f "$PIDS/epmd" ]; then
        stop epmd
    fi
}

# rss_mib PID: resident memory of the session PID leads (its workers too)
rss_mib() {
    ps -o rss= --sid "$1" 2>/dev/null | awk '{s += $1} END {print int(s / 1024)}'
}

cmd_status() {
    local name pid port state rss total=0 bad=0
    printf '%-16s %-8s %-6s %-8s %s\n' SERVICE PID PORT RSS_MIB HEALTH
    for name in $(services); do
        pid=$(pid_of "$name")
        port=$(port_of "$name")
        state=$(health "$name") || bad=1
        rss=-
        if [ "$state" != stopped ]; then
            rss=$(rss_mib "$pid")
            total=$((total + rss))
        fi
        printf '%-16s %-8s %-6s %-8s %s\n' "$name" "${pid:--}" "$port" \
            "$rss" "$state"
    done
    echo "total RSS: $total MiB"
    if alive nova-api && [ -f "$CLOUD_DIR/admin-openrc" ]; then
        echo
        echo "Nova's view (openstack compute service list):"
        (set +u; . "$CLOUD_DIR/admin-openrc"
         "$VENV/bin/openstack" compute service list \
            -c Binary -c Host -c State -c Status -f value 2>&1 |
            sed 's/^/  /') || bad=1
    fi
    return $bad
}

cmd_wipe() {
    down_all
    # The venv is an install, not state: keep it unless asked.
    local keep=venv
    [ "${1:-}" = --all ] && keep=
    if [ -d "$CLOUD_DIR" ]; then
        find "$CLOUD_DIR" -mindepth 1 -maxdepth 1 ${keep:+! -name "$keep"} \
            -exec rm -rf {} +
    fi
    log "removed the cloud's state under $CLOUD_DIR${keep:+ (kept venv/)}"
}

need_service() {
    [ -n "${1:-}" ] || die "name a service: $(services)"
    case " $(services) " in *" $1 "*) ;; *) die "unknown service: $1;" \
        "one of: $(services)" ;; esac
}

main() {
    local cmd=${1:-}
    shift || true
    case $cmd in
        up) cmd_up ;;
        install) install ;;
        status) cmd_status ;;
        down) down_all ;;
        wipe) cmd_wipe "$@" ;;
        services) services | tr ' ' '\n' ;;
        restart)
            need_service "${1:-}"
            export CLOUD_PASSWORD
            CLOUD_PASSWORD=$(password)
            stop "$1"
            start_service "$1"
            wait_for "$1" 90
            log "restarted $1 (PID $(pid_of "$1"))" ;;
        start)
            need_service "${1:-}"
            alive "$1" && die "$1 is running (PID $(pid_of "$1"))"
            start_service "$1"
            wait_for "$1" 90
            log "started $1 (PID $(pid_of "$1"))" ;;
        kill)
            need_service "${1:-}"
            alive "$1" || die "$1 is not running"
            stop "$1" KILL
            log "killed $1" ;;
        *) sed -n '2,15s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
           [ -z "$cmd" ] || [ "$cmd" = help ] || exit 2 ;;
    esac
}

main "$@"
