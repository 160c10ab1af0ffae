#!/usr/bin/env python3
"""Regenerates the seed corpora tests/fuzz/corpus/NAME/ from the fixtures.

    python3 tests/fuzz/make_corpus.py      (from the top of the tree)

Seeds are small (a few dozen files per harness, a few KiB each): libFuzzer
finds the rest. The input layouts are the ones the harnesses document at
their top (tests/fuzz/fuzz_NAME.c); a change there wants a change here.
Spool segments are written with this file's own encoder of the layout in
sinks/spool.h (zlib's CRC-32), a second independent writer beside the
harness's.
"""
import json
import os
import re
import shutil
import struct
import sys
import zlib

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIX = os.path.join(TOP, "tests", "fixtures")
OUT = os.path.join(TOP, "tests", "fuzz", "corpus")


def write(name, fname, data):
    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, fname), "wb") as f:
        f.write(data)


def read(*p):
    with open(os.path.join(FIX, *p), "rb") as f:
        return f.read()


def pieces(text, size, count):
    """Up to count line-aligned pieces of about size bytes from the start,
    each starting at a HELP line when there is one (so families are whole)."""
    out = []
    lines = text.split(b"\n")
    cur = []
    n = 0
    for ln in lines:
        cur.append(ln)
        n += len(ln) + 1
        if n >= size:
            out.append(b"\n".join(cur) + b"\n")
            cur, n = [], 0
            if len(out) == count:
                break
    if cur and len(out) < count:
        out.append(b"\n".join(cur))
    return out


def promparse():
    # byte 0: bit 0 small max_line, bit 1 small max_labels, bit 2 SSE2 in
    # the chunked parse, bit 3 trim; the rest is the body
    k = 0
    sources = [
        ("jm", read("flink", "prometheus", "jobmanager.prom"), 3000, 3),
        ("tm1", read("flink", "prometheus", "taskmanager-1.prom"), 3000, 4),
        ("tm2", read("flink", "prometheus", "taskmanager-2.prom"), 3000, 4),
        ("tm2x", read("flink", "prometheus",
                      "taskmanager-2.unfiltered-labels.excerpt.prom"), 3000, 3),
        ("special", read("prom", "special-names.prom"), 8000, 1),
    ]
    for tag, text, size, count in sources:
        for i, p in enumerate(pieces(text, size, count)):
            opt = [0x08, 0x0c, 0x09, 0x00, 0x0e][k % 5]
            write("promparse", "%s-%d" % (tag, i), bytes([opt]) + p)
            k += 1
    hand = [
        b'# HELP m_total A counter with "quotes" and \\\\ and \\n.\n'
        b"# TYPE m_total counter\n"
        b'm_total{a="x",b="y\\"z\\\\w\\n"} 1.5e3 1700000000000\r\n'
        b'm_total{a="x",b="",} -Inf\n'
        b"m_total NaN -1\n",
        b"# TYPE s summary\n"
        b's{quantile="0.5"} 1\ns{quantile="0.99"} +Inf\ns_sum 2\ns_count 3\n'
        b"# TYPE h histogram\n"
        b'h_bucket{le="1"} 0\nh_bucket{le="+Inf"} 1\nh_count 1\nh_sum 0x1p3\n',
        b"#\n# comment\n\n \t\nname_only 1\n:colon:name 2\n_ 3\n"
        b"bad{=\"x\"} 1\nbad{a=x} 1\nbad 1 2 3\nbad{a=\"x\"}\n"
        b'dup{a="1",a="2"} 1\nlong' + b"x" * 200 + b" 1\n",
        b'flink_taskmanager_job_task_numRecordsIn{job_name="j",task_name="t",'
        b'subtask_index="0",tm_id="a",host="h",tmp_x="1"} 10\n'
        b'flink_taskmanager_job_task_numRecordsIn{job_name="j",task_name="t",'
        b'subtask_index="1",tm_id="b",host="h",tmp_x="1"} 20\n'
        b'flink_taskmanager_job_task_busyTimeMsPerSecond{job_name="j",'
        b'task_name="t",subtask_index="0"} NaN',
    ]
    for i, h in enumerate(hand):
        for opt in (0x08, 0x0f):
            write("promparse", "hand-%d-%02x" % (i, opt), bytes([opt]) + h)


