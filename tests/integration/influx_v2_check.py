#!/usr/bin/env python3
"""Compares what an influxd 1.x node holds with what VictoriaMetrics holds.

usage: influx_v2_check.py --influx URL --db DB --vm URL [--wait SECONDS]
                          [--vm-basic USER:PASSWORD]

Reads every point of database DB from influxd over InfluxQL
(SELECT * FROM /.*/ GROUP BY *, epoch=ms) and every sample from
VictoriaMetrics' export API (/api/v1/export, match[]={__name__=~".+"}),
and maps each influxd point the way VictoriaMetrics stores line protocol:
one series per field named MEASUREMENT_FIELD with the tags as labels
(empty tags absent). Both stores must hold exactly the same series with
the same (timestamp, value) pairs; booleans count as 1/0. Values must be
equal up to a relative 1e-12: VictoriaMetrics (1.79.5) stores a float as
a decimal and drops its last digits (measured: 1280720.7149999999 is
exported as 1280720.715, 0.1234567890123456 as 0.12345678901234); how
many values differed within that bound is printed as rounded=N. Shares no code
with lagwatch. Prints one summary line; the first differences go to
stderr; exits 1 on any difference (or when either store is empty).
VictoriaMetrics makes written rows searchable asynchronously, even after
/internal/force_flush: the comparison is repeated (with a flush each time)
until it holds or --wait seconds (default 10) have passed.
"""
import argparse
import base64
import json
import sys
import time
import urllib.parse
import urllib.request

REL_EPS = 1e-12


AUTH = {}  # URL prefix -> Authorization header value


def get(url, data=None):
    body = urllib.parse.urlencode(data).encode() if data else None
    req = urllib.request.Request(url, data=body)
    for prefix, value in AUTH.items():
        if url.startswith(prefix):
            req.add_header("Authorization", value)
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.read().decode("utf-8")


def from_influx(url, db):
    text = get(url + "/query", {"db": db, "epoch": "ms",
                                "q": "SELECT * FROM /.*/ GROUP BY *"})
    res = json.loads(text)["results"][0]
    if "error" in res:
        raise SystemExit("influxd: " + res["error"])
    out = {}
    for s in res.get("series", []):
        tags = tuple(sorted((k, v) for k, v in s.get("tags", {}).items() if v))
        cols = s["columns"]
        for row in s["values"]:
            ts = row[0]
            for c, v in zip(cols[1:], row[1:]):
                if v is None:
                    continue
                if isinstance(v, bool):
                    v = 1.0 if v else 0.0
                elif isinstance(v, str):
                    raise SystemExit("string field %s.%s: not comparable" %
                                     (s["name"], c))
                key = (s["name"] + "_" + c, tags)
                out.setdefault(key, {})[ts] = float(v)
    return out


def from_vm(url):
    text = get(url + "/api/v1/export", {"match[]": '{__name__=~".+"}'})
    out = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        d = json.loads(line)
        m = dict(d["metric"])
        name = m.pop("__name__")
        key = (name, tuple(sorted(m.items())))
        pts = out.setdefault(key, {})
        for ts, v in zip(d["timestamps"], d["values"]):
            pts[ts] = float(v)
    return out


def compare(want, got):
    diffs = []
    rounded = 0
    for key, pts in want.items():
        have = got.get(key)
        if have is None:
            diffs.append("missing in VictoriaMetrics: %s %s" % key)
            continue
        for ts, v in pts.items():
            if ts not in have:
                diffs.append("missing point %s %s @%d" % (key[0], key[1], ts))
            elif abs(have[ts] - v) > REL_EPS * abs(v):
                diffs.append("value %s %s @%d: influxd %r, vm %r" %
                             (key[0], key[1], ts, v, have[ts]))
            elif have[ts] != v:
                rounded += 1
        for ts in have:
            if ts not in pts:
                diffs.append("extra point %s %s @%d" % (key[0], key[1], ts))
    for key in got:
        if key not in want:
            diffs.append("only in VictoriaMetrics: %s %s" % key)
    return diffs, rounded


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--influx", required=True)
    ap.add_argument("--db", required=True)
    ap.add_argument("--vm", required=True)
    ap.add_argument("--wait", type=float, default=10.0)
    ap.add_argument("--vm-basic", metavar="USER:PASSWORD",
                    help="basic auth for VictoriaMetrics (-httpAuth.*)")
    a = ap.parse_args()
    if a.vm_basic:
        AUTH[a.vm] = "Basic " + base64.b64encode(a.vm_basic.encode()).decode()
    want = from_influx(a.influx, a.db)
    deadline = time.monotonic() + a.wait
    while True:
        get(a.vm + "/internal/force_flush", {"x": "1"})
        got = from_vm(a.vm)
        diffs, rounded = compare(want, got)
        if not diffs or time.monotonic() >= deadline:
            break
        time.sleep(0.5)
    npts = sum(len(p) for p in want.values())
    # the cycles: lagwatch stamps every point of a cycle with its time
    cycles = len({ts for p in want.values() for ts in p})
    print("series=%d points=%d cycles=%d vm_series=%d rounded=%d "
          "differences=%d" %
          (len(want), npts, cycles, len(got), rounded, len(diffs)))
    for d in diffs[:10]:
        print(d, file=sys.stderr)
    return 1 if diffs or not want or not got else 0


if __name__ == "__main__":
    sys.exit(main())
