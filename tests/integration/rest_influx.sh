#!/usr/bin/env bash
# Flink REST collector end to end: the fake JobManager (recorded responses,
# a restart of orders-enrich with a new jid after the first cycle) and three
# real influxd nodes. After `lagwatch run --once`, InfluxQL on the node that
# owns each job returns the lagwatch_task_timing and lagwatch_job points
# with the values the recorded cluster implies (tests/fixtures/flink/
# README.md), nothing of them lands elsewhere, and the restart continues
# the same series.
set -u
. "$(cd "$(dirname "$0")/../lib" && pwd)/itest.sh"
it_need influxd lagwatch
it_init rest

it_influxd a b c || it_bail "start influxd a b c"
it_fakeflink --static --scenario restart-between=1 --log "$TEST_TMPDIR/fake.log" \
    --tm-hosts 127.0.0.2,127.0.0.3 || it_bail "fake flink up"
tmport=$(sed -n 's/^tm_port=//p' "$TEST_TMPDIR/fake.port")
tap_ok "three influxd nodes and the fake JobManager up"

cfg=$TEST_TMPDIR/lagwatch.yml
cat > "$cfg" <<YAML
agent:
  spool_dir: $TEST_TMPDIR/spool
  name: rest-agent
$(it_yaml_flink --rest tm1 tm2)
$(it_yaml_influxdb flink a b c)
YAML

owner() { it_ring_owner "$cfg" "$1"; }
q() { # NODE QUERY: prints the JSON answer
    it_influxql "${NODE_URL[$1]}" flink "$2" --data-urlencode "epoch=ms"
}

it_once "$cfg" run1
rc=$?
tap_diag "$(cat "$TEST_TMPDIR/run1.out")"
[ $rc -eq 0 ] && tap_ok "cycle 1 exits 0" || { tap_not_ok "cycle 1 exits 0 (got $rc)"; tap_diag "$(tail -5 "$TEST_TMPDIR/run1.err")"; }
tap_check "cycle 1 made 13 REST requests without error" \
    grep -q "13 requests, 0 errors, 8 job and task timing points" "$TEST_TMPDIR/run1.out"

oa=$(owner orders-enrich)
ob=$(owner clickstream-sessionize)
tap_diag "orders_enrich lives on $oa, clickstream_sessionize on $ob"

# Task timing of orders_enrich on its owner, checked against the recorded
# scenario: Window subtask 2 is 987 ms/s busy at 6452.3 records/s while the
# Map->Filter task upstream is backpressured 829 ms/s: Window is the
# bottleneck, its record time 987/6452.3 s per 1000 records = 152.96870883 us.
q "$oa" "SELECT * FROM lagwatch_task_timing WHERE job_name = 'orders_enrich' GROUP BY task_name" \
    >"$TEST_TMPDIR/timing.json"
python3 - "$TEST_TMPDIR/timing.json" <<'PY' >"$TEST_TMPDIR/timing.check"
import json, sys, math
d = json.load(open(sys.argv[1]))["results"][0].get("series", [])
rows = {s["tags"]["task_name"]: dict(zip(s["columns"], s["values"][-1])) for s in d}
def ok(c, m): print(("ok - " if c else "not ok - ") + m)
w = [t for t in rows if t.startswith("Window_")]
ok(len(rows) == 4, "orders_enrich has 4 task timing series (got %d)" % len(rows))
ok(len(w) == 1, "the Window task is present")
if w:
    r = rows[w[0]]
    ok(r.get("bottleneck") == 1, "Window is the bottleneck")
    ok(r.get("slowest_subtask") == 2, "its slowest subtask is 2")
    ok(r.get("busy_ratio_max") == 0.987, "busy_ratio_max 0.987 (got %r)" % r.get("busy_ratio_max"))
    ok(math.isclose(r.get("record_time_us_max") or 0, 987 * 1000 / 6452.3, rel_tol=1e-12),
       "record_time_us_max 152.9687 (got %r)" % r.get("record_time_us_max"))
others = [t for t in rows if t not in w]
ok(all(rows[t].get("bottleneck") == 0 for t in others), "no other task is a bottleneck")
m = [t for t in rows if t.startswith("Map:")]
ok(m and rows[m[0]].get("backpressured_ratio_max") == 0.829, "Map->Filter backpressured 0.829")
PY
tap_include cat "$TEST_TMPDIR/timing.check"

q "$oa" "SELECT * FROM lagwatch_job WHERE job_name = 'orders_enrich'" >"$TEST_TMPDIR/job1.json"
tap_include python3 - "$TEST_TMPDIR/job1.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))["results"][0]["series"][0]
r = dict(zip(s["columns"], s["values"][-1]))
want = {"running": 1, "restarts": 1, "uptime_ms": 87036979, "completed_checkpoints": 1387,
        "failed_checkpoints": 3, "in_progress_checkpoints": 1,
        "last_checkpoint_completed_ms": 1718093321818, "last_checkpoint_duration_ms": 43118,
        "last_checkpoint_size_bytes": 187311204}
