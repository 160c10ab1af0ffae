#!/usr/bin/env bash
# Kafka lag in the daemon: the librdkafka mock cluster (our test broker),
# messages with known timestamps, committed offsets for two groups (g1
# mapped to the Flink job orders-enrich, g2 not), three real influxd nodes.
# Checks /api/v1/lag against `lagwatch lag --json`, /api/v1/ready flipping
# from 425 to 200 when the group commits past `until`, the lag points on the
# ring node of the job (g1) or of the group (g2) and nowhere else, the
# kafka-lag-exporter series on /metrics, and, with the broker killed, stale
# values and a clear error instead of a crash.
set -u
. "$(cd "$(dirname "$0")/../lib" && pwd)/itest.sh"
it_need influxd lagwatch kafka
it_init kafka

it_influxd a b c || it_bail "start influxd a b c"
it_broker --brokers 3 --topic t1:4 --topic t2:3 || it_bail "mock broker up"
tap_ok "mock Kafka cluster at $B, three influxd nodes"

now=$(it_now_ms)
ok=0
it_produce t1 0 20 $((now - 3600000)) && it_produce t1 1 20 $((now - 600000)) &&
    it_produce t1 2 20 $((now - 100000)) && it_produce t2 0 10 $((now - 7200000)) &&
    it_produce t2 1 30 $((now - 60000)) && ok=1
# g1/t1: p0 5 behind (oldest), p1 18 behind (most records), p2 caught up.
it_scenario commit g1 t1 0 15 t1 1 2 t1 2 20 || ok=0
it_scenario commit g2 t2 0 9 t2 1 0 || ok=0
tap_check "scenario produced and committed" test $ok = 1

it_listen
cfg=$TEST_TMPDIR/lagwatch.yml
cat > "$cfg" <<YAML
agent:
  spool_dir: $TEST_TMPDIR/spool
  name: kafka-agent
  interval: 1s
  listen: 127.0.0.1:$lport
  scrape_timeout: 1s
$(it_yaml_kafka)
$(it_yaml_influxdb flink a b c)
YAML
"$LAGWATCH" check -c "$cfg" >/dev/null 2>"$TEST_TMPDIR/check.err"
tap_check "the config checks" test $? -eq 0
tap_diag "$(cat "$TEST_TMPDIR/check.err")"

it_lagwatch "$cfg" "$TEST_TMPDIR/lagwatch.log"
tap_check "the daemon is ready" it_ready 15

curl -s "$base/api/v1/lag" >"$TEST_TMPDIR/api.json"
"$LAGWATCH" lag --brokers "$B" --group g1 --group g2 --json >"$TEST_TMPDIR/cli.json" 2>/dev/null
tap_include python3 - "$TEST_TMPDIR/api.json" "$TEST_TMPDIR/cli.json" <<'PY'
import json, sys
api = json.load(open(sys.argv[1]))
cli = json.load(open(sys.argv[2]))
(a,) = api["clusters"]
(c,) = cli["clusters"]
print(("ok" if a["name"] == "main" and a["stale"] is False else "not ok") + " - /api/v1/lag names the cluster 'main', not stale")
def summary(cl):
    return {(g["group"], t["topic"]): (t["max_lag"], t["sum_lag"], t["slowest_partition"], t["consumed_through_ms"])
            for g in cl["groups"] for t in g["topics"]}
sa, sc = summary(a), summary(c)
print(("ok" if sa == sc else "not ok") + " - /api/v1/lag agrees with `lagwatch lag --json` (%r)" % (sa if sa == sc else (sa, sc)))
t1 = [t for g in a["groups"] if g["group"] == "g1" for t in g["topics"] if t["topic"] == "t1"][0]
print(("ok" if (t1["max_lag"], t1["sum_lag"], t1["slowest_partition"]) == (18, 23, 0) else "not ok") +
      " - g1/t1: max lag 18, sum 23, slowest partition 0 by time (got %r)" % ((t1["max_lag"], t1["sum_lag"], t1["slowest_partition"]),))
PY

