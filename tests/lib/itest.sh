# itest.sh: the scaffolding of the integration tests (sourced by every
# tests/integration/*.sh). It brings tap.sh and influxd.sh, finds the tree,
# and starts the servers a test needs on 127.0.0.1, on free ports, in one
# temporary directory; one EXIT trap stops everything it started, by PID,
# and removes that directory (KEEP_TMP=1 keeps it for a post-mortem).
#
# A script starts like this (spool_lib.sh adds the spool tests' layer):
#
#   set -u
#   . "$(cd "$(dirname "$0")/../lib" && pwd)/itest.sh"
#   it_need influxd lagwatch            # else the script is one TAP skip
#   it_init mytest                      # $T, the trap
#   it_influxd a b || it_bail "start influxd"
#   it_fakeflink --static || it_bail "fake flink up"
#   it_listen
#   cat >"$T/lagwatch.yml" <<YAML
#   agent: {name: my-agent, interval: 1s, listen: "127.0.0.1:$lport",
#           spool_dir: "$T/spool"}
#   $(it_yaml_flink --rest tm1 jm)
#   $(it_yaml_influxdb flink a b)
#   YAML
#   it_lagwatch "$T/lagwatch.yml" "$T/lagwatch.log"
#   tap_check "lagwatch is ready" it_ready 10
#   ...
#   it_lagwatch_stop TERM
#   tap_check "SIGTERM exits 0" test "$lw_rc" = 0
#   tap_done
#
# Outside tests/integration/ (scripts/demo.sh), set top_srcdir (and
# top_builddir) before sourcing it.
#
# Paths (set on sourcing, each overridable from the environment, as the
# Makefile's AM_TESTS_ENVIRONMENT does):
#   srcdir builddir LAGWATCH FAKEFLINK FIX (FLINK_FIXTURES) BROKER
#   (KAFKA_MOCK_BROKER) SCENARIO (KAFKA_SCENARIO)
#
# Set-up and teardown
#   it_need WORD...        skip the whole script (TAP "1..0 # SKIP") unless
#                          every WORD is there: a command on PATH, or
#                          lagwatch (the binary under test), kafka (the
#                          Kafka test broker and scenario tool), pyyaml
#   it_have WORD...        the same test, as a status; $IT_MISSING names
#                          what is missing
#   it_init NAME           TEST_TMPDIR=$T=/tmp/lagwatch-NAME.XXXXXX, the
#                          cleanup trap. Call it before starting anything.
#   it_bail DESC           "not ok - DESC", the plan, exit 1
#   it_bg VAR CMD...       runs CMD in the background (redirect the call),
#                          VAR=its PID; the cleanup stops it
#   it_stop PID            SIGTERM, waits; returns its exit status
#
# Waiting
#   free_port              a TCP port free on 127.0.0.1 right now
#   wait_for_file FILE S   until FILE exists and is non-empty (S seconds)
#   it_code URL [CURL-ARGS]  the HTTP status (000: no answer in 10 s)
#   wait_for_http URL S [CODE [CURL-ARGS]]  until URL answers CODE (200)
#   it_now_ms              wall clock, milliseconds
#
# Servers
#   it_fakeflink [--name N] [ARGS...]  tests/fakeflink.py on a free port
#                          (ARGS: --static, --scenario, --port P, ...);
#                          fport=its port, fake_pid; $T/N.port (default N:
#                          fake) holds its other ports, $T/N.err its stderr
#   it_influxd NAME...     real influxd nodes (tests/lib/influxd.sh):
#                          INFLUX_URL_NAME, and NODE_URL[influx-NAME] (the
#                          node names of it_influx_nodes);
#                          influxd_stop/_restart NAME
#   it_influx_nodes NAME...  YAML list items of sinks.influxdb.nodes, one
#                          per node: name influx-NAME, url INFLUX_URL_NAME
#   it_broker ARGS...      the Kafka test broker (ARGS: --brokers N,
#                          --topic T:P); B=bootstrap list, broker=its PID
#   it_scenario ARGS...    kafka_scenario against $B
#   it_produce TOPIC PARTITION COUNT TS_START [ARGS...]  COUNT messages,
#                          timestamps TS_START, +1 s each
#   it_kafka_two_groups NOW  the rules/dashboards scenario: t1 p0 20
#                          messages from NOW-600 s, p1 5 from NOW-60 s; g1
#                          commits t1 0 15 and t1 1 5, g2 t1 0 3
#   it_prometheus DIR TARGET [FLAGS...]  a real Prometheus in DIR scraping
#                          TARGET (host:port) every second, or nothing
#                          when TARGET is "-" (add FLAG
#                          --web.enable-remote-write-receiver for a
#                          remote-write receiver); waits for /-/ready;
#                          prom=its PID, pport, PROM=its URL; log in
#                          DIR/log, whose tail is a TAP diagnostic when it
#                          does not get ready
#   it_prometheus_stop / it_prometheus_again  stop it / start it again
#                          with the same directory, port and flags
#   it_promql EXPR         the values of an instant query, one per line
#
# Configuration pieces (YAML on stdout, for $(...) inside a heredoc)
#   it_yaml_flink [--rest] REPORTER...  the flink: section, cluster prod on
#                          the fake Flink ($fport); --rest adds its REST
#                          URL; a REPORTER "tm1" means /tm1/metrics there,
#                          one starting with http:// is taken as it is
#   it_yaml_kafka          the kafka: section, cluster main on $B, groups g1
#                          (mapped to the job orders-enrich) and g2
#   it_yaml_influxdb DB NAME...  the sinks: section, database DB on the
#                          nodes NAME... (it_influx_nodes)
#   it_yaml_dead_influxdb TIMEOUT PORT  a sinks: section whose only node
#                          (influx-a) nobody listens on: writes fail after
#                          TIMEOUT, without retries
#
# lagwatch
#   it_listen              lport=a free port, base=http://127.0.0.1:$lport
#   it_lagwatch CONFIG LOG [ARGS...]  `lagwatch run -c CONFIG ARGS`, stderr
#                          to LOG; lw=its PID
#   it_ready [S [CURL-ARGS]]  until $base/readyz answers 200 (S: 10 s);
#                          fails early when lagwatch died
#   it_lagwatch_stop [SIGNAL]  SIGNAL (TERM) and wait: lw_rc=exit status;
#                          a sanitizer report in LOG is a "not ok"
#   it_once CONFIG NAME [ARGS...]  `lagwatch run -c CONFIG --once ARGS`,
#                          output in $T/NAME.out and $T/NAME.err; returns
#                          its exit status; a sanitizer report is a "not ok"
#   it_sanitizer_check LOG  "not ok" with the report when LOG holds an
#                          AddressSanitizer/UBSan report
#   it_ring_owner CONFIG KEY  the first ring owner of KEY (`lagwatch ring`)
#   it_metric SAMPLE       the value of SAMPLE (name{labels} exactly as
#                          /metrics prints it) on $base/metrics
#   it_wait_metric SAMPLE OP VALUE S  until the value passes test OP VALUE
#   it_promtool_check IN ALL REST  promtool check metrics on IN; ALL gets
#                          its findings, REST those that are not Flink's
#                          own names (camelCase, _sum by design); returns
#                          promtool's status
#
# InfluxDB
#   it_influxql URL DB QUERY [CURL-ARGS]  the JSON answer
#   it_influx_rows URL DB QUERY  rows over all series of the answer
#   it_influx_value URL DB QUERY  the first value column of the first row
#                          (0 without series)
#
# Tools that print unnumbered TAP ("ok - x" / "not ok - x")
#   it_tool DESC CMD...    their lines renumbered into this script, plus a
#                          check that CMD exited 0 (a crash is no pass)

