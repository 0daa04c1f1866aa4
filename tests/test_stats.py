#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""/stats and /metrics after a known number of requests.

Starts the real metricd on an ephemeral port, sends exact numbers of
requests to each endpoint (pipelined and mixed on the same connections, so
per-endpoint attribution is exercised under pipelining), then checks the
JSON figures and parses /metrics with the Prometheus text-format parser.
"""
import json
import os
import sys

sys.dont_write_bytecode = True      # no __pycache__ in the source tree
from httptest import check, connect, finish, read_responses, request, start, stop  # noqa: E402

try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:
    # Skipped by hand, failed in CI (tools/setup-deps installs it).
    if os.environ.get("CI"):
        print("FAIL: python3-prometheus-client is missing (CI is set: a missing tool fails): "
              "apt-get install python3-prometheus-client")
        sys.exit(1)
    print("SKIP: python3-prometheus-client is missing: apt-get install python3-prometheus-client")
    sys.exit(77)

COUNTS = {"/metric-stack?id=1": 300, "/metric-heap?id=2": 200,
          "/stats-value?id=3": 120, "/stats-pointer?id=4": 80,
          "/healthz": 50, "/nope": 25}









def get(port, path):
    with connect(port) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
        return read_responses(s, 1)[0]


def main():
    proc, port = start("--workers", "2")
    try:
        # Interleave endpoints on 4 connections, 25 requests per write.
        plan = [p for p, n in COUNTS.items() for _ in range(n)]
        plan = [plan[i] for i in sorted(range(len(plan)), key=lambda i: (i * 7919) % len(plan))]
        conns = [connect(port) for _ in range(4)]
        wrong = 0
        for k in range(0, len(plan), 25):
            s = conns[(k // 25) % 4]
            batch = plan[k:k + 25]
            s.sendall(b"".join(f"GET {p} HTTP/1.1\r\nHost: t\r\n\r\n".encode() for p in batch))
            got = read_responses(s, len(batch))
            wrong += sum(st != (404 if p == "/nope" else 200) for (st, _), p in zip(got, batch))
        for s in conns:
            s.close()
        check(wrong == 0, f"all {len(plan)} pipelined requests answered as expected")

        status, body = get(port, "/stats")
        check(status == 200, "/stats answers 200")
        st = json.loads(body)
        ep = st["endpoints"]
        check(st["workers"] == 2, "workers == 2")
        for path, n in COUNTS.items():
            name = path.split("?")[0]
            key = name if name != "/nope" else "other"
            check(ep[key]["requests"] == n, f"{key}: requests == {n} (got {ep[key]['requests']})")
            code = "404" if name == "/nope" else "200"
            check(ep[key]["responses"].get(code) == n, f"{key}: {n} responses with {code}")
        kinds = {"/metric-stack": "stack", "/stats-value": "stack", "/metric-heap": "heap",
                 "/stats-pointer": "heap", "/healthz": "admin", "/dashboard": "admin", "other": "none"}
        check(all(ep[k]["kind"] == v for k, v in kinds.items()),
              f"each endpoint's kind, from the route table: {[(k, ep[k]['kind']) for k in kinds]}")
        for key in ("/metric-stack", "/stats-value", "/healthz", "other"):
            e = ep[key]
            check(e["allocs"] == 0 and e["frees"] == 0, f"{key}: no heap allocations")
        for key, n in (("/metric-heap", 200), ("/stats-pointer", 80)):
            e = ep[key]
            check(e["allocs"] == 3 * n, f"{key}: 3 allocations per request ({e['allocs']})")
            check(e["frees"] == 3 * n, f"{key}: 3 frees per request ({e['frees']})")
            check(e["cross_thread_frees"] == n, f"{key}: 1 cross-thread free per request")
            check(e["allocs_per_request"] == 3.0, f"{key}: allocs_per_request == 3.0")
            check(e["allocator_ns_per_request"] > 0, f"{key}: allocator time is measured")
            check(e["latency_us"]["p50"] > 0, f"{key}: latency recorded")
        total = sum(w["requests"] for w in st["worker"])
        check(total == sum(COUNTS.values()), f"workers answered {total} requests")
        for w in st["worker"]:
            for field in ("ring_depth", "ring_high_water", "wakeups", "sleeps", "batches"):
                check(field in w, f"worker {w['id']}: has {field}")
            check(w["slab"]["resets"] >= 1 and w["slab"]["size"] > 0, f"worker {w['id']}: slab figures")
        check(st["acceptor"]["accepted"] >= 5, "acceptor counted connections")

        # Plain heads (GET/HEAD, no body, docs/ARCHITECTURE.md) are framed
        # without http-parser and counted; others are not.  Each /stats
        # read may or may not count its own head yet (the acceptor adds
        # after dispatching it): 10 plain ones give a rise of 10 to 12,
        # and the 10 others would make it at least 20.
        with connect(port) as s:
            others = [b"POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n",
                      b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: keep-alive, te\r\n\r\n"]
            s.sendall(b"".join(others * 5 + [request("/healthz")] * 10))
            got = read_responses(s, 20)
        check(all(st in (200, 405) for st, _ in got), f"20 answers: {[st for st, _ in got]}")
        status, body = get(port, "/stats")
        rise = json.loads(body)["acceptor"]["heads_plain"] - st["acceptor"]["heads_plain"]
        check(10 <= rise <= 12, f"10 plain heads and 10 others: heads_plain rose by {rise} (10 to 12)")

        status, body = get(port, "/metrics")
        check(status == 200, "/metrics answers 200")
        fams = {f.name: f for f in text_string_to_metric_families(body.decode())}
        check("metricd_request_duration_seconds" in fams
              and fams["metricd_request_duration_seconds"].type == "histogram",
              "/metrics has a request latency histogram")

        def sample(fam, suffix, **labels):
            for s in fams[fam].samples:
                if s.name == fam + suffix and all(s.labels.get(k) == v for k, v in labels.items()):
                    return s.value
            return None
        check(sample("metricd_requests", "_total", endpoint="/metric-heap") == 200,
              "metricd_requests_total{endpoint=/metric-heap} == 200")
        check(sample("metricd_heap_allocations", "_total", endpoint="/metric-heap") == 600,
              "metricd_heap_allocations_total{/metric-heap} == 600")
        check(sample("metricd_heap_cross_thread_frees", "_total", endpoint="/stats-pointer") == 80,
              "cross-thread frees for /stats-pointer == 80")
        check(sample("metricd_heap_allocations", "_total", endpoint="/metric-stack") == 0,
              "no allocations for /metric-stack")
        check(sample("metricd_request_duration_seconds", "_count", endpoint="/metric-stack") == 300,
              "histogram count for /metric-stack == 300")
        check(sample("metricd_request_duration_seconds", "_bucket", endpoint="/metric-stack", le="+Inf") == 300,
              "histogram +Inf bucket for /metric-stack == 300")
        check(sample("metricd_worker_ring_depth", "", worker="1") is not None, "per-worker ring depth")
    finally:
        rc = stop(proc)
    check(rc == 0, "metricd exits 0 on SIGTERM")
    return finish()


if __name__ == "__main__":
    sys.exit(main())
