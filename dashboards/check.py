#!/usr/bin/env python3
"""check.py: checks of the Grafana dashboards and alert rules, for
tests/integration/dashboards.sh (standard library only, plus PyYAML for
the alert file). Prints unnumbered TAP lines ("ok - x" / "not ok - x").

    check.py generated SRCDIR
        the committed files under SRCDIR/dashboards are what gen.py makes
    check.py lint SCHEMA_VERSION DASHBOARD...
        unique panel ids, gridPos inside 24 columns, datasource only
        through the variable, every $var defined, units set, no __inputs,
        schemaVersion current, query variables time-bounded
    check.py live METRICS_TXT PROM_URL NODE=URL... -- DASHBOARD... --alerts FILE
        every panel target and variable query, with Grafana's macros and
        the variables' real values substituted, runs against the live
        influxd nodes / Prometheus, parses and returns a series; every
        measurement, field, tag, metric and label a query names is one
        the live run emitted; the InfluxQL alert rules fire where the
        Prometheus rules do
"""

import json
import os
import re
import sys
import time
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
BUILTIN = {"timeFilter", "__timeFilter", "__interval", "__interval_ms",
           "__rate_interval", "__range", "__range_s", "__all", "__from",
           "__to", "__name"}
VAR_RE = re.compile(r"\$\{([A-Za-z0-9_]+)(?::[^}]*)?\}|\[\[([A-Za-z0-9_]+)"
                    r"(?::[^\]]*)?\]\]|\$([A-Za-z_][A-Za-z0-9_]*)")


class Tap:
    def __init__(self):
        self.failed = 0

    def check(self, cond, msg, diag=()):
        print(("ok - " if cond else "not ok - ") + msg)
        if not cond:
            self.failed += 1
            for d in list(diag)[:25]:
                print("# " + str(d))


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def all_panels(dash):
    for p in dash.get("panels", []):
        yield p
        for q in p.get("panels", []) or []:
            yield q


def short(path):
    """dashboards/influxdb/x.json, wherever the tree is."""
    parts = os.path.abspath(path).split(os.sep)
    return "/".join(parts[-3:])


def query_of(target):
    return target.get("query", target.get("expr", ""))


def used_vars(text):
    out = set()
    for m in VAR_RE.finditer(text):
        name = m.group(1) or m.group(2) or m.group(3)
        if name.startswith("tag_") or name.startswith("__") and \
                name in BUILTIN:
            continue
        if name in BUILTIN:
            continue
        out.add(name)
    return out


# ------------------------------------------------------------ generated

def cmd_generated(srcdir):
    sys.path.insert(0, HERE)
    import gen
    t = Tap()
    files = gen.generated_files()
    stale = []
    for path, text in sorted(files.items()):
        full = os.path.join(srcdir, "dashboards", path)
        try:
            with open(full, encoding="utf-8") as f:
                same = f.read() == text
        except OSError:
            same = False
        if not same:
            stale.append(path)
    t.check(not stale, "the committed dashboards and provisioning files "
            "are what dashboards/gen.py generates (else: python3 "
            "dashboards/gen.py write dashboards)", stale)
    extra = []
    for sub in ("influxdb", "prometheus", "alerting"):
        d = os.path.join(srcdir, "dashboards", sub)
        for name in sorted(os.listdir(d)) if os.path.isdir(d) else []:
            if "%s/%s" % (sub, name) not in files:
                extra.append("%s/%s" % (sub, name))
    t.check(not extra, "no dashboard file that gen.py does not make", extra)
    return t.failed


# ------------------------------------------------------------ lint

