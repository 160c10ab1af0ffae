#!/usr/bin/env bash
# The demo, from a fresh Debian 12 machine: installs what is needed, builds
# lagwatch, starts a local demo stack on 127.0.0.1 (three InfluxDB nodes and
# a fake Flink cluster replaying recorded PrometheusReporter output), runs
# one full lagwatch cycle against it, and shows what was collected and on
# which InfluxDB node every job landed. Everything it starts is stopped at
# the end.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/deps.sh" >/dev/null
echo "== building lagwatch"
LAGWATCH=$("$top/scripts/build.sh")
. "$top/tests/lib/tap.sh"
. "$top/tests/lib/influxd.sh"

TEST_TMPDIR=$(mktemp -d /tmp/lagwatch-demo.XXXXXX)
export TEST_TMPDIR
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    influxd_stop_all
    rm -rf "$TEST_TMPDIR"
}
trap cleanup EXIT

echo "== starting three InfluxDB nodes"
for n in a b c; do
    influxd_start "$n" >/dev/null
    v=INFLUX_URL_$n
    echo "   influx-$n ${!v}"
done
echo "== starting the fake Flink cluster (recorded JobManager REST and reporter output)"
python3 "$top/tests/fakeflink.py" --fixtures "$top/tests/fixtures/flink" \
    --port 0 --port-file "$TEST_TMPDIR/fake.port" >/dev/null 2>&1 &
pids+=($!)
wait_for_file "$TEST_TMPDIR/fake.port" 10
fport=$(sed -n 's/^port=//p' "$TEST_TMPDIR/fake.port")
echo "   JobManager REST http://127.0.0.1:$fport, reporters http://127.0.0.1:$fport/{tm1,tm2,jm}/metrics"

cfg=$TEST_TMPDIR/lagwatch.yml
cat > "$cfg" <<YAML
agent:
  name: demo-agent
  interval: 15s
flink:
  - name: demo
    rest_url: http://127.0.0.1:$fport
    reporters:
      - http://127.0.0.1:$fport/tm1/metrics
      - http://127.0.0.1:$fport/tm2/metrics
      - http://127.0.0.1:$fport/jm/metrics
sinks:
  influxdb:
    database: flink
    nodes:
      - {name: influx-a, url: "$INFLUX_URL_a"}
      - {name: influx-b, url: "$INFLUX_URL_b"}
      - {name: influx-c, url: "$INFLUX_URL_c"}
YAML
echo "== lagwatch run --once"
"$LAGWATCH" run -c "$cfg" --once --log-level warn

echo "== where the jobs live (lagwatch ring)"
"$LAGWATCH" ring -c "$cfg" --key orders-enrich --key clickstream-sessionize \
    --key demo-agent

echo "== what each InfluxDB node holds (InfluxQL)"
for n in a b c; do
    v=INFLUX_URL_$n
    curl -s "${!v}/query" --data-urlencode db=flink \
        --data-urlencode 'q=SHOW SERIES' | python3 -c '
import json, sys, collections
name = sys.argv[1]
d = json.load(sys.stdin)["results"][0].get("series", [])
keys = [v[0] for s in d for v in s["values"]]
jobs = collections.Counter()
for k in keys:
    job = "(no job: JVM/cluster series)"
    for part in k.split(","):
        if part.startswith("job_name="):
            job = part[len("job_name="):]
    jobs[job] += 1
print("   %s: %d series" % (name, len(keys)))
for j, c in sorted(jobs.items()):
    print("      %-34s %5d series" % (j, c))
' "influx-$n"
done
owner=$("$LAGWATCH" ring -c "$cfg" --key orders-enrich | awk -F'\t' 'NF==2{split($2,o,",");print o[1]}')
ov=INFLUX_URL_${owner#influx-}
echo "== which operator is slow? lagwatch_task_timing of orders_enrich on $owner"
curl -s "${!ov}/query" --data-urlencode db=flink --data-urlencode \
    'q=SELECT last("busy_ratio_max") AS busy, last("backpressured_ratio_max") AS backpressured, last("record_time_us_max") AS us_per_record, last("slowest_subtask") AS slowest, last("bottleneck") AS bottleneck FROM "lagwatch_task_timing" WHERE "job_name" = '"'"'orders_enrich'"'"' GROUP BY "task_name"' |
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
    curl -s "${!v}/query" --data-urlencode db=flink --data-urlencode \
        'q=SELECT last("running") AS running, last("restarts") AS restarts, last("last_checkpoint_duration_ms") AS ckpt_ms, last("failed_checkpoints") AS failed_ckpts FROM "lagwatch_job" GROUP BY "job_name"' |
        python3 -c '
import json, sys
for s in json.load(sys.stdin)["results"][0].get("series", []):
    r = dict(zip(s["columns"], s["values"][0]))
    print("   %s: %-24s running=%s restarts=%s last checkpoint %s ms, failed checkpoints %s" % (
        sys.argv[1], s["tags"]["job_name"], r["running"], r["restarts"], r["ckpt_ms"], r["failed_ckpts"]))
' "influx-$n"
done
echo "== a sample query: Window operator records in, folded over subtasks"
for n in a b c; do
    v=INFLUX_URL_$n
    curl -s "${!v}/query" --data-urlencode db=flink --data-urlencode \
        'q=SELECT "max","sum","avg" FROM "taskmanager_job_task_operator_numRecordsIn" WHERE "operator_name" =~ /^Window/' |
        python3 -c '
import json, sys
for s in json.load(sys.stdin)["results"][0].get("series", []):
    print("   " + sys.argv[1] + ": " + s["name"] + " " + json.dumps(dict(zip(s["columns"], s["values"][0]))))
' "influx-$n"
done
