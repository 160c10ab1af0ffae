#!/usr/bin/env python3
"""fakeflink: a fake Flink 1.19 cluster for lagwatch's tests and demo.

Serves the recorded fixtures in tests/fixtures/flink (see README.md there) on
127.0.0.1 only, standard library only.

    python3 tests/fakeflink.py --fixtures tests/fixtures/flink --port 0 \
        [--port-file F] [--log F] [--static] [--reporter-ports] \
        [--tm-hosts 127.0.0.2,127.0.0.3] \
        [--scenario restart-after=N] [--scenario restart-between=N]
        [--scenario stop-after=N[:JOBNAME]] [--scenario rename=NAME]
        [--scenario long-names=N]
        [--clone-jobs N] [--rebase-time]

Startup: prints "port=P" (with --reporter-ports also "tm1=P1", "tm2=P2",
"jm=P3"), one per line, on stdout, and writes the same lines to --port-file
(written to a temporary name and renamed, so a reader never sees half of it).
SIGTERM or SIGINT stop it cleanly (exit 0).

Routes
------
Reporter (PrometheusReporter) endpoints, Content-Type
"text/plain; version=0.0.4; charset=utf-8":
    GET /tm1/metrics  prometheus/taskmanager-1.prom
    GET /tm2/metrics  prometheus/taskmanager-2.prom
    GET /jm/metrics   prometheus/jobmanager.prom
With --reporter-ports the fake also listens on one extra 127.0.0.1 port per
reporter (tm1, tm2, jm), each serving that file at /metrics; the counters
below are shared with /tm1/metrics etc.

JobManager REST, Content-Type "application/json; charset=UTF-8": every
request in index.json (method + path + query, matched exactly as sent), also
under a "/v1" prefix. Unknown routes: 404 {"errors":["Not found: <path>"]}.
No exact match for a query on /jobs/<jid>/metrics or
/jobs/<jid>/vertices/<vid>/subtasks/metrics: the answer is synthesized from
every fixture recorded for that path when every requested id is known there
(and, for subtasks/metrics, every requested agg field is present and no
"subtasks" filter is given); otherwise "[]", as Flink answers for an unknown
metric name.

/jobs/<jid>/vertices/<vid>/metrics (the per-subtask route, any query) for
every vertex of job A and job B works like Flink's MetricStore: each vertex
holds, for every subtask k, "k.busyTimeMsPerSecond" (a Double gauge: "98.0",
"NaN" for job B's legacy source), "k.idleTimeMsPerSecond",
"k.backPressuredTimeMsPerSecond", "k.softBackPressuredTimeMsPerSecond",
"k.hardBackPressuredTimeMsPerSecond" (Long gauges: "902"), all from
scenario.json's timing_ms_per_s, and "k.numRecordsInPerSecond",
"k.numRecordsOutPerSecond" (Doubles) from the task-scope
flink_taskmanager_job_task_numRecords{In,Out}PerSecond samples of the
prometheus fixtures (sources: "0.0" in), "k.currentInputWatermark" (a Long
gauge: "1718093297801") from the task-scope
flink_taskmanager_job_task_currentInputWatermark samples (sources have
none: not served); plus every id a recorded answer of that vertex carries
(operator scope, watermarks). The answer lists
{"id","value"} (values are strings) for each requested id that exists;
unknown ids are silently left out (unlike subtasks/metrics). Order: the
iteration order of Java's new HashSet<>(requested ids), which is what the
recorded answers show (do not rely on it). Without "get": the list of ids
{"id":...}. A recorded exact query is served byte-identical at k = 0. An
unknown vertex of job A or B answers "[]", any vertex of job C answers
"[]", any other jid 404.
 is served unchanged by default: Flink's answer has no reporter port, and
discovery builds http://<tm host>:<configured port>/metrics from the TM's
RPC path or id, which name 10.42.x.x addresses that must never be contacted
from a test. With --tm-hosts H1,H2 (two loopback addresses, e.g.
127.0.0.2,127.0.0.3) the answer names H1 for TaskManager 1 and H2 for
TaskManager 2 instead, and the fake also listens on H1:P and H2:P (one port
P for both, printed as "tm_port=P") serving that TaskManager's reporter at
/metrics, so discovery can be tested end to end: configure
discover_reporters: {port: P}.

Movement (so a test can predict values)
---------------------------------------
k = the number of earlier requests for the same path and query (after the
/v1 and /fault/... prefixes are removed); the first request has k = 0 and is
byte-identical to the fixture. w = ((4*k + 5) mod 11) - 5, in -5..5, w(0)=0.
--static keeps k = 0 for every request.

Prometheus samples (by family name, "flink_" and scope prefix ignored):
    counters   v + k*inc: numRecordsIn, numRecordsOut (inc 1000),
               numBytesIn, numBytesOut (100000), numBuffersOut (100),
               numLateRecordsDropped (10), totalNumberOfCheckpoints,
               numberOfCompletedCheckpoints, lastCompletedCheckpointId,
               commitsSucceeded, GC *_Count (1), GC *_Time (10),
               uptime, runningTime (15000), partition currentOffset and
               committedOffset (1000)
    watermarks currentInputWatermark, currentOutputWatermark: v + 15000*k
               when v > 0 (Long.MIN_VALUE stays)
    timing     busyTimeMsPerSecond: clamp(v + w, 0, 1000);
               idleTimeMsPerSecond: clamp(v - w, 0, 1000) (the busy/idle/
               backpressured sum stays 1000); NaN stays NaN
    rates      names ending in PerSecond (other than the timing ones):
               v * (100 + w) / 100
    A value of 0 never moves; everything else is served as recorded.
Changed values are printed like Java's Double.toString, as the reporter does.

REST vertex metrics (/vertices/<vid>/metrics, exact or not): busy, idle
and rates (ids ending in PerSecond, not TimeMsPerSecond) move as the
Prometheus timing and rates above (busy + w, idle - w, clamped 0..1000, so
busy + idle + backPressured stays 1000, since no recorded busy or idle is
within 5 of a bound; rates * (100 + w) / 100; 0 and NaN never move);
"k.currentInputWatermark" moves like the Prometheus watermarks (v + 15000*k
when v > 0); the rest (backPressured, soft, hard, the recorded
operator-scope watermarks) does not.

REST bodies: "read-records"/"write-records" v + 1000*k and
"read-bytes"/"write-bytes" v + 100000*k (only when v > 0); checkpoint
"counts" total and completed v + k; metric lists
{"id":"totalNumberOfCheckpoints"|"numberOfCompletedCheckpoints"|
"lastCompletedCheckpointId","value":"v"} v + k, "uptime"/"runningTime"
v + 15000*k (only when v > 0). Gauges in REST do not move.

Scenario --scenario restart-after=N: requests 1..N to /jobs/overview see the
recorded cluster. From request N+1 on (every route, reporters included) job
A (orders-enrich, 566bf9d7c55a45f8d1a6e55e9b9b1325) carries the new jid
566bf9d7c55a45f8d1a6e55e9b9ba001 (last four hex digits replaced by "a001")
and its numRestarts (and fullRestarts) is one higher; paths with the old jid
answer 404, paths with the new jid serve job A's fixtures.

Scenario --scenario restart-between=N: the same restart, but between two
collection cycles instead of in the middle of one: the requests that follow
/jobs/overview request N still see the recorded jid, and the restart shows
from /jobs/overview request N+1 on (with restart-after=N the job vanishes
right after the N-th /jobs/overview answer, so that cycle meets 404s).

Scenario --scenario stop-after=N[:JOBNAME] (JOBNAME "orders-enrich" or
"clickstream-sessionize", the default): requests 1..N to /jobs/overview see
the job RUNNING; from request N+1 on it is CANCELED at 1718093400000 (the
recording's "now"): /jobs/overview shows state CANCELED, that end-time and
last-modification, duration = end-time - start-time, its running tasks
counted as canceled; /jobs/<jid> likewise (timestamps CANCELLING/CANCELED,
every vertex CANCELED with that end-time); /jobs lists it CANCELED;
/overview counts one running job less, one cancelled more and its slots as
available; its metric routes (/jobs/<jid>/metrics, /vertices/<vid>/metrics,
/vertices/<vid>/subtasks/metrics, /vertices/<vid>/watermarks) answer "[]",
as Flink drops a finished job's metrics, and the reporters drop its samples
(and families left empty). Its other routes (plan, backpressure, vertex
details, checkpoints) answer as recorded.

Scenario --scenario rename=NAME: job B (clickstream-sessionize) is called
NAME (any text without a comma, e.g. "\u00dcberweisung caf\u00e9") in every
REST answer (Flink's JSON carries it as raw UTF-8), and the reporters label
its samples job_name="<NAME as the PrometheusReporter filters it>": every
code point outside [A-Za-z0-9:_] becomes "_", so that a test compares the
collector's tag with Flink's own filtering.

Scenario --scenario long-names=N: the window task of orders-enrich (a Flink
SQL job's names run to kilobytes) is N bytes long: its name in every REST
answer and its task_name and operator_name labels on the reporters end in
"_" and "sql" repeated (characters the reporter's filter keeps), so that a
test sees how a name over trim.max_label_bytes is kept.

Scenarios combine: repeat --scenario or separate them with commas
("restart-after=2,stop-after=3" is "--scenario restart-after=2 --scenario
stop-after=3"); each kind at most once per job. Every scenario counts the
same /jobs/overview requests. Stopping orders-enrich after a restart stops
the new jid.

--clone-jobs N: a large cluster for the status page's size and speed test.
/jobs/overview also lists N copies of job A, jids "cccc" + 28 hex digits of
the copy's number i (0..N-1), names "orders-enrich-" + i as 4 digits (more
with N > 10000); every REST route of a copy serves job A's answer with the
jid and the name replaced. The reporters do not carry the copies.

--rebase-time: the recording happened in June 2024; with this flag every
epoch-millisecond time in every answer (integers and Java doubles such as
"1.718093297801E12" between 1717000000000 and 1718200000000: watermarks,
checkpoint, start and end times, the stop scenario's time) is moved by
the same offset, so that the recording's "now" (1718093400000) is the
fake's start-up time and a watermark 2 s old then reads as 2 s old, not
as two years (the demo uses it; tests that predict values do not).

Fault injection (by path prefix, <rest> is any route above):
    /fault/slow/<ms>/<rest>   sleeps <ms> (at most 60000) then serves <rest>
    /fault/html/<rest>        200 text/html page (a login page, say)
    /fault/truncate/<rest>    the first half of <rest>'s body, never gzip,
                              Content-Length = that half (valid HTTP, cut
                              content)
    /fault/500/<rest>         500 with a Flink-style JSON error
    /fault/big/<bytes>        exactly <bytes> (at most 1 GiB) of valid
                              exposition text, streamed
    /fault/reset/<rest>       closes the connection with a TCP RST, no answer

Bodies are gzip-compressed when the request's Accept-Encoding names gzip
(not for truncate, big, html, errors).

--log F appends one line per request:
    <method> <path?query> <status> <gzip|identity> <client port>
The line is written before the body is sent (so a client holding the answer
finds it); status 0 marks /fault/reset. The client port shows whether a
client reused its connection.
"""

