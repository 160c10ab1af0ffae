#!/usr/bin/env bash
# Catch-up on the Kafka test broker: kafka_scenario steady runs a producer
# and a consumer group at known rates while lagwatch sweeps every second
# with kafka[].rate_window 6s.
#   g1 on "fast": 3000 behind, 50/s produced, 250/s committed: gaining
#      200/s, so the true time to catch up is sum_lag / 200;
#   g2 on "slow": 500 behind, 50/s produced, 20/s committed: never.
# Checks, once the window is full: the estimate within 15% of the true
# time, the two rates within 15%, +Inf for g2 on /metrics and "never" in
# /api/v1/lag, the InfluxDB fields, `lagwatch lag --interval`; and
# no rates or estimate in the first sweep after g1's offsets were reset to
# 0 (its InfluxDB point: a poll of /api/v1/lag can miss a 1 s state); and
# kafka[].exclude_topics keeping g1's commits on skip.dlq out.
set -u
. "$(cd "$(dirname "$0")/../lib" && pwd)/itest.sh"
it_need influxd lagwatch kafka
it_init catchup

it_influxd a || it_bail "start influxd"
it_broker --brokers 1 --topic fast:1 --topic slow:1 --topic skip.dlq:1 ||
    it_bail "mock broker up"
now=$(it_now_ms)
ok=0
it_produce fast 0 3000 $((now - 600000)) --ts-step 100 &&
    it_produce slow 0 500 $((now - 600000)) &&
    it_produce skip.dlq 0 10 $((now - 600000)) &&
    it_scenario commit g1 fast 0 0 skip.dlq 0 0 &&
    it_scenario commit g2 slow 0 0 && ok=1
tap_check "scenario: g1 3000 behind on fast, g2 500 behind on slow" test $ok = 1

it_listen
cfg=$T/lagwatch.yml
cat >"$cfg" <<YAML
agent:
  spool_dir: $T/spool
  name: catchup-agent
  interval: 1s
  listen: 127.0.0.1:$lport
