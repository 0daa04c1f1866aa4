#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""--max-conns: beyond it, new connections are accepted and closed at once
(no answer, no hang), existing clients are unaffected, and once some close
new connections are served again."""
import socket
import time

import sys
sys.dont_write_bytecode = True      # no __pycache__ in the source tree

from soaklib import Conn, HOST, Server, check, finish, info, req

MAX = 24


def rejected(port):
    """True if a new connection is closed by the server without an answer
    (the 30 s timeout only guards a hang: the close comes at once)."""
    s = socket.create_connection((HOST, port), timeout=30)
    try:
        s.sendall(req())
    except OSError:
        return True                  # reset before we could even send
    try:
        data = s.recv(4096)
    except ConnectionResetError:
        data = b""
    except socket.timeout:
        data = None                  # neither answered nor closed
    finally:
        s.close()
    return data == b""


def main():
    with Server("--workers", "2", "--max-conns", str(MAX)) as srv:
        conns = []
        for i in range(MAX):
            c = Conn(srv.port)
            c.send(req(f"/metric-stack?id={i}"))
            conns.append(c)
        ok = sum(c.response().status == 200 for c in conns)
        check(ok == MAX, f"{MAX} connections (the limit) are all served ({ok})")

        extra = [rejected(srv.port) for _ in range(10)]
        check(all(extra), f"10 connections over the limit are closed without an answer "
                          f"({sum(extra)}/10)")

        ok = 0
        for i, c in enumerate(conns):
            c.send(req(f"/metric-heap?id={i}"))
            r = c.response()
            ok += r.status == 200 and r.body.startswith(b'{"id":%d,' % i)
        check(ok == MAX, f"existing connections are unaffected ({ok}/{MAX} answered again)")

        for c in conns[:4]:
            c.close()
        # Slots come back once the workers have closed those sockets;
        # until then a new connection is rejected too (and counted).  The
        # deadline guards a hang.
        deadline = time.time() + 30
        early = 0
        while time.time() < deadline:
            try:
                st = srv.stats()
                break
            except (OSError, EOFError, RuntimeError):
                early += 1
                time.sleep(0.05)
        else:
            st = None
        check(st is not None, "after 4 clients leave, a new connection is served")
        if st:
            rej = st["acceptor"]["rejected_over_max_conns"]
            info(f"rejected_over_max_conns={rej}, {early} of them before the slots came back")
            check(rej == 10 + early, f"/stats counts exactly the rejected connections "
                                     f"({rej}, want 10 + {early})")
        ok = 0
        for c in conns[4:]:
            c.send(req("/healthz"))
            ok += c.response().status == 200
            c.close()
        check(ok == MAX - 4, f"the remaining {MAX - 4} connections still work ({ok})")
        rc = srv.stop()
        check(rc == 0, f"metricd exits 0 on SIGTERM (got {rc})")
        check(not srv.sanitizer_reports(), "no sanitizer reports")
    finish()


if __name__ == "__main__":
    main()
