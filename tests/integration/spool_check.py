#!/usr/bin/env python3
"""spool_check: is every point lagwatch accepted for one node in InfluxDB?

    spool_check.py --url URL --db DB --node NAME [--allow-missing] LOG...

LOG are lagwatch debug logs. "Accepted" is logged per batch as
    batch accepted node=N points=P via=write|spool ... ts_min=T ts_max=T
(written and acknowledged by influxd, or spooled and synced). The tests run
the fake Flink cluster with --static and one batch per node per cycle (a
large batch_size and flush_interval), so every accepted batch is one whole
cycle of that node, all its points at one timestamp T, and every cycle with
the same point count P has the same series.

InfluxDB merges points of the same series and timestamp (Flink summaries
write _count and each quantile as separate lines), so rows are not points.
The check is therefore relative: for every accepted T, the rows and the
field values stored at T must equal those at a reference cycle with the
same P that influxd acknowledged directly (via=write: HTTP 204 means every
line was stored). A cycle that is entirely absent is a loss: an error, or
with --allow-missing counted in "missing_points" (what the spool cap or a
corrupt spool record dropped, to compare with lagwatch's counter). A cycle
that is partly there is always an error.

Prints one summary line "node=N cycles=C missing_cycles=M missing_points=K"
and the errors; exits 1 on any error.
"""
import argparse
import json
import re
import sys
import urllib.parse
import urllib.request
from collections import defaultdict

LINE = re.compile(r'batch accepted node=(\S+) points=(\d+) via=(\w+)'
                  r'.* ts_min=(-?\d+) ts_max=(-?\d+)')


def query(url, db, q):
    data = urllib.parse.urlencode({"db": db, "q": q, "epoch": "ms"}).encode()
    with urllib.request.urlopen(url + "/query", data, timeout=30) as r:
        res = json.load(r)["results"][0]
    if "error" in res:
        raise SystemExit("query %r: %s" % (q, res["error"]))
    return res


def stored(url, db):
    """time -> [rows, field values] over every measurement."""
    per_ts = defaultdict(lambda: [0, 0])
    ms = query(url, db, "SHOW MEASUREMENTS").get("series", [])
    for row in (ms[0]["values"] if ms else []):
        m = row[0].replace("\\", "\\\\").replace('"', '\\"')
        res = query(url, db, 'SELECT * FROM "%s" GROUP BY *' % m)
        for s in res.get("series", []):
            for v in s["values"]:
                c = per_ts[v[0]]
                c[0] += 1
                c[1] += sum(1 for x in v[1:] if x is not None)
    return per_ts


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--db", required=True)
    ap.add_argument("--node", required=True)
    ap.add_argument("--allow-missing", action="store_true")
    ap.add_argument("logs", nargs="+")
    a = ap.parse_args()

    errors = []
    accepted = {}  # ts -> (points, via)
    for path in a.logs:
        with open(path, errors="replace") as f:
            for line in f:
                m = LINE.search(line)
                if not m or m.group(1) != a.node:
                    continue
                pts, via = int(m.group(2)), m.group(3)
                t0, t1 = int(m.group(4)), int(m.group(5))
                if t0 != t1:
                    errors.append("a batch spans timestamps %d..%d: cannot "
                                  "check per cycle" % (t0, t1))
                    continue
                if t0 in accepted:
                    errors.append("two batches for timestamp %d: a cycle "
                                  "was split" % t0)
                    continue
                accepted[t0] = (pts, via)
    if not accepted:
        errors.append("no accepted batch for node %s in the logs" % a.node)

    have = stored(a.url, a.db)
    refs = {}  # points -> (ts, rows, values) of a via=write cycle
    for ts, (pts, via) in sorted(accepted.items()):
        if via == "write" and pts not in refs and have[ts][0] > 0:
            refs[pts] = (ts, have[ts][0], have[ts][1])
    missing_cycles = missing_points = 0
    for ts, (pts, via) in sorted(accepted.items()):
        rows, vals = have[ts]
        if rows == 0:
            missing_cycles += 1
            missing_points += pts
            if not a.allow_missing:
                errors.append("cycle %d (%d points, via=%s) is missing"
                              % (ts, pts, via))
            continue
        ref = refs.get(pts)
        if ref is None:
            errors.append("cycle %d: no cycle of %d points acknowledged by "
                          "influxd to compare with" % (ts, pts))
            continue
        if (rows, vals) != ref[1:]:
            errors.append("cycle %d (%d points, via=%s): %d rows / %d values"
                          ", cycle %d has %d / %d" % (ts, pts, via, rows,
                                                      vals, ref[0], ref[1],
                                                      ref[2]))
    extra = sorted(set(t for t, c in have.items() if c[0]) - set(accepted))
    print("node=%s cycles=%d missing_cycles=%d missing_points=%d "
          "unlogged_cycles=%d" % (a.node, len(accepted), missing_cycles,
                                  missing_points, len(extra)))
    for e in errors[:20]:
        print("error: " + e)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
