#!/usr/bin/env bash
# /metrics as a real Prometheus sees it: lagwatch runs against the fake
# Flink cluster (--static) and a real influxd; Debian's prometheus scrapes it
# every second, first as it does by default (OpenMetrics is preferred), then
# with --enable-feature=native-histograms (Prometheus 2.42 then asks for the
# protobuf format first). Each time the test queries Prometheus's HTTP API
# for the folded Flink series, the derived timing and a self-metric, with
# the values computed here from the fixtures, and checks that Prometheus
# ingested as many samples as the text exposition has. The protobuf body is
# decoded by an independent decoder (Python, from the wire format) and
# compared family by family with the text body; promtool checks the text.
set -u
. "$(cd "$(dirname "$0")/../lib" && pwd)/itest.sh"
it_need influxd prometheus promtool lagwatch
it_init promscrape

it_influxd a || it_bail "start influxd"
it_fakeflink --static || it_bail "fake flink up"
it_listen
cat >"$T/lagwatch.yml" <<YAML
agent:
  name: prom-agent
  interval: 1s
  listen: 127.0.0.1:$lport
  spool_dir: $T/spool
$(it_yaml_flink --rest tm1 tm2 jm)
$(it_yaml_influxdb flink a)
YAML
it_lagwatch "$T/lagwatch.yml" "$T/lagwatch.log" --log-level debug
it_ready 10
# Two cycles, so that every series (folded ones included) is present.
sleep 1.5
tap_check "lagwatch serves /metrics" \
    test "$(curl -s -o "$T/m.txt" -w '%{http_code}' "$base/metrics")" = 200

# ---- the three formats, fetched by hand ----
hdr() { # ACCEPT OUT: fetch with Accept, print the Content-Type
    curl -s -H "Accept: $1" -D "$2.h" -o "$2" "$base/metrics"
    tr -d '\r' <"$2.h" | sed -n 's/^[Cc]ontent-[Tt]ype: //p'
}
ct=$(hdr "text/plain;version=0.0.4" "$T/t.txt")
tap_check "text/plain answers text 0.0.4 ($ct)" \
    test "$ct" = "text/plain; version=0.0.4; charset=utf-8"
ct=$(hdr "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5" "$T/t.om")
tap_check "OpenMetrics is negotiated ($ct)" \
    test "$ct" = "application/openmetrics-text; version=1.0.0; charset=utf-8"
tap_check "the OpenMetrics body ends with # EOF" test "$(tail -n 1 "$T/t.om")" = "# EOF"
tap_check "OpenMetrics counters: family without _total, samples with it" \
    grep -qx "# TYPE lagwatch_cycles counter" "$T/t.om"
pb="application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited"
ct=$(hdr "$pb;q=0.7,text/plain;version=0.0.4;q=0.3" "$T/t.pb")
tap_check "protobuf is negotiated ($ct)" \
    test "$ct" = "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited"
ct=$(hdr "$pb;q=0.2,text/plain;version=0.0.4;q=0.3" "$T/t2.txt")
tap_check "the higher q wins ($ct)" test "${ct%%;*}" = "text/plain"

# Text and protobuf of one snapshot: fetch both until two consecutive text
# bodies are identical around the protobuf one (a cycle may end between).
same_snapshot=
for i in $(seq 20); do
    curl -s "$base/metrics" -o "$T/a.txt"
    curl -s -H "Accept: $pb" "$base/metrics" -o "$T/a.pb"
    curl -s "$base/metrics" -o "$T/b.txt"
    cmp -s "$T/a.txt" "$T/b.txt" && { same_snapshot=1; break; }
    sleep 0.2
done
tap_check "fetched text and protobuf of one snapshot" test -n "$same_snapshot"
python3 - "$T/a.txt" "$T/a.pb" >"$T/compare.out" 2>&1 <<'PY'
import re, struct, sys