def flink_kind(doc):
    """The first byte of a flink_json input: 0 jobs overview, 1 job details, 2 metrics, 3 aggregated metrics,
    4 checkpoints, 5 task managers, 6 error body (fuzz_flink_json.c)."""
    if isinstance(doc, dict):
        if "errors" in doc:
            return 6
        if "jobs" in doc:
            return 0
        if "vertices" in doc or "plan" in doc:
            return 1
        if "counts" in doc or "history" in doc or "latest" in doc:
            return 4
        if "taskmanagers" in doc and isinstance(doc["taskmanagers"], list):
            return 5
        return None
    if isinstance(doc, list) and doc and all(isinstance(x, dict) for x in doc):
        if any(k in doc[0] for k in ("min", "max", "avg", "sum")):
            return 3
        if "id" in doc[0]:
            return 2
    return None


def flink_json():
    d = os.path.join(FIX, "flink")
    for f in sorted(os.listdir(d)):
        if not f.endswith(".json"):
            continue
        raw = read("flink", f)
        try:
            kind = flink_kind(json.loads(raw))
        except ValueError:
            kind = None
        if kind is None:
            continue
        write("flink_json", f[:-5], bytes([kind]) + raw)
    hand = [
        (2, b'[{"id":"0.busyTimeMsPerSecond","value":"NaN"},'
            b'{"id":"1.numRecordsInPerSecond","value":"4.5678901E7"},'
            b'{"id":"7.currentInputWatermark","value":"-9223372036854775808"},'
            b'{"id":"0.op.x","value":1},{"id":5,"value":"1"},{"value":"2"}]'),
        (3, b'[{"id":"busyTimeMsPerSecond","min":"NaN","max":1E3,"avg":null,'
            b'"sum":"x"},{"id":"x"},{}]'),
        (0, b'{"jobs":[{"jid":"abc","name":"n","state":"RUNNING",'
            b'"start-time":-1},{"jid":"bad id!","state":"FAILED"},{"jid":7}]}'),
        (6, b'{"errors":["Not found: /jobs/x","second"]}'),
        (6, b'{"errors":[1,"x"]}'),
        (5, b'{"taskmanagers":[{"id":"10.0.0.1:6122-abcdef","path":'
            b'"pekko.tcp://flink@10.0.0.1:6122/user/rpc/taskmanager_0"},'
            b'{"id":"[::1]:1-x"},{"path":7}]}'),
    ]
    for i, (kind, body) in enumerate(hand):
        write("flink_json", "hand-%d" % i, bytes([kind]) + body)
        # bit 7: every parser gets the body
        write("flink_json", "hand-%d-all" % i, bytes([0x80 | kind]) + body)


def config():
    d = os.path.join(FIX, "config")
    for f in sorted(os.listdir(d)):
        if f.endswith(".yml"):
            write("config", f, read("config", f))
    bad = sorted(os.listdir(os.path.join(d, "bad")))
    # every other one: the error paths differ, the YAML around them hardly
    for f in bad[::2]:
        write("config", "bad-" + f, read("config", "bad", f))
    write("config", "env.yml",
          "agent:\n"
          "  name: ${LAGWATCH_FUZZ_HOST}\n"
          "  listen: \"127.0.0.1:${LAGWATCH_FUZZ_PORT}\"\n"
          "  interval: ${LAGWATCH_FUZZ_UNSET:-30s}\n"
          "  log_level: ${LAGWATCH_FUZZ_EMPTY:-warn}\n"
          "flink:\n"
          "  - name: ${LAGWATCH_FUZZ_UNSET:-c-${LAGWATCH_FUZZ_PORT}}\n"
          "    reporters: [\"http://${LAGWATCH_FUZZ_HOST}:${LAGWATCH_FUZZ_PORT}/\"]\n")
    write("config", "env-yaml.yml",
          "flink:\n"
          "  - name: \"${LAGWATCH_FUZZ_YAML}\"\n"
          "    rest_url: http://jm:8081/$${x}/${LAGWATCH_FUZZ_EMPTY}\n")
    write("config", "env-bad.yml",
          "agent:\n  name: ${LAGWATCH_FUZZ_UNSET}\n  listen: ${:-x}\n"
          "  spool_dir: ${LAGWATCH_FUZZ_HOST\n")


HDR = 32