# Readiness: consumed through now-3600000+15000 (p0's first unconsumed).
early=$(( (now - 3590000) / 1000 ))
late=$(python3 -c "import datetime; print(datetime.datetime.fromtimestamp(($now - 300000) / 1000, datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ'))")
code() { curl -s -o "$TEST_TMPDIR/ready.json" -w '%{http_code}' -G "$base/api/v1/ready" "$@"; }
tap_check "ready for an hour already consumed (200)" test "$(code --data-urlencode group=g1 --data-urlencode until=$early)" = 200
tap_check "not ready for a later time (425)" test "$(code --data-urlencode group=g1 --data-urlencode until=$late)" = 425
tap_check "425 carries consumed_through" python3 -c "
import json,sys; d=json.load(open('$TEST_TMPDIR/ready.json')); sys.exit(not (d['ready'] is False and d['consumed_through_ms'] == $now - 3600000 + 15000))"
tap_check "unknown group: 404" test "$(code --data-urlencode group=nope --data-urlencode until=$early)" = 404
tap_check "bad until: 400" test "$(code --data-urlencode group=g1 --data-urlencode until=yesterday)" = 400
tap_check "missing until: 400" test "$(code --data-urlencode group=g1)" = 400

it_scenario commit g1 t1 0 20 t1 1 20 t1 2 20 >/dev/null 2>&1
flipped=
for i in $(seq 100); do
    [ "$(code --data-urlencode group=g1 --data-urlencode topic=t1 --data-urlencode until=$late)" = 200 ] && { flipped=1; break; }
    sleep 0.1
done
tap_check "/api/v1/ready flips to 200 once g1 commits past until" test -n "$flipped"

# Placement: g1's lag lands with its job, g2's with its group.
owner() { it_ring_owner "$cfg" "$1"; }
count() { # NODE GROUP
    it_influx_value "${NODE_URL[$1]}" flink \
        "SELECT count(max_lag) FROM kafka_consumergroup_lag WHERE \"group\" = '$2'"
}
o1=$(owner orders-enrich)
o2=$(owner g2)
tap_diag "g1 (job orders_enrich) -> $o1, g2 -> $o2"
misplaced=0
for n in influx-a influx-b influx-c; do
    c1=$(count "$n" g1)
    c2=$(count "$n" g2)
    if [ "$n" = "$o1" ]; then [ "$c1" -gt 0 ] || misplaced=$((misplaced + 1)); else [ "$c1" = 0 ] || misplaced=$((misplaced + 1)); fi
    if [ "$n" = "$o2" ]; then [ "$c2" -gt 0 ] || misplaced=$((misplaced + 1)); else [ "$c2" = 0 ] || misplaced=$((misplaced + 1)); fi
done
tap_check "lag points land on the owner of the job (g1) and of the group (g2) only" test $misplaced -eq 0
tap_check "g1's points carry job_name=orders_enrich" test "$(it_influxql "${NODE_URL[$o1]}" flink \
    "SHOW TAG VALUES FROM kafka_consumergroup_lag WITH KEY = job_name" |
    python3 -c 'import json,sys; s=json.load(sys.stdin)["results"][0].get("series",[]); print(",".join(v[1] for v in s[0]["values"]) if s else "")')" = orders_enrich

curl -s "$base/metrics" >"$TEST_TMPDIR/metrics.txt"
tap_check "kafka-lag-exporter series on /metrics" \
    grep -q '^kafka_consumergroup_group_topic_sum_lag{cluster_name="main",group="g2",topic="t2"} 31$' "$TEST_TMPDIR/metrics.txt"
tap_check "lag in seconds on /metrics" grep -q '^lagwatch_kafka_group_topic_max_lag_seconds{cluster_name="main",group="g2",topic="t2"} ' "$TEST_TMPDIR/metrics.txt"
# kafka-lag-exporter's label sets: the group-level families carry no topic
# (g2: t2 p0 9 of 10 committed, p1 0 of 30), partitions carry the (here
# unknown, so empty) member labels.
m() { grep -c "^$1 $2\$" "$TEST_TMPDIR/metrics.txt"; }
pl='client_id="",cluster_name="main",consumer_id="",group="g2",member_host=""'
tap_check "group max lag over every topic, labels cluster_name and group only" \
    test "$(m 'kafka_consumergroup_group_max_lag{cluster_name="main",group="g2"}' 30)" = 1
