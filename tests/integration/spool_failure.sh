#!/usr/bin/env bash
# spool_failure.sh: an InfluxDB node down, then lagwatch killed with
# SIGKILL while that node's points wait in its disk spool. Three real
# influxd nodes, the fake Flink cluster (--static), `lagwatch run`
# (interval 1s):
# - while node b is down, nodes a and c keep receiving points every cycle
#   and b's points are spooled (lagwatch_points_spooled_total);
# - after SIGKILL, a restart, and b back on the same data dir, the spool is
#   replayed (lagwatch_spool_points goes to 0, nothing dropped);
# - every cycle lagwatch logged as accepted for a node (written, or spooled
#   and fsynced) is in that node's database, complete: same rows and field
#   values as a cycle influxd acknowledged directly (spool_check.py);
# - the check can fail: after deleting one accepted cycle's measurement on
#   b, it reports that cycle.
set -u
. "$(cd "$(dirname "$0")" && pwd)/spool_lib.sh"

sl_init
it_influxd a b c || sl_bail "start influxd a b c"
sl_config "$(it_influx_nodes a b c)"
L1=$TEST_TMPDIR/lw1.log
L2=$TEST_TMPDIR/lw2.log

sl_start "$L1" || sl_bail "lagwatch ready"
tap_ok "lagwatch runs against three nodes"
sleep 3
influxd_stop b
tap_ok "node b stopped"
sleep 3
a1=$(sl_metric lagwatch_points_written_total influx-a)
c1=$(sl_metric lagwatch_points_written_total influx-c)
sleep 3
a2=$(sl_metric lagwatch_points_written_total influx-a)
c2=$(sl_metric lagwatch_points_written_total influx-c)
tap_check "node a keeps receiving points while b is down ($a1 -> $a2)" test "$a2" -gt "$a1"
tap_check "node c keeps receiving points while b is down ($c1 -> $c2)" test "$c2" -gt "$c1"
sp=$(sl_metric lagwatch_points_spooled_total influx-b)
tap_check "b's points are spooled ($sp)" test "$sp" -gt 0
tap_check "the spool directory of influx-b exists" test -d "$TEST_TMPDIR/spool/influx-b"

sl_kill KILL
tap_ok "lagwatch killed with SIGKILL while b is down"
sl_start "$L2" || sl_bail "lagwatch restarted"
tap_check "the restart resumes b's spool" grep -q "resuming the spool of node 'influx-b'" "$L2"
sleep 2
influxd_restart b || sl_bail "restart b"
sl_wait_metric lagwatch_points_replayed_total influx-b -gt 0 30 &&
    sl_wait_metric lagwatch_spool_points influx-b -eq 0 30
tap_check "b's spool is replayed after it is back (waiting: $(sl_metric lagwatch_spool_points influx-b))" \
    test "$(sl_metric lagwatch_spool_points influx-b)" = 0
sleep 2
sl_kill TERM
tap_check "SIGTERM exits 0 ($lw_rc)" test "$lw_rc" = 0
tap_check "nothing dropped" bash -c "! grep -q 'level=error msg=\"dropping' '$L1' '$L2'"
for n in a b c; do
    url_var=INFLUX_URL_$n
    sl_check "influx-$n" "${!url_var}" -- "$L1" "$L2"
    tap_check "node $n holds every accepted cycle complete: $sl_summary" test $? = 0
done

# The check must be able to fail: remove one spooled cycle's measurement.
ts=$(grep 'batch accepted node=influx-b .*via=spool' "$L1" | tail -1 |
    sed -n 's/.* ts_min=\([0-9]*\) .*/\1/p')
curl -s -o /dev/null "$INFLUX_URL_b/query" --data-urlencode "db=flink" \
    --data-urlencode "q=DELETE FROM /.*/ WHERE time = ${ts}ms"
sl_check influx-b "$INFLUX_URL_b" -- "$L1" "$L2"
tap_check "the check reports a cycle deleted by hand ($ts)" test $? = 1
tap_done
