#!/usr/bin/env bash
# kafka-lag-exporter's Grafana dashboard against lagwatch: a real
# Prometheus scrapes lagwatch, adding a `namespace` label in the scrape
# config as Kubernetes service discovery would, and every PromQL query of
# the dashboard's Kafka panels and its three template variables (namespace,
# cluster_name, consumer_group; recreated here from the published panels,
# not copied) returns data with the values the scenario implies.
#
# Scenario (the Kafka test broker, messages 1 s apart):
#   t1 p0 20 messages from now-600 s, p1 10 from now-60 s, p2 5 from now-30 s
#   t2 p0 10 messages from now-1200 s, p1 4 from now-100 s
#   g1 commits t1 15/10/2 and t2 4/4: lag 5, 0, 3, 6, 0 (max 6, sum 14); its
#      oldest unconsumed message is t2 p0 offset 4, from now-1196 s
#   g2 commits t1 p0 3: lag 17, oldest unconsumed from now-597 s
set -u
. "$(cd "$(dirname "$0")/../lib" && pwd)/itest.sh"
it_need influxd lagwatch kafka prometheus
it_init kle

it_influxd a || it_bail "start influxd"
it_broker --brokers 2 --topic t1:3 --topic t2:2 || it_bail "mock broker up"
now=$(it_now_ms)
ok=0
it_produce t1 0 20 $((now - 600000)) && it_produce t1 1 10 $((now - 60000)) &&
    it_produce t1 2 5 $((now - 30000)) && it_produce t2 0 10 $((now - 1200000)) &&
    it_produce t2 1 4 $((now - 100000)) &&
    it_scenario commit g1 t1 0 15 t1 1 10 t1 2 2 t2 0 4 t2 1 4 &&
    it_scenario commit g2 t1 0 3 && ok=1
tap_check "scenario produced and committed" test $ok = 1

it_listen
cfg=$T/lagwatch.yml
cat >"$cfg" <<YAML
agent:
  spool_dir: $T/spool
  name: kle-agent
  interval: 1s
  listen: 127.0.0.1:$lport
$(it_yaml_kafka)
$(it_yaml_influxdb flink a)
YAML
it_lagwatch "$cfg" "$T/lagwatch.log"
tap_check "the daemon is ready" it_ready 15

# Prometheus with the namespace label on the target, as a Kubernetes
# scrape config (relabelled from the pod's namespace) would add it.
pdir=$T/prom
mkdir -p "$pdir"
pport=$(free_port)
PROM=http://127.0.0.1:$pport
cat >"$pdir/prometheus.yml" <<YAML
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: kafka-lag-exporter
    static_configs:
      - targets: ['127.0.0.1:$lport']
        labels: {namespace: kafka-apps}
YAML
it_bg prom prometheus --config.file="$pdir/prometheus.yml" \
    --storage.tsdb.path="$pdir/data" --web.listen-address="127.0.0.1:$pport" \
    >"$pdir/log" 2>&1
tap_check "prometheus is ready" wait_for_http "$PROM/-/ready" 20
got=
for i in $(seq 150); do
    [ "$(it_promql 'count(kafka_consumergroup_group_offset{namespace="kafka-apps"})')" = 6 ] && { got=1; break; }
    sleep 0.2
done
tap_check "prometheus scraped lagwatch's kafka-lag-exporter series" test -n "$got"

tap_include python3 - "$PROM" "$now" <<'PY'
import json, re, sys, time, urllib.parse, urllib.request
prom, now_ms = sys.argv[1], int(sys.argv[2])

def query(expr):
    url = prom + "/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(url, timeout=10) as r:
        d = json.load(r)
    if d.get("status") != "success":
        raise RuntimeError("%s: %s" % (expr, d))
    return [(m["metric"], float(m["value"][1])) for m in d["data"]["result"]]

def check(ok, desc, detail=""):
    print(("ok" if ok else "not ok") + " - " + desc + ("" if ok else " (%s)" % (detail,)))

def render(m):
    # How Grafana's query_result() prints a series for the variable regex.
    name = m.get("__name__", "")
    return name + "{" + ", ".join('%s="%s"' % (k, v) for k, v in sorted(m.items()) if k != "__name__") + "}"