import argparse
import decimal
import gzip
import json
import math
import os
import re
import signal
import socket
import struct
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOST = "127.0.0.1"
PROM_CT = "text/plain; version=0.0.4; charset=utf-8"
JSON_CT = "application/json; charset=UTF-8"
JOB_A = "566bf9d7c55a45f8d1a6e55e9b9b1325"
JOB_A_NEW = JOB_A[:-4] + "a001"
CLONE_RE = re.compile(r"/jobs/(cccc[0-9a-f]{28})")


def clone_jid(i):
    return "cccc%028x" % i


def clone_name(i):
    return "orders-enrich-%04d" % i
# The TaskManager hosts of the recording, in --tm-hosts order.
TM_REAL_HOSTS = ("10.42.1.17", "10.42.2.9")
REPORTERS = {
    "tm1": "prometheus/taskmanager-1.prom",
    "tm2": "prometheus/taskmanager-2.prom",
    "jm": "prometheus/jobmanager.prom",
}
MAX_SLOW_MS = 60000
STOP_TIME = 1718093400000  # the recording's "now": end-time of a stop
MAX_BIG = 1 << 30

PROM_COUNTER_INC = {
    "numRecordsIn": 1000, "numRecordsOut": 1000,
    "numBytesIn": 100000, "numBytesOut": 100000,
    "numBuffersOut": 100, "numLateRecordsDropped": 10,
    "totalNumberOfCheckpoints": 1, "numberOfCompletedCheckpoints": 1,
    "lastCompletedCheckpointId": 1, "commitsSucceeded": 1,
    "uptime": 15000, "runningTime": 15000,
    "currentOffset": 1000, "committedOffset": 1000,
}
WATERMARKS = ("currentInputWatermark", "currentOutputWatermark")
JOB_B_NAME = "clickstream-sessionize"


