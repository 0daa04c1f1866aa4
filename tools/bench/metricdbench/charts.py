# SPDX-License-Identifier: BSD-2-Clause
"""The report's charts, as SVG drawn by svgplot and flame: each answers one
question about the stack path and the heap path, and make_charts() writes
those the results have data for into charts/NAME.svg.

  heap_stack_ratio   how much slower is the heap path?  Per configuration,
                     one point per repetition, the median marked
  latency            at the same offered rate, where do their percentiles
                     part?  p50 ... p99.99 on an HDR axis
  rps_per_second     was the load steady through each run?
  cpu_per_request    what does a request cost, user and system time?
  allocator_ns       and how much of it is the allocator?
  rps_vs_workers     capacity against worker count
  allocators         glibc, jemalloc and mimalloc at HTTP level
  allocbench         ... and on their own (ns per operation)
  flame              where the CPU goes, heap path next to stack path"""

import os

from . import flame
from .common import PAIRS, pct_value
from .plan import cfg_key
from .runs import paired_ratio, summary_index
from .svgplot import dots, duration_us, hbars, panels, si

PALETTE = {"/metric-stack": "#1b7837", "/metric-heap": "#c51b7d", "/stats-value": "#4575b4",
           "/stats-pointer": "#d73027"}
# The same hue, lighter: the system-time part of a stacked bar.
LIGHT = {"/metric-stack": "#7fbf7b", "/metric-heap": "#f1b6da", "/stats-value": "#91bfdb",
         "/stats-pointer": "#fc8d59"}
ALLOC_COLOR = {"glibc": "#4d4d4d", "jemalloc": "#2166ac", "mimalloc": "#b2182b"}
ALLOCATORS = ("glibc", "jemalloc", "mimalloc")
REP_DASH = (None, "7,4", "2,3", "10,3,2,3")


def matrix_key(path, w, pl, work, alloc="glibc", group="matrix"):
    return cfg_key({"group": group, "tool": "blast", "target": "metricd", "alloc": alloc, "workers": w,
                    "path": path, "pipeline": pl, "work": work})


def cell(s):
    """A bar's figures from a summary (median, min, max), or None."""
    if not s or s.get("median") is None:
        return None
    return {"v": s["median"], "lo": s.get("min"), "hi": s.get("max")}


def workers_text(w):
    return f"{w} worker{'s' if w != 1 else ''}"


def pair_label(stack, heap):
    """/metric-stack, /metric-heap -> /metric-*"""
    common = os.path.commonprefix([stack, heap])
    return common.rstrip("-") + "-*" if len(common) > 1 else f"{stack} vs {heap}"


def _configs(res):
    """The closed-loop configurations measured for both paths of a pair,
    in the report's order: (stack, heap, workers, pipeline, work)."""
    st, cl = res["settings"], summary_index(res, "closed_loop")
    out = []
    for stack, heap in PAIRS.values():
        for w in st["workers"]:
            for pl in st["pipelines"]:
                for work in dict.fromkeys([0, st.get("work_heavy") or 0]):
                    if matrix_key(stack, w, pl, work) in cl and matrix_key(heap, w, pl, work) in cl:
                        out.append((stack, heap, w, pl, work))
    return out


def _config_label(stack, heap, w, pl, work):
    return f"{pair_label(stack, heap)} · {workers_text(w)} · pipeline {pl}" + (f" · work {work}" if work else "")


# ---- the charts -------------------------------------------------------------------

