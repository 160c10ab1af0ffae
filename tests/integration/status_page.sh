#!/usr/bin/env bash
# The status page in a real browser: lagwatch fed by the fake Flink cluster
# (reporters and the JobManager REST API) and the Kafka test broker with a
# lagging group, writing to two influxd nodes. Headless Chromium renders `/`;
# the test checks the rendered DOM (the job names, the bottleneck task, the
# group's lag, every node, the "where is job" answer from the ring), that a
# hostile Accept gets JSON with the same jobs, and that the screenshot is
# not blank (many distinct colours, read from the PNG by
# png_colours.py).
set -u
. "$(cd "$(dirname "$0")/../lib" && pwd)/itest.sh"
it_need influxd lagwatch kafka chromium
it_init status

it_influxd a b || it_bail "start influxd a b"
it_fakeflink || it_bail "fake flink up"
it_broker --topic t1:2 || it_bail "test broker up"
now=$(it_now_ms)
it_kafka_two_groups "$now" || it_bail "lagging groups g1 and g2"
tap_ok "two influxd nodes, the fake Flink cluster, a lagging group"

it_listen
cat >"$T/lagwatch.yml" <<YAML
agent: {name: status-agent, interval: 1s, listen: "127.0.0.1:$lport",
        spool_dir: "$T/spool", scrape_timeout: 1s}
$(it_yaml_flink --rest tm1 tm2 jm)
$(it_yaml_kafka)
$(it_yaml_influxdb flink a b)
YAML
it_lagwatch "$T/lagwatch.yml" "$T/lagwatch.log"
tap_check "lagwatch is ready" it_ready 15
# the REST collector needs a cycle or two for its rates
sleep 3

chrome() {
    timeout 60 chromium --headless --no-sandbox --disable-gpu --disable-quic \
        --no-first-run --disable-background-networking \
        --disable-component-update --disable-sync \
        --user-data-dir="$(mktemp -d "$T/chrome.XXXXXX")" "$@" 2>>"$T/chrome.err"
}

chrome --dump-dom "$base/" >"$T/dom.html"
tap_check "Chromium rendered the page" grep -q '</html>' "$T/dom.html"
# job names as the PrometheusReporter writes them (lagwatch(8))
for job in orders_enrich clickstream_sessionize; do
    tap_check "the page lists job $job" grep -q ">$job<" "$T/dom.html"
done
bn=$(curl -s "$base/api/v1/status" | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(next((j["bottleneck"] for j in d["jobs"] if j["bottleneck"]), ""))')
tap_check "the JSON names a bottleneck task ($bn)" test -n "$bn"
tap_check "the page calls out the bottleneck task" \
    grep -q "<tr class=\"bn\"><td>$bn <span class=\"bnmark\">" "$T/dom.html"
lag=$(curl -s "$base/api/v1/lag" | python3 -c '
import json, sys
d = json.load(sys.stdin)
(c,) = d["clusters"]
g = next(g for g in c["groups"] if g["group"] == "g1")
print(max(t["max_lag"] for t in g["topics"]))')
tap_check "group g1 lags (max record lag $lag)" test "${lag:-0}" -gt 0
tap_check "the page shows group g1 and its lag" \
    grep -q "<tr><td>g1</td><td>main</td><td>orders_enrich</td><td>[0-9]" \
    "$T/dom.html"
for n in influx-a influx-b; do
    tap_check "the page shows node $n" grep -q "<tr><td>$n</td>" "$T/dom.html"
done
owner=$(it_ring_owner "$T/lagwatch.yml" orders-enrich)
chrome --dump-dom "$base/?job=orders_enrich" >"$T/where.html"
tap_check "'where is job orders_enrich' answers $owner" \
    grep -q "is written to: <b>$owner</b>" "$T/where.html"
code=$(curl -s -o "$T/root.json" -w '%{http_code}' \
    -H 'Accept: application/json' "$base/")
tap_check "Accept: application/json on / gives the JSON" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
names = {j["name"] for j in d["jobs"]}
sys.exit(0 if sys.argv[2] == "200" and "orders_enrich" in names else 1)' \
    "$T/root.json" "$code"

chrome --screenshot="$T/shot.png" --window-size=1280,2000 "$base/" >/dev/null
read -r w h colours < <(python3 "$srcdir/tests/integration/png_colours.py" \
    "$T/shot.png" 2>>"$T/chrome.err") || colours=0
tap_check "the screenshot is ${w:-?}x${h:-?} with ${colours:-0} colours (> 20)" \
    test "${colours:-0}" -gt 20
[ -z "${STATUS_SHOT:-}" ] || cp "$T/shot.png" "$STATUS_SHOT"

it_lagwatch_stop TERM
tap_check "SIGTERM exits 0" test "$lw_rc" = 0

# A 1,000-job cluster (fakeflink.py --clone-jobs): the page stays under
# 1 MB and Chromium renders it in under 2 s. Render time: a local page
# loads the status page in a 1280x2000 iframe and writes the time from
# its own start to the iframe's load event (fetch, parse, layout; not the
# browser's start-up) into its DOM, read with --dump-dom; best of three.
it_stop "$fake_pid" >/dev/null
it_fakeflink --name big --static --clone-jobs 1000 || it_bail "big fake up"
cat >"$T/big.yml" <<YAML
agent: {name: big-agent, interval: 60s, listen: "127.0.0.1:$lport",
        spool_dir: "$T/spool-big", scrape_timeout: 55s}
$(it_yaml_flink --rest)
$(it_yaml_influxdb big a b)
YAML
it_lagwatch "$T/big.yml" "$T/big.log"
tap_check "lagwatch is ready with 1,002 jobs" it_ready 90
curl -s -o "$T/big.html" "$base/"
size=$(wc -c <"$T/big.html")
rows=$(grep -o '<tr><td>orders_enrich_[0-9]*</td>' "$T/big.html" | wc -l)
tap_check "the page lists the 1,000 copies ($rows rows)" test "$rows" = 1000
tap_check "the page is $size bytes (< 1 MB)" test "$size" -lt 1000000
cat >"$T/wrap.html" <<HTML
<!DOCTYPE html><html><head><meta charset="utf-8"><title>load</title></head>
<body><script>var t0 = performance.now();
function done() {
  document.getElementById("t").textContent =
    "load" + "_ms=" + Math.round(performance.now() - t0);
}</script>
<iframe src="$base/" width="1280" height="2000" onload="done()"></iframe>
<p id="t">not loaded</p></body></html>
HTML
ms=
for i in 1 2 3; do
    t=$(chrome --window-size=1280,2000 --dump-dom "file://$T/wrap.html" |
        sed -n 's/.*load_ms=\([0-9][0-9]*\).*/\1/p')
    [ -n "$t" ] || continue
    [ -n "$ms" ] && [ "$ms" -le "$t" ] || ms=$t
done
chrome --dump-dom "$base/" >"$T/big-dom.html"
tap_check "Chromium rendered the whole big page" \
    grep -q 'orders_enrich_0999' "$T/big-dom.html"
tap_diag "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
tap_check "it renders in ${ms:-?} ms (< 2000)" test "${ms:-99999}" -lt 2000
it_lagwatch_stop TERM
tap_check "SIGTERM exits 0" test "$lw_rc" = 0
tap_done