def flink_filter(value):
    """The PrometheusReporter's label-value filter: Java's
    [^a-zA-Z0-9:_] replaced per code point, as Python's re does on str."""
    return re.sub(r"[^a-zA-Z0-9:_]", "_", value)


def rename_job(body, name, prom):
    """body with job B called name (REST JSON), or labelled with the
    filtered name (reporter exposition)."""
    if name is None:
        return body
    if prom:
        return body.replace('job_name="%s"' % flink_filter(JOB_B_NAME),
                            'job_name="%s"' % flink_filter(name))
    return body.replace('"name":%s' % json.dumps(JOB_B_NAME),
                        '"name":%s' % json.dumps(name, ensure_ascii=False))


WINDOW_RAW = ("Window(TumblingEventTimeWindows(60000), EventTimeTrigger, "
              "OrderStatsAggregator, PassThroughWindowFunction)")


def long_names(body, n, prom):
    """body with the window task's name padded to n bytes (long-names=N)."""
    if not n or len(WINDOW_RAW) >= n:
        return body
    pad = ("_" + "sql" * n)[:n - len(WINDOW_RAW)]
    if prom:
        f = flink_filter(WINDOW_RAW)
        return body.replace('="%s"' % f, '="%s%s"' % (f, pad))
    return body.replace('"name":%s' % json.dumps(WINDOW_RAW),
                        '"name":%s' % json.dumps(WINDOW_RAW + pad))
REBASE_INT = re.compile(r"(?<![0-9A-Za-z.])(171[78][0-9]{9})(?![0-9A-Za-z.])")
REBASE_DBL = re.compile(r"(?<![0-9A-Za-z.])(1\.71[78][0-9]*E12)(?![0-9A-Za-z.])")


def in_recording(v):
    return 1717000000000 <= v <= 1718200000000


def rebase_times(body, delta):
    """Moves every epoch-ms time of the recording by delta ms."""
    def as_int(m):
        v = int(m.group(1))
        return str(v + delta) if in_recording(v) else m.group(1)

    def as_dbl(m):
        v = float(m.group(1))
        return jdouble(v + delta) if in_recording(v) else m.group(1)
    return REBASE_DBL.sub(as_dbl, REBASE_INT.sub(as_int, body))


def wiggle(k):
    return ((4 * k + 5) % 11) - 5


def jdouble(v):
    """Formats v the way Java's Double.toString does."""
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "Infinity" if v > 0 else "-Infinity"
    if v == 0:
        return "-0.0" if math.copysign(1.0, v) < 0 else "0.0"
    if 1e-3 <= abs(v) < 1e7:
        s = repr(v)
        return s if "." in s else s + ".0"
    d = decimal.Decimal(repr(v))
    sign, digits, _ = d.as_tuple()
    ds = "".join(str(x) for x in digits).rstrip("0") or "0"
    mant = ds[0] + "." + (ds[1:] or "0")
    return ("-" if sign else "") + mant + "E" + str(d.adjusted())


def prom_leaf(family):
    """Last component of a family name: flink_taskmanager_job_task_x -> x."""
    return family.rsplit("_", 1)[-1] if family else family


def move_prom_value(family, v, k):
    if k == 0 or math.isnan(v):
        return v
    if v == 0:
        return v  # a counter at 0 (source numRecordsIn) stays at 0
    leaf = prom_leaf(family)
    if family.endswith("_Count") and "GarbageCollector" in family:
        return v + k
    if family.endswith("_Time") and "GarbageCollector" in family:
        return v + 10 * k
    if leaf in PROM_COUNTER_INC:
        return v + PROM_COUNTER_INC[leaf] * k
    if leaf in WATERMARKS:
        return v + 15000 * k if v > 0 else v
    w = wiggle(k)
    if leaf == "busyTimeMsPerSecond":
        return min(max(v + w, 0.0), 1000.0)
    if leaf == "idleTimeMsPerSecond":
        return min(max(v - w, 0.0), 1000.0)
    if leaf.endswith("PerSecond") and not leaf.endswith("TimeMsPerSecond"):
        return v * (100 + w) / 100
    return v


