#!/usr/bin/env python3
"""slowproxy: a TCP proxy on 127.0.0.1 that answers late (a slow node).

    python3 tests/slowproxy.py --upstream 127.0.0.1:PORT --delay SECONDS \
        [--port 0] [--port-file F] [--cut-file C]

Every byte from a client goes to the upstream at once; every byte from the
upstream goes back to the client no earlier than --delay seconds after the
client last sent something, so each HTTP answer (keep-alive included) comes
--delay seconds late while the upstream (a real influxd) does the work.
With --cut-file C, a fault mode: while the file C exists and holds a
number N, each answer is cut after N bytes (counted from the client's last
request on the connection) and both sockets are closed: a server that
sends a short body and goes away (a TaskManager dying mid-scrape).
Prints "port=P" on stdout and to --port-file (written to a temporary name
and renamed). Standard library only; SIGTERM or SIGINT stop it (exit 0).
"""
import argparse
import os
import signal
import socket
import sys
import threading
import time


def pump_up(client, upstream, state):
    """client -> upstream, remembering when the client last spoke."""
    try:
        while True:
            data = client.recv(65536)
            if not data:
                break
            with state["lock"]:
                state["last"] = time.monotonic()
                state["sent"] = 0
            upstream.sendall(data)
    except OSError:
        pass
    finally:
        try:
            upstream.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def cut_at(cut_file):
    """The byte count of the cut fault, or None when it is off."""
    if not cut_file:
        return None
    try:
        with open(cut_file) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def pump_down(client, upstream, state, delay, cut_file):
    """upstream -> client, each chunk held until last request + delay."""
    try:
        while True:
            data = upstream.recv(65536)
            if not data:
                break
            with state["lock"]:
                due = state["last"] + delay
            wait = due - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            cut = cut_at(cut_file)
            with state["lock"]:
                sent = state["sent"]
                state["sent"] += len(data)
            if cut is not None and sent + len(data) >= cut:
                client.sendall(data[:max(cut - sent, 0)])
                break
            client.sendall(data)
    except OSError:
        pass
    finally:
        for s in (client, upstream):
            try:
                s.close()
            except OSError:
                pass


def serve(conn, upstream_addr, delay, cut_file):
    try:
        up = socket.create_connection(upstream_addr, timeout=10)
        up.settimeout(None)
    except OSError:
        conn.close()
        return
    state = {"lock": threading.Lock(), "last": time.monotonic(), "sent": 0}
    threading.Thread(target=pump_up, args=(conn, up, state),
                     daemon=True).start()
    threading.Thread(target=pump_down, args=(conn, up, state, delay, cut_file),
                     daemon=True).start()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--upstream", required=True, help="HOST:PORT")
    ap.add_argument("--delay", type=float, required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--cut-file")
    a = ap.parse_args()
    host, _, port = a.upstream.rpartition(":")
    upstream = (host, int(port))
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", a.port))
    ls.listen(64)
    line = "port=%d\n" % ls.getsockname()[1]
    sys.stdout.write(line)
    sys.stdout.flush()
    if a.port_file:
        tmp = a.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(line)
        os.rename(tmp, a.port_file)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        while True:
            conn, _ = ls.accept()
            serve(conn, upstream, a.delay, a.cut_file)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
