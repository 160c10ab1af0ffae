#!/usr/bin/env bash
# The first real path end to end: three real influxd nodes form the ring,
# the fake Flink cluster serves the recorded PrometheusReporter output, and
# `lagwatch run --once` scrapes, trims, shards and writes. An independent
# oracle (influx_oracle.py) then checks every node over InfluxQL.
set -u
. "$(cd "$(dirname "$0")/../lib" && pwd)/itest.sh"
it_need influxd lagwatch
it_init it

it_influxd a b c || it_bail "start influxd a b c"
tap_ok "three influxd nodes up"

it_fakeflink --static || it_bail "fake flink up"
mkdir -p "$TEST_TMPDIR/static"
cp "$srcdir/tests/fixtures/prom/special-names.prom" "$TEST_TMPDIR/static/"
sport=$(free_port)
it_bg static python3 -m http.server --bind 127.0.0.1 \
    --directory "$TEST_TMPDIR/static" "$sport" >/dev/null 2>&1
wait_for_http "http://127.0.0.1:$sport/special-names.prom" 5
tap_ok "fake flink on port $fport, static server on $sport"

write_config() { # FILE DB EXTRA_REPORTER
    cat > "$1" <<YAML
agent:
  spool_dir: $TEST_TMPDIR/spool
  name: it-agent
  interval: 15s
  scrape_timeout: 5s
$(it_yaml_flink tm1 tm2 jm http://127.0.0.1:$sport/special-names.prom)
$3
sinks:
  influxdb:
    database: $2
    batch_size: 200
    nodes:
$(it_influx_nodes a b c)
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

it_once "$cfg" run
rc=$?
tap_diag "$(cat "$TEST_TMPDIR/run.out")"
if [ $rc -eq 0 ]; then tap_ok "run --once exits 0"; else
    tap_not_ok "run --once exits 0 (got $rc)"; tap_diag "$(tail -20 "$TEST_TMPDIR/run.err")"; fi
tap_include oracle "$cfg" flink

# Every node got a share: the three jobs plus the agent's own key.
for n in a b c; do
    url_var=INFLUX_URL_$n
    cnt=$(it_influx_rows "${!url_var}" flink "SHOW SERIES")
    tap_diag "node $n: $cnt series"
done

# One bad target never stops the others: a closed port among the reporters
# makes the cycle fail (exit 1) while everything else is still written.
dead=$(free_port)
cfg2=$TEST_TMPDIR/lagwatch-dead.yml
write_config "$cfg2" flink_dead "      - http://127.0.0.1:$dead/metrics"
it_once "$cfg2" run2
rc=$?
tap_check "run --once with a dead target exits 1" test $rc -eq 1
tap_check "the dead target is named in one error line" \
    grep -q "cannot scrape 'http://127.0.0.1:$dead/metrics'" "$TEST_TMPDIR/run2.err"
tap_include oracle "$cfg2" flink_dead

tap_done
