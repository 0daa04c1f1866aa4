#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Clients that pipeline and never read.  READERS connections keep sending
GET /metrics (an answer of several KB) and read nothing.

Each connection's unsent answers are bounded by --max-unsent-bytes: past
it the worker holds that connection's requests uncomputed (/stats
held_requests) and the acceptor stops reading it at --max-pipeline, so
the server's RSS grows by about READERS x the bound, not by what the
clients ask for (it grew by 223 MiB here, and stayed there, before the
bound).  --send-timeout then closes every one of them: their fds go, and
once they are gone the memory goes back to the system (RSS within 10% of
the baseline, or 1 MiB: the slot records of the connections stay
committed for reuse).  RSS is not checked in sanitizer builds."""
import json
import socket
import time

import sys
sys.dont_write_bytecode = True      # no __pycache__ in the source tree

from soaklib import Conn, HOST, Server, check, finish, info, req, request, sanitized

# Every reader makes the server compute the answers the kernel buffers
# for it (megabytes on loopback): fewer under a sanitizer's slowdown.
READERS = 40 if sanitized() else 200
MAX_UNSENT = 256 << 10
SEND_TIMEOUT_MS = 2000


def main():
    with Server("--workers", "1", "--send-timeout", str(SEND_TIMEOUT_MS),
                "--max-unsent-bytes", str(MAX_UNSENT)) as srv:
        c = Conn(srv.port)
        c.send(req("/metrics"))
        c.response()
        c.close()
        time.sleep(0.2)
        base_rss, base_fds = srv.rss_kb(), srv.wait_fds(0, 0.1)
        payload = b"".join(req("/metrics") for _ in range(64))
        socks = []
        for _ in range(READERS):
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.connect((HOST, srv.port))
            s.setblocking(False)
            socks.append(s)
        peak = 0
        sent = 0
        # Keep pushing requests until the server stopped taking any and
        # the send timeout closed every connection (a hang guard of 60 s,
        # 30x the timeout).
        deadline = time.time() + 60
        closed = 0
        while time.time() < deadline:
            for s in socks:
                try:
                    sent += s.send(payload)
                except BlockingIOError:
                    pass
                except OSError:
                    pass
            peak = max(peak, srv.rss_kb())
            # /stats waits its turn behind the readers' requests: a
            # generous hang guard.
            st = json.loads(request(srv.port, "/stats", timeout=60)[2])
            closed = sum(w["send_timeouts"] for w in st["worker"])
            if closed >= READERS:
                break
            time.sleep(0.05)
        held = sum(w["held_requests"] for w in st["worker"])
        info(f"{READERS} non-reading clients sent {sent / 1e6:.1f} MB of requests; "
             f"RSS {base_rss} KiB -> peak {peak} KiB (+{(peak - base_rss) / 1024:.1f} MiB); "
             f"{held} requests held")
        check(held > 0, f"requests were held at --max-unsent-bytes ({held})")
        check(closed == READERS, f"--send-timeout closed every non-reading client ({closed})")
        fds = srv.wait_fds(base_fds, 10)
        check(fds <= base_fds, f"their fds are gone ({fds}, {base_fds} before)")
        bound_kib = READERS * (MAX_UNSENT + (64 << 10)) // 1024 + 8 * 1024
        if not sanitized():
            check(peak - base_rss <= bound_kib,
                  f"RSS grew by at most {READERS} x (max-unsent-bytes + 64 KiB) + 8 MiB "
                  f"(+{(peak - base_rss) / 1024:.1f} MiB, bound {bound_kib / 1024:.0f} MiB)")
        for s in socks:
            s.close()
        time.sleep(0.5)
        after = srv.rss_kb()
        info(f"after they left: RSS {after} KiB ({base_rss} KiB before)")
        if not sanitized():
            check(after <= max(base_rss * 1.10, base_rss + 1024),
                  f"RSS is back near its baseline ({after} KiB, baseline {base_rss} KiB)")
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
