#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""A reload never makes requests wait for a busy worker.  Worker 0 runs a
long batch (HEAVY_N pipelined work=10000000 requests, most of a second);
SIGHUP arrives meanwhile; then a client of worker 1 asks /healthz.  The
acceptor must not wait for a grace period (worker 0 announces its
quiescent state only after the batch): the /healthz answer and the
"reloaded" log line come while worker 0 still owes most of its answers.
Before, the acceptor sat in synchronize_rcu until the batch ended, so the
/healthz answer came after all of them.  Order, not time, is asserted."""
import signal
import socket
import time

import sys
sys.dont_write_bytecode = True      # no __pycache__ in the source tree

from soaklib import Conn, Server, check, finish, info, req

HEAVY_N = 24


def main():
    with Server("--workers", "2") as srv:
        a = Conn(srv.port, timeout=120)     # worker 0 (round robin)
        b = Conn(srv.port, timeout=120)     # worker 1
        for c in (a, b):
            c.send(req("/healthz"))
            c.response()
        a.send(b"".join(req(f"/metric-stack?id={i}&work=10000000") for i in range(HEAVY_N)))
        time.sleep(0.1)                     # worker 0 is inside the batch
        srv.proc.send_signal(signal.SIGHUP)
        b.send(req("/healthz"))
        r = b.response()
        check(r.status == 200, "worker 1's client is answered during the reload")
        # What worker 0 has sent so far, without waiting.
        a.sock.setblocking(False)
        try:
            while True:
                a._fill()
        except (BlockingIOError, EOFError):
            pass
        a.sock.setblocking(True)
        done = a.buf.count(b"HTTP/1.1 200")
        info(f"when /healthz was answered worker 0 had sent {done} of {HEAVY_N} answers")
        check(done < HEAVY_N, f"it was answered before worker 0's batch ended ({done}/{HEAVY_N})")
        rest = a.responses(HEAVY_N)
        check(all(x.status == 200 for x in rest), "worker 0's batch is answered in full")
        check(any("reloaded" in l for l in srv.log), "the reload took effect")
        for c in (a, b):
            c.close()
        rc = srv.stop()
        check(rc == 0, f"metricd exits 0 on SIGTERM (got {rc})")
        check(not srv.sanitizer_reports(), "no sanitizer reports")
    finish()


if __name__ == "__main__":
    main()
