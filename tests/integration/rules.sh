#!/usr/bin/env bash
# The alert rules and the metrics catalog cannot drift from the code.
#
# 1. promtool check rules and promtool test rules (rules/tests/*.yml) pass;
#    every alert has a label severity and annotations summary, description
#    and runbook, a test case where it fires and one where it must not.
# 2. A live run: lagwatch run with every source configured (the fake Flink
#    cluster's REST API and two reporters, the mock Kafka cluster with two
#    committed groups, a real influxd node, a spool directory). Its /metrics
#    must match metrics/catalog.tsv family by family (name, type, HELP text,
#    label names), in both directions, and the generated man page
#    (man/lagwatch-metrics.7) must be what the catalog generates.
# 3. Every metric name a rule references is one the live run emitted with
#    samples, and every label a rule matches on or groups by is one those
#    metrics carry: a rename can never silently empty an alert.
set -u
here=$(cd "$(dirname "$0")" && pwd)
srcdir=${top_srcdir:-$(cd "$here/../.." && pwd)}
builddir=${top_builddir:-$srcdir}
LAGWATCH=${LAGWATCH:-$srcdir/lagwatch}
FAKEFLINK=${FAKEFLINK:-$srcdir/tests/fakeflink.py}
FIX=${FLINK_FIXTURES:-$srcdir/tests/fixtures/flink}
BROKER=${KAFKA_MOCK_BROKER:-$builddir/tests/kafka_mock_broker}
SCENARIO=${KAFKA_SCENARIO:-$builddir/tests/kafka_scenario}
RULES=$srcdir/rules/lagwatch.rules.yml
CATALOG=$srcdir/metrics/catalog.tsv
TOOL="python3 $srcdir/metrics/catalog.py"
. "$srcdir/tests/lib/tap.sh"

command -v promtool >/dev/null || tap_skip_all "promtool not installed"
python3 -c 'import yaml' 2>/dev/null || tap_skip_all "PyYAML (python3-yaml) not installed"

# tool CMD ARGS...: metrics/catalog.py's TAP lines, plus a check of its
# exit status, so that a crash cannot pass for an empty list of failures.
tool() {
    $TOOL "$@" >"$TEST_TMPDIR/tool.out" 2>&1
    local rc=$?
    tap_include cat "$TEST_TMPDIR/tool.out"
    tap_check "metrics/catalog.py $1 exits 0" test $rc -eq 0
}

TEST_TMPDIR=$(mktemp -d /tmp/lagwatch-rules.XXXXXX)
export TEST_TMPDIR
pids=()
broker=
lw=
cleanup() {
    [ -n "$lw" ] && kill -KILL "$lw" 2>/dev/null && wait "$lw" 2>/dev/null
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    [ -n "$broker" ] && kill "$broker" 2>/dev/null && wait "$broker" 2>/dev/null
    command -v influxd_stop_all >/dev/null && influxd_stop_all
    [ -n "${KEEP_TMP:-}" ] || rm -rf "$TEST_TMPDIR"
}
trap cleanup EXIT

