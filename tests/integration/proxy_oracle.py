#!/usr/bin/env python3
"""Independent oracle for the InfluxDB proxy (lagwatch(8), PROXY).

It knows only the ring (through `lagwatch ring --key`, as influx_oracle.py)
and InfluxQL: `write` puts a synthetic data set of many jobs on their owner
nodes, directly; `check` reads every node's raw points directly, computes
what each statement must answer (aggregates per bucket, raw merges, sets)
in Python, and compares with what the proxy answers. No lagwatch code is
shared.

usage: proxy_oracle.py write|check --db DB --ring-cmd CMD --node NAME=URL...
                       [--proxy URL] [--jobs N] [--post]
Prints TAP lines without a plan; exits 1 on a mismatch.
"""
import argparse
import json
import math
import statistics
import subprocess
import sys
import urllib.parse
import urllib.request

T0 = 1700000040  # a whole minute, seconds
POINTS = 10      # per job, 30 s apart
STEP = 30
MEAS = "lw_test"

failed = False


def tap(ok, desc, diag=None):
    global failed
    print(("ok - " if ok else "not ok - ") + desc)
    if not ok:
        failed = True
        if diag:
            for line in str(diag).splitlines()[:40]:
                print("# " + line)


def http(url, data=None, timeout=30):
    req = urllib.request.Request(url, data=data)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def influxql(url, db, q, epoch="ms", post=False):
    """GET /query (the proxy answers GET, as Grafana sends); POST for the
    statements a node only takes by POST (CREATE DATABASE)."""
    form = {"q": q, "db": db}
    if epoch:
        form["epoch"] = epoch
    enc = urllib.parse.urlencode(form)
    if post:
        st, body = http(url + "/query", enc.encode())
    else:
        st, body = http(url + "/query?" + enc)
    return st, json.loads(body) if body.strip() else None


def owners(ring_cmd, keys):
    cmd = ring_cmd.split() + [a for k in keys for a in ("--key", k)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    res = {}
    for line in out.stdout.splitlines():
        if "\t" in line:
            k, o = line.split("\t", 1)
            res[k] = o.split(",")
    return res


def jobs(n):
    return ["job_%02d" % i for i in range(n)]


def point_time_ns(i, k):
    # distinct per job (+i ms) so that raw rows never tie
    return (T0 + k * STEP) * 10**9 + i * 10**6


def do_write(a, nodes):
    own = owners(a.ring_cmd, jobs(a.jobs))
    lines = {n: [] for n in nodes}
    for i, j in enumerate(jobs(a.jobs)):
        for k in range(POINTS):
            line = "%s,host=h%d,job_name=%s value=%r,n=%di %d" % (
                MEAS, i % 2, j, i * 1.5 + k * 0.25, i * 10 + k,
                point_time_ns(i, k))
            for o in own[j]:
                lines[o].append(line)
    for n, url in nodes.items():
        influxql(url, a.db, "CREATE DATABASE " + a.db, None, post=True)
        if lines[n]:
            st, body = http(url + "/write?db=" + a.db,
                            "\n".join(lines[n]).encode())
            tap(st == 204, "wrote %d points to %s" % (len(lines[n]), n), body)
    print("# owners: " + json.dumps({j: own[j] for j in jobs(a.jobs)}))


def raw_points(a, nodes):
    """Every point, from each node directly: (t_ms, job, host, value, n);
    a replica copy (same job, same time) counts once."""
    seen = {}
    for url in nodes.values():
        st, doc = influxql(url, a.db,
                           "SELECT job_name, host, value, n FROM %s" % MEAS)
        for s in doc["results"][0].get("series", []):
            for t, job, host, v, n in s["values"]:
                seen[(job, t)] = (t, job, host, v, n)
    return sorted(seen.values())


def close(x, y):
    if isinstance(x, float) or isinstance(y, float):
        if x is None or y is None:
            return x is y
        return math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-12)
    return x == y and type(x) == type(y)


