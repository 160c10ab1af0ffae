# spool_lib.sh: the spool integration tests' layer over tests/lib/itest.sh
# (sourced by spool_*.sh and slow_node.sh, which may use every it_*
# function too).
#
#   sl_init                      it_init, fake Flink (--static), lport/base;
#                                call it before starting influxd nodes
#   sl_config NODES [AGENT] [INFLUX]
#                                writes $cfg: interval 1s, spool under
#                                $TEST_TMPDIR/spool, one batch per node per
#                                cycle; NODES, AGENT, INFLUX are YAML lines
#                                added under nodes:, agent: and influxdb:;
#                                SL_TIMEOUT: the write timeout (2s)
#   sl_start LOG                 starts lagwatch (debug log to LOG), waits
#                                for /readyz; $lw is its PID
#   sl_kill [SIGNAL]             it_lagwatch_stop: sets $lw_rc; a sanitizer
#                                report in its log fails a check
#   sl_bail DESC                 it_bail
#   sl_metric NAME NODE          a per-node self-metric, integer
#   sl_wait_metric NAME NODE OP VALUE SECONDS
#   sl_check NODE URL [ARGS] -- LOG...   runs spool_check.py, prints its
#                                summary as TAP diagnostics, returns its
#                                status; its summary is in $sl_summary
. "$(cd "$(dirname "$0")/../lib" && pwd)/itest.sh"

it_need influxd lagwatch

sl_bail() { it_bail "$@"; }
sl_kill() { it_lagwatch_stop "$@"; }

sl_init() {
    it_init spool
    # --static: every cycle has the same series, which spool_check.py needs
    it_fakeflink --static || sl_bail "fake flink up"
    it_listen
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
$(it_yaml_flink --rest tm1 jm)
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
    it_lagwatch "$cfg" "$1" --log-level debug
    it_ready 10
}

sl_metric() {
    it_metric "$1{node=\"$2\"}" | awk '{ printf "%d\n", $1 }'
}

sl_wait_metric() { # NAME NODE OP VALUE SECONDS
    it_wait_metric "$1{node=\"$2\"}" "$3" "$4" "$5"
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
