#!/usr/bin/env bash
# The Grafana dashboards and alert rules work on a live lagwatch.
#
# 1. The committed files under dashboards/ are what dashboards/gen.py
#    generates; a lint of every dashboard (unique panel ids, gridPos inside
#    24 columns, datasources only through the variable, every $var
#    defined, units set, no __inputs, the current schemaVersion,
#    time-bounded variable queries).
# 2. Every dashboard validates against a JSON Schema generated from the
#    Dashboard type of @grafana/schema (npm, pinned, installed once into
#    the build dir; skipped when npm is not installed).
# 3. A live run: lagwatch fed by the fake Flink cluster (REST and three
#    reporters) and the mock Kafka cluster writes into two real influxd
#    ring nodes and is scraped by a real Prometheus. Every variable query
#    and every panel target, with Grafana's macros and the variables' real
#    values substituted, must parse and return at least one series; every
#    measurement, field, tag, metric and label a query names must be one
#    the live run emitted; the InfluxQL alert rules must fire exactly where
#    their Prometheus twins in rules/lagwatch.rules.yml fire.
set -u
here=$(cd "$(dirname "$0")" && pwd)
srcdir=${top_srcdir:-$(cd "$here/../.." && pwd)}
builddir=${top_builddir:-$srcdir}
LAGWATCH=${LAGWATCH:-$srcdir/lagwatch}
FAKEFLINK=${FAKEFLINK:-$srcdir/tests/fakeflink.py}
FIX=${FLINK_FIXTURES:-$srcdir/tests/fixtures/flink}
BROKER=${KAFKA_MOCK_BROKER:-$builddir/tests/kafka_mock_broker}
SCENARIO=${KAFKA_SCENARIO:-$builddir/tests/kafka_scenario}
D=$srcdir/dashboards
DASHES=("$D"/influxdb/*.json "$D"/prometheus/*.json)
ALERTS=$D/alerting/lagwatch-influxdb-alerts.yml
# Pinned npm packages for the schema check (cached in the build dir).
NPM_PKGS="@grafana/schema@12.0.0 ts-json-schema-generator@2.3.0 ajv@8.17.1"
NPM_DIR=$builddir/npm-dashboards
. "$srcdir/tests/lib/tap.sh"

python3 -c 'import yaml' 2>/dev/null || tap_skip_all "PyYAML (python3-yaml) not installed"

TEST_TMPDIR=$(mktemp -d /tmp/lagwatch-dash.XXXXXX)
export TEST_TMPDIR
T=$TEST_TMPDIR
pids=()
broker=
prom=
lw=
cleanup() {
    [ -n "$lw" ] && kill -KILL "$lw" 2>/dev/null && wait "$lw" 2>/dev/null
    [ -n "$prom" ] && kill "$prom" 2>/dev/null && wait "$prom" 2>/dev/null
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    [ -n "$broker" ] && kill "$broker" 2>/dev/null && wait "$broker" 2>/dev/null
    command -v influxd_stop_all >/dev/null && influxd_stop_all
    [ -n "${KEEP_TMP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT

# tool CMD ARGS...: dashboards/check.py's TAP lines, plus a check of its
# exit status, so that a crash cannot pass for an empty list of failures.
tool() {
    python3 "$D/check.py" "$@" >"$T/tool.out" 2>&1
    local rc=$?
    tap_include cat "$T/tool.out"
    tap_check "dashboards/check.py $1 exits 0" test $rc -eq 0
}

# ---- 2 first: the schema package also says which schemaVersion is current
schema_version=
if ! command -v npm >/dev/null || ! command -v node >/dev/null; then
    tap_ok "dashboards validate against @grafana/schema # SKIP npm not installed"
else
    stamp=$NPM_PKGS
    if [ ! -f "$NPM_DIR/installed.txt" ] ||
        [ "$(cat "$NPM_DIR/installed.txt")" != "$stamp" ]; then
        rm -rf "$NPM_DIR"
        mkdir -p "$NPM_DIR"
        # shellcheck disable=SC2086
        npm install --prefix "$NPM_DIR" --no-audit --no-fund \
            --ignore-scripts --no-save $NPM_PKGS >"$T/npm.log" 2>&1 &&
            echo "$stamp" >"$NPM_DIR/installed.txt"
    fi
    tap_check "npm install $NPM_PKGS (cached in $NPM_DIR)" \
        test -f "$NPM_DIR/installed.txt"
    [ -f "$NPM_DIR/installed.txt" ] || tap_diag "$(tail -20 "$T/npm.log" 2>/dev/null)"
    types=$NPM_DIR/node_modules/@grafana/schema/dist/esm/raw/dashboard/x
    node "$NPM_DIR/node_modules/ts-json-schema-generator/bin/ts-json-schema-generator" \
        --path "$types/dashboard_types.gen.d.ts" --type Dashboard \
        --no-type-check -o "$T/dashboard.schema.json" >"$T/gen.log" 2>&1
    tap_check "JSON Schema generated from @grafana/schema's Dashboard type" \
        test -s "$T/dashboard.schema.json"
    [ -s "$T/dashboard.schema.json" ] || tap_diag "$(tail -20 "$T/gen.log")"
    node "$D/schema-check.cjs" "$NPM_DIR/node_modules" \
        "$T/dashboard.schema.json" "${DASHES[@]}" >"$T/schema.out" 2>&1
    rc=$?
    tap_include cat "$T/schema.out"
    tap_check "schema-check.cjs exits 0" test $rc -eq 0
    schema_version=$(sed -n 's/^ *schemaVersion: \([0-9][0-9]*\),.*/\1/p' \
        "$types/dashboard_types.gen.mjs" | head -n 1)
    tap_check "@grafana/schema names the current schemaVersion ($schema_version)" \
        test -n "$schema_version"
fi
# Without npm the lint holds the dashboards to the generator's constant.
[ -n "$schema_version" ] || schema_version=$(python3 -c \
    "import sys; sys.path.insert(0, '$D'); import gen; print(gen.SCHEMA_VERSION)")

# ---- 1. generated files and lint ---------------------------------------
tool generated "$srcdir"
tool lint "$schema_version" "${DASHES[@]}"

# ---- 3. a live run ------------------------------------------------------
have_all=1
for c in influxd prometheus curl; do command -v $c >/dev/null || have_all=0; done
for b in "$LAGWATCH" "$BROKER" "$SCENARIO"; do [ -x "$b" ] || have_all=0; done
if [ $have_all = 0 ]; then
    tap_ok "queries against a live run # SKIP influxd, prometheus, lagwatch or the Kafka test tools missing"
    tap_done
    exit
fi
. "$srcdir/tests/lib/influxd.sh"
# The node names are those the generated alert rules and datasources use.
influxd_start a >/dev/null && influxd_start b >/dev/null ||
    { tap_not_ok "start two influxd nodes"; tap_done; exit 1; }
python3 "$FAKEFLINK" --fixtures "$FIX" --port 0 --static \
    --port-file "$T/fake.port" >/dev/null 2>"$T/fake.err" &
pids+=($!)
"$BROKER" --brokers 3 --topic t1:2 --port-file "$T/bootstrap" \
    >/dev/null 2>"$T/broker.err" &
broker=$!
wait_for_file "$T/fake.port" 10 || { tap_not_ok "fake flink up"; tap_done; exit 1; }
wait_for_file "$T/bootstrap" 10 || { tap_not_ok "mock broker up"; tap_done; exit 1; }
fport=$(sed -n 's/^port=//p' "$T/fake.port")
B=$(cat "$T/bootstrap")
now=$(python3 -c 'import time; print(int(time.time() * 1000))')
# Group g1 (mapped to the job orders-enrich, so its lag lands on the job's
# node) is 585 s behind, g2 (placed by its group name) 597 s: both over the
# 300 s warning, under the 1800 s critical mark.
ok=0
"$SCENARIO" --bootstrap "$B" produce t1 0 20 --ts-start $((now - 600000)) --ts-step 1000 &&
    "$SCENARIO" --bootstrap "$B" produce t1 1 5 --ts-start $((now - 60000)) --ts-step 1000 &&
    "$SCENARIO" --bootstrap "$B" commit g1 t1 0 15 t1 1 5 &&
    "$SCENARIO" --bootstrap "$B" commit g2 t1 0 3 && ok=1
tap_check "fake Flink, mock Kafka (two groups committed) and two influxd nodes up" test $ok = 1

lport=$(free_port)
cat >"$T/lagwatch.yml" <<YAML
agent:
  name: dash-agent
  interval: 1s
  listen: 127.0.0.1:$lport
  scrape_timeout: 1s
  spool_dir: $T/spool
flink:
  - name: prod
    rest_url: http://127.0.0.1:$fport
    reporters:
      - http://127.0.0.1:$fport/tm1/metrics
      - http://127.0.0.1:$fport/tm2/metrics
      - http://127.0.0.1:$fport/jm/metrics
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
      - {name: influx-b, url: "$INFLUX_URL_b"}
YAML
"$LAGWATCH" run -c "$T/lagwatch.yml" 2>"$T/lagwatch.log" &
lw=$!
pport=$(free_port)
cat >"$T/prometheus.yml" <<YAML
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: lagwatch
    static_configs:
      - targets: ['127.0.0.1:$lport']
YAML
prometheus --config.file="$T/prometheus.yml" --storage.tsdb.path="$T/prom" \
    --web.listen-address="127.0.0.1:$pport" >"$T/prometheus.log" 2>&1 &
prom=$!
base=http://127.0.0.1:$lport
for i in $(seq 150); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$base/readyz")" = 200 ] && break
    sleep 0.1
done
tap_check "lagwatch is ready" test "$(curl -s -o /dev/null -w '%{http_code}' "$base/readyz")" = 200
# Prometheus: wait for its first sample, then for enough scrapes that
# rate() over $__rate_interval (4 s here) has two samples in every window.
up=
for i in $(seq 100); do
    up=$(curl -s "http://127.0.0.1:$pport/api/v1/query" \
        --data-urlencode 'query=lagwatch_cycles_total' 2>/dev/null |
        python3 -c 'import json,sys
try: print(len(json.load(sys.stdin)["data"]["result"]))
except Exception: print(0)')
    [ "$up" = 1 ] && break
    sleep 0.2
done
tap_check "Prometheus scrapes lagwatch" test "$up" = 1
sleep 5
curl -s "$base/metrics" >"$T/metrics.txt"
tap_check "lagwatch serves /metrics" test -s "$T/metrics.txt"
tool live "$T/metrics.txt" "http://127.0.0.1:$pport" \
    "influx-a=$INFLUX_URL_a" "influx-b=$INFLUX_URL_b" -- "${DASHES[@]}" \
    --alerts "$ALERTS"
tap_done
