#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Connect/close flood.  Flooders open and close FLOOD connections as fast
as they can (some send half a request first) while a keep-alive client
keeps asking.  A connection that never sent a whole request never reaches
a worker: the acceptor closes it itself (/stats closed_without_request),
so the flood costs the workers no ring traffic, no wake-ups and no closes
(before, every flood connection cost its worker a descriptor, a wake-up, a
close and a note back).  The keep-alive client gets every answer and the
server keeps no fd.  Its latency is printed, not asserted: tools/bench
records it next to nginx."""
import multiprocessing
import os
import socket
import time

import sys
sys.dont_write_bytecode = True      # no __pycache__ in the source tree

from soaklib import Conn, HOST, Server, check, finish, info, percentile, req

FLOOD = 6000
PROCS = 2


def flood(port, n, half, result):
    os.nice(5)
    done = 0
    for i in range(n):
        try:
            s = socket.create_connection((HOST, port), timeout=10)
            if half and i % 2:
                s.send(b"GET /metric-stack?id=1 HTTP/1.1\r\nHost")
            s.close()
            done += 1
        except OSError:
            pass
    result.put(done)


def main():
    with Server("--workers", "1") as srv:
        c = Conn(srv.port, timeout=60)
        c.send(req("/healthz"))
        c.response()
        base_fds = srv.fds()
        before = srv.stats()
        result = multiprocessing.Queue()
        ps = [multiprocessing.Process(target=flood, args=(srv.port, FLOOD // PROCS, k == 1, result))
              for k in range(PROCS)]
        for p in ps:
            p.start()
        lat, bad = [], 0
        while any(p.is_alive() for p in ps) and len(lat) < 200000:
            t = time.time()
            c.send(req("/metric-stack?id=2"))
            bad += c.response().status != 200
            lat.append(time.time() - t)
        for p in ps:
            p.join(120)
        flooded = sum(result.get(timeout=10) for _ in ps)
        fds = srv.wait_fds(base_fds, 10)
        after = srv.stats()
        unused = after["acceptor"]["closed_without_request"] - before["acceptor"]["closed_without_request"]
        batches = sum(w["batches"] for w in after["worker"]) - sum(w["batches"] for w in before["worker"])
        info(f"{flooded} flood connections; keep-alive client: {len(lat)} requests, "
             f"p50 {percentile(lat, 50) * 1e3:.3f} ms, p99 {percentile(lat, 99) * 1e3:.3f} ms; "
             f"worker batches meanwhile {batches}")
        check(flooded == FLOOD, f"every flood connection got through ({flooded}/{FLOOD})")
        check(unused >= flooded, f"the acceptor closed them itself ({unused})")
        check(batches <= len(lat) + 50,
              f"the workers saw only the keep-alive client's requests ({batches} batches "
              f"for {len(lat)} requests)")
        check(bad == 0, f"the keep-alive client got every answer ({len(lat)})")
        check(fds <= base_fds, f"no fd kept ({fds}, {base_fds} before)")
        c.close()
        rc = srv.stop()
        check(rc == 0, f"metricd exits 0 on SIGTERM (got {rc})")
        check(not srv.sanitizer_reports(), "no sanitizer reports")
    finish()


if __name__ == "__main__":
    main()
