#!/usr/bin/env bash
# lagwatch as a daemon: the fake Flink cluster and a real influxd; `lagwatch
# run` serves /healthz, /readyz and /metrics (checked with the real
# promtool), counts its JobManager REST requests per cycle, reloads on
# SIGHUP (a bad config is rejected and the old one keeps running; a ring
# change is logged with both fingerprints), and stops on SIGTERM with exit 0
# after writing what it had queued.
set -u
. "$(cd "$(dirname "$0")/../lib" && pwd)/itest.sh"
it_need influxd promtool lagwatch
it_init daemon

it_influxd a b || it_bail "start influxd"
it_fakeflink || it_bail "fake flink up"
it_listen

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
$(it_yaml_flink --rest tm1 jm)
$(it_yaml_influxdb flink "$@")
YAML
    } > "$f"
}
cfg=$TEST_TMPDIR/lagwatch.yml
write_config "$cfg" a

it_lagwatch "$cfg" "$TEST_TMPDIR/lagwatch.log"
tap_check "/readyz answers 200 after the first cycle" it_ready 10
tap_check "/healthz answers 200" test "$(it_code "$base/healthz")" = 200
tap_check "an unknown path answers 404" test "$(it_code "$base/nope")" = 404
tap_check "POST answers 405" test "$(it_code "$base/metrics" -X POST)" = 405

curl -s "$base/metrics" >"$TEST_TMPDIR/metrics.txt"
it_promtool_check "$TEST_TMPDIR/metrics.txt" "$TEST_TMPDIR/promtool.all" \
    "$TEST_TMPDIR/promtool.out"
rc=$?
tap_diag "$(head -5 "$TEST_TMPDIR/promtool.out")"
tap_check "promtool check metrics finds nothing to complain about" test $rc -le 3 -a ! -s "$TEST_TMPDIR/promtool.out"
tap_check "REST requests per cycle exported (13)" \
    grep -q '^lagwatch_rest_requests_last_cycle{flink_cluster="prod"} 13$' "$TEST_TMPDIR/metrics.txt"
tap_check "no REST errors counted" \
    test "$(grep '^lagwatch_rest_errors_total' "$TEST_TMPDIR/metrics.txt" | awk '{s+=$2} END {print s+0}')" = 0
# Writes are asynchronous: a snapshot counts what was written by the end
# of its cycle, so the first one may show 0.
tap_check "points written to influx-a are counted" \
    it_wait_metric 'lagwatch_points_written_total{node="influx-a"}' -gt 0 5
tap_check "both reporter endpoints are up" \
    test "$(grep -c '^lagwatch_scrape_up{.*} 1$' "$TEST_TMPDIR/metrics.txt")" = 2
tap_check "the ring fingerprint is exported" \
    grep -q "^lagwatch_ring_info{fingerprint=\"$("$LAGWATCH" ring -c "$cfg" | sed -n 's/^fingerprint: //p')\"" "$TEST_TMPDIR/metrics.txt"

api_owner() { # KEY -> first owner per /api/v1/ring
    curl -s -G "$base/api/v1/ring" --data-urlencode "key=$1" |
        python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["owners"][0], d["normalized"], d["fingerprint"])'
}
read -r o n f <<<"$(api_owner "orders-enrich")"
tap_check "/api/v1/ring names the owner 'lagwatch ring' names ($o)" test "$o" = "$(it_ring_owner "$cfg" orders-enrich)"
tap_check "/api/v1/ring normalizes the key ($n)" test "$n" = orders_enrich
tap_check "/api/v1/ring without key answers 400" \
    test "$(it_code "$base/api/v1/ring")" = 400

# SIGHUP with a bad config: rejected, the daemon keeps running.
cp "$cfg" "$TEST_TMPDIR/good.yml"
echo "agent: {intervall: 1s}" >"$cfg"
kill -HUP $lw
for i in $(seq 50); do grep -q "rejected" "$TEST_TMPDIR/lagwatch.log" && break; sleep 0.1; done
tap_check "a bad config on SIGHUP is rejected with a log line" grep -q "reload of '$cfg' rejected" "$TEST_TMPDIR/lagwatch.log"
tap_check "the error names the file, line and column" grep -q "$cfg:1:9: unknown key 'intervall'" "$TEST_TMPDIR/lagwatch.log"
sleep 1.5
tap_check "the daemon still runs and serves" test "$(it_code "$base/metrics")" = 200

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
    [ "$o" = "$(it_ring_owner "$cfg" "$k")" ] || mismatch=$((mismatch + 1))
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
    if [ "$n" != "$flat" ] || [ "$o" != "$(it_ring_owner "$cfg" "$flat")" ] ||
        [ "$(it_ring_owner "$cfg" "$k")" != "$o" ]; then
        tap_diag "key '$k': api $o ($n), ring --key $(it_ring_owner "$cfg" "$k"), owner of $flat $(it_ring_owner "$cfg" "$flat")"
        split=$((split + 1))
    fi
done
tap_check "a key with commas is one value under one shard_by tag" test $split -eq 0
tap_check "the new node is in /metrics after the reload" \
    grep -q '^lagwatch_points_written_total{node="influx-b"}' "$TEST_TMPDIR/metrics2.txt"

# SIGTERM: stop, write what is queued, exit 0.
it_lagwatch_stop TERM
tap_check "SIGTERM exits 0" test $lw_rc -eq 0
tap_check "the stop is logged" grep -q "stopping: writing what is queued" "$TEST_TMPDIR/lagwatch.log"
others=$(grep 'level=error' "$TEST_TMPDIR/lagwatch.log" | grep -v -e "unknown key 'intervall'" -e "rejected: keeping")
tap_check "no other error was logged" test -z "$others"
tap_diag "$others"
tap_done
