#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Smaller limits and start-up checks.

  access log behind a reader that stops reading   lines are dropped, never
      waited for: counted in /stats and /metrics, warned about at most once
      a second; SIGTERM still exits 0 promptly (the logger never blocks)
  --access-log in a directory that does not exist   exit 2 with a message
  --cpus naming a CPU that does not exist, or one the process may not run
      on                                              exit 2 with a message
  --max-body-bytes 100     a 100-byte body is read and discarded, 101
      bytes (Content-Length or chunked) get 413 and close
  --max-conns 1048576                                RSS at start <= 64 MiB
      (the connection table and note rings are reserved, not committed)
  SIGHUP switching the access log between files under load   every line
      lands in one of the files, none torn"""
import os
import re
import signal
import subprocess
import tempfile
import time

import sys
sys.dont_write_bytecode = True      # no __pycache__ in the source tree

from soaklib import METRICD, Conn, Server, check, finish, info, req, sanitized


def run_bad(*args):
    p = subprocess.run([METRICD, "--listen", "127.0.0.1:0", *args],
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
    return p.returncode, p.stderr.decode(errors="replace")


def access_log_drops(tmp):
    fifo = os.path.join(tmp, "fifo")
    os.mkfifo(fifo)
    rfd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)   # a reader that never reads
    try:
        with Server("--workers", "1", "--access-log", fifo) as srv:
            c = Conn(srv.port, timeout=60)
            t0 = time.time()
            for _ in range(8):
                c.send(b"".join(req(f"/metric-stack?id={i}") for i in range(5000)))
                c.responses(5000)
            time.sleep(1.2)             # one tick of the warning clock
            st = srv.stats()["acceptor"]
            _, _, prom = None, None, None
            c.send(req("/metrics"))
            prom = c.response().body.decode()
            m = re.search(r"^metricd_access_log_dropped_total (\d+)$", prom, re.M)
            warns = [l for l in srv.log if "access log:" in l and "dropped" in l]
            elapsed = time.time() - t0
            info(f"40000 requests with the log reader stopped: {st['access_log_dropped']} "
                 f"lines dropped, {len(warns)} warning(s) in {elapsed:.1f} s")
            check(st["access_log_dropped"] > 0, "/stats counts dropped access-log lines")
            # Counted live from the rings: /metrics may also count the
            # line of the /stats request before it (dropped too).
            check(m and st["access_log_dropped"] <= int(m.group(1)) <=
                  st["access_log_dropped"] + 1, "/metrics shows the same count")
            check(1 <= len(warns) <= elapsed + 1, "warned about, at most once a second")
            c.close()
            t = time.time()
            rc = srv.stop(30)
            check(rc == 0, f"SIGTERM exits 0 with the log blocked (got {rc}, "
                           f"{time.time() - t:.1f} s)")
            check(not srv.sanitizer_reports(), "no sanitizer reports")
    finally:
        os.close(rfd)


def access_log_switch(tmp):
    conf = os.path.join(tmp, "metricd.conf")
    logs = [os.path.join(tmp, f"access-{k}.log") for k in range(2)]
    with open(conf, "w") as f:
        f.write(f"access-log = {logs[0]}\n")
    with Server("--workers", "2", "--config", conf) as srv:
        c = Conn(srv.port, timeout=60)
        sent = 0
        for k in range(12):
            c.send(b"".join(req(f"/metric-stack?id={i}") for i in range(500)))
            c.responses(500)
            sent += 500
            nxt = logs[(k + 1) % 2]
            size = os.path.getsize(nxt) if os.path.exists(nxt) else -1
            with open(conf, "w") as f:
                f.write(f"access-log = {nxt}\n")
            srv.proc.send_signal(signal.SIGHUP)
            # The logger reopens within a tick; wait until the lines go to
            # the new file (a hang guard of 10 s, 100x the tick).
            deadline = time.time() + 10
            while time.time() < deadline and \
                    (os.path.getsize(nxt) if os.path.exists(nxt) else -1) <= size:
                c.send(req("/metric-stack?id=0"))
                c.response()
                sent += 1
                time.sleep(0.02)
        c.close()
        rc = srv.stop()
        check(rc == 0, f"metricd exits 0 after 12 access-log switches (got {rc})")
        check(not srv.sanitizer_reports(), "no sanitizer reports")
    lines = []
    for path in logs:
        with open(path) as f:
            lines += f.read().splitlines()
    good = [l for l in lines if re.match(r'^127\.0\.0\.1 - - \[[^]]+\] "GET /metric-stack\?id=\d+ HTTP/1\.1" 200 \d+ "-" "-" \d+\.\d{6}$', l)]
    info(f"{sent} requests, {len(lines)} log lines in {len(logs)} files")
    check(len(good) == len(lines) == sent, f"every request logged once, whole ({len(good)}/{sent})")


def main():
    with tempfile.TemporaryDirectory() as tmp:
        access_log_drops(tmp)
        access_log_switch(tmp)
        rc, err = run_bad("--access-log", os.path.join(tmp, "no", "such", "dir", "log"))
        check(rc == 2 and "access-log" in err and "No such file" in err,
              f"an access log that cannot be opened: exit {rc}: {err.strip()}")
    rc, err = run_bad("--cpus", "1000")
    check(rc == 2 and "CPU 1000" in err, f"--cpus 1000: exit {rc}: {err.strip()}")
    allowed = sorted(os.sched_getaffinity(0))
    if len(allowed) >= 2:
        p = subprocess.run([METRICD, "--listen", "127.0.0.1:0", "--cpus", str(allowed[1])],
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=30,
                           preexec_fn=lambda: os.sched_setaffinity(0, {allowed[0]}))
        err = p.stderr.decode(errors="replace")
        check(p.returncode == 2 and f"CPU {allowed[1]}" in err,
              f"--cpus {allowed[1]} while only CPU {allowed[0]} is allowed: "
              f"exit {p.returncode}: {err.strip()}")
    else:
        info("one CPU allowed: the not-allowed --cpus case needs two")
    with Server("--workers", "1", "--max-body-bytes", "100") as srv:
        c = Conn(srv.port)
        c.send(req("/metric-stack?id=1", method="POST",
                   headers=[("Content-Length", "100")], body=b"x" * 100))
        r = c.response()
        c.send(req("/metric-stack?id=2"))
        r2 = c.response()
        check(r.status == 405 and r2.status == 200,
              f"--max-body-bytes 100: a 100-byte body is read ({r.status}, then {r2.status})")
        c.close()
        for framing, body in ((("Content-Length", "101"), b"x" * 101),
                              (("Transfer-Encoding", "chunked"), b"65\r\n" + b"x" * 101 + b"\r\n0\r\n\r\n")):
            c = Conn(srv.port)
            c.send(req("/metric-stack?id=1", method="POST", headers=[framing], body=body))
            r = c.response()
            check(r.status == 413 and r.close and c.eof(),
                  f"... a 101-byte body ({framing[0]}): {r.status}, close")
            c.close()
        rc = srv.stop()
        check(rc == 0, f"metricd exits 0 on SIGTERM (got {rc})")
    with Server("--workers", "1", "--max-conns", "1048576") as srv:
        time.sleep(0.2)
        rss = srv.rss_kb()
        info(f"--max-conns 1048576: RSS at start {rss / 1024:.1f} MiB")
        if not sanitized():
            check(rss <= 64 * 1024, f"RSS at start <= 64 MiB ({rss / 1024:.1f} MiB)")
        c = Conn(srv.port)
        c.send(req("/healthz"))
        check(c.response().status == 200, "... and it serves")
        c.close()
        rc = srv.stop()
        check(rc == 0, f"metricd exits 0 on SIGTERM (got {rc})")
    finish()


if __name__ == "__main__":
    main()