# ---- 1. the rules on their own --------------------------------------
promtool check rules "$RULES" >"$TEST_TMPDIR/check.out" 2>&1
rc=$?
tap_check "promtool check rules" test $rc -eq 0
[ $rc -eq 0 ] || tap_diag "$(cat "$TEST_TMPDIR/check.out")"
(cd "$srcdir/rules/tests" && promtool test rules ./*.yml) >"$TEST_TMPDIR/test.out" 2>&1
rc=$?
tap_check "promtool test rules rules/tests/*.yml" test $rc -eq 0
[ $rc -eq 0 ] || tap_diag "$(tail -40 "$TEST_TMPDIR/test.out")"
tool lint-rules "$RULES" "$srcdir"/rules/tests/*.yml \
    --readme "$srcdir/rules/README.md"

# ---- the catalog and what is generated from it ----------------------
$TOOL man "$CATALOG" >"$TEST_TMPDIR/lagwatch-metrics.7"
tap_check "man/lagwatch-metrics.7 is generated from the catalog (else: make regen-metrics-man)" \
    cmp -s "$TEST_TMPDIR/lagwatch-metrics.7" "$srcdir/man/lagwatch-metrics.7"

# ---- 2. a live run with every source --------------------------------
have_all=1
command -v influxd >/dev/null || have_all=0
for b in "$LAGWATCH" "$BROKER" "$SCENARIO"; do [ -x "$b" ] || have_all=0; done
if [ $have_all = 0 ]; then
    tap_diag "influxd, lagwatch or the Kafka test tools missing: live checks skipped"
    tap_done
    exit
fi
. "$srcdir/tests/lib/influxd.sh"
influxd_start a >/dev/null || { tap_not_ok "start influxd"; tap_done; exit 1; }
python3 "$FAKEFLINK" --fixtures "$FIX" --port 0 --static \
    --port-file "$TEST_TMPDIR/fake.port" >/dev/null 2>"$TEST_TMPDIR/fake.err" &
pids+=($!)
"$BROKER" --brokers 3 --topic t1:2 --port-file "$TEST_TMPDIR/bootstrap" \
    >/dev/null 2>"$TEST_TMPDIR/broker.err" &
broker=$!
wait_for_file "$TEST_TMPDIR/fake.port" 10 || { tap_not_ok "fake flink up"; tap_done; exit 1; }
wait_for_file "$TEST_TMPDIR/bootstrap" 10 || { tap_not_ok "mock broker up"; tap_done; exit 1; }
fport=$(sed -n 's/^port=//p' "$TEST_TMPDIR/fake.port")
B=$(cat "$TEST_TMPDIR/bootstrap")
now=$(python3 -c 'import time; print(int(time.time() * 1000))')
ok=0
"$SCENARIO" --bootstrap "$B" produce t1 0 20 --ts-start $((now - 600000)) --ts-step 1000 &&
    "$SCENARIO" --bootstrap "$B" produce t1 1 5 --ts-start $((now - 60000)) --ts-step 1000 &&
    "$SCENARIO" --bootstrap "$B" commit g1 t1 0 15 t1 1 5 &&
    "$SCENARIO" --bootstrap "$B" commit g2 t1 0 3 && ok=1
tap_check "fake Flink, mock Kafka (two groups committed) and influxd up" test $ok = 1

lport=$(free_port)
cfg=$TEST_TMPDIR/lagwatch.yml
cat >"$cfg" <<YAML
agent:
  name: rules-agent
  interval: 1s
  listen: 127.0.0.1:$lport
  scrape_timeout: 1s
  spool_dir: $TEST_TMPDIR/spool
flink:
  - name: prod
    rest_url: http://127.0.0.1:$fport
    reporters:
      - http://127.0.0.1:$fport/tm1/metrics
      - http://127.0.0.1:$fport/tm2/metrics
kafka:
  - name: main
    brokers: [${B//,/, }]
    groups:
      - {name: g1, job: orders-enrich}
      - {name: g2}
sinks:
  influxdb:
    database: flink
    nodes:
      - {name: influx-a, url: "$INFLUX_URL_a"}
YAML
"$LAGWATCH" run -c "$cfg" 2>"$TEST_TMPDIR/lagwatch.log" &
lw=$!
base=http://127.0.0.1:$lport
for i in $(seq 150); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$base/readyz")" = 200 ] && break
    sleep 0.1
done
tap_check "the daemon is ready" test "$(curl -s -o /dev/null -w '%{http_code}' "$base/readyz")" = 200
# Two more cycles, so that counters and per-cycle gauges are all present.
sleep 2.5
curl -s "$base/metrics" >"$TEST_TMPDIR/metrics.txt"
tap_check "the daemon serves /metrics" test -s "$TEST_TMPDIR/metrics.txt"
[ -n "${RULES_METRICS_OUT:-}" ] && cp "$TEST_TMPDIR/metrics.txt" "$RULES_METRICS_OUT"

tool check-live "$CATALOG" "$TEST_TMPDIR/metrics.txt"
# ---- 3. rules against the live run ----------------------------------
tool check-rules "$CATALOG" "$TEST_TMPDIR/metrics.txt" "$RULES"
tap_done
