# influxd.sh: start and stop real influxd 1.x instances for tests.
#
# Source it from bash, then:
#   influxd_start NAME     start an instance on free loopback ports, export
#                          INFLUX_URL_<NAME> and print the URL
#   influxd_stop NAME      stop it (by PID) and wait for it
#   influxd_restart NAME   stop and start again: same data dirs, same ports
#   influxd_stop_all       stop every instance started here (for a trap)
#
# Each instance lives in its own directory under $TEST_TMPDIR with separate
# meta, data and WAL dirs, so several nodes run side by side. When
# TEST_TMPDIR is unset, influxd_start makes one with mktemp and
# influxd_stop_all removes it again; set it first (tests/lib/itest.sh's
# it_init does) to keep everything in one directory. Set
# INFLUXD_MAX_BODY_SIZE (bytes) before influxd_start to lower [http]
# max-body-size (default 25000000, influxd's own default).
# INFLUXD_BIN overrides the binary (default: influxd from PATH).
# NAME must be a valid shell identifier part: [A-Za-z0-9_].
#
# Call influxd_start directly, not as $(influxd_start ...): the exported
# URL and the PID table live in the calling shell. The PID is also kept in
# $TEST_TMPDIR/influxd-NAME/influxd.pid, so influxd_stop / influxd_stop_all
# still find an instance started in a subshell when TEST_TMPDIR was set
# beforehand.

declare -gA INFLUXD_PID_=()
declare -gA INFLUXD_DIR_=()
declare -gA INFLUXD_HTTP_PORT_=()
INFLUXD_OWN_TMPDIR_=

influxd_free_port_()
{
    python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

influxd_write_config_()
{
    local dir=$1 http_port=$2 rpc_port=$3
    cat > "$dir/influxd.conf" <<EOF
reporting-enabled = false
bind-address = "127.0.0.1:$rpc_port"

[meta]
  dir = "$dir/meta"
  logging-enabled = false

[data]
  dir = "$dir/data"
  wal-dir = "$dir/wal"
  query-log-enabled = false

[monitor]
  store-enabled = false

[subscriber]
  enabled = false

[continuous_queries]
  enabled = false
  log-enabled = false

[http]
  enabled = true
  bind-address = "127.0.0.1:$http_port"
  log-enabled = false
  pprof-enabled = false
  max-body-size = ${INFLUXD_MAX_BODY_SIZE:-25000000}

[logging]
  level = "warn"
  suppress-logo = true
EOF
}

# Starts the process for NAME from its existing config; waits for /ping.
# Returns 1 when the process died or did not answer within 10 s.
influxd_launch_()
{
    local name=$1 dir=${INFLUXD_DIR_[$1]} port=${INFLUXD_HTTP_PORT_[$1]}
    local pid i code
    "${INFLUXD_BIN:-influxd}" run -config "$dir/influxd.conf" \
        >> "$dir/influxd.log" 2>&1 &
    pid=$!
    INFLUXD_PID_[$name]=$pid
    echo "$pid" > "$dir/influxd.pid"
    for ((i = 0; i < 200; i++)); do
        if ! kill -0 "$pid" 2>/dev/null; then
            wait "$pid" 2>/dev/null
            unset "INFLUXD_PID_[$name]"
            rm -f "$dir/influxd.pid"
            return 1
        fi
        code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 \
            "http://127.0.0.1:$port/ping" 2>/dev/null)
        if [[ $code == 204 ]]; then
            return 0
        fi
        sleep 0.05
    done
    echo "influxd '$name' did not answer /ping within 10 s" >&2
    influxd_stop "$name"
    return 1
}

influxd_start()
{
    local name=$1 dir http_port rpc_port attempt
    if [[ ! $name =~ ^[A-Za-z0-9_]+$ ]]; then
        echo "influxd_start: bad instance name '$name'" >&2
        return 2
    fi
    if [[ -n ${INFLUXD_PID_[$name]:-} ]]; then
        echo "influxd_start: '$name' is already running" >&2
        return 2
    fi
    if [[ -z ${TEST_TMPDIR:-} ]]; then
        TEST_TMPDIR=$(mktemp -d /tmp/influxd-test.XXXXXX) || return 1
        export TEST_TMPDIR
        INFLUXD_OWN_TMPDIR_=$TEST_TMPDIR
    fi
    dir=$TEST_TMPDIR/influxd-$name
    mkdir -p "$dir" || return 1
    INFLUXD_DIR_[$name]=$dir
    # Another process may take a port between the probe and influxd's bind:
    # retry on new ports a few times.
    for ((attempt = 0; attempt < 5; attempt++)); do
        http_port=$(influxd_free_port_) || return 1
        rpc_port=$(influxd_free_port_) || return 1
        if [[ $http_port == "$rpc_port" ]]; then
            continue
        fi
        influxd_write_config_ "$dir" "$http_port" "$rpc_port"
        INFLUXD_HTTP_PORT_[$name]=$http_port
        if influxd_launch_ "$name"; then
            export "INFLUX_URL_$name=http://127.0.0.1:$http_port"
            echo "http://127.0.0.1:$http_port"
            return 0
        fi
    done
    echo "cannot start influxd '$name', log:" >&2
    tail -n 20 "$dir/influxd.log" >&2
    return 1
}

influxd_stop()
{
    local name=$1 pid=${INFLUXD_PID_[$1]:-} i
    local pidfile=${TEST_TMPDIR:-/nonexistent}/influxd-$1/influxd.pid
    if [[ -z $pid && -f $pidfile ]]; then
        pid=$(< "$pidfile")
    fi
    if [[ -z $pid ]]; then
        return 0
    fi
    kill -TERM "$pid" 2>/dev/null
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null
    fi
    wait "$pid" 2>/dev/null
    unset "INFLUXD_PID_[$name]"
    rm -f "$pidfile"
    return 0
}

influxd_restart()
{
    local name=$1
    if [[ -z ${INFLUXD_DIR_[$name]:-} ]]; then
        echo "influxd_restart: unknown instance '$name'" >&2
        return 2
    fi
    influxd_stop "$name"
    # Same config, so same ports and data; the port may have been taken
    # meanwhile, which is an error here rather than a silent move.
    if ! influxd_launch_ "$name"; then
        echo "cannot restart influxd '$name', log:" >&2
        tail -n 20 "${INFLUXD_DIR_[$name]}/influxd.log" >&2
        return 1
    fi
    return 0
}

influxd_stop_all()
{
    local name f
    for name in "${!INFLUXD_PID_[@]}"; do
        influxd_stop "$name"
    done
    if [[ -n ${TEST_TMPDIR:-} ]]; then
        for f in "$TEST_TMPDIR"/influxd-*/influxd.pid; do
            [[ -f $f ]] || continue
            name=${f%/influxd.pid}
            influxd_stop "${name##*/influxd-}"
        done
    fi
    # The directory influxd_start made itself: nobody else removes it.
    if [[ -n $INFLUXD_OWN_TMPDIR_ ]]; then
        rm -rf "$INFLUXD_OWN_TMPDIR_"
        INFLUXD_OWN_TMPDIR_=
    fi
}
