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
echo "== starting the fake Flink cluster (recorded reporter output)"
python3 "$top/tests/fakeflink.py" --fixtures "$top/tests/fixtures/flink" \
    --port 0 --port-file "$TEST_TMPDIR/fake.port" >/dev/null 2>&1 &
pids+=($!)
wait_for_file "$TEST_TMPDIR/fake.port" 10
fport=$(sed -n 's/^port=//p' "$TEST_TMPDIR/fake.port")
echo "   http://127.0.0.1:$fport/{tm1,tm2,jm}/metrics"

cfg=$TEST_TMPDIR/lagwatch.yml
cat > "$cfg" <<YAML
agent:
  name: demo-agent
  interval: 15s
flink:
  - name: demo
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
v=INFLUX_URL_a
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
