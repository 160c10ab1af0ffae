#!/usr/bin/env bash
# The InfluxDB proxy's overhead (lagwatch(8), PROXY): three real influxd
# nodes, JOBS jobs x SERIES series each, HOURS hours at 15 s, placed on
# their ring owners; then N routed dashboard queries (one job, GROUP BY
# time(1m)) through the proxy and straight to the owning node, and N
# fan-out queries (every job, GROUP BY time(5m)) through the proxy and to
# the slowest node, p50/p99 of each; and /write throughput into the
# queues (a 100,000-point body). Not a test: it prints figures.
#   bench/proxy_bench.sh [JOBS SERIES HOURS N]   (default 100 10 1 200)
# Needs influxd, curl, python3 and a built lagwatch (LAGWATCH=...).
set -u
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
export top_srcdir
. "$top_srcdir/tests/lib/itest.sh"
JOBS=${1:-100} SERIES=${2:-10} HOURS=${3:-1} N=${4:-200}
it_init proxybench
it_influxd a b c || { echo "cannot start influxd" >&2; exit 1; }
pport=$(free_port)
cat >"$T/lw.yml" <<YAML
agent: {name: bench, spool_dir: "$T/spool"}
flink: [{name: p, reporters: ["http://127.0.0.1:1/m"]}]
$(it_yaml_influxdb flink a b c)
proxy: {listen: "127.0.0.1:$pport"}
YAML
python3 - "$T/lw.yml" "$LAGWATCH" "$JOBS" "$SERIES" "$HOURS" "$N" \
    "http://127.0.0.1:$pport" "$INFLUX_URL_a" "$INFLUX_URL_b" "$INFLUX_URL_c" \
    <<'PY' &
import json, subprocess, sys, time, urllib.parse, urllib.request
cfg, lw, jobs, series, hours, n, proxy = sys.argv[1:8]
jobs, series, hours, n = int(jobs), int(series), int(hours), int(n)
nodes = dict(zip(["influx-a", "influx-b", "influx-c"], sys.argv[8:11]))
names = ["job_%03d" % i for i in range(jobs)]
out = subprocess.run([lw, "ring", "-c", cfg] + sum([["--key", j] for j in names], []),
                     capture_output=True, text=True, check=True).stdout
owner = {l.split("\t")[0]: l.split("\t")[1].split(",")[0]
         for l in out.splitlines() if "\t" in l}
def post(url, body):
    urllib.request.urlopen(urllib.request.Request(url, data=body), timeout=120).read()
for u in nodes.values():
    post(u + "/query", b"q=CREATE+DATABASE+flink")
t_end = int(time.time()) // 60 * 60
t0 = t_end - hours * 3600
steps = hours * 240
lines = {k: [] for k in nodes}
for i, j in enumerate(names):
    for s in range(series):
        for k in range(steps):
            lines[owner[j]].append("m,job_name=%s,task=t%d value=%d.5 %d"
                                   % (j, s, (i + s + k) % 97, (t0 + 15 * k) * 1000))
for k, ls in lines.items():
    for c in range(0, len(ls), 50000):
        post(nodes[k] + "/write?db=flink&precision=ms",
             "\n".join(ls[c:c + 50000]).encode())
npts = sum(len(v) for v in lines.values())
def q(url, stmt):
    u = url + "/query?" + urllib.parse.urlencode({"db": "flink", "epoch": "ms", "q": stmt})
    t = time.perf_counter()
    body = urllib.request.urlopen(u, timeout=120).read()
    return time.perf_counter() - t, body
def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p * len(xs)))] * 1000
rng = "time >= %ds AND time < %ds" % (t0, t_end)
routed = [[], []]
for i in range(n):
    j = names[i % jobs]
    st = ('SELECT mean("value") FROM "m" WHERE "job_name" = \'%s\' AND %s '
          'GROUP BY time(1m), "task" fill(none)' % (j, rng))
    a, ba = q(proxy, st)
    b, bb = q(nodes[owner[j]], st)
    assert ba == bb or json.loads(ba) == json.loads(bb)
    routed[0].append(a)
    routed[1].append(b)
fan = [[], []]
st = 'SELECT count("value"), mean("value") FROM "m" WHERE %s GROUP BY time(5m)' % rng
for i in range(max(1, n // 10)):
    a, _ = q(proxy, st)
    slow = max(q(u, st.replace("GROUP BY time(5m)", 'GROUP BY time(5m), "job_name"'))[0]
               for u in nodes.values())
    fan[0].append(a)
    fan[1].append(slow)
body = "\n".join("w,job_name=job_%03d,task=t value=%d.25 %d" % (i % jobs, i, 1700000000000 + i)
                 for i in range(100000)).encode()
t = time.perf_counter()
post(proxy + "/write?db=flink&precision=ms", body)
w = time.perf_counter() - t
print("data: %d jobs, %d series, %d points (%d h at 15 s)"
      % (jobs, jobs * series, npts, hours))
print("routed (one job, GROUP BY time(1m)), %d queries: proxy p50 %.2f ms p99 %.2f ms;"
      " owner direct p50 %.2f ms p99 %.2f ms; added p50 %.2f ms"
      % (n, pct(routed[0], .5), pct(routed[0], .99), pct(routed[1], .5),
         pct(routed[1], .99), pct(routed[0], .5) - pct(routed[1], .5)))
print("fan-out (every job, GROUP BY time(5m)), %d queries: proxy p50 %.2f ms p99 %.2f ms;"
      " slowest node (its pushed-down statement, sequential) p50 %.2f ms p99 %.2f ms"
      % (len(fan[0]), pct(fan[0], .5), pct(fan[0], .99), pct(fan[1], .5), pct(fan[1], .99)))
print("/write: 100000 points parsed, routed and queued in %.3f s: %.0f points/s"
      % (w, 100000 / w))
PY
py=$!
it_bg pxp "$LAGWATCH" proxy -c "$T/lw.yml" 2>"$T/proxy.log"
wait $py
