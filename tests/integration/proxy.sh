#!/usr/bin/env bash
# The InfluxDB proxy (lagwatch(8), PROXY) over three real influxd nodes:
# a synthetic data set of 30 jobs placed on their ring owners plus one
# `lagwatch run --once` against the fake Flink cluster, then every answer
# through `lagwatch proxy` compared with an independent oracle
# (proxy_oracle.py: it knows the ring and InfluxQL, not lagwatch's code),
# routing asserted with the proxy's own counters, and the refusals.
set -u
. "$(cd "$(dirname "$0")/../lib" && pwd)/itest.sh"
it_need influxd lagwatch curl
it_init proxy

it_influxd a b c || it_bail "start influxd a b c"
it_fakeflink --static || it_bail "fake flink up"
tap_ok "three influxd nodes and the fake Flink cluster up"

pport=$(free_port)
purl=http://127.0.0.1:$pport
cfg=$T/lagwatch.yml
cat >"$cfg" <<YAML
agent: {name: proxy-agent, interval: 15s, spool_dir: "$T/spool"}
$(it_yaml_flink tm1 tm2 jm)
$(it_yaml_influxdb flink a b c)
proxy:
  listen: "127.0.0.1:$pport"
  timeout: 3s
YAML
tap_check "lagwatch check accepts the proxy section" \
    "$LAGWATCH" check -c "$cfg"

it_once "$cfg" run
tap_check "run --once writes the fake cluster's metrics" test $? -eq 0

nodes=(--node "influx-a=$INFLUX_URL_a" --node "influx-b=$INFLUX_URL_b"
    --node "influx-c=$INFLUX_URL_c")
oracle() {
    python3 "$srcdir/tests/integration/proxy_oracle.py" "$1" --db flink \
        --ring-cmd "$LAGWATCH ring -c $cfg" "${nodes[@]}" --proxy "$purl"
}
it_tool "the oracle writes 30 jobs to their owners" oracle write
grep '^# owners:' "$T/tool.out" >"$T/owners"

it_bg px "$LAGWATCH" proxy -c "$cfg" 2>"$T/proxy.log"
wait_for_http "$purl/ping" 10 204 || it_bail "lagwatch proxy answers /ping"

hdr=$(curl -s -D - -o /dev/null "$purl/ping")
tap_check "/ping: 204 with X-Influxdb-Version and Request-Id" \
    sh -c "printf '%s' \"\$1\" | grep -q '^HTTP/1.1 204' &&
           printf '%s' \"\$1\" | grep -qi '^X-Influxdb-Version: ' &&
           printf '%s' \"\$1\" | grep -qi '^Request-Id: '" _ "$hdr"

it_tool "every merged answer equals the oracle" oracle check

# Routing: a job-pinned statement touches its owner only.
pm() { curl -s "$purl/metrics" | awk -v k="$1" '$1 == k {print $2}'; }
q() { curl -s -G "$purl/query" --data-urlencode "db=flink" \
    --data-urlencode "epoch=ms" --data-urlencode "q=$1"; }
owner=$(it_ring_owner "$cfg" job_07)
declare -A before=()
# snap; ...; touched_since: " influx-x influx-y", the nodes the proxy sent
# a statement to in between (its lagwatch_proxy_node_queries_total).
snap() {
    local n
    for n in a b c; do
        before[$n]=$(pm "lagwatch_proxy_node_queries_total{node=\"influx-$n\"}")
    done
}
touched_since() {
    local n now t=
    for n in a b c; do
        now=$(pm "lagwatch_proxy_node_queries_total{node=\"influx-$n\"}")
        [ "$now" != "${before[$n]}" ] && t="$t influx-$n"
    done
    printf '%s' "$t"
}
snap
fw0=$(pm 'lagwatch_proxy_statements_total{route="forward"}')
out=$(q "SELECT mean(value) FROM lw_test WHERE job_name = 'job_07' AND time >= 1700000040s")
direct=$(curl -s -G "${NODE_URL[$owner]}/query" --data-urlencode "db=flink" \
    --data-urlencode "epoch=ms" \
    --data-urlencode "q=SELECT mean(value) FROM lw_test WHERE job_name = 'job_07' AND time >= 1700000040s")
tap_check "a job-pinned mean() is the owner's own answer" \
    test "$(echo "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["results"][0]["series"])')" = \
    "$(echo "$direct" | python3 -c 'import json,sys; print(json.load(sys.stdin)["results"][0]["series"])')"
touched=$(touched_since)
tap_check "it touched only its owner ($owner; touched:$touched)" \
    test "$touched" = " $owner"
tap_check "and was forwarded verbatim" \
    test "$(pm 'lagwatch_proxy_statements_total{route="forward"}')" = $((fw0 + 1))