bad = {k: (v, r.get(k)) for k, v in want.items() if r.get(k) != v}
print(("ok - " if not bad else "not ok - ") + "lagwatch_job of orders_enrich as recorded" + ("" if not bad else " %r" % bad))
PY

# Nothing of either job's REST measurements on a node that does not own it.
stray=0
for n in influx-a influx-b influx-c; do
    for job in orders_enrich clickstream_sessionize; do
        own=$oa; [ $job = clickstream_sessionize ] && own=$ob
        [ "$n" = "$own" ] && continue
        c=$(it_influx_rows "${NODE_URL[$n]}" flink \
            "SHOW SERIES FROM lagwatch_job, lagwatch_task_timing WHERE job_name = '$job'")
        [ "$c" = 0 ] || stray=$((stray + c))
    done
done
tap_check "job and timing series only on their owning node" test "$stray" -eq 0

# Cycle 2: the fake restarts orders-enrich under a new jid; the series
# continue (tags are job_name, never the jid).
sleep 0.01
it_once "$cfg" run2
tap_check "cycle 2 (after the restart) exits 0" test $? -eq 0
tap_check "the fake served the new jid" grep -q "566bf9d7c55a45f8d1a6e55e9b9ba001" "$TEST_TMPDIR/fake.log"
q "$oa" "SELECT restarts, running FROM lagwatch_job WHERE job_name = 'orders_enrich' GROUP BY *" >"$TEST_TMPDIR/job2.json"
tap_include python3 - "$TEST_TMPDIR/job2.json" <<'PY'
import json, sys
ss = json.load(open(sys.argv[1]))["results"][0]["series"]
print(("ok - " if len(ss) == 1 else "not ok - ") + "one lagwatch_job series for orders_enrich after the restart (got %d)" % len(ss))
vals = [v[1] for v in ss[0]["values"]]
print(("ok - " if vals == [1, 2] else "not ok - ") + "restarts went 1 -> 2 in that series (got %r)" % vals)
PY
tcount=$(it_influx_rows "${NODE_URL[$oa]}" flink \
    "SHOW SERIES FROM lagwatch_task_timing WHERE job_name = 'orders_enrich'")
tap_check "still 4 task timing series for orders_enrich (got $tcount)" test "$tcount" = 4

# `lagwatch scrape` on the REST base URL prints the same points.
"$LAGWATCH" scrape "http://127.0.0.1:$fport" >"$TEST_TMPDIR/scrape.out" 2>"$TEST_TMPDIR/scrape.err"
tap_check "scrape of the REST base URL exits 0" test $? -eq 0
tap_check "it prints the 8 job and task timing points" test "$(grep -c '^lagwatch_' "$TEST_TMPDIR/scrape.out")" = 8
tap_check "the Window task is the bottleneck there too" \
    grep -q '^lagwatch_task_timing,job_name=orders_enrich,task_name=Window_.*bottleneck=1i' "$TEST_TMPDIR/scrape.out"
"$LAGWATCH" scrape "http://127.0.0.1:$fport" --format prom >"$TEST_TMPDIR/scrape.prom" 2>/dev/null
tap_check "--format prom gives the /metrics names" \
    grep -q '^lagwatch_task_busy_ratio_max{.*task_name="Window_.*} 0.987$' "$TEST_TMPDIR/scrape.prom"

# Discovery: no reporter listed; the TaskManagers come from /taskmanagers
# (the fake names them 127.0.0.2 and 127.0.0.3) and the configured port.
cfg3=$TEST_TMPDIR/discover.yml
cat > "$cfg3" <<YAML
agent:
  spool_dir: $TEST_TMPDIR/spool-discover
  name: rest-agent
flink:
  - name: prod
    rest_url: http://127.0.0.1:$fport
    discover_reporters: {port: $tmport}
$(it_yaml_influxdb discovered a b c)
YAML
it_once "$cfg3" run3
rc=$?
tap_diag "$(cat "$TEST_TMPDIR/run3.out")"
tap_check "discovery cycle exits 0" test $rc -eq 0
tap_check "two reporter endpoints discovered" \
    grep -q "reporter endpoints discovered through REST: 2" "$TEST_TMPDIR/run3.out"
tap_check "the discovered TaskManager 1 reporter was scraped" \
    grep -q "http://127.0.0.2:$tmport/metrics *ok" "$TEST_TMPDIR/run3.out"
tap_check "the discovered TaskManager 2 reporter was scraped" \
    grep -q "http://127.0.0.3:$tmport/metrics *ok" "$TEST_TMPDIR/run3.out"
dcount=$(it_influx_rows "${NODE_URL[$oa]}" discovered \
    "SHOW SERIES FROM taskmanager_job_task_operator_numRecordsIn WHERE job_name = 'orders_enrich'")
tap_check "reporter series of orders_enrich on its owner ($dcount)" test "${dcount:-0}" -gt 0

tap_done
