#!/usr/bin/env bash
# soak.sh: a long run that does not grow (lagwatch(8), FAULTS). About
# SOAK_SECONDS (150) of cycles every 100 ms (1500 when the fake keeps up;
# on a loaded machine the Python fake Flink's answers take longer and the
# cycles follow each other as fast as they can) against:
# the fake Flink cluster with moving values (REST and three reporters),
# orders-enrich restarting under a new jid (restart-after, cycle 150) and
# clickstream-sessionize cancelled (stop-after, cycle 350); tm2 behind
# tests/slowproxy.py, whose cut fault makes it come and go every few
# seconds; the Kafka test broker with two groups whose offsets and lag
# move; two real influxd nodes, b stopped from 10% to 30% of the run and
# restarted. Every 2 s the test samples lagwatch's RSS, open fds, threads
# (librdkafka's included: a leaked handle or topic object shows there),
# spool bytes and cycle count. Flat means, from the first sample at or
# after cycle 500 to the last (b back and its spool replayed):
#   RSS grows at most 5%; fds and threads at most +2 (a connection being
#   re-opened at the moment of sampling); the spool is back to at most
#   its size then, plus one segment header.
# Under a sanitizer build (ASan holds freed memory in its quarantine and
# runs several times slower) the RSS bound and the cycle count are
# skipped, the measurement starts at cycle 200, the rest is checked.
# And every series of the vanished jid and of the cancelled job has left
# /metrics.
set -u
. "$(cd "$(dirname "$0")/../lib" && pwd)/itest.sh"
it_need influxd lagwatch kafka
it_init soak
DUR=${SOAK_SECONDS:-150}
san=
ldd "$LAGWATCH" 2>/dev/null | grep -q -e libasan -e libubsan && san=1
from=${san:+200}
from=${from:-500}
it_influxd a b || it_bail "start influxd a b"
# /jobs/overview is asked once per cycle: both before cycle 500, where the
# measurement starts.
it_fakeflink --scenario "restart-after=150,stop-after=350" ||
    it_bail "fake flink up"
it_bg proxy python3 "$srcdir/tests/slowproxy.py" --upstream "127.0.0.1:$fport" \
    --delay 0 --cut-file "$T/cut" --port-file "$T/proxy.port" >/dev/null
wait_for_file "$T/proxy.port" 10 || it_bail "tm2 proxy up"
tm2=http://127.0.0.1:$(sed -n 's/^port=//p' "$T/proxy.port")/tm2/metrics
it_broker --brokers 1 --topic t1:2 --topic t2:1 || it_bail "kafka broker up"
now=$(($(date +%s) * 1000))
it_kafka_two_groups "$now" >/dev/null 2>&1 || it_bail "kafka scenario"
it_listen
cat >"$T/lagwatch.yml" <<YAML
agent: {name: soak-agent, interval: 100ms, listen: "127.0.0.1:$lport",
        spool_dir: "$T/spool", scrape_timeout: 100ms}
$(it_yaml_flink --rest tm1 "$tm2" jm)
$(it_yaml_kafka)
sinks:
  influxdb:
    database: flink
    timeout: 1s
    nodes:
$(it_influx_nodes a b)
YAML
it_lagwatch "$T/lagwatch.yml" "$T/lagwatch.log"
tap_check "lagwatch is ready" it_ready 20

