# SPDX-License-Identifier: BSD-2-Clause
"""report.md of a results dict: one section per phase that ran (a run of
some phases alone reports only those), with the charts."""

import os

from .charts import make_charts, matrix_key
from .common import summary, write_json
from .plan import cfg_key
from .runs import paired_ratio, summary_index
from .targets import evaluate, ref_key


def n0(x):
    return "–" if x is None else f"{x:,.0f}"


def f2(x, unit=""):
    return "–" if x is None else f"{x:.2f}{unit}"


def g3(x):
    if x is None:
        return "–"
    for limit, fmt in ((1000, ",.0f"), (100, ".0f"), (10, ".1f")):
        if abs(x) >= limit:
            return format(x, fmt)
    return f"{x:.2f}"


def rng(s, fmt=n0):
    if not s or s.get("median") is None:
        return "–"
    return f"{fmt(s['median'])} ({fmt(s['min'])}–{fmt(s['max'])})"


def ratio_cell(s):
    if not s or s.get("median") is None:
        return "–"
    return f"{s['median']:.2f}× ({s['min']:.2f}–{s['max']:.2f})"


def us(x):
    if x is None:
        return "–"
    if x >= 10000:
        return f"{x / 1000:.1f} ms"
    if x >= 1000:
        return f"{x / 1000:.2f} ms"
    return f"{x:.0f} µs"


def noise_line(res):
    """How busy the machine was with other people's work during the runs."""
    other, press, stalled, n = [], [], 0, 0
    for name in ("closed_loop", "shards", "allocators", "references", "open_loop"):
        for r in (res.get(name) or {}).get("runs", []):
            n += 1
            h = r["result"].get("host") or {}
            if "other_processes_cpus" in h:
                other.append(h["other_processes_cpus"])
            if "cpu_pressure_pct" in h:
                press.append(h["cpu_pressure_pct"])
            stalled += bool(r["result"].get("stalled"))
    if not n:
        return []
    s = summary(other)
    text = (f"**Noise during the {n} load runs:** other processes (not metricd, nginx or the load generator) "
            f"used a median {f2(s['median'])} CPUs (max {f2(s['max'])}) of the "
            f"{res.get('machine', {}).get('cpus_allowed')}")
    if press:
        text += f"; CPU pressure (PSI some) median {summary(press)['median']:.0f}%"
    return [text + f"; {stalled} run(s) took over 1.5× their nominal duration (stalls).", ""]


def _machine_lines(res):
    m, pk, b = res.get("machine", {}), res.get("machine", {}).get("packages", {}), res.get("build", {})
    git = ""
    if b.get("git_commit"):
        git = "; git " + b["git_commit"][:12] + (" + local changes" if b.get("git_dirty") else "")
    return [f"**Machine:** {m.get('cpu_model')}, {m.get('cores_online')} CPUs online, {m.get('cpus_allowed')} allowed"
            f"{', ' + m['lscpu_hypervisor_vendor'] + ' guest' if m.get('lscpu_hypervisor_vendor') else ''}; "
            f"kernel {m.get('kernel')}; {m.get('glibc')}; "
            f"jemalloc {pk.get('libjemalloc2', '–')}, mimalloc {pk.get('libmimalloc2.0', '–')}, "
            f"nginx {pk.get('nginx-light', pk.get('nginx', '–'))}, wrk {pk.get('wrk', '–')}. "
            f"Load average at start {m.get('loadavg_at_start')}, at end {m.get('loadavg_at_end')}.", "",
            f"**Build:** `{b.get('dir', '')}` with CFLAGS `{b.get('cflags') or b.get('makefile_cflags')}`"
            f"{' (reused)' if b.get('reused') else ''}; {b.get('metricd_version')}; {b.get('blast_version')}{git}.",
            ""]


