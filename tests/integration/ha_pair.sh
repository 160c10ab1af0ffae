#!/usr/bin/env bash
# Two agents, no duplicates (agent.align, lagwatch(8) HIGH AVAILABILITY):
# two lagwatch on the same fake Flink cluster (reporters and REST), the same
# Kafka test broker and the same ring of two influxd nodes run a dozen
# 1-second cycles side by side. With align (the default) every point sits
# on a whole second and each series has one point per cycle slot, not one
# per agent and cycle; with `align: false` (a fresh pair on fresh
# databases) the two agents' points do not coincide and the count is about
# twice as high.
set -u
. "$(cd "$(dirname "$0")/../lib" && pwd)/itest.sh"
it_need influxd lagwatch kafka
it_init ha

it_influxd a b || it_bail "start influxd a b"
it_fakeflink --static || it_bail "fake flink up"
it_broker --topic t1:2 || it_bail "test broker up"
it_kafka_two_groups "$(it_now_ms)" || it_bail "lagging groups"
tap_ok "two influxd nodes, the fake Flink cluster, the Kafka test broker"

# pair DB ALIGN: runs two agents for about 12 cycles; NA and NB = their
# cycle counts
pair() {
    local db=$1 align=$2 i pids=() n
    for i in 1 2; do
        local port
        port=$(free_port)
        cat >"$T/$db-$i.yml" <<YAML
agent: {name: ha, interval: 1s, align: $align, listen: "127.0.0.1:$port",
        spool_dir: "$T/spool-$db-$i", scrape_timeout: 900ms}
$(it_yaml_flink --rest tm1)
$(it_yaml_kafka)
$(it_yaml_influxdb "$db" a b)
YAML
        "$LAGWATCH" run -c "$T/$db-$i.yml" 2>"$T/$db-$i.log" &
        pids+=($!)
        IT_PIDS+=($!)
    done
    sleep 12.5
    for i in 0 1; do
        kill -TERM "${pids[$i]}"
        wait "${pids[$i]}"
    done
    NA=$(grep -c 'cycle done' "$T/$db-1.log")
    NB=$(grep -c 'cycle done' "$T/$db-2.log")
}

# stats DB: over every series on both nodes, "most misaligned kafka": the
# most points of any series, how many points are not on a whole second,
# and the most points of a Kafka lag series (its sweep's own time is
# replaced by the cycle's)
stats() {
    local db=$1 n
    for n in a b; do
        local v="INFLUX_URL_$n"
        it_influxql "${!v}" "$db" 'SELECT * FROM /.*/ GROUP BY *' \
            --data-urlencode epoch=ms
        echo
    done | python3 -c '
import json, sys
most = mis = kafka = 0
for line in sys.stdin:
    if not line.strip():
        continue
    for s in json.loads(line)["results"][0].get("series", []):
        ts = [v[0] for v in s["values"]]
        most = max(most, len(ts))
        mis += sum(1 for t in ts if t % 1000)
        if s["name"].startswith("kafka_"):
            kafka = max(kafka, len(ts))
print(most, mis, kafka)'
}

pair aligned true
read -r cnt mis kafka < <(stats aligned)
most=$((NA > NB ? NA : NB))
tap_diag "aligned: agents ran $NA and $NB cycles; the fullest series has $cnt points"
tap_check "both agents ran about a dozen cycles" \
    test "$NA" -ge 10 -a "$NB" -ge 10
tap_check "aligned: every point of every series sits on a whole second" \
    test "$mis" = 0
# the two agents start within a second: their slots differ by one at most
tap_check "aligned: one point per cycle slot ($cnt for $most cycles, not $((NA + NB)))" \
    test "$cnt" -ge "$most" -a "$cnt" -le $((most + 1))
tap_check "aligned: the Kafka lag too ($kafka points)" \
    test "$kafka" -ge $((most - 1)) -a "$kafka" -le $((most + 1))

pair shifted false
read -r cnt mis kafka < <(stats shifted)
tap_diag "align: false: agents ran $NA and $NB cycles; the fullest series has $cnt points"
tap_check "align: false: points off the whole second ($mis)" test "$mis" -gt 0
tap_check "align: false: the two agents' points do not coincide ($cnt > $((NA > NB ? NA : NB)) + 1)" \
    test "$cnt" -gt $(((NA > NB ? NA : NB) + 1))
tap_done