# Grafana's multi-value regex routes to the owners of its values only.
o1=$(it_ring_owner "$cfg" job_01) o2=$(it_ring_owner "$cfg" job_02)
snap
out=$(q 'SELECT count(value) FROM lw_test WHERE job_name =~ /^(job_01|job_02)$/ AND time >= 1700000040s')
touched=$(touched_since)
want=$(printf '%s\n' "$o1" "$o2" | sort -u | sed 's/^/ /' | tr -d '\n')
tap_check "/^(job_01|job_02)\$/ touches only$want (touched:$touched)" \
    test "$touched" = "$want"
tap_check "and counts both jobs' 20 points" \
    test "$(echo "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["results"][0]["series"][0]["values"][0][1])')" = 20

# A fan-out statement touches every node.
snap
q 'SELECT count(value) FROM lw_test' >/dev/null
touched=$(touched_since)
tap_check "an unpinned statement fans out to every node" \
    test "$touched" = " influx-a influx-b influx-c"

# Bad input: clear errors in InfluxDB's shape.
code=$(curl -s -o "$T/bad.json" -w '%{http_code}' -G "$purl/query" \
    --data-urlencode "q=SELEC value FROM x")
tap_check "malformed InfluxQL: 400 with error parsing query" \
    sh -c "test $code = 400 && grep -q 'error parsing query' '$T/bad.json'"
out=$(curl -s -G "$purl/query" --data-urlencode "db=nosuchdb" \
    --data-urlencode "q=SELECT count(value) FROM lw_test")
tap_check "unknown database: the nodes' 'database not found' error" \
    grep -q 'database not found: nosuchdb' <<<"$out"
code=$(curl -s -o /dev/null -w '%{http_code}' -G "$purl/query" \
    --data-urlencode "q=SELECT value FROM m WHERE x = '$(head -c 6000 /dev/zero | tr '\0' a)'")
tap_check "an oversized q gets a 4xx (got $code)" test "${code:0:1}" = 4
out=$(q 'DROP DATABASE flink')
tap_check "DROP is refused" grep -q 'not supported by the lagwatch proxy' <<<"$out"
tap_check "and nothing was dropped" grep -q '"flink"' <<<"$(curl -s -G \
    "$INFLUX_URL_a/query" --data-urlencode 'q=SHOW DATABASES')"
deep=$(python3 -c 'print("SELECT value FROM m WHERE " + "(" * 100 + "a = 1" + ")" * 100)')
code=$(curl -s -o "$T/deep.json" -w '%{http_code}' -G "$purl/query" --data-urlencode "q=$deep")
tap_check "nesting deeper than the cap: 400 naming it" \
    sh -c "test $code = 400 && grep -q 'too deeply nested' '$T/deep.json'"
head -c $((2 * 1024 * 1024)) /dev/zero | tr '\0' a >"$T/big.body"
code=$(curl -s -o "$T/big.out" -w '%{http_code}' --data-binary "@$T/big.body" \
    -H 'Content-Type: application/x-www-form-urlencoded' "$purl/query")
tap_check "a 2 MiB POST /query body: 413 (got $code)" test "$code" = 413
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$purl/ping")
tap_check "POST /ping: 405 (got $code)" test "$code" = 405


# /write: Flink InfluxdbReporter-shaped lines from curl, routed by
# job_name to the owners' queues; one malformed line is named in a 400 and
# the good lines are still written.
wjobs=$(python3 -c 'print(",".join("wjob-%02d" % i for i in range(40)))')
py_oracle() { python3 "$srcdir/tests/integration/proxy_oracle.py" "$@" \
    --db flink --ring-cmd "$LAGWATCH ring -c $cfg" "${nodes[@]}"; }
py_oracle lines --write-jobs "$wjobs" --bad >"$T/lines.txt"
code=$(curl -s -o "$T/w.out" -w '%{http_code}' --data-binary "@$T/lines.txt" \
    "$purl/write?db=flink&precision=ms")
tap_check "a batch with one malformed line: 400 (got $code)" test "$code" = 400
tap_check "naming that line in influxd's error shape" \
    grep -q '"error":"partial write: unable to parse '"'"'broken_line_without_fields'"'"': missing fields dropped=1"' "$T/w.out"
tap_diag "$(cat "$T/w.out")"
tap_check "the good lines were queued (80 points)" \
    test "$(pm 'lagwatch_proxy_points_total{result="queued"}')" = 80
sleep 2
it_tool "the good lines landed on their owners only, exact values" \
    py_oracle checkwrite --write-jobs "$wjobs"