tap_check "group sum lag over every topic" \
    test "$(m 'kafka_consumergroup_group_sum_lag{cluster_name="main",group="g2"}' 31)" = 1
tap_check "no group-level family carries a topic label" \
    test "$(grep -c '^kafka_consumergroup_group_\(max_lag\|max_lag_seconds\|sum_lag\){.*topic=' "$TEST_TMPDIR/metrics.txt")" = 0
tap_check "group max lag seconds: one series per group" \
    test "$(grep -c '^kafka_consumergroup_group_max_lag_seconds{cluster_name="main",group="g2"} ' "$TEST_TMPDIR/metrics.txt")" = 1
tap_check "partition lag with kafka-lag-exporter's member labels" \
    test "$(m "kafka_consumergroup_group_lag{$pl,partition=\"1\",topic=\"t2\"}" 30)" = 1
tap_check "committed offset per partition" \
    test "$(m "kafka_consumergroup_group_offset{$pl,partition=\"0\",topic=\"t2\"}" 9)" = 1
tap_check "partition latest and earliest offsets, once per partition" \
    test "$(m 'kafka_partition_latest_offset{cluster_name="main",partition="1",topic="t2"}' 30)" = 1 -a \
    "$(m 'kafka_partition_earliest_offset{cluster_name="main",partition="1",topic="t2"}' 0)" = 1
tap_check "poll time per cluster" grep -q '^kafka_consumergroup_poll_time_ms{cluster_name="main"} [0-9]' "$TEST_TMPDIR/metrics.txt"
tap_check "Kafka requests counted by type" grep -q '^lagwatch_kafka_requests_total{kafka_cluster="main",type="offset_fetch"} [1-9]' "$TEST_TMPDIR/metrics.txt"
if command -v promtool >/dev/null; then
    # kafka_consumergroup_poll_time_ms is kafka-lag-exporter's name, kept
    # for its dashboards although promtool objects to the unit "ms".
    grep -v '^\(# [A-Z]* \)\?kafka_consumergroup_poll_time_ms' "$TEST_TMPDIR/metrics.txt" |
        promtool check metrics >"$TEST_TMPDIR/promtool.out" 2>&1
    tap_check "promtool check metrics is clean" test $? -eq 0 -a ! -s "$TEST_TMPDIR/promtool.out"
    tap_diag "$(head -5 "$TEST_TMPDIR/promtool.out")"
fi

# The broker vanishes: stale values, one clear error, no crash.
it_stop "$broker"; broker=
stale=
for i in $(seq 100); do
    curl -s "$base/api/v1/lag" | python3 -c 'import json,sys; sys.exit(not json.load(sys.stdin)["clusters"][0]["stale"])' 2>/dev/null &&
        { stale=1; break; }
    sleep 0.2
done
tap_check "with the broker gone /api/v1/lag is marked stale" test -n "$stale"
tap_check "the last values are still served" python3 -c "
import json,urllib.request; d=json.load(urllib.request.urlopen('$base/api/v1/lag'))
t=[t for g in d['clusters'][0]['groups'] for t in g['topics'] if g['group']=='g2'][0]; assert t['sum_lag']==31"
for i in $(seq 30); do curl -s "$base/metrics" | grep -q '^lagwatch_kafka_stale{kafka_cluster="main"} 1$' && break; sleep 0.2; done
tap_check "lagwatch_kafka_stale is 1" sh -c "curl -s '$base/metrics' | grep -q '^lagwatch_kafka_stale{kafka_cluster=\"main\"} 1$'"
tap_check "the failure is logged naming the cluster" grep -q "kafka cluster 'main'" "$TEST_TMPDIR/lagwatch.log"
tap_check "and logged once, not every cycle" test "$(grep -c "kafka cluster 'main'.*stale" "$TEST_TMPDIR/lagwatch.log")" = 1
tap_check "the daemon is still alive" kill -0 "$lw"
it_lagwatch_stop TERM
tap_check "SIGTERM exits 0" test $lw_rc -eq 0
tap_done
