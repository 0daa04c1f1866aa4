#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Work for the dead.  A client pipelines HEAVY_N heavy requests
(work=10000000, tens of ms each), waits for the first answer, then resets
the connection.  The worker must find out at its next answer (a heavy
request first pushes out what is queued for its connection) and drop the
rest without computing them: GET /stats shows them under dropped_requests,
and at most a few heavy requests were answered.  Before, every queued
request was computed into the dead socket (seconds of CPU).

Then the acceptor's side: a client whose requests sit in the server's read
buffer resets; nothing more of its is framed (/stats "resets")."""
import socket
import struct
import time

import sys
sys.dont_write_bytecode = True      # no __pycache__ in the source tree

from soaklib import Conn, HOST, Server, check, finish, info, req

HEAVY = 10000000
HEAVY_N = 48


def rst(sock):
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def settle(srv, timeout=60):
    """Until no request is queued or in flight (a hang guard, not a timing)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        st = srv.stats()
        if all(w["ring_depth"] == 0 for w in st["worker"]) and \
                st["acceptor"]["connections_open"] <= 1:
            return st
        time.sleep(0.05)
    return srv.stats()


def main():
    with Server("--workers", "1") as srv:
        c = Conn(srv.port, timeout=120)
        c.send(b"".join(req(f"/metric-stack?id={i}&work={HEAVY}") for i in range(HEAVY_N)))
        first = c.response()
        check(first.status == 200, "the first heavy request is answered")
        rst(c.sock)
        st = settle(srv)
        ep = st["endpoints"]["/metric-stack"]
        dropped = sum(w["dropped_requests"] for w in st["worker"])
        info(f"{HEAVY_N} heavy requests queued, reset after the first answer: "
             f"{ep['requests']} answered, {dropped} dropped")
        check(ep["requests"] <= 3, f"at most a few were computed after the reset "
                                   f"({ep['requests']} of {HEAVY_N})")
        check(dropped >= HEAVY_N - 3, f"the rest were dropped uncomputed ({dropped})")
        check(ep["requests"] + dropped == HEAVY_N,
              f"every request is either answered or dropped ({ep['requests']} + {dropped})")

        # The heap path's request objects are freed when dropped, too.
        c = Conn(srv.port, timeout=120)
        c.send(b"".join(req(f"/metric-heap?id={i}&work={HEAVY}") for i in range(HEAVY_N)))
        c.response()
        rst(c.sock)
        st = settle(srv)
        ep = st["endpoints"]["/metric-heap"]
        heap_dropped = sum(w["dropped_requests"] for w in st["worker"]) - dropped
        check(ep["requests"] <= 3 and ep["requests"] + heap_dropped == HEAVY_N,
              f"the heap path too: {ep['requests']} answered + {heap_dropped} dropped")

        # A reset the acceptor sees: many small requests buffered, then RST.
        before = st["acceptor"]["resets"]
        s = socket.create_connection((HOST, srv.port))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.sendall(b"".join(req(f"/metric-stack?id={i}&work=1000") for i in range(2000)))
        rst(s)
        st = settle(srv)
        info(f"acceptor saw {st['acceptor']['resets'] - before} reset(s)")
        check(st["acceptor"]["connections_open"] == 1, "only the /stats connection is open")

        c = Conn(srv.port)
        c.send(req("/healthz"))
        check(c.response().status == 200, "the server still serves")
        c.close()
        rc = srv.stop()
        check(rc == 0, f"metricd exits 0 on SIGTERM (got {rc})")
        check(not srv.sanitizer_reports(), "no sanitizer reports")
    finish()


if __name__ == "__main__":
    main()