def var(expr, regex):
    rx = re.compile(regex)
    vals = set()
    for m, _ in query(expr):
        g = rx.match(render(m))
        if g:
            vals.add(g.group(1))
    return vals

# The three template variables, as the dashboard defines them.
ns = var("kafka_consumergroup_group_lag", r'.*namespace="([^"]*).*')
check(ns == {"kafka-apps"}, "variable namespace: query_result(kafka_consumergroup_group_lag) -> kafka-apps", ns)
cl = var('kafka_consumergroup_group_lag{namespace="kafka-apps"}', r'.*cluster_name="([^"]*).*')
check(cl == {"main"}, "variable cluster_name -> main", cl)
cg = var('kafka_consumergroup_group_lag{namespace="kafka-apps",cluster_name="main"}', r'.*group="([^"]*).*')
check(cg == {"g1", "g2"}, "variable consumer_group -> g1, g2", cg)

sel = 'namespace="kafka-apps",cluster_name="main",group=~"%s"'
elapsed = time.time() - now_ms / 1000.0
def near(v, want):  # ages grow while the test runs
    return want - 1 <= v <= want + elapsed + 5

for groups in ("g1|g2", ".*"):  # multi-select and "All" (allValue .*)
    s = sel % groups
    r = {m["group"]: v for m, v in query("kafka_consumergroup_group_max_lag_seconds{%s}" % s)}
    check(set(r) == {"g1", "g2"} and near(r["g1"], 1196) and near(r["g2"], 597),
          "Consumer Group Max Lag Seconds (group=~%s): one series per group, g1 ~1196 s, g2 ~597 s" % groups, r)
    r = query("kafka_consumergroup_group_lag_seconds{%s}" % s)
    byp = {(m["group"], m["topic"], m["partition"]): v for m, v in r}
    check(len(r) == 6 and near(byp.get(("g1", "t1", "0"), -9), 585) and byp.get(("g1", "t1", "1")) == 0,
          "Consumer Group Lag Partition Seconds (group=~%s): 6 partitions, g1 t1/0 ~585 s, t1/1 0" % groups, byp)
    r = {m["group"]: v for m, v in query("kafka_consumergroup_group_max_lag{%s}" % s)}
    check(r == {"g1": 6, "g2": 17}, "Consumer Group Max Lag Offsets (group=~%s): g1 6, g2 17" % groups, r)
    # The published "Lag Partition Offsets" panel repeats the seconds query;
    # its title means the record lag per partition, checked as well.
    r = {(m["group"], m["topic"], m["partition"]): v for m, v in query("kafka_consumergroup_group_lag{%s}" % s)}
    want = {("g1", "t1", "0"): 5, ("g1", "t1", "1"): 0, ("g1", "t1", "2"): 3,
            ("g1", "t2", "0"): 6, ("g1", "t2", "1"): 0, ("g2", "t1", "0"): 17}
    check(r == want, "Consumer Group Lag Partition Offsets (group=~%s): record lag per partition" % groups, r)

# The row repeated per consumer group: time lag, summed committed offsets,
# and the summed latest offsets of the partitions the group commits on.
expect = {"g1": (1196, 15 + 10 + 2 + 4 + 4, 20 + 10 + 5 + 10 + 4), "g2": (597, 3, 20)}
for g, (age, off, latest) in expect.items():
    s = sel % g
    a = query("max(kafka_consumergroup_group_lag_seconds{%s}) by (group)" % s)
    check(len(a) == 1 and a[0][0].get("group") == g and near(a[0][1], age),
          "%s: max(lag_seconds) by (group) ~%d s" % (g, age), a)
    b = query("sum(kafka_consumergroup_group_offset{%s})" % s)
    check(len(b) == 1 and b[0][1] == off, "%s: Sum Group Offset = %d" % (g, off), b)
    c = query("sum((kafka_consumergroup_group_offset{%s} * 0)\n+ on(namespace,cluster_name,topic,partition) "
              "kafka_partition_latest_offset{namespace=\"kafka-apps\",cluster_name=\"main\"})" % s)
    check(len(c) == 1 and c[0][1] == latest, "%s: Sum Latest Offset = %d (one latest offset per partition)" % (g, latest), c)
PY

it_lagwatch_stop TERM
tap_check "SIGTERM exits 0" test "$lw_rc" = 0
tap_done