kafka:
  - name: main
    brokers: [${B//,/, }]
    rate_window: 6s
    exclude_topics: '.*\.dlq'
    groups:
      - {name: g1}
      - {name: g2}
$(it_yaml_influxdb flink a)
YAML
it_lagwatch "$cfg" "$T/lagwatch.log"
tap_check "the daemon is ready" it_ready 15

"$SCENARIO" --bootstrap "$B" steady fast 0 g1 50 250 14 --ready "$T/g1.ready" \
    >"$T/g1.out" 2>"$T/g1.err" &
s1=$!
"$SCENARIO" --bootstrap "$B" steady slow 0 g2 50 20 14 --ready "$T/g2.ready" \
    >"$T/g2.out" 2>"$T/g2.err" &
s2=$!
wait_for_file "$T/g1.ready" 30 && wait_for_file "$T/g2.ready" 30
tap_check "producer and consumers at known rates started" test $? -eq 0
tap_diag "$(cat "$T/g1.err" "$T/g2.err")"

# `lagwatch lag --interval`: two sweeps 2 s apart while the rates hold.
"$LAGWATCH" lag --brokers "$B" --group g1 --group g2 --interval 2s \
    >"$T/cli.txt" 2>"$T/cli.err" &
cli=$!

# Right after the start the window holds the still sweeps before it: the
# rates are not yet the steady ones. After 6 s + a sweep it is full.
sleep 9
curl -s "$base/api/v1/lag" >"$T/lag.json"
curl -s "$base/metrics" >"$T/metrics.txt"
tap_include python3 - "$T/lag.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
(c,) = d["clusters"]
t = {(g["group"], tp["topic"]): tp for g in c["groups"] for tp in g["topics"]}
def check(ok, desc, got):
    print(("ok" if ok else "not ok") + " - " + desc + " (got %r)" % (got,))
def within(v, want, tol=0.15):
    return v is not None and abs(v - want) <= tol * want
f = t[("g1", "fast")]
true_s = f["sum_lag"] / 200.0
check(f["catch_up"] == "gaining" and within(f["catch_up_s"], true_s),
      "g1: catch-up estimate within 15%% of the true %.1f s (sum lag %d / 200/s)" % (true_s, f["sum_lag"]),
      (f["catch_up"], f["catch_up_s"]))
check(within(f["produce_rate"], 50) and within(f["consume_rate"], 250),
      "g1: produce rate ~50/s, consume rate ~250/s", (f["produce_rate"], f["consume_rate"]))
s = t[("g2", "slow")]
check(s["catch_up"] == "never" and s["catch_up_s"] is None and s["sum_lag"] > 0,
      "g2 (consumer slower than producer): catch_up never, catch_up_s null", (s["catch_up"], s["catch_up_s"]))
check(within(s["produce_rate"], 50) and within(s["consume_rate"], 20),
      "g2: produce rate ~50/s, consume rate ~20/s", (s["produce_rate"], s["consume_rate"]))
check(sorted(t) == [("g1", "fast"), ("g2", "slow")],
      "exclude_topics '.*\\.dlq': g1's commits on skip.dlq are not measured", sorted(t))
PY
tap_check "/metrics: g2's catch-up is +Inf" \
    grep -q '^kafka_consumergroup_group_catch_up_seconds{cluster_name="main",group="g2",topic="slow"} +Inf$' "$T/metrics.txt"
tap_check "/metrics: g1's catch-up is a finite number" \
    grep -q '^kafka_consumergroup_group_catch_up_seconds{cluster_name="main",group="g1",topic="fast"} [0-9]' "$T/metrics.txt"
tap_check "/metrics: the rates" \
    grep -q '^lagwatch_kafka_group_topic_consume_rate{cluster_name="main",group="g1",topic="fast"} [0-9]' "$T/metrics.txt"
n1=$(it_influx_value "$INFLUX_URL_a" flink \
    "SELECT count(catch_up_s) FROM kafka_consumergroup_lag WHERE \"group\" = 'g1'")
n2=$(it_influx_value "$INFLUX_URL_a" flink \
    "SELECT count(catch_up_s) FROM kafka_consumergroup_lag WHERE \"group\" = 'g2'")
r2=$(it_influx_value "$INFLUX_URL_a" flink \
    "SELECT count(produce_rate) FROM kafka_consumergroup_lag WHERE \"group\" = 'g2'")
tap_check "InfluxDB: catch_up_s for g1 ($n1 points), none for g2 (never: $n2), g2's rates ($r2)" \
    test "${n1:-0}" -gt 0 -a "${n2:-0}" = 0 -a "${r2:-0}" -gt 0

wait "$cli"
tap_check "lagwatch lag --interval 2s: g1's catch-up and rates" \
    grep -q '^# g1 fast: catch-up [0-9.]* s (produce [0-9.]*/s, consume [0-9.]*/s)$' "$T/cli.txt"
tap_check "lagwatch lag --interval 2s: g2 never catches up" \
    grep -q '^# g2 slow: catch-up never, not gaining' "$T/cli.txt"
tap_diag "$(grep catch-up "$T/cli.txt") $(cat "$T/cli.err")"
"$LAGWATCH" lag --brokers "$B" --group g1 >"$T/cli1.txt" 2>&1
tap_check "lagwatch lag without --interval: catch-up unknown" \
    grep -q '^# g1 fast: catch-up unknown (needs two sweeps: --interval)$' "$T/cli1.txt"
wait "$s1"; rc1=$?
wait "$s2"; rc2=$?
tap_check "the steady runs finished ($(cat "$T/g1.out") / $(cat "$T/g2.out"))" test $rc1 = 0 -a $rc2 = 0

# A reset: g1's offsets back to 0. The first sweep that sees it must not
# compute rates across it.
it_scenario commit g1 fast 0 0 >/dev/null 2>"$T/reset.err"
tap_check "g1 reset to offset 0" test $? -eq 0
# Every sweep writes a point, so the reset sweep's point is there to find,
# however late this looks: the first point with everything behind
# (committed 0: sum_lag = the log end) must carry no rates.
end=$(awk '{ print $2 }' "$T/g1.out")
first=
for i in $(seq 100); do
    first=$(it_influxql "$INFLUX_URL_a" flink \
        "SELECT sum_lag, produce_rate, consume_rate, catch_up_s FROM kafka_consumergroup_lag WHERE \"group\" = 'g1' AND sum_lag = $end ORDER BY time ASC LIMIT 1" |
        python3 -c 'import json,sys
s = json.load(sys.stdin)["results"][0].get("series", [])
print(" ".join(str(v) for v in s[0]["values"][0][1:]) if s else "")')
    [ -n "$first" ] && break
    sleep 0.2
done
tap_check "the first sweep after the reset has no rates and no estimate (got '$first')" \
    test "$first" = "$end None None None"
# Nothing moves after the reset: known again, and +Inf (lag, no progress).
v=
for i in $(seq 100); do
    v=$(it_metric 'kafka_consumergroup_group_catch_up_seconds{cluster_name="main",group="g1",topic="fast"}')
    [ -n "$v" ] && break
    sleep 0.1
done
tap_check "known again from the next sweep: +Inf, nothing moves (got '$v')" test "$v" = +Inf

it_lagwatch_stop TERM
tap_check "SIGTERM exits 0" test "$lw_rc" = 0
tap_done
