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
#    the build dir, or DASHBOARDS_NPM_DIR; skipped when npm is not
#    installed, or when nothing is cached and the registry cannot be
#    reached).
# 3. A live run: lagwatch fed by the fake Flink cluster (REST and three
#    reporters) and the mock Kafka cluster writes into two real influxd
#    ring nodes and is scraped by a real Prometheus. Every variable query
#    and every panel target, with Grafana's macros and the variables' real
#    values substituted, must parse and return at least one series; every
#    measurement, field, tag, metric and label a query names must be one
#    the live run emitted; the InfluxQL alert rules must fire exactly where
#    their Prometheus twins in rules/lagwatch.rules.yml fire. The jobs and
#    operators dashboards also run through lagwatch's InfluxDB proxy
#    (served by the same lagwatch run): variables list the union of the
#    nodes' values, panels equal the owning node's own answer.
set -u
. "$(cd "$(dirname "$0")/../lib" && pwd)/itest.sh"
D=$srcdir/dashboards
DASHES=("$D"/influxdb/*.json "$D"/prometheus/*.json)
ALERTS=$D/alerting/lagwatch-influxdb-alerts.yml
# Pinned npm packages for the schema check (cached in the build dir).
NPM_PKGS="@grafana/schema@12.0.0 ts-json-schema-generator@2.3.0 ajv@8.17.1"
NPM_DIR=${DASHBOARDS_NPM_DIR:-$builddir/npm-dashboards}

it_need pyyaml
it_init dash

# tool CMD ARGS...: dashboards/check.py's TAP lines, plus a check of its
# exit status, so that a crash cannot pass for an empty list of failures.
tool() { it_tool "dashboards/check.py $1" python3 "$D/check.py" "$@"; }

# ---- 2 first: the schema package also says which schemaVersion is current
# Without npm, or without a cached install and a registry that answers (an
# offline machine), the check is skipped and says why; a registry that
# answers but an install or a check that fails is a failure.
schema_version=
stamp=$NPM_PKGS
npm_skip=
if ! command -v npm >/dev/null || ! command -v node >/dev/null; then
    npm_skip="npm not installed"
elif [ ! -f "$NPM_DIR/installed.txt" ] ||
    [ "$(cat "$NPM_DIR/installed.txt")" != "$stamp" ]; then
    if ! timeout 60 npm ping --fetch-retries=0 --fetch-timeout=20000 \
        >"$T/npm-ping.log" 2>&1; then
        npm_skip="npm registry $(npm config get registry 2>/dev/null) unreachable"
        npm_skip="$npm_skip ($(grep -m 1 -E 'reason:|error code' "$T/npm-ping.log" |
            sed 's/^npm error //' | cut -c1-120))"
    fi
fi
if [ -n "$npm_skip" ]; then
    tap_ok "dashboards validate against @grafana/schema # SKIP $npm_skip"
else
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
if ! it_have influxd prometheus curl lagwatch kafka; then
    tap_ok "queries against a live run # SKIP influxd, prometheus, lagwatch or the Kafka test tools missing"
    tap_done
    exit
fi
# The node names are those the generated alert rules and datasources use.
it_influxd a b || it_bail "start two influxd nodes"
it_fakeflink --static || it_bail "fake flink up"
it_broker --brokers 3 --topic t1:2 || it_bail "mock broker up"
# Group g1 (mapped to the job orders-enrich, so its lag lands on the job's
# node) is 585 s behind, g2 (placed by its group name) 597 s: both over the
# 300 s warning, under the 1800 s critical mark.
ok=0
it_kafka_two_groups "$(it_now_ms)" && ok=1
tap_check "fake Flink, mock Kafka (two groups committed) and two influxd nodes up" test $ok = 1

it_listen
pxport=$(free_port)
cat >"$T/lagwatch.yml" <<YAML
agent:
  name: dash-agent
  interval: 1s
  listen: 127.0.0.1:$lport
  scrape_timeout: 1s
  spool_dir: $T/spool
$(it_yaml_flink --rest tm1 tm2 jm)
$(it_yaml_kafka)
$(it_yaml_influxdb flink a b)
proxy: {listen: "127.0.0.1:$pxport"}
YAML
it_lagwatch "$T/lagwatch.yml" "$T/lagwatch.log"
it_prometheus "$T/prom" "127.0.0.1:$lport"
tap_check "lagwatch is ready" it_ready 15
# g1 consumes 2 more records after the first sweeps: it is gaining, so the
# catch-up panel has a finite estimate to show (g2 stays idle: +Inf).
sleep 1.5
it_scenario commit g1 t1 0 17 t1 1 5 >/dev/null 2>"$T/commit.err"
tap_check "g1 commits further after lagwatch's first sweeps" test $? -eq 0
# Prometheus: wait for its first sample, then for enough scrapes that
# rate() over $__rate_interval (4 s here) has two samples in every window.
up=
for i in $(seq 100); do
    up=$(it_promql lagwatch_cycles_total | wc -l)
    [ "$up" = 1 ] && break
    sleep 0.2
done
tap_check "Prometheus scrapes lagwatch" test "$up" = 1
sleep 5
curl -s "$base/metrics" >"$T/metrics.txt"
tap_check "lagwatch serves /metrics" test -s "$T/metrics.txt"
tool live "$T/metrics.txt" "$PROM" \
    "influx-a=$INFLUX_URL_a" "influx-b=$INFLUX_URL_b" -- "${DASHES[@]}" \
    --alerts "$ALERTS" --proxy "http://127.0.0.1:$pxport"
tap_done
