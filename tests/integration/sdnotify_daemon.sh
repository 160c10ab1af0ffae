#!/usr/bin/env bash
# `lagwatch run` under a fake systemd: a datagram socket bound here is
# NOTIFY_SOCKET (a path, then an abstract name). The daemon must send
# READY=1 with a STATUS= after its first cycle (when /readyz is 200),
# WATCHDOG=1 about every half of WATCHDOG_USEC, RELOADING=1 then READY=1
# around a SIGHUP reload, and STOPPING=1 on SIGTERM.
set -u
. "$(cd "$(dirname "$0")/../lib" && pwd)/itest.sh"
it_need lagwatch
it_init sdnotify

it_fakeflink || it_bail "fake flink up"
it_listen
dead=$(free_port)
cat > "$T/lagwatch.yml" <<YAML
agent:
  name: notify
  interval: 1s
  listen: 127.0.0.1:$lport
  spool_dir: $T/spool
  shutdown_timeout: 1s
$(it_yaml_flink tm1)
$(it_yaml_dead_influxdb 200ms "$dead")
YAML

# The listener: one line per datagram, "<monotonic seconds> <message with
# newlines as |>", until it is killed (bounded: 60 s).
cat > "$T/listen.py" <<'PY'
import socket, sys, time
name, out = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("\0" + name[1:] if name.startswith("@") else name)
s.settimeout(0.5)
with open(out + ".up", "w") as f:
    f.write("up\n")
end = time.monotonic() + 60
with open(out, "a", buffering=1) as f:
    while time.monotonic() < end:
        try:
            d = s.recv(65536)
        except socket.timeout:
            continue
        f.write("%.3f %s\n" % (time.monotonic(), d.decode().replace("\n", "|")))
PY

# run_case NAME NOTIFY_SOCKET
run_case() {
    local name=$1 sock=$2 msgs=$T/$1.msgs
    local listener
    it_bg listener python3 "$T/listen.py" "$sock" "$msgs"
    wait_for_file "$msgs.up" 5
    NOTIFY_SOCKET=$sock WATCHDOG_USEC=600000 \
        it_lagwatch "$T/lagwatch.yml" "$T/$name.log"
    local i
    for i in $(seq 100); do
        grep -q "READY=1" "$msgs" 2>/dev/null && break
        sleep 0.1
    done
    tap_check "$name: READY=1 after the first cycle" grep -q "READY=1" "$msgs"
    tap_check "$name: /readyz is 200 once READY=1 was sent" \
        test "$(it_code "$base/readyz")" = 200
    tap_check "$name: READY=1 comes with a STATUS= of the cycle" \
        grep -q "READY=1|STATUS=cycle .*targets" "$msgs"
    sleep 2
    kill -HUP "$lw"
    for i in $(seq 50); do
        [ "$(grep -c 'READY=1' "$msgs")" -ge 2 ] && break
        sleep 0.1
    done
    tap_check "$name: RELOADING=1 with MONOTONIC_USEC on SIGHUP" \
        grep -q "RELOADING=1|MONOTONIC_USEC=[0-9]" "$msgs"
    tap_check "$name: READY=1 again after the reload" \
        awk '/RELOADING=1/ {r = 1} r && /READY=1/ {ok = 1} END {exit !ok}' "$msgs"
    it_lagwatch_stop TERM
    sleep 0.6
    tap_check "$name: STOPPING=1 on SIGTERM" grep -q "STOPPING=1" "$msgs"
    it_stop "$listener"
    # Watchdog pings: WATCHDOG_USEC=600000 means one every ~0.3 s over the
    # ~3 s run; the gaps must stay under the full 0.6 s period.
    local n gap
    n=$(grep -c " WATCHDOG=1$" "$msgs")
    gap=$(awk '/ WATCHDOG=1$/ {if (p) {g = $1 - p; if (g > m) m = g} p = $1} END {printf "%.3f", m}' "$msgs")
    tap_check "$name: WATCHDOG=1 pings ($n, largest gap ${gap}s)" \
        awk -v n="$n" -v g="$gap" 'BEGIN {exit !(n >= 6 && g < 0.6)}'
    if [ "$TAP_FAILED" -gt 0 ]; then
        tap_diag "messages:" "$(cut -c1-160 "$msgs")"
    fi
}
run_case path "$T/notify.sock"
run_case abstract "@lagwatch-test-$$-$RANDOM"

# Without NOTIFY_SOCKET nothing is attempted and nothing is logged about it.
it_once "$T/lagwatch.yml" once
tap_check "no NOTIFY_SOCKET: no notification warnings" \
    sh -c '! grep -qi notify "$1"' _ "$T/once.err"
tap_done