sample() { # one line: seconds cycles rss_kb fds threads spool_bytes
    local rss thr fds sp c
    rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$lw/status")
    thr=$(awk '/^Threads:/ { print $2 }' "/proc/$lw/status")
    fds=$(ls "/proc/$lw/fd" | wc -l)
    sp=$(du -sb "$T/spool" 2>/dev/null | awk '{ print $1 }')
    c=$(it_metric lagwatch_cycles_total)
    echo "$SECONDS ${c%.*} $rss $fds $thr ${sp:-0}"
}
start=$SECONDS
b_down=0
b_stopped=
k=0
while [ $((SECONDS - start)) -lt "$DUR" ]; do
    kill -0 "$lw" 2>/dev/null || break
    el=$((SECONDS - start))
    # tm2 comes and goes: 4 s away every 10 s
    if [ $((el % 10)) -lt 4 ]; then echo 0 >"$T/cut"; else rm -f "$T/cut"; fi
    # node b: down from 10% to 30% of the run
    if [ -z "$b_stopped" ] && [ "$el" -ge $((DUR / 10)) ]; then
        influxd_stop b
        b_stopped=1
        b_down=1
    elif [ "$b_down" = 1 ] && [ "$el" -ge $((DUR * 3 / 10)) ]; then
        influxd_restart b || tap_not_ok "influxd b restarted"
        b_down=0
    fi
    # the lag moves: new messages, and g1 commits them
    k=$((k + 1))
    it_produce t1 0 5 $(($(date +%s) * 1000 - 30000)) >/dev/null 2>&1
    it_scenario commit g1 t1 0 $((15 + 5 * k - 3)) >/dev/null 2>&1
    sample >>"$T/samples"
    sleep 2
done
rm -f "$T/cut"
tap_check "lagwatch survived the run" kill -0 "$lw"
# the end: b back, its spool replayed, tm2 whole
it_wait_metric 'lagwatch_spool_points{node="influx-b"}' -eq 0 60
sleep 3
sample >>"$T/samples"
curl -s "$base/metrics" >"$T/metrics.end"
awk '{ print "# " $0 }' "$T/samples" | sed -n '1,3p;$p'

read -r b_s b_c b_rss b_fds b_thr b_sp < <(awk -v f="$from" '$2 >= f' "$T/samples" | head -1)
read -r e_s e_c e_rss e_fds e_thr e_sp < <(tail -1 "$T/samples")
tap_diag "from cycle $b_c ($b_s s) to $e_c ($e_s s): RSS $b_rss -> $e_rss KiB, fds $b_fds -> $e_fds, threads $b_thr -> $e_thr, spool $b_sp -> $e_sp bytes"
tap_check "a sample after cycle $from and a last one" \
    test -n "${b_rss:-}" -a -n "${e_rss:-}" -a "${e_c:-0}" -gt "${b_c:-0}"
if [ -n "$san" ]; then
    tap_ok "at least 700 cycles ($e_c) # SKIP sanitizer build"
    tap_ok "RSS grows at most 5% ($b_rss -> $e_rss KiB) # SKIP sanitizer build: ASan's quarantine keeps freed memory"
else
    tap_check "at least 700 cycles ($e_c)" test "${e_c:-0}" -ge 700
    tap_check "RSS grows at most 5% after cycle 500 ($b_rss -> $e_rss KiB)" \
        test $((e_rss * 100)) -le $((b_rss * 105))
fi
tap_check "open fds flat ($b_fds -> $e_fds)" test "$e_fds" -le $((b_fds + 2))
tap_check "threads flat, librdkafka's included ($b_thr -> $e_thr)" \
    test "$e_thr" -le $((b_thr + 2))
tap_check "spool back to its size ($b_sp -> $e_sp bytes)" \
    test "$e_sp" -le $((b_sp + 4096))
old=$(grep -c '566bf9d7c55a45f8d1a6e55e9b9b1325' "$T/metrics.end")
new=$(grep -c '566bf9d7c55a45f8d1a6e55e9b9ba001' "$T/metrics.end")
tap_check "the restarted job's old jid left /metrics ($old series; new jid $new)" \
    test "$old" = 0 -a "$new" -gt 0
gone=$(grep -v '^#' "$T/metrics.end" | grep -c 'clickstream')
tap_check "the cancelled job's series left /metrics ($gone)" test "$gone" = 0
tap_check "Kafka lag still served" grep -q '^kafka_consumergroup_group_lag{' "$T/metrics.end"
it_lagwatch_stop TERM
tap_check "SIGTERM exits (${lw_rc})" test "$lw_rc" -le 1
tap_done
