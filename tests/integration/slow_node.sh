#!/usr/bin/env bash
# slow_node.sh: a slow InfluxDB node delays only its own shard. Three real
# influxd nodes; c sits behind tests/slowproxy.py, which answers every
# request 2.5 s late (the write timeout is 10 s, so c's writes succeed,
# late). For ~6 cycles of 1 s, from lagwatch's "batch accepted ...
# via=write age_ms=..." log lines (age: batch formed -> acknowledged):
# - a and b acknowledge a batch for every cycle, each within one interval
#   (age < 1000 ms), and hold every cycle complete (spool_check.py);
# - c's batches are acknowledged, each at least 2.5 s after it was formed.
set -u
. "$(cd "$(dirname "$0")" && pwd)/spool_lib.sh"

sl_init
it_influxd a b c || sl_bail "start influxd a b c"
it_bg proxy python3 "$srcdir/tests/slowproxy.py" --upstream "${INFLUX_URL_c#http://}" \
    --delay 2.5 --port-file "$TEST_TMPDIR/proxy.port" >/dev/null
wait_for_file "$TEST_TMPDIR/proxy.port" 10 || sl_bail "slow proxy up"
slow_url=http://127.0.0.1:$(sed -n 's/^port=//p' "$TEST_TMPDIR/proxy.port")
SL_TIMEOUT=10s
sl_config "$(it_influx_nodes a b)
      - {name: influx-c, url: \"$slow_url\"}" "  shutdown_timeout: 1s"
L=$TEST_TMPDIR/lw.log
sl_start "$L" || sl_bail "lagwatch ready"
sleep 6.5
cp "$L" "$TEST_TMPDIR/running.log"
sl_kill TERM
ages() { # NODE: age_ms of every directly written batch, one per line
    grep "batch accepted node=$1 .*via=write" "$L" |
        sed -n 's/.* age_ms=\([0-9]*\).*/\1/p'
}
cycles=$(grep -c 'msg="cycle done' "$L")
tap_diag "cycles: $cycles"
for n in a b; do
    got=$(ages "influx-$n" | wc -l)
    max=$(ages "influx-$n" | sort -n | tail -1)
    tap_check "healthy node $n: a batch per cycle ($got of $cycles)" \
        test "$got" = "$cycles" -a "$cycles" -ge 4
    tap_check "healthy node $n: every batch acknowledged within 1 s (max ${max:-none} ms)" \
        test -n "$max" -a "${max:-99999}" -lt 1000
    url_var=INFLUX_URL_$n
    sl_check "influx-$n" "${!url_var}" -- "$L"
    tap_check "healthy node $n holds every cycle complete: $sl_summary" test $? = 0
done
c_running=$(grep -c 'batch accepted node=influx-c .*via=write' "$TEST_TMPDIR/running.log")
c_cycles=$(grep -c 'msg="cycle done' "$TEST_TMPDIR/running.log")
got=$(ages influx-c | wc -l)
min=$(ages influx-c | sort -n | head -1)
max=$(ages influx-c | sort -n | tail -1)
tap_check "slow node c: batches acknowledged ($got)" test "$got" -ge 1
tap_check "slow node c: each at least 2.5 s late (${min:-none}..${max:-none} ms)" \
    test -n "$min" -a "${min:-0}" -ge 2500
tap_check "slow node c lags behind while running ($c_running of $c_cycles cycles acknowledged)" \
    test "$c_running" -lt "$((c_cycles - 1))"
tap_done
