#!/bin/sh
# fakeflink_smoke: tests/fakeflink.py answers the routes the collectors use,
# with valid JSON, moving values, the /v1 prefix, 404s, gzip and the restart
# scenario. Prints TAP and exits non-zero on any failure. Needs python3 and
# curl; srcdir (automake) locates the tree, default: two levels up.
set -u

srcdir=${srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
FAKEFLINK=${FAKEFLINK:-$srcdir/tests/fakeflink.py}
FLINK_FIXTURES=${FLINK_FIXTURES:-$srcdir/tests/fixtures/flink}
JOB_A=566bf9d7c55a45f8d1a6e55e9b9b1325
JOB_A_NEW=566bf9d7c55a45f8d1a6e55e9b9ba001
JOBQ=get=uptime,downtime,runningTime,restartingTime,numRestarts,fullRestarts
JOBQ=$JOBQ,lastCheckpointDuration,lastCheckpointSize,lastCheckpointFullSize
JOBQ=$JOBQ,lastCompletedCheckpointId,lastCheckpointExternalPath
JOBQ=$JOBQ,lastCheckpointRestoreTimestamp,numberOfCompletedCheckpoints
JOBQ=$JOBQ,numberOfFailedCheckpoints,numberOfInProgressCheckpoints
JOBQ=$JOBQ,totalNumberOfCheckpoints

tmp=$(mktemp -d /tmp/fakeflink_smoke.XXXXXX) || exit 99
pids=
cleanup() {
    for p in $pids; do
        kill "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; }
check() { # check "description" command...
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
    python3 "$FAKEFLINK" --fixtures "$FLINK_FIXTURES" --port 0 \
        --port-file "$tmp/$name.port" --log "$tmp/$name.log" "$@" \
        >/dev/null 2>"$tmp/$name.err" &
    pids="$pids $!"
    i=0
    while [ ! -s "$tmp/$name.port" ] && [ $i -lt 100 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    port=$(sed -n 's/^port=//p' "$tmp/$name.port" 2>/dev/null)
    [ -n "$port" ]
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
prom_value() { # prom_value PATH LINE-PREFIX
    get "$1" | grep -F "$2" | head -n 1 | awk '{print $NF}'
}
is_200() { [ "$(code "$1")" = 200 ]; }
is_404() { [ "$(code "$1")" = 404 ]; }
same() { [ "$1" = "$2" ] || { echo "want '$1', got '$2'"; return 1; }; }
differ() { [ "$1" != "$2" ] || { echo "both '$1'"; return 1; }; }

echo "1..17"
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

if start_fake restart --scenario restart-after=1; then
    first=$(get /jobs/overview)
    second=$(get /jobs/overview)
    check "restart scenario: new jid after 1 overview" sh -c \
        "echo '$first' | grep -q $JOB_A && echo '$second' | grep -q $JOB_A_NEW"
    check "restart scenario: old jid is 404" is_404 "/jobs/$JOB_A"
    check "restart scenario: numRestarts + 1" same 2 \
        "$(metric_value "/jobs/$JOB_A_NEW/metrics?$JOBQ" numRestarts)"
else
    not_ok "restart scenario fake starts"
    not_ok "restart scenario: old jid is 404"
    not_ok "restart scenario: numRestarts + 1"
fi

[ $failed -eq 0 ]