here=$(cd "$(dirname "$0")" && pwd)
srcdir=${top_srcdir:-$(cd "$here/../.." && pwd)}
builddir=${top_builddir:-$srcdir}
LAGWATCH=${LAGWATCH:-$srcdir/lagwatch}
FAKEFLINK=${FAKEFLINK:-$srcdir/tests/fakeflink.py}
FIX=${FLINK_FIXTURES:-$srcdir/tests/fixtures/flink}
BROKER=${KAFKA_MOCK_BROKER:-$builddir/tests/kafka_mock_broker}
SCENARIO=${KAFKA_SCENARIO:-$builddir/tests/kafka_scenario}
. "$srcdir/tests/lib/tap.sh"
. "$srcdir/tests/lib/influxd.sh"

IT_PIDS=()
IT_MISSING=
declare -gA NODE_URL=()
lw=
lw_rc=
lw_log=
broker=
prom=

it_have() {
    local w b
    IT_MISSING=
    for w in "$@"; do
        case $w in
        lagwatch)
            [ -x "$LAGWATCH" ] || IT_MISSING="$IT_MISSING no lagwatch binary at $LAGWATCH" ;;
        kafka)
            for b in "$BROKER" "$SCENARIO"; do
                [ -x "$b" ] || IT_MISSING="$IT_MISSING missing $b"
            done ;;
        pyyaml)
            python3 -c 'import yaml' 2>/dev/null ||
                IT_MISSING="$IT_MISSING PyYAML (python3-yaml) not installed" ;;
        *)
            command -v "$w" >/dev/null || IT_MISSING="$IT_MISSING $w not installed" ;;
        esac
    done
    IT_MISSING=${IT_MISSING# }
    [ -z "$IT_MISSING" ]
}