def lint_one(t, path, dash, schema_version):
    name = short(path)
    kind = "influxdb" if "/influxdb/" in path else "prometheus"
    dsvar = "node" if kind == "influxdb" else "datasource"
    t.check("__inputs" not in dash and "__requires" not in dash,
            "%s: no __inputs/__requires (provisioned as is)" % name)
    t.check(dash.get("schemaVersion") == schema_version,
            "%s: schemaVersion %s is the current one (%d)"
            % (name, dash.get("schemaVersion"), schema_version))
    t.check(isinstance(dash.get("uid"), str) and
            0 < len(dash["uid"]) <= 40, "%s: a uid of 1..40 characters"
            % name)
    panels = list(all_panels(dash))
    ids = [p.get("id") for p in panels]
    dup = sorted({i for i in ids if ids.count(i) > 1 or i is None},
                 key=str)
    t.check(panels and not dup, "%s: %d panels, unique ids" %
            (name, len(panels)), ["duplicate or missing id %s" % d
                                  for d in dup])
    bad, cells = [], {}
    for p in panels:
        g = p.get("gridPos") or {}
        x, y, w, h = (g.get(k) for k in ("x", "y", "w", "h"))
        if not all(isinstance(v, int) for v in (x, y, w, h)) or x < 0 or \
                y < 0 or w < 1 or h < 1 or x + w > 24:
            bad.append("panel %s: gridPos %s" % (p.get("id"), g))
            continue
        for cx in range(x, x + w):
            for cy in range(y, y + h):
                if (cx, cy) in cells:
                    bad.append("panel %s overlaps panel %s"
                               % (p.get("id"), cells[(cx, cy)]))
                    break
                cells[(cx, cy)] = p.get("id")
            else:
                continue
            break
    t.check(not bad, "%s: gridPos inside 24 columns, no overlap" % name,
            bad)

    # Datasources: every reference, anywhere, is the variable.
    want = "${%s}" % dsvar
    refs = []

    def walk(o, where):
        if isinstance(o, dict):
            for k, v in o.items():
                if k == "datasource" and isinstance(v, dict):
                    if v.get("uid") != want or v.get("type") != kind:
                        refs.append("%s: %s" % (where, v))
                elif k == "datasource" and v is not None:
                    refs.append("%s: %r" % (where, v))
                else:
                    walk(v, where + "." + k)
        elif isinstance(o, list):
            for i, v in enumerate(o):
                walk(v, "%s[%d]" % (where, i))
    walk(dash, "dashboard")
    dsvars = [v for v in dash["templating"]["list"]
              if v.get("type") == "datasource"]
    t.check(not refs and len(dsvars) == 1 and dsvars[0]["name"] == dsvar
            and dsvars[0].get("query") == kind,
            "%s: datasources only through the variable $%s (type %s)"
            % (name, dsvar, kind), refs)

    defined = [v["name"] for v in dash["templating"]["list"]]
    texts = [json.dumps(dash.get("links", []))]
    for v in dash["templating"]["list"]:
        if v.get("type") == "query":
            texts.append(v["query"])
    for p in panels:
        texts.append(p.get("title", ""))
        for tg in p.get("targets", []):
            texts.append(query_of(tg))
            texts.append(tg.get("alias", tg.get("legendFormat", "")))
    undefined = sorted(set().union(*(used_vars(x) for x in texts)) -
                       set(defined))
    t.check(not undefined, "%s: every $variable used is defined" % name,
            undefined)
    order = []
    for i, v in enumerate(dash["templating"]["list"]):
        if v.get("type") == "query":
            later = used_vars(v["query"]) - set(defined[:i])
            if later:
                order.append("%s uses %s" % (v["name"], sorted(later)))
    t.check(not order, "%s: variables refer only to earlier ones" % name,
            order)

    nounit = [p.get("title") for p in panels if p.get("type") != "row"
              and not p.get("fieldConfig", {}).get("defaults", {})
              .get("unit")]
    t.check(not nounit, "%s: every panel sets a unit" % name, nounit)
    notarget = [p.get("title") for p in panels if p.get("type") != "row"
                and not p.get("targets")]
    t.check(not notarget, "%s: every panel has a query" % name, notarget)

    # InfluxDB 1.x SHOW TAG VALUES ignores the time range (inmem index):
    # dead jobs would fill the dropdowns.
    unbounded = []
    for v in dash["templating"]["list"]:
        if v.get("type") != "query":
            continue
        q = v["query"]
        if kind == "influxdb" and ("$timeFilter" not in q or
                                   "SHOW" in q.upper().split()):
            unbounded.append(v["name"])
        if kind == "prometheus" and not q.startswith("label_values("):
            unbounded.append(v["name"])
        if v.get("refresh") != 2:
            unbounded.append("%s: refresh %s, want 2 (on time range "
                             "change)" % (v["name"], v.get("refresh")))
    t.check(not unbounded, "%s: variable queries bounded by the time range"
            % name, unbounded)


def cmd_lint(schema_version, paths):
    t = Tap()
    uids = {}
    for path in paths:
        try:
            dash = load(path)
        except (OSError, ValueError) as e:
            t.check(False, "%s: valid JSON" % path, [str(e)])
            continue
        lint_one(t, path, dash, schema_version)
        uids.setdefault(dash.get("uid"), []).append(path)
    dup = ["%s: %s" % (u, p) for u, p in uids.items() if len(p) > 1]
    t.check(not dup, "dashboard uids are unique", dup)
    return t.failed