def heap_stack_ratio(res):
    runs = (res.get("closed_loop") or {}).get("runs", [])
    rows = []
    for stack, heap, w, pl, work in _configs(res):
        r = paired_ratio(runs, matrix_key(heap, w, pl, work), matrix_key(stack, w, pl, work))
        rows.append((_config_label(stack, heap, w, pl, work), r["values"]))
    al = res.get("allocators") or {}
    asum = summary_index(res, "allocators")
    for pl in res["settings"].get("alloc_pipelines", []):
        for a in ALLOCATORS:
            ks = matrix_key("/metric-stack", res["settings"]["ref_workers"], pl, 0, a, "allocators")
            kh = matrix_key("/metric-heap", res["settings"]["ref_workers"], pl, 0, a, "allocators")
            if ks in asum and kh in asum:
                r = paired_ratio(al.get("runs", []), kh, ks)
                rows.append((f"/metric-* · {a} · {workers_text(res['settings']['ref_workers'])} · pipeline {pl}",
                             r["values"]))
    rows = [r for r in rows if any(v is not None for v in r[1])]
    if not rows:
        return None
    return ("How much slower is the heap path? requests/s heap ÷ stack",
            dots("How much slower is the heap path? requests/s, heap ÷ stack",
                 rows, subtitle="Each dot is one repetition: the two paths measured back to back on the same "
                 "server, closed loop at full speed. The bar is the median; left of the dashed line at 1.00× "
                 "the heap path is slower.", xlabel="heap ÷ stack"))


def latency(res):
    ol = (res.get("open_loop") or {}).get("summary", [])
    plist = []
    for stack, heap in PAIRS.values():
        for fr in res["settings"].get("open_fractions", []):
            rows = {s["path"]: s for s in ol if s["path"] in (stack, heap) and s.get("fraction") == fr}
            if len(rows) < 2:
                continue
            rates = {s["rate"] for s in rows.values()}
            series = []
            for path in (stack, heap):
                s = rows[path]
                pts = [(pct_value(p), v["median"], v["min"], v["max"])
                       for p, v in sorted(s["latency_us"].items(), key=lambda kv: pct_value(kv[0]))
                       if v.get("median") and pct_value(p) < 100]
                short = s["rps"]["median"] is not None and s["rps"]["median"] < 0.95 * s["rate"]
                series.append({"name": f"{path} ({si(s['rps']['median'])} req/s achieved"
                               f"{', under the rate asked' if short else ''})",
                               "color": PALETTE[path], "points": pts})
            same = len(rates) == 1
            plist.append({"title": f"{pair_label(stack, heap)} at {si(min(rates))} req/s"
                                   f"{'' if same else ' (each path its own rate)'}: {fr * 100:.0f}% of the "
                                   f"slower path's max", "series": series})
    if not plist:
        return None
    st = res["settings"]
    return ("Latency percentiles at the same offered rate",
            panels("Latency percentiles of both paths at the same offered rate",
                   plist, "hdr", "log", lambda v: f"{v:g}%", duration_us,
                   subtitle="Open loop (blast -R, corrected for coordinated omission), "
                   f"{workers_text(st['ref_workers'])}, pipeline 1. Median of {st['reps']} runs, whiskers min–max. x: percentile on an HDR axis "
                   "(each step right is ten times rarer); y: latency, log scale.",
                   xlabel="percentile", label_ends=True, height=240))


def rps_per_second(res):
    st = res["settings"]
    runs = [r for r in (res.get("closed_loop") or {}).get("runs", []) if (r["result"].get("series") or [])]
    plist = []
    for stack, heap, w, pl, work in _configs(res):
        if w != st["ref_workers"] or work:
            continue
        series = []
        for path in (stack, heap):
            for r in sorted((r for r in runs if r["key"] == matrix_key(path, w, pl, work)), key=lambda r: r["rep"]):
                pts = [(x["second"], x["rps"], None, None) for x in r["result"]["series"]]
                series.append({"name": f"{path} repetition {r['rep'] + 1}", "color": PALETTE[path],
                               "dash": REP_DASH[r["rep"] % len(REP_DASH)], "points": pts})
        if series:
            plist.append({"title": _config_label(stack, heap, w, pl, work), "series": series})
    if not plist:
        return None
    return ("Requests/s in each second of each run",
            panels("Requests/s in each second of each run", plist, "linear", "linear",
                   lambda v: f"{v:g} s", si, xlabel="second of the run", height=170, xint=True,
                   subtitle="blast's per-second counts (--csv-series), closed loop, every repetition: a run "
                   "that sags or spikes was disturbed by something else on the machine."))