def header(res):
    st, m = res["settings"], res.get("machine", {})
    phases = st.get("phases")
    only = f" (phases: {', '.join(phases)})" if st.get("only") else ""
    L = [f"# metricd benchmark report — {res.get('mode')} run{only}", "",
         f"Started {res.get('started_utc')}, finished {res.get('finished_utc')} "
         f"({(res.get('elapsed_s') or 0) / 60:.1f} min), by `{res.get('tool')}`.", ""]
    L += _machine_lines(res)
    L += [f"**Method:** every figure is the median of {st['reps']} interleaved repetitions (all configurations once "
          "in order, then in reverse order, …), with (min–max). Comparisons are made per repetition between "
          "configurations measured next to each other, then the median of those ratios is reported. "
          f"Closed loop: blast -t{st['threads']} -c{st['connections']}, {st['duration']:g} s"
          f"{' after ' + format(st['warmup'], 'g') + ' s warm-up' if st['warmup'] else ''} per run; "
          f"references {st['ref_duration']:g} s"
          f"{' (blast ' + format(st['ref_blast_duration'], 'g') + ' s)' if st.get('ref_blast_duration') else ''}"
          f", no warm-up (wrk has none). Heavy work: `work={st['work_heavy']}`. Everything on 127.0.0.1.", ""]
    L += noise_line(res)
    if (m.get("cpus_allowed") or 0) <= 4:
        L += [f"> **Noise.** This machine has {m.get('cpus_allowed')} CPUs shared by metricd (acceptor + workers), "
              "the load generator and, here, other people's builds and tests; load average above shows how busy "
              "it was. Absolute numbers move by tens of percent between minutes; trust the side-by-side ratios "
              "and the ranges, not single values.", ""]
    if res.get("errors"):
        L += ["**Errors:** " + "; ".join(res["errors"]), ""]
    return L


def _measured(t):
    meas, unit = t.get("measured"), t["unit"]
    if meas is None:
        return "–"
    if unit in ("x", "%", "KiB"):
        sym = {"x": "×", "%": "%", "KiB": " KiB"}[unit]
        return f"{meas:.2f}{sym} ({t['range'][0]:.2f}–{t['range'][1]:.2f})"
    return f"{meas:g} {unit}"


def targets_section(res, charts):
    partial = res["settings"].get("only")
    shown = [t for t in res.get("targets", []) if not partial or t.get("met") is not None]
    if not shown:
        return []
    L = ["## Targets", "", "| target | measured | verdict |", "| --- | --- | --- |"]
    for t in shown:
        mark = {True: "✅ ", False: "❌ "}.get(t.get("met"), "")
        L.append(f"| {t['target']} | {_measured(t)} | {mark}{t['verdict']} |")
    L.append("")
    for t in shown:
        d = t["detail"]
        if t["id"].startswith("stack_vs_nginx"):
            L.append(f"- {t['id']}: metricd {n0(d.get('metricd_rps'))} req/s vs nginx {n0(d.get('nginx_rps'))} "
                     f"req/s (blast); with wrk the ratio is {f2(d.get('same_with_wrk'), '×')}.")
        if t["id"].startswith("blast_vs_wrk"):
            L.append(f"- {t['id']}: blast {n0(d.get('blast_rps'))} vs wrk {n0(d.get('wrk_rps'))} req/s on "
                     f"metricd; on nginx blast/wrk = {f2(d.get('on_nginx'), '×')}.")
    return L + [""]


def chart_lines(charts, *names):
    L = []
    for name in names:
        c = charts.get(name) or {}
        if "svg" in c:
            L += [f"![{c['title']}]({c['svg']})", ""]
        elif c.get("error"):
            L += [f"_chart {name} failed: {c['error']}_", ""]
    return L


def _closed_row(cl, runs, stack, heap, w, pl, work):
    ks, kh = matrix_key(stack, w, pl, work), matrix_key(heap, w, pl, work)
    if ks not in cl:
        return None
    cs = (cl[ks].get("server_cpu_us_per_request") or {}).get("median")
    chh = (cl.get(kh, {}).get("server_cpu_us_per_request") or {}).get("median")
    cpu = "–" if not cs or not chh else f"{cs:.2f} → {chh:.2f} ({(chh - cs) * 1000:+.0f} ns)"
    return (f"| {w} | {pl} | {work} | {rng(cl[ks]['rps'])} | {rng(cl.get(kh, {}).get('rps'))} | "
            f"{ratio_cell(paired_ratio(runs, kh, ks))} | {cpu} |")


