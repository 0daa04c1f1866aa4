# SPDX-License-Identifier: BSD-2-Clause
"""tools/bench/robustness: what one client can do to everyone else, and
metricd under faults - the times, CPU and memory the soak tests (tests/soak)
print but never assert, metricd next to nginx-light where nginx has the
same thing, on loopback.

Every probe prints one line, `NAME: {json}`, with the figures per server."""

import argparse
import json
import multiprocessing
import os
import signal
import socket
import sys
import time

from . import faults
from .client import HOST, Conn, ask, req, sequential
from .common import TOP, percentile
from .machine import machine_info
from .procs import install_cleanup, run_bounded
from .servers import Metricd, Nginx

HEAVY = faults.HEAVY


# ------------------------------------------------------------ drip flood


def drip_head():
    head = b"GET /healthz HTTP/1.1\r\nHost: t\r\n"
    while len(head) < 8000:
        head += b"a: b\r\n"
    return head + b"\r\n"


def dripper(port, n, ready, done):
    os.nice(10)
    head = drip_head()
    socks = []
    for _ in range(n):
        s = socket.create_connection((HOST, port))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        socks.append(s)
    ready.set()
    for i in range(len(head)):
        for s in socks:
            try:
                s.send(head[i:i + 1])
            except OSError:
                pass
    done.set()
    time.sleep(1)
    for s in socks:
        s.close()


def probe_drip(srv, cfg):
    """N connections send an ~8 KB head of short lines one byte per send
    while a normal keep-alive client asks: its latency, its unanswered
    requests, the server's CPU."""
    ready, done = multiprocessing.Event(), multiprocessing.Event()
    p = multiprocessing.Process(target=dripper, args=(srv.port, cfg["drip"], ready, done))
    p.start()
    ready.wait(30)
    c = Conn(srv.port, timeout=5)
    cpu0 = srv.cpu_s()
    lat, lost = [], 0
    while (not done.is_set() or len(lat) < 800) and len(lat) <= 200000:
        d, c, ok = ask(c, srv.port, "/metric-stack?id=1")
        lat.append(d)
        lost += not ok
    cpu = srv.cpu_s() - cpu0
    c.close()
    p.join(60)
    return {"p50_ms": percentile(lat, 50) * 1e3, "p99_ms": percentile(lat, 99) * 1e3,
            "requests": len(lat), "unanswered": lost, "server_cpu_s": cpu}


# --------------------------------------------------------------- readers


def probe_readers(srv, cfg):
    """Clients pipeline big answers and never read: RSS growth, then RSS
    after they leave."""
    time.sleep(0.3)
    base = srv.rss_kib()
    payload = b"".join(req("/metrics") for _ in range(64))
    socks = []
    for _ in range(cfg["readers"]):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.connect((HOST, srv.port))
        s.setblocking(False)
        socks.append(s)
    peak, sent, end = base, 0, time.time() + cfg["seconds"]
    while time.time() < end:
        for s in socks:
            try:
                sent += s.send(payload)
            except OSError:
                pass
        peak = max(peak, srv.rss_kib())
        time.sleep(0.05)
    for s in socks:
        s.close()
    time.sleep(2)
    return {"rss_base_mib": base / 1024, "rss_growth_mib": (peak - base) / 1024,
            "rss_after_mib": srv.rss_kib() / 1024, "requests_sent_mb": sent / 1e6}


# ---------------------------------------------------------------- reload


def probe_reload(srv, cfg):
    """A reload every 100 ms (metricd: while one worker runs a long batch):
    the latency of a request on an idle keep-alive connection."""
    busy, idle = Conn(srv.port, timeout=120), Conn(srv.port, timeout=30)
    d, idle, _ = ask(idle, srv.port, "/healthz")
    if isinstance(srv, Metricd):
        busy.send(b"".join(req(HEAVY.format(i)) for i in range(64)))
    lat = []
    for _ in range(cfg["reloads"]):
        os.kill(srv.pid, signal.SIGHUP)
        time.sleep(0.01)
        d, idle, ok = ask(idle, srv.port, "/healthz")
        lat.append(d)
        time.sleep(0.09)
    busy.close()
    idle.close()
    return {"reloads": cfg["reloads"], "max_ms": max(lat) * 1e3, "p50_ms": percentile(lat, 50) * 1e3}


# ----------------------------------------------------------------- flood


def flooder(port, secs, counter):
    os.nice(5)
    end, n = time.time() + secs, 0
    while time.time() < end:
        try:
            socket.create_connection((HOST, port), timeout=5).close()
            n += 1
        except OSError:
            pass
    counter.put(n)


