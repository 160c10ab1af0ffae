#!/usr/bin/env bash
# influx_v2.sh: a ring node that speaks the InfluxDB v2 write API, against
# a real VictoriaMetrics (Debian's victoria-metrics package), next to a real
# influxd 1.x node. The ring has both nodes and replicas: 2, so every point
# goes to both; tests/recproxy.py sits in front of VictoriaMetrics and
# records each request (VictoriaMetrics ignores org, bucket and the token,
# so the proxy is where they are seen).
# - `lagwatch run --once` writes every series to both; VictoriaMetrics
#   holds exactly what influxd holds (influx_v2_check.py: same series, same
#   timestamps, same values);
# - every write to the v2 node is POST /api/v2/write?org=O&bucket=B&
#   precision=ms with "Authorization: Token <the token file's content>",
#   gzip, its one start probe GET /ping with the token; no /write or
#   /query goes to it; the token is in no output;
# - with VictoriaMetrics down, the v2 node's points are spooled; after the
#   config changes org and bucket and VictoriaMetrics is back, the spool is
#   replayed to the org/bucket it was written for and new points go to the
#   new ones; VictoriaMetrics again holds exactly what influxd holds;
# - without a token_file the v2 node sends sinks.influxdb.username and
#   password as basic auth, which VictoriaMetrics -httpAuth.* accepts;
# - the comparison can fail: one series deleted from VictoriaMetrics is
#   reported.
set -u
. "$(cd "$(dirname "$0")/../lib" && pwd)/itest.sh"
it_need influxd victoria-metrics lagwatch
it_init v2

vm_port=$(free_port)
VM_URL=http://127.0.0.1:$vm_port
# Its own port and data dir; -search.latencyOffset=0 and no cache so that
# what was written is exported at once (after /internal/force_flush).
vm_auth=()
vm_start() { # [FLAGS]
    it_bg vm_pid victoria-metrics -httpListenAddr="127.0.0.1:$vm_port" \
        -storageDataPath="$TEST_TMPDIR/vm-data" -search.latencyOffset=0 \
        -search.disableCache -loggerLevel=ERROR "$@" \
        >>"$TEST_TMPDIR/vm.log" 2>&1
    wait_for_http "$VM_URL/ping" 10 204 "${vm_auth[@]}"
}
vm_stop() {
    it_stop "$vm_pid"
    vm_pid=
}
compare() { # [ARGS]: prints the checker's summary; returns its status
    python3 "$here/influx_v2_check.py" --influx "$INFLUX_URL_a" --db flink \
        --vm "$VM_URL" ${vm_auth:+--vm-basic lw:vm-pw} "$@" \
        2>"$TEST_TMPDIR/check.err"
}


it_influxd a || it_bail "start influxd"
vm_start || it_bail "start victoria-metrics"
tap_ok "influxd and victoria-metrics $(victoria-metrics -version 2>&1 | head -1) up"

it_bg proxy python3 "$srcdir/tests/recproxy.py" --upstream "127.0.0.1:$vm_port" \
    --log "$TEST_TMPDIR/req.log" --port-file "$TEST_TMPDIR/proxy.port" \
    >/dev/null 2>"$TEST_TMPDIR/proxy.err"
wait_for_file "$TEST_TMPDIR/proxy.port" 10 || it_bail "proxy up"
it_fakeflink --static || it_bail "fake flink up"
rport=$(sed -n 's/^port=//p' "$TEST_TMPDIR/proxy.port")
tap_ok "recording proxy on $rport, fake flink on $fport"

token="lw-it-$RANDOM$RANDOM-tok=="
printf '%s\n' "$token" >"$TEST_TMPDIR/token"
write_config() { # FILE ORG BUCKET
    cat >"$1" <<YAML
agent:
  spool_dir: $TEST_TMPDIR/spool
  name: it-agent
  interval: 15s
  scrape_timeout: 5s
$(it_yaml_flink tm1 tm2 jm)
sinks:
  influxdb:
    database: flink
    replicas: 2
    max_retries: 1
    batch_size: 200
    nodes:
$(it_influx_nodes a)
      - name: vm
        url: "http://127.0.0.1:$rport"
        api: v2
        org: $2
        bucket: $3
        token_file: $TEST_TMPDIR/token
YAML
}
# requests of the proxy log as "METHOD PATH AUTH ENCODING STATUS" lines
requests() {
    python3 -c '
import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    print(r["method"], r["path"], r["authorization"], r["content_encoding"],
          r["status"])' "$TEST_TMPDIR/req.log"
}

