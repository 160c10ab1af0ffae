#!/usr/bin/env bash
# spool_failure.sh: an InfluxDB node down, then lagwatch killed with
# SIGKILL while that node's points wait in its disk spool. Three real
# influxd nodes, the fake Flink cluster, `lagwatch run` (interval 1s):
# - while node b is down, nodes a and c keep receiving points every cycle
#   and b's points are spooled (lagwatch_points_spooled_total);
# - after SIGKILL, a restart, and b back on the same data dir, the spool is
#   replayed (lagwatch_spool_points goes to 0, nothing dropped);
# - "accepted" = logged at debug level as "batch accepted" (written and
#   acknowledged by influxd, or spooled and fsynced): for every node the
#   points in InfluxDB (distinct series+timestamp) are at least the sum of
#   accepted points over both runs, i.e. no accepted point is missing.
set -u
here=$(cd "$(dirname "$0")" && pwd)
srcdir=${top_srcdir:-$(cd "$here/../.." && pwd)}
LAGWATCH=${LAGWATCH:-$srcdir/lagwatch}
FIX=${FLINK_FIXTURES:-$srcdir/tests/fixtures/flink}
. "$srcdir/tests/lib/tap.sh"
. "$srcdir/tests/lib/influxd.sh"

command -v influxd >/dev/null || tap_skip_all "influxd not installed"
[ -x "$LAGWATCH" ] || tap_skip_all "no lagwatch binary at $LAGWATCH"

TEST_TMPDIR=$(mktemp -d /tmp/lagwatch-spool.XXXXXX)
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

for n in a b c; do
    influxd_start "$n" >/dev/null || { tap_not_ok "start influxd $n"; tap_done; exit 1; }
done
python3 "$srcdir/tests/fakeflink.py" --fixtures "$FIX" --port 0 \
    --port-file "$TEST_TMPDIR/fake.port" >/dev/null 2>"$TEST_TMPDIR/fake.err" &
pids+=($!)
wait_for_file "$TEST_TMPDIR/fake.port" 10 || { tap_not_ok "fake flink up"; tap_done; exit 1; }
fport=$(sed -n 's/^port=//p' "$TEST_TMPDIR/fake.port")
lport=$(free_port)
cfg=$TEST_TMPDIR/lagwatch.yml
cat > "$cfg" <<YAML
agent:
  name: spool-agent
  interval: 1s
  listen: 127.0.0.1:$lport
  spool_dir: $TEST_TMPDIR/spool
  spool_fsync: true
flink:
  - name: prod
    rest_url: http://127.0.0.1:$fport
    reporters: [http://127.0.0.1:$fport/tm1/metrics, http://127.0.0.1:$fport/jm/metrics]
sinks:
  influxdb:
    database: flink
    max_retries: 2
    timeout: 2s
    nodes:
      - {name: influx-a, url: "$INFLUX_URL_a"}
      - {name: influx-b, url: "$INFLUX_URL_b"}
      - {name: influx-c, url: "$INFLUX_URL_c"}
YAML
base=http://127.0.0.1:$lport

start_lagwatch() { # LOGFILE
    "$LAGWATCH" run -c "$cfg" --log-level debug 2>"$1" &
    lw=$!
    for _ in $(seq 100); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' "$base/readyz")" = 200 ] && return 0
        sleep 0.1
    done
    return 1
}
metric() { # NAME NODE
    curl -s "$base/metrics" | awk -v n="$1{node=\"$2\"}" '$1 == n { print $2 }'
}
# Distinct points (series + timestamp) in node N's database.
points_in() { # URL
    python3 - "$1" <<'PY'
import json, sys, urllib.parse, urllib.request
url = sys.argv[1]
def q(s):
    data = urllib.parse.urlencode({"db": "flink", "q": s, "epoch": "ms"}).encode()
    with urllib.request.urlopen(url + "/query", data, timeout=30) as r:
        return json.load(r)
total = 0
ms = q("SHOW MEASUREMENTS")["results"][0].get("series", [])
for row in (ms[0]["values"] if ms else []):
    m = row[0].replace('"', '\\"')
    res = q('SELECT * FROM "%s" GROUP BY *' % m)["results"][0]
    for s in res.get("series", []):
        total += len(s["values"])
print(total)
PY
}
accepted() { # NODE LOGFILES...
    local node=$1
    shift
    cat "$@" | grep 'batch accepted' | grep -o "node=$node points=[0-9]*" |
        awk -F= '{ s += $3 } END { print s + 0 }'
}

start_lagwatch "$TEST_TMPDIR/lw1.log" || { tap_not_ok "lagwatch ready"; tap_done; exit 1; }
tap_ok "lagwatch runs against three nodes"
sleep 3
influxd_stop b
tap_ok "node b stopped"
sleep 3
a1=$(points_in "$INFLUX_URL_a"); c1=$(points_in "$INFLUX_URL_c")
sleep 3
a2=$(points_in "$INFLUX_URL_a"); c2=$(points_in "$INFLUX_URL_c")
tap_check "node a keeps receiving points while b is down ($a1 -> $a2)" test "$a2" -gt "$a1"
tap_check "node c keeps receiving points while b is down ($c1 -> $c2)" test "$c2" -gt "$c1"
sp=$(metric lagwatch_points_spooled_total influx-b)
tap_check "b's points are spooled ($sp)" test "${sp%.*}" -gt 0
tap_check "the spool directory of influx-b exists" test -d "$TEST_TMPDIR/spool/influx-b"

kill -KILL "$lw"; wait "$lw" 2>/dev/null; lw=
tap_ok "lagwatch killed with SIGKILL while b is down"
start_lagwatch "$TEST_TMPDIR/lw2.log" || { tap_not_ok "lagwatch restarted"; tap_done; exit 1; }
tap_check "the restart resumes b's spool" grep -q "resuming the spool of node 'influx-b'" "$TEST_TMPDIR/lw2.log"
sleep 2
influxd_restart b || { tap_not_ok "restart b"; tap_done; exit 1; }
left=
for _ in $(seq 60); do
    left=$(metric lagwatch_spool_points influx-b)
    [ "${left%.*}" = 0 ] && [ "$(metric lagwatch_points_replayed_total influx-b)" != 0 ] && break
    sleep 0.5
done
tap_check "b's spool is replayed after it is back (waiting: $left)" test "${left%.*}" = 0
sleep 2
kill -TERM "$lw"; wait "$lw"; rc=$?; lw=
tap_check "SIGTERM exits 0 ($rc)" test "$rc" = 0
tap_check "nothing dropped" bash -c "! grep -q 'level=error msg=\"dropping' '$TEST_TMPDIR/lw1.log' '$TEST_TMPDIR/lw2.log'"
for n in a b c; do
    url_var=INFLUX_URL_$n
    have=$(points_in "${!url_var}")
    want=$(accepted "influx-$n" "$TEST_TMPDIR/lw1.log" "$TEST_TMPDIR/lw2.log")
    tap_check "node $n holds every accepted point (accepted $want, present $have)" \
        test "$have" -ge "$want" -a "$want" -gt 0
done
tap_done