# ------------------------------------------------------------ live

def http_json(url, params):
    full = url + "?" + urllib.parse.urlencode(params, doseq=True)
    try:
        with urllib.request.urlopen(full, timeout=10) as r:
            return json.load(r)
    except urllib.error.HTTPError as e:
        try:
            return json.load(e)
        except ValueError:
            return {"error": "HTTP %d" % e.code}
    except (OSError, ValueError) as e:
        return {"error": str(e)}


def influx(url, q):
    """(series list, error)"""
    d = http_json(url + "/query", {"db": "flink", "q": q, "epoch": "ms"})
    if "error" in d:
        return [], d["error"]
    res = d.get("results", [{}])[0]
    if "error" in res:
        return [], res["error"]
    return res.get("series", []), None


def prom(url, path, params):
    d = http_json(url + path, params)
    if d.get("status") != "success":
        return [], d.get("error", "status %s" % d.get("status"))
    return d["data"] if path.endswith("series") else \
        d["data"]["result"], None


def regex_all(values, kind):
    """Grafana's "All" for a multi-value variable in a regex: (a|b|c),
    each value escaped; inside a PromQL string the backslash itself is
    escaped, as Grafana's Prometheus datasource does."""
    esc = r"\\\1" if kind == "influxdb" else r"\\\\\1"
    return "(" + "|".join(re.sub(r"([\\/.*+?^${}()|\[\]])", esc, v)
                          for v in sorted(values)) + ")"


