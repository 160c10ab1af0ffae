#!/usr/bin/env bash
# spool_replica.sh: replicas: 2 over three real influxd nodes.
# - every series stored lands on exactly two distinct nodes, its ring
#   owners as `lagwatch ring --key` prints them (key: the job_name tag,
#   else group, else the agent name; see router.h);
# - with one owner down, the other replica keeps being written on time
#   (every directly written batch acknowledged within 1 s), the down one
#   spools, and after it is back it catches up from its spool: every node
#   holds every cycle it accepted, complete (spool_check.py).
set -u
. "$(cd "$(dirname "$0")" && pwd)/spool_lib.sh"

sl_init
it_influxd a b c || sl_bail "start influxd a b c"
sl_config "$(it_influx_nodes a b c)" "" "    replicas: 2"
L=$TEST_TMPDIR/lw.log

# The node to stop: an owner of the agent's own key (the self-contained
# fallback key every setup has).
down=$(it_ring_owner "$cfg" spool-agent)
tap_check "ring --key names two owners for the agent key ($down)" test -n "$down"
dn=${down#influx-}

sl_start "$L" || sl_bail "lagwatch ready"
sleep 2.5
influxd_stop "$dn"
sleep 4
tap_check "the down node's points are spooled" \
    test "$(sl_metric lagwatch_points_spooled_total "$down")" -gt 0
influxd_restart "$dn" || sl_bail "restart $dn"
sl_wait_metric lagwatch_points_replayed_total "$down" -gt 0 30 &&
    sl_wait_metric lagwatch_spool_points "$down" -eq 0 30
tap_check "the down node catches up from its spool" \
    test "$(sl_metric lagwatch_spool_points "$down")" = 0
sleep 1
sl_kill TERM
tap_check "SIGTERM exits 0 ($lw_rc)" test "$lw_rc" = 0

for n in a b c; do
    [ "influx-$n" = "$down" ] && continue
    max=$(grep "batch accepted node=influx-$n .*via=write" "$L" |
        sed -n 's/.* age_ms=\([0-9]*\).*/\1/p' | sort -n | tail -1)
    tap_check "replica influx-$n written on time while $down was down (max age ${max:-none} ms)" \
        test -n "$max" -a "${max:-99999}" -lt 1000
done
for n in a b c; do
    url_var=INFLUX_URL_$n
    sl_check "influx-$n" "${!url_var}" -- "$L"
    tap_check "node $n holds every accepted cycle complete: $sl_summary" test $? = 0
done

out=$(python3 - "$LAGWATCH" "$cfg" "$INFLUX_URL_a" "$INFLUX_URL_b" \
    "$INFLUX_URL_c" <<'PY'
import json, subprocess, sys, urllib.parse, urllib.request
lw, cfg, urls = sys.argv[1], sys.argv[2], sys.argv[3:]
names = ["influx-a", "influx-b", "influx-c"]
def q(url, s):
    data = urllib.parse.urlencode({"db": "flink", "q": s}).encode()
    with urllib.request.urlopen(url + "/query", data, timeout=30) as r:
        return json.load(r)["results"][0]
where = {}  # (measurement, tags) -> set of nodes
for name, url in zip(names, urls):
    ms = q(url, "SHOW MEASUREMENTS").get("series", [])
    for row in (ms[0]["values"] if ms else []):
        m = row[0].replace('"', '\\"')
        res = q(url, 'SELECT * FROM "%s" GROUP BY * LIMIT 1' % m)
        for s in res.get("series", []):
            key = (s["name"], tuple(sorted(s.get("tags", {}).items())))
            where.setdefault(key, set()).add(name)
owners = {}
bad = 0
for (m, tags), nodes in sorted(where.items()):
    t = dict(tags)
    k = t.get("job_name") or t.get("group") or "spool-agent"
    if k not in owners:
        line = subprocess.run([lw, "ring", "-c", cfg, "--key", k],
                              capture_output=True, text=True).stdout
        row = [l for l in line.splitlines() if "\t" in l][0]
        owners[k] = set(row.split("\t")[1].split(","))
    if nodes != owners[k] or len(nodes) != 2:
        bad += 1
        if bad <= 5:
            print("series %s %s on %s, owners %s" % (m, t, sorted(nodes),
                                                    sorted(owners[k])))
print("series=%d keys=%d misplaced=%d" % (len(where), len(owners), bad))
sys.exit(1 if bad or not where else 0)
PY
)
rc=$?
tap_diag "$out"
tap_check "every series is on exactly its two ring owners: $(printf '%s\n' "$out" | tail -1)" test "$rc" = 0
tap_done
