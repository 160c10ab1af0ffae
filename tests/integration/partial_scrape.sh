#!/usr/bin/env bash
# partial_scrape.sh: a reporter endpoint that fails half way contributes
# nothing to the cycle (lagwatch(8), FAULTS), and long names are kept.
# Two TaskManagers (static expositions behind python's http.server) serve
# the four subtasks of one operator, two each; tm2 sits behind
# tests/slowproxy.py, whose cut fault sends a short body and closes. On a
# real influxd, for every cycle:
# - the folded numRecordsIn carries subtasks=4 and the sum of all four
#   while tm2 is whole; subtasks=2 and tm1's sum only while it is cut;
# - tm2's own JVM series (sent before the cut) has a point exactly in the
#   cycles with subtasks=4: nothing of a cut scrape is written;
# - after the fault, cycles are whole again;
# - lagwatch_samples_dropped_total{reason="scrape_failed"} counts the
#   discarded samples, the failure is logged once per streak;
# - two 10 KB operator names sharing their first 9 KB (Flink SQL) are two
#   series, each operator_name cut to trim.max_label_bytes (4096) and
#   ended in "~" and a hash; lagwatch_labels_truncated_total counts them.
set -u
. "$(cd "$(dirname "$0")/../lib" && pwd)/itest.sh"
it_need influxd lagwatch
it_init partial_scrape
it_influxd a || it_bail "start influxd"

OP=flink_taskmanager_job_task_operator
labels() { # HOST SUBTASK [OPERATOR]
    printf 'job_id="566bf9d7c55a45f8d1a6e55e9b9b1325",task_id="b37523a5",task_attempt_id="5d96_0_1",host="%s",operator_id="op1",operator_name="%s",task_name="Map",task_attempt_num="1",job_name="orders-enrich",tm_id="%s_1",subtask_index="%s"' \
        "$1" "${3:-Map}" "$1" "$2"
}
mkdir -p "$T/www/tm1" "$T/www/tm2"
long=$(python3 -c 'print(("SELECT_a_b_c_FROM_orders_" * 400)[:10000])')
{
    printf '# HELP %s_numRecordsIn numRecordsIn (scope: taskmanager_job_task_operator)\n' "$OP"
    printf '# TYPE %s_numRecordsIn counter\n' "$OP"
    printf '%s_numRecordsIn{%s} 100.0\n' "$OP" "$(labels tm1 0)"
    printf '%s_numRecordsIn{%s} 200.0\n' "$OP" "$(labels tm1 1)"
    printf '# HELP %s_currentInputWatermark currentInputWatermark (scope: taskmanager_job_task_operator)\n' "$OP"
    printf '# TYPE %s_currentInputWatermark gauge\n' "$OP"
    printf '%s_currentInputWatermark{%s} 7.0\n' "$OP" "$(labels tm1 0 "${long}A")"
    printf '%s_currentInputWatermark{%s} 8.0\n' "$OP" "$(labels tm1 0 "${long}B")"
} >"$T/www/tm1/metrics"
{
    printf '# HELP flink_taskmanager_Status_JVM_CPU_Load Load (scope: taskmanager_Status_JVM_CPU)\n'
    printf '# TYPE flink_taskmanager_Status_JVM_CPU_Load gauge\n'
    printf 'flink_taskmanager_Status_JVM_CPU_Load{host="tm2",tm_id="tm2_1"} 0.5\n'
    printf '# HELP %s_numRecordsIn numRecordsIn (scope: taskmanager_job_task_operator)\n' "$OP"
    printf '# TYPE %s_numRecordsIn counter\n' "$OP"
    printf '%s_numRecordsIn{%s} 1000.0\n' "$OP" "$(labels tm2 2)"
    # padding (comments), so that the cut falls between the two subtasks
    for ((i = 0; i < 400; i++)); do
        printf '# padding line %04d .............................................\n' "$i"
    done
    printf '%s_numRecordsIn{%s} 2000.0\n' "$OP" "$(labels tm2 3)"
} >"$T/www/tm2/metrics"
wport=$(free_port)
it_bg www python3 -m http.server --bind 127.0.0.1 --directory "$T/www" "$wport" \
    >"$T/www.log" 2>&1
wait_for_http "http://127.0.0.1:$wport/tm1/metrics" 10 || it_bail "http.server up"
it_bg proxy python3 "$srcdir/tests/slowproxy.py" --upstream "127.0.0.1:$wport" \
    --delay 0 --cut-file "$T/cut" --port-file "$T/proxy.port" >/dev/null
wait_for_file "$T/proxy.port" 10 || it_bail "cutting proxy up"
pport=$(sed -n 's/^port=//p' "$T/proxy.port")
tm2=http://127.0.0.1:$pport/tm2/metrics
it_listen
cat >"$T/lagwatch.yml" <<YAML
agent: {name: partial-agent, interval: 1s, listen: "127.0.0.1:$lport",
        spool_dir: "$T/spool"}
