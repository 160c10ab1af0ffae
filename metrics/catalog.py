#!/usr/bin/env python3
"""catalog.py: the metrics catalog (metrics/catalog.tsv) and what follows
from it.

    catalog.py man CATALOG                 print man/lagwatch-metrics.7
    catalog.py check-live CATALOG SCRAPE   /metrics of a live run against
                                           the catalog, both directions
    catalog.py check-rules CATALOG SCRAPE RULES
                                           every metric and label the rules
                                           use is one the live run emitted
    catalog.py lint-rules RULES TEST... [--readme README]
                                           labels, annotations, a firing and
                                           a silent test case per alert

check-*, lint-* print unnumbered TAP lines ("ok - x" / "not ok - x"), for
tests/integration/rules.sh (tap_include). Standard library only, except
PyYAML for the rule files.

The catalog is tab-separated: name, type, unit, labels, when, help.
"labels" is a comma-separated list ("-" for none); a label ending in "?"
is optional (present on some series only). "when" says which
configuration makes the family appear (always, flink_rest, reporters,
kafka, spool, ...), for the man page. "help" is the exact HELP text the
daemon writes. A name ending in "*" is a prefix (the trimmed Flink series,
whose names come from Flink): families under it are accepted with any
HELP and labels, but the type must match unless it is "*". Lines starting
with "## " are section headings of the man page; other "#" lines are
comments.
"""

import re
import sys

TARGET_LABELS = {"job", "instance"}  # added by the Prometheus scrape


class Entry:
    def __init__(self, name, typ, unit, labels, when, help_, section):
        self.name = name
        self.type = typ
        self.unit = unit
        self.required = [x for x in labels if not x.endswith("?")]
        self.optional = [x[:-1] for x in labels if x.endswith("?")]
        self.labels = labels
        self.when = when
        self.help = help_
        self.section = section

    @property
    def prefix(self):
        return self.name.endswith("*")


def load_catalog(path):
    entries = []
    section = ""
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if line.startswith("## "):
                section = line[3:].strip()
                continue
            if not line.strip() or line.startswith("#"):
                continue
            cols = line.split("\t")
            if len(cols) != 6:
                sys.exit("%s:%d: want 6 tab-separated columns, got %d"
                         % (path, n, len(cols)))
            name, typ, unit, labels, when, help_ = cols
            lab = [] if labels == "-" else labels.split(",")
            entries.append(Entry(name, typ, unit, lab, when, help_, section))
    return entries


def find(entries, name):
    for e in entries:
        if e.name == name:
            return e
    for e in entries:
        if e.prefix and name.startswith(e.name[:-1]):
            return e
    return None


# ------------------------------------------------------------ exposition

LABEL_RE = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?')


def parse_exposition(path):
    """Returns {family: {"type", "help", "samples": [(name, labels, v)]}}."""
    fams = {}

    def fam(name):
        return fams.setdefault(name, {"type": None, "help": None,
                                      "samples": []})

    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            if line.startswith("# HELP "):
                name, _, text = line[7:].partition(" ")
                fam(name)["help"] = (text.replace("\\n", "\n")
                                     .replace("\\\\", "\\"))
                continue
            if line.startswith("# TYPE "):
                name, _, typ = line[7:].partition(" ")
                fam(name)["type"] = typ
                continue
            if line.startswith("#"):
                continue
            m = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)", line)
            if not m:
                raise ValueError("unparsable line: %r" % line)
            name = m.group(1)
            rest = line[m.end():]
            labels = {}
            if rest.startswith("{"):
                end = rest.index("}")
                body = rest[1:end]
                pos = 0
                while pos < len(body):
                    lm = LABEL_RE.match(body, pos)
                    if not lm:
                        raise ValueError("bad labels: %r" % line)
                    labels[lm.group(1)] = lm.group(2)
                    pos = lm.end()
                rest = rest[end + 1:]
            value = rest.split()[0]
            family = name
            for suf in ("_bucket", "_sum", "_count", "_created"):
                base = name[:-len(suf)]
                if name.endswith(suf) and base in fams and \
                        fams[base]["type"] in ("histogram", "summary"):
                    family = base
            fam(family)["samples"].append((name, labels, value))
    return fams


class Tap:
    def __init__(self):
        self.failed = 0

    def check(self, cond, msg, diag=None):
        print(("ok - " if cond else "not ok - ") + msg)
        if not cond:
            self.failed += 1
            for d in (diag or [])[:20]:
                print("# " + d)