def seg_record(seq, payload, points=1, meta=0):
    h = struct.pack("<IQQI", len(payload), seq, meta, points)
    crc = zlib.crc32(payload, zlib.crc32(h)) & 0xffffffff
    return b"LWS1" + h + struct.pack("<I", crc) + payload


def spool():
    # raw segments (mode byte even): records from sequence 7, the first
    # sequence the harness names the segment after
    recs = [seg_record(7 + i, b"m,t=%d v=%di 1700000000000" % (i, i), i, 42)
            for i in range(4)]
    seg = b"".join(recs)
    write("spool", "raw-valid", b"\x00" + seg)
    write("spool", "raw-capped", b"\x02" + seg)
    write("spool", "raw-torn-header", b"\x00" + seg + recs[0][:HDR - 3])
    write("spool", "raw-torn-payload", b"\x00" + seg[:len(seg) - 5])
    flipped = bytearray(seg)
    flipped[len(recs[0]) + 40] ^= 0x10
    write("spool", "raw-bad-crc", b"\x00" + bytes(flipped))
    bad_magic = bytearray(seg)
    bad_magic[len(recs[0])] ^= 0xff
    write("spool", "raw-bad-magic", b"\x00" + bytes(bad_magic))
    huge = bytearray(seg)
    huge[4:8] = struct.pack("<I", 0xfffffff0)
    write("spool", "raw-huge-length", b"\x00" + bytes(huge))
    write("spool", "raw-empty", b"\x00")
    # structured (mode byte odd): n, then per record len+payload, points,
    # meta; then split, how (1 tear, 2 flip, 4 garbage, 0x80 segment B),
    # at (u16, big-endian), flip mask, garbage
    def structured(mode, payloads, split, how, at, flip, garbage=b""):
        b = bytes([mode, len(payloads) - 1])
        for i, p in enumerate(payloads):
            b += bytes([len(p)]) + p + bytes([i, i + 1])
        return b + bytes([split, how]) + struct.pack(">H", at) + \
            bytes([flip]) + garbage

    pl = [b"cpu,host=a v=1 1", b"x" * 100, b"\x00\x01\x02", b"last"]
    cases = [
        ("s-clean", 1, 2, 0x00, 0, 0),
        ("s-clean-one-seg", 1, 4, 0x00, 0, 0),
        ("s-tear-a", 1, 2, 0x01, 50, 0),
        ("s-tear-b", 1, 2, 0x81, 140, 0),
        ("s-tear-boundary", 1, 4, 0x01, 48, 0),
        ("s-flip-a", 1, 2, 0x02, 300, 0x81),
        ("s-flip-b-len", 1, 2, 0x82, 4 * 7, 0x0f),
        ("s-garbage", 1, 2, 0x84, 0, 0),
        ("s-all", 3, 1, 0x87, 999, 0xff),
    ]
    for name, mode, split, how, at, flip in cases:
        write("spool", name, structured(mode, pl, split, how, at, flip,
                                        b"LWS1garbage"))


def lp(s):
    return bytes([len(s)]) + s


def rwproto():
    # per sample: name, suffix index, label count (255: many), labels,
    # value kind (< 0x40: 8 bytes of double follow, else the byte - 0x80),
    # timestamp (8 bytes, big-endian)
    def sample(name, suffix, labels, v=None, ts=1700000000000):
        b = lp(name) + bytes([suffix, len(labels)])
        for k, val in labels:
            b += lp(k) + lp(val)
        if v is None:
            b += b"\x81"
        else:
            b += b"\x00" + struct.pack(">d", v)
        return b + struct.pack(">q", ts)

    write("rwproto", "plain",
          sample(b"flink_taskmanager_job_task_numRecordsIn", 1,
                 [(b"job_name", b"orders"), (b"task_name", b"Map -> Sink"),
                  (b"subtask_index", b"0")], 12.5))
    write("rwproto", "sanitize",
          sample(b"0bad.name-x:y", 3, [(b"1a", b"v"), (b"a-b", b"\xc3\xa9"),
                                       (b"__name__", b"x"), (b"e", b"")]) +
          sample(b"m", 0, [(b"a.b", b"1"), (b"a_b", b"2")]))
    write("rwproto", "utf8",
          sample(b"m", 0, [(b"a", b"\xed\xa0\x80")]) +
          sample(b"m", 0, [(b"a", b"\xf4\x90\x80\x80")]) +
          sample(b"m", 0, [(b"a", b"\xe2\x82\xac\xf0\x9f\x98\x80")]))
    write("rwproto", "values",
          sample(b"m", 2, [], float("nan")) + sample(b"m", 2, [], float("inf")) +
          sample(b"m", 2, [], -0.0, -1) + sample(b"m", 2, [], 1e308, 2**62))
    many = lp(b"m") + b"\x00\xff\x10" + lp(b"a") + lp(b"1") + \
        b"".join(lp(b"l%d" % i) + lp(b"v") for i in range(7)) + b"\x81" + \
        struct.pack(">q", 0)
    write("rwproto", "many-labels", many)
    write("rwproto", "empty-name", sample(b"", 0, [(b"a", b"b")]))


