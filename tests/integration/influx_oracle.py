#!/usr/bin/env python3
"""Independent oracle for the reporter -> trim -> ring -> InfluxDB path.

Parses the same exposition files lagwatch scraped (with its own small
parser, sharing no code with lagwatch), applies the documented default trim
rules (lagwatch(8), DATA WRITTEN TO INFLUXDB, and lagwatch.yml(5)), and compares
the expected series, fields and placement with what every InfluxDB node
holds, read back over InfluxQL.

usage: influx_oracle.py --db flink --agent NAME --ring-cmd "lagwatch ring -c F"
                        --node NAME=URL ... --expo CLUSTER=FILE ...
Prints TAP lines (no plan); exits 1 on any mismatch.
"""
import argparse
import json
import math
import re
import subprocess
import sys
import urllib.parse
import urllib.request

DROP_LABELS = ["task_attempt_id", "task_attempt_num", "tm_id", "host"]
DROP_MATCH = r"flink_taskmanager_job_.*"
FOLD_METRICS = [r"numRecords.*", r"numBytes.*", r".*TimeMsPerSecond"]
QUANTILE_FIELDS = {"0.5": "p50", "0.75": "p75", "0.95": "p95",
                   "0.98": "p98", "0.99": "p99", "0.999": "p999"}

SAMPLE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?\s+(\S+)(\s+-?\d+)?\s*$')
LABEL_RE = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?')


def unescape(v):
    out, i = [], 0
    while i < len(v):
        c = v[i]
        if c == "\\" and i + 1 < len(v):
            n = v[i + 1]
            out.append({"n": "\n", "\\": "\\", '"': '"'}.get(n, "\\" + n))
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def normalize(v):
    # Flink's PrometheusReporter filter, per character.
    return "".join(c if re.match(r"[A-Za-z0-9:_]", c) else "_" for c in v)