def check_live(catalog, scrape):
    entries = load_catalog(catalog)
    fams = parse_exposition(scrape)
    t = Tap()
    t.check(len(fams) > 10, "the live scrape has families (%d)" % len(fams))

    unknown, badtype, badhelp, badlabels = [], [], [], []
    for name, fm in sorted(fams.items()):
        e = find(entries, name)
        if e is None:
            unknown.append(name)
            continue
        typ = fm["type"] or "untyped"
        if e.type != "*" and typ != e.type:
            badtype.append("%s: emitted %s, catalog %s" % (name, typ, e.type))
        if e.prefix:
            continue
        if fm["help"] != e.help:
            badhelp.append("%s: emitted %r, catalog %r"
                           % (name, fm["help"], e.help))
        seen = set()
        for _, labels, _ in fm["samples"]:
            keys = set(labels) - {"le", "quantile"}
            ok = set(e.required) <= keys <= set(e.required) | set(e.optional)
            if not ok and name not in seen:
                seen.add(name)
                badlabels.append("%s: emitted {%s}, catalog {%s}"
                                 % (name, ",".join(sorted(keys)),
                                    ",".join(e.labels)))
    t.check(not unknown, "every emitted family is in the catalog",
            ["not in metrics/catalog.tsv: " + n for n in unknown])
    t.check(not badtype, "emitted types match the catalog", badtype)
    t.check(not badhelp, "emitted HELP texts match the catalog", badhelp)
    t.check(not badlabels, "emitted label names match the catalog",
            badlabels)

    missing = []
    for e in entries:
        if e.prefix:
            hit = [n for n in fams if n.startswith(e.name[:-1])
                   and find(entries, n) is e and fams[n]["samples"]]
        else:
            hit = fams.get(e.name, {}).get("samples")
        if not hit:
            missing.append("%s (when: %s)" % (e.name, e.when))
    t.check(not missing,
            "every catalog entry is emitted, with samples, by the live run",
            ["not emitted: " + m for m in missing])
    return t.failed


# ------------------------------------------------------------ PromQL

KEYWORDS = {"and", "or", "unless", "offset", "bool", "inf", "nan", "atan2",
            "by", "without", "on", "ignoring", "group_left", "group_right"}
AGGREGATIONS = {"sum", "min", "max", "avg", "group", "stddev", "stdvar",
                "count", "count_values", "bottomk", "topk", "quantile"}
GROUPING = {"by", "without", "on", "ignoring", "group_left", "group_right"}
TOKEN_RE = re.compile(r"""
    (?P<ws>\s+|\#[^\n]*)
  | (?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
  | (?P<dur>(?:\d+(?:ms|[smhdwy]))+(?![a-zA-Z0-9_:]))
  | (?P<num>0x[0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<id>[a-zA-Z_:][a-zA-Z0-9_:]*)
  | (?P<op>=~|!~|!=|==|<=|>=|[-+*/%^<>=(){}\[\],@])
""", re.X)


def tokenize(expr):
    pos, out = 0, []
    while pos < len(expr):
        m = TOKEN_RE.match(expr, pos)
        if not m:
            raise ValueError("cannot tokenize %r at %d" % (expr, pos))
        pos = m.end()
        if m.lastgroup != "ws":
            out.append((m.lastgroup, m.group()))
    return out


def promql_refs(expr):
    """Returns (metric names, [(metric, matcher label)], grouping labels).

    Good for the PromQL our rules use: selectors, functions, aggregations
    with by/without, binary operators with on/ignoring/group_*, offset."""
    toks = tokenize(expr)
    names, matchers, grouping = [], [], []
    i = 0
    while i < len(toks):
        kind, text = toks[i]
        nxt = toks[i + 1][1] if i + 1 < len(toks) else None
        if kind == "id" and text.lower() in GROUPING:
            i += 1
            if nxt == "(":
                i += 1
                while i < len(toks) and toks[i][1] != ")":
                    if toks[i][0] == "id":
                        grouping.append(toks[i][1])
                    i += 1
                i += 1
            continue
        if kind == "id" and text.lower() == "offset":
            i += 2
            continue
        if kind == "id" and (nxt == "(" or (text in AGGREGATIONS and nxt
                                            in ("by", "without"))):
            i += 1  # a function or an aggregation
            continue
        if kind == "id" and text.lower() in KEYWORDS:
            i += 1
            continue
        if kind == "id":
            names.append(text)
            i += 1
            if i < len(toks) and toks[i][1] == "{":
                i += 1
                while i < len(toks) and toks[i][1] != "}":
                    if toks[i][0] == "id":
                        matchers.append((text, toks[i][1]))
                    i += 1
                i += 1
            continue
        if text == "[":
            while i < len(toks) and toks[i][1] != "]":
                i += 1
            i += 1
            continue
        if text == "{":
            raise ValueError("selector without a metric name in %r" % expr)
        i += 1
    return names, matchers, grouping