def promproto():
    # per sample: pick (>= 0x80 reuses family pick % n; pick % 5 the type;
    # bit 5 no help), name (when new), help, label count, labels, value
    # kind as in rwproto
    def sample(pick, name, help_, labels, v=None):
        b = bytes([pick])
        if pick < 0x80:
            b += lp(name)
        b += lp(help_) + bytes([len(labels)])
        for k, val in labels:
            b += lp(k) + lp(val)
        return b + (b"\x81" if v is None else b"\x00" + struct.pack(">d", v))

    write("promproto", "families",
          sample(1, b"lagwatch_cycles_total", b"Cycles run.", [(b"c", b"x")]) +
          sample(2, b"lagwatch_lag_seconds", b"Lag.", [(b"g", b"a"),
                                                       (b"t", b"b")], 1.5) +
          sample(0x80, b"", b"ignored", [(b"c", b"y")], 2.0) +
          sample(0x23, b"untyped_no_help", b"", []) +
          sample(0x81, b"", b"", [], float("nan")))
    write("promproto", "summary-histogram",
          sample(3, b"s", b"summary parts", [(b"quantile", b"0.5")], 1) +
          sample(4, b"h_bucket", b"histogram parts", [(b"le", b"+Inf")]))
    write("promproto", "unlabelled", sample(2, b"g", b"", [], 0.0))
    write("promproto", "utf8-help",
          sample(1, b"m", b"caf\xc3\xa9 \\ \"q\"\n", [(b"v", b"\xff\xfe")],
                 -0.0))


def http():
    # byte 0 % 5: 0 Accept, 1 until= time, 2 ready (group&topic&cluster&
    # until), 3 JSON string, 4 response headers (name\tvalue, \v between)
    accepts = [
        "application/vnd.google.protobuf;proto=io.prometheus.client."
        "MetricFamily;encoding=delimited;q=0.7,text/plain;version=0.0.4;"
        "q=0.3,*/*;q=0.1",
        "application/openmetrics-text;version=1.0.0;charset=utf-8;q=0.5,"
        "application/openmetrics-text;version=0.0.1;q=0.4,text/plain;"
        "version=0.0.4;charset=utf-8;q=0.3,*/*;q=0.2",
        "text/plain;version=0.0.4;q=0.9,application/openmetrics-text;q=1",
        "APPLICATION/VND.GOOGLE.PROTOBUF; proto=io.prometheus.client."
        "MetricFamily; encoding=DELIMITED",
        "text/*;q=0.001, application/openmetrics-text;q=1e-1;version=2",
        "",
    ]
    for i, a in enumerate(accepts):
        write("http", "accept-%d" % i, b"\x00" + a.encode())
    times = ["2026-11-20T10:00:00Z", "2026-11-20t10:00:00.123456789+05:30",
             "1763632800", "1763632800.250", "0000-01-01T00:00:00Z",
             "9999-12-31T23:59:59.999-23:59", "2026-02-29T00:00:00Z",
             "2024-02-29T23:59:60Z"]
    for i, t in enumerate(times):
        write("http", "time-%d" % i, b"\x01" + t.encode())
    readies = ["etl&clicks&main&1000", "etl&&&2026-01-01T00:00:00Z",
               "idle&&main&1", "etl&clicks&dr&999", "nope&&&1",
               "etl&x\"\\\x01&&1", "etl&&&"]
    for i, r in enumerate(readies):
        write("http", "ready-%d" % i, b"\x02" + r.encode())
    write("http", "json-0", b"\x03" + "plain \"q\" \\ \x01 \x7f é \U0001f600"
          .encode() + b"\xff\xc3")
    write("http", "header-0",
          b"\x04Retry-After\t5\vX-A\ta:b\vcontent-type\tx\v\tv\vX-B\tx\ry")