cfg1=$TEST_TMPDIR/lw1.yml
write_config "$cfg1" it-org it-bucket
"$LAGWATCH" check -c "$cfg1" >"$TEST_TMPDIR/check.out" 2>&1
tap_check "lagwatch check accepts a v2 node" test $? -eq 0
tap_check "lagwatch check prints no token" \
    bash -c "! grep -qF -- '$token' '$TEST_TMPDIR/check.out'"

it_once "$cfg1" run-1
rc=$?
tap_diag "$(grep '^  node' "$TEST_TMPDIR/run-1.out")"
tap_check "run --once exits 0 ($rc)" test $rc -eq 0
w=$(sed -n 's/^  node vm .* written *\([0-9]*\) .*/\1/p' "$TEST_TMPDIR/run-1.out")
tap_check "the v2 node got points ($w)" test "${w:-0}" -gt 400
out=$(compare)
tap_check "VictoriaMetrics holds what influxd holds: $out" test $? -eq 0
tap_diag "$(head -5 "$TEST_TMPDIR/check.err")"

# Each node is probed once at start (GET /ping, lagwatch(8) FAULTS: an
# idle node is then up, not down); everything else is a write.
requests >"$TEST_TMPDIR/req1.all"
grep -v '^GET /ping ' "$TEST_TMPDIR/req1.all" >"$TEST_TMPDIR/req1.txt"
grep '^GET /ping ' "$TEST_TMPDIR/req1.all" >"$TEST_TMPDIR/req1.ping"
want="POST /api/v2/write?org=it-org&bucket=it-bucket&precision=ms Token $token gzip 204"
n=$(wc -l <"$TEST_TMPDIR/req1.txt")
tap_check "every write request ($n) is a gzipped v2 write with the token" \
    bash -c "[ $n -gt 0 ] && ! grep -vxF -- '$want' '$TEST_TMPDIR/req1.txt'"
tap_check "no v1 /write or /query request went to the v2 node" \
    bash -c "! grep -E ' /(write|query)' '$TEST_TMPDIR/req1.all'"
tap_check "the one start probe is GET /ping with the token ($(wc -l <"$TEST_TMPDIR/req1.ping"))" \
    bash -c "[ \$(wc -l <'$TEST_TMPDIR/req1.ping') -le 1 ] && ! grep -vE -- '^GET /ping Token $token ' '$TEST_TMPDIR/req1.ping'"
tap_check "the token is in no output of run" \
    bash -c "! grep -qF -- '$token' '$TEST_TMPDIR/run-1.out' '$TEST_TMPDIR/run-1.err'"

# The v2 node down: its points are spooled.
vm_stop
: >"$TEST_TMPDIR/req.log"
it_once "$cfg1" run-2
rc=$?
tap_diag "$(grep '^  node' "$TEST_TMPDIR/run-2.out")"
sp=$(sed -n 's/^  node vm .* spooled \([0-9]*\) .*/\1/p' "$TEST_TMPDIR/run-2.out")
tap_check "with VictoriaMetrics down the v2 node's points are spooled ($sp, exit $rc)" \
    test "${sp:-0}" -gt 400
tap_check "the spool of node vm exists" test -d "$TEST_TMPDIR/spool/vm"
requests >"$TEST_TMPDIR/req2.txt"
failed=$(grep -cxF -- "POST /api/v2/write?org=it-org&bucket=it-bucket&precision=ms Token $token gzip 502" "$TEST_TMPDIR/req2.txt")
other=$(grep -vxF -e "POST /api/v2/write?org=it-org&bucket=it-bucket&precision=ms Token $token gzip 502" \
    -e "GET /ping Token $token None 502" "$TEST_TMPDIR/req2.txt" | wc -l)
tap_check "the failed writes went to it-org/it-bucket ($failed, $other other requests)" \
    test "$failed" -gt 0 -a "$other" -eq 0

# Config changes org and bucket; the node comes back; the spool goes where
# it was written for, new points to the new bucket.
cfg2=$TEST_TMPDIR/lw2.yml
write_config "$cfg2" it-org-2 it-bucket-2
vm_start || it_bail "restart victoria-metrics"
: >"$TEST_TMPDIR/req.log"
it_once "$cfg2" run-3
rc=$?
tap_diag "$(grep '^  node' "$TEST_TMPDIR/run-3.out")"
tap_check "run --once after the restart exits 0 ($rc)" test $rc -eq 0
tap_check "the spool is resumed" \
    grep -q "resuming the spool of node 'vm'" "$TEST_TMPDIR/run-3.err"