$(it_yaml_flink "http://127.0.0.1:$wport/tm1/metrics" "$tm2")
$(it_yaml_influxdb flink a)
YAML
it_lagwatch "$T/lagwatch.yml" "$T/lagwatch.log"
tap_check "lagwatch is ready" it_ready 10
up="lagwatch_scrape_up{flink_cluster=\"prod\",target=\"$tm2\"}"
errs="lagwatch_scrape_errors_total{flink_cluster=\"prod\",target=\"$tm2\"}"
tap_check "tm2 scraped whole" it_wait_metric "$up" -eq 1 10
sleep 2.5
# The cut: headers (~200 bytes) and the first 10 KB of the 27 KB body.
echo 10000 >"$T/cut"
tap_check "tm2 fails while cut" it_wait_metric "$up" -eq 0 10
e0=$(it_metric "$errs")
it_wait_metric "$errs" -ge $((${e0%.*} + 3)) 10
rm -f "$T/cut"
tap_check "tm2 is back" it_wait_metric "$up" -eq 1 10
sleep 2.5
dropped=$(it_metric 'lagwatch_samples_dropped_total{reason="scrape_failed"}')
trunc=$(it_metric lagwatch_labels_truncated_total)
it_lagwatch_stop TERM
tap_check "SIGTERM exits 0" test "$lw_rc" = 0

U=$INFLUX_URL_a
it_influxql "$U" flink 'SELECT "subtasks", "sum", "max" FROM "taskmanager_job_task_operator_numRecordsIn"' >"$T/fold.json"
it_influxql "$U" flink "SELECT \"value\" FROM \"taskmanager_Status_JVM_CPU_Load\" WHERE \"host\" = 'tm2'" >"$T/jvm.json"
python3 - "$T/fold.json" "$T/jvm.json" >"$T/check.out" <<'PY'
import json, sys
def rows(p):
    s = json.load(open(p))["results"][0].get("series", [])
    return [r for x in s for r in x["values"]]
fold = rows(sys.argv[1])
jvm = {r[0] for r in rows(sys.argv[2])}
seq = []
bad = []
for t, sub, tot, mx in fold:
    seq.append(sub)
    want = (4, 3300.0, 2000.0) if sub == 4 else (2, 300.0, 200.0)
    if (sub, tot, mx) != want:
        bad.append("%s: subtasks %s sum %s max %s" % (t, sub, tot, mx))
    if (t in jvm) != (sub == 4):
        bad.append("%s: subtasks %s but tm2's JVM point %s" %
                   (t, sub, "present" if t in jvm else "missing"))
print("sequence " + "".join(str(x) for x in seq))
print("bad " + "; ".join(bad[:5]))
cut = "".join("c" if x == 2 else "w" for x in seq)
print("shape ok" if "wc" in cut and "cw" in cut and cut.endswith("w") else "shape no")
PY
tap_diag "$(cat "$T/check.out")"
tap_check "every folded point: subtasks 4 and the full sum, or 2 and tm1's only" \
    grep -qx 'bad ' "$T/check.out"
tap_check "whole, then cut cycles (subtasks 2), then whole again" \
    grep -qx 'shape ok' "$T/check.out"
tap_check "cut samples counted as scrape_failed (${dropped:-none})" \
    test "${dropped%.*}" -ge 3
n=$(grep -c "cannot scrape '$tm2'" "$T/lagwatch.log")
tap_check "the failure streak is logged once ($n)" test "$n" = 1

it_influxql "$U" flink 'SHOW TAG VALUES FROM "taskmanager_job_task_operator_currentInputWatermark" WITH KEY = "operator_name"' >"$T/long.json"
python3 - "$T/long.json" "$long" >"$T/long.out" <<'PY'
import json, re, sys
s = json.load(open(sys.argv[1]))["results"][0].get("series", [])
vals = [r[1] for x in s for r in x["values"]]
prefix = sys.argv[2][:4096 - 13]
ok = [v for v in vals if len(v) == 4096 and v.startswith(prefix)
      and re.fullmatch(r"~[0-9a-f]{12}", v[-13:])]
print("values %d cut %d distinct %d" % (len(vals), len(ok), len(set(ok))))
PY
tap_diag "$(cat "$T/long.out")"
tap_check "two 10 KB operator names: two series, each cut to 4096 bytes with a hash" \
    grep -qx 'values 2 cut 2 distinct 2' "$T/long.out"
tap_check "lagwatch_labels_truncated_total counts them (${trunc:-none})" \
    test "${trunc%.*}" -ge 2
n=$(grep -c "over trim.max_label_bytes" "$T/lagwatch.log")
tap_check "the first cut of the target is logged, once ($n)" test "$n" = 1
tap_done
