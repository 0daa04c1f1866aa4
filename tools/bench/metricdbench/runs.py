# SPDX-License-Identifier: BSD-2-Clause
"""Repetitions of measured configurations: their medians and the ratios
of two configurations measured side by side."""

from .common import pct_value, summary
from .servers import STAT_KEYS

CONFIG_FIELDS = ("group", "tool", "target", "alloc", "workers", "acceptors", "path", "pipeline", "work",
                 "duration", "warmup", "fraction", "rate", "max_rps", "own_max_rps")


def _summarize_one(k, rs):
    c = {f: rs[0][f] for f in CONFIG_FIELDS if f in rs[0]}
    c["key"] = k
    c["rps"] = summary([r["result"].get("rps") for r in rs])
    pcts = set()
    for r in rs:
        pcts |= set((r["result"].get("latency_us") or {}).keys())
    c["latency_us"] = {p: summary([(r["result"].get("latency_us") or {}).get(p) for r in rs])
                       for p in sorted(pcts, key=pct_value)}
    for k in ("server_cpu_us_per_request", "server_user_us_per_request", "server_sys_us_per_request"):
        c[k] = summary([r["result"].get(k) for r in rs])
    c["errors"] = sum((r["result"].get("errors") or 0) + (r["result"].get("status_other") or 0) for r in rs)
    c["failed_runs"] = sum(1 for r in rs if not r["result"].get("ok"))
    if any("late_sends" in r["result"] for r in rs):
        c["late_sends"] = summary([r["result"].get("late_sends") for r in rs])
        c["rate_achieved"] = all(r["result"].get("rate_achieved") for r in rs)
    srv = [r["result"].get("server") for r in rs if r["result"].get("server")]
    if srv:
        c["server"] = {k2: summary([d.get(k2) for d in srv]) for k2 in STAT_KEYS}
    return c


def summarize_runs(runs):
    """One summary per configuration, in the order first measured."""
    by = {}
    for r in runs:
        by.setdefault(r["key"], []).append(r)
    return [_summarize_one(k, sorted(rs, key=lambda r: r["rep"])) for k, rs in by.items()]


def paired_ratio(runs, key_a, key_b, field="rps"):
    """Per repetition a/b of two configurations measured side by side."""
    a = {r["rep"]: r["result"].get(field) for r in runs if r["key"] == key_a}
    b = {r["rep"]: r["result"].get(field) for r in runs if r["key"] == key_b}
    return summary([a[k] / b[k] for k in sorted(a) if a.get(k) and b.get(k)])


def summary_index(res, section):
    return {s["key"]: s for s in (res.get(section) or {}).get("summary", [])}