def _path_rows(res, stack, heap, key):
    """Per configuration, both paths' server_stats figure `key`."""
    ss = (res.get("server_stats") or {}).get("summary", [])
    idx = {(r["allocator"], r["workers"], r["path"], r["pipeline"], r["work"]): r for r in ss}
    rows = []
    for alloc in ALLOCATORS:
        for w in res["settings"]["workers"]:
            for pl in res["settings"]["pipelines"]:
                for work in dict.fromkeys([0, res["settings"].get("work_heavy") or 0]):
                    rs, rh = idx.get((alloc, w, stack, pl, work)), idx.get((alloc, w, heap, pl, work))
                    if rs or rh:
                        label = _config_label(stack, heap, w, pl, work) + ("" if alloc == "glibc" else f" · {alloc}")
                        rows.append((label, [rs and key(rs), rh and key(rh)]))
    return rows


def _cpu_cell(r, path):
    total = cell(r.get("server_cpu_us_per_request"))
    u, s = (r.get("server_user_us_per_request") or {}).get("median"), \
        (r.get("server_sys_us_per_request") or {}).get("median")
    if total and u is not None and s is not None:
        total = {"v": u + s, "parts": [("user", u, PALETTE[path]), ("system", s, LIGHT[path])]}
    return total


def cpu_per_request(res):
    rows = []
    for stack, heap in PAIRS.values():
        rows += _path_rows(res, stack, heap, lambda r: _cpu_cell(r, r["path"]))
    if not rows:
        return None
    return ("metricd's CPU time per request, user and system",
            hbars("What a request costs: metricd's CPU time per request, user + system",
                  rows, [("stack path (user dark, system light)", PALETTE["/metric-stack"]),
                         ("heap path", PALETTE["/metric-heap"])], lambda v: f"{v:.2f}",
                  unit="µs per request", subtitle="All of metricd's threads, from /proc (utime, stime) over "
                  "each run, divided by the requests it answered; median of the repetitions. Waiting for a CPU "
                  "does not count, so this compares the paths more steadily than requests/s on a shared machine."))


def allocator_ns(res):
    rows = []
    for stack, heap in PAIRS.values():
        rows += _path_rows(res, stack, heap, lambda r: cell(r.get("allocator_ns_per_request")))
    if not rows:
        return None
    return ("Time in the allocator per request",
            hbars("...and how much of it is the allocator: time in malloc and free per request",
                  rows, [("stack path", PALETTE["/metric-stack"]), ("heap path", PALETTE["/metric-heap"])],
                  lambda v: f"{v:.0f}", unit="ns per request",
                  subtitle="metricd's own count (GET /stats before and after each run): the TSC read around "
                  "every malloc and free, all threads. Median, (min–max) of the repetitions. The stack path "
                  "makes no allocator call: 0."))


def rps_vs_workers(res):
    st = res["settings"]
    cl = summary_index(res, "closed_loop")
    plist = []
    heavy = st.get("work_heavy") or 0
    for stack, heap in PAIRS.values():
        for work in dict.fromkeys([0, heavy]):
            series = []
            for path in (stack, heap):
                for pl in st["pipelines"]:
                    pts = [(w, s["rps"]["median"], s["rps"]["min"], s["rps"]["max"]) for w in st["workers"]
                           for s in [cl.get(matrix_key(path, w, pl, work))] if s and s["rps"]["median"]]
                    if pts:
                        series.append({"name": f"{path} pipeline {pl}", "color": PALETTE[path],
                                       "dash": None if pl == 1 else "7,4", "points": pts})
            if series:
                plist.append({"title": f"{pair_label(stack, heap)}, work={work}: requests/s", "series": series})
    if not plist or len(st["workers"]) < 2:
        return None
    return ("Throughput vs workers",
            panels("Closed-loop throughput against the number of workers", plist, "linear", "log",
                   lambda v: f"{v:g}", si, xlabel="metricd workers", height=220, label_ends=True, xint=True,
                   subtitle=f"Median of {st['reps']} interleaved runs, whiskers min–max; requests/s on a log scale."))


