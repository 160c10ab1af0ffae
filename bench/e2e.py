#!/usr/bin/env python3
"""bench/e2e: what a user pays, end to end, beside the peers, in one run.

Generates a Flink PrometheusReporter-shaped exposition (jobs x tasks x
operators x subtasks, Flink's 11-label operator scope), serves it over HTTP
on 127.0.0.1, and runs one agent after the other against it, each for the
same number of steady scrape cycles:

  prometheus-agent   Prometheus in agent mode -> remote write
  vmagent            vmagent, defaults (but a scrape-size cap that fits)
  vmagent-stream     vmagent with -promscrape.streamParse (its docs' advice
                     for targets of millions of series) and
                     -promscrape.noStaleMarkers (its docs: staleness
                     tracking costs memory and CPU per series); the same
                     scrape-size cap
  lagwatch           lagwatch run -> 3 real influxd nodes (default
                     trimming, gzip on): the main job
  lagwatch-nogzip    the same with gzip off
  lagwatch-rw        lagwatch run -> remote write only, no trimming

Remote-write agents write to a Prometheus receiver of their own (started
fresh for each, --web.enable-remote-write-receiver). For each agent it
prints the CPU of the agent process per scraped sample over --cycles
steady cycles (the first cycles are warm-up and excluded), its peak RSS
(VmHWM), and whether the receiver or the nodes hold every series.

CPU is read from /proc/PID/stat between two points in the middle of a
scrape interval (the agent idle), counting scrapes at the HTTP server, so
the figure does not depend on any agent's own bookkeeping. The machine is
shared and noisy: compare the figures within one run, as ratios.

Usage: bench/e2e.py --lagwatch PATH [--series N] [--label-len N]
         [--subtasks N] [--jobs N] [--interval S] [--cycles N]
         [--only NAME[,NAME...]] [--baseline PATH] [--profile]
         [--keep] [--write-exposition PATH]
All servers are started here on free loopback ports in a temp dir and
stopped by PID at the end.
"""

import argparse
import http.server
import json
import re
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request

OP_METRICS = [
    "numRecordsIn", "numRecordsOut", "numRecordsInPerSecond",
    "numRecordsOutPerSecond", "numBytesIn", "numBytesOut",
    "currentInputWatermark", "currentOutputWatermark",
    "numLateRecordsDropped", "numRecordsInErrors",
]
TASK_METRICS = [
    "busyTimeMsPerSecond", "idleTimeMsPerSecond",
    "backPressuredTimeMsPerSecond", "isBackPressured",
    "numBuffersInLocalPerSecond", "numBuffersOutPerSecond",
    "checkpointStartDelayNanos", "mailboxMailsPerSecond",
]
CLK = os.sysconf("SC_CLK_TCK")


def generate(series, label_len, subtasks, jobs):
    """The exposition as bytes, and the number of samples in it.

    Tasks and operators per job follow from series: every (job, task) has
    one task series per task metric and per subtask, and every operator one
    per operator metric and subtask. label_len pads the task and operator
    names (SQL jobs have long ones)."""
    per_task = subtasks * (len(TASK_METRICS) + 2 * len(OP_METRICS))
    tasks = max(1, round(series / (jobs * per_task)))
    pad = "x" * max(0, label_len - 40)
    out = []
    n = 0
    fams = [(m, True) for m in OP_METRICS] + [(m, False) for m in TASK_METRICS]
    for metric, opscope in fams:
        scope = ("taskmanager_job_task_operator" if opscope
                 else "taskmanager_job_task")
        name = "flink_%s_%s" % (scope, metric)
        out.append("# HELP %s %s (scope: %s)\n# TYPE %s gauge\n"
                   % (name, metric, scope, name))
        for j in range(jobs):
            for t in range(tasks):
                for o in range(2 if opscope else 1):
                    for s in range(subtasks):
                        tm = s % 16
                        lab = ('job_id="%08x5c1a2b3c4d5e6f708192a3b4",'
                               'task_id="%08xd77cffb7decc0c5e6a0a2e",'
                               'task_attempt_id="5d96cf7f265beda9cf0c26ef42'
                               '43ed52_%08x_%d_1",host="10_42_%d_17",'
                               % (j, t, t, s, tm))
                        if opscope:
                            lab += ('operator_id="%08x%08xbfb637dd5bae2d26",'
                                    'operator_name="Map:_enrich_%d_%s",'
                                    % (t, o, o, pad))
                        lab += ('task_name="Map:_enrich_customer_%d_%s",'
                                'task_attempt_num="1",job_name="orders_%d",'
                                'tm_id="10_42_%d_17:6122_4d5c1a",'
                                'subtask_index="%d",' % (t, pad, j, tm, s))
                        out.append("%s{%s} %d.0\n" % (name, lab, n % 100000))
                        n += 1
    return "".join(out).encode(), n


