#!/usr/bin/env python3
"""Out of file descriptors.

metricd runs with RLIMIT_NOFILE = NOFILE.  Connections are opened (each
checked with a request) until one is no longer answered: accept4() failed
with EMFILE and that connection waits in the listen backlog.  Then:
  - the open connections keep being served;
  - /stats counts accept pauses: the listener was paused;
  - metricd burns (almost) no CPU meanwhile: it retries on a timer
    instead of spinning on a listener that stays readable;
  - after some clients leave, the waiting connections are accepted and
    answered by themselves, and new ones are served again.
"""
import json
import time

import sys
sys.dont_write_bytecode = True      # no __pycache__ in the source tree

from soaklib import Conn, Server, check, finish, info, req

NOFILE = 64
CPU_WINDOW_S = 1.0
CPU_MAX_FRACTION = 0.10


def answered(c, timeout):
    c.sock.settimeout(timeout)
    try:
        return c.response().status == 200
    except (OSError, EOFError):
        return False


def main():
    with Server("--workers", "2", "--max-conns", "1000", nofile=NOFILE) as srv:
        info(f"metricd holds {srv.fds()} fds before any client, limit {NOFILE}")
        served = []
        waiting = []
        for i in range(NOFILE + 10):
            c = Conn(srv.port, timeout=5)
            c.send(req(f"/metric-stack?id={i}"))
            if answered(c, 0.5):
                served.append(c)
            else:
                waiting.append(c)
                break
        check(waiting, f"accept ran out of fds after {len(served)} connections")
        # A few more in the backlog.
        for i in range(3):
            c = Conn(srv.port, timeout=5)
            c.send(req(f"/metric-stack?id={1000 + i}"))
            waiting.append(c)
        time.sleep(0.3)

        ok = 0
        for i, c in enumerate(served):
            c.send(req(f"/metric-heap?id={i}"))
            ok += answered(c, 3)
        check(ok == len(served), f"open connections are still served ({ok}/{len(served)})")

        # /stats over a connection that is already open.
        c = served[0]
        c.send(req("/stats"))

        st = json.loads(c.response().body)
        pauses = st["acceptor"]["accept_pauses_out_of_fds"]
        check(pauses >= 1, f"/stats: the listener was paused ({pauses} pauses)")

        cpu0, t0 = srv.cpu_s(), time.time()
        time.sleep(CPU_WINDOW_S)
        cpu = (srv.cpu_s() - cpu0) / (time.time() - t0)
        c.send(req("/stats"))
        st2 = json.loads(c.response().body)
        pauses2 = st2["acceptor"]["accept_pauses_out_of_fds"]
        info(f"CPU while out of fds: {cpu * 100:.1f}%; accept pauses {pauses} -> {pauses2} "
             f"in {CPU_WINDOW_S} s")
        check(cpu < CPU_MAX_FRACTION, f"no busy loop: metricd used {cpu * 100:.1f}% CPU "
                                      f"(< {CPU_MAX_FRACTION * 100:.0f}%) while out of fds")
        check(pauses2 > pauses, "the listener is retried on a timer")
        check(not any(answered(w, 0.05) for w in waiting[:1]),
              "the connection over the limit is still waiting")

        # Free some fds: the waiting connections are accepted by themselves.
        for c in served[-8:]:
            c.close()
        del served[-8:]
        t0 = time.time()
        ok = sum(answered(w, 3) for w in waiting)
        dt = time.time() - t0
        check(ok == len(waiting), f"after 8 clients leave, the {len(waiting)} waiting "
                                  f"connections are answered ({ok}, {dt:.2f} s)")
        for w in waiting:
            w.close()
        time.sleep(0.2)
        c = Conn(srv.port, timeout=5)
        c.send(req("/healthz"))
        check(answered(c, 3), "a new connection is served again")
        c.close()
        for c in served:
            c.close()
        rc = srv.stop()
        check(rc == 0, f"metricd exits 0 on SIGTERM (got {rc})")
        check(not srv.sanitizer_reports(), "no sanitizer reports")
    finish()


if __name__ == "__main__":
    main()