def allocators(res):
    al = (res.get("allocators") or {}).get("summary", [])
    allocs = [a for a in ALLOCATORS if any(s["alloc"] == a for s in al)]
    if len(allocs) < 2:
        return None
    rows = []
    for path in dict.fromkeys(s["path"] for s in al):
        for pl in dict.fromkeys(s["pipeline"] for s in al):
            cells = [cell(next((x["rps"] for x in al if x["alloc"] == a and x["path"] == path
                                and x["pipeline"] == pl), None)) for a in allocs]
            rows.append((f"{path} · pipeline {pl}", cells))
    return ("metricd under each allocator",
            hbars(f"metricd under each allocator: requests/s ({workers_text(res['settings']['ref_workers'])}, "
                  "closed loop)", rows, [(a, ALLOC_COLOR[a]) for a in allocs], si, unit="requests/s",
                  subtitle="jemalloc and mimalloc through LD_PRELOAD; the stack path makes no allocator "
                  "call, so its bars show the noise between the servers. Median (min–max)."))


def allocbench(res):
    ab = (res.get("allocbench") or {}).get("summary", [])
    names = [a for a in ALLOCATORS if any(a in r["ns_per_op"] for r in ab)]
    if not names:
        return None
    rows = [(f"{r['pattern']} {r['size']} B" + (f" · {r['threads']} threads" if r["threads"] > 1 else ""),
             [cell(r["ns_per_op"].get(a)) for a in names]) for r in ab]
    return ("allocbench: ns per operation",
            hbars("allocbench: the allocation patterns on their own, ns per operation (log scale)", rows,
                  [(a, ALLOC_COLOR[a]) for a in names], lambda v: si(v, 3), unit="ns per operation", log=True,
                  subtitle="cross-thread is the heap path's hand-off (malloc on one thread, free on another); "
                  "slab and by-value are what the stack path does instead. Median (min–max)."))


def flame_graph(res, outdir):
    fl = res.get("flame") or {}
    profiles = []
    for p in fl.get("profiles", []):
        path = os.path.join(outdir, p.get("folded") or "")
        if p.get("folded") and os.path.exists(path):
            profiles.append((f"{p['path']}, pipeline {p['pipeline']}", flame.read_folded(path)))
    if not profiles:
        return None
    profiles.sort(key=lambda x: "stack" not in x[0])
    return ("Flame graphs: heap path next to stack path",
            flame.render("Where metricd's CPU goes: the stack path, then the heap path, same load", profiles,
                         subtitle=f"perf record --call-graph dwarf on metricd ({workers_text(fl.get('workers'))}) "
                         "while blast loads one path; width is the share of samples, stacks grow upwards "
                         f"(cut at {flame.MAX_DEPTH} frames), frames ordered by name. Blue frames are the "
                         "allocator. Hover a frame for its count."))


CHARTS = (("heap_stack_ratio", heap_stack_ratio), ("latency", latency), ("rps_per_second", rps_per_second),
          ("cpu_per_request", cpu_per_request), ("allocator_ns", allocator_ns),
          ("rps_vs_workers", rps_vs_workers), ("allocators", allocators), ("allocbench", allocbench))


def make_charts(res, outdir, log=print):
    """charts/NAME.svg for every chart the results have data for; returns
    {name: {"svg": path, "title": ...} or {"error": ...}}."""
    cdir = os.path.join(outdir, "charts")
    os.makedirs(cdir, exist_ok=True)
    made = {}
    todo = [(name, lambda f=f: f(res)) for name, f in CHARTS] + [("flame", lambda: flame_graph(res, outdir))]
    for name, make in todo:
        try:
            out = make()
        except (KeyError, ValueError, TypeError, ZeroDivisionError, OSError) as e:
            made[name] = {"error": f"{type(e).__name__}: {e}"}
            log(f"chart {name} failed: {e!r}")
            continue
        if out is None:
            continue
        title, svg = out
        with open(os.path.join(cdir, name + ".svg"), "w") as f:
            f.write(svg)
        made[name] = {"svg": f"charts/{name}.svg", "title": title}
    return made