def probe_flood(srv, cfg):
    """Two processes open and close connections as fast as they can: a
    keep-alive client's latency unloaded, then under the flood."""
    secs = cfg["seconds"]
    base = sequential(srv.port, 2)
    q = multiprocessing.Queue()
    ps = [multiprocessing.Process(target=flooder, args=(srv.port, secs, q)) for _ in range(2)]
    for p in ps:
        p.start()
    time.sleep(0.3)
    loaded = sequential(srv.port, secs - 0.6)
    for p in ps:
        p.join(30)
    conns = sum(q.get(timeout=10) for _ in ps)
    b99, l99 = percentile(base, 99) * 1e3, percentile(loaded, 99) * 1e3
    return {"unloaded_p50_ms": percentile(base, 50) * 1e3, "unloaded_p99_ms": b99,
            "flood_conn_per_s": conns / secs, "flood_p50_ms": percentile(loaded, 50) * 1e3,
            "flood_p99_ms": l99, "p99_ratio": l99 / b99 if b99 else None}


# ------------------------------------------------------------------ main

# name: (against nginx too, probe); a probe against both servers takes the
# server, one against metricd alone takes its binary.
PROBES = {
    "drip": (True, probe_drip),
    "readers": (True, probe_readers),
    "reload": (True, probe_reload),
    "shutdown": (False, faults.probe_shutdown),
    "flood": (True, probe_flood),
    "slowloris": (False, faults.probe_slowloris),
    "slow-worker": (False, faults.probe_slow_worker),
    "timeouts": (False, faults.probe_timeouts),
    "out-of-fds": (False, faults.probe_out_of_fds),
}
SIZES = {  # full, --quick
    "drip": (300, 60), "readers": (200, 50), "seconds": (6, 3), "reloads": (30, 10), "queued": (200, 200),
    "slow_conns": (500, 100), "fault_seconds": (2.0, 0.5),
}


def against_both(binary, name, probe, cfg):
    """The probe against metricd (1 worker; 2 for reload), then against
    nginx-light (1 worker) answering with a body as long as /metrics."""
    out = {}
    m = Metricd(binary, 2 if name == "reload" else 1, extra=("--header-timeout", "60000")).start()
    body_len = len(Conn(m.port).get("/metrics")[1])
    try:
        out["metricd"] = probe(m, cfg)
    finally:
        m.stop()
    n = Nginx(1, "x" * body_len).start()
    try:
        out["nginx"] = probe(n, cfg)
    finally:
        n.stop()
    return out


def default_metricd():
    """metricd of build/ at the top of the tree, built (or brought up to
    date) with tools/build-tree."""
    build = os.path.join(TOP, "build")
    print(f"robustness: tools/build-tree {build} -- metricd", file=sys.stderr, flush=True)
    rc, out, err, _ = run_bounded([os.path.join(TOP, "tools", "build-tree"), "--quiet", build, "--", "metricd"],
                                  1800)
    if rc != 0:
        sys.exit(f"robustness: tools/build-tree failed (exit {rc}):\n{(out + err)[-2000:]}")
    return os.path.join(build, "metricd")


def parse_args(argv, doc):
    ap = argparse.ArgumentParser(prog="tools/bench/robustness", description=doc.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="\n\n".join(doc.split("\n\n")[1:]))
    ap.add_argument("--metricd", help="the metricd binary (default: build/metricd, built with tools/build-tree)")
    ap.add_argument("--quick", action="store_true", help="smaller and shorter probes")
    ap.add_argument("--only", help="comma-separated probes to run: " + ",".join(PROBES))
    ap.add_argument("--json", help="also write the results as JSON here")
    ap.add_argument("--seconds", type=float, help="seconds per fault measurement (default 2, --quick 0.5)")
    ap.add_argument("--slow-conns", type=int, help="slowloris connections (default 500, --quick 100)")
    a = ap.parse_args(argv)
    only = a.only.split(",") if a.only else list(PROBES)
    unknown = [p for p in only if p not in PROBES]
    if unknown:
        ap.error(f"--only: unknown probe(s) {', '.join(unknown)}; known: {', '.join(PROBES)}")
    return a, only


def main(argv, doc):
    a, only = parse_args(argv, doc)
    install_cleanup()
    binary = os.path.abspath(a.metricd) if a.metricd else default_metricd()
    cfg = {k: v[1 if a.quick else 0] for k, v in SIZES.items()}
    if a.seconds:
        cfg["fault_seconds"] = a.seconds
    if a.slow_conns:
        cfg["slow_conns"] = a.slow_conns
    res = {"machine": machine_info(), "binary": binary, "settings": cfg, "probes": {}}
    print(f"metricd: {binary}; {os.cpu_count()} CPUs; figures only, nothing is asserted", flush=True)
    for name in only:
        both, probe = PROBES[name]
        out = against_both(binary, name, probe, cfg) if both else {"metricd": probe(binary, cfg)}
        res["probes"][name] = out
        print(f"{name}: {json.dumps(out)}", flush=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(res, f, indent=1)
    return 0