def unesc(s):
    return re.sub(r'\\(.)', lambda m: {'n': '\n'}.get(m.group(1), m.group(1)), s)

def parse_text(path):
    types, samples = {}, []
    lab = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?')
    for line in open(path, encoding='utf-8'):
        line = line.rstrip('\n')
        if line.startswith('# TYPE '):
            _, _, n, t = line.split(' ', 3)
            types[n] = t
            continue
        if not line or line.startswith('#'):
            continue
        m = re.match(r'([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$', line)
        if not m:
            raise SystemExit('bad text line: ' + line)
        labels = tuple(sorted((k, unesc(v)) for k, v in lab.findall(m.group(3) or '')))
        samples.append((m.group(1), types.get(m.group(1), 'untyped'), labels,
                        float(m.group(4))))
    return samples

def varint(b, i):
    v = s = 0
    while True:
        c = b[i]; i += 1
        v |= (c & 0x7f) << s; s += 7
        if not c & 0x80:
            return v, i

def fields(b):
    i = 0
    while i < len(b):
        key, i = varint(b, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, i = varint(b, i)
        elif wt == 1:
            v = b[i:i + 8]; i += 8
        elif wt == 2:
            n, i = varint(b, i); v = b[i:i + n]; i += n
        elif wt == 5:
            v = b[i:i + 4]; i += 4
        else:
            raise SystemExit('bad wire type %d' % wt)
        yield num, wt, v

def dbl(msg):
    for num, wt, v in fields(msg):
        if num == 1 and wt == 1:
            return struct.unpack('<d', v)[0]
    return 0.0

def parse_pb(path):
    b = open(path, 'rb').read()
    i, samples, fams = 0, [], 0
    tname = {0: 'counter', 1: 'gauge', 3: 'untyped'}
    while i < len(b):
        n, i = varint(b, i)
        fam = b[i:i + n]; i += n; fams += 1
        name, typ, metrics = None, 0, []
        for num, wt, v in fields(fam):
            if num == 1: name = v.decode()
            elif num == 3: typ = v
            elif num == 4: metrics.append(v)
        for m in metrics:
            labels, val = [], None
            for num, wt, v in fields(m):
                if num == 1:
                    d = {k: x.decode() for k, _, x in fields(v)}
                    labels.append((d.get(1, ''), d.get(2, '')))
                elif num in (2, 3, 5):
                    val = dbl(v)
            samples.append((name, tname.get(typ, '?'), tuple(sorted(labels)), val))
    return samples, fams

t = parse_text(sys.argv[1])
p, nf = parse_pb(sys.argv[2])
key = lambda s: (s[0], s[1], s[2], repr(s[3]))
ts, ps = sorted(map(key, t)), sorted(map(key, p))
print('text samples %d, protobuf samples %d in %d families' % (len(ts), len(ps), nf))
for a, b in zip(ts, ps):
    if a != b:
        print('first difference:', a, b)
        break
sys.exit(0 if ts == ps and len(ts) > 0 else 1)
PY
rc=$?
tap_diag "$(cat "$T/compare.out")"
tap_check "protobuf decodes to the same samples, types and values as text" test $rc -eq 0

# Flink's own names are camelCase and folded series end in _sum by design
# (sinks/prom/fmt_prom.h); anything else is a finding.
it_promtool_check "$T/m.txt" "$T/promtool.out" "$T/promtool.rest"
prc=$?
tap_diag "$(head -5 "$T/promtool.rest")"
tap_check "promtool parses the text and has nothing else to say (rc $prc)" \
    test $prc -le 3 -a ! -s "$T/promtool.rest"
tap_check "every lagwatch_ family passes promtool's lint" \
    sh -c "! grep -q '^lagwatch_' '$T/promtool.out'"

# gzip
curl -s -H 'Accept-Encoding: gzip' -D "$T/gz.h" -o "$T/gz.body" "$base/metrics"
tap_check "gzip when asked" grep -qi '^content-encoding: gzip' "$T/gz.h"
tap_check "the gzip body inflates to an exposition" \
    sh -c "gzip -dc '$T/gz.body' | grep -q '^# TYPE lagwatch_cycles_total counter'"
curl -s -H "Accept: $pb" -H 'Accept-Encoding: gzip' -D "$T/gzp.h" -o "$T/gzp.body" "$base/metrics"
tap_check "gzip of the protobuf body too" grep -qi '^content-encoding: gzip' "$T/gzp.h"

# ---- expected values, computed from the fixtures ----
want_in=$(python3 - "$FIX/prometheus" <<'PY'
import re, sys, glob
best = None
for f in glob.glob(sys.argv[1] + '/taskmanager-[12].prom'):
    for line in open(f):
        if line.startswith('flink_taskmanager_job_task_operator_numRecordsIn{') \
           and 'operator_name="Window' in line:
            v = float(line.rsplit(' ', 1)[1])
            best = v if best is None else max(best, v)
print(repr(best))
PY
)
nsamples=$(grep -vc '^#' "$T/a.txt")
tap_diag "Window operator numRecordsIn max from the fixtures: $want_in; $nsamples samples in the text"

# ---- a real Prometheus, scraping every second ----
wait_value() { # EXPR: waits up to 20 s for an answer, prints it
    local v i
    for i in $(seq 100); do
        v=$(it_promql "$1")
        [ -n "$v" ] && { echo "$v"; return 0; }
        sleep 0.2
    done
    return 1
}
run_prometheus() { # NAME [FLAGS...]
    local name=$1
    shift
    it_prometheus "$T/prom-$name" "127.0.0.1:$lport" "$@"
}

check_prometheus() { # NAME
    local name=$1 v
    v=$(wait_value 'up{job="lagwatch"}')
    tap_check "$name: Prometheus scrapes lagwatch (up=$v)" test "$v" = 1
    v=$(wait_value 'flink_taskmanager_job_task_operator_numRecordsIn_max{operator_name=~"Window.*"}')
    tap_check "$name: folded Window numRecordsIn_max = $want_in ($v)" \
        python3 -c "import sys; sys.exit(float('$v') != float('$want_in'))"
    v=$(wait_value 'lagwatch_task_busy_ratio_max{task_name=~"Window.*",job_name="orders_enrich",flink_cluster="prod"}')
    tap_check "$name: busy ratio of the Window task = 0.987 ($v)" test "$v" = 0.987
    v=$(wait_value 'lagwatch_rest_requests_last_cycle{flink_cluster="prod"}')
    tap_check "$name: lagwatch_rest_requests_last_cycle = 13 ($v)" test "$v" = 13
    v=$(wait_value 'lagwatch_cycles_total')
    tap_check "$name: the counter keeps its name lagwatch_cycles_total ($v)" test -n "$v"
    v=$(wait_value 'scrape_samples_scraped{job="lagwatch"}')
    tap_check "$name: every sample of the exposition ingested ($v of $nsamples)" \
        test "$v" = "$nsamples"
}

run_prometheus default
check_prometheus "default (OpenMetrics)"
tap_check "default: lagwatch answered Prometheus with OpenMetrics" \
    grep -q "serving /metrics as 'application/openmetrics-text; version=1.0.0.*for Accept 'application/openmetrics-text" "$T/lagwatch.log"
it_prometheus_stop
lines_before=$(wc -l <"$T/lagwatch.log")

run_prometheus protobuf --enable-feature=native-histograms
check_prometheus "protobuf"
tap_check "protobuf: lagwatch answered Prometheus with protobuf" \
    sh -c "tail -n +$((lines_before + 1)) '$T/lagwatch.log' | grep -q \"serving /metrics as 'application/vnd.google.protobuf\""
it_prometheus_stop

errs=$(grep 'level=error' "$T/lagwatch.log")
tap_check "lagwatch logged no error" test -z "$errs"
tap_diag "$errs"
tap_done
