#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""A slow worker does not stall the connections of other workers.

--workers 2; connections go to workers round-robin at accept time, so
(on a fresh server) the 1st connection lands on worker 0 and the 2nd on
worker 1.  The 1st sends a pipelined batch of heavy requests (work=K) that
keeps worker 0 busy for a second or so; meanwhile the 2nd sends small
requests and GET /stats one at a time.  Proof by order, not by time: a
/stats answered by worker 1 shows worker 0 part way through the heavy
batch (more heavy requests served than before it, fewer than all), so
worker 1 answered while worker 0 was busy.  The per-worker request counts
confirm which worker did what.  Latencies are printed ("# ..."), not
asserted; tools/bench/robustness measures them.
"""
import json
import threading
import time

import sys
sys.dont_write_bytecode = True      # no __pycache__ in the source tree

from soaklib import Conn, Server, check, finish, info, percentile, req

HEAVY = 10000000        # the largest work= allowed
HEAVY_N = 80


def main():
    with Server("--workers", "2") as srv:
        slow = Conn(srv.port, timeout=120)
        slow.send(req("/healthz"))
        slow.response()
        fast = Conn(srv.port, timeout=120)
        fast.send(req("/healthz"))
        fast.response()

        # Size the batch to about a second of worker 0's time (at least
        # 8 requests): long enough to be seen part way through.
        t0 = time.time()
        slow.send(req(f"/metric-stack?id=1&work={HEAVY}"))
        slow.response()
        one = time.time() - t0
        n = max(8, min(HEAVY_N, int(1.0 / max(one, 1e-3))))
        info(f"one work={HEAVY} request takes {one * 1000:.0f} ms; sending {n}")

        def worker_requests():
            fast.send(req("/stats"))
            r = fast.response()
            return [w["requests"] for w in json.loads(r.body)["worker"]]

        w0_before = worker_requests()[0]
        done = {}
        sent = threading.Event()

        def heavy():
            t = time.time()
            slow.send(b"".join(req(f"/metric-stack?id={i}&work={HEAVY}") for i in range(n)))
            sent.set()
            rs = slow.responses(n)
            done["ok"] = all(r.status == 200 for r in rs)
            done["t"] = time.time() - t

        th = threading.Thread(target=heavy)
        th.start()
        sent.wait(60)
        lat = []
        errors = 0
        mid_batch = []          # worker 0's progress seen by worker 1's /stats
        while th.is_alive() and len(lat) < 100000:
            t = time.time()
            try:
                fast.send(req("/metric-heap?id=2"))
                errors += fast.response().status != 200
                lat.append(time.time() - t)
                progress = worker_requests()[0] - w0_before
                if 0 < progress < n:
                    mid_batch.append(progress)
            except (OSError, EOFError):
                errors += 1
                break
        th.join()
        info(f"heavy batch: {done.get('t', 0):.2f} s on worker 0; meanwhile worker 1 answered "
             f"{len(lat)} requests (p50 {percentile(lat, 50) * 1000:.2f} ms, p99 "
             f"{percentile(lat, 99) * 1000:.2f} ms, max {max(lat, default=0) * 1000:.1f} ms); "
             f"worker 0's progress seen by worker 1: {sorted(set(mid_batch))[:10]}")
        check(done.get("ok"), "the heavy batch is answered")
        check(errors == 0, "the other worker's connection saw no errors")
        check(mid_batch, f"worker 1 answered while worker 0 was part way through the heavy "
                         f"batch of {n} ({len(mid_batch)} times)")
        st = srv.stats()
        w = [x["requests"] for x in st["worker"]]
        info(f"requests per worker: {w}")
        check(w[0] >= n + 2 and w[1] >= 2 * len(lat), "the heavy batch ran on worker 0, "
                                                      "the small requests on worker 1")
        slow.close()
        fast.close()
        rc = srv.stop()
        check(rc == 0, f"metricd exits 0 on SIGTERM (got {rc})")
        check(not srv.sanitizer_reports(), "no sanitizer reports")
    finish()


if __name__ == "__main__":
    main()
