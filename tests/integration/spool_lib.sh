# spool_lib.sh: shared setup of the spool integration tests (sourced by
# spool_*.sh after setting nothing; uses top_srcdir and LAGWATCH).
#
#   sl_init                      temp dir, cleanup trap, fake Flink (static)
#   sl_config NODES [AGENT] [INFLUX]
#                                writes $cfg: interval 1s, spool under
#                                $TEST_TMPDIR/spool, one batch per node per
#                                cycle; NODES, AGENT, INFLUX are YAML lines
#                                added under nodes:, agent: and influxdb:;
#                                SL_TIMEOUT: the write timeout (2s)
#   sl_start LOG                 starts lagwatch (debug log to LOG), waits
#                                for /readyz; $lw is its PID
#   sl_kill [SIGNAL]             stops it (default TERM), sets $lw_rc; a
#                                sanitizer report in its log fails a check
#   sl_metric NAME NODE          a per-node self-metric, integer
#   sl_wait_metric NAME NODE OP VALUE SECONDS
#   sl_check NODE URL [ARGS] -- LOG...   runs spool_check.py, prints its
#                                summary as TAP diagnostics, returns its
#                                status; its summary is in $sl_summary
here=$(cd "$(dirname "$0")" && pwd)
srcdir=${top_srcdir:-$(cd "$here/../.." && pwd)}
LAGWATCH=${LAGWATCH:-$srcdir/lagwatch}
FIX=${FLINK_FIXTURES:-$srcdir/tests/fixtures/flink}
. "$srcdir/tests/lib/tap.sh"
. "$srcdir/tests/lib/influxd.sh"

command -v influxd >/dev/null || tap_skip_all "influxd not installed"
[ -x "$LAGWATCH" ] || tap_skip_all "no lagwatch binary at $LAGWATCH"

sl_pids=()
lw=
lw_rc=
sl_cleanup() {
    [ -n "$lw" ] && kill -KILL "$lw" 2>/dev/null && wait "$lw" 2>/dev/null
    for p in "${sl_pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    influxd_stop_all
    rm -rf "$TEST_TMPDIR"
}

sl_bail() {
    tap_not_ok "$*"
    tap_done
    exit 1
}

sl_init() {
    TEST_TMPDIR=$(mktemp -d /tmp/lagwatch-spool.XXXXXX)
    export TEST_TMPDIR
    trap sl_cleanup EXIT
    # --static: every cycle has the same series, which spool_check.py needs
    python3 "$srcdir/tests/fakeflink.py" --fixtures "$FIX" --port 0 --static \
        --port-file "$TEST_TMPDIR/fake.port" >/dev/null \
        2>"$TEST_TMPDIR/fake.err" &
    sl_pids+=($!)
    wait_for_file "$TEST_TMPDIR/fake.port" 10 || sl_bail "fake flink up"
    fport=$(sed -n 's/^port=//p' "$TEST_TMPDIR/fake.port")
    lport=$(free_port)
    base=http://127.0.0.1:$lport
    cfg=$TEST_TMPDIR/lagwatch.yml
}

sl_config() {
    cat > "$cfg" <<YAML
agent:
  name: spool-agent
  interval: 1s
  listen: 127.0.0.1:$lport
  spool_dir: $TEST_TMPDIR/spool
  spool_fsync: true
${2:-}
flink:
  - name: prod
    rest_url: http://127.0.0.1:$fport
    reporters: [http://127.0.0.1:$fport/tm1/metrics, http://127.0.0.1:$fport/jm/metrics]
sinks:
  influxdb:
    database: flink
    max_retries: 2
    timeout: ${SL_TIMEOUT:-2s}
    batch_size: 1000000
    flush_interval: 60s
${3:-}
    nodes:
$1
YAML
}

sl_start() {
    sl_log=$1
    "$LAGWATCH" run -c "$cfg" --log-level debug 2>"$1" &
    lw=$!
    for _ in $(seq 100); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' "$base/readyz")" = 200 ] && return 0
        kill -0 "$lw" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

sl_kill() {
    kill "-${1:-TERM}" "$lw"
    wait "$lw"
    lw_rc=$?
    lw=
    # a sanitizer build reports into the log (exit status 1 is ambiguous)
    if grep -q -e 'Sanitizer' -e 'runtime error:' "$sl_log"; then
        tap_not_ok "sanitizer report in $sl_log"
        grep -A20 -e 'Sanitizer' -e 'runtime error:' "$sl_log" | head -40 |
            sed 's/^/# /'
    fi
}

sl_metric() {
    curl -s "$base/metrics" |
        awk -v n="$1{node=\"$2\"}" '$1 == n { printf "%d\n", $2 }'
}

sl_wait_metric() { # NAME NODE OP VALUE SECONDS
    local v i
    for ((i = 0; i < $5 * 10; i++)); do
        v=$(sl_metric "$1" "$2")
        [ -n "$v" ] && [ "$v" "$3" "$4" ] && return 0
        sleep 0.1
    done
    return 1
}

sl_check() { # NODE URL [ARGS...] -- LOG...
    local node=$1 url=$2 out rc
    shift 2
    local args=()
    while [ "$1" != -- ]; do args+=("$1"); shift; done
    shift
    out=$(python3 "$srcdir/tests/integration/spool_check.py" --url "$url" \
        --db flink --node "$node" "${args[@]}" "$@")
    rc=$?
    sl_summary=$(printf '%s\n' "$out" | head -1)
    tap_diag "$out"
    return $rc
}
