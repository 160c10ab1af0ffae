#!/usr/bin/env bash
# InfluxDB is optional: a configuration whose only sink is
# sinks.remote_write. A real Prometheus (--web.enable-remote-write-receiver)
# receives what lagwatch collects from the fake Flink cluster (reporters and
# JobManager REST, --static) and from the mock Kafka cluster; queried back
# through its HTTP API, the folded reporter series, the REST points and the
# Kafka lag carry the values the fixtures and the scenario imply. Without a
# ring, `lagwatch ring` and /api/v1/ring say so, /metrics has no
# lagwatch_ring_info, and the report no node lines. A configuration with no
# sink at all is refused by `lagwatch check` and `lagwatch run`, naming the
# file.
set -u
. "$(cd "$(dirname "$0")/../lib" && pwd)/itest.sh"
it_need prometheus lagwatch kafka
it_init rwonly

# ---- no sink at all: refused before anything starts --------------------
cat > "$TEST_TMPDIR/nosink.yml" <<YAML
agent:
  name: nosink
flink:
  - name: prod
    reporters: [http://127.0.0.1:1/metrics]
YAML
"$LAGWATCH" check -c "$TEST_TMPDIR/nosink.yml" >"$TEST_TMPDIR/nosink.out" 2>"$TEST_TMPDIR/nosink.err"
rc=$?
tap_check "check refuses a config with no sink (exit $rc)" test $rc -eq 2
tap_check "the message names the file and the missing sinks" \
    grep -q "^$TEST_TMPDIR/nosink.yml: no sink configured: set sinks.influxdb.nodes, sinks.remote_write.url" "$TEST_TMPDIR/nosink.err"
tap_check "and it does not say 'config ok'" sh -c "! grep -q 'config ok' '$TEST_TMPDIR/nosink.out'"
it_once "$TEST_TMPDIR/nosink.yml" nosink-run
rc=$?
tap_check "run refuses it too (exit $rc)" test $rc -eq 2
tap_check "with the same message" grep -q "$TEST_TMPDIR/nosink.yml: no sink configured" "$TEST_TMPDIR/nosink-run.err"

# ---- servers --------------------------------------------------------------
# Prometheus with nothing to scrape: everything it holds came through
# remote write.
it_prometheus "$TEST_TMPDIR/prom" - --web.enable-remote-write-receiver ||
    it_bail "prometheus ready"
it_fakeflink --static || it_bail "fake flink up"
it_broker --brokers 1 --topic t2:2 || it_bail "mock broker up"
now=$(it_now_ms)
# g2/t2: p0 one behind, p1 thirty behind: max lag 30, sum 31.
ok=0
it_produce t2 0 10 $((now - 7200000)) &&
    it_produce t2 1 30 $((now - 60000)) &&
    it_scenario commit g2 t2 0 9 t2 1 0 && ok=1
tap_check "prometheus on $pport, the fake Flink cluster and the mock Kafka cluster up" test $ok = 1

it_listen
cfg=$TEST_TMPDIR/lagwatch.yml
cat > "$cfg" <<YAML
agent:
  name: rw-only
  interval: 1s
  scrape_timeout: 1s
  listen: 127.0.0.1:$lport
  spool_dir: $TEST_TMPDIR/spool
$(it_yaml_flink --rest tm1 tm2)
kafka:
  - name: main
    brokers: [$B]
    groups:
      - {name: g2}
sinks:
  remote_write:
    url: $PROM/api/v1/write
YAML

# ---- check, ring, run --once ------------------------------------------------
"$LAGWATCH" check -c "$cfg" >"$TEST_TMPDIR/check.out" 2>"$TEST_TMPDIR/check.err"
rc=$?
tap_check "check accepts remote write as the only sink (exit $rc)" test $rc -eq 0
tap_diag "$(cat "$TEST_TMPDIR/check.err")"
tap_check "check says config ok and prints no ring" \
    sh -c "grep -q '^config ok: $cfg' '$TEST_TMPDIR/check.out' && ! grep -q '^ring:' '$TEST_TMPDIR/check.out'"
"$LAGWATCH" ring -c "$cfg" --key orders_enrich >/dev/null 2>"$TEST_TMPDIR/ring.err"
rc=$?
tap_check "lagwatch ring fails without sinks.influxdb (exit $rc)" test $rc -eq 2
tap_check "naming the file and the missing section" \
    grep -q "^$cfg: sinks.influxdb is not configured: no ring" "$TEST_TMPDIR/ring.err"

it_once "$cfg" run
rc=$?
tap_diag "$(grep -i 'remote write' "$TEST_TMPDIR/run.out")"
[ $rc -eq 0 ] && tap_ok "run --once exits 0" ||
    { tap_not_ok "run --once exits 0 (got $rc)"; tap_diag "$(tail -5 "$TEST_TMPDIR/run.err")"; }
tap_check "everything reached Prometheus" \
    grep -Eq "^  remote write .* sent +[1-9][0-9]* +failed 0 +dropped 0 +spooled 0 \(waiting 0\)" "$TEST_TMPDIR/run.out"
tap_check "the report has no ring and no InfluxDB node lines" \
    sh -c "! grep -Eq '^ring fingerprint:|^points mapped:|^  node ' '$TEST_TMPDIR/run.out'"

W='job_name="orders_enrich",operator_name=~"Window.*"'
tap_check "5 folded numRecordsIn series of orders_enrich ($(it_promql "count(flink_taskmanager_job_task_operator_numRecordsIn_max{job_name=\"orders_enrich\"})"))" \
    test "$(it_promql "count(flink_taskmanager_job_task_operator_numRecordsIn_max{job_name=\"orders_enrich\"})")" = 5
tap_check "Window operator: max 378112054 over its 4 subtasks" \
    test "$(it_promql "flink_taskmanager_job_task_operator_numRecordsIn_max{$W}")" = 378112054
tap_check "sum 707954492" test "$(it_promql "flink_taskmanager_job_task_operator_numRecordsIn_sum{$W}")" = 707954492
tap_check "avg 176988623" test "$(it_promql "flink_taskmanager_job_task_operator_numRecordsIn_avg{$W}")" = 176988623
tap_check "REST points: lagwatch_job_running of orders_enrich is 1" \
    test "$(it_promql 'lagwatch_job_running{job_name="orders_enrich",flink_cluster="prod"}')" = 1
tap_check "REST points: the Window task is the bottleneck" \
    test "$(it_promql 'lagwatch_task_bottleneck{job_name="orders_enrich",task_name=~"Window.*"}')" = 1
tap_check "Kafka lag: g2/t2 max lag 30" \
    test "$(it_promql 'lagwatch_kafka_group_topic_max_lag{cluster_name="main",group="g2",topic="t2"}')" = 30
tap_check "Kafka lag: g2/t2 sum lag 31" \
    test "$(it_promql 'kafka_consumergroup_group_topic_sum_lag{cluster_name="main",group="g2",topic="t2"}')" = 31

# ---- the daemon -------------------------------------------------------------
it_lagwatch "$cfg" "$TEST_TMPDIR/lagwatch.log"
tap_check "the daemon is ready" it_ready 15
tap_check "its start is logged with no ring" grep -q "started: agent 'rw-only', interval 1000 ms, ring (none)" "$TEST_TMPDIR/lagwatch.log"
code=$(curl -s -o "$TEST_TMPDIR/ring.json" -w '%{http_code}' -G "$base/api/v1/ring" --data-urlencode key=orders_enrich)
tap_check "/api/v1/ring answers 404 ($code)" test "$code" = 404
tap_check "with a JSON error that says why" \
    python3 -c "import json,sys; sys.exit(json.load(open('$TEST_TMPDIR/ring.json')) != {'error': 'no sinks.influxdb ring configured'})"
# A snapshot counts what was sent by the end of its cycle: the first one
# may predate the first answer.
for i in $(seq 50); do
    curl -s "$base/metrics" >"$TEST_TMPDIR/metrics.txt"
    grep -q '^lagwatch_remote_write_up 1$' "$TEST_TMPDIR/metrics.txt" && break
    sleep 0.1
done
tap_check "/metrics has no lagwatch_ring_info and no node families" \
    sh -c "! grep -Eq '^lagwatch_(ring_info|node_up|points_written_total|points_unwritable_total)' '$TEST_TMPDIR/metrics.txt'"
tap_check "/metrics has the remote-write families, receiver up" \
    grep -q '^lagwatch_remote_write_up 1$' "$TEST_TMPDIR/metrics.txt"
tap_check "/metrics shows the same folded names remote write sent" \
    grep -q "^flink_taskmanager_job_task_operator_numRecordsIn_max{.*operator_name=\"Window" "$TEST_TMPDIR/metrics.txt"
for i in $(seq 50); do
    n=$(it_promql 'count_over_time(lagwatch_job_running{job_name="orders_enrich"}[1h])')
    [ "${n:-0}" -ge 3 ] && break
    sleep 0.2
done
tap_check "the daemon's cycles reach Prometheus too ($n samples of lagwatch_job_running)" test "${n:-0}" -ge 3
it_lagwatch_stop TERM
tap_check "SIGTERM exits 0 (got $lw_rc)" test "$lw_rc" -eq 0
tap_check "no error was logged" sh -c "! grep -q 'level=error' '$TEST_TMPDIR/lagwatch.log'"
tap_done
