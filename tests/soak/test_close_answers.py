#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Answers that end their connection, on every kind of answer.

  Connection: close on the heap path (/metric-heap, /stats-pointer), on
      /stats and /metrics, on HEAD, and an HTTP/1.0 request without
      keep-alive: the answer says "Connection: close", is whole, and the
      server closes right after it, with requests pipelined behind it
      left unanswered
  with the most workers the configuration allows (256), /stats and
      /metrics still fit their buffer: 200, not the 500 the worker answers
      when they do not (that 500 is exercised in tests/test_worker)"""
import json

import sys
sys.dont_write_bytecode = True      # no __pycache__ in the source tree

from soaklib import Conn, Server, check, finish, info, req

CASES = [
    ("GET", "/metric-heap?id=11", "HTTP/1.1"),
    ("GET", "/stats-pointer?id=12", "HTTP/1.1"),
    ("GET", "/stats", "HTTP/1.1"),
    ("GET", "/metrics", "HTTP/1.1"),
    ("HEAD", "/metric-heap?id=13", "HTTP/1.1"),
    ("HEAD", "/stats", "HTTP/1.1"),
    ("GET", "/metric-stack?id=14", "HTTP/1.1"),
]


def one(port, method, path, version, close_header=True):
    c = Conn(port, timeout=10)
    headers = [("Connection", "close")] if close_header else []
    # A request pipelined behind the closing one must not be answered.
    c.send(req(path, method=method, headers=headers, version=version) +
           req("/healthz"))
    r = c.response(head=(method == "HEAD"))
    closed = c.eof(10)
    c.close()
    return r, closed


def main():
    with Server("--workers", "2") as srv:
        for method, path, version in CASES:
            r, closed = one(srv.port, method, path, version)
            whole = method == "HEAD" or len(r.body) == int(r.headers.get("content-length", -1))
            check(r.status == 200 and r.close and whole and closed,
                  f"{method} {path} with Connection: close: {r.status}, "
                  f"close={r.close}, then closed={closed}")
        r, closed = one(srv.port, "GET", "/metric-heap?id=15", "HTTP/1.0", close_header=False)
        check(r.status == 200 and closed, f"HTTP/1.0 without keep-alive on the heap path: "
                                          f"{r.status}, closed={closed}")
        rc = srv.stop()
        check(rc == 0, f"metricd exits 0 on SIGTERM (got {rc})")
        check(not srv.sanitizer_reports(), "no sanitizer reports")

    with Server("--workers", "256", "--max-conns", "64") as srv:
        c = Conn(srv.port, timeout=30)
        # Some traffic first, so counters have more than one digit.
        c.send(b"".join(req(f"/metric-heap?id={i}") for i in range(300)))
        c.responses(300)
        c.send(req("/stats") + req("/metrics"))
        st, prom = c.responses(2)
        info(f"256 workers: /stats {len(st.body)} bytes, /metrics {len(prom.body)} bytes "
             f"(the buffer holds 786432: workers/worker.h)")
        check(st.status == 200 and json.loads(st.body)["workers"] == 256,
              "/stats with 256 workers: 200 and whole")
        check(prom.status == 200 and prom.body.endswith(b"\n") and
              b'metricd_worker_ring_depth{worker="255",shard="0"}' in prom.body,
              "/metrics with 256 workers: 200 and whole")
        c.close()
        rc = srv.stop()
        check(rc == 0, f"metricd exits 0 on SIGTERM (got {rc})")
        check(not srv.sanitizer_reports(), "no sanitizer reports")
    finish()


if __name__ == "__main__":
    main()
