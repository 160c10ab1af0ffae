#!/usr/bin/env bash
# Prometheus remote write end to end: a real Prometheus (Debian's binary,
# --web.enable-remote-write-receiver, TSDB in a temp dir) receives what
# `lagwatch run --once` collects from the fake Flink cluster (recorded
# reporter exposition and JobManager REST, --static). Queried through its
# HTTP API, the folded reporter series and the REST-derived series carry
# exactly the labels and values the fixtures imply; the oracle below reads
# the fixture files itself (it does not ask lagwatch).
set -u
. "$(cd "$(dirname "$0")/../lib" && pwd)/itest.sh"
it_need prometheus influxd lagwatch
it_init rw

# Prometheus with nothing to scrape: everything it holds came through
# remote write.
it_prometheus "$TEST_TMPDIR/prom" - --web.enable-remote-write-receiver ||
    it_bail "prometheus ready"

it_influxd a || it_bail "start influxd"
it_fakeflink --static || it_bail "fake flink up"
tap_ok "prometheus on $pport, influxd and the fake Flink cluster up"

cfg=$TEST_TMPDIR/lagwatch.yml
cat > "$cfg" <<YAML
agent:
  name: rw-agent
  spool_dir: $TEST_TMPDIR/spool
$(it_yaml_flink --rest tm1 tm2)
sinks:
  influxdb:
    nodes:
$(it_influx_nodes a)
  remote_write:
    url: $PROM/api/v1/write
    batch_size: 500
YAML

it_once "$cfg" run
rc=$?
tap_diag "$(grep -i 'remote write' "$TEST_TMPDIR/run.out")"
[ $rc -eq 0 ] && tap_ok "lagwatch run --once exits 0" ||
    { tap_not_ok "lagwatch run --once exits 0 (got $rc)"; tap_diag "$(tail -5 "$TEST_TMPDIR/run.err")"; }
tap_check "nothing failed or dropped on the way to Prometheus" \
    grep -Eq "remote write .* sent +[1-9][0-9]* +failed 0 +dropped 0" "$TEST_TMPDIR/run.out"

q() { # PROMQL: prints the JSON answer of an instant query
    curl -s "$PROM/api/v1/query" --data-urlencode "query=$1"
}
q 'flink_taskmanager_job_task_operator_numRecordsIn_max{job_name="orders_enrich"}' >"$TEST_TMPDIR/max.json"
q 'flink_taskmanager_job_task_operator_numRecordsIn_sum{job_name="orders_enrich"}' >"$TEST_TMPDIR/sum.json"
q 'flink_taskmanager_job_task_operator_numRecordsIn_avg{job_name="orders_enrich"}' >"$TEST_TMPDIR/avg.json"
q '{__name__=~"lagwatch_task_.*",job_name="orders_enrich"}' >"$TEST_TMPDIR/timing.json"
q '{__name__=~"lagwatch_job_.*",job_name="orders_enrich"}' >"$TEST_TMPDIR/job.json"
q 'count({__name__=~"flink_.*"})' >"$TEST_TMPDIR/count.json"

tap_include python3 - "$FIX/prometheus" "$TEST_TMPDIR" <<'PY'
import json, math, re, sys
fix, tmp = sys.argv[1], sys.argv[2]
def ok(c, m): print(("ok - " if c else "not ok - ") + m)
def result(name):
    return json.load(open("%s/%s.json" % (tmp, name)))["data"]["result"]

# Oracle: numRecordsIn of orders_enrich per operator, folded over subtasks
# after dropping the labels trim drops by default.
line = re.compile(r'^(\w+)\{(.*)\}\s+(\S+)$')
lab = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)",?')
drop = {"task_attempt_id", "task_attempt_num", "tm_id", "host", "subtask_index"}
groups = {}
for f in ("taskmanager-1.prom", "taskmanager-2.prom"):
    for l in open("%s/%s" % (fix, f)):
        m = line.match(l.strip())
        if not m or m.group(1) != "flink_taskmanager_job_task_operator_numRecordsIn":
            continue
        labels = dict(lab.findall(m.group(2)))
        if labels.get("job_name") != "orders_enrich":
            continue
        key = tuple(sorted((k, v) for k, v in labels.items() if k not in drop))
        groups.setdefault(key, []).append(float(m.group(3)))
want = {"max": {k: max(v) for k, v in groups.items()},
        "sum": {k: sum(v) for k, v in groups.items()},
        "avg": {k: sum(v) / len(v) for k, v in groups.items()}}
ok(len(groups) == 5, "the fixtures hold 5 orders_enrich operators (%d)" % len(groups))

for agg in ("max", "sum", "avg"):
    got = {}
    extra = set()
    names = set()
    for r in result(agg):
        m = dict(r["metric"])
        names.add(m.pop("__name__"))
        # lagwatch adds the cluster name; everything else is Flink's
        extra.add(m.pop("flink_cluster", None))
        got[tuple(sorted(m.items()))] = float(r["value"][1])
    ok(names == {"flink_taskmanager_job_task_operator_numRecordsIn_" + agg},
       "%s series named as GET /metrics names them (%r)" % (agg, names))
    ok(extra == {"prod"} if got else False, "%s series carry flink_cluster=prod (%r)" % (agg, extra))
    ok(set(got) == set(want[agg]),
       "%s: label sets match the fixtures exactly (missing %r, unexpected %r)"
       % (agg, set(want[agg]) - set(got), set(got) - set(want[agg])))
    bad = {k: (want[agg][k], got.get(k)) for k in want[agg]
           if got.get(k) is None or not math.isclose(got[k], want[agg][k], rel_tol=1e-15)}
    ok(not bad, "%s: values match the fixtures %s" % (agg, "" if not bad else repr(bad)))