def closed_section(res, charts):
    st = res["settings"]
    L = ["## 1. Throughput, stack path vs heap path (closed loop, max rate)", "",
         "Requests/s, median (min–max). *heap/stack* is the per-repetition ratio of the two paths measured back to "
         "back on the same server: below 1.00× the heap path is slower. The last column is metricd's own CPU time "
         "(all threads, user+system, from /proc) per request, median: CPU time is not inflated by waiting for a "
         "CPU, so on a shared machine it compares the two paths more steadily than requests/s (it still moves "
         "with cache and frequency effects, and has a 10 ms tick resolution).", ""]
    cl = summary_index(res, "closed_loop")
    runs = (res.get("closed_loop") or {}).get("runs", [])
    for stack, heap, works in (("/metric-stack", "/metric-heap", [0, st.get("work_heavy")]),
                               ("/stats-value", "/stats-pointer", [0])):
        L += [f"| workers | pipeline | work | {stack} | {heap} | heap/stack | metricd CPU µs/request, stack → heap |",
              "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
        L += [row for w in st["workers"] for pl in st["pipelines"] for work in works
              for row in [_closed_row(cl, runs, stack, heap, w, pl, work)] if row]
        L.append("")
    return L + chart_lines(charts, "heap_stack_ratio", "rps_per_second", "rps_vs_workers")


def _shard_cell(sh, runs, k, kn):
    s = sh.get(k)
    if not s:
        return "–"
    r = paired_ratio(runs, k, kn)
    return rng(s["rps"]) + ("" if r.get("median") is None else f" **{r['median']:.2f}×**")


def shards_section(res, charts):
    """Per worker count: metricd with each shard count next to nginx with
    as many workers (tools/bench/scaling)."""
    sec = res.get("shards") or {}
    if not sec.get("summary"):
        return []
    st, sh, runs = res["settings"], summary_index(res, "shards"), sec.get("runs", [])
    shards = st.get("acceptors") or []
    L = ["## 1b. Shards: metricd with 1..N acceptors next to nginx with as many workers", "",
         "`/metric-stack`, closed loop, requests/s median (min–max); **bold**: the per-repetition ratio to nginx "
         "with the same number of workers (`worker_processes` W) measured in the same sequence. metricd runs with "
         "`--acceptors N --workers W` (the workers divided among the N shards, so W ≥ N).", ""]
    for pl in st.get("shard_pipelines") or []:
        L += [f"Pipelining {pl}:", "", "| workers | nginx | " + " | ".join(f"{n} shard(s)" for n in shards) + " |",
              "| ---: | ---: |" + " ---: |" * len(shards)]
        for w in st["workers"]:
            base = {"group": "shards", "tool": "blast", "alloc": "glibc", "workers": w, "path": "/metric-stack",
                    "pipeline": pl, "work": 0}
            kn = cfg_key(dict(base, target="nginx"))
            cells = [_shard_cell(sh, runs, cfg_key(dict(base, target="metricd", acceptors=n)), kn) for n in shards]
            L.append(f"| {w} | {rng((sh.get(kn) or {}).get('rps'))} | " + " | ".join(cells) + " |")
        L.append("")
    return L


def _open_p99_lines(res):
    osum = (res.get("open_loop") or {}).get("summary", [])
    L = []
    for fr in res["settings"]["open_fractions"]:
        for sp, hp in (("/metric-stack", "/metric-heap"), ("/stats-value", "/stats-pointer")):
            ks = next((s for s in osum if s["path"] == sp and s["fraction"] == fr), None)
            kh = next((s for s in osum if s["path"] == hp and s["fraction"] == fr), None)
            p99s, p99h = [(s["latency_us"].get("p99") or {}).get("median") if s else None for s in (ks, kh)]
            if p99s and p99h:
                rates = (f"both at {n0(kh['rate'])} req/s" if kh["rate"] == ks["rate"]
                         else f"each at its own rate: {n0(kh['rate'])} vs {n0(ks['rate'])} req/s")
                L.append(f"- at {fr * 100:.0f}%: {hp} p99 / {sp} p99 = {p99h / p99s:.2f}× ({rates})")
    return L


def open_section(res, charts):
    L = ["## 2. Latency under open-loop load, both paths at the same rate", "",
         f"blast -R at a fixed rate (coordinated-omission corrected: latency counts from each request's intended "
         f"send time), {res['settings']['ref_workers']} workers, pipeline 1. The stack and the heap path of a pair "
         "get the same rate: a fraction of the slower one's median closed-loop max from section 1, so their "
         "percentiles compare point by point. Median (min–max) of the repetitions.", "",
         "| path | load | rate req/s | achieved | p50 | p99 | p99.9 | p99.99 | late sends |",
         "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    overloaded = 0
    for s in (res.get("open_loop") or {}).get("summary", []):
        lat = {p: rng(s["latency_us"].get(p), us) for p in ("p50", "p99", "p99_9", "p99_99")}
        short = s["rps"]["median"] is not None and s["rps"]["median"] < 0.95 * s["rate"]
        overloaded += short
        L.append(f"| {s['path']} | {s['fraction'] * 100:.0f}% | {n0(s['rate'])} | "
                 f"{n0(s['rps']['median'])}{' ⚠' if short else ''} | {lat['p50']} | {lat['p99']} | {lat['p99_9']} | "
                 f"{lat['p99_99']} | {n0((s.get('late_sends') or {}).get('median'))} |")
    L.append("")
    if overloaded:
        L += [f"⚠ {overloaded} row(s) achieved under 95% of the rate asked for: in those runs the machine could not "
              "sustain that rate (its spare capacity had dropped since the closed-loop max was measured), so the "
              "latencies are those of an overloaded server — queueing, not service time.", ""]
    return L + _open_p99_lines(res) + [""] + chart_lines(charts, "latency")


def _p99(s):
    return us(((s or {}).get("latency_us", {}).get("p99") or {}).get("median"))


def _allocators_http(res):
    al = res.get("allocators") or {}
    if not al.get("summary"):
        return []
    L = [f"metricd's stack and heap paths with glibc malloc and with jemalloc / mimalloc via `LD_PRELOAD` "
         f"({res['settings']['ref_workers']} workers, closed loop). *vs glibc*: per repetition, against glibc.", "",
         "| path | pipeline | allocator | req/s | vs glibc | p99 | allocator ns/request |",
         "| --- | ---: | --- | ---: | ---: | ---: | ---: |"]
    runs = al.get("runs", [])
    for s in al["summary"]:
        gk = matrix_key(s["path"], s["workers"], s["pipeline"], 0, "glibc", "allocators")
        L.append(f"| {s['path']} | {s['pipeline']} | {s['alloc']} | {rng(s['rps'])} | "
                 f"{ratio_cell(paired_ratio(runs, s['key'], gk)) if s['alloc'] != 'glibc' else '1'} | "
                 f"{_p99(s)} | {rng((s.get('server') or {}).get('allocator_ns_per_request'), g3)} |")
    return L + [""]


def _heap_vs_stack_row(runs, summ, w, pl, a):
    ks = matrix_key("/metric-stack", w, pl, 0, a, "allocators")
    kh = matrix_key("/metric-heap", w, pl, 0, a, "allocators")
    if ks not in summ or kh not in summ:
        return None
    per_rep = paired_ratio(runs, kh, ks)
    slower = sum(1 for v in per_rep["values"] if v < 1)
    ns = (summ[kh].get("server") or {}).get("allocator_ns_per_request")
    return (f"| {pl} | {a} | {rng(summ[ks]['rps'])} | {rng(summ[kh]['rps'])} | {ratio_cell(per_rep)} | "
            f"{slower} of {per_rep['n']} | {_p99(summ[ks])} | {_p99(summ[kh])} | {rng(ns, g3)} |")


def _heap_vs_stack(res):
    al = res.get("allocators") or {}
    summ, runs = summary_index(res, "allocators"), al.get("runs", [])
    w = res["settings"]["ref_workers"]
    rows = [row for pl in res["settings"]["alloc_pipelines"] for a in dict.fromkeys(s["alloc"] for s in al.get(
        "summary", [])) for row in [_heap_vs_stack_row(runs, summ, w, pl, a)] if row]
    if not rows:
        return []
    return ["The heap path against the stack path under each allocator, measured back to back on the same "
            "server: *heap/stack* per repetition, in how many repetitions the heap path was slower, and the "
            "heap path's time in the allocator (metricd's GET /stats).", "",
            "| pipeline | allocator | stack req/s | heap req/s | heap/stack | heap slower | stack p99 | heap p99 | "
            "heap allocator ns/request |",
            "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"] + rows + [""]


def _allocbench_lines(res):
    ab = res.get("allocbench") or {}
    if not ab.get("summary"):
        return []
    m = res.get("machine", {})
    names = [x for x in ("glibc", "jemalloc", "mimalloc") if any(x in r["ns_per_op"] for r in ab["summary"])]
    abst = ab.get("settings", {})
    L = [f"allocbench (`{os.path.basename(ab.get('binary', 'allocbench'))} --sizes {abst.get('sizes')} --threads "
         f"{abst.get('threads')} --ops {abst.get('ops')}`): ns per operation, median (min–max) of "
         f"{abst.get('reps')} interleaved runs. *cross-thread* is metricd's heap-path hand-off (malloc on the "
         "acceptor, free on a worker); *fan-out* is one producer feeding N−1 consumers; *slab* and *by-value* "
         "are what the stack path does instead."]
    if (m.get("cpus_allowed") or 0) < (abst.get("threads") or 0):
        L.append(f"Fan-out rows with more threads than the {m.get('cpus_allowed')} CPUs here are oversubscribed: "
                 "they show what contention plus preemption costs, not what a bigger machine would see.")
    L += ["", "| pattern | bytes | threads | " + " | ".join(names) + " |",
          "| --- | ---: | ---: | " + " | ".join("---:" for _ in names) + " |"]
    for r in ab["summary"]:
        L.append(f"| {r['pattern']} | {r['size']} | {r['threads']} | " +
                 " | ".join(rng(r["ns_per_op"].get(x), g3) for x in names) + " |")
    return L + [""]


def allocators_section(res, charts):
    body = _allocators_http(res) + _heap_vs_stack(res) + _allocbench_lines(res)
    return ["## 3. Allocators", ""] + body + chart_lines(charts, "allocators", "allocbench")


def _reference_ratios(res, rs, runs):
    """Per pipelining depth: metricd's paths / nginx, with blast and with wrk."""
    L = []
    for pl in res["settings"]["ref_pipelines"]:
        parts = []
        for path in ("/metric-stack", "/metric-heap"):
            for tool in ("blast", "wrk"):
                k, kn = ref_key(res, tool, "metricd", path, pl), ref_key(res, tool, "nginx", "/metric-stack", pl)
                if k in rs:
                    parts.append(f"{path} / nginx = {ratio_cell(paired_ratio(runs, k, kn))} ({tool})")
        L.append(f"- pipeline {pl}: " + "; ".join(parts))
    return L + [""]


def references_section(res, charts):
    st, refs = res["settings"], res.get("references") or {}
    L = ["## 4. References: nginx and wrk in the same run", ""]
    if not refs.get("summary"):
        return L + ["_" + " ".join(str(refs.get("skipped") or refs.get("error") or "not measured").split()) + "_",
                    ""]
    ng = refs.get("nginx") or {}
    L += [f"nginx-light `return 200` with the same {ng.get('body_bytes', '?')}-byte body, {ng.get('workers')} worker "
          f"processes (metricd: {st['ref_workers']} workers + its acceptor thread). Both load generators with "
          f"{st['threads']} thread, {st['connections']} connections, {st['ref_duration']:g} s; wrk pipelines with "
          "a Lua script that writes 16 requests at once.", "",
          "| server | path | pipeline | blast req/s | wrk req/s | blast/wrk |",
          "| --- | --- | ---: | ---: | ---: | ---: |"]
    rs, runs = summary_index(res, "references"), refs.get("runs", [])
    for target, path, pl in dict.fromkeys((s["target"], s["path"], s["pipeline"]) for s in refs["summary"]):
        kb, kw = ref_key(res, "blast", target, path, pl), ref_key(res, "wrk", target, path, pl)
        L.append(f"| {target} | {path} | {pl} | {rng((rs.get(kb) or {}).get('rps'))} | "
                 f"{rng((rs.get(kw) or {}).get('rps'))} | {ratio_cell(paired_ratio(runs, kb, kw))} |")
    return L + [""] + _reference_ratios(res, rs, runs)


def server_stats_section(res, charts):
    L = ["## 5. What metricd counted (GET /stats, per path and worker count)", "",
         "Differences of the server's own counters before and after each run: allocator calls (malloc family) per "
         "request, frees done on another thread than the allocation, and the time spent inside the allocator "
         "(measured by metricd's counting wrapper with the TSC, so it includes the timer's own cost and any "
         "preemption inside the call). *metricd CPU µs/req* is the server's whole CPU time per request; "
         "*allocator share* is allocator ns / that CPU time (medians); *user / sys* split that CPU time "
         "(/proc utime and stime, medians). Median (min–max) over the repetitions.", "",
         "| allocator | workers | path | pipeline | work | allocs/req | x-thread frees/req | allocator ns/req | "
         "metricd CPU µs/req | user / sys µs | allocator share |",
         "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in (res.get("server_stats") or {}).get("summary", []):
        share = r.get("allocator_share_of_cpu")
        L.append(f"| {r['allocator']} | {r['workers']} | {r['path']} | {r['pipeline']} | {r['work']} | "
                 f"{rng(r['allocs_per_request'], g3)} | {rng(r['cross_thread_frees_per_request'], g3)} | "
                 f"{rng(r['allocator_ns_per_request'], g3)} | {rng(r.get('server_cpu_us_per_request'), g3)} | "
                 f"{_user_sys(r)} | {'–' if share is None else format(share * 100, '.1f') + '%'} |")
    return L + [""] + chart_lines(charts, "cpu_per_request", "allocator_ns")


def _user_sys(r):
    u, s = [(r.get(k) or {}).get("median") for k in ("server_user_us_per_request", "server_sys_us_per_request")]
    return "–" if u is None or s is None else f"{g3(u)} / {g3(s)}"


def _idle_lines(res):
    idle = res.get("idle_cpu") or {}
    if not idle.get("reps"):
        return [f"_idle CPU: {idle.get('error', 'not measured')}_", ""]
    last = idle["reps"][-1]
    return [f"Idle CPU: a fresh metricd ({idle.get('workers')} workers), a short burst of traffic, 1 s pause, then "
            f"{idle.get('window_s'):g} s without traffic, from utime+stime in /proc/PID/stat: "
            f"**{rng(idle.get('cpu_percent'), lambda x: f'{x:.2f}%')}** of one CPU.",
            "Per thread in the last repetition: " + ", ".join(
                f"{t['name']} {t['cpu_percent']:.2f}% ({t['voluntary_ctxt_switches']} wake-ups)"
                for t in last["threads"]) + ".", ""]


def _rss_lines(res):
    rss = res.get("rss_per_connection") or {}
    if not rss.get("reps"):
        return [f"_RSS per connection: {rss.get('error', 'not measured')}_", ""]
    r0 = rss["reps"][0]
    return [f"Memory: {rss['connections']} keep-alive connections opened to a fresh metricd ({rss.get('workers')} "
            "workers) and left idle; VmRSS before, after connecting, and after one request on each: "
            f"**{rng(rss.get('kib_per_connection'), lambda x: f'{x:.2f} KiB')}** per connection "
            f"({rng(rss.get('kib_per_connection_connected'), lambda x: f'{x:.2f} KiB')} before any request). "
            f"First repetition: {r0['rss_before_kib']:,} → {r0['rss_connected_kib']:,} → "
            f"{r0['rss_keepalive_kib']:,} KiB.", ""]


def idle_rss_section(res, charts):
    return ["## 6. Idle CPU and memory per connection", ""] + _idle_lines(res) + _rss_lines(res)


def perf_section(res, charts):
    perf = res.get("perf") or {}
    L = ["## 7. Profile", ""]
    if not perf.get("profiles"):
        return L + [f"_{perf.get('skipped') or perf.get('error') or 'no profile'}_", ""]
    L += ["Taken because these targets were missed: " + ", ".join(perf.get("missed_targets", [])) + ".", ""]
    for p in perf["profiles"]:
        L += [f"**{p['target']}**, {p['path'] or 'no traffic'}, pipeline {p['pipeline'] or '–'}, "
              f"{p['seconds']:g} s (`{p['record_command']}`). Flat profile (`perf report --no-children --sort "
              "comm,sym -g none`), entries over 0.5%:", "", "```"]
        L += (p.get("flat") or ["(no samples)"]) + ["```", ""]
        L += ["<details><summary>perf report --no-children --sort comm,sym | head (with call chains)</summary>",
              "", "```"] + (p.get("report_head") or []) + ["```", "", "</details>", ""]
    return L


def flame_section(res, charts):
    fl = res.get("flame") or {}
    L = ["## 8. Flame graphs: the heap path next to the stack path", ""]
    if not fl.get("profiles"):
        return L + [f"_{fl.get('skipped') or fl.get('error') or 'not recorded'}_", ""]
    for p in fl["profiles"]:
        if p.get("error"):
            L.append(f"- {p['path']}: {p['error']}")
        else:
            L.append(f"- {p['path']}: {p['samples']:,} samples in {p['seconds']:g} s "
                     f"(`{p['record_command']}`, blast pipeline {p['pipeline']}); "
                     f"**{p['allocator_share'] * 100:.1f}%** of them with an allocator frame on the stack")
    return L + [""] + chart_lines(charts, "flame")


HOW_TO_READ = [
    "## How to read this", "",
    "- **heap/stack** below 1.00× is what the heap path's allocations cost end to end, at HTTP level, "
    "including everything both paths share (parsing, the ring, the send). On a small machine most of each "
    "request is shared work, so the ratio stays close to 1; section 5 and allocbench show the allocator's "
    "own share, and where it grows (cross-thread frees, fan-out to more workers, bigger objects).",
    "- **Open-loop** percentiles are what a client sending at a fixed rate sees, queueing included; closed-loop "
    "numbers are capacity. Both paths of a pair are offered the same rate.",
    "- **Ranges** are min–max over the repetitions. When ranges of two figures overlap widely, the difference "
    "between their medians is noise on this machine.",
    "- Raw data: `results.json` (every repetition, every figure), `raw/` (each blast JSON and wrk output), "
    "`logs/` (server logs), `charts/` (the SVG charts), `flame/` (folded stacks of the flame graphs).", ""]

# Each section with the phases it reports on (None: always).
SECTIONS = ((None, targets_section), (("matrix",), closed_section), (("matrix",), shards_section), (("open",), open_section),
            (("allocators", "allocbench"), allocators_section), (("nginx",), references_section),
            (("matrix", "allocators"), server_stats_section), (("idle", "rss"), idle_rss_section),
            (("perf",), perf_section), (("flame",), flame_section))


def report_lines(res, charts):
    phases = res["settings"].get("phases") or [p for ps, _ in SECTIONS if ps for p in ps]
    L = header(res)
    for needs, section in SECTIONS:
        if needs is None or any(p in phases for p in needs):
            L += section(res, charts)
    if res.get("warnings"):
        L += ["## Warnings", ""] + [f"- {w}" for w in res["warnings"]] + [""]
    return L + HOW_TO_READ


def write_report(res, outdir, log=print):
    charts = res["charts"] = make_charts(res, outdir, log)
    text = "\n".join(report_lines(res, charts))
    with open(os.path.join(outdir, "report.md"), "w") as f:
        f.write(text)
    return text


def finish(res, out, log, echo=False):
    """Targets, report.md and results.json of a run; the report on stdout
    too when echo is set.  Exit status: 1 when a phase failed."""
    if "targets" not in res:
        res["targets"] = evaluate(res)
    try:
        text = write_report(res, out, log)
        if echo:
            print(text)
    except Exception as e:  # the JSON must still be written
        res["errors"].append(f"report: {e!r}")
        log(f"ERROR report: {e!r}")
    write_json(os.path.join(out, "results.json"), res)
    log(f"results: {os.path.join(out, 'results.json')}")
    log(f"report:  {os.path.join(out, 'report.md')}")
    for t in res.get("targets", []):
        log(f"target {t['id']}: {t['verdict']}")
    for name, c in (res.get("charts") or {}).items():
        if c.get("error"):
            log(f"chart {name}: {c['error']}")
    if res.get("errors"):
        log("errors: " + "; ".join(res["errors"]))
        return 1
    return 0
