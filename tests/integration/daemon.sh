#!/usr/bin/env bash
# lagwatch as a daemon: the fake Flink cluster and a real influxd; `lagwatch
# run` serves /healthz, /readyz and /metrics (checked with the real
# promtool), counts its JobManager REST requests per cycle, reloads on
# SIGHUP (a bad config is rejected and the old one keeps running; a ring
# change is logged with both fingerprints), and stops on SIGTERM with exit 0
# after writing what it had queued.
set -u
here=$(cd "$(dirname "$0")" && pwd)
srcdir=${top_srcdir:-$(cd "$here/../.." && pwd)}
LAGWATCH=${LAGWATCH:-$srcdir/lagwatch}
FIX=${FLINK_FIXTURES:-$srcdir/tests/fixtures/flink}
. "$srcdir/tests/lib/tap.sh"
. "$srcdir/tests/lib/influxd.sh"

command -v influxd >/dev/null || tap_skip_all "influxd not installed"
command -v promtool >/dev/null || tap_skip_all "promtool not installed"
[ -x "$LAGWATCH" ] || tap_skip_all "no lagwatch binary at $LAGWATCH"

TEST_TMPDIR=$(mktemp -d /tmp/lagwatch-daemon.XXXXXX)
export TEST_TMPDIR
pids=()
lw=
cleanup() {
    [ -n "$lw" ] && kill -KILL "$lw" 2>/dev/null && wait "$lw" 2>/dev/null
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    influxd_stop_all
    rm -rf "$TEST_TMPDIR"
}
trap cleanup EXIT

influxd_start a >/dev/null && influxd_start b >/dev/null ||
    { tap_not_ok "start influxd"; tap_done; exit 1; }
python3 "$srcdir/tests/fakeflink.py" --fixtures "$FIX" --port 0 \
    --port-file "$TEST_TMPDIR/fake.port" >/dev/null 2>"$TEST_TMPDIR/fake.err" &
pids+=($!)
wait_for_file "$TEST_TMPDIR/fake.port" 10 || { tap_not_ok "fake flink up"; tap_done; exit 1; }
fport=$(sed -n 's/^port=//p' "$TEST_TMPDIR/fake.port")
lport=$(free_port)

write_config() { # FILE NODES...
    local f=$1
    shift
    {
        cat <<YAML
agent:
  spool_dir: $TEST_TMPDIR/spool
  name: daemon-agent
  interval: 1s
  listen: 127.0.0.1:$lport
flink:
  - name: prod
    rest_url: http://127.0.0.1:$fport
    reporters: [http://127.0.0.1:$fport/tm1/metrics, http://127.0.0.1:$fport/jm/metrics]
sinks:
  influxdb:
    database: flink
    nodes:
YAML
        for n in "$@"; do
            v=INFLUX_URL_$n
            echo "      - {name: influx-$n, url: \"${!v}\"}"
        done
    } > "$f"
}
cfg=$TEST_TMPDIR/lagwatch.yml
write_config "$cfg" a

"$LAGWATCH" run -c "$cfg" 2>"$TEST_TMPDIR/lagwatch.log" &
lw=$!
base=http://127.0.0.1:$lport
ready=
for i in $(seq 100); do
    if [ "$(curl -s -o /dev/null -w '%{http_code}' "$base/readyz")" = 200 ]; then ready=1; break; fi
    sleep 0.1
done
tap_check "/readyz answers 200 after the first cycle" test -n "$ready"
tap_check "/healthz answers 200" test "$(curl -s -o /dev/null -w '%{http_code}' "$base/healthz")" = 200
tap_check "an unknown path answers 404" test "$(curl -s -o /dev/null -w '%{http_code}' "$base/nope")" = 404
tap_check "POST answers 405" test "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$base/metrics")" = 405

curl -s "$base/metrics" >"$TEST_TMPDIR/metrics.txt"
promtool check metrics <"$TEST_TMPDIR/metrics.txt" >"$TEST_TMPDIR/promtool.all" 2>&1
rc=$?
# Flink's own names are camelCase and folded series end in _sum by design
# (lint findings, exit 3); anything else is a finding.
grep -v -e "^flink_[^ ]* metric names should be written in 'snake_case' not 'camelCase'" \
    -e '^flink_[^ ]*_sum non-histogram and non-summary metrics should not have "_sum" suffix' \
    "$TEST_TMPDIR/promtool.all" >"$TEST_TMPDIR/promtool.out"
tap_diag "$(head -5 "$TEST_TMPDIR/promtool.out")"
tap_check "promtool check metrics finds nothing to complain about" test $rc -le 3 -a ! -s "$TEST_TMPDIR/promtool.out"
tap_check "REST requests per cycle exported (13)" \
    grep -q '^lagwatch_rest_requests_last_cycle{flink_cluster="prod"} 13$' "$TEST_TMPDIR/metrics.txt"
tap_check "no REST errors counted" \
    test "$(grep '^lagwatch_rest_errors_total' "$TEST_TMPDIR/metrics.txt" | awk '{s+=$2} END {print s+0}')" = 0
# Writes are asynchronous: a snapshot counts what was written by the end
# of its cycle, so the first one may show 0.
written=
for i in $(seq 50); do
    curl -s "$base/metrics" | awk '/^lagwatch_points_written_total\{node="influx-a"\}/ { exit !($2 > 0) }' &&
        { written=1; break; }
    sleep 0.1
