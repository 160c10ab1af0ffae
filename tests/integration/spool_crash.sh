#!/usr/bin/env bash
# spool_crash.sh: lagwatch SIGKILLed 5 times at random moments while it
# writes and spools (SPOOL_CRASH_SEED picks the delays; printed), restarted
# each time. Two influxd nodes; b is down during kills 2-3 and back for
# kills 4-5, so kills land in live writes, spool appends and replays.
# After a last run that replays everything and stops with SIGTERM, every
# cycle logged as accepted is in its node's database, complete
# (spool_check.py).
set -u
. "$(cd "$(dirname "$0")" && pwd)/spool_lib.sh"

seed=${SPOOL_CRASH_SEED:-$$}
RANDOM=$seed
tap_diag "seed $seed"
sl_init
it_influxd a b || sl_bail "start influxd a b"
sl_config "$(it_influx_nodes a b)"

logs=()
for k in 1 2 3 4 5; do
    log=$TEST_TMPDIR/lw$k.log
    logs+=("$log")
    [ "$k" = 2 ] && influxd_stop b
    [ "$k" = 4 ] && { influxd_restart b || sl_bail "restart b"; }
    sl_start "$log" || sl_bail "lagwatch start $k"
    ms=$((200 + RANDOM % 2300))
    sleep "$((ms / 1000)).$(printf '%03d' $((ms % 1000)))"
    sl_kill KILL 2>/dev/null
    tap_check "kill $k after ${ms} ms (exit status $lw_rc)" test "$lw_rc" = 137
done
tap_check "b's spool was used" bash -c "grep -q 'batch accepted node=influx-b .*via=spool' ${logs[*]}"

log=$TEST_TMPDIR/lw6.log
logs+=("$log")
sl_start "$log" || sl_bail "lagwatch start 6"
sl_wait_metric lagwatch_spool_points influx-b -eq 0 30
tap_check "b's spool is replayed" test "$(sl_metric lagwatch_spool_points influx-b)" = 0
sleep 1
sl_kill TERM
tap_check "SIGTERM exits 0 ($lw_rc)" test "$lw_rc" = 0
for n in a b; do
    url_var=INFLUX_URL_$n
    sl_check "influx-$n" "${!url_var}" -- "${logs[@]}"
    tap_check "node $n holds every accepted cycle complete: $sl_summary" test $? = 0
done
tap_done