def move_prom(body, k, restarted):
    if k == 0 and not restarted:
        return body
    out = []
    for line in body.split("\n"):
        if not line or line.startswith("#"):
            out.append(line)
            continue
        head, _, val = line.rpartition(" ")
        family = re.split(r"[{ ]", head, 1)[0]
        try:
            v = float(val)
        except ValueError:
            out.append(line)
            continue
        nv = move_prom_value(family, v, k)
        if (restarted and JOB_A in head and
                family.endswith(("_numRestarts", "_fullRestarts"))):
            nv += 1
        if nv != v and not (math.isnan(nv) and math.isnan(v)):
            line = head + " " + jdouble(nv)
        out.append(line)
    return "\n".join(out)


REST_FIELD_INC = {"read-records": 1000, "write-records": 1000,
                  "read-bytes": 100000, "write-bytes": 100000}
REST_METRIC_INC = {"totalNumberOfCheckpoints": 1,
                   "numberOfCompletedCheckpoints": 1,
                   "lastCompletedCheckpointId": 1,
                   "uptime": 15000, "runningTime": 15000}


def move_rest(body, k, restart_inc):
    if k == 0 and restart_inc == 0:
        return body

    def field(m):
        v = int(m.group(2))
        if v > 0:
            v += REST_FIELD_INC[m.group(1)] * k
        return '"%s":%d' % (m.group(1), v)

    def metric(m):
        name, v = m.group(1), int(m.group(2))
        if name in ("numRestarts", "fullRestarts"):
            v += restart_inc
        elif v > 0 or REST_METRIC_INC[name] == 1:
            v += REST_METRIC_INC[name] * k
        return '{"id":"%s","value":"%d"}' % (name, v)

    def counts(m):
        inner = re.sub(r'"(total|completed)":(\d+)',
                       lambda c: '"%s":%d' % (c.group(1),
                                              int(c.group(2)) + k),
                       m.group(1))
        return '"counts":{' + inner + "}"

    body = re.sub(r'"(read-records|write-records|read-bytes|write-bytes)"'
                  r':(\d+)', field, body)
    names = list(REST_METRIC_INC)
    if restart_inc:
        names += ["numRestarts", "fullRestarts"]
    body = re.sub(r'\{"id":"(%s)","value":"(-?\d+)"\}' % "|".join(names),
                  metric, body)
    body = re.sub(r'"counts":\{([^}]*)\}', counts, body)
    return body


class Raw(str):
    """A JSON number kept as its original text."""


def raw_json(obj):
    if isinstance(obj, Raw):
        return str(obj)
    if isinstance(obj, str):
        return json.dumps(obj)
    if isinstance(obj, dict):
        return "{" + ",".join(json.dumps(k) + ":" + raw_json(v)
                              for k, v in obj.items()) + "}"
    if isinstance(obj, list):
        return "[" + ",".join(raw_json(v) for v in obj) + "]"
    return json.dumps(obj)


def java_hash(s):
    """Java's String.hashCode (UTF-16 code units), as an unsigned int."""
    h = 0
    data = s.encode("utf-16-le")
    for i in range(0, len(data), 2):
        h = (31 * h + (data[i] | data[i + 1] << 8)) & 0xffffffff
    return h


def hashset_order(ids):
    """The iteration order of Java's new HashSet<>(ids): Flink's metrics
    handler builds one from the requested names; the recorded
    vertex-*-metrics.json answers follow it exactly."""
    uniq = list(dict.fromkeys(ids))
    want = max(int(len(uniq) / 0.75) + 1, 16)
    cap = 1
    while cap < want:
        cap *= 2
    buckets = {}
    for i in uniq:
        h = java_hash(i)
        h ^= h >> 16
        buckets.setdefault(h & (cap - 1), []).append(i)
    return [i for b in sorted(buckets) for i in buckets[b]]


def moves_in_rest(leaf):
    """Vertex metric leaves that move in REST: timing and rates."""
    return (leaf in ("busyTimeMsPerSecond", "idleTimeMsPerSecond") or
            (leaf.endswith("PerSecond") and
             not leaf.endswith("TimeMsPerSecond")))


def vertex_metric_value(mid, kind, v, k):
    """String value of one vertex metric id; kind "long", "double" (v a
    float), "watermark" (v an int, epoch ms) or "raw" (v the recorded
    string)."""
    leaf = mid.rsplit(".", 1)[-1]
    if kind == "watermark":
        return "%d" % (v + 15000 * k if v > 0 else v)
    if kind == "raw":
        if k == 0 or not moves_in_rest(leaf):
            return v
        try:
            f = float(v)
        except ValueError:
            return v
        nf = move_prom_value(leaf, f, k)
        if nf == f or (math.isnan(nf) and math.isnan(f)):
            return v
        return jdouble(nf) if "." in v or "E" in v else "%d" % round(nf)
    if moves_in_rest(leaf):
        v = move_prom_value(leaf, v, k)
    if kind == "long":
        return "%d" % round(v)
    return jdouble(v)


def drop_prom_jobs(body, jids):
    """Exposition without the samples of jids; a family left without
    samples loses its HELP/TYPE lines too (the reporter drops a metric
    when its task ends)."""
    if not jids:
        return body
    kept, families = [], set()
    for line in body.split("\n"):
        if not line.startswith("#") and any('job_id="%s"' % j in line
                                            for j in jids):
            continue
        if line and not line.startswith("#"):
            families.add(re.split(r"[{ ]", line, 1)[0])
        kept.append(line)
    out = []
    for line in kept:
        m = re.match(r"^# (?:HELP|TYPE) (\S+)", line)
        if m and m.group(1) not in families:
            continue
        out.append(line)
    return "\n".join(out)


