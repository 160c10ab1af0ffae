#!/usr/bin/env python3
"""recproxy: an HTTP proxy on 127.0.0.1 that records every request.

    python3 tests/recproxy.py --upstream 127.0.0.1:PORT --log FILE \
        [--port 0] [--port-file F]

Each request (any method, keep-alive) is forwarded to the upstream as it
came, and its answer returned as it came. One JSON line per request is
appended to --log: {"method", "path" (with the query), "authorization"
(the header's value or null), "content_encoding", "body_bytes", "status"
(the upstream's, or 502 when the upstream cannot be reached: the proxy
then answers 502 itself, as a load balancer in front of a dead node
would)}. Prints "port=P" on stdout and to --port-file (written to a
temporary name and renamed). Standard library only; SIGTERM or SIGINT stop
it (exit 0).
"""
import argparse
import http.client
import http.server
import json
import os
import signal
import sys
import threading

HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding",
       "te", "trailer", "upgrade"}


def make_handler(upstream, log, lock):
    host, port = upstream.rsplit(":", 1)

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):
            pass

        def record(self, body, status):
            line = {"method": self.command, "path": self.path,
                    "authorization": self.headers.get("Authorization"),
                    "content_encoding": self.headers.get("Content-Encoding"),
                    "body_bytes": len(body), "status": status}
            with lock:
                with open(log, "a", encoding="utf-8") as f:
                    f.write(json.dumps(line) + "\n")

        def forward(self):
            n = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(n) if n else b""
            headers = {k: v for k, v in self.headers.items()
                       if k.lower() not in HOP and k.lower() != "host"}
            try:
                conn = http.client.HTTPConnection(host, int(port), timeout=30)
                conn.request(self.command, self.path, body=body,
                             headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                status = resp.status
                rheaders = [(k, v) for k, v in resp.getheaders()
                            if k.lower() not in HOP and
                            k.lower() != "content-length"]
                conn.close()
            except OSError as e:
                status, data, rheaders = 502, str(e).encode(), []
            self.record(body, status)
            self.send_response(status)
            for k, v in rheaders:
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = forward

    return Handler


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    a = ap.parse_args()
    srv = http.server.ThreadingHTTPServer(
        ("127.0.0.1", a.port), make_handler(a.upstream, a.log,
                                            threading.Lock()))
    srv.daemon_threads = True
    port = srv.server_address[1]

    def stop(_sig, _frm):
        threading.Thread(target=srv.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print("port=%d" % port, flush=True)
    if a.port_file:
        tmp = a.port_file + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write("port=%d\n" % port)
        os.rename(tmp, a.port_file)
    srv.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
