# SPDX-License-Identifier: BSD-2-Clause
"""The targets a run is judged by, evaluated from the raw runs of a
results dict (so a results.json brought from elsewhere can be judged
again)."""

from .common import STACK_PATHS
from .plan import cfg_key
from .runs import paired_ratio


def ref_key(res, tool, target, path, pipeline):
    return cfg_key({"group": "references", "tool": tool, "target": target,
                    "alloc": "glibc" if target == "metricd" else None,
                    "workers": res["settings"]["ref_workers"], "path": path, "pipeline": pipeline, "work": 0})


def _judge(t, met, verdict):
    """met: True, False, or None (not measured)."""
    t.update(met=met, verdict="not measured" if met is None else verdict)
    return t


def _ratio_target(tid, text, need, ratio, detail):
    t = {"id": tid, "target": text, "required": need, "op": ">=", "unit": "x", "detail": detail}
    m = ratio.get("median") if ratio else None
    t["measured"] = m
    t["range"] = [ratio.get("min"), ratio.get("max")] if ratio and m is not None else None
    if m is None:
        return _judge(t, None, None)
    if m >= need:
        return _judge(t, True, f"met: {m:.2f}x (needs >= {need:g}x; {(m / need - 1) * 100:.0f}% to spare)")
    return _judge(t, False, f"MISSED by {(need - m) / need * 100:.0f}%: {m:.2f}x, needs >= {need:g}x")


def _reference_targets(res):
    refs = res.get("references") or {}
    runs = refs.get("runs", [])
    summ = {s["key"]: s for s in refs.get("summary", [])}

    def med(k):
        s = summ.get(k)
        return s["rps"]["median"] if s else None

    def key(tool, target, pl):
        return ref_key(res, tool, target, "/metric-stack", pl)
    out = []
    for pl, need in ((1, 1.0), (16, 1.2)):
        a, b = key("blast", "metricd", pl), key("blast", "nginx", pl)
        detail = {"metricd_rps": med(a), "nginx_rps": med(b), "load_generator": "blast",
                  "ratio": "median of per-repetition ratios (measured side by side)",
                  "ratio_of_medians": (med(a) / med(b)) if med(a) and med(b) else None,
                  "same_with_wrk": paired_ratio(runs, key("wrk", "metricd", pl), key("wrk", "nginx", pl))["median"]}
        out.append(_ratio_target(f"stack_vs_nginx_p{pl}", f"/metric-stack >= {need:g}x nginx, pipelining {pl}",
                                 need, paired_ratio(runs, a, b) if runs else None, detail))
    for pl in (1, 16):
        a, b = key("blast", "metricd", pl), key("wrk", "metricd", pl)
        detail = {"blast_rps": med(a), "wrk_rps": med(b), "server": "metricd /metric-stack",
                  "on_nginx": paired_ratio(runs, key("blast", "nginx", pl), key("wrk", "nginx", pl))["median"]}
        out.append(_ratio_target(f"blast_vs_wrk_p{pl}", f"blast >= wrk (same server and settings), pipelining {pl}",
                                 1.0, paired_ratio(runs, a, b) if runs else None, detail))
    return out


def _zero_allocs_target(res):
    """The stack path allocates nothing: every run's /stats difference."""
    allocs = frees = reqs = nruns = 0
    worst = None
    for name in ("closed_loop", "shards", "allocators", "open_loop", "references"):
        for r in (res.get(name) or {}).get("runs", []):
            d = r.get("result", {}).get("server")
            if r.get("target") != "metricd" or r.get("path") not in STACK_PATHS or not d:
                continue
            nruns += 1
            allocs, frees, reqs = allocs + d["allocs"], frees + d["frees"], reqs + d["requests"]
            v = d.get("allocs_per_request")
            if v is not None and (worst is None or v > worst):
                worst = v
    t = {"id": "stack_zero_allocs", "target": "stack paths: 0 allocations/request", "required": 0, "op": "==",
         "unit": "allocs/request", "measured": (allocs / reqs) if reqs else None,
         "detail": {"runs": nruns, "requests": reqs, "allocs": allocs, "frees": frees,
                    "worst_run_allocs_per_request": worst, "source": "metricd GET /stats differences"}}
    if not reqs:
        return _judge(t, None, None)
    if allocs == 0 and frees == 0:
        return _judge(t, True, f"met: 0 allocations and 0 frees over {reqs:,} requests in {nruns} runs")
    return _judge(t, False, f"MISSED: {allocs:,} allocations ({allocs / reqs:.4f}/request), "
                            f"{frees:,} frees over {reqs:,} requests")


def _idle_target(res):
    idle = (res.get("idle_cpu") or {}).get("cpu_percent") or {}
    v = idle.get("median")
    t = {"id": "idle_cpu", "target": "idle CPU < 1%", "required": 1.0, "op": "<", "unit": "%",
         "measured": v, "range": [idle.get("min"), idle.get("max")] if v is not None else None,
         "detail": {"window_s": (res.get("idle_cpu") or {}).get("window_s")}}
    if v is None:
        return _judge(t, None, None)
    if v < 1.0:
        return _judge(t, True, f"met: {v:.2f}% of one CPU")
    return _judge(t, False, f"MISSED by {v - 1.0:.2f} points: {v:.2f}% of one CPU, needs < 1%")


def _rss_target(res):
    rss = (res.get("rss_per_connection") or {}).get("kib_per_connection") or {}
    v = rss.get("median")
    t = {"id": "rss_per_connection", "target": "RSS per idle keep-alive connection <= 16 KiB", "required": 16.0,
         "op": "<=", "unit": "KiB", "measured": v,
         "range": [rss.get("min"), rss.get("max")] if v is not None else None,
         "detail": {"connections": (res.get("rss_per_connection") or {}).get("connections")}}
    if v is None:
        return _judge(t, None, None)
    if v <= 16.0:
        return _judge(t, True, f"met: {v:.2f} KiB per connection")
    return _judge(t, False, f"MISSED by {v - 16:.2f} KiB ({(v / 16 - 1) * 100:.0f}% over): "
                            f"{v:.2f} KiB, needs <= 16 KiB")


def evaluate(res):
    return _reference_targets(res) + [_zero_allocs_target(res), _idle_target(res), _rss_target(res)]
