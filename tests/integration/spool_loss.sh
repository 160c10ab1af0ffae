#!/usr/bin/env bash
# spool_loss.sh: the only ways the spool loses points are counted exactly.
# One influxd node b, fake Flink (--static, one ~130 KB batch per cycle).
# 1. Cap: agent.spool_max_bytes holds ~3 batches; b down for ~7 cycles,
#    then back: lagwatch_points_dropped_total{node="influx-b"} equals the
#    points of the cycles missing from b after the replay.
# 2. Torn tail and corruption: b down, lagwatch stopped with batches in
#    the spool; by hand the last segment loses its last 50 bytes and one
#    byte of the first segment's record is flipped. The restart logs both
#    (torn record, bad CRC), replays the rest, and its dropped counter
#    equals the points of the cycles lost there.
# spool_check.py compares every accepted cycle with what b stores.
set -u
. "$(cd "$(dirname "$0")" && pwd)/spool_lib.sh"

sl_init
it_influxd b || sl_bail "start influxd b"
sl_config "$(it_influx_nodes b)" \
    "  spool_max_bytes: 400000"
L1=$TEST_TMPDIR/lw1.log
L2=$TEST_TMPDIR/lw2.log
L3=$TEST_TMPDIR/lw3.log
dropped() { sl_metric lagwatch_points_dropped_total influx-b; }

# 1. cap
sl_start "$L1" || sl_bail "lagwatch ready"
sl_wait_metric lagwatch_points_written_total influx-b -gt 0 10
sleep 1
influxd_stop b
sl_wait_metric lagwatch_spool_dropped_points_total influx-b -gt 0 20
sleep 2
sb=$(sl_metric lagwatch_spool_bytes influx-b)
influxd_restart b || sl_bail "restart b"
sl_wait_metric lagwatch_spool_points influx-b -eq 0 30
tap_check "the cap dropped the oldest batches" grep -q "reached its cap of 400000 bytes" "$L1"
d1=$(dropped)
tap_check "the spool stays under the cap ($sb bytes)" \
    test "$sb" -gt 0 -a "$sb" -le 400000
sl_kill TERM
tap_check "SIGTERM exits 1: points were lost ($lw_rc)" test "$lw_rc" = 1
sl_check influx-b "$INFLUX_URL_b" --allow-missing -- "$L1"
rc=$?
miss=$(printf '%s\n' "$sl_summary" | sed -n 's/.*missing_points=\([0-9]*\).*/\1/p')
tap_check "complete cycles are intact after the cap" test "$rc" = 0
tap_check "dropped_total $d1 = points missing after recovery $miss (> 0)" \
    test "$d1" = "$miss" -a "$d1" -gt 0

# 2. torn tail and a corrupt record
influxd_stop b
sl_start "$L2" || sl_bail "lagwatch start 2"
sl_wait_metric lagwatch_spool_points influx-b -ge 940 15
d2=$(dropped)
sl_kill TERM
tap_check "SIGTERM with b down exits 0 ($lw_rc)" test "$lw_rc" = 0
segs=("$TEST_TMPDIR"/spool/influx-b/*.seg)
tap_check "at least two spool segments (${#segs[@]})" test "${#segs[@]}" -ge 2
first=${segs[0]}
last=${segs[${#segs[@]} - 1]}
python3 - "$first" "$last" <<'PY'
import os, sys
first, last = sys.argv[1], sys.argv[2]
with open(first, "r+b") as f:        # one payload byte of the first record
    f.seek(32 + 100)
    b = f.read(1)
    f.seek(32 + 100)
    f.write(bytes([b[0] ^ 0x55]))
os.truncate(last, os.path.getsize(last) - 50)   # a torn last record
PY
influxd_restart b || sl_bail "restart b again"
sl_start "$L3" || sl_bail "lagwatch start 3"
sl_wait_metric lagwatch_spool_points influx-b -eq 0 30
tap_check "the torn record is logged" grep -q "torn record at offset" "$L3"
tap_check "the corrupt record is logged" grep -q "bad CRC at offset" "$L3"
d3=$(dropped)
sl_kill TERM
tap_check "SIGTERM exits 1: points were lost ($lw_rc)" test "$lw_rc" = 1
sl_check influx-b "$INFLUX_URL_b" --allow-missing -- "$L1" "$L2" "$L3"
rc=$?
miss=$(printf '%s\n' "$sl_summary" | sed -n 's/.*missing_points=\([0-9]*\).*/\1/p')
tap_check "the rest of the spool is intact" test "$rc" = 0
tap_check "dropped $d1 + $d2 + $d3 = points missing after recovery $miss" \
    test "$((d1 + d2 + d3))" = "$miss" -a "$d3" -gt 0
tap_done