def cancel_job_entry(e):
    """A /jobs/overview entry or /jobs/<jid> document, CANCELED at
    STOP_TIME (parsed with Raw numbers)."""
    start = int(e["start-time"])
    e["state"] = "CANCELED"
    e["end-time"] = Raw(str(STOP_TIME))
    e["duration"] = Raw(str(STOP_TIME - start))
    if "last-modification" in e:
        e["last-modification"] = Raw(str(STOP_TIME))
    if isinstance(e.get("tasks"), dict):   # overview: lowercase counts
        t = e["tasks"]
        t["canceled"] = Raw(str(int(t["canceled"]) + int(t["running"])))
        t["running"] = Raw("0")
    if isinstance(e.get("timestamps"), dict):
        e["timestamps"]["CANCELLING"] = Raw(str(STOP_TIME - 150))
        e["timestamps"]["CANCELED"] = Raw(str(STOP_TIME))
    if isinstance(e.get("status-counts"), dict):
        sc = e["status-counts"]
        sc["CANCELED"] = Raw(str(int(sc.get("CANCELED", 0)) +
                                 int(sc.get("RUNNING", 0))))
        sc["RUNNING"] = Raw("0")
    for v in e.get("vertices", []):
        v["status"] = "CANCELED"
        v["end-time"] = Raw(str(STOP_TIME))
        v["duration"] = Raw(str(STOP_TIME - int(v["start-time"])))
        t = v["tasks"]
        t["CANCELED"] = Raw(str(int(t["CANCELED"]) + int(t["RUNNING"])))
        t["RUNNING"] = Raw("0")


def apply_stops(path, body, stopped, fx):
    """body of path (jids as recorded) as seen once the stopped jobs are
    CANCELED."""
    if not stopped:
        return body
    doc = json.loads(body, parse_float=Raw, parse_int=Raw)
    if path == "/jobs/overview":
        for e in doc["jobs"]:
            if e["jid"] in stopped:
                cancel_job_entry(e)
    elif path == "/jobs":
        for e in doc["jobs"]:
            if e["id"] in stopped:
                e["status"] = "CANCELED"
    elif path == "/overview":
        n = len(stopped)
        slots = sum(fx.parallelism[j] for j in stopped)
        doc["jobs-running"] = Raw(str(int(doc["jobs-running"]) - n))
        doc["jobs-cancelled"] = Raw(str(int(doc["jobs-cancelled"]) + n))
        doc["slots-available"] = Raw(str(int(doc["slots-available"]) +
                                         slots))
    elif path[len("/jobs/"):] in stopped:
        cancel_job_entry(doc)
    else:
        return body
    return raw_json(doc)