TEMPLATE_LABEL_RE = re.compile(r"\$labels\.([a-zA-Z_][a-zA-Z0-9_]*)")


def load_rules(path):
    import yaml
    with open(path, encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    for g in doc.get("groups", []):
        for r in g.get("rules", []):
            yield g["name"], r


def check_rules(catalog, scrape, rules):
    entries = load_catalog(catalog)
    fams = parse_exposition(scrape)
    live_labels = {}
    for name, fm in fams.items():
        keys = set()
        for _, labels, _ in fm["samples"]:
            keys |= set(labels)
        if fm["samples"]:
            live_labels[name] = keys
    t = Tap()
    n_rules = 0
    for _, r in load_rules(rules):
        n_rules += 1
        rname = r.get("alert") or r.get("record")
        try:
            names, matchers, grouping = promql_refs(r["expr"])
        except ValueError as ex:
            t.check(False, "%s: expression parses" % rname, [str(ex)])
            continue
        probs = []
        if not names:
            probs.append("references no metric")
        avail = set(TARGET_LABELS)
        for n in names:
            if n not in live_labels:
                probs.append("%s: not emitted by the live run%s" % (
                    n, "" if find(entries, n) else " (nor in the catalog)"))
            else:
                avail |= live_labels[n]
        for n, lab in matchers:
            if n in live_labels and lab not in live_labels[n] | TARGET_LABELS:
                probs.append("%s{%s=...}: no such label on %s" % (n, lab, n))
        for lab in grouping:
            if lab not in avail:
                probs.append("by/on (%s): no metric of the rule has it" % lab)
        text = " ".join(str(v) for v in
                        list(r.get("annotations", {}).values()) +
                        list(r.get("labels", {}).values()))
        for lab in TEMPLATE_LABEL_RE.findall(text):
            if lab not in avail:
                probs.append("template $labels.%s: no metric of the rule "
                             "has it" % lab)
        t.check(not probs, "%s uses only metrics and labels a live run "
                "emits (%s)" % (rname, ", ".join(sorted(set(names)))), probs)
    t.check(n_rules > 0, "the rule file has rules (%d)" % n_rules)
    return t.failed


def lint_rules(rules, tests, readme):
    import yaml
    t = Tap()
    alerts = []
    bad = []
    for group, r in load_rules(rules):
        if "alert" not in r:
            continue
        a = r["alert"]
        alerts.append(a)
        labels = r.get("labels", {})
        ann = r.get("annotations", {})
        if labels.get("severity") not in ("critical", "warning", "info"):
            bad.append("%s: severity %r" % (a, labels.get("severity")))
        for k in ("summary", "description", "runbook"):
            if not str(ann.get(k, "")).strip():
                bad.append("%s: no annotation %s" % (a, k))
    t.check(alerts, "the rule file has alerts (%d)" % len(alerts))
    t.check(len(set(alerts)) == len(alerts), "alert names are unique")
    t.check(not bad, "every alert has a severity (critical, warning, info) "
            "and annotations summary, description, runbook", bad)

    fires, silent = {}, {}
    for path in tests:
        with open(path, encoding="utf-8") as f:
            doc = yaml.safe_load(f)
        for case in doc.get("tests", []):
            for art in case.get("alert_rule_test", []):
                d = fires if art.get("exp_alerts") else silent
                d[art["alertname"]] = d.get(art["alertname"], 0) + 1
    nofire = [a for a in alerts if not fires.get(a)]
    nosilent = [a for a in alerts if not silent.get(a)]
    t.check(not nofire, "every alert has a test case where it fires",
            nofire)
    t.check(not nosilent, "every alert has a test case where it must not "
            "fire", nosilent)
    stray = sorted((set(fires) | set(silent)) - set(alerts))
    t.check(not stray, "tests name only alerts that exist", stray)
    if readme:
        with open(readme, encoding="utf-8") as f:
            text = f.read()
        undoc = [a for a in alerts if a not in text]
        t.check(not undoc, "every alert is documented in rules/README.md",
                undoc)
    return t.failed


# ------------------------------------------------------------ man page

def roman(s):
    """Escapes text for troff."""
    s = s.replace("\\", "\\e").replace("-", "\\-")
    if s.startswith(".") or s.startswith("'"):
        s = "\\&" + s
    return s


def gen_man(catalog):
    entries = load_catalog(catalog)
    out = []
    w = out.append
    w('.\\" Generated by metrics/catalog.py from metrics/catalog.tsv: '
      'do not edit.')
    w('.TH LAGWATCH-METRICS 7 "" "lagwatch" "lagwatch manual"')
    w(".ad l")
    w(".SH NAME")
    w("lagwatch-metrics \\- the series lagwatch serves on /metrics")
    w(".SH DESCRIPTION")
    w("Every family")
    w(".B lagwatch run")
    w("serves on")
    w(".B /metrics")
    w("(Prometheus text format 0.0.4, OpenMetrics or protobuf on request),")
    w("with its type, unit and labels. This page is generated from")
    w(".IR metrics/catalog.tsv ,")
    w("the one list of emitted metrics in the source tree; the test suite")
    w("checks it against a live run in both directions, and checks that")
    w("every metric and label the shipped alert rules")
    w(".RI ( rules/lagwatch.rules.yml )")
    w("use is one a live run emits.")
    w(".PP")
    w("A family appears when its source is configured")
    w(".RB ( when :")
    w(".B always,")
    w(".B flink_rest")
    w("for a")
    w(".B flink[].rest_url,")
    w(".B reporters")
    w("for reporter endpoints,")
    w(".B kafka")
    w("for a")
    w(".B kafka")
    w("cluster,")
    w(".B influxdb")
    w("with")
    w(".B sinks.influxdb")
    w("(per node for the node families),")
    w(".B spool")
    w("with")
    w(".BR agent.spool_dir ).")
    w("Prometheus adds the target labels")
    w(".B job")
    w("and")
    w(".B instance")
    w("when it scrapes.")
    section = None
    for e in entries:
        if e.section != section:
            section = e.section
            w(".SH " + roman(section.upper()))
        w(".TP")
        w(".B " + roman(e.name))
        typ = "any type" if e.type == "*" else e.type
        unit = "" if e.unit in ("-", "") else ", " + e.unit
        lab = ", ".join(x.rstrip("?") + (" (optional)" if x.endswith("?")
                                        else "") for x in e.labels)
        w("%s%s; labels: %s; when: %s." % (
            roman(typ), roman(unit), roman(lab) if lab else "none",
            roman(e.when)))
        w(".br")
        w(roman(e.help))
    w(".SH SWITCHING FROM KAFKA\\-LAG\\-EXPORTER")
    w("The families of the section on kafka\\-lag\\-exporter's names carry")
    w("its names, label sets and meanings, so its Grafana dashboard and")
    w("alert rules keep working (a test runs every query of its dashboard")
    w("against a Prometheus scraping lagwatch). Differences: the time lag")
    w("is exact, not interpolated;")
    w(".BR member_host ,")
    w(".B consumer_id")
    w("and")
    w(".B client_id")
    w("are empty (group membership is not read); groups are configured")
    w("(names or patterns), not discovered. The")
    w(".B lagwatch_kafka_group_topic_*")
    w("families and")
    w(".B kafka_consumergroup_group_catch_up_seconds")
    w("are lagwatch's own; kafka\\-lag\\-exporter has no equivalent.")
    w("Earlier lagwatch versions served the per-topic values under the")
    w("kafka\\-lag\\-exporter names with a")
    w(".B topic")
    w("label; they are now")
    w(".B lagwatch_kafka_group_topic_max_lag")
    w("and")
    w(".BR lagwatch_kafka_group_topic_max_lag_seconds ,")
    w("and")
    w(".BR kafka_consumergroup_group_topic_sum_lag .")
    w(".SH SEE ALSO")
    w(".BR lagwatch (8),")
    w(".BR lagwatch.yml (5)")
    return "\n".join(out) + "\n"


def main(argv):
    if len(argv) >= 3 and argv[1] == "man":
        sys.stdout.write(gen_man(argv[2]))
        return 0
    if len(argv) == 4 and argv[1] == "check-live":
        return 1 if check_live(argv[2], argv[3]) else 0
    if len(argv) == 5 and argv[1] == "check-rules":
        return 1 if check_rules(argv[2], argv[3], argv[4]) else 0
    if len(argv) >= 4 and argv[1] == "lint-rules":
        args = argv[2:]
        readme = None
        if "--readme" in args:
            k = args.index("--readme")
            readme = args[k + 1]
            del args[k:k + 2]
        return 1 if lint_rules(args[0], args[1:], readme) else 0
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
