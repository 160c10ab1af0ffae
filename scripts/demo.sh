#!/usr/bin/env bash
# The demo, from a fresh Debian 12 machine: installs what is needed, builds
# lagwatch, starts a local demo stack on 127.0.0.1 (three InfluxDB nodes, a
# fake Flink cluster replaying recorded PrometheusReporter output and
# JobManager REST answers, a test Kafka cluster with lagging groups), runs
# one full lagwatch cycle against it, and shows what was collected and on
# which InfluxDB node every job landed.
#
# Then it leaves the stack running until Ctrl-C: lagwatch as a daemon with
# its status page, a real Prometheus scraping it with the shipped alert
# rules (rules/lagwatch.rules.yml, their for: shortened to 30s so they fire
# while you look), and a producer and a consumer on the Kafka cluster, so
# the values keep moving. It prints the URLs to open and commands to try.
#
#   scripts/demo.sh          the summary, then the stack stays up
#   scripts/demo.sh --once   the summary only, then everything stops (for
#                            scripts and CI)
#
# Everything it starts is stopped at the end (Ctrl-C), by PID.
set -euo pipefail
once=
case ${1:-} in
--once) once=1 ;;
"") ;;
*)
    echo "usage: $0 [--once]" >&2
    exit 2
    ;;
esac
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
# --rebase-time: the recording's times (watermarks, checkpoints) as of now
it_fakeflink --rebase-time
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

it_listen
cfg=$TEST_TMPDIR/lagwatch.yml
cat > "$cfg" <<YAML
agent:
  spool_dir: $TEST_TMPDIR/spool
  name: demo-agent
  interval: 5s
  listen: 127.0.0.1:$lport
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

[ -z "$once" ] || exit 0

echo "== leaving the stack up: lagwatch as a daemon with the query proxy, Prometheus with the alert rules"
# The daemon also serves the ring as one InfluxDB (lagwatch(8), PROXY).
xport=$(free_port)
proxy=http://127.0.0.1:$xport
cp "$cfg" "$TEST_TMPDIR/lagwatch-daemon.yml"
printf 'proxy:\n  listen: 127.0.0.1:%s\n' "$xport" >>"$TEST_TMPDIR/lagwatch-daemon.yml"
it_lagwatch "$TEST_TMPDIR/lagwatch-daemon.yml" "$TEST_TMPDIR/lagwatch.log" --log-level warn
it_ready 30 || {
    echo "lagwatch did not get ready, see $TEST_TMPDIR/lagwatch.log" >&2
    exit 1
}
# The shipped rules wait 10 minutes to an hour (for:) before firing; the
# demo's copy waits 30 s.
mkdir -p "$TEST_TMPDIR/prom"
sed 's/^\( *\)for: .*/\1for: 30s/' "$top/rules/lagwatch.rules.yml" \
    >"$TEST_TMPDIR/prom/lagwatch.rules.yml"
pport=$(free_port)
cat >"$TEST_TMPDIR/prom/prometheus.yml" <<YAML
global:
  scrape_interval: 5s
  evaluation_interval: 5s
rule_files: [lagwatch.rules.yml]
scrape_configs:
  - job_name: lagwatch
    static_configs:
      - targets: ['127.0.0.1:$lport']
YAML
it_bg prom prometheus --config.file="$TEST_TMPDIR/prom/prometheus.yml" \
    --storage.tsdb.path="$TEST_TMPDIR/prom/data" \
    --web.listen-address="127.0.0.1:$pport" \
    >"$TEST_TMPDIR/prom/prometheus.log" 2>&1
wait_for_http "http://127.0.0.1:$pport/-/ready" 30 ||
    echo "   (Prometheus did not start: see $TEST_TMPDIR/prom/prometheus.log)"
prev=$(date -u +%Y-%m-%dT%H:00:00Z)
hour=$(date -u -d '+1 hour' +%Y-%m-%dT%H:00:00Z)
cat <<TXT

   Open in a browser:
     lagwatch status page   $base/
     Prometheus alerts      http://127.0.0.1:$pport/alerts  (firing after a minute or so)
     Prometheus graph       http://127.0.0.1:$pport/graph?g0.expr=kafka_consumergroup_group_max_lag_seconds
     lagwatch /metrics      $base/metrics
     InfluxDB for the whole ring (one Grafana datasource)   $proxy

   Try:
     # is the last complete hour (before $prev) consumed by the job's
     # group? 200: yes (425 in the first minutes of an hour: the group is
     # about 10 minutes behind)
     curl -i '$base/api/v1/ready?group=orders-enrich&until=$prev'
     # and the hour in progress (before $hour)? 425 with consumed_through
     curl -i '$base/api/v1/ready?group=orders-enrich&until=$hour'
     # the lag table, straight from the brokers
     $LAGWATCH lag --brokers $B --group orders-enrich --group sessionizer
     # which InfluxDB node holds job orders-enrich?
     curl -s '$base/api/v1/ring?key=orders-enrich'
     # the status page's data
     curl -s '$base/api/v1/status' | python3 -m json.tool | less
     # InfluxQL through the proxy: it asks only the node that holds the job
     curl -sG '$proxy/query' --data-urlencode db=flink --data-urlencode \\
       "q=SELECT last(\"busy_ratio_max\") FROM \"lagwatch_task_timing\" WHERE \"job_name\" = 'orders_enrich' GROUP BY \"task_name\""

   The fake Flink cluster moves with every request; every 5 s a producer
   writes 5 messages to each partition and the consumers commit 3, so the
   lag keeps growing. Ctrl-C stops everything.
TXT
# The producer and the consumer: each round moves every log end by 5 and
# every committed offset by 3.
declare -A off=([orders:0]=100 [orders:1]=500 [orders:2]=520 [orders:3]=540
    [orders:4]=560 [orders:5]=580 [orders:6]=590 [orders:7]=400
    [clicks:0]=290 [clicks:1]=295 [clicks:2]=300 [clicks:3]=250)
while sleep 5; do
    now=$(it_now_ms)
    args_o=() args_c=()
    for k in "${!off[@]}"; do
        t=${k%:*} p=${k#*:}
        it_produce "$t" "$p" 5 "$now" >/dev/null 2>&1 || true
        off[$k]=$((off[$k] + 3))
        if [ "$t" = orders ]; then
            args_o+=("$t" "$p" "${off[$k]}")
        else
            args_c+=("$t" "$p" "${off[$k]}")
        fi
    done
    it_scenario commit orders-enrich "${args_o[@]}" >/dev/null 2>&1 || true
    it_scenario commit sessionizer "${args_c[@]}" >/dev/null 2>&1 || true
done
