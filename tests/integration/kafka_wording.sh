#!/usr/bin/env bash
# The log line of a failing Kafka sweep (lagwatch(8), LOGGING): it names the
# cluster once, with its brokers, and says what is served instead: nothing
# yet on a first cycle that never had a result, the last result (with its
# age) as stale once there was one.
set -u
. "$(cd "$(dirname "$0")/../lib" && pwd)/itest.sh"
it_need lagwatch kafka
it_init kwording

dead=$(free_port)
cat >"$T/dead.yml" <<YAML
agent: {name: w, interval: 1s, spool_dir: "$T/spool", scrape_timeout: 1s}
kafka:
  - name: main
    brokers: [127.0.0.1:$dead]
    groups: [{name: g1}]
$(it_yaml_dead_influxdb 200ms "$(free_port)")
YAML
it_once "$T/dead.yml" dead
line=$(grep "kafka cluster 'main'" "$T/dead.err" | head -1)
tap_diag "$line"
tap_check "a first failed sweep is logged" test -n "$line"
tap_check "the cluster is named once, with its brokers" \
    test "$(grep -o "kafka cluster 'main'" <<<"$line" | wc -l)" = 1 -a \
    -n "$(grep -F "(brokers '127.0.0.1:$dead')" <<<"$line")"
tap_check "it says there is no earlier result, not 'serving the last result'" \
    test -n "$(grep -F 'no earlier result to serve yet' <<<"$line")" -a \
    -z "$(grep -F 'serving the last' <<<"$line")"

it_broker --topic t1:1 || it_bail "test broker up"
it_produce t1 0 5 "$(it_now_ms)" >/dev/null && it_scenario commit g1 t1 0 2 >/dev/null
it_listen
sed -e "s/127.0.0.1:$dead/$B/" -e "s/name: w,/name: w, listen: \"127.0.0.1:$lport\",/" \
    "$T/dead.yml" >"$T/live.yml"
it_lagwatch "$T/live.yml" "$T/live.log"
tap_check "lagwatch is ready on a live broker" it_ready 15
it_stop "$broker" >/dev/null
for _ in $(seq 50); do
    grep -q "kafka cluster 'main'.*stale" "$T/live.log" && break
    sleep 0.2
done
line=$(grep "kafka cluster 'main'.*stale" "$T/live.log" | head -1)
tap_diag "$line"
tap_check "after a good sweep it serves the last result, saying how old" \
    test -n "$(grep -E "serving the last result \([0-9.]+ s old\) as stale" <<<"$line")" -a \
    "$(grep -o "kafka cluster 'main'" <<<"$line" | wc -l)" = 1
it_lagwatch_stop TERM
tap_done
