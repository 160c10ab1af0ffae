#!/usr/bin/env bash
# The demo, from a fresh Debian 12 machine: installs what is needed, builds
# lagwatch, starts a local demo stack on 127.0.0.1 (three InfluxDB nodes and
# a fake Flink cluster replaying recorded PrometheusReporter output), runs
# one full lagwatch cycle against it, and shows what was collected and on
# which InfluxDB node every job landed. Everything it starts is stopped at
# the end.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/deps.sh" demo >/dev/null
echo "== building lagwatch"
LAGWATCH=$("$top/scripts/build.sh")
build=$(dirname "$LAGWATCH")
make -C "$build" -j"$(nproc)" tests/kafka_mock_broker tests/kafka_scenario >/dev/null
# The integration tests' scaffolding starts (and stops, by PID) the stack.
top_srcdir=$top top_builddir=$build
. "$top/tests/lib/itest.sh"
it_init demo

echo "== starting three InfluxDB nodes"
for n in a b c; do
    it_influxd "$n"
    v=INFLUX_URL_$n
    echo "   influx-$n ${!v}"
done
echo "== starting the fake Flink cluster (recorded JobManager REST and reporter output)"
it_fakeflink
echo "   JobManager REST http://127.0.0.1:$fport, reporters http://127.0.0.1:$fport/{tm1,tm2,jm}/metrics"

echo "== starting a demo Kafka (librdkafka's mock cluster, 3 brokers) with lagging consumer groups"
it_broker --brokers 3 --topic orders:8 --topic clicks:4
now=$(it_now_ms)
for p in 0 1 2 3 4 5 6 7; do
    # orders: one message a second for the last 10 minutes, per partition
    it_produce orders $p 600 $((now - 600000 - p * 60000)) >/dev/null
done
for p in 0 1 2 3; do
    it_produce clicks $p 300 $((now - 300000)) >/dev/null
done
# The Flink job's group: partition 7 is furthest behind in time (its data
# is oldest) though partition 0 is furthest behind in records.
it_scenario commit orders-enrich \
    orders 0 100 orders 1 500 orders 2 520 orders 3 540 orders 4 560 \
    orders 5 580 orders 6 590 orders 7 400 >/dev/null
it_scenario commit sessionizer \
    clicks 0 290 clicks 1 295 clicks 2 300 clicks 3 250 >/dev/null
echo "   $B"

cfg=$TEST_TMPDIR/lagwatch.yml
cat > "$cfg" <<YAML
agent:
  spool_dir: $TEST_TMPDIR/spool
  name: demo-agent
  interval: 15s
flink:
  - name: demo
    rest_url: http://127.0.0.1:$fport
    reporters:
      - http://127.0.0.1:$fport/tm1/metrics
      - http://127.0.0.1:$fport/tm2/metrics
      - http://127.0.0.1:$fport/jm/metrics
