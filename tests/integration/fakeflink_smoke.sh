#!/usr/bin/env bash
# fakeflink_smoke: tests/fakeflink.py answers the routes the collectors use,
# with valid JSON, moving values, the /v1 prefix, 404s, gzip, the per-subtask
# vertex metrics of every vertex, and the restart and stop scenarios. Prints
# TAP and exits non-zero on any failure. Needs python3 and curl.
set -u
. "$(cd "$(dirname "$0")/../lib" && pwd)/itest.sh"
FLINK_FIXTURES=$FIX
JOB_A=566bf9d7c55a45f8d1a6e55e9b9b1325
JOB_A_NEW=566bf9d7c55a45f8d1a6e55e9b9ba001
JOB_B=1ff135342e825ce1158d003d9a0b2361
WINDOW=9823beb1e6ba3ad74de45321ad915a36
B_SRC=d330a5494d14cf1a4cc346363c234038
JOBQ=get=uptime,downtime,runningTime,restartingTime,numRestarts,fullRestarts
JOBQ=$JOBQ,lastCheckpointDuration,lastCheckpointSize,lastCheckpointFullSize
JOBQ=$JOBQ,lastCompletedCheckpointId,lastCheckpointExternalPath
JOBQ=$JOBQ,lastCheckpointRestoreTimestamp,numberOfCompletedCheckpoints
JOBQ=$JOBQ,numberOfFailedCheckpoints,numberOfInProgressCheckpoints
JOBQ=$JOBQ,totalNumberOfCheckpoints

it_need curl
it_init fakeflink-smoke
tmp=$T

ok() { tap_ok "$@"; }
not_ok() { tap_not_ok "$@"; }
check() { # check "description" command...: on failure its output as diagnostics
    d=$1
    shift
    if "$@" >"$tmp/check.out" 2>&1; then
        ok "$d"
    else
        not_ok "$d"
        sed 's/^/# /' "$tmp/check.out"
    fi
}

# start_fake NAME ARGS...: starts a fake, sets $port (main listener).
start_fake() {
    name=$1
    shift
    it_fakeflink --name "$name" --log "$tmp/$name.log" "$@" || return 1
    port=$fport
}

get() { curl -sS --max-time 10 "http://127.0.0.1:$port$1"; }
code() { curl -s -o /dev/null -w '%{http_code}' --max-time 10 \
    "http://127.0.0.1:$port$1"; }
json_ok() { get "$1" | python3 -m json.tool >/dev/null; }
# metric_value PATH ID: the "value" of id in a REST metric list
metric_value() {
    get "$1" | python3 -c 'import json, sys
doc = json.load(sys.stdin)
print([e["value"] for e in doc if e["id"] == sys.argv[1]][0])' "$2"
}
# vm [PREFIX]JID VID ID: the value of ID from the per-subtask vertex route
vm() { metric_value "/jobs/$1/vertices/$2/metrics?get=$3" "$3"; }
prom_value() { # prom_value PATH LINE-PREFIX
    get "$1" | grep -F "$2" | head -n 1 | awk '{print $NF}'
}
is_200() { [ "$(code "$1")" = 200 ]; }
is_404() { [ "$(code "$1")" = 404 ]; }
same() { [ "$1" = "$2" ] || { echo "want '$1', got '$2'"; return 1; }; }
differ() { [ "$1" != "$2" ] || { echo "both '$1'"; return 1; }; }

echo "1..35"
if ! start_fake main --reporter-ports; then
    not_ok "fake starts"
    cat "$tmp/main.err"
    exit 1
fi
ok "fake starts on 127.0.0.1:$port"

check "/overview is valid JSON" json_ok /overview
check "/v1 prefix serves the same routes" json_ok /v1/jobs/overview
check "job detail is valid JSON" json_ok "/jobs/$JOB_A"
check "job metrics query is valid JSON" json_ok "/jobs/$JOB_A/metrics?$JOBQ"
check "/taskmanagers is valid JSON" json_ok /taskmanagers
check "unknown route is a 404" is_404 /jobs/nope/no-such-thing
check "404 body names the path" same \
    '{"errors":["Not found: /no/such/path"]}' "$(get /no/such/path)"
check "reporter endpoint serves exposition" sh -c \
    "curl -sS http://127.0.0.1:$port/tm1/metrics | grep -q '^# TYPE flink_'"
check "reporter gzip when asked" sh -c \
    "curl -sS -D - -o /dev/null -H 'Accept-Encoding: gzip' \
     http://127.0.0.1:$port/jm/metrics | grep -qi '^content-encoding: gzip'"
tm1=$(sed -n 's/^tm1=//p' "$tmp/main.port")
check "per-TM reporter port serves /metrics" sh -c \
    "curl -sS http://127.0.0.1:$tm1/metrics | grep -q 'tm_id=\"10_42_1_17'"