class Exposition(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    body = b""
    lock = threading.Lock()
    scrapes = 0

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)
        with Exposition.lock:
            Exposition.scrapes += 1

    def log_message(self, *args):
        pass


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def http_get(url, timeout=10):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read()


def wait_http(url, secs):
    end = time.time() + secs
    while time.time() < end:
        try:
            http_get(url, 2)
            return True
        except Exception:
            time.sleep(0.2)
    return False


def cpu_ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        st = f.read().rsplit(")", 1)[1].split()
    return int(st[11]) + int(st[12])  # utime + stime


def vmhwm_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


class Stack:
    """Processes started here, stopped by PID."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.procs = []

    def start(self, name, argv, **kw):
        log = open(os.path.join(self.tmp, name + ".log"), "wb")
        p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                             **kw)
        self.procs.append(p)
        return p

    def stop(self, p):
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        if p in self.procs:
            self.procs.remove(p)

    def stop_all(self):
        for p in list(self.procs):
            self.stop(p)


def prom_receiver(stack, name):
    port = free_port()
    d = os.path.join(stack.tmp, name + "-recv")
    os.makedirs(d, exist_ok=True)
    cfg = os.path.join(d, "prometheus.yml")
    with open(cfg, "w") as f:
        f.write("global: {}\n")
    p = stack.start(name + "-recv", [
        "prometheus", "--config.file=" + cfg, "--storage.tsdb.path=" + d,
        "--web.listen-address=127.0.0.1:%d" % port,
        "--web.enable-remote-write-receiver"])
    if not wait_http("http://127.0.0.1:%d/-/ready" % port, 60):
        raise RuntimeError("the Prometheus receiver did not start")
    return p, port


def prom_count(port, expr):
    q = urllib.parse.urlencode({"query": expr})
    doc = json.loads(http_get("http://127.0.0.1:%d/api/v1/query?%s"
                              % (port, q), 60))
    res = doc["data"]["result"]
    return int(float(res[0]["value"][1])) if res else 0


def influxd_node(stack, name):
    d = os.path.join(stack.tmp, name)
    for sub in ("meta", "data", "wal"):
        os.makedirs(os.path.join(d, sub), exist_ok=True)
    http_port, rpc_port = free_port(), free_port()
    cfg = os.path.join(d, "influxd.conf")
    with open(cfg, "w") as f:
        f.write('reporting-enabled = false\n'
                'bind-address = "127.0.0.1:%d"\n'
                '[meta]\n  dir = "%s/meta"\n'
                '[data]\n  dir = "%s/data"\n  wal-dir = "%s/wal"\n'
                '  query-log-enabled = false\n'
                '[http]\n  bind-address = "127.0.0.1:%d"\n'
                '  log-enabled = false\n'
                '[monitor]\n  store-enabled = false\n'
                % (rpc_port, d, d, d, http_port))
    p = stack.start(name, ["influxd", "-config", cfg])
    if not wait_http("http://127.0.0.1:%d/ping" % http_port, 60):
        raise RuntimeError("influxd %s did not start" % name)
    return p, "http://127.0.0.1:%d" % http_port


def influx_series(url, db):
    q = urllib.parse.urlencode({"db": db,
                                "q": "SHOW SERIES EXACT CARDINALITY"})
    doc = json.loads(http_get(url + "/query?" + q, 120))
    total = 0
    for r in doc.get("results", []):
        for s in r.get("series", []) or []:
            for v in s.get("values", []):
                total += int(v[-1])
    return total


def measure(agent, target_url_port, interval, cycles, warmup, perf=None):
    """CPU ticks and scrapes between two mid-interval instants; with perf
    (a file name) a perf record -g of the agent over the same window."""
    pid = agent.pid

    def wait_scrapes(n, limit):
        end = time.time() + limit
        while Exposition.scrapes < n:
            if agent.poll() is not None:
                raise RuntimeError("the agent exited (status %d)"
                                   % agent.returncode)
            if time.time() > end:
                raise RuntimeError("no scrape %d within %.0f s" % (n, limit))
            time.sleep(0.05)

    base = Exposition.scrapes
    wait_scrapes(base + warmup, interval * (warmup + 3) + 60)
    time.sleep(interval / 2)
    rec = None
    if perf:
        # cpu-clock: hardware counters are often missing in VMs
        rec = subprocess.Popen(["perf", "record", "-F", "1999", "-g",
                                "-e", "cpu-clock", "-o", perf,
                                "-p", str(pid)],
                               stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    c0, s0, t0 = cpu_ticks(pid), Exposition.scrapes, time.time()
    wait_scrapes(s0 + cycles, interval * (cycles + 3) + 60)
    time.sleep(interval / 2)
    c1, s1, t1 = cpu_ticks(pid), Exposition.scrapes, time.time()
    if rec:
        rec.send_signal(signal.SIGINT)
        rec.wait(60)
    return (c1 - c0) / CLK, s1 - s0, t1 - t0, vmhwm_kib(pid)


def lagwatch_config(tmp, name, target, interval, nodes=None, rw_url=None,
                    gzip=True, trim=True, max_bytes=None):
    d = os.path.join(tmp, name)
    os.makedirs(d, exist_ok=True)
    lport = free_port()
    y = ["agent:", "  name: bench", "  interval: %ds" % interval,
         "  listen: 127.0.0.1:%d" % lport,
         # info: one "cycle done ... series_kept=N" line a cycle, which the
         # store check reads (/metrics is refused past 64 MiB, at about
         # 400,000 series)
         "  log_level: info",
         "  scrape_timeout: %ds" % max(1, interval - 1)]
    if max_bytes:
        y.append("  max_response_bytes: %d" % max_bytes)
    y += ["flink:", "  - name: bench", "    reporters: [%s]" % target]
    if not trim:
        y += ["trim:", "  drop_labels: []", "  fold_subtasks:",
              "    metrics: []"]
    y.append("sinks:")
    if nodes:
        y += ["  influxdb:", "    database: flink",
              "    gzip: %s" % ("true" if gzip else "false"), "    nodes:"]
        for i, u in enumerate(nodes):
            y.append("      - {name: n%d, url: \"%s\"}" % (i, u))
    if rw_url:
        y += ["  remote_write:", "    url: %s" % rw_url]
    path = os.path.join(d, "lagwatch.yml")
    with open(path, "w") as f:
        f.write("\n".join(y) + "\n")
    return path, lport


def run_agent(row, args, stack, target, series):
    """Starts agent `row` (NAME, or NAME@base for the --baseline binary),
    measures it, checks its store; a result row."""
    name, _, base = row.partition("@")
    binary = args.baseline if base else args.lagwatch
    tag = row.replace("@", "-")  # its servers' and files' names
    interval = args.interval
    recv = None
    nodes = []
    check = None
    try:
        if name in ("prometheus-agent", "vmagent", "vmagent-stream",
                    "lagwatch-rw"):
            recv, rport = prom_receiver(stack, tag)
            rw = "http://127.0.0.1:%d/api/v1/write" % rport
        if name == "prometheus-agent":
            d = os.path.join(stack.tmp, tag)
            os.makedirs(d, exist_ok=True)
            cfg = os.path.join(d, "agent.yml")
            with open(cfg, "w") as f:
                f.write("global: {scrape_interval: %ds, scrape_timeout: %ds}\n"
                        "scrape_configs:\n  - job_name: flink\n"
                        "    static_configs: [{targets: ['%s']}]\n"
                        "remote_write:\n  - url: %s\n"
                        % (interval, max(1, interval - 1), target, rw))
            agent = stack.start(name, [
                "prometheus", "--enable-feature=agent",
                "--config.file=" + cfg, "--storage.agent.path=" + d,
                "--web.listen-address=127.0.0.1:%d" % free_port()])
        elif name.startswith("vmagent"):
            d = os.path.join(stack.tmp, tag)
            os.makedirs(d, exist_ok=True)
            cfg = os.path.join(d, "scrape.yml")
            with open(cfg, "w") as f:
                f.write("global: {scrape_interval: %ds, scrape_timeout: %ds}\n"
                        "scrape_configs:\n  - job_name: flink\n"
                        "    static_configs: [{targets: ['%s']}]\n"
                        % (interval, max(1, interval - 1), target))
            argv = ["vmagent", "-promscrape.config=" + cfg,
                    "-remoteWrite.url=" + rw,
                    "-remoteWrite.tmpDataPath=" + d,
                    "-httpListenAddr=127.0.0.1:%d" % free_port(),
                    # the default 16 MiB would refuse the target outright
                    "-promscrape.maxScrapeSize=%d" % (4 * args.body_len)]
            if name == "vmagent-stream":
                argv += ["-promscrape.streamParse",
                         "-promscrape.noStaleMarkers"]
            agent = stack.start(name, argv)
        else:
            if name in ("lagwatch", "lagwatch-nogzip"):
                for i in range(3):
                    p, u = influxd_node(stack, "%s-influx%d" % (tag, i))
                    nodes.append((p, u))
                cfg, lport = lagwatch_config(
                    stack.tmp, tag, "http://" + target + "/metrics",
                    interval, nodes=[u for _, u in nodes],
                    gzip=name == "lagwatch", max_bytes=4 * args.body_len)
            else:
                cfg, lport = lagwatch_config(
                    stack.tmp, tag, "http://" + target + "/metrics",
                    interval, rw_url=rw, trim=False,
                    max_bytes=4 * args.body_len)
            agent = stack.start(row, [binary, "run", "-c", cfg])
        perf = (os.path.abspath("perf-%s.data" % row.replace("@", "-"))
                if args.profile else None)
        cpu, scrapes, wall, hwm = measure(agent, target, interval,
                                          args.cycles, args.warmup, perf)
        time.sleep(min(interval, 10))  # let the last writes land
        if name in ("lagwatch", "lagwatch-nogzip"):
            held = sum(influx_series(u, "flink") for _, u in nodes)
            want = -1
            with open(os.path.join(stack.tmp, row + ".log"), "rb") as f:
                for line in f.read().decode(errors="replace").splitlines():
                    m = re.search(r"cycle done .*series_kept=(\d+)", line)
                    if m:
                        want = int(m.group(1))
            check = "%d of %d trimmed series in influxd" % (held, want)
            ok = held >= want > 0
        else:
            held = prom_count(rport, 'count({__name__=~"flink_.+"})')
            check = "%d of %d series in the receiver" % (held, series)
            ok = held >= series
        stack.stop(agent)
        return {"agent": row, "cpu_us": cpu * 1e6 / (scrapes * series),
                "rss_mib": hwm / 1024.0, "scrapes": scrapes, "wall_s": wall,
                "check": check, "ok": ok}
    finally:
        if recv:
            stack.stop(recv)
        for p, _ in nodes:
            stack.stop(p)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lagwatch")
    ap.add_argument("--series", type=int, default=200000)
    ap.add_argument("--label-len", type=int, default=60)
    ap.add_argument("--subtasks", type=int, default=16)
    ap.add_argument("--jobs", type=int, default=50)
    ap.add_argument("--interval", type=int, default=15)
    ap.add_argument("--cycles", type=int, default=6)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--only", default="")
    ap.add_argument("--profile", action="store_true",
                    help="perf record -g each agent over its measured "
                    "cycles into ./perf-NAME.data (perf's own CPU is not "
                    "the agent's; the figures stay comparable)")
    ap.add_argument("--write-exposition", metavar="PATH",
                    help="write the exposition to PATH and exit (for "
                    "bench_pipeline --file)")
    ap.add_argument("--baseline", metavar="PATH",
                    help="another lagwatch binary (e.g. a build of the "
                    "previous commit): each lagwatch row is also measured "
                    "with it, as NAME@base, for a before/after table from "
                    "one run")
    ap.add_argument("--keep", action="store_true",
                    help="keep the temp dir (logs) at the end")
    args = ap.parse_args()
    if not args.lagwatch and not args.write_exposition:
        ap.error("--lagwatch is required")
    agents = ["prometheus-agent", "vmagent", "vmagent-stream", "lagwatch",
              "lagwatch-nogzip", "lagwatch-rw"]
    if args.only:
        agents = [a for a in args.only.split(",") if a]
    if args.baseline:
        # each lagwatch row right after its baseline twin: a before/after
        # pair measured minutes apart, not runs apart
        agents = [r for a in agents
                  for r in ([a + "@base", a] if a.startswith("lagwatch")
                            else [a])]
    body, series = generate(args.series, args.label_len, args.subtasks,
                            args.jobs)
    args.body_len = len(body)
    if args.write_exposition:
        with open(args.write_exposition, "wb") as f:
            f.write(body)
        print("%s: %d samples, %d bytes" % (args.write_exposition, series,
                                            len(body)))
        return 0
    Exposition.body = body
    tmp = tempfile.mkdtemp(prefix="lagwatch-e2e.")
    stack = Stack(tmp)
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Exposition)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    target = "127.0.0.1:%d" % srv.server_address[1]
    print("exposition: %d samples, %.1f MB (%.0f bytes a sample), interval "
          "%d s, %d steady cycles after %d warm-up; %s, %d cores"
          % (series, len(body) / 1e6, len(body) / series, args.interval,
             args.cycles, args.warmup, time.strftime("%Y-%m-%d"),
             os.cpu_count()), flush=True)
    rows = []
    try:
        for a in agents:
            try:
                rows.append(run_agent(a, args, stack, target, series))
            except Exception as e:  # one agent failing spoils no other row
                rows.append({"agent": a, "error": str(e)})
            r = rows[-1]
            print("  %s done: %s" % (a, r.get("error") or r["check"]),
                  flush=True)
    finally:
        stack.stop_all()
        srv.shutdown()
    best_vm = min([r["cpu_us"] for r in rows
                   if r["agent"].startswith("vmagent") and "cpu_us" in r]
                  or [0])
    print()
    print("| agent | CPU per scraped sample | best vmagent / this | peak RSS "
          "| store check |")
    print("|---|---|---|---|---|")
    failed = False
    for r in rows:
        if "error" in r:
            print("| %s | error: %s | | | |" % (r["agent"], r["error"]))
            failed = True
            continue
        ratio = ("%.1fx" % (best_vm / r["cpu_us"])
                 if best_vm and r["cpu_us"] else "")
        print("| %s | %.2f µs | %s | %.0f MiB | %s%s |"
              % (r["agent"], r["cpu_us"], ratio, r["rss_mib"], r["check"],
                 "" if r["ok"] else " (INCOMPLETE)"))
        failed = failed or not r["ok"]
    if args.keep:
        print("logs kept in", tmp)
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
