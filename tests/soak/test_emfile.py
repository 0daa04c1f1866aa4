#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Out of file descriptors.

metricd runs with RLIMIT_NOFILE = NOFILE.  Connections are opened one at a
time, each with a request, until one is not accepted: accept4() failed
with EMFILE, which /stats shows as an accept pause, and that connection
waits in the listen backlog.  Then:
  - the open connections keep being served;
  - the listener is retried on a timer (the pause count grows) and
    accepts nobody while no fd is free (the accepted count stays);
  - after some clients leave, the waiting connections are accepted and
    answered by themselves, and new ones are served again.
Which connection is the first to wait is decided by /stats, not by how
long its answer takes.  metricd's CPU use while out of fds is printed
("# ..."); tools/bench/robustness measures it.
"""
import json
import selectors
import time

import sys
sys.dont_write_bytecode = True      # no __pycache__ in the source tree

from soaklib import Conn, Server, check, finish, info, req, wait_until

NOFILE = 64
GUARD_S = 30            # waits for a state: guards against a hang only


def answered(c, timeout=GUARD_S):
    c.sock.settimeout(timeout)
    try:
        return c.response().status == 200
    except (OSError, EOFError):
        return False


def stats_on(c):
    """GET /stats on an open connection (no new fd on the server)."""
    c.send(req("/stats"))
    return json.loads(c.response().body)["acceptor"]


def main():
    with Server("--workers", "2", "--max-conns", "1000", nofile=NOFILE) as srv:
        info(f"metricd holds {srv.rest_fds()} fds before any client, limit {NOFILE}")
        ctl = Conn(srv.port, timeout=GUARD_S)      # /stats goes over this one
        ctl.send(req())
        check(answered(ctl), "a first connection is served")
        served = []
        waiting = []
        for i in range(NOFILE + 10):
            pauses = stats_on(ctl)["accept_pauses_out_of_fds"]
            c = Conn(srv.port, timeout=GUARD_S)
            c.send(req(f"/metric-stack?id={i}"))
            # Answered, or not accepted: the listener paused on EMFILE.
            sel = selectors.DefaultSelector()
            sel.register(c.sock, selectors.EVENT_READ)
            outcome = None
            deadline = time.time() + GUARD_S
            while outcome is None and time.time() < deadline:
                if sel.select(0.02):
                    outcome = "served" if answered(c) else "error"
                elif stats_on(ctl)["accept_pauses_out_of_fds"] > pauses:
                    outcome = "waiting"
            sel.close()
            if outcome == "served":
                served.append(c)
                continue
            check(outcome == "waiting", f"connection {i}: answered or waiting ({outcome})")
            waiting.append(c)
            break
        check(waiting, f"accept ran out of fds after {len(served) + 1} connections")
        # A few more in the backlog.
        for i in range(3):
            c = Conn(srv.port, timeout=GUARD_S)
            c.send(req(f"/metric-stack?id={1000 + i}"))
            waiting.append(c)

        ok = 0
        for i, c in enumerate(served):
            c.send(req(f"/metric-heap?id={i}"))
            ok += answered(c)
        check(ok == len(served), f"open connections are still served ({ok}/{len(served)})")

        st = stats_on(ctl)
        check(st["accept_pauses_out_of_fds"] >= 1,
              f"/stats: the listener was paused ({st['accept_pauses_out_of_fds']} pauses)")
        cpu0, t0 = srv.cpu_s(), time.time()
        st2 = wait_until(lambda: (lambda s: s if s["accept_pauses_out_of_fds"] >=
                                  st["accept_pauses_out_of_fds"] + 3 else None)(stats_on(ctl)),
                         timeout=GUARD_S, step=0.05)
        cpu = (srv.cpu_s() - cpu0) / max(time.time() - t0, 1e-3)
        check(st2 is not None, "the listener is retried on a timer (3 more pauses)")
        st2 = st2 or stats_on(ctl)
        info(f"CPU while out of fds: {cpu * 100:.1f}% over {time.time() - t0:.2f} s; "
             f"accept pauses {st['accept_pauses_out_of_fds']} -> "
             f"{st2['accept_pauses_out_of_fds']}")
        check(st2["accepted"] == st["accepted"],
              f"nobody is accepted while no fd is free (accepted {st['accepted']} -> "
              f"{st2['accepted']})")

        # Free some fds: the waiting connections are accepted by themselves.
        for c in served[-8:]:
            c.close()
        del served[-8:]
        ok = sum(answered(w) for w in waiting)
        check(ok == len(waiting), f"after 8 clients leave, the {len(waiting)} waiting "
                                  f"connections are answered ({ok})")
        for w in waiting:
            w.close()
        c = Conn(srv.port, timeout=GUARD_S)
        c.send(req("/healthz"))
        check(answered(c), "a new connection is served again")
        c.close()
        for c in served + [ctl]:
            c.close()
        rc = srv.stop()
        check(rc == 0, f"metricd exits 0 on SIGTERM (got {rc})")
        check(not srv.sanitizer_reports(), "no sanitizer reports")
    finish()


if __name__ == "__main__":
    main()