def same_rows(got, want):
    if len(got) != len(want):
        return False
    for g, w in zip(got, want):
        if len(g) != len(w) or not all(close(x, y) for x, y in zip(g, w)):
            return False
    return True


def series_of(doc):
    r = doc["results"][0]
    if "error" in r:
        return None, r["error"]
    return r.get("series", []), None


def check_series(a, desc, q, want):
    """want: [(name, tags or None, columns, rows)] in order."""
    st, doc = influxql(a.proxy, a.db, q, post=a.post)
    if st != 200 or doc is None:
        tap(False, desc, "HTTP %s %s" % (st, doc))
        return
    got, err = series_of(doc)
    if err:
        tap(False, desc, err)
        return
    ok = len(got) == len(want)
    for g, (name, tags, cols, rows) in zip(got, want):
        ok = ok and g["name"] == name and g.get("tags") == tags and \
            g["columns"] == cols and same_rows(g["values"], rows)
    tap(ok, desc, "query: %s\ngot:  %s\nwant: %s" % (
        q, json.dumps(got)[:1500], json.dumps(want)[:1500]))


def buckets(points, width_s):
    b = {}
    for p in points:
        start = (p[0] // 1000) // width_s * width_s * 1000
        b.setdefault(start, []).append(p)
    return b


def do_check(a, nodes):
    pts = raw_points(a, nodes)
    tap(len(pts) == a.jobs * POINTS,
        "the nodes hold %d distinct points" % len(pts))
    rng = "time >= %ds AND time < %ds" % (T0, T0 + POINTS * STEP)

    # decomposable aggregates across every node, per 1 m bucket
    rows = []
    for t, ps in sorted(buckets(pts, 60).items()):
        v = [p[3] for p in ps]
        rows.append([t, len(v), sum(v), min(v), max(v), sum(v) / len(v),
                     max(v) - min(v)])
    check_series(
        a, "count, sum, min, max, mean, spread over all nodes equal the "
        "oracle",
        "SELECT count(value), sum(value), min(value), max(value), "
        "mean(value), spread(value) FROM %s WHERE %s GROUP BY time(1m) "
        "fill(none)" % (MEAS, rng),
        [(MEAS, None, ["time", "count", "sum", "min", "max", "mean",
                       "spread"], rows)])

    # integer sums stay integers; GROUP BY a tag that is not shard_by
    want = []
    for h in ("h0", "h1"):
        hp = [p for p in pts if p[2] == h]
        r = [[t, sum(p[4] for p in ps), max(p[4] for p in ps)]
             for t, ps in sorted(buckets(hp, 120).items())]
        want.append((MEAS, {"host": h}, ["time", "total", "max"], r))
    check_series(a, "sum and max of an integer field GROUP BY time(2m), host",
                 "SELECT sum(n) AS total, max(n) FROM %s WHERE %s GROUP BY "
                 "time(2m), host fill(none)" % (MEAS, rng), want)

    # first and last by point time, across nodes
    f = min(pts, key=lambda p: p[0])
    l = max(pts, key=lambda p: p[0])
    check_series(a, "first() across nodes is the earliest point",
                 "SELECT first(value) FROM %s WHERE %s" % (MEAS, rng),
                 [(MEAS, None, ["time", "first"], [[f[0], f[3]]])])
    check_series(a, "last() across nodes is the latest point",
                 "SELECT last(value) FROM %s WHERE %s" % (MEAS, rng),
                 [(MEAS, None, ["time", "last"], [[l[0], l[3]]])])

    # raw points merged by time
    check_series(a, "raw points from every node merged by time",
                 "SELECT value, n FROM %s WHERE %s" % (MEAS, rng),
                 [(MEAS, None, ["time", "value", "n"],
                   [[p[0], p[3], p[4]] for p in pts])])
    desc = sorted(pts, reverse=True)[3:3 + 7]
    check_series(a, "raw ORDER BY time DESC LIMIT 7 OFFSET 3 after the merge",
                 "SELECT value FROM %s WHERE %s ORDER BY time DESC LIMIT 7 "
                 "OFFSET 3" % (MEAS, rng),
                 [(MEAS, None, ["time", "value"],
                   [[p[0], p[3]] for p in desc])])

    # grouped by the shard tag: any function, each series from one node
    want = []
    for j in jobs(a.jobs):
        v = [p[3] for p in pts if p[1] == j]
        want.append((MEAS, {"job_name": j}, ["time", "median"],
                     [[T0 * 1000, statistics.median(v)]]))
    check_series(a, "median() GROUP BY job_name: each job's own median",
                 "SELECT median(value) FROM %s WHERE %s GROUP BY job_name"
                 % (MEAS, rng), want)
    check_series(a, "SLIMIT 3 SOFFSET 2 apply to the merged series",
                 "SELECT median(value) FROM %s WHERE %s GROUP BY job_name "
                 "SLIMIT 3 SOFFSET 2" % (MEAS, rng), want[2:5])

    # a non-decomposable function over several nodes: the documented error
    st, doc = influxql(a.proxy, a.db,
                       "SELECT median(value) FROM %s WHERE %s" % (MEAS, rng),
                       post=a.post)
    err = doc and doc["results"][0].get("error", "")
    tap(st == 200 and err and "does not merge" in err and "job_name" in err,
        "median() over several nodes is refused, naming job_name", doc)

    # subqueries grouped by the shard tag (the dashboards' variable and
    # stat queries): raw rows unioned, outer aggregates combined
    last = {}
    for p in pts:
        if p[1] not in last or p[0] > last[p[1]][0]:
            last[p[1]] = p
    rows = sorted([[p[0], j, p[3]] for j, p in last.items()],
                  key=lambda r: (r[0], json.dumps(r)))
    check_series(a, "a variable query over a subquery: every job's last "
                 "value",
                 "SELECT \"job_name\", \"v\" FROM (SELECT last(\"value\") AS "
                 "\"v\" FROM %s WHERE %s GROUP BY \"job_name\")" % (MEAS, rng),
                 [(MEAS, None, ["time", "job_name", "v"], rows)])
    q = ("SELECT sum(\"x\"), max(\"x\") FROM (SELECT last(\"n\") AS \"x\" "
         "FROM %s WHERE %s GROUP BY \"job_name\")" % (MEAS, rng))
    # the time influxd gives an outer aggregate without a range is its
    # own convention: taken from a node, the values from the raw points
    st, one = influxql(list(nodes.values())[0], a.db, q)
    t_conv = series_of(one)[0][0]["values"][0][0]
    lasts = [p[4] for p in last.values()]
    check_series(a, "a stat query over a subquery: sum and max of every "
                 "job's last value", q,
                 [(MEAS, None, ["time", "sum", "max"],
                   [[t_conv, sum(lasts), max(lasts)]])])
    st, doc = influxql(a.proxy, a.db,
                       "SELECT count(\"v\") FROM (SELECT last(\"value\") AS "
                       "\"v\" FROM %s WHERE %s)" % (MEAS, rng), post=a.post)
    err = doc and doc["results"][0].get("error", "")
    tap(st == 200 and err and "GROUP BY \"job_name\" at every level" in err,
        "a subquery not grouped by job_name over several nodes is refused",
        doc)

    # SHOW statements merge as sets
    check_series(a, "SHOW TAG VALUES WITH KEY = job_name: every job",
                 "SHOW TAG VALUES FROM %s WITH KEY = job_name" % MEAS,
                 [(MEAS, None, ["key", "value"],
                   [["job_name", j] for j in jobs(a.jobs)])])
    meas = set()
    for url in nodes.values():
        st, doc = influxql(url, a.db, "SHOW MEASUREMENTS")
        for s in doc["results"][0].get("series", []):
            meas.update(v[0] for v in s["values"])
    check_series(a, "SHOW MEASUREMENTS: the union of the nodes'",
                 "SHOW MEASUREMENTS",
                 [("measurements", None, ["name"], [[m] for m in sorted(meas)])])
    check_series(a, "SHOW FIELD KEYS", "SHOW FIELD KEYS FROM %s" % MEAS,
                 [(MEAS, None, ["fieldKey", "fieldType"],
                   [["n", "integer"], ["value", "float"]])])

    # several statements in one request, each with its statement_id
    st, doc = influxql(a.proxy, a.db,
                       "SELECT count(value) FROM %s WHERE %s; SHOW DATABASES"
                       % (MEAS, rng), post=a.post)
    ids = [r.get("statement_id") for r in doc["results"]] if doc else None
    cnt = doc["results"][0]["series"][0]["values"][0][1] if doc else None
    tap(ids == [0, 1] and cnt == len(pts),
        "two statements: ids 0 and 1, the count of every point", doc)


def write_lines(jobs_, t0_ms, bad=False):
    """Flink InfluxdbReporter-shaped lines (precision=ms): per job a
    jobmanager gauge and an operator counter with task tags."""
    out = []
    for i, j in enumerate(jobs_):
        out.append("jobmanager_job_numRestarts,host=jm-1,job_id=id%d,"
                   "job_name=%s value=%di %d" % (i, j, i, t0_ms + i))
        out.append("taskmanager_job_task_operator_numRecordsIn,host=tm-%d,"
                   "job_name=%s,operator_name=Source:\\ kafka,subtask_index=0,"
                   "task_name=Source count=%di,rate=%r %d"
                   % (i % 3, j, 1000 + i, i * 0.5 + 0.125, t0_ms + i))
        if bad and i == len(jobs_) // 2:
            out.append("broken_line_without_fields")
    return out


def do_checkwrite(a, nodes):
    """Every point of write_lines() on its owners only, exact values."""
    own = owners(a.ring_cmd, a.write_jobs)
    ok_place, diag = True, []
    for i, j in enumerate(a.write_jobs):
        for n, url in nodes.items():
            st, doc = influxql(url, a.db,
                               "SELECT value FROM jobmanager_job_numRestarts "
                               "WHERE job_name = '%s'; SELECT count, rate "
                               "FROM taskmanager_job_task_operator_numRecordsIn"
                               " WHERE job_name = '%s' AND operator_name = "
                               "'Source: kafka'" % (j, j))
            r = doc["results"] if doc else []
            s0 = r[0].get("series") if len(r) > 0 else None
            s1 = r[1].get("series") if len(r) > 1 else None
            if n in own[j]:
                want0 = [[a.t0_ms + i, i]]
                want1 = [[a.t0_ms + i, 1000 + i, i * 0.5 + 0.125]]
                got0 = s0[0]["values"] if s0 else None
                got1 = s1[0]["values"] if s1 else None
                if got0 != want0 or not got1 or not same_rows(got1, want1):
                    ok_place = False
                    diag.append("%s on owner %s: %s %s" % (j, n, got0, got1))
            elif s0 or s1:
                ok_place = False
                diag.append("%s also on %s (owners %s)" % (j, n, own[j]))
    tap(ok_place, "each written point is on its owner(s) only, with exact "
        "values (%d jobs)" % len(a.write_jobs), "\n".join(diag[:20]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["write", "check", "lines", "checkwrite"])
    ap.add_argument("--write-jobs", default="")
    ap.add_argument("--t0-ms", type=int, default=1700001000000)
    ap.add_argument("--bad", action="store_true")
    ap.add_argument("--db", required=True)
    ap.add_argument("--ring-cmd", required=True)
    ap.add_argument("--node", action="append", default=[])
    ap.add_argument("--proxy")
    ap.add_argument("--jobs", type=int, default=30)
    ap.add_argument("--post", action="store_true",
                    help="ask the proxy with POST /query (form body)")
    a = ap.parse_args()
    nodes = dict(n.split("=", 1) for n in a.node)
    a.write_jobs = [j for j in a.write_jobs.split(",") if j]
    if a.mode == "lines":
        print("\n".join(write_lines(a.write_jobs, a.t0_ms, a.bad)))
        return 0
    if a.mode == "checkwrite":
        do_checkwrite(a, nodes)
    elif a.mode == "write":
        do_write(a, nodes)
    else:
        do_check(a, nodes)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
