#!/usr/bin/env bash
# The first real path end to end: three real influxd nodes form the ring,
# the fake Flink cluster serves the recorded PrometheusReporter output, and
# `lagwatch run --once` scrapes, trims, shards and writes. An independent
# oracle (influx_oracle.py) then checks every node over InfluxQL.
set -u
here=$(cd "$(dirname "$0")" && pwd)
srcdir=${top_srcdir:-$(cd "$here/../.." && pwd)}
LAGWATCH=${LAGWATCH:-$srcdir/lagwatch}
FIX=${FLINK_FIXTURES:-$srcdir/tests/fixtures/flink}
. "$srcdir/tests/lib/tap.sh"
. "$srcdir/tests/lib/influxd.sh"

command -v influxd >/dev/null || tap_skip_all "influxd not installed"
[ -x "$LAGWATCH" ] || tap_skip_all "no lagwatch binary at $LAGWATCH"

TEST_TMPDIR=$(mktemp -d /tmp/lagwatch-it.XXXXXX)
export TEST_TMPDIR
pids=()
cleanup() {
    for p in "${pids[@]}"; do
        kill "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    influxd_stop_all
    rm -rf "$TEST_TMPDIR"
}
trap cleanup EXIT

for n in a b c; do
    influxd_start "$n" >/dev/null || { tap_not_ok "start influxd $n"; tap_done; exit 1; }
done
tap_ok "three influxd nodes up"

python3 "$srcdir/tests/fakeflink.py" --fixtures "$FIX" --port 0 --static \
    --port-file "$TEST_TMPDIR/fake.port" >/dev/null 2>"$TEST_TMPDIR/fake.err" &
pids+=($!)
mkdir -p "$TEST_TMPDIR/static"
cp "$srcdir/tests/fixtures/prom/special-names.prom" "$TEST_TMPDIR/static/"
sport=$(free_port)
python3 -m http.server --bind 127.0.0.1 --directory "$TEST_TMPDIR/static" \
    "$sport" >/dev/null 2>&1 &
pids+=($!)
wait_for_file "$TEST_TMPDIR/fake.port" 10 || { tap_not_ok "fake flink up"; tap_done; exit 1; }
fport=$(sed -n 's/^port=//p' "$TEST_TMPDIR/fake.port")
for i in $(seq 50); do
    curl -sf "http://127.0.0.1:$sport/special-names.prom" >/dev/null && break
    sleep 0.1
done
tap_ok "fake flink on port $fport, static server on $sport"

write_config() { # FILE DB EXTRA_REPORTER
    cat > "$1" <<YAML
agent:
  spool_dir: $TEST_TMPDIR/spool
  name: it-agent
  interval: 15s
  scrape_timeout: 5s
flink:
  - name: prod
    reporters:
      - http://127.0.0.1:$fport/tm1/metrics
      - http://127.0.0.1:$fport/tm2/metrics
      - http://127.0.0.1:$fport/jm/metrics
      - http://127.0.0.1:$sport/special-names.prom
$3
sinks:
  influxdb:
    database: $2
    batch_size: 200
    nodes:
      - {name: influx-a, url: "$INFLUX_URL_a"}
      - {name: influx-b, url: "$INFLUX_URL_b"}
      - {name: influx-c, url: "$INFLUX_URL_c"}
YAML
}

oracle() { # CONFIG DB
    python3 "$srcdir/tests/integration/influx_oracle.py" --db "$2" \
        --agent it-agent --ring-cmd "$LAGWATCH ring -c $1" \
        --node "influx-a=$INFLUX_URL_a" --node "influx-b=$INFLUX_URL_b" \
        --node "influx-c=$INFLUX_URL_c" \
        --expo "prod=$FIX/prometheus/taskmanager-1.prom" \
        --expo "prod=$FIX/prometheus/taskmanager-2.prom" \
        --expo "prod=$FIX/prometheus/jobmanager.prom" \
        --expo "prod=$srcdir/tests/fixtures/prom/special-names.prom"
}

cfg=$TEST_TMPDIR/lagwatch.yml
write_config "$cfg" flink ""
"$LAGWATCH" check -c "$cfg" >"$TEST_TMPDIR/check.out" 2>&1
tap_check "lagwatch check accepts the config" test $? -eq 0

"$LAGWATCH" run -c "$cfg" --once >"$TEST_TMPDIR/run.out" 2>"$TEST_TMPDIR/run.err"
rc=$?
tap_diag "$(cat "$TEST_TMPDIR/run.out")"
if [ $rc -eq 0 ]; then tap_ok "run --once exits 0"; else
    tap_not_ok "run --once exits 0 (got $rc)"; tap_diag "$(tail -20 "$TEST_TMPDIR/run.err")"; fi
tap_include oracle "$cfg" flink

# Every node got a share: the three jobs plus the agent's own key.
for n in a b c; do
    url_var=INFLUX_URL_$n
    cnt=$(curl -s "${!url_var}/query" --data-urlencode "db=flink" \
        --data-urlencode "q=SHOW SERIES" | python3 -c '
import json,sys; d=json.load(sys.stdin); s=d["results"][0].get("series",[])
print(sum(len(x["values"]) for x in s))')
    tap_diag "node $n: $cnt series"
done

# One bad target never stops the others: a closed port among the reporters
# makes the cycle fail (exit 1) while everything else is still written.
dead=$(free_port)
cfg2=$TEST_TMPDIR/lagwatch-dead.yml
write_config "$cfg2" flink_dead "      - http://127.0.0.1:$dead/metrics"
"$LAGWATCH" run -c "$cfg2" --once >"$TEST_TMPDIR/run2.out" 2>"$TEST_TMPDIR/run2.err"
rc=$?
tap_check "run --once with a dead target exits 1" test $rc -eq 1
tap_check "the dead target is named in one error line" \
    grep -q "cannot scrape 'http://127.0.0.1:$dead/metrics'" "$TEST_TMPDIR/run2.err"
tap_include oracle "$cfg2" flink_dead

tap_done