a=$(metric_value "/jobs/$JOB_A/metrics?$JOBQ" totalNumberOfCheckpoints)
b=$(metric_value "/jobs/$JOB_A/metrics?$JOBQ" totalNumberOfCheckpoints)
check "REST counter grows by 1 per request ($a -> $b)" \
    same "$((a + 1))" "$b"
line='flink_taskmanager_job_task_numRecordsOut{job_id="'$JOB_A'"'
line=$line',task_id="5e6a0a2edd70e34dc1d77cffb7decc0c"'
a=$(prom_value /tm1/metrics "$line")
b=$(prom_value /tm1/metrics "$line")
check "reporter counter moves ($a -> $b)" differ "$a" "$b"
check "request log has one line per request" \
    sh -c "[ \$(grep -c '^GET /tm1/metrics 200 ' '$tmp/main.log') -ge 3 ]"

# every vertex of job A and job B answers the per-subtask route with each
# requested id that exists (as lagwatch asks: <k>.<metric>, k < parallelism)
vertex_route_ok() {
    python3 - "$FLINK_FIXTURES" "http://127.0.0.1:$port" <<'PY'
import json, sys, urllib.request
fx, base = sys.argv[1], sys.argv[2]
sc = json.load(open(fx + "/scenario.json"))
names = ["busyTimeMsPerSecond", "backPressuredTimeMsPerSecond",
         "idleTimeMsPerSecond", "numRecordsInPerSecond"]
bad = 0
for jname, job in sc["jobs"].items():
    for vx in job.get("vertices", []):
        ids = ["%d.%s" % (k, n) for k in range(job["parallelism"])
               for n in names] + ["9.busyTimeMsPerSecond", "noSuchMetric"]
        url = "%s/jobs/%s/vertices/%s/metrics?get=%s" % (
            base, job["jid"], vx["id"], ",".join(ids))
        got = {e["id"]: e["value"]
               for e in json.load(urllib.request.urlopen(url))}
        if sorted(got) != sorted(ids[:-2]):
            print("ids of", jname, vx["id"], sorted(got))
            bad += 1
        for k in range(job["parallelism"]):
            t = sc["timing_ms_per_s"]["%s/%s#%d" % (jname, vx["id"], k)]
            busy = "NaN" if t["busy"] is None else repr(float(t["busy"]))
            want = {"busyTimeMsPerSecond": busy,
                    "idleTimeMsPerSecond": str(t["idle"]),
                    "backPressuredTimeMsPerSecond": str(t["backPressured"])}
            for n, v in want.items():
                if got.get("%d.%s" % (k, n)) != v:
                    print(jname, vx["id"], k, n, got.get("%d.%s" % (k, n)),
                          "want", v)
                    bad += 1
sys.exit(1 if bad else 0)
PY
}
check "per-subtask vertex metrics of every vertex" vertex_route_ok
rin=2.numRecordsInPerSecond
check "vertex metrics: Window subtask 2 records in" same 6452.3 \
    "$(metric_value "/v1/jobs/$JOB_A/vertices/$WINDOW/metrics?get=$rin" "$rin")"
check "vertex metrics: unknown ids only gives []" same '[]' \
    "$(get "/jobs/$JOB_A/vertices/$WINDOW/metrics?get=4.busyTimeMsPerSecond,x")"
# recorded exact queries: first answer byte-identical to the fixture, and a
# reordered query (not recorded, so synthesized) gives the same values
recorded_ok() {
    python3 - "$FLINK_FIXTURES" "http://127.0.0.1:$port" <<'PY'
import json, sys, urllib.request
fx, base = sys.argv[1], sys.argv[2]
idx = json.load(open(fx + "/index.json"))
bad = 0
for req, fname in idx.items():
    if "/metrics?get=0." not in req:
        continue
    target = req.split("8081", 1)[1]
    body = urllib.request.urlopen(base + target).read()
    rec = open(fx + "/" + fname, "rb").read()
    if body != rec:
        print("not byte-identical:", fname)
        bad += 1
    path, query = target.split("?get=")
    rev = ",".join(reversed(query.split(",")))
    got = json.load(urllib.request.urlopen(base + path + "?get=" + rev))
    if sorted((e["id"], e["value"]) for e in got) != \
            sorted((e["id"], e["value"]) for e in json.loads(rec)):
        print("synthesized differs from", fname, got)
        bad += 1
sys.exit(1 if bad else 0)
PY
}
check "recorded vertex metrics: exact bytes, same values reordered" recorded_ok
a=$(vm $JOB_A $WINDOW 2.busyTimeMsPerSecond)
b=$(vm $JOB_A $WINDOW 2.busyTimeMsPerSecond)
check "vertex busy time moves by w(1) = 4 ($a -> $b)" same "991.0" "$b"

