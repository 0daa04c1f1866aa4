#!/usr/bin/env python3
"""A slow worker does not stall the connections of other workers.

--workers 2; connections go to workers round-robin at accept time, so
(on a fresh server) the 1st connection lands on worker 0 and the 2nd on
worker 1.  The 1st sends a pipelined batch of heavy requests (work=K) that
keeps worker 0 busy for a second or more; meanwhile the 2nd sends small
requests one at a time and each must be answered promptly.  The per-worker
request counts in /stats confirm which worker did what.
"""
import threading
import time

import sys
sys.dont_write_bytecode = True      # no __pycache__ in the source tree

from soaklib import Conn, Server, check, finish, info, percentile, req

HEAVY = 10000000        # the largest work= allowed
HEAVY_N = 40


def main():
    with Server("--workers", "2") as srv:
        slow = Conn(srv.port, timeout=60)
        slow.send(req("/healthz"))
        slow.response()
        fast = Conn(srv.port, timeout=10)
        fast.send(req("/healthz"))
        fast.response()

        # Calibrate: one heavy request alone.
        t0 = time.time()
        slow.send(req(f"/metric-stack?id=1&work={HEAVY}"))
        slow.response()
        one = time.time() - t0
        n = max(4, min(HEAVY_N, int(1.0 / max(one, 1e-3))))
        info(f"one work={HEAVY} request takes {one * 1000:.0f} ms; sending {n}")

        done = {}

        def heavy():
            t = time.time()
            slow.send(b"".join(req(f"/metric-stack?id={i}&work={HEAVY}") for i in range(n)))
            rs = slow.responses(n)
            done["ok"] = all(r.status == 200 for r in rs)
            done["t"] = time.time() - t

        th = threading.Thread(target=heavy)
        th.start()
        time.sleep(0.05)
        lat = []
        errors = 0
        while th.is_alive() and len(lat) < 100000:
            t = time.time()
            try:
                fast.send(req("/metric-heap?id=2"))
                errors += fast.response().status != 200
            except (OSError, EOFError):
                errors += 1
                break
            lat.append(time.time() - t)
        th.join()
        p50, p99, mx = (percentile(lat, 50) * 1000, percentile(lat, 99) * 1000,
                        max(lat) * 1000 if lat else 0)
        info(f"heavy batch: {done.get('t', 0):.2f} s on worker 0; meanwhile worker 1 answered "
             f"{len(lat)} requests, p50 {p50:.2f} ms, p99 {p99:.2f} ms, max {mx:.1f} ms")
        check(done.get("ok"), "the heavy batch is answered")
        check(errors == 0, "the other worker's connection saw no errors")
        check(len(lat) >= 20, f"the other worker kept answering during the heavy batch ({len(lat)})")
        # Stalled would mean waiting for the heavy batch (>= one heavy
        # request at least); allow scheduling noise on a shared 2-CPU box.
        check(mx < max(0.5 * done.get("t", 0), one) * 1000 and p99 < 100,
              f"no request on the other worker waited for the heavy batch "
              f"(max {mx:.1f} ms, p99 {p99:.2f} ms)")
        st = srv.stats()
        w = [x["requests"] for x in st["worker"]]
        info(f"requests per worker: {w}")
        check(w[0] >= n + 2 and w[1] >= len(lat), "the heavy batch ran on worker 0, "
                                                  "the small requests on worker 1")
        slow.close()
        fast.close()
        rc = srv.stop()
        check(rc == 0, f"metricd exits 0 on SIGTERM (got {rc})")
        check(not srv.sanitizer_reports(), "no sanitizer reports")
    finish()


if __name__ == "__main__":
    main()
