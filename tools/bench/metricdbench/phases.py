# SPDX-License-Identifier: BSD-2-Clause
"""The phases without a load matrix: allocbench under each allocator, the
idle CPU of metricd, and its RSS per idle keep-alive connection."""

import os
import re
import resource
import socket
import time

from .common import BenchError, summary
from .loads import blast_run
from .procs import run_bounded
from .sample import HZ, proc_cpu_ticks, proc_rss_kib, proc_threads, thread_deltas


def _allocbench_once(b, a, rep):
    plan = b.plan
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    if b.allocators[a]:
        env["LD_PRELOAD"] = b.allocators[a]
    args = [b.bins["allocbench"], "--csv", "--label", a, "--sizes", plan["allocbench_sizes"],
            "--threads", str(plan["allocbench_threads"]), "--ops", str(plan["allocbench_ops"])]
    rc, out, err, secs = run_bounded(args, 900, env=env)
    if rc != 0:
        raise BenchError(f"allocbench under {a} failed (exit {rc}): {err.strip()[-300:]}")
    rows = []
    for line in out.strip().splitlines()[1:]:
        f = line.split(",")
        rows.append({"pattern": f[1], "size": int(f[2]), "threads": int(f[3]), "ns_per_op": float(f[4])})
    b.log(f"allocbench {a} rep {rep + 1}: {len(rows)} rows in {secs:.1f}s")
    return {"allocator": a, "rep": rep, "wall_s": round(secs, 2), "rows": rows,
            "command": ("LD_PRELOAD=" + b.allocators[a] + " " if b.allocators[a] else "") + " ".join(args)}


def allocbench(b):
    """allocbench under each allocator, interleaved; per pattern, size and
    thread count the median (min, max) ns per operation."""
    plan = b.plan
    sec = b.res["allocbench"] = {
        "binary": b.bins["allocbench"],
        "settings": {"sizes": plan["allocbench_sizes"], "threads": plan["allocbench_threads"],
                     "ops": plan["allocbench_ops"], "reps": plan["reps"]},
        "runs": [], "summary": []}
    names = list(b.allocators)
    for rep in range(plan["reps"]):
        for a in (names if rep % 2 == 0 else names[::-1]):
            sec["runs"].append(_allocbench_once(b, a, rep))
    keys = list(dict.fromkeys((row["pattern"], row["size"], row["threads"])
                              for r in sec["runs"] for row in r["rows"]))
    for k in keys:
        by = {a: summary([row["ns_per_op"] for r in sec["runs"] if r["allocator"] == a for row in r["rows"]
                          if (row["pattern"], row["size"], row["threads"]) == k]) for a in names}
        sec["summary"].append({"pattern": k[0], "size": k[1], "threads": k[2], "ns_per_op": by})


def _idle_once(b, rep):
    plan = b.plan
    m = b.metricd(plan["ref_workers"])
    try:
        blast_run(b.bins["blast"], m.url("/metric-stack"), threads=1, conns=8, duration=0.3)
        time.sleep(plan["idle_settle_s"])
        c0, th0, t0 = proc_cpu_ticks(m.pid), proc_threads(m.pid), time.monotonic()
        time.sleep(plan["idle_s"])
        c1, th1, t1 = proc_cpu_ticks(m.pid), proc_threads(m.pid), time.monotonic()
    finally:
        m.stop()
    pct = (c1 - c0) / HZ / (t1 - t0) * 100.0
    b.log(f"idle rep {rep + 1}: {pct:.2f}% CPU over {t1 - t0:.1f}s")
    return {"rep": rep, "seconds": round(t1 - t0, 3), "ticks": c1 - c0, "cpu_percent": pct,
            "threads": thread_deltas(th0, th1, t1 - t0)}


def idle_cpu(b):
    """A fresh metricd, a short burst of traffic, a pause, then a window
    without traffic: its CPU from utime+stime, and per thread."""
    plan = b.plan
    sec = b.res["idle_cpu"] = {"workers": plan["ref_workers"], "window_s": plan["idle_s"],
                               "clock_ticks_per_s": HZ, "source": "/proc/PID/stat utime+stime", "reps": []}
    for rep in range(plan["idle_reps"]):
        sec["reps"].append(_idle_once(b, rep))
    sec["cpu_percent"] = summary([r["cpu_percent"] for r in sec["reps"]])


def _read_answer(s):
    """Reads one whole response from a blocking socket."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(4096)
        if not chunk:
            raise BenchError("metricd closed an idle test connection")
        buf += chunk
    head, _, body = buf.partition(b"\r\n\r\n")
    mm = re.search(rb"(?i)content-length:\s*(\d+)", head)
    while len(body) < (int(mm.group(1)) if mm else 0):
        chunk = s.recv(4096)
        if not chunk:
            raise BenchError("metricd closed an idle test connection")
        body += chunk


def _rss_once(b, n, rep):
    plan = b.plan
    m = b.metricd(plan["ref_workers"])
    socks = []
    try:
        # Warm the workers (slab, first pages) through one connection.
        blast_run(b.bins["blast"], m.url("/metric-stack"), threads=1, conns=1, duration=0.2)
        time.sleep(0.3)
        r0 = proc_rss_kib(m.pid)
        for _ in range(n):
            socks.append(socket.create_connection(("127.0.0.1", m.port), timeout=10))
        time.sleep(plan["rss_settle_s"])
        r1 = proc_rss_kib(m.pid)
        for s in socks:
            s.sendall(b"GET /metric-stack?id=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        for s in socks:
            _read_answer(s)
        time.sleep(plan["rss_settle_s"])
        r2 = proc_rss_kib(m.pid)
        open_conns = m.stats().get("acceptor", {}).get("connections_open")
    finally:
        for s in socks:
            s.close()
        m.stop()
    rec = {"rep": rep, "rss_before_kib": r0, "rss_connected_kib": r1, "rss_keepalive_kib": r2,
           "server_connections_open": open_conns, "kib_per_connection_connected": (r1 - r0) / n,
           "kib_per_connection": (r2 - r0) / n}
    b.log(f"rss rep {rep + 1}: {r0} -> {r1} (connected) -> {r2} KiB (after one request each): "
          f"{rec['kib_per_connection']:.2f} KiB/connection")
    return rec


def rss_per_connection(b):
    """VmRSS of a fresh metricd before, after opening N idle keep-alive
    connections, and after one request on each."""
    plan = b.plan
    n = plan["rss_connections"]
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n + 100:
        b.warn(f"RLIMIT_NOFILE {soft}: {n} connections reduced to {soft - 100}")
        n = max(10, soft - 100)
    sec = b.res["rss_per_connection"] = {"workers": plan["ref_workers"], "connections": n,
                                        "source": "/proc/PID/status VmRSS", "reps": []}
    for rep in range(plan["rss_reps"]):
        sec["reps"].append(_rss_once(b, n, rep))
    sec["kib_per_connection"] = summary([r["kib_per_connection"] for r in sec["reps"]])
    sec["kib_per_connection_connected"] = summary([r["kib_per_connection_connected"] for r in sec["reps"]])