# The Window operator, spelled out: subtasks 110773842, 111623493,
# 378112054, 107445103.
win = [k for k in want["max"] if dict(k)["operator_name"].startswith("Window")]
ok(len(win) == 1 and want["max"][win[0]] == 378112054 and want["sum"][win[0]] == 707954492,
   "Window operator max 378112054, sum 707954492")

# REST-derived series: one per field, named as /metrics names them
# (lagwatch_task_*, lagwatch_job_* in base units), tags as labels.
t = {}
keys = set()
for r in result("timing"):
    m = r["metric"]
    t.setdefault(m["task_name"], {})[m["__name__"][len("lagwatch_task_"):]] = float(r["value"][1])
    keys.add(tuple(sorted(m)))
ok(keys == {("__name__", "flink_cluster", "job_name", "task_name")},
   "timing labels are exactly flink_cluster, job_name, task_name (%r)" % keys)
ok(len(t) == 4, "4 task timing series groups for orders_enrich (%d)" % len(t))
w = [k for k in t if k.startswith("Window_")]
ok(len(w) == 1, "the Window task is present")
if w:
    r = t[w[0]]
    ok(r.get("bottleneck") == 1, "Window is the bottleneck")
    ok(r.get("slowest_subtask") == 2, "its slowest subtask is 2")
    ok(r.get("busy_ratio_max") == 0.987, "busy_ratio_max 0.987 (%r)" % r.get("busy_ratio_max"))
    ok(math.isclose(r.get("record_time_seconds_max", 0), 987 / 6452.3 / 1000, rel_tol=1e-12),
       "record_time_seconds_max 152.9687 us (%r)" % r.get("record_time_seconds_max"))
mf = [k for k in t if k.startswith("Map:")]
ok(mf and t[mf[0]].get("backpressured_ratio_max") == 0.829, "Map->Filter backpressured 0.829")

j = {r["metric"]["__name__"][len("lagwatch_job_"):]: float(r["value"][1]) for r in result("job")}
wantj = {"running": 1, "restarts": 1, "uptime_seconds": 87036.979, "checkpoints_completed": 1387,
         "checkpoints_failed": 3, "last_checkpoint_completed_timestamp_seconds": 1718093321.818,
         "last_checkpoint_duration_seconds": 43.118, "last_checkpoint_size_bytes": 187311204}
bad = {k: (v, j.get(k)) for k, v in wantj.items()
       if j.get(k) is None or not math.isclose(j[k], v, rel_tol=1e-12)}
ok(not bad, "lagwatch_job_* of orders_enrich as recorded %s" % ("" if not bad else repr(bad)))

c = result("count")
ok(c and int(c[0]["value"][1]) > 100, "Prometheus holds the trimmed flink_* series (%s)"
   % (c[0]["value"][1] if c else None))
PY

# Self-metrics of the sink on a second cycle, through the daemon's own
# exposition: sent counts what Prometheus accepted, nothing else moved.
it_once "$cfg" run2
tap_check "a second cycle is accepted too (same series, later timestamps)" \
    grep -Eq "remote write .* sent +[1-9][0-9]* +failed 0 +dropped 0" "$TEST_TMPDIR/run2.out"
tap_check "the spool stayed empty" grep -Eq "remote write .* spooled 0 \(waiting 0\)" "$TEST_TMPDIR/run2.out"

# Prometheus goes away: the third cycle's samples wait in the spool (the
# run reports the failure), and the fourth run, with Prometheus back,
# replays them before its own, in timestamp order.
it_prometheus_stop
it_once "$cfg" run3
rc=$?
tap_diag "$(grep -i 'remote write' "$TEST_TMPDIR/run3.out")"
tap_check "with Prometheus down the run exits 1 (got $rc)" test $rc -eq 1
tap_check "nothing dropped, the cycle is spooled" \
    grep -Eq "remote write .* dropped 0 +spooled [1-9][0-9]* \(waiting [1-9][0-9]*\)" "$TEST_TMPDIR/run3.out"
it_prometheus_again
it_once "$cfg" run4
rc=$?
tap_diag "$(grep -i 'remote write' "$TEST_TMPDIR/run4.out")"
tap_check "with Prometheus back the run exits 0 (got $rc)" test $rc -eq 0
# (requests made while the replay runs queue behind it in the spool)
sent1=$(sed -n 's/.*remote write .* sent *\([0-9]*\) .*/\1/p' "$TEST_TMPDIR/run.out")
tap_check "the spool was replayed, then this cycle sent (2 x $sent1)" \
    grep -Eq "remote write .* sent +$((2 * ${sent1:-0})) +failed 0 +dropped 0 +spooled [0-9]+ \(waiting 0\)" "$TEST_TMPDIR/run4.out"
tap_check "the replay was logged" grep -q "resuming [1-9][0-9]* spooled samples" "$TEST_TMPDIR/run4.err"
n=$(q 'count_over_time(lagwatch_job_running{job_name="orders_enrich"}[1h])' |
    python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else 0)')
tap_check "four cycles of lagwatch_job_running for orders_enrich in Prometheus (got $n)" test "$n" = 4

tap_done