tap_check "the replay is announced for the old org/bucket" \
    grep -q "were written for org 'it-org' bucket 'it-bucket': replaying them there, not into the configured org 'it-org-2' bucket 'it-bucket-2'" \
    "$TEST_TMPDIR/run-3.err"
requests >"$TEST_TMPDIR/req3.txt"
old=$(grep -cxF -- "POST /api/v2/write?org=it-org&bucket=it-bucket&precision=ms Token $token gzip 204" "$TEST_TMPDIR/req3.txt")
new=$(grep -cxF -- "POST /api/v2/write?org=it-org-2&bucket=it-bucket-2&precision=ms Token $token gzip 204" "$TEST_TMPDIR/req3.txt")
other=$(grep -vxF -e "POST /api/v2/write?org=it-org&bucket=it-bucket&precision=ms Token $token gzip 204" \
    -e "POST /api/v2/write?org=it-org-2&bucket=it-bucket-2&precision=ms Token $token gzip 204" \
    -e "GET /ping Token $token None 204" "$TEST_TMPDIR/req3.txt" | wc -l)
tap_check "replayed batches went to it-org/it-bucket ($old requests)" test "$old" -gt 0
tap_check "new batches went to it-org-2/it-bucket-2 ($new requests)" test "$new" -gt 0
tap_check "nothing else was sent ($other other requests)" test "$other" -eq 0
tap_check "/ping was probed with the token before the replay" \
    grep -qxF -- "GET /ping Token $token None 204" "$TEST_TMPDIR/req3.txt"
tap_check "the spool is empty after the run" \
    grep -q '^  node vm .*(waiting 0)' "$TEST_TMPDIR/run-3.out"
out=$(compare)
tap_check "after the replay VictoriaMetrics holds what influxd holds: $out" test $? -eq 0
tap_diag "$(head -5 "$TEST_TMPDIR/check.err")"
tap_check "influxd holds the three cycles" \
    bash -c "echo '$out' | grep -q ' cycles=3 '"

# Without a token, a v2 node sends username/password as basic auth:
# VictoriaMetrics with -httpAuth.* refuses anything else.
vm_stop
vm_auth=(-u lw:vm-pw)
vm_start -httpAuth.username=lw -httpAuth.password=vm-pw ||
    it_bail "restart victoria-metrics with -httpAuth"
tap_check "VictoriaMetrics with -httpAuth refuses a write without credentials" \
    test "$(it_code "$VM_URL/api/v2/write?org=o&bucket=b" -XPOST \
        --data-binary 'x f=1')" = 401
printf 'vm-pw\n' >"$TEST_TMPDIR/vm.pass"
cfg3=$TEST_TMPDIR/lw3.yml
write_config "$cfg3" it-org-2 it-bucket-2
sed -i -e "/token_file:/d" \
    -e "s|^    database: flink|    database: flink\n    username: lw\n    password_file: $TEST_TMPDIR/vm.pass|" "$cfg3"
: >"$TEST_TMPDIR/req.log"
it_once "$cfg3" run-4
rc=$?
tap_diag "$(grep '^  node' "$TEST_TMPDIR/run-4.out")"
tap_check "run --once with basic auth exits 0 ($rc)" test $rc -eq 0
basic="Basic $(printf 'lw:vm-pw' | base64)"
requests | grep -v '^GET /ping ' >"$TEST_TMPDIR/req4.txt"
want="POST /api/v2/write?org=it-org-2&bucket=it-bucket-2&precision=ms $basic gzip 204"
n=$(wc -l <"$TEST_TMPDIR/req4.txt")
tap_check "every write request ($n) carries the basic credentials and is written" \
    bash -c "[ $n -gt 0 ] && ! grep -vxF -- '$want' '$TEST_TMPDIR/req4.txt'"
out=$(compare)
tap_check "with basic auth VictoriaMetrics holds what influxd holds: $out" test $? -eq 0
tap_diag "$(head -5 "$TEST_TMPDIR/check.err")"

# The comparison can fail.
metric=$(curl -s "${vm_auth[@]}" "$VM_URL/api/v1/label/__name__/values" | python3 -c '
import json, sys; print(json.load(sys.stdin)["data"][0])')
curl -s "${vm_auth[@]}" -o /dev/null "$VM_URL/api/v1/admin/tsdb/delete_series" \
    --data-urlencode "match[]={__name__=\"$metric\"}"
out=$(compare --wait 2)
rc=$?
tap_check "one series deleted from VictoriaMetrics ($metric) is reported: $out" \
    bash -c "[ $rc -eq 1 ] && echo '$out' | grep -q ' differences=[1-9]'"
tap_done