if start_fake static --static; then
    q="/jobs/$JOB_A/vertices/$WINDOW/metrics?get=2.busyTimeMsPerSecond"
    a=$(metric_value "$q" 2.busyTimeMsPerSecond)
    b=$(metric_value "$q" 2.busyTimeMsPerSecond)
    check "--static: vertex busy time stays ($a, $b)" same "987.0 987.0" \
        "$a $b"
else
    not_ok "static fake starts"
fi

if start_fake restart --scenario restart-after=1; then
    first=$(get /jobs/overview)
    second=$(get /jobs/overview)
    check "restart scenario: new jid after 1 overview" sh -c \
        "echo '$first' | grep -q $JOB_A && echo '$second' | grep -q $JOB_A_NEW"
    check "restart scenario: old jid is 404" is_404 "/jobs/$JOB_A"
    check "restart scenario: numRestarts + 1" same 2 \
        "$(metric_value "/jobs/$JOB_A_NEW/metrics?$JOBQ" numRestarts)"
    check "restart scenario: vertex metrics under the new jid" same 987.0 \
        "$(vm $JOB_A_NEW $WINDOW 2.busyTimeMsPerSecond)"
else
    not_ok "restart scenario fake starts"
    not_ok "restart scenario: old jid is 404"
    not_ok "restart scenario: numRestarts + 1"
    not_ok "restart scenario: vertex metrics under the new jid"
fi

# job_state JID: "state end-time" of JID in /jobs/overview
job_state() {
    get /jobs/overview | python3 -c 'import json, sys
e = [j for j in json.load(sys.stdin)["jobs"] if j["jid"] == sys.argv[1]][0]
print(e["state"], e["end-time"])' "$1"
}
if start_fake stop --scenario restart-after=1,stop-after=2; then
    check "stop scenario: RUNNING for 2 overviews" same \
        "RUNNING -1 RUNNING -1" "$(job_state $JOB_B) $(job_state $JOB_B)"
    check "stop scenario: then CANCELED with an end-time" same \
        "CANCELED 1718093400000" "$(job_state $JOB_B)"
    check "stop scenario: /jobs/<jid> is CANCELED" same "CANCELED CANCELED" \
        "$(get /jobs/$JOB_B | python3 -c 'import json, sys
d = json.load(sys.stdin)
print(d["state"], " ".join(sorted({v["status"] for v in d["vertices"]})))')"
    check "stop scenario: job metrics are []" same '[]' \
        "$(get "/jobs/$JOB_B/metrics?$JOBQ")"
    idle0=0.idleTimeMsPerSecond
    check "stop scenario: vertex metrics are []" same '[]' \
        "$(get "/jobs/$JOB_B/vertices/$B_SRC/metrics?get=$idle0")"
    check "stop scenario: reporter drops the job's samples" sh -c \
        "! curl -sS http://127.0.0.1:$port/tm2/metrics | grep -q $JOB_B"
    check "stop + restart combine: job A has its new jid" same \
        "RUNNING -1" "$(job_state $JOB_A_NEW)"
else
    for i in 1 2 3 4 5 6 7; do not_ok "stop scenario fake starts"; done
fi

# --rebase-time (the demo's): the recording's times are moved to now.
if start_fake rebase --rebase-time; then
    wm=$(get /tm1/metrics | grep -m1 '^flink_taskmanager_job_task_currentInputWatermark{' |
        awk '{printf "%.0f", $NF}')
    ack=$(get "/jobs/$JOB_A/checkpoints" | python3 -c 'import json, sys
print(json.load(sys.stdin)["latest"]["completed"]["latest_ack_timestamp"])')
    now=$(it_now_ms)
    check "rebase-time: a reporter watermark is minutes old, not years ($(((now - wm) / 1000)) s)" \
        test $((now - wm)) -ge 0 -a $((now - wm)) -lt 600000
    check "rebase-time: the last checkpoint is minutes old ($(((now - ack) / 1000)) s)" \
        test $((now - ack)) -ge 0 -a $((now - ack)) -lt 3600000
else
    for i in 1 2; do not_ok "rebase-time fake starts"; done
fi

# --clone-jobs N: N copies of job A under their own jid and name.
if start_fake clones --clone-jobs 3; then
    check "clone-jobs: the overview lists 3 more jobs" same \
        "orders-enrich-0000 orders-enrich-0001 orders-enrich-0002" \
        "$(get /jobs/overview | python3 -c 'import json, sys
print(" ".join(sorted(j["name"] for j in json.load(sys.stdin)["jobs"] if j["jid"].startswith("cccc"))))')"
    check "clone-jobs: a copy's /jobs/<jid> carries its jid and name" same \
        "cccc0000000000000000000000000002 orders-enrich-0002" \
        "$(get /jobs/cccc0000000000000000000000000002 | python3 -c 'import json, sys
d = json.load(sys.stdin)
print(d["jid"], d["name"])')"
else
    for i in 1 2; do not_ok "clone-jobs fake starts"; done
fi

[ "$TAP_FAILED" -eq 0 ]