class Fixtures:
    def __init__(self, root):
        self.root = root
        self.exact = {}      # "/path?query" -> (status, file)
        self.by_path = {}    # "/path" -> [query dicts of recorded answers]
        with open(os.path.join(root, "index.json")) as f:
            index = json.load(f)
        for req, fname in index.items():
            m = re.match(r"^GET http://flink-jobmanager:8081(\S+)(\s+\[HTTP "
                         r"(\d+)\])?$", req)
            if not m:
                continue
            target = m.group(1)
            status = int(m.group(3)) if m.group(3) else 200
            if status != 200:
                continue  # the 404 example is produced by the 404 route
            self.exact[target] = fname
            path, _, query = target.partition("?")
            self.by_path.setdefault(path, []).append((query, fname))
        self.load_vertex_model()

    def load_vertex_model(self):
        """Per-vertex metric store of the live jobs, as Flink's MetricStore
        holds it: "<subtask>.<name>" -> (kind, value)."""
        with open(os.path.join(self.root, "scenario.json")) as f:
            sc = json.load(f)
        self.jobs = {}      # job name -> jid (live jobs with vertices)
        self.job_names = {}  # jid -> job name
        self.dead_jids = set()
        self.parallelism = {}  # jid -> slots it holds (slot sharing)
        rates = {}          # (jid, vid, subtask, name) -> float
        for fname in REPORTERS.values():
            for line in self.read(fname).split("\n"):
                m = re.match(r"^flink_taskmanager_job_task_(numRecords"
                             r"(?:In|Out)PerSecond|currentInputWatermark)"
                             r"\{(.*)\} (\S+)$", line)
                if not m:
                    continue
                lab = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2)))
                rates[(lab["job_id"], lab["task_id"],
                       int(lab["subtask_index"]), m.group(1))] = \
                    float(m.group(3))
        self.vmodel = {}    # (jid, vid) -> {id: (kind, value)}
        timing = sc["timing_ms_per_s"]
        for name, job in sc["jobs"].items():
            if "vertices" not in job:
                self.dead_jids.add(job["jid"])
                continue
            jid = job["jid"]
            self.jobs[name] = jid
            self.parallelism[jid] = job["parallelism"]
            self.job_names[jid] = name
            for vx in job["vertices"]:
                vid = vx["id"]
                store = {}
                for k in range(job["parallelism"]):
                    t = timing["%s/%s#%d" % (name, vid, k)]
                    busy = t["busy"]
                    store["%d.busyTimeMsPerSecond" % k] = (
                        "double", float("nan") if busy is None else busy)
                    for key, leaf in (
                            ("idle", "idleTimeMsPerSecond"),
                            ("backPressured", "backPressuredTimeMsPerSecond"),
                            ("soft", "softBackPressuredTimeMsPerSecond"),
                            ("hard", "hardBackPressuredTimeMsPerSecond")):
                        store["%d.%s" % (k, leaf)] = ("long", t[key])
                    for leaf in ("numRecordsInPerSecond",
                                 "numRecordsOutPerSecond"):
                        v = rates.get((jid, vid, k, leaf))
                        if v is None:
                            raise SystemExit("fakeflink: no %s for %s#%d in "
                                             "the prometheus fixtures"
                                             % (leaf, vid, k))
                        store["%d.%s" % (k, leaf)] = ("double", v)
                    # a Long gauge; sources register none
                    wm = rates.get((jid, vid, k, "currentInputWatermark"))
                    if wm is not None:
                        store["%d.currentInputWatermark" % k] = (
                            "watermark", int(round(wm)))
                self.vmodel[(jid, vid)] = store
        # ids only a recorded answer has (operator scope, watermarks)
        for path, recs in self.by_path.items():
            m = re.match(r"^/jobs/([0-9a-f]{32})/vertices/([0-9a-f]{32})/"
                         r"metrics$", path)
            if not m or (m.group(1), m.group(2)) not in self.vmodel:
                continue
            store = self.vmodel[(m.group(1), m.group(2))]
            for _, fname in recs:
                for e in json.loads(self.read(fname)):
                    store.setdefault(e["id"], ("raw", e["value"]))

    def vertex_metrics(self, jid, vid, query, k):
        """Answer of /jobs/<jid>/vertices/<vid>/metrics[?get=...] for a
        live job (jid as recorded), or None when jid is not one."""
        if jid in self.dead_jids:
            return "[]"
        if jid not in self.job_names:
            return None
        store = self.vmodel.get((jid, vid), {})
        q = urllib.parse.parse_qs(query, keep_blank_values=True)
        if "get" not in q:
            return raw_json([{"id": i} for i in hashset_order(list(store))])
        fname = self.exact.get("/jobs/%s/vertices/%s/metrics?%s"
                               % (jid, vid, query))
        if fname is not None and k == 0:
            return self.read(fname)
        want = [x for x in ",".join(q["get"]).split(",") if x]
        out = []
        for mid in hashset_order(want):
            if mid in store:
                kind, v = store[mid]
                out.append({"id": mid,
                            "value": vertex_metric_value(mid, kind, v, k)})
        return raw_json(out)

    def read(self, fname):
        with open(os.path.join(self.root, fname), "rb") as f:
            return f.read().decode("utf-8")

    def synthesize(self, path, query):
        """Answer for a query not recorded, or None if the route is not
        one this can answer."""
        subtasks = re.match(r"^/jobs/[0-9a-f]{32}/vertices/[0-9a-f]{32}/"
                            r"subtasks/metrics$", path)
        job = re.match(r"^/jobs/[0-9a-f]{32}/metrics$", path)
        if not (subtasks or job) or path not in self.by_path:
            return None
        q = urllib.parse.parse_qs(query, keep_blank_values=True)
        if "get" not in q:
            return None
        want = [x for x in ",".join(q["get"]).split(",") if x]
        if subtasks and "subtasks" in q:
            return "[]"
        aggs = None
        if subtasks:
            aggs = ([a for a in ",".join(q.get("agg", [])).split(",") if a]
                    or ["min", "max", "avg", "sum"])
        known = {}
        for rq, fname in self.by_path[path]:
            if "subtasks" in urllib.parse.parse_qs(rq):
                continue  # aggregates over a subset, not over all subtasks
            doc = json.loads(self.read(fname), parse_float=Raw,
                             parse_int=Raw)
            if not isinstance(doc, list):
                continue
            for e in doc:
                if isinstance(e, dict) and "id" in e:
                    prev = known.get(e["id"], {})
                    prev.update(e)
                    known[e["id"]] = prev
        out = []
        for name in want:
            e = known.get(name)
            if e is None:
                return "[]"
            if aggs is None:
                if "value" not in e:
                    return "[]"
                out.append({"id": name, "value": e["value"]})
                continue
            if any(a not in e for a in aggs):
                return "[]"
            r = {"id": name}
            for a in ("min", "max", "avg", "sum", "skew"):
                if a in aggs:
                    r[a] = e[a]
            out.append(r)
        return raw_json(out)


class State:
    def __init__(self, args):
        self.fx = Fixtures(args.fixtures)
        self.static = args.static
        self.clones = args.clone_jobs
        self.rebase = (int(time.time() * 1000) - STOP_TIME
                       if args.rebase_time else 0)
        self.tm_hosts = args.tm_hosts.split(",") if args.tm_hosts else []
        self.restart_after = None
        self.restart_between = False
        self.stop_after = {}    # recorded jid -> N
        self.rename = None      # job B's name (rename=NAME)
        self.long_names = 0     # the window task's length (long-names=N)
        for item in ",".join(args.scenario or []).split(","):
            if not item:
                continue
            m = re.match(r"^rename=(.+)$", item)
            if m and self.rename is None:
                self.rename = m.group(1)
                continue
            m = re.match(r"^long-names=(\d+)$", item)
            if m and not self.long_names:
                self.long_names = int(m.group(1))
                continue
            m = re.match(r"^restart-(after|between)=(\d+)$", item)
            if m and self.restart_after is None:
                self.restart_after = int(m.group(2))
                self.restart_between = m.group(1) == "between"
                continue
            m = re.match(r"^stop-after=(\d+)(?::(.+))?$", item)
            name = (m.group(2) or "clickstream-sessionize") if m else None
            if m and name in self.fx.jobs and \
                    self.fx.jobs[name] not in self.stop_after:
                self.stop_after[self.fx.jobs[name]] = int(m.group(1))
                continue
            raise SystemExit("fakeflink: unknown or repeated scenario '%s'"
                             % item)
        self.lock = threading.Lock()
        self.counts = {}
        self.overview_requests = 0
        self.log = open(args.log, "a", buffering=1) if args.log else None

    def next_k(self, key):
        with self.lock:
            k = self.counts.get(key, 0)
            self.counts[key] = k + 1
        return 0 if self.static else k

    def phase(self, is_overview):
        """(restarted, stopped recorded jids) as this request sees them;
        counts the request when it is one to /jobs/overview."""
        with self.lock:
            n = self.overview_requests
            if is_overview:
                self.overview_requests += 1
        restarted = self.restart_after is not None and n >= self.restart_after
        if restarted and self.restart_between and not is_overview:
            # The N-th overview answer was the recorded one: the rest of
            # that cycle must see the recorded jid too.
            restarted = n > self.restart_after
        stopped = {j for j, after in self.stop_after.items() if n >= after}
        return restarted, stopped

    def write_log(self, line):
        if self.log:
            with self.lock:
                self.log.write(line + "\n")