class Ctx:
    def __init__(self, prom_url, nodes, start_ms, end_ms):
        self.prom_url, self.nodes = prom_url, nodes
        self.start_ms, self.end_ms = start_ms, end_ms

    def macros(self, q, kind):
        if kind == "influxdb":
            q = q.replace("$timeFilter", "time >= %dms and time <= %dms"
                          % (self.start_ms, self.end_ms))
        rng = "%ds" % ((self.end_ms - self.start_ms) // 1000)
        # 1s cycles and scrapes in the test: Grafana's $__interval for a
        # short range, $__rate_interval = max(interval + scrape, 4 scrapes).
        return (q.replace("$__rate_interval", "4s")
                .replace("$__interval", "1s").replace("$__range", rng))


def subst(q, values):
    def rep(m):
        name = m.group(1) or m.group(2) or m.group(3)
        return values.get(name, m.group(0))
    return VAR_RE.sub(rep, q)


def resolve_vars(ctx, dash, kind, node_url):
    """Runs the variable queries in order; returns ({name: substituted},
    {name: [values]}, [problems])."""
    values, lists, problems = {}, {}, []
    for v in dash["templating"]["list"]:
        if v["type"] == "textbox":
            values[v["name"]] = v["query"]
            continue
        if v["type"] != "query":
            continue
        q = ctx.macros(subst(v["query"], values), kind)
        found = set()
        if kind == "influxdb":
            series, err = influx(node_url, q)
            for s in series:
                for row in s.get("values", []):
                    val = row[1] if len(row) > 1 else row[0]
                    if val is not None:
                        found.add(str(val))
        else:
            m = re.match(r"label_values\((.*),\s*(\w+)\)$", q)
            if not m:
                problems.append("%s: not label_values(): %s" % (v["name"], q))
                continue
            data, err = prom(ctx.prom_url, "/api/v1/series",
                             {"match[]": m.group(1),
                              "start": ctx.start_ms / 1000,
                              "end": ctx.end_ms / 1000})
            for s in data:
                if m.group(2) in s:
                    found.add(s[m.group(2)])
        if err:
            problems.append("%s: %s: %s" % (v["name"], err, q))
        if not found:
            problems.append("%s: no values from %s" % (v["name"], q))
        lists[v["name"]] = sorted(found)
        values[v["name"]] = regex_all(found, kind) if v.get("multi") else \
            (sorted(found)[0] if found else "")
    return values, lists, problems


def run_target(ctx, kind, node_url, tg, values):
    q = ctx.macros(subst(query_of(tg), values), kind)
    if kind == "influxdb":
        series, err = influx(node_url, q)
        return q, len(series), err
    if tg.get("instant"):
        res, err = prom(ctx.prom_url, "/api/v1/query",
                        {"query": q, "time": ctx.end_ms / 1000})
    else:
        res, err = prom(ctx.prom_url, "/api/v1/query_range",
                        {"query": q, "start": ctx.start_ms / 1000,
                         "end": ctx.end_ms / 1000, "step": 1})
    return q, len(res), err


def check_dashboard(t, ctx, path, dash):
    name = short(path)
    kind = "influxdb" if "/influxdb/" in path else "prometheus"
    places = sorted(ctx.nodes.items()) if kind == "influxdb" else \
        [("prometheus", None)]
    used = []
    for node, url in places:
        values, lists, problems = resolve_vars(ctx, dash, kind, url)
        if problems:
            print("# %s on %s: variables do not resolve (%s)"
                  % (name, node, problems[0]))
            continue
        used.append(node)
        print("# %s on %s: %s" % (name, node, ", ".join(
            "%s=%s" % (k, v) for k, v in lists.items())))
        for p in all_panels(dash):
            for tg in p.get("targets", []):
                q, n, err = run_target(ctx, kind, url, tg, values)
                t.check(not err and n > 0,
                        "%s on %s: panel '%s' %s returns %d series"
                        % (name, node, p["title"], tg["refId"], n),
                        ["error: %s" % err, "query: %s" % q])
    t.check(used, "%s: the variables resolve to real values on %s"
            % (name, " or ".join(n for n, _ in places)))


def check_proxy(t, ctx, path, dash, proxy_url):
    """The dashboard through lagwatch's InfluxDB proxy (lagwatch(8), PROXY)
    against the nodes queried directly: every variable lists the union of
    the nodes' values, and every panel, with one node's variable values
    (its jobs: routed to that node), answers exactly what that node does."""
    name = short(path)
    union = {}
    for node, url in sorted(ctx.nodes.items()):
        _, lists, _ = resolve_vars(ctx, dash, "influxdb", url)
        for k, v in lists.items():
            union.setdefault(k, set()).update(v)
    _, plists, problems = resolve_vars(ctx, dash, "influxdb", proxy_url)
    want = {k: sorted(v) for k, v in union.items()}
    t.check(not problems and plists == want,
            "%s through the proxy: every variable lists the union of the "
            "nodes' values" % name,
            ["proxy: %s" % plists, "nodes: %s" % want] + problems[:3])
    for node, url in sorted(ctx.nodes.items()):
        values, _, problems = resolve_vars(ctx, dash, "influxdb", url)
        if problems:
            continue
        for p in all_panels(dash):
            for tg in p.get("targets", []):
                q = ctx.macros(subst(query_of(tg), values), "influxdb")
                direct, derr = influx(url, q)
                via, perr = influx(proxy_url, q)
                t.check(not derr and not perr and via == direct and direct,
                        "%s through the proxy, %s's values: panel '%s' %s "
                        "equals %s's own answer (%d series)"
                        % (name, node, p["title"], tg["refId"], node,
                           len(direct)),
                        ["proxy error: %s" % perr, "query: %s" % q,
                         "proxy: %s" % json.dumps(via)[:600],
                         "node: %s" % json.dumps(direct)[:600]])


# --- contract: names in queries against what the live run emitted

def influx_schema(nodes):
    meas = {}
    for url in nodes.values():
        for what in ("FIELD", "TAG"):
            series, _ = influx(url, "SHOW %s KEYS" % what)
            for s in series:
                keys = meas.setdefault(s["name"], set())
                keys.update(r[0] for r in s.get("values", []))
    return meas


def influx_names(q):
    meas = re.findall(r'FROM\s+"([^"]+)"', q)
    aliases = set(re.findall(r'AS\s+"([^"]+)"', q))
    idents = set(re.findall(r'"([^"]+)"', q)) - set(meas) - aliases
    return meas, idents


PROM_WORDS = {"by", "without", "on", "ignoring", "group_left",
              "group_right", "bool", "offset", "and", "or", "unless", "inf",
              "nan", "Inf", "NaN"}


def prom_names(q):
    m = re.match(r"label_values\((.*),\s*(\w+)\)$", q)
    extra_labels = set()
    if m:
        q, extra_labels = m.group(1), {m.group(2)}
    labels = set(extra_labels)
    for body in re.findall(r"\{([^}]*)\}", q):
        labels.update(re.findall(r"([A-Za-z_]\w*)\s*(?:=~|!~|!=|=)", body))
    for lst in re.findall(r"\b(?:by|without|on|ignoring)\s*\(([^)]*)\)", q):
        labels.update(x.strip() for x in lst.split(",") if x.strip())
    bare = re.sub(r'"(?:[^"\\]|\\.)*"', "", q)
    bare = re.sub(r"\{[^}]*\}|\[[^\]]*\]", " ", bare)
    bare = re.sub(r"\b(?:by|without|on|ignoring)\s*\([^)]*\)", " ", bare)
    metrics = set()
    for mm in re.finditer(r"[A-Za-z_:][\w:]*", bare):
        word = mm.group(0)
        rest = bare[mm.end():].lstrip()
        if word in PROM_WORDS or rest.startswith("("):
            continue
        if mm.start() > 0 and (bare[mm.start() - 1].isdigit() or
                               bare[mm.start() - 1] == "."):
            continue
        metrics.add(word)
    return metrics, labels


def check_contract(t, ctx, metrics_txt, dashes, alert_queries):
    sys.path.insert(0, os.path.join(HERE, "..", "metrics"))
    import catalog
    fams = catalog.parse_exposition(metrics_txt)
    sample_labels = {}
    for fam in fams.values():
        for sname, labels, _ in fam["samples"]:
            sample_labels.setdefault(sname, set()).update(labels)
    schema = influx_schema(ctx.nodes)
    bad_i, bad_p, n_i, n_p = [], [], 0, 0
    queries = list(alert_queries)
    for path, dash in dashes:
        kind = "influxdb" if "/influxdb/" in path else "prometheus"
        for v in dash["templating"]["list"]:
            if v["type"] == "query":
                queries.append((kind, v["query"]))
        for p in all_panels(dash):
            for tg in p.get("targets", []):
                queries.append((kind, query_of(tg)))
    for kind, q in queries:
        if kind == "influxdb":
            meas, idents = influx_names(q)
            for m in meas:
                n_i += 1
                if m not in schema:
                    bad_i.append("measurement %s not written" % m)
            known = set().union(*(schema.get(m, set()) for m in meas))
            for f in sorted(idents - known):
                bad_i.append("%s: no field or tag %s" % ("/".join(meas), f))
        else:
            metrics, labels = prom_names(q)
            n_p += len(metrics)
            for m in sorted(metrics):
                if m not in sample_labels:
                    bad_p.append("metric %s not emitted" % m)
            have = set().union(*(sample_labels.get(m, set())
                                 for m in metrics)) | \
                catalog.TARGET_LABELS | {"__name__"}
            for lab in sorted(labels - have):
                bad_p.append("%s: no label %s" % (",".join(sorted(metrics)),
                                                  lab))
    t.check(n_i > 0 and not bad_i, "every measurement, field and tag the "
            "InfluxQL queries name was written by the live run (%d "
            "measurement references)" % n_i, sorted(set(bad_i)))
    t.check(n_p > 0 and not bad_p, "every metric and label the PromQL "
            "queries name was emitted by the live run (%d metric "
            "references)" % n_p, sorted(set(bad_p)))


# --- alerts: the InfluxQL rules against the Prometheus rules

# Grafana alert uid prefix -> (Prometheus expression of the same alert,
# labels that identify an instance in InfluxDB, in Prometheus).
PROM_TWIN = {
    "lw-kafka-lag-high": ("lagwatch_kafka_group_topic_max_lag_seconds > 300 "
                          "< +Inf", ("group", "topic"), ("group", "topic")),
    "lw-kafka-lag-critical": ("lagwatch_kafka_group_topic_max_lag_seconds > "
                              "1800 < +Inf", ("group", "topic"),
                              ("group", "topic")),
    "lw-job-not-running": ("last_over_time(lagwatch_job_running[1h]) == 0",
                           ("job_name",), ("job_name",)),
    "lw-checkpoints-failing": ("increase(lagwatch_job_checkpoints_failed"
                               "[30m]) >= 3", ("job_name",), ("job_name",)),
}


def evaluate(op, param, value):
    return value > param if op == "gt" else value < param


def check_alerts(t, ctx, path):
    import yaml
    with open(path, encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    queries = []
    rules = [r for g in doc["groups"] for r in g["rules"]]
    t.check(doc.get("apiVersion") == 1 and rules,
            "%s: apiVersion 1 and %d rules" % (short(path),
                                               len(rules)))
    by_twin = {}
    now_ms = int(time.time() * 1000)
    for r in rules:
        data = {d["refId"]: d for d in r["data"]}
        a, c = data["A"], data[r["condition"]]
        node = a["datasourceUid"][len("lagwatch-"):]
        shape = (r["condition"] == "C" and data["B"]["model"]["type"] ==
                 "reduce" and data["B"]["model"]["expression"] == "A" and
                 c["model"]["type"] == "threshold" and
                 c["model"]["expression"] == "B" and node in ctx.nodes and
                 r["labels"].get("severity") in ("critical", "warning") and
                 all(r["annotations"].get(k) for k in
                     ("summary", "description", "runbook")))
        t.check(shape, "alert %s: query A on a ring node's datasource, "
                "reduce B, threshold C, severity and annotations" % r["uid"])
        if not shape:
            continue
        q = a["model"]["query"]
        queries.append(("influxdb", q))
        secs = a["relativeTimeRange"]["from"]
        q = q.replace("$timeFilter", "time >= %dms and time <= %dms"
                      % (now_ms - secs * 1000, now_ms))
        series, err = influx(ctx.nodes[node], q)
        t.check(not err, "alert %s: the InfluxQL query runs on %s"
                % (r["uid"], node), ["error: %s" % err, "query: %s" % q])
        ev = c["model"]["conditions"][0]["evaluator"]
        twin = r["uid"][:-len(node) - 1]
        ent = by_twin.setdefault(twin, {"series": 0, "firing": set()})
        ent["series"] += len(series)
        for s in series:
            vals = [row[1] for row in s.get("values", []) if row[1] is not
                    None]
            if vals and evaluate(ev["type"], ev["params"][0], vals[-1]):
                key = tuple(s.get("tags", {}).get(k, "")
                            for k in PROM_TWIN[twin][1])
                ent["firing"].add(key)
    for twin, ent in sorted(by_twin.items()):
        expr, _, plabels = PROM_TWIN[twin]
        res, err = prom(ctx.prom_url, "/api/v1/query",
                        {"query": expr, "time": now_ms / 1000})
        want = {tuple(x["metric"].get(k, "") for k in plabels) for x in res}
        t.check(ent["series"] > 0,
                "alert %s: its query returns series on some node (%d)"
                % (twin, ent["series"]))
        t.check(not err and ent["firing"] == want,
                "alert %s: fires for %s on InfluxDB, as the Prometheus rule "
                "for %s" % (twin, sorted(ent["firing"]), sorted(want)),
                ["prometheus: %s" % err] if err else [])
    return queries


def cmd_live(argv):
    metrics_txt, prom_url = argv[0], argv[1]
    i = argv.index("--")
    nodes = dict(a.split("=", 1) for a in argv[2:i])
    rest = argv[i + 1:]
    alerts = proxy = None
    if "--proxy" in rest:
        j = rest.index("--proxy")
        proxy = rest[j + 1]
        rest = rest[:j] + rest[j + 2:]
    if "--alerts" in rest:
        j = rest.index("--alerts")
        alerts = rest[j + 1]
        rest = rest[:j] + rest[j + 2:]
    end = int(time.time() * 1000)
    ctx = Ctx(prom_url, nodes, end - 5 * 60 * 1000, end)
    t = Tap()
    dashes = [(p, load(p)) for p in rest]
    for path, dash in dashes:
        check_dashboard(t, ctx, path, dash)
    alert_queries = check_alerts(t, ctx, alerts) if alerts else []
    if proxy:
        # points written after the direct answer would differ: a window
        # that ended 3 s ago (1 s cycles, flushed within 1 s)
        pctx = Ctx(prom_url, nodes, end - 5 * 60 * 1000, end - 3000)
        for path, dash in dashes:
            # the Kafka lag dashboard groups by consumer group, not by
            # shard_by: over several nodes the proxy refuses its subqueries
            if "/influxdb/" in path and "kafka" not in path:
                check_proxy(t, pctx, path, dash, proxy)
    check_contract(t, ctx, metrics_txt, dashes, alert_queries)
    return t.failed


def main(argv):
    if len(argv) == 3 and argv[1] == "generated":
        cmd_generated(argv[2])
        return 0
    if len(argv) >= 4 and argv[1] == "lint":
        cmd_lint(int(argv[2]), argv[3:])
        return 0
    if len(argv) >= 5 and argv[1] == "live":
        cmd_live(argv[2:])
        return 0
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