# gzip, and a node down while writing: spooled, replayed on its return
g2=$(python3 -c 'print(",".join("gjob-%02d" % i for i in range(20)))')
py_oracle lines --write-jobs "$g2" --t0-ms 1700002000000 | gzip -c >"$T/lines.gz"
influxd_stop b
code=$(curl -s -o "$T/w2.out" -w '%{http_code}' --data-binary "@$T/lines.gz" \
    -H 'Content-Encoding: gzip' "$purl/write?db=flink&precision=ms")
tap_check "a gzip batch while influx-b is down: 204 (got $code)" test "$code" = 204
sleep 3
influxd_restart b || it_bail "restart influxd b"
landed=1
for i in $(seq 1 60); do
    py_oracle checkwrite --write-jobs "$g2" --t0-ms 1700002000000 >"$T/cw.out" 2>&1 &&
        { landed=0; break; }
    sleep 1
done
tap_check "after influx-b is back every point is on its owner (replayed)" \
    test $landed = 0
[ $landed = 0 ] || tap_diag "$(cat "$T/cw.out")"
code=$(curl -s -o "$T/w3.out" -w '%{http_code}' --data-binary 'm,job_name=x v=1' \
    "$purl/write?db=otherdb")
tap_check "/write to another database: 404 database not found (got $code)" \
    sh -c "test $code = 404 && grep -q 'database not found' '$T/w3.out'"

# replicas 1: a node that does not answer makes the statement an error
# that names it, never a partial answer.
influxd_stop c
out=$(q 'SELECT count(value) FROM lw_test')
tap_check "node c down, fan-out: the error names influx-c" \
    grep -q '"error":"InfluxDB node influx-c' <<<"$out"
tap_check "and carries no series" test "${out/series/}" = "$out"
tap_diag "$out"

it_stop "$px"
tap_check "lagwatch proxy exits 0 on SIGTERM" test $? -eq 0
it_sanitizer_check "$T/proxy.log"

# replicas 2, served by `lagwatch run` (its proxy: section): the same
# answers with every node up and with one node stopped.
influxd_restart c || it_bail "restart influxd c"
pport=$(free_port)
purl=http://127.0.0.1:$pport
it_listen
cfg=$T/lagwatch-r2.yml
# One cycle at start, then none for an hour: align: false, or the first
# cycle would wait for the next whole hour (agent.align).
cat >"$cfg" <<YAML
agent: {name: proxy-agent, interval: 1h, align: false,
        listen: "127.0.0.1:$lport", spool_dir: "$T/spool2"}
$(it_yaml_flink tm1)
sinks:
  influxdb:
    database: flink2
    replicas: 2
    nodes:
$(it_influx_nodes a b c)
proxy: {listen: "127.0.0.1:$pport", timeout: 3s}
YAML
oracle2() {
    python3 "$srcdir/tests/integration/proxy_oracle.py" "$1" --db flink2 \
        --ring-cmd "$LAGWATCH ring -c $cfg" "${@:2}" --proxy "$purl"
}
it_tool "the oracle writes 30 jobs to both owners" oracle2 write "${nodes[@]}"
it_lagwatch "$cfg" "$T/run2.log"
it_ready 20 || it_bail "lagwatch run with a proxy: section is ready"
tap_check "lagwatch run serves the proxy too" \
    wait_for_http "$purl/ping" 10 204
it_tool "replicas 2, all nodes up, POST /query: every answer equals the oracle" \
    oracle2 check --post "${nodes[@]}"
influxd_stop b
it_tool "replicas 2, influx-b stopped: every answer unchanged" \
    oracle2 check --node "influx-a=$INFLUX_URL_a" --node "influx-c=$INFLUX_URL_c"
# a job whose first owner is influx-b: read from its second owner
bjob=
for i in $(seq -w 0 29); do
    [ "$(it_ring_owner "$cfg" "job_$i")" = influx-b ] && { bjob=job_$i; break; }
done
out=$(curl -s -G "$purl/query" --data-urlencode "db=flink2" \
    --data-urlencode "q=SELECT count(value) FROM lw_test WHERE job_name = '$bjob'")
tap_check "$bjob (first owner influx-b, down) is read from its next owner: 10 points" \
    test "$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["results"][0]["series"][0]["values"][0][1])' "$out" 2>/dev/null)" = 10
tap_check "and influx-b's failures were counted" test \
    "$(pm 'lagwatch_proxy_node_errors_total{node="influx-b"}')" -gt 0
influxd_stop c
out=$(q 'SELECT count(value) FROM lw_test')
out=$(curl -s -G "$purl/query" --data-urlencode "db=flink2" \
    --data-urlencode "q=SELECT count(value) FROM lw_test")
tap_check "two of three nodes down with replicas 2: an error naming one" \
    grep -q '"error":"InfluxDB node influx-[bc]' <<<"$out"
it_lagwatch_stop TERM
tap_check "lagwatch run exits 0 on SIGTERM" test "$lw_rc" = 0
tap_done
