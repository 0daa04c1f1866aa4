# SPDX-License-Identifier: BSD-2-Clause
"""metricd under faults, the probes that have no nginx counterpart: a
deep queue at shutdown, slowloris, a slow worker, the timeouts, and
running out of file descriptors."""

import json
import multiprocessing
import os
import signal
import socket
import threading
import time

from .client import HOST, Conn, latency_ms, req, sequential
from .servers import Metricd

HEAVY = "/metric-stack?id={}&work=10000000"


def _metricd(binary, *extra, nofile=None):
    return Metricd(binary, 2, extra=("--no-pin", *extra), nofile=nofile).start()


def probe_shutdown(binary, cfg):
    """SIGTERM with a deep queue of heavy requests and --shutdown-timeout
    1000: seconds until metricd exits."""
    m = Metricd(binary, 1, extra=("--header-timeout", "60000", "--shutdown-timeout", "1000")).start()
    c = Conn(m.port, timeout=120)
    c.send(b"".join(req(HEAVY.format(i)) for i in range(cfg["queued"])))
    c.response()
    t0 = time.time()
    os.kill(m.pid, signal.SIGTERM)
    rc = m.proc.wait(120)
    took = time.time() - t0
    c.close()
    m.stop()
    return {"queued": cfg["queued"], "exit_after_s": took, "exit_status": rc}


def slow_dripper(port, n, ready, stop):
    """n connections each send one header byte every 100 ms."""
    os.nice(10)
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex((HOST, port))
        socks.append(s)
    time.sleep(0.5)
    ready.set()
    head = b"GET /metric-stack?id=1 HTTP/1.1\r\nHost: t\r\nX-Slow: "
    k, end = 0, time.time() + 300
    while not stop.is_set() and time.time() < end:
        for s in socks:
            try:
                s.send(head[k:k + 1] if k < len(head) else b"a")
            except OSError:
                pass
        k += 1
        time.sleep(0.1)


def probe_slowloris(binary, cfg):
    """A normal client's latency alone, then with N connections dripping
    one header byte every 100 ms (from another process)."""
    m = _metricd(binary, "--header-timeout", "600000")
    try:
        sequential(m.port, 0.2)
        alone = sequential(m.port, cfg["fault_seconds"])
        ready, stop = multiprocessing.Event(), multiprocessing.Event()
        p = multiprocessing.Process(target=slow_dripper, args=(m.port, cfg["slow_conns"], ready, stop))
        p.start()
        ready.wait(60)
        time.sleep(0.3)
        loaded = sequential(m.port, cfg["fault_seconds"])
        stop.set()
        p.join(30)
    finally:
        m.stop()
    return {"connections": cfg["slow_conns"], "alone": latency_ms(alone), "dripping": latency_ms(loaded)}


def probe_slow_worker(binary, cfg):
    """The latency of requests on worker 1 while worker 0 answers a
    pipelined batch of the heaviest requests."""
    m = _metricd(binary)
    try:
        slow, fast = Conn(m.port, 300), Conn(m.port)
        slow.get("/healthz")
        fast.get("/healthz")
        t = time.time()
        slow.get(HEAVY.format(1))
        n = max(4, int(cfg["fault_seconds"] / max(time.time() - t, 1e-3)))
        done = threading.Event()

        def heavy():
            slow.send(b"".join(req(HEAVY.format(i)) for i in range(n)))
            for _ in range(n):
                slow.response()
            done.set()
        th = threading.Thread(target=heavy)
        th.start()
        lat = []
        while not done.is_set():
            t = time.perf_counter()
            fast.get("/metric-heap?id=2")
            lat.append(time.perf_counter() - t)
        th.join()
    finally:
        m.stop()
    return {"heavy_requests": n, "work": 10000000, "worker1": latency_ms(lat)}


def _time_to_408(port):
    c = Conn(port)
    t = time.perf_counter()
    c.send(b"GET /healthz HTTP/1.1\r\nHo")
    c.response()
    c.close()
    return time.perf_counter() - t


def _time_to_idle_close(port):
    c = Conn(port)
    c.get("/healthz")
    t = time.perf_counter()
    c.wait_close()
    c.close()
    return time.perf_counter() - t


def probe_timeouts(binary, cfg):
    """Time from a head's first byte to its 408 (--header-timeout 400 ms),
    and from the last answer to the close of an idle connection
    (--idle-timeout 600 ms)."""
    out = {"header_timeout_ms": 400, "idle_timeout_ms": 600}
    m = _metricd(binary, "--header-timeout", "400")
    try:
        out["first_byte_to_408"] = latency_ms([_time_to_408(m.port) for _ in range(5)])
    finally:
        m.stop()
    m = _metricd(binary, "--idle-timeout", "600")
    try:
        out["answer_to_idle_close"] = latency_ms([_time_to_idle_close(m.port) for _ in range(3)])
    finally:
        m.stop()
    return out


def probe_out_of_fds(binary, cfg):
    """metricd's CPU use while its listener waits for a free fd
    (RLIMIT_NOFILE 64: it must retry on a timer, not spin)."""
    nofile, secs = 64, cfg["fault_seconds"]
    m = _metricd(binary, "--max-conns", "1000", nofile=nofile)
    conns = []
    try:
        for _ in range(nofile + 8):
            conns.append(Conn(m.port))
            conns[-1].send(req("/healthz"))
        ctl = conns[0]
        ctl.response()
        c0, t0 = m.cpu_s(), time.time()
        time.sleep(secs)
        cpu = (m.cpu_s() - c0) / (time.time() - t0)
        pauses = json.loads(ctl.get("/stats")[1])["acceptor"]["accept_pauses_out_of_fds"]
    finally:
        for c in conns:
            c.close()
        m.stop()
    return {"nofile": nofile, "seconds": secs, "cpu_percent": cpu * 100, "accept_pauses": pauses}
