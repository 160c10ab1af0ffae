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
. "$(cd "$(dirname "$0")/../lib" && pwd)/itest.sh"
RULES=$srcdir/rules/lagwatch.rules.yml
CATALOG=$srcdir/metrics/catalog.tsv
TOOL="python3 $srcdir/metrics/catalog.py"

it_need promtool pyyaml
it_init rules

# tool CMD ARGS...: metrics/catalog.py's TAP lines, plus a check of its
# exit status, so that a crash cannot pass for an empty list of failures.
tool() { it_tool "metrics/catalog.py $1" $TOOL "$@"; }

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
if ! it_have influxd lagwatch kafka; then
    tap_diag "influxd, lagwatch or the Kafka test tools missing: live checks skipped"
    tap_done
    exit
fi
it_influxd a || it_bail "start influxd"
it_fakeflink --static || it_bail "fake flink up"
it_broker --brokers 3 --topic t1:2 || it_bail "mock broker up"
ok=0
it_kafka_two_groups "$(it_now_ms)" && ok=1
tap_check "fake Flink, mock Kafka (two groups committed) and influxd up" test $ok = 1

it_listen
cfg=$TEST_TMPDIR/lagwatch.yml
cat >"$cfg" <<YAML
agent:
  name: rules-agent
  interval: 1s
  listen: 127.0.0.1:$lport
  scrape_timeout: 1s
  spool_dir: $TEST_TMPDIR/spool
$(it_yaml_flink --rest tm1 tm2)
$(it_yaml_kafka)
$(it_yaml_influxdb flink a)
YAML
it_lagwatch "$cfg" "$TEST_TMPDIR/lagwatch.log"
tap_check "the daemon is ready" it_ready 15
# Two more cycles, so that counters and per-cycle gauges are all present.
sleep 2.5
curl -s "$base/metrics" >"$TEST_TMPDIR/metrics.txt"
tap_check "the daemon serves /metrics" test -s "$TEST_TMPDIR/metrics.txt"
[ -n "${RULES_METRICS_OUT:-}" ] && cp "$TEST_TMPDIR/metrics.txt" "$RULES_METRICS_OUT"

tool check-live "$CATALOG" "$TEST_TMPDIR/metrics.txt"
# ---- 3. rules against the live run ----------------------------------
tool check-rules "$CATALOG" "$TEST_TMPDIR/metrics.txt" "$RULES"
tap_done
