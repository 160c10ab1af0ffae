#!/usr/bin/env bash
# spool_full.sh: the spool's disk fills (lagwatch(8), FAULTS). The spool
# directory is a 96 KiB tmpfs made by this test (root only; else a skip)
# and unmounted by its cleanup. Two real influxd nodes, the fake Flink
# cluster (--static), interval 1s:
# - node b is stopped: its points go to the spool until the disk is full;
#   then each cycle's points for b are dropped and counted
#   (lagwatch_spool_dropped_points_total, lagwatch_points_dropped_total),
#   the log names the reason (No space left on device), and lagwatch
#   keeps running: node a receives every cycle, /metrics answers;
# - room returns (the tmpfs grows to 16 MiB): b's points are spooled
#   again, no more drops;
# - b is back: the spool is replayed (lagwatch_spool_points goes to 0) and
#   b's writes resume.
set -u
. "$(cd "$(dirname "$0")" && pwd)/spool_lib.sh"
[ "$(id -u)" = 0 ] && command -v mount >/dev/null || {
    echo "1..0 # SKIP needs root to mount a small tmpfs"
    exit 0
}
sl_init
spool=$TEST_TMPDIR/spool
mkdir -p "$spool"
mount -t tmpfs -o size=96k tmpfs "$spool" || {
    echo "1..0 # SKIP cannot mount a tmpfs"
    exit 0
}
sf_cleanup() {
    # lagwatch first (it holds spool files open), then the mount, then the
    # rest: it_cleanup removes the directory.
    [ -n "${lw:-}" ] && kill -KILL "$lw" 2>/dev/null && wait "$lw" 2>/dev/null
    lw=
    umount "$spool" 2>/dev/null || umount -l "$spool" 2>/dev/null
    it_cleanup
}
trap sf_cleanup EXIT
it_influxd a b || sl_bail "start influxd a b"
sl_config "$(it_influx_nodes a b)" "  spool_max_bytes: 64MiB"
L=$TEST_TMPDIR/lw.log
sl_start "$L" || sl_bail "lagwatch ready"
sl_wait_metric lagwatch_points_written_total influx-b -gt 0 10
influxd_stop b
tap_ok "node b stopped"
tap_check "b's points are dropped once the spool's disk is full" \
    sl_wait_metric lagwatch_spool_dropped_points_total influx-b -gt 0 30
tap_check "the log names the reason" grep -q "No space left on device" "$L"
tap_check "... and what was dropped" \
    grep -q "dropping [0-9]* points for .*influx-b.*neither written nor spooled" "$L"
tap_check "lagwatch_points_dropped_total counts them" \
    sl_wait_metric lagwatch_points_dropped_total influx-b -gt 0 5
a0=$(sl_metric lagwatch_points_written_total influx-a)
sleep 3
a1=$(sl_metric lagwatch_points_written_total influx-a)
tap_check "lagwatch keeps running and node a keeps receiving ($a0 -> $a1)" \
    test "$a1" -gt "$a0"
tap_check "the daemon is alive" kill -0 "$lw"

mount -o remount,size=16m "$spool" || sl_bail "grow the tmpfs"
tap_ok "room is back (16 MiB)"
sleep 2 # a cycle that may still have been dropping
d0=$(sl_metric lagwatch_spool_dropped_points_total influx-b)
p0=$(sl_metric lagwatch_spool_points influx-b)
sleep 4
d1=$(sl_metric lagwatch_spool_dropped_points_total influx-b)
p1=$(sl_metric lagwatch_spool_points influx-b)
tap_check "b's points are spooled again ($p0 -> $p1 waiting)" test "$p1" -gt "$p0"
tap_check "... and no more are dropped ($d0 -> $d1)" test "$d1" = "$d0"

influxd_restart b || sl_bail "restart influxd b"
w0=$(sl_metric lagwatch_points_written_total influx-b)
tap_check "b's spool is replayed (lagwatch_spool_points 0)" \
    sl_wait_metric lagwatch_spool_points influx-b -eq 0 60
tap_check "b's writes resume" \
    sl_wait_metric lagwatch_points_written_total influx-b -gt "$w0" 20
sl_kill TERM
tap_check "SIGTERM exits (${lw_rc}: 1 says points were lost)" test "$lw_rc" -le 1
tap_done
