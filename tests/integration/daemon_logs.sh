#!/usr/bin/env bash
# A persistent failure is logged when it starts and when it ends, not every
# cycle: a reporter endpoint and a JobManager REST URL whose server is down
# for 5+ cycles give exactly one error line each; when the fake Flink comes
# up on the same port, one "works again" line each; the failures in between
# are still counted in lagwatch_scrape_errors_total and
# lagwatch_rest_errors_total. When the server goes away again, the failure
# is logged again (once).
set -u
. "$(cd "$(dirname "$0")/../lib" && pwd)/itest.sh"
it_need lagwatch curl
it_init logs

fport=$(free_port) # the fake Flink starts here later
it_listen
dead=$(free_port)
rep=http://127.0.0.1:$fport/tm1/metrics
ov=http://127.0.0.1:$fport/jobs/overview
cat > "$T/lagwatch.yml" <<YAML
agent:
  name: logs
  interval: 500ms
  scrape_timeout: 400ms
  listen: 127.0.0.1:$lport
  shutdown_timeout: 1s
  spool_dir: $T/spool
$(it_yaml_flink --rest "$rep")
$(it_yaml_dead_influxdb 200ms "$dead")
YAML
log=$T/lagwatch.log
it_lagwatch "$T/lagwatch.yml" "$log"

# count_lines PATTERN: lines of the log that contain PATTERN.
count_lines() { grep -cF -- "$1" "$log"; }
# wait_cycles N: until N more "cycle done" lines are logged (at most 20 s).
wait_cycles() {
    local want=$(($(count_lines "cycle done") + $1)) i
    for i in $(seq 200); do
        [ "$(count_lines "cycle done")" -ge "$want" ] && return 0
        sleep 0.1
    done
    return 1
}
metric() { # NAME LABEL-FRAGMENT: the value of the first matching sample
    curl -s -m 5 "$base/metrics" |
        grep "^$1{" | grep -F -- "$2" | head -n 1 | awk '{print $2}'
}

tap_check "6 cycles with the fake Flink down" wait_cycles 6
tap_check "one error line for the dead reporter ($(count_lines "cannot scrape '$rep'"))" \
    test "$(count_lines "cannot scrape '$rep'")" -eq 1
tap_check "one warning for the dead REST URL ($(count_lines "cannot fetch '$ov'"))" \
    test "$(count_lines "cannot fetch '$ov'")" -eq 1
tap_check "the error line says why" \
    grep -q "level=error.*cannot scrape '$rep': ..*" "$log"
errs=$(metric lagwatch_scrape_errors_total "$rep")
tap_check "lagwatch_scrape_errors_total counts every failure (${errs:-none})" \
    test "${errs:-0}" -ge 5
rerrs=$(curl -s -m 5 "$base/metrics" |
    awk '/^lagwatch_rest_errors_total\{/ {s += $2} END {print s + 0}')
tap_check "lagwatch_rest_errors_total counts every failure ($rerrs)" \
    test "$rerrs" -ge 5

it_fakeflink --port "$fport" || tap_not_ok "fake flink up"
wait_cycles 4
tap_check "one recovery line for the reporter" \
    test "$(count_lines "reporter endpoint '$rep' works again after")" -eq 1
tap_check "one recovery line for the REST URL" \
    test "$(count_lines "flink rest url '$ov' works again after")" -eq 1
tap_check "still one error line for the reporter" \
    test "$(count_lines "cannot scrape '$rep'")" -eq 1

it_stop "$fake_pid"
wait_cycles 5
tap_check "down again: logged again, once ($(count_lines "cannot scrape '$rep'") in all)" \
    test "$(count_lines "cannot scrape '$rep'")" -eq 2
tap_check "down again: the REST URL logged again, once" \
    test "$(count_lines "cannot fetch '$ov'")" -eq 2

# --once still reports the failing target in its summary.
it_once "$T/lagwatch.yml" once
tap_check "run --once exits 1 with the reporter down" test $? -eq 1
tap_check "run --once names the failing reporter" \
    grep -qF "$rep" "$T/once.out" "$T/once.err"

it_lagwatch_stop TERM
if [ "$TAP_FAILED" -gt 0 ]; then
    tap_diag "lagwatch log:" "$(grep -v 'cycle done' "$log" | tail -n 40)"
fi
tap_done