kafka:
  - name: demo
    brokers: [${B//,/, }]
    groups:
      - {name: orders-enrich, job: orders-enrich}
      - {name: sessionizer}
sinks:
  influxdb:
    database: flink
    nodes:
$(it_influx_nodes a b c)
YAML
echo "== lagwatch run --once"
"$LAGWATCH" run -c "$cfg" --once --log-level warn

echo "== where the jobs live (lagwatch ring)"
"$LAGWATCH" ring -c "$cfg" --key orders-enrich --key clickstream-sessionize \
    --key demo-agent

echo "== what each InfluxDB node holds (InfluxQL)"
for n in a b c; do
    v=INFLUX_URL_$n
    it_influxql "${!v}" flink \
        'SHOW SERIES' | python3 -c '
import json, sys, collections
name = sys.argv[1]
d = json.load(sys.stdin)["results"][0].get("series", [])
keys = [v[0] for s in d for v in s["values"]]
jobs = collections.Counter()
for k in keys:
    job = "(no job: JVM/cluster series)"
    for part in k.split(","):
        if part.startswith("group=") and job.startswith("(no job"):
            job = "(Kafka lag of group %s)" % part[len("group="):]
        if part.startswith("job_name="):
            job = part[len("job_name="):]
    jobs[job] += 1
print("   %s: %d series" % (name, len(keys)))
for j, c in sorted(jobs.items()):
    print("      %-34s %5d series" % (j, c))
' "influx-$n"
done
owner=$(it_ring_owner "$cfg" orders-enrich)
ov=INFLUX_URL_${owner#influx-}
echo "== which operator is slow? lagwatch_task_timing of orders_enrich on $owner"
it_influxql "${!ov}" flink \
    'SELECT last("busy_ratio_max") AS busy, last("backpressured_ratio_max") AS backpressured, last("record_time_us_max") AS us_per_record, last("slowest_subtask") AS slowest, last("bottleneck") AS bottleneck FROM "lagwatch_task_timing" WHERE "job_name" = '"'"'orders_enrich'"'"' GROUP BY "task_name"' |
    python3 -c '
import json, sys
for s in json.load(sys.stdin)["results"][0].get("series", []):
    r = dict(zip(s["columns"], s["values"][0]))
    print("   %-60.60s busy %.3f  backpressured %.3f  %s us/record  slowest subtask %s%s" % (
        s["tags"]["task_name"], r["busy"] or 0, r["backpressured"] or 0,
        "%.1f" % r["us_per_record"] if r["us_per_record"] is not None else "-",
        r["slowest"], "   <== BOTTLENECK" if r["bottleneck"] == 1 else ""))
'
echo "== job state (lagwatch_job)"
for n in a b c; do
    v=INFLUX_URL_$n
    it_influxql "${!v}" flink \
        'SELECT last("running") AS running, last("restarts") AS restarts, last("last_checkpoint_duration_ms") AS ckpt_ms, last("failed_checkpoints") AS failed_ckpts FROM "lagwatch_job" GROUP BY "job_name"' |
        python3 -c '
import json, sys
for s in json.load(sys.stdin)["results"][0].get("series", []):
    r = dict(zip(s["columns"], s["values"][0]))
    print("   %s: %-24s running=%s restarts=%s last checkpoint %s ms, failed checkpoints %s" % (
        sys.argv[1], s["tags"]["job_name"], r["running"], r["restarts"], r["ckpt_ms"], r["failed_ckpts"]))
' "influx-$n"
done
echo "== Kafka lag of the slowest partition (lagwatch lag, the one-shot table)"
"$LAGWATCH" lag --brokers "$B" --group orders-enrich --group sessionizer | grep -v '^$'
echo "== kafka_consumergroup_lag of orders-enrich, written with the job on $owner"
it_influxql "${!ov}" flink \
    'SELECT last("max_lag") AS max_lag, last("max_lag_seconds") AS max_lag_seconds, last("slowest_partition") AS slowest, last("consumed_through_ms") AS consumed_through_ms FROM "kafka_consumergroup_lag" WHERE "group" = '"'"'orders-enrich'"'"' GROUP BY "topic"' |
    python3 -c '
import json, sys, datetime
for s in json.load(sys.stdin)["results"][0].get("series", []):
    r = dict(zip(s["columns"], s["values"][0]))
    t = datetime.datetime.fromtimestamp(r["consumed_through_ms"] / 1000, datetime.timezone.utc)
    print("   topic %s: max lag %d records, slowest partition %d is %.0f s behind; every message before %s is consumed (and checkpointed)" % (
        s["tags"]["topic"], r["max_lag"], r["slowest"], r["max_lag_seconds"], t.strftime("%H:%M:%SZ")))
'
echo "== a sample query: Window operator records in, folded over subtasks"
for n in a b c; do
    v=INFLUX_URL_$n
    it_influxql "${!v}" flink \
        'SELECT "max","sum","avg" FROM "taskmanager_job_task_operator_numRecordsIn" WHERE "operator_name" =~ /^Window/' |
        python3 -c '
import json, sys
for s in json.load(sys.stdin)["results"][0].get("series", []):
    print("   " + sys.argv[1] + ": " + s["name"] + " " + json.dumps(dict(zip(s["columns"], s["values"][0]))))
' "influx-$n"
done