done
tap_check "points written to influx-a are counted" test -n "$written"
tap_check "both reporter endpoints are up" \
    test "$(grep -c '^lagwatch_scrape_up{.*} 1$' "$TEST_TMPDIR/metrics.txt")" = 2
tap_check "the ring fingerprint is exported" \
    grep -q "^lagwatch_ring_info{fingerprint=\"$("$LAGWATCH" ring -c "$cfg" | sed -n 's/^fingerprint: //p')\"" "$TEST_TMPDIR/metrics.txt"

ring_owner() { # CONFIG KEY -> first owner per `lagwatch ring`
    "$LAGWATCH" ring -c "$1" --key "$2" | awk -F'\t' 'NF==2{split($2,o,",");print o[1]}'
}
api_owner() { # KEY -> first owner per /api/v1/ring
    curl -s -G "$base/api/v1/ring" --data-urlencode "key=$1" |
        python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["owners"][0], d["normalized"], d["fingerprint"])'
}
read -r o n f <<<"$(api_owner "orders-enrich")"
tap_check "/api/v1/ring names the owner 'lagwatch ring' names ($o)" test "$o" = "$(ring_owner "$cfg" orders-enrich)"
tap_check "/api/v1/ring normalizes the key ($n)" test "$n" = orders_enrich
tap_check "/api/v1/ring without key answers 400" \
    test "$(curl -s -o /dev/null -w '%{http_code}' "$base/api/v1/ring")" = 400

# SIGHUP with a bad config: rejected, the daemon keeps running.
cp "$cfg" "$TEST_TMPDIR/good.yml"
echo "agent: {intervall: 1s}" >"$cfg"
kill -HUP $lw
for i in $(seq 50); do grep -q "rejected" "$TEST_TMPDIR/lagwatch.log" && break; sleep 0.1; done
tap_check "a bad config on SIGHUP is rejected with a log line" grep -q "reload of '$cfg' rejected" "$TEST_TMPDIR/lagwatch.log"
tap_check "the error names the file, line and column" grep -q "$cfg:1:9: unknown key 'intervall'" "$TEST_TMPDIR/lagwatch.log"
sleep 1.5
tap_check "the daemon still runs and serves" test "$(curl -s -o /dev/null -w '%{http_code}' "$base/metrics")" = 200

# SIGHUP with a good config that adds a node: the ring change is logged.
write_config "$cfg" a b
kill -HUP $lw
for i in $(seq 50); do grep -q "configuration reloaded" "$TEST_TMPDIR/lagwatch.log" && break; sleep 0.1; done
tap_check "a good config is reloaded" grep -q "configuration reloaded" "$TEST_TMPDIR/lagwatch.log"
tap_check "the ring change is logged with both fingerprints" \
    grep -q "ring changed on reload: fingerprint [0-9a-f]\{16\} -> [0-9a-f]\{16\}" "$TEST_TMPDIR/lagwatch.log"
sleep 1.5
curl -s "$base/metrics" >"$TEST_TMPDIR/metrics2.txt"
mismatch=0
for k in orders-enrich clickstream-sessionize j1 j2 j3 j4 j5 j6; do
    read -r o n f <<<"$(api_owner "$k")"
    [ "$o" = "$(ring_owner "$cfg" "$k")" ] || mismatch=$((mismatch + 1))
done
tap_check "/api/v1/ring follows the reloaded ring" test $mismatch -eq 0
# With one shard_by tag a key is one value, commas included: the daemon
# writes job "orders, EU" under key "orders__EU" (lagwatch(8), RING), so
# both answers must name the owner of that key. Eight keys on two nodes: a
# key split at its commas cannot agree with all of them by chance.
split=0
for k in "orders, EU" "a,b" "x,,y" "p, q" "1,2,3" "k," ",k" "m ,n"; do
    flat=$(printf '%s' "$k" | sed 's/[^A-Za-z0-9:_]/_/g')
    read -r o n f <<<"$(api_owner "$k")"
    if [ "$n" != "$flat" ] || [ "$o" != "$(ring_owner "$cfg" "$flat")" ] ||
        [ "$(ring_owner "$cfg" "$k")" != "$o" ]; then
        tap_diag "key '$k': api $o ($n), ring --key $(ring_owner "$cfg" "$k"), owner of $flat $(ring_owner "$cfg" "$flat")"
        split=$((split + 1))
    fi
done
tap_check "a key with commas is one value under one shard_by tag" test $split -eq 0
tap_check "the new node is in /metrics after the reload" \
    grep -q '^lagwatch_points_written_total{node="influx-b"}' "$TEST_TMPDIR/metrics2.txt"

# SIGTERM: stop, write what is queued, exit 0.
kill -TERM $lw
wait $lw
rc=$?
lw=
tap_check "SIGTERM exits 0" test $rc -eq 0
tap_check "the stop is logged" grep -q "stopping: writing what is queued" "$TEST_TMPDIR/lagwatch.log"
others=$(grep 'level=error' "$TEST_TMPDIR/lagwatch.log" | grep -v -e "unknown key 'intervall'" -e "rejected: keeping")
tap_check "no other error was logged" test -z "$others"
tap_diag "$others"
tap_done