def parse_expo(path):
    """Yields (name, family, metric, type, labels, value)."""
    family, ftype, helps = None, "untyped", {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("# HELP "):
                parts = line.split(" ", 3)
                helps[parts[2]] = parts[3] if len(parts) > 3 else ""
                continue
            if line.startswith("# TYPE "):
                parts = line.split()
                family, ftype = parts[2], parts[3]
                continue
            if not line.strip() or line.startswith("#"):
                continue
            m = SAMPLE_RE.match(line)
            if not m:
                raise ValueError("oracle cannot parse: " + line[:120])
            name, lbl, val = m.group(1), m.group(2) or "{}", m.group(3)
            labels = {}
            body = lbl[1:-1]
            pos = 0
            while pos < len(body):
                lm = LABEL_RE.match(body, pos)
                if not lm:
                    raise ValueError("oracle cannot parse labels: " + body[pos:pos + 60])
                labels[lm.group(1)] = unescape(lm.group(2))
                pos = lm.end()
            fam = family if family and (name == family or name in (
                family + "_count", family + "_sum", family + "_bucket")) else name
            typ = ftype if fam == family else "untyped"
            help_text = helps.get(fam, "")
            hm = re.match(r"^(\S+) \(scope: (\S+)\)$", help_text)
            if hm and fam == "flink_" + hm.group(2) + "_" + hm.group(1):
                metric = hm.group(1)
            else:
                metric = fam.rsplit("_", 1)[-1]
            yield name, fam, metric, typ, labels, float(val)


def expected_series(expos):
    plain = {}
    folds = {}
    for cluster, path in expos:
        for name, fam, metric, typ, labels, value in parse_expo(path):
            labels = dict(labels)
            labels["flink_cluster"] = cluster
            if re.fullmatch(DROP_MATCH, name):
                for d in DROP_LABELS:
                    labels.pop(d, None)
            if "job_name" in labels:
                labels["job_name"] = normalize(labels["job_name"])
            labels = {k: v for k, v in labels.items() if v != ""}
            meas = fam[len("flink_"):] if fam.startswith("flink_") else fam
            if typ in ("summary", "histogram"):
                if name == fam + "_count":
                    field = "count"
                elif name == fam + "_sum":
                    field = "sum"
                elif "quantile" in labels:
                    q = labels.pop("quantile")
                    field = QUANTILE_FIELDS.get(q, "q" + q.replace(".", ""))
                else:
                    field = "*"
            else:
                field = "*"
            fold = (field == "*" and "subtask_index" in labels and
                    any(re.fullmatch(p, metric) for p in FOLD_METRICS))
            if fold:
                tags = dict(labels)
                del tags["subtask_index"]
                key = (meas, frozenset(tags.items()))
                agg = folds.setdefault(key, [None, 0.0, 0])
                if math.isfinite(value):
                    agg[0] = value if agg[0] is None else max(agg[0], value)
                    agg[1] += value
                    agg[2] += 1
                continue
            if not math.isfinite(value):
                continue
            key = (meas, frozenset(labels.items()))
            plain.setdefault(key, {})[field] = value
    exp = dict(plain)
    for key, (mx, sm, n) in folds.items():
        if n == 0:
            continue
        exp.setdefault(key, {}).update({"max": mx, "sum": sm, "avg": sm / n})
    return exp


def query(url, db, q):
    data = urllib.parse.urlencode({"db": db, "q": q, "epoch": "ms"}).encode()
    with urllib.request.urlopen(url + "/query", data=data, timeout=30) as r:
        doc = json.load(r)
    res = doc["results"][0]
    if "error" in res:
        raise RuntimeError(res["error"])
    return res.get("series", [])


def stored_series(url, db):
    out = {}
    for s in query(url, db, "SHOW MEASUREMENTS LIMIT 100000"):
        for (meas,) in s["values"]:
            qm = '"' + meas.replace("\\", "\\\\").replace('"', '\\"') + '"'
            for ser in query(url, db, "SELECT * FROM " + qm + " GROUP BY *"):
                tags = {k: v for k, v in ser.get("tags", {}).items() if v != ""}
                cols = ser["columns"]
                rows = ser["values"]
                fields = {}
                for row in rows:
                    for c, v in zip(cols, row):
                        if c != "time" and v is not None:
                            fields[c] = v
                out[(meas, frozenset(tags.items()))] = (fields, len(rows))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", default="flink")
    ap.add_argument("--agent", required=True)
    ap.add_argument("--ring-cmd", required=True)
    ap.add_argument("--node", action="append", default=[])
    ap.add_argument("--expo", action="append", default=[])
    a = ap.parse_args()
    nodes = [n.split("=", 1) for n in a.node]
    expos = [e.split("=", 1) for e in a.expo]
    exp = expected_series(expos)

    keys = sorted({dict(k[1]).get("job_name", "") for k in exp} - {""})
    keys.append(a.agent)
    cmd = a.ring_cmd.split() + sum((["--key", k] for k in keys), [])
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    owner = {}
    for line in out.splitlines():
        if "\t" in line:
            k, o = line.split("\t", 1)
            owner[k] = o.split(",")[0]

    failures = 0
    n = 0

    def check(ok, desc, detail=""):
        nonlocal failures, n
        n += 1
        print(("ok" if ok else "not ok") + " - oracle: " + desc)
        if not ok:
            failures += 1
            for l in str(detail).splitlines()[:20]:
                print("# " + l)

    where = {}
    stored = {}
    for name, url in nodes:
        s = stored_series(url, a.db)
        for key, val in s.items():
            where.setdefault(key, []).append(name)
            stored[key] = val
        print("# node %s holds %d series" % (name, len(s)))
    print("# expected %d series" % len(exp))

    missing = [k for k in exp if k not in stored]
    extra = [k for k in stored if k not in exp]
    check(not missing, "every expected series is stored (%d)" % len(exp),
          "\n".join("missing %s %s" % (k[0], dict(k[1])) for k in missing[:10]))
    check(not extra, "no unexpected series stored",
          "\n".join("extra %s %s" % (k[0], dict(k[1])) for k in extra[:10]))
    dup = [k for k, w in where.items() if len(w) != 1]
    check(not dup, "every series is on exactly one node",
          "\n".join("%s on %s" % (k[0], where[k]) for k in dup[:10]))
    misplaced = []
    for key, w in where.items():
        job = dict(key[1]).get("job_name")
        want = owner.get(job if job else a.agent)
        if w[0] != want:
            misplaced.append("%s job=%s on %s, owner %s" % (key[0], job, w, want))
    check(not misplaced, "every series is on its ring owner",
          "\n".join(misplaced[:10]))
    multi = [k for k, (f, rows) in stored.items() if rows != 1]
    check(not multi, "one point per series (one cycle, one timestamp)",
          "\n".join(str(k) for k in multi[:5]))

    bad = []
    for key, fields in exp.items():
        if key not in stored:
            continue
        got = stored[key][0]
        for f, v in fields.items():
            if f == "*":
                cands = [c for c in ("count", "rate", "value") if c in got]
                if len(cands) != 1:
                    bad.append("%s %s: fields %s" % (key[0], dict(key[1]), sorted(got)))
                    continue
                g = got[cands[0]]
                want = round(v) if cands[0] == "count" else v
            else:
                if f not in got:
                    bad.append("%s %s: no field %s" % (key[0], dict(key[1]), f))
                    continue
                g, want = got[f], v
            if isinstance(want, float):
                # InfluxDB's JSON writes large floats without an exponent
                # (-9223372036854776000): read them back as floats.
                g = float(g)
            if f in ("avg", "sum"):
                # Subtasks are folded in the order the concurrent scrapes
                # deliver them, so the last bits of a sum may differ.
                ok = math.isclose(g, want, rel_tol=1e-12, abs_tol=1e-12)
            else:
                ok = g == want
            if not ok:
                bad.append("%s %s %s: want %r got %r" % (key[0], dict(key[1]), f, want, g))
    check(not bad, "every field value round-trips exactly", "\n".join(bad[:10]))

    per_meas = {}
    for key in exp:
        per_meas[key[0]] = per_meas.get(key[0], 0) + 1
    got_meas = {}
    for key in stored:
        got_meas[key[0]] = got_meas.get(key[0], 0) + 1
    diff = ["%s: want %d got %d" % (m, c, got_meas.get(m, 0))
            for m, c in sorted(per_meas.items()) if got_meas.get(m, 0) != c]
    check(not diff, "series count per measurement (%d measurements)" % len(per_meas),
          "\n".join(diff[:10]))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
