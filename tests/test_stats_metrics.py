#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Every figure of /stats has its counterpart in /metrics, with the same value.

Starts the real metricd on an ephemeral port, sends a little load to every
endpoint (pipelined, on a few connections), waits until it is answered and
those connections are closed, then reads /metrics, /stats, /metrics on one
keep-alive connection.  Each numeric leaf of /stats must match exactly one
row of MAP below - the one place that says what each /stats figure is in
/metrics - and agree with that series: a counter or gauge lies between its
two readings in /metrics (the scrapes themselves are counted, so the two
may differ), a per-request ratio or a percentile equals what the two
series or the histogram give (a percentile as Prometheus's
histogram_quantile computes it, kept within the endpoint's min and max).
A /stats figure no row maps, a row that maps nothing, a counterpart that
is missing or disagrees: each fails.  The page must also parse with the
Prometheus client's parser and pass `promtool check metrics` (when
promtool is installed; in CI it must be).
"""
import json
import math
import os
import re
import shutil
import socket
import subprocess
import sys
import time

sys.dont_write_bytecode = True      # no __pycache__ in the source tree
from httptest import TIMEOUT_S, check, finish, read_responses, request, start, stop  # noqa: E402

try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:
    if os.environ.get("CI"):
        print("FAIL: python3-prometheus-client is missing (CI is set: a missing tool fails): "
              "apt-get install python3-prometheus-client")
        sys.exit(1)
    print("SKIP: python3-prometheus-client is missing: apt-get install python3-prometheus-client")
    sys.exit(77)



class Same:
    """The series' value, times scale (seconds -> us: 1e6); moving: a
    figure that may change between any two reads (memory), of which only
    the size is compared; null: what the series says when /stats says null."""

    def __init__(self, name, scale=1.0, moving=False, null=None):
        self.name, self.scale, self.moving, self.null = name, scale, moving, null


class Ratio:
    """num / den of two series of the same labels, times scale (0 when den is 0)."""

    def __init__(self, num, den, scale=1.0):
        self.num, self.den, self.scale = num, den, scale


class Quantile:
    """A percentile (its /stats name p50, p99_9: "p", the percentile, "_" for
    its decimal point) of metricd_request_duration_seconds, in us."""


class Sum:
    """The sum of the series of that name over their other labels (the
    acceptors' counters: one series per shard, summed in /stats)."""

    def __init__(self, name):
        self.name = name


class Label:
    """Not a series: the value of this label in the other rows' series."""

    def __init__(self, label):
        self.label = label


EP, CODE, WK, SH, PCT = "{endpoint}", "{code}", "{worker}", "{shard}", "{pct}"
US = 1e6
# /stats path (placeholders are labels: {endpoint}, {code}, {worker}, {shard}; {pct}
# a percentile) -> its counterpart in /metrics.
MAP = [
    (("uptime_s",), Same("metricd_uptime_seconds")),
    (("workers",), Same("metricd_workers")),
    (("acceptors",), Same("metricd_acceptors")),
    (("draining",), Same("metricd_draining")),
    (("process", "start_time_seconds"), Same("process_start_time_seconds")),
    (("process", "cpu_seconds_total"), Same("process_cpu_seconds_total")),
    (("process", "resident_memory_bytes"), Same("process_resident_memory_bytes", moving=True)),
    (("process", "virtual_memory_bytes"), Same("process_virtual_memory_bytes", moving=True)),
    (("process", "open_fds"), Same("process_open_fds")),
    (("process", "max_fds"), Same("process_max_fds")),
    (("endpoints", EP, "requests"), Same("metricd_requests_total")),
    (("endpoints", EP, "responses", CODE), Same("metricd_responses_total")),
    (("endpoints", EP, "allocs"), Same("metricd_heap_allocations_total")),
    (("endpoints", EP, "alloc_bytes"), Same("metricd_heap_allocated_bytes_total")),
    (("endpoints", EP, "frees"), Same("metricd_heap_frees_total")),
    (("endpoints", EP, "cross_thread_frees"), Same("metricd_heap_cross_thread_frees_total")),
    (("endpoints", EP, "allocs_per_request"),
     Ratio("metricd_heap_allocations_total", "metricd_requests_total")),
    (("endpoints", EP, "bytes_per_request"),
     Ratio("metricd_heap_allocated_bytes_total", "metricd_requests_total")),
    (("endpoints", EP, "frees_per_request"),
     Ratio("metricd_heap_frees_total", "metricd_requests_total")),
    (("endpoints", EP, "cross_thread_frees_per_request"),
     Ratio("metricd_heap_cross_thread_frees_total", "metricd_requests_total")),
    (("endpoints", EP, "allocator_ns_per_request"),
     Ratio("metricd_allocator_seconds_total", "metricd_requests_total", 1e9)),
    (("endpoints", EP, "latency_us", "min"), Same("metricd_request_duration_min_seconds", US)),
    (("endpoints", EP, "latency_us", "mean"),
     Ratio("metricd_request_duration_seconds_sum", "metricd_request_duration_seconds_count", US)),
    (("endpoints", EP, "latency_us", PCT), Quantile()),
    (("endpoints", EP, "latency_us", "max"), Same("metricd_request_duration_max_seconds", US)),
    (("acceptor", "connections_open"), Sum("metricd_connections_open")),
    (("acceptor", "accepted"), Sum("metricd_connections_accepted_total")),
    (("acceptor", "rejected_over_max_conns"), Sum("metricd_connections_rejected_total")),
    (("acceptor", "accept_pauses_out_of_fds"), Sum("metricd_accept_pauses_total")),
    (("acceptor", "ring_full"), Sum("metricd_ring_full_total")),
    (("acceptor", "pipeline_pauses"), Sum("metricd_pipeline_pauses_total")),
    (("acceptor", "header_timeouts"), Sum("metricd_header_timeouts_total")),
    (("acceptor", "idle_closes"), Sum("metricd_idle_closes_total")),
    (("acceptor", "resets"), Sum("metricd_connection_resets_total")),
    (("acceptor", "closed_without_request"), Sum("metricd_connections_closed_without_request_total")),
    (("acceptor", "bytes_read"), Sum("metricd_read_bytes_total")),
    (("acceptor", "frame_bytes_examined"), Sum("metricd_framer_examined_bytes_total")),
    (("acceptor", "heads_plain"), Sum("metricd_framer_plain_heads_total")),
    (("acceptor", "read_budget_yields"), Sum("metricd_read_budget_yields_total")),
    (("acceptor", "access_log_dropped"), Same("metricd_access_log_dropped_total")),
    (("acceptor", "worker_wakeups_sent"), Sum("metricd_worker_wakeups_sent_total")),
    (("acceptor", "access_log_text_dropped"), Sum("metricd_access_log_text_dropped_total")),
    (("acceptor", "reloads_applied"), Sum("metricd_reloads_applied_total")),
    (("shards", SH, "id"), Label("shard")),
    (("shards", SH, "cpu"), Same("metricd_acceptor_cpu", null=-1)),
    (("shards", SH, "workers"), Same("metricd_shard_workers")),
    (("shards", SH, "connections_open"), Same("metricd_connections_open")),
    (("shards", SH, "accepted"), Same("metricd_connections_accepted_total")),
    (("shards", SH, "rejected_over_max_conns"), Same("metricd_connections_rejected_total")),
    (("shards", SH, "accept_pauses_out_of_fds"), Same("metricd_accept_pauses_total")),
    (("shards", SH, "ring_full"), Same("metricd_ring_full_total")),
    (("shards", SH, "pipeline_pauses"), Same("metricd_pipeline_pauses_total")),
    (("shards", SH, "header_timeouts"), Same("metricd_header_timeouts_total")),
    (("shards", SH, "idle_closes"), Same("metricd_idle_closes_total")),
    (("shards", SH, "resets"), Same("metricd_connection_resets_total")),
    (("shards", SH, "closed_without_request"), Same("metricd_connections_closed_without_request_total")),
    (("shards", SH, "bytes_read"), Same("metricd_read_bytes_total")),
    (("shards", SH, "frame_bytes_examined"), Same("metricd_framer_examined_bytes_total")),
    (("shards", SH, "heads_plain"), Same("metricd_framer_plain_heads_total")),
    (("shards", SH, "read_budget_yields"), Same("metricd_read_budget_yields_total")),
    (("shards", SH, "worker_wakeups_sent"), Same("metricd_worker_wakeups_sent_total")),
    (("shards", SH, "access_log_text_dropped"), Same("metricd_access_log_text_dropped_total")),
    (("shards", SH, "reloads_applied"), Same("metricd_reloads_applied_total")),
    (("worker", WK, "id"), Label("worker")),
    (("worker", WK, "shard"), Label("shard")),
    (("worker", WK, "cpu"), Same("metricd_worker_cpu", null=-1)),
    (("worker", WK, "requests"), Same("metricd_worker_requests_total")),
    (("worker", WK, "ring_depth"), Same("metricd_worker_ring_depth")),
    (("worker", WK, "ring_high_water"), Same("metricd_worker_ring_high_water")),
    (("worker", WK, "batches"), Same("metricd_worker_batches_total")),
    (("worker", WK, "wakeups"), Same("metricd_worker_wakeups_total")),
    (("worker", WK, "sleeps"), Same("metricd_worker_sleeps_total")),
    (("worker", WK, "spins_caught_work"), Same("metricd_worker_spins_caught_total")),
    (("worker", WK, "spins_then_slept"), Same("metricd_worker_spins_slept_total")),
    (("worker", WK, "partial_writes"), Same("metricd_worker_partial_writes_total")),
    (("worker", WK, "write_errors"), Same("metricd_worker_write_errors_total")),
    (("worker", WK, "connections_with_unsent_bytes"),
     Same("metricd_worker_connections_with_unsent_data")),
    (("worker", WK, "unsent_blocks"), Same("metricd_worker_unsent_blocks")),
    (("worker", WK, "unsent_blocks_unmapped"), Same("metricd_worker_unsent_blocks_unmapped_total")),
    (("worker", WK, "held_requests"), Same("metricd_worker_held_requests_total")),
    (("worker", WK, "dropped_requests"), Same("metricd_worker_dropped_requests_total")),
    (("worker", WK, "send_timeouts"), Same("metricd_worker_send_timeouts_total")),
    (("worker", WK, "shutdown_refused"), Same("metricd_worker_shutdown_refused_total")),
    (("worker", WK, "slab", "size"), Same("metricd_worker_slab_size_bytes")),
    (("worker", WK, "slab", "last_batch_bytes"),
     Same("metricd_worker_slab_last_batch_bytes", moving=True)),
    (("worker", WK, "slab", "high_water"), Same("metricd_worker_slab_high_water_bytes")),
    (("worker", WK, "slab", "resets"), Same("metricd_worker_slab_resets_total")),
    (("worker", WK, "slab", "oversized_fallbacks"), Same("metricd_worker_slab_oversized_total")),
]
PLACEHOLDER_LABEL = {EP: "endpoint", CODE: "code", WK: "worker", SH: "shard"}




# ---- the server and a client -------------------------------------------------




def load(port):
    """A little of everything, 16 requests a write on 4 connections."""
    plan = ([request("/metric-stack?id=1")] * 200 + [request("/metric-heap?id=2")] * 150 +
            [request("/stats-value?id=3")] * 100 + [request("/stats-pointer?id=4")] * 60 +
            [request("/healthz")] * 30 + [request("/nope")] * 20 + [request("/stats")] * 8 +
            [request("/metrics")] * 8 + [request("*", "OPTIONS")] * 10 +
            [request("/metric-stack")] * 5)            # 400: no id
    plan = [plan[i] for i in sorted(range(len(plan)), key=lambda i: (i * 7919) % len(plan))]
    conns = [socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT_S) for _ in range(4)]
    for k in range(0, len(plan), 16):
        s = conns[(k // 16) % 4]
        s.sendall(b"".join(plan[k:k + 16]))
        read_responses(s, len(plan[k:k + 16]))
    for s in conns:
        s.close()
    return len(plan)


# ---- the two pages -------------------------------------------------------------

def leaves(obj, path=()):
    """(path, value) for every number (or null) in a JSON document."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from leaves(v, path + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from leaves(v, path + (str(i),))
    elif obj is None or (isinstance(obj, (int, float)) and not isinstance(obj, bool)):
        yield path, obj


def parse_metrics(text):
    """{(sample name, frozenset of labels): value}, and the families' types."""
    series, types = {}, {}
    for fam in text_string_to_metric_families(text):
        types[fam.name] = fam.type
        for s in fam.samples:
            key = (s.name, frozenset(s.labels.items()))
            assert key not in series, f"{s.name}{s.labels} twice"
            series[key] = s.value
    return series, types


def value(page, name, labels):
    """The series of that name whose labels are these, or the one series
    that has these among others (a worker's also names its shard)."""
    v = page.get((name, frozenset(labels.items())))
    if v is not None:
        return v
    want = set(labels.items())
    found = [v for k, v in page.items() if k[0] == name and want <= k[1]]
    return found[0] if len(found) == 1 else None


def total(page, name, labels):
    """The sum of the series of that name that have these labels."""
    want = set(labels.items())
    found = [v for k, v in page.items() if k[0] == name and want <= k[1]]
    return sum(found) if found else None


def quantile(page, labels, q):
    """histogram_quantile(q) of the endpoint's buckets, kept within its min
    and max; past the last finite bound only the max is known."""
    buckets = sorted((float(dict(k[1])["le"]), v) for k, v in page.items()
                     if k[0] == "metricd_request_duration_seconds_bucket"
                     and dict(k[1])["endpoint"] == labels["endpoint"])
    lo_v = value(page, "metricd_request_duration_min_seconds", labels)
    hi_v = value(page, "metricd_request_duration_max_seconds", labels)
    if not buckets or lo_v is None or hi_v is None:
        return None
    n = buckets[-1][1]
    if n == 0:
        return 0.0
    rank, prev_le, prev_cum = q * n, 0.0, 0.0
    for le, cum in buckets:
        if cum >= rank:
            if math.isinf(le):
                v = hi_v
            else:
                v = prev_le + (le - prev_le) * (rank - prev_cum) / (cum - prev_cum)
            return min(max(v, lo_v), hi_v) * US
        prev_le, prev_cum = le, cum
    raise AssertionError("no +Inf bucket")


# ---- matching -------------------------------------------------------------------

def match(path):
    """(row index, counterpart, labels, percentile) of the one row that
    maps path; None when none does (two would be an error in MAP)."""
    found = []
    for i, (pattern, cp) in enumerate(MAP):
        if len(pattern) != len(path):
            continue
        labels, pct, ok = {}, None, True
        for want, got in zip(pattern, path):
            if want in PLACEHOLDER_LABEL:
                labels[PLACEHOLDER_LABEL[want]] = got
            elif want == PCT:
                m = re.fullmatch(r"p(\d+)(?:_(\d+))?", got)
                ok = ok and m is not None
                if m:
                    pct = float(m.group(1) + ("." + m.group(2) if m.group(2) else ""))
            else:
                ok = ok and want == got
        if ok:
            found.append((i, cp, labels, pct))
    assert len(found) <= 1, f"{path}: {len(found)} rows of MAP match"
    return found[0] if found else None


def expected(cp, page, labels, pct):
    """What the row says the /stats value is, from one /metrics page (None
    when a series is missing)."""
    if isinstance(cp, Sum):
        return total(page, cp.name, labels)
    if isinstance(cp, Same):
        v = value(page, cp.name, labels)
        return None if v is None else v * cp.scale
    if isinstance(cp, Ratio):
        num, den = value(page, cp.num, labels), value(page, cp.den, labels)
        if num is None or den is None:
            return None
        return num / den * cp.scale if den else 0.0
    return quantile(page, labels, pct / 100)


def agrees(s, e1, e2, moving, slack=0.0):
    """s (3 decimals in /stats) between e1 and e2 (give or take slack: what
    /metrics rounded), or, for a figure that moves, of the same size."""
    lo, hi = min(e1, e2), max(e1, e2)
    if moving:
        return lo / 2 <= s <= hi * 2
    tol = 0.0015 + 1e-9 * abs(s) + slack
    return lo - tol <= s <= hi + tol


def slack(cp, page, labels):
    """A ratio's numerator in seconds is written to the ns: up to half a ns
    off, shared among its requests."""
    if not isinstance(cp, Ratio) or cp.scale == 1.0:
        return 0.0
    den = value(page, cp.den, labels) or 1
    return 0.5e-9 * cp.scale / den


def judge(path, s, row, m1, m2):
    i, cp, labels, pct = row
    where = "/stats " + ".".join(path)
    if isinstance(cp, Label):
        n = sum(1 for k in m1 if dict(k[1]).get(cp.label) == str(s))
        check(n > 0, f"{where} = {s}: series with {cp.label}=\"{s}\" ({n})")
        return
    if s is None:
        check(isinstance(cp, Same) and cp.null is not None and
              value(m1, cp.name, labels) == cp.null == value(m2, cp.name, labels),
              f"{where} = null: {getattr(cp, 'name', '?')}{labels} = {getattr(cp, 'null', '?')}")
        return
    e1, e2 = expected(cp, m1, labels, pct), expected(cp, m2, labels, pct)
    if e1 is None or e2 is None:
        check(False, f"{where}: its counterpart ({type(cp).__name__} {vars(cp)}{labels}) "
                     "is not in /metrics")
        return
    check(agrees(s, e1, e2, getattr(cp, "moving", False), slack(cp, m1, labels)),
          f"{where} = {s}: /metrics says {e1:.6g} then {e2:.6g}")


def cross_check(stats, m1, m2):
    used = set()
    n = 0
    for path, s in leaves(stats):
        row = match(path)
        if row is None:
            check(False, f"/stats {'.'.join(path)}: no row of MAP maps it to /metrics")
            continue
        used.add(row[0])
        judge(path, s, row, m1, m2)
        n += 1
    unused = [MAP[i][0] for i in range(len(MAP)) if i not in used]
    check(not unused, f"every row of MAP maps a /stats figure (unused: {unused})")
    return n


def promtool(text):
    tool = shutil.which("promtool")
    if not tool:
        if os.environ.get("CI"):
            check(False, "promtool is missing (CI is set): apt-get install prometheus")
        else:
            print("note: promtool not found, its check skipped (apt-get install prometheus)")
        return
    r = subprocess.run([tool, "check", "metrics"], input=text, capture_output=True,
                       text=True, timeout=TIMEOUT_S)
    check(r.returncode == 0, f"promtool check metrics: {(r.stdout + r.stderr).strip() or 'clean'}")


def scrape(sock, path):
    sock.sendall(request(path))
    status, body = read_responses(sock, 1)[0]
    assert status == 200, f"{path}: {status}"
    return body.decode()


def settle(sock):
    """Reads /metrics until only this connection is open and the load's
    counters stop moving (the workers count a batch after sending it)."""
    deadline, last = time.monotonic() + TIMEOUT_S, None
    while time.monotonic() < deadline:
        page, _ = parse_metrics(scrape(sock, "/metrics"))
        now = {k: v for k, v in page.items() if k[0] == "metricd_requests_total"
               and dict(k[1])["endpoint"] not in ("/stats", "/metrics")}
        if total(page, "metricd_connections_open", {}) == 1 and now == last:
            return True
        last = now
        time.sleep(0.05)
    return False


def main():
    # Two shards of one worker each: the acceptor figures are summed in
    # /stats and one series per shard in /metrics.
    proc, port = start("--workers", "2", "--acceptors", "2")
    try:
        n = load(port)
        print(f"ok - {n} requests answered")
        with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT_S) as sock:
            check(settle(sock), "the load's counters settled, one connection open")
            t1 = scrape(sock, "/metrics")
            stats = json.loads(scrape(sock, "/stats"))
            t2 = scrape(sock, "/metrics")
        m1, types = parse_metrics(t1)
        m2, _ = parse_metrics(t2)
        check(types.get("metricd_request_duration_seconds") == "histogram",
              "/metrics parses; the latency histogram is one")
        promtool(t1)
        counted = cross_check(stats, m1, m2)
        check(counted > 200, f"{counted} /stats figures compared")
        ep = stats["endpoints"]["/metric-stack"]
        lat = ep["latency_us"]
        check(lat["max"] > 0 and lat.get("p99_9", math.inf) <= lat["max"], "p99_9 <= max")
    finally:
        rc = stop(proc)
    check(rc == 0, "metricd exits 0 on SIGTERM")
    return finish()


if __name__ == "__main__":
    sys.exit(main())
