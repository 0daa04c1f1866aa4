#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""--shutdown-timeout is honoured with a deep queue.  A client pipelines
HEAVY_N heavy requests (work=10000000: several seconds of work in all) and
SIGTERM follows at once, with --shutdown-timeout 1000.  Until the timeout
the queue is answered; then the workers stop computing: the connection's
next request is answered 503 with Connection: close, the rest are dropped
and the process exits 0.  Every answer that does arrive is whole; fewer
than HEAVY_N are 200 (before, the worker drained its whole ring first and
all were).  A second client idle on the other worker is closed cleanly."""
import signal
import time

import sys
sys.dont_write_bytecode = True      # no __pycache__ in the source tree

from soaklib import Conn, Server, check, finish, info, req

HEAVY_N = 200


def main():
    with Server("--workers", "2", "--shutdown-timeout", "1000") as srv:
        busy = Conn(srv.port, timeout=120)
        idle = Conn(srv.port, timeout=120)
        idle.send(req("/healthz"))
        idle.response()
        busy.send(b"".join(req(f"/metric-stack?id={i}&work=10000000") for i in range(HEAVY_N)))
        first = busy.response()
        t0 = time.time()
        srv.proc.send_signal(signal.SIGTERM)
        answers = [first]
        try:
            while True:
                answers.append(busy.response())
        except (EOFError, ConnectionResetError):
            pass
        rc = srv.proc.wait(120)            # a hang guard
        took = time.time() - t0
        ok = [x for x in answers if x.status == 200]
        refused = [x for x in answers if x.status == 503]
        info(f"{len(ok)} answered 200, {len(refused)} answered 503, exit after {took:.2f} s")
        check(rc == 0, f"metricd exits 0 ({rc})")
        check(len(ok) < HEAVY_N, f"the queue was not drained past the timeout "
                                 f"({len(ok)} of {HEAVY_N} computed)")
        check(len(refused) == 1 and refused[0].close,
              "the next request got 503 with Connection: close")
        check(answers[-1].status == 503, "nothing follows the 503")
        check(all(x.body.startswith(b'{"id":%d,' % i) for i, x in enumerate(ok)),
              "every 200 before the timeout is whole and in order")
        check(idle.eof(5), "the idle connection was closed")
        check(any("shutdown timeout" in l for l in srv.log), "the timeout is logged")
        check(not srv.sanitizer_reports(), "no sanitizer reports")
    finish()


if __name__ == "__main__":
    main()