def big_exposition(n):
    """Yields exactly n bytes of valid exposition text."""
    head = b"# TYPE flink_fake_big gauge\n"
    if n < len(head):
        yield b"#" * max(n - 1, 0) + (b"\n" if n else b"")
        return
    yield head
    left = n - len(head)
    i = 0
    chunk = []
    size = 0
    while left > 0:
        line = b'flink_fake_big{i="%d",} %d.0\n' % (i, i)
        if len(line) > left or left - len(line) < 4:
            line = b"#" * (left - 1) + b"\n"  # a comment pads the tail
        chunk.append(line)
        size += len(line)
        left -= len(line)
        i += 1
        if size >= 65536:
            yield b"".join(chunk)
            chunk, size = [], 0
    if chunk:
        yield b"".join(chunk)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fakeflink"
    sys_version = ""

    def log_message(self, fmt, *args):
        pass

    def do_GET(self):
        self.logged = False
        status = self.route(self.server.state, self.path)
        if not self.logged:
            self.log_request_line(status, False)

    def log_request_line(self, status, gz):
        # Called before the body goes out, so a client that has its answer
        # always finds the line in the log.
        self.logged = True
        self.server.state.write_log("%s %s %d %s %d" % (
            self.command, self.path, status, "gzip" if gz else "identity",
            self.client_address[1]))

    def wants_gzip(self):
        ae = self.headers.get("Accept-Encoding", "")
        for part in ae.split(","):
            bits = [b.strip() for b in part.split(";")]
            if bits[0].lower() != "gzip":
                continue
            q = [b for b in bits[1:] if b.startswith("q=")]
            try:
                return not q or float(q[0][2:]) > 0
            except ValueError:
                return False
        return False

    def send(self, status, ctype, body, allow_gzip=True):
        data = body.encode("utf-8") if isinstance(body, str) else body
        headers = [("Content-Type", ctype)]
        if allow_gzip and status == 200 and self.wants_gzip():
            data = gzip.compress(data, 6)
            headers.append(("Content-Encoding", "gzip"))
            headers.append(("Vary", "Accept-Encoding"))
        self.log_request_line(status, len(headers) > 1)
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        return status

    def not_found(self, path):
        return self.send(404, JSON_CT,
                         json.dumps({"errors": ["Not found: " + path]},
                                    separators=(",", ":")), False)

    def route(self, st, target):
        path, _, query = target.partition("?")
        if path.startswith("/fault/"):
            return self.fault(st, path, query)
        return self.serve(st, target, True)

    def fault(self, st, path, query):
        parts = path.split("/", 4)  # '', fault, kind, a, b
        kind = parts[2] if len(parts) > 2 else ""
        tail = "/" + "/".join(parts[3:]) if len(parts) > 3 else "/"
        if query:
            tail += "?" + query
        if kind == "slow" and len(parts) > 4 and parts[3].isdigit():
            time.sleep(min(int(parts[3]), MAX_SLOW_MS) / 1000.0)
            return self.serve(st, "/" + parts[4] + ("?" + query
                                                     if query else ""), True)
        if kind == "html":
            return self.send(200, "text/html; charset=utf-8",
                             "<!DOCTYPE html><html><head><title>Sign in"
                             "</title></head><body><form>login</form>"
                             "</body></html>\n", False)
        if kind == "truncate":
            got = self.render(st, tail)
            if got is None:
                return self.not_found(tail.partition("?")[0])
            status, ctype, body = got
            data = body.encode("utf-8")
            return self.send(status, ctype, data[:len(data) // 2], False)
        if kind == "500":
            return self.send(500, JSON_CT,
                             '{"errors":["Internal server error.",'
                             '"<Exception on server side>"]}', False)
        if kind == "big" and len(parts) > 3 and parts[3].isdigit():
            n = min(int(parts[3]), MAX_BIG)
            self.log_request_line(200, False)
            self.send_response(200)
            self.send_header("Content-Type", PROM_CT)
            self.send_header("Content-Length", str(n))
            self.end_headers()
            try:
                for chunk in big_exposition(n):
                    self.wfile.write(chunk)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True
            return 200
        if kind == "reset":
            self.log_request_line(0, False)
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()
            return 0
        return self.not_found(path)

    def serve(self, st, target, gz):
        got = self.render(st, target)
        if got is None:
            return self.not_found(target.partition("?")[0])
        status, ctype, body = got
        return self.send(status, ctype, body, gz)

    def render(self, st, target):
        """(status, content type, body) for target, or None for 404; with
        --clone-jobs the copies of job A (see the module's docstring)."""
        if target.startswith("/v1/"):
            target = target[3:]
        got = self.render_clones(st, target)
        if got is None or not st.rebase:
            return got
        status, ctype, body = got
        return status, ctype, rebase_times(body, st.rebase)

    def render_clones(self, st, target):
        if not st.clones:
            return self.render_one(st, target)
        m = CLONE_RE.search(target)
        if m:
            jid = m.group(1)
            got = self.render_one(st, target.replace(jid, JOB_A))
            if got is None:
                return None
            status, ctype, body = got
            name = json.dumps(clone_name(int(jid[4:], 16)))
            return status, ctype, body.replace(JOB_A, jid).replace(
                '"orders-enrich"', name)
        got = self.render_one(st, target)
        if got is None or target.partition("?")[0] != "/jobs/overview":
            return got
        status, ctype, body = got
        doc = json.loads(body)
        a = next(e for e in doc["jobs"] if e["jid"] == JOB_A)
        for i in range(st.clones):
            e = dict(a)
            e["jid"] = clone_jid(i)
            e["name"] = clone_name(i)
            doc["jobs"].append(e)
        return status, ctype, json.dumps(doc)

    def render_one(self, st, target):
        path, _, query = target.partition("?")
        restarted, stopped = st.phase(path == "/jobs/overview")
        m = re.match(r"^/(tm1|tm2|jm)/metrics$", path)
        if m:
            k = st.next_k(path)
            body = move_prom(st.fx.read(REPORTERS[m.group(1)]), k, restarted)
            body = drop_prom_jobs(body, stopped)
            if restarted:
                body = body.replace(JOB_A, JOB_A_NEW)
            body = long_names(body, st.long_names, True)
            return 200, PROM_CT, rename_job(body, st.rename, True)
        if restarted:
            if JOB_A in target:
                return None
            target = target.replace(JOB_A_NEW, JOB_A)
            path, _, query = target.partition("?")
        m = re.match(r"^/jobs/([0-9a-f]{32})/(?:metrics|vertices/[0-9a-f]{32}"
                     r"/(?:metrics|subtasks/metrics|watermarks))$", path)
        if m and m.group(1) in stopped:
            st.next_k(target)
            return 200, JSON_CT, "[]"  # Flink drops a finished job's metrics
        m = re.match(r"^/jobs/([0-9a-f]{32})/vertices/([0-9a-f]{32})/metrics$",
                     path)
        if m:
            k = st.next_k(target)
            body = st.fx.vertex_metrics(m.group(1), m.group(2), query, k)
            if body is None:
                return None
            if restarted:
                body = body.replace(JOB_A, JOB_A_NEW)
            return 200, JSON_CT, body
        fname = st.fx.exact.get(target)
        if fname is not None:
            body = st.fx.read(fname)
            if path == "/taskmanagers" and st.tm_hosts:
                for real, fake in zip(TM_REAL_HOSTS, st.tm_hosts):
                    body = body.replace(real, fake)
        else:
            body = st.fx.synthesize(path, query) if query else None
            if body is None:
                return None
        k = st.next_k(target)
        inc = 1 if restarted and path.startswith("/jobs/" + JOB_A) else 0
        body = apply_stops(path, body, stopped, st.fx)
        body = move_rest(body, k, inc)
        if restarted:
            body = body.replace(JOB_A, JOB_A_NEW)
        body = long_names(body, st.long_names, False)
        return 200, JSON_CT, rename_job(body, st.rename, False)


class ReporterHandler(Handler):
    """Extra per-reporter listener: /metrics is that reporter's file."""

    def route(self, st, target):
        path = target.partition("?")[0]
        if path != "/metrics":
            return self.not_found(path)
        return self.serve(st, "/" + self.server.reporter + "/metrics", True)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        # A client that hangs up (timeouts, aborts, resets under test) is
        # normal here; anything else is a bug worth a traceback.
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--fixtures", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--log")
    ap.add_argument("--static", action="store_true")
    ap.add_argument("--reporter-ports", action="store_true")
    ap.add_argument("--scenario", action="append")
    ap.add_argument("--tm-hosts")
    ap.add_argument("--clone-jobs", type=int, default=0)
    ap.add_argument("--rebase-time", action="store_true")
    args = ap.parse_args()
    if args.tm_hosts:
        hosts = args.tm_hosts.split(",")
        if len(hosts) != 2 or not all(h.startswith("127.") for h in hosts):
            raise SystemExit("fakeflink: --tm-hosts takes two loopback "
                             "addresses, e.g. 127.0.0.2,127.0.0.3")

    state = State(args)
    servers = []
    main_srv = Server((HOST, args.port), Handler)
    main_srv.state = state
    servers.append(("port", main_srv))
    if args.reporter_ports:
        for name in REPORTERS:
            srv = Server((HOST, 0), ReporterHandler)
            srv.state = state
            srv.reporter = name
            servers.append((name, srv))

    if args.tm_hosts:
        # One port on both hosts, since discovery configures one port.
        for _ in range(20):
            tm1 = Server((hosts[0], 0), ReporterHandler)
            try:
                tm2 = Server((hosts[1], tm1.server_address[1]),
                             ReporterHandler)
            except OSError:
                tm1.server_close()
                continue
            break
        else:
            raise SystemExit("fakeflink: no common free port on %s"
                             % args.tm_hosts)
        for name, srv in (("tm1", tm1), ("tm2", tm2)):
            srv.state = state
            srv.reporter = name
            servers.append(("tm_host_" + name, srv))

    lines = "".join("%s=%d\n" % (n, s.server_address[1]) for n, s in servers
                    if not n.startswith("tm_host_"))
    if args.tm_hosts:
        lines += "tm_port=%d\n" % servers[-1][1].server_address[1]
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(lines)
        os.rename(tmp, args.port_file)
    sys.stdout.write(lines)
    sys.stdout.flush()

    def stop(signum, frame):
        for _, s in servers:
            threading.Thread(target=s.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    threads = [threading.Thread(target=s.serve_forever, args=(0.1,),
                                daemon=True)
               for _, s in servers[1:]]
    for t in threads:
        t.start()
    main_srv.serve_forever(0.1)
    for _, s in servers[1:]:
        s.shutdown()
    for t in threads:
        t.join()
    for _, s in servers:
        s.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