it_need() {
    it_have "$@" || tap_skip_all "$IT_MISSING"
}

it_cleanup() {
    local p
    [ -n "$lw" ] && kill -KILL "$lw" 2>/dev/null && wait "$lw" 2>/dev/null
    for p in "${IT_PIDS[@]}"; do
        kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
    done
    influxd_stop_all
    if [ -n "${TEST_TMPDIR:-}" ] && [ -z "${KEEP_TMP:-}" ]; then
        rm -rf "$TEST_TMPDIR"
    fi
}

it_init() {
    TEST_TMPDIR=$(mktemp -d "/tmp/lagwatch-$1.XXXXXX") || exit 99
    export TEST_TMPDIR
    T=$TEST_TMPDIR
    trap it_cleanup EXIT
    trap 'exit 1' INT TERM
}

it_bail() {
    tap_not_ok "$*"
    tap_done
    exit 1
}

it_bg() {
    local var=$1
    shift
    "$@" &
    IT_PIDS+=($!)
    printf -v "$var" %s "$!"
}

it_stop() {
    local pid=$1 rc i
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    rc=$?
    for i in "${!IT_PIDS[@]}"; do
        [ "${IT_PIDS[$i]}" = "$pid" ] && unset "IT_PIDS[$i]"
    done
    return $rc
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

wait_for_file() {
    local f=$1 t=$2 i=0
    while [ ! -s "$f" ]; do
        i=$((i + 1))
        [ "$i" -gt $((t * 10)) ] && return 1
        sleep 0.1
    done
}

it_code() {
    local url=$1
    shift
    curl -s -o /dev/null -m 10 -w '%{http_code}' "$@" "$url"
}

wait_for_http() {
    local url=$1 t=$2 want=${3:-200} i
    shift $(($# < 3 ? $# : 3))
    for ((i = 0; i < t * 10; i++)); do
        [ "$(it_code "$url" "$@")" = "$want" ] && return 0
        sleep 0.1
    done
    return 1
}

it_now_ms() {
    python3 -c 'import time; print(int(time.time() * 1000))'
}

it_fakeflink() {
    local name=fake
    if [ "${1:-}" = --name ]; then
        name=$2
        shift 2
    fi
    rm -f "$T/$name.port"
    it_bg fake_pid python3 "$FAKEFLINK" --fixtures "$FIX" --port 0 \
        --port-file "$T/$name.port" "$@" >/dev/null 2>"$T/$name.err"
    wait_for_file "$T/$name.port" 10 || return 1
    fport=$(sed -n 's/^port=//p' "$T/$name.port")
    [ -n "$fport" ]
}

it_influxd() {
    local n v
    [ -n "${TEST_TMPDIR:-}" ] || { echo "it_influxd before it_init" >&2; return 2; }
    for n in "$@"; do
        influxd_start "$n" >/dev/null || return 1
        v=INFLUX_URL_$n
        NODE_URL[influx-$n]=${!v}
    done
}

it_influx_nodes() {
    local n v
    for n in "$@"; do
        v=INFLUX_URL_$n
        echo "      - {name: influx-$n, url: \"${!v}\"}"
    done
}

it_yaml_flink() {
    local rest= r
    if [ "${1:-}" = --rest ]; then
        rest=1
        shift
    fi
    printf 'flink:\n  - name: prod\n'
    [ -z "$rest" ] || printf '    rest_url: http://127.0.0.1:%s\n' "$fport"
    [ $# -eq 0 ] || printf '    reporters:\n'
    for r in "$@"; do
        case $r in
        http://*) printf '      - %s\n' "$r" ;;
        *) printf '      - http://127.0.0.1:%s/%s/metrics\n' "$fport" "$r" ;;
        esac
    done
}

it_yaml_kafka() {
    cat <<YAML
kafka:
  - name: main
    brokers: [${B//,/, }]
    groups:
      - {name: g1, job: orders-enrich}
      - {name: g2}
YAML
}

it_yaml_influxdb() {
    local db=$1
    shift
    printf 'sinks:\n  influxdb:\n    database: %s\n    nodes:\n' "$db"
    it_influx_nodes "$@"
}

it_yaml_dead_influxdb() {
    cat <<YAML
sinks:
  influxdb:
    timeout: $1
    max_retries: 0
    nodes:
      - {name: influx-a, url: "http://127.0.0.1:$2"}
YAML
}

it_broker() {
    rm -f "$T/bootstrap"
    it_bg broker "$BROKER" "$@" --port-file "$T/bootstrap" \
        >/dev/null 2>"$T/broker.err"
    wait_for_file "$T/bootstrap" 10 || return 1
    B=$(cat "$T/bootstrap")
}

it_scenario() {
    "$SCENARIO" --bootstrap "$B" "$@"
}

it_produce() {
    local topic=$1 part=$2 count=$3 ts=$4
    shift 4
    it_scenario produce "$topic" "$part" "$count" --ts-start "$ts" \
        --ts-step 1000 "$@"
}

it_kafka_two_groups() {
    local now=$1
    it_produce t1 0 20 $((now - 600000)) &&
        it_produce t1 1 5 $((now - 60000)) &&
        it_scenario commit g1 t1 0 15 t1 1 5 &&
        it_scenario commit g2 t1 0 3
}

IT_PROM_ARGS=()
it_prometheus_again() {
    it_bg prom prometheus "${IT_PROM_ARGS[@]}" >>"$IT_PROM_DIR/log" 2>&1
    wait_for_http "$PROM/-/ready" 20 && return 0
    tap_diag "$(tail -5 "$IT_PROM_DIR/log")"
    return 1
}

it_prometheus() {
    local dir=$1 target=$2
    shift 2
    mkdir -p "$dir"
    pport=$(free_port)
    PROM=http://127.0.0.1:$pport
    IT_PROM_DIR=$dir
    if [ "$target" = - ]; then
        printf 'global:\n  scrape_interval: 1h\nscrape_configs: []\n' \
            >"$dir/prometheus.yml"
    else
        cat >"$dir/prometheus.yml" <<YAML
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: lagwatch
    static_configs:
      - targets: ['$target']
YAML
    fi
    IT_PROM_ARGS=(--config.file="$dir/prometheus.yml"
        --storage.tsdb.path="$dir/data"
        --web.listen-address="127.0.0.1:$pport" "$@")
    it_prometheus_again
}

it_prometheus_stop() {
    it_stop "$prom"
    prom=
}

it_promql() {
    curl -s -G "$PROM/api/v1/query" --data-urlencode "query=$1" |
        python3 -c 'import json,sys
d = json.load(sys.stdin)
for r in d.get("data", {}).get("result", []): print(r["value"][1])' 2>/dev/null
}

it_listen() {
    lport=$(free_port)
    base=http://127.0.0.1:$lport
}

it_lagwatch() {
    local cfg=$1
    lw_log=$2
    shift 2
    "$LAGWATCH" run -c "$cfg" "$@" 2>"$lw_log" &
    lw=$!
}

it_ready() {
    local t=${1:-10} i
    shift $(($# > 0 ? 1 : 0))
    for ((i = 0; i < t * 10; i++)); do
        [ "$(it_code "$base/readyz" "$@")" = 200 ] && return 0
        kill -0 "$lw" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

it_sanitizer_check() {
    # A sanitizer build reports into the log (its exit status alone is
    # ambiguous: 1 is also lagwatch's "points were lost").
    if grep -q -e 'Sanitizer' -e 'runtime error:' "$1"; then
        tap_not_ok "sanitizer report in $1"
        grep -A20 -e 'Sanitizer' -e 'runtime error:' "$1" | head -40 |
            sed 's/^/# /'
    fi
    return 0
}

it_lagwatch_stop() {
    kill "-${1:-TERM}" "$lw"
    wait "$lw"
    lw_rc=$?
    lw=
    it_sanitizer_check "$lw_log"
}

it_once() {
    local cfg=$1 name=$2 rc
    shift 2
    "$LAGWATCH" run -c "$cfg" --once "$@" >"$T/$name.out" 2>"$T/$name.err"
    rc=$?
    it_sanitizer_check "$T/$name.err"
    return $rc
}

it_ring_owner() {
    "$LAGWATCH" ring -c "$1" --key "$2" |
        awk -F'\t' 'NF == 2 { split($2, o, ","); print o[1] }'
}

it_metric() {
    curl -s -m 10 "$base/metrics" | awk -v n="$1" '$1 == n { print $2; exit }'
}

it_wait_metric() {
    local v i
    for ((i = 0; i < $4 * 10; i++)); do
        v=$(it_metric "$1")
        [ -n "$v" ] && [ "${v%.*}" "$2" "$3" ] 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

it_promtool_check() {
    local rc
    promtool check metrics <"$1" >"$2" 2>&1
    rc=$?
    # Flink's own names are camelCase and folded series end in _sum by
    # design (lint findings, exit 3); anything else is a finding.
    grep -v -e "^flink_[^ ]* metric names should be written in 'snake_case' not 'camelCase'" \
        -e '^flink_[^ ]*_sum non-histogram and non-summary metrics should not have "_sum" suffix' \
        "$2" >"$3"
    return $rc
}

it_influxql() {
    local url=$1 db=$2 q=$3
    shift 3
    curl -s "$url/query" --data-urlencode "db=$db" --data-urlencode "q=$q" "$@"
}

it_influx_rows() {
    it_influxql "$@" | python3 -c 'import json,sys
s = json.load(sys.stdin)["results"][0].get("series", [])
print(sum(len(x["values"]) for x in s))'
}

it_influx_value() {
    it_influxql "$@" | python3 -c 'import json,sys
s = json.load(sys.stdin)["results"][0].get("series", [])
print(s[0]["values"][0][1] if s else 0)'
}

it_tool() {
    local desc=$1 rc
    shift
    "$@" >"$T/tool.out" 2>&1
    rc=$?
    tap_include cat "$T/tool.out"
    tap_check "$desc exits 0" test $rc -eq 0
}