def c_strings(path):
    """The string literals of a C file, adjacent ones joined, unescaped."""
    with open(os.path.join(TOP, path), encoding="utf-8") as f:
        src = f.read()
    lit = r'"(?:[^"\\\n]|\\.)*"'
    out = []
    for m in re.finditer(r"%s(?:\s*%s)*" % (lit, lit), src):
        parts = re.findall(lit, m.group(0))
        text = "".join(x[1:-1] for x in parts)
        out.append(text.encode("latin-1", "backslashreplace")
                   .decode("unicode_escape").encode("utf-8"))
    return out


def influxql():
    seen = []
    for s in c_strings(os.path.join("tests", "unit", "influxql_test.c")):
        if re.match(rb"\s*(SELECT|SHOW|select|show)\b", s) and s not in seen:
            seen.append(s)
    dash = os.path.join(TOP, "dashboards", "influxdb")
    for fn in sorted(os.listdir(dash)):
        with open(os.path.join(dash, fn), encoding="utf-8") as f:
            doc = json.load(f)

        def walk(o):
            if isinstance(o, dict):
                for k, v in o.items():
                    if k == "query" and isinstance(v, str) and \
                            re.match(r"\s*(SELECT|SHOW)\b", v):
                        b = v.encode()
                        if b not in seen:
                            seen.append(b)
                    else:
                        walk(v)
            elif isinstance(o, list):
                for v in o:
                    walk(v)
        walk(doc)
    for i, s in enumerate(seen):
        write("influxql", "stmt-%02d" % i, s)
    # several statements, comments, the caps' edges
    write("influxql", "multi-0", b";".join(seen[:4]))
    write("influxql", "multi-1", b"SHOW DATABASES; -- c\nSHOW MEASUREMENTS "
          b"ON db WITH MEASUREMENT =~ /cpu/ LIMIT 2 /* x */;")
    write("influxql", "deep-0", b"SELECT " + b"(" * 60 + b"a" + b")" * 60 +
          b" FROM m WHERE " + b"-" * 30 + b"1 = 1")
    write("influxql", "sub-0", b"SELECT v FROM (SELECT v FROM (SELECT "
          b"last(x) AS v FROM m GROUP BY time(1m, 30s), * fill(previous)))")


def lpparse():
    lines = []
    for path in (("tests", "unit", "lpparse_test.c"),
                 ("tests", "unit", "lineproto_test.c")):
        for s in c_strings(os.path.join(*path)):
            for ln in s.split(b"\n"):
                if re.match(rb"[^ ,=]+(,[^ ]*)? [^ ]+=", ln) and \
                        ln not in lines:
                    lines.append(ln)
    # precision byte: 0 ns, 1 u, 2 ms, 3 s, 4 m, 5 h; 8: small text cap
    for i, ln in enumerate(lines):
        write("lpparse", "line-%02d" % i, bytes([i % 6]) + ln + b"\n")
    write("lpparse", "body-0", b"\x02" + b"\n".join(lines[:20]) +
          b"\n# comment\n\n  \t" + (lines[0] if lines else b"m v=1") +
          b"\r\nbad line\nm v=1 1\r\n")
    write("lpparse", "escapes-0",
          b"\x00my\\ meas\\,x,zz=1,a\\=b=c\\ d\\,e f\\ 1=1.5,i=-3i,"
          b"u=7u,b=TRUE,s=\"q\\\"uo\\\\te\\n\" 1700000000123456789\n")
    write("lpparse", "types-0", b"\x03m,host=a b=t,c=F,d=false,e=1e-300,"
          b"f=-0,g=9223372036854775807i,h=9223372036854775807u,s=\"\" "
          b"-1700000000\n")
    write("lpparse", "cap-0", b"\x0a" + b"m,t=" + b"x" * 80 + b" v=1\n")


def main():
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    for f in (promparse, flink_json, config, spool, rwproto, promproto, http,
              influxql, lpparse):
        f()
    total = 0
    for root, _, files in os.walk(OUT):
        for f in files:
            total += os.path.getsize(os.path.join(root, f))
    print("corpus: %d bytes under %s" % (total, os.path.relpath(OUT, TOP)),
          file=sys.stderr)


if __name__ == "__main__":
    main()
