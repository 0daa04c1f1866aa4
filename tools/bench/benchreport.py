"""Targets, gnuplot charts and report.md from a results.json (schema
metricd-bench/1).  Used by tools/bench/run and tools/bench/scaling at the
end of a run, and by tools/bench/report on a results.json alone."""

import os
import shutil

from benchlib import (ALL_PATHS, PAIRS, STACK_PATHS, cfg_key, paired_ratio, run_bounded, summary,
                      write_json)

# ------------------------------------------------------------- targets


def _ref_key(res, tool, target, path, pipeline):
    return cfg_key({"group": "references", "tool": tool, "target": target,
                    "alloc": "glibc" if target == "metricd" else None,
                    "workers": res["settings"]["ref_workers"], "path": path, "pipeline": pipeline, "work": 0})


def _ratio_target(tid, text, need, ratio, detail):
    t = {"id": tid, "target": text, "required": need, "op": ">=", "unit": "x", "detail": detail}
    m = ratio.get("median") if ratio else None
    t["measured"] = m
    t["range"] = [ratio.get("min"), ratio.get("max")] if ratio and m is not None else None
    if m is None:
        t.update(met=None, verdict="not measured")
    elif m >= need:
        t.update(met=True, verdict=f"met: {m:.2f}x (needs >= {need:g}x; {(m / need - 1) * 100:.0f}% to spare)")
    else:
        t.update(met=False, verdict=f"MISSED by {(need - m) / need * 100:.0f}%: {m:.2f}x, needs >= {need:g}x")
    return t


def evaluate_targets(res):
    targets = []
    refs = res.get("references") or {}
    runs = refs.get("runs", [])
    summ = {s["key"]: s for s in refs.get("summary", [])}

    def med(k):
        s = summ.get(k)
        return s["rps"]["median"] if s else None

    for pl, need in ((1, 1.0), (16, 1.2)):
        a, b = _ref_key(res, "blast", "metricd", "/metric-stack", pl), _ref_key(res, "blast", "nginx", "/metric-stack", pl)
        detail = {"metricd_rps": med(a), "nginx_rps": med(b), "load_generator": "blast",
                  "ratio": "median of per-repetition ratios (measured side by side)",
                  "ratio_of_medians": (med(a) / med(b)) if med(a) and med(b) else None}
        wa, wb = _ref_key(res, "wrk", "metricd", "/metric-stack", pl), _ref_key(res, "wrk", "nginx", "/metric-stack", pl)
        detail["same_with_wrk"] = paired_ratio(runs, wa, wb).get("median")
        targets.append(_ratio_target(f"stack_vs_nginx_p{pl}",
                                     f"/metric-stack >= {need:g}x nginx, pipelining {pl}", need,
                                     paired_ratio(runs, a, b) if runs else None, detail))
    for pl in (1, 16):
        a, b = _ref_key(res, "blast", "metricd", "/metric-stack", pl), _ref_key(res, "wrk", "metricd", "/metric-stack", pl)
        na, nb = _ref_key(res, "blast", "nginx", "/metric-stack", pl), _ref_key(res, "wrk", "nginx", "/metric-stack", pl)
        detail = {"blast_rps": med(a), "wrk_rps": med(b), "server": "metricd /metric-stack",
                  "on_nginx": paired_ratio(runs, na, nb).get("median")}
        targets.append(_ratio_target(f"blast_vs_wrk_p{pl}", f"blast >= wrk (same server and settings), pipelining {pl}",
                                     1.0, paired_ratio(runs, a, b) if runs else None, detail))

    # The stack path allocates nothing: every run's /stats difference.
    allocs = frees = reqs = 0
    worst = None
    nruns = 0
    for name in ("closed_loop", "allocators", "open_loop", "references"):
        for r in (res.get(name) or {}).get("runs", []):
            d = r.get("result", {}).get("server")
            if r.get("target") != "metricd" or r.get("path") not in STACK_PATHS or not d:
                continue
            nruns += 1
            allocs += d["allocs"]
            frees += d["frees"]
            reqs += d["requests"]
            v = d.get("allocs_per_request")
            if v is not None and (worst is None or v > worst):
                worst = v
    t = {"id": "stack_zero_allocs", "target": "stack paths: 0 allocations/request", "required": 0, "op": "==",
         "unit": "allocs/request", "measured": (allocs / reqs) if reqs else None,
         "detail": {"runs": nruns, "requests": reqs, "allocs": allocs, "frees": frees,
                    "worst_run_allocs_per_request": worst, "source": "metricd GET /stats differences"}}
    if not reqs:
        t.update(met=None, verdict="not measured")
    elif allocs == 0 and frees == 0:
        t.update(met=True, verdict=f"met: 0 allocations and 0 frees over {reqs:,} requests in {nruns} runs")
    else:
        t.update(met=False, verdict=f"MISSED: {allocs:,} allocations ({allocs / reqs:.4f}/request), "
                                    f"{frees:,} frees over {reqs:,} requests")
    targets.append(t)

    idle = (res.get("idle_cpu") or {}).get("cpu_percent") or {}
    v = idle.get("median")
    t = {"id": "idle_cpu", "target": "idle CPU < 1%", "required": 1.0, "op": "<", "unit": "%",
         "measured": v, "range": [idle.get("min"), idle.get("max")] if v is not None else None,
         "detail": {"window_s": (res.get("idle_cpu") or {}).get("window_s")}}
    if v is None:
        t.update(met=None, verdict="not measured")
    elif v < 1.0:
        t.update(met=True, verdict=f"met: {v:.2f}% of one CPU")
    else:
        t.update(met=False, verdict=f"MISSED by {v - 1.0:.2f} points: {v:.2f}% of one CPU, needs < 1%")
    targets.append(t)

    rss = (res.get("rss_per_connection") or {}).get("kib_per_connection") or {}
    v = rss.get("median")
    t = {"id": "rss_per_connection", "target": "RSS per idle keep-alive connection <= 16 KiB", "required": 16.0,
         "op": "<=", "unit": "KiB", "measured": v,
         "range": [rss.get("min"), rss.get("max")] if v is not None else None,
         "detail": {"connections": (res.get("rss_per_connection") or {}).get("connections")}}
    if v is None:
        t.update(met=None, verdict="not measured")
    elif v <= 16.0:
        t.update(met=True, verdict=f"met: {v:.2f} KiB per connection")
    else:
        t.update(met=False, verdict=f"MISSED by {v - 16:.2f} KiB ({(v / 16 - 1) * 100:.0f}% over): {v:.2f} KiB, needs <= 16 KiB")
    targets.append(t)
    return targets


# -------------------------------------------------------------- charts

PALETTE = {"/metric-stack": "#1b7837", "/metric-heap": "#c51b7d", "/stats-value": "#4575b4",
           "/stats-pointer": "#d73027"}
ALLOC_COLOR = {"glibc": "#4d4d4d", "jemalloc": "#2166ac", "mimalloc": "#b2182b"}


def _q(s):
    return '"' + str(s).replace('"', "'") + '"'


class Charts:
    def __init__(self, outdir, log=print):
        self.dir = os.path.join(outdir, "charts")
        os.makedirs(self.dir, exist_ok=True)
        self.made = {}
        self.log = log
        self.gnuplot = shutil.which("gnuplot")

    def data(self, name, rows):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            for row in rows:
                if row is None:
                    f.write("\n\n")
                    continue
                f.write(" ".join(_q(x) if isinstance(x, str) else ("NaN" if x is None else f"{x:.6g}") for x in row) + "\n")
        return name

    def plot(self, name, title, body, width=1200, height=520):
        if not self.gnuplot:
            self.made[name] = {"error": "gnuplot is not installed (apt-get install gnuplot-nox)"}
            return
        out = {}
        for kind, term in (("png", f"pngcairo size {width},{height} font 'sans,10' noenhanced"),
                           ("svg", f"svg size {width},{height} dynamic font 'sans,10' noenhanced")):
            script = os.path.join(self.dir, f"{name}.{kind}.gp")
            with open(script, "w") as f:
                f.write(f"set terminal {term}\nset output '{name}.{kind}'\n")
                f.write("set grid ytics lc rgb '#dddddd'\nset key top left\n")
                f.write(body)
                f.write("\nunset output\n")
            rc, o, e, _ = run_bounded(["gnuplot", os.path.basename(script)], 60, cwd=self.dir)
            target = os.path.join(self.dir, f"{name}.{kind}")
            if rc != 0 or not os.path.exists(target) or os.path.getsize(target) == 0:
                self.made[name] = {"error": f"gnuplot exit {rc}: {(o + e).strip()[-400:]}"}
                self.log(f"chart {name}.{kind} failed: {(o + e).strip()[-400:]}")
                return
            out[kind] = f"charts/{name}.{kind}"
        out["title"] = title
        self.made[name] = out


def _summ_index(res, section):
    return {s["key"]: s for s in (res.get(section) or {}).get("summary", [])}


def _mkey(path, w, pl, work, alloc="glibc", group="matrix"):
    return cfg_key({"group": group, "tool": "blast", "target": "metricd", "alloc": alloc, "workers": w,
                    "path": path, "pipeline": pl, "work": work})


def make_charts(res, outdir, log=print):
    ch = Charts(outdir, log)
    st = res["settings"]
    workers = st["workers"]
    cl = _summ_index(res, "closed_loop")

    # 1. RPS vs workers per path.
    panels = []
    heavy = st.get("work_heavy") or 0
    for title, paths, work in (("/metric-* , work=0", PAIRS["metric"], 0),
                               (f"/metric-* , work={heavy}", PAIRS["metric"], heavy),
                               ("/stats-* ", PAIRS["stats"], 0)):
        series = []
        for path in paths:
            for pl in st["pipelines"]:
                rows = []
                for w in workers:
                    s = cl.get(_mkey(path, w, pl, work))
                    if s and s["rps"]["median"]:
                        rows.append((w, s["rps"]["median"], s["rps"]["min"], s["rps"]["max"]))
                if rows:
                    fn = ch.data(f"rps_{path.strip('/')}_p{pl}_k{work}.dat", rows)
                    series.append((fn, f"{path} pipeline {pl}", PALETTE[path], 1 if pl == 1 else 2))
        if series:
            panels.append((title, series))
    if panels:
        body = f"set multiplot layout 1,{len(panels)} title 'Closed-loop throughput vs workers (median, bars: min..max of {st['reps']} interleaved runs)'\n"
        body += "set logscale y\nset xlabel 'metricd workers'\nset ylabel 'requests/s'\nset xtics 1\nset key below\n"
        body += f"set xrange [{min(workers) - 0.5}:{max(workers) + 0.5}]\nset format y '%.0s%c'\n"
        for title, series in panels:
            body += f"set title {_q(title)}\nplot " + ", \\\n  ".join(
                f"{_q(fn)} using 1:2:3:4 with yerrorlines lc rgb '{c}' dt {dtp} lw 2 pt 7 title {_q(t)}"
                for fn, t, c, dtp in series) + "\n"
        body += "unset multiplot\n"
        ch.plot("rps_vs_workers", "Throughput vs workers, per path", body, width=max(700, 520 * len(panels)),
                height=600)

    # 2. Open-loop latency percentile curves, heap vs stack.
    ol = (res.get("open_loop") or {}).get("summary", [])
    panels = []
    for title, paths in (("/metric-stack vs /metric-heap", PAIRS["metric"]), ("/stats-value vs /stats-pointer", PAIRS["stats"])):
        series = []
        for s in ol:
            if s["path"] not in paths:
                continue
            rows = []
            for p, v in sorted(s["latency_us"].items(), key=lambda kv: float(kv[0])):
                if v["median"]:
                    rows.append((1.0 / (1.0 - float(p) / 100.0), v["median"], v["min"], v["max"]))
            if rows:
                fn = ch.data(f"lat_{s['path'].strip('/')}_{int(s['fraction'] * 100)}.dat", rows)
                series.append((fn, f"{s['path']} at {s['fraction'] * 100:.0f}% of max ({s['rate']:,} req/s)",
                               PALETTE[s["path"]], 1 if s["fraction"] <= 0.5 else 2))
        if series:
            panels.append((title, series))
    if panels:
        body = ("set multiplot layout 1,%d title 'Open-loop latency, corrected for coordinated omission "
                "(median of %d runs; bars: min..max)'\n" % (len(panels), st["reps"]))
        body += "set logscale x\nset logscale y\nset xlabel 'percentile'\nset ylabel 'latency'\n"
        body += "set xtics ('50%%' 2, '90%%' 10, '99%%' 100, '99.9%%' 1000, '99.99%%' 10000)\n"
        body += "set xrange [1.8:12000]\nset key below\n"
        body += ("set ytics ('1µs' 1, '10µs' 10, '100µs' 100, '1ms' 1000, '10ms' 10000, '100ms' 100000, "
                 "'1s' 1000000, '10s' 10000000)\n")
        for title, series in panels:
            body += f"set title {_q(title)}\nplot " + ", \\\n  ".join(
                f"{_q(fn)} using 1:2:3:4 with yerrorlines lc rgb '{c}' dt {dtp} lw 2 pt 7 title {_q(t)}"
                for fn, t, c, dtp in series) + "\n"
        body += "unset multiplot\n"
        ch.plot("latency", "Open-loop latency percentiles, heap vs stack", body, width=max(700, 620 * len(panels)),
                height=600)

    # 3. Allocators: heap path RPS per allocator, and allocbench ns/op.
    al = (res.get("allocators") or {}).get("summary", [])
    allocs = [a for a in ("glibc", "jemalloc", "mimalloc") if any(s["alloc"] == a for s in al)]
    ab = (res.get("allocbench") or {}).get("summary", [])
    ab_allocs = [a for a in ("glibc", "jemalloc", "mimalloc") if any(a in r["ns_per_op"] for r in ab)]
    panels = 0
    body = ""
    if al and allocs:
        rows = []
        for path in dict.fromkeys(s["path"] for s in al):
            for pl in dict.fromkeys(s["pipeline"] for s in al):
                row = [f"{path} p{pl}"]
                for a in allocs:
                    s = next((x for x in al if x["alloc"] == a and x["path"] == path and x["pipeline"] == pl), None)
                    row += [s["rps"]["median"], s["rps"]["min"], s["rps"]["max"]] if s else [None, None, None]
                rows.append(row)
        fn = ch.data("allocators_http.dat", rows)
        body += ("set title 'metricd heap path under each allocator (closed loop, %d workers)'\nset key top left\n"
                 "set ylabel 'requests/s'\nunset logscale y\nset yrange [0:*]\nset format y '%%.0s%%c'\n" % st["ref_workers"])
        body += "plot " + ", \\\n  ".join(
            f"{_q(fn)} using {2 + 3 * i}:{3 + 3 * i}:{4 + 3 * i}{':xtic(1)' if i == 0 else ''} lc rgb '{ALLOC_COLOR[a]}' title {_q(a)}"
            for i, a in enumerate(allocs)) + "\n"
        panels += 1
    if ab and ab_allocs:
        wanted = [r for r in ab if r["pattern"] in ("same-thread", "cross-thread", "fan-out", "slab", "by-value")]
        maxthreads = {}
        for r in wanted:
            if r["pattern"] == "fan-out":
                maxthreads[r["size"]] = max(maxthreads.get(r["size"], 0), r["threads"])
        rows = []
        for r in wanted:
            if r["pattern"] == "fan-out" and r["threads"] != maxthreads[r["size"]]:
                continue
            label = f"{r['pattern']}{'(' + str(r['threads']) + 't)' if r['pattern'] == 'fan-out' else ''} {r['size']}B"
            row = [label]
            for a in ab_allocs:
                s = r["ns_per_op"].get(a) or {}
                row += [s.get("median"), s.get("min"), s.get("max")]
            rows.append(row)
        fn = ch.data("allocbench.dat", rows)
        body += ("set title 'allocbench: ns per operation (median of %d; log scale)'\n"
                 "set ylabel 'ns/op'\nset logscale y\nset yrange [*:*]\nset format y '%%g'\n"
                 "set xtics rotate by -45\nset key top right\n" % st["reps"])
        body += "plot " + ", \\\n  ".join(
            f"{_q(fn)} using {2 + 3 * i}:{3 + 3 * i}:{4 + 3 * i}{':xtic(1)' if i == 0 else ''} lc rgb '{ALLOC_COLOR[a]}' title {_q(a)}"
            for i, a in enumerate(ab_allocs)) + "\n"
        panels += 1
    if panels:
        head = (f"set multiplot layout 1,{panels} title 'Allocator comparison (bars: median; whiskers: min..max)'\n"
                "set style data histogram\nset style histogram errorbars gap 1 lw 1\n"
                "set style fill solid 0.7 border -1\nset key top right\nset xtics nomirror\n")
        ch.plot("allocators", "Allocator comparison", head + body + "unset multiplot\n",
                width=700 * panels, height=560)

    # 4. allocs/request and allocator ns/request per path, per worker count.
    ss = (res.get("server_stats") or {}).get("summary", [])
    rows_a, rows_n, rows_c = [], [], []
    pl0 = st["pipelines"][0]
    for path in ALL_PATHS:
        ra, rn, rc = [path], [path], [path]
        have = False
        for w in workers:
            s = next((x for x in ss if x["allocator"] == "glibc" and x["workers"] == w and x["path"] == path
                      and x["pipeline"] == pl0 and x["work"] == 0), None)
            if s:
                have = True
            for k, row in (("allocs_per_request", ra), ("allocator_ns_per_request", rn),
                           ("server_cpu_us_per_request", rc)):
                v = (s or {}).get(k) or {}
                row += [v.get("median"), v.get("min"), v.get("max")]
        if have:
            rows_a.append(ra)
            rows_n.append(rn)
            rows_c.append(rc)
    if rows_a:
        top_a = max([v for r in rows_a for v in r[1:] if v is not None] + [1.0]) * 1.2
        top_n = max([v for r in rows_n for v in r[1:] if v is not None] + [1.0]) * 1.2
        top_c = max([v for r in rows_c for v in r[1:] if v is not None] + [1.0]) * 1.2
        fa, fnn = ch.data("allocs_per_request.dat", rows_a), ch.data("allocator_ns_per_request.dat", rows_n)
        fc = ch.data("cpu_per_request.dat", rows_c)
        body = (f"set multiplot layout 1,3 title 'What metricd counted (GET /stats, /proc), glibc, pipeline {pl0}, "
                "work=0; bars: median, whiskers: min..max'\n"
                "set style data histogram\nset style histogram errorbars gap 1 lw 1\n"
                "set style fill solid 0.7 border -1\nset key top left\n")
        colors = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#666666"]
        for fn, title, ylabel, top in ((fa, "allocator calls per request (malloc family)", "allocs/request", top_a),
                                       (fnn, "time in the allocator per request", "ns/request", top_n),
                                       (fc, "metricd CPU time per request (all threads)", "µs/request", top_c)):
            body += f"set title {_q(title)}\nset ylabel {_q(ylabel)}\nset yrange [0:{top:.4g}]\nplot " + ", \\\n  ".join(
                f"{_q(fn)} using {2 + 3 * i}:{3 + 3 * i}:{4 + 3 * i}{':xtic(1)' if i == 0 else ''} "
                f"lc rgb '{colors[i % len(colors)]}' title '{w} worker{'s' if w > 1 else ''}'"
                for i, w in enumerate(workers)) + "\n"
        body += "unset multiplot\n"
        ch.plot("allocs_per_request", "Allocations, allocator time and CPU time per request, per path", body,
                width=1650)
    return ch.made


# -------------------------------------------------------------- report


def n0(x):
    return "–" if x is None else f"{x:,.0f}"


def f2(x, unit=""):
    return "–" if x is None else f"{x:.2f}{unit}"


def g3(x):
    if x is None:
        return "–"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    if abs(x) >= 100:
        return f"{x:.0f}"
    if abs(x) >= 10:
        return f"{x:.1f}"
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
    for name in ("closed_loop", "allocators", "references", "open_loop"):
        for r in (res.get(name) or {}).get("runs", []):
            n += 1
            h = r["result"].get("host") or {}
            if "other_processes_cpus" in h:
                other.append(h["other_processes_cpus"])
            if "cpu_pressure_pct" in h:
                press.append(h["cpu_pressure_pct"])
            stalled += bool(r["result"].get("stalled"))
    if not n:
        return ""
    s = summary(other)
    text = (f"**Noise during the {n} load runs:** other processes (not metricd, nginx or the load generator) "
            f"used a median {f2(s['median'])} CPUs (max {f2(s['max'])}) of the "
            f"{res.get('machine', {}).get('cpus_allowed')}")
    if press:
        text += f"; CPU pressure (PSI some) median {summary(press)['median']:.0f}%"
    text += f"; {stalled} run(s) took over 1.5× their nominal duration (stalls)."
    return text


def write_report(res, outdir, log=print):
    charts = make_charts(res, outdir, log)
    res["charts"] = charts
    st = res["settings"]
    m = res.get("machine", {})
    L = []
    a = L.append
    mode = res.get("mode")
    a(f"# metricd benchmark report — {mode} run")
    a("")
    a(f"Started {res.get('started_utc')}, finished {res.get('finished_utc')} "
      f"({(res.get('elapsed_s') or 0) / 60:.1f} min), by `{res.get('tool')}`.")
    a("")
    pk = m.get("packages", {})
    a(f"**Machine:** {m.get('cpu_model')}, {m.get('cores_online')} CPUs online, {m.get('cpus_allowed')} allowed"
      f"{', ' + m['lscpu_hypervisor_vendor'] + ' guest' if m.get('lscpu_hypervisor_vendor') else ''}; "
      f"kernel {m.get('kernel')}; {m.get('glibc')}; "
      f"jemalloc {pk.get('libjemalloc2', '–')}, mimalloc {pk.get('libmimalloc2.0', '–')}, "
      f"nginx {pk.get('nginx-light', pk.get('nginx', '–'))}, wrk {pk.get('wrk', '–')}. "
      f"Load average at start {m.get('loadavg_at_start')}, at end {m.get('loadavg_at_end')}.")
    a("")
    b = res.get("build", {})
    a(f"**Build:** `{b.get('dir', '')}` with CFLAGS `{b.get('cflags') or b.get('makefile_cflags')}`"
      f"{' (reused)' if b.get('reused') else ''}; {b.get('metricd_version')}; {b.get('blast_version')}"
      f"{'; git ' + b['git_commit'][:12] + (' + local changes' if b.get('git_dirty') else '') if b.get('git_commit') else ''}.")
    a("")
    a(f"**Method:** every figure is the median of {st['reps']} interleaved repetitions (all configurations once "
      "in order, then in reverse order, …), with (min–max). Comparisons are made per repetition between "
      "configurations measured next to each other, then the median of those ratios is reported. "
      f"Closed loop: blast -t{st['threads']} -c{st['connections']}, {st['duration']:g} s"
      f"{' after ' + format(st['warmup'], 'g') + ' s warm-up' if st['warmup'] else ''} per run; "
      f"references {st['ref_duration']:g} s"
      f"{' (blast ' + format(st['ref_blast_duration'], 'g') + ' s)' if st.get('ref_blast_duration') else ''}"
      f", no warm-up (wrk has none). Heavy work: `work={st['work_heavy']}`. Everything on 127.0.0.1.")
    a("")
    a(noise_line(res))
    a("")
    if (m.get("cpus_allowed") or 0) <= 4:
        a(f"> **Noise.** This machine has {m.get('cpus_allowed')} CPUs shared by metricd (acceptor + workers), "
          "the load generator and, here, other people's builds and tests; load average above shows how busy "
          "it was. Absolute numbers move by tens of percent between minutes; trust the side-by-side ratios "
          "and the ranges, not single values.")
        a("")
    if res.get("errors"):
        a("**Errors:** " + "; ".join(res["errors"]))
        a("")

    # Targets.
    a("## Targets")
    a("")
    a("| target | measured | verdict |")
    a("| --- | --- | --- |")
    for t in res.get("targets", []):
        meas = t.get("measured")
        if meas is None:
            ms = "–"
        elif t["unit"] == "x":
            ms = f"{meas:.2f}× ({t['range'][0]:.2f}–{t['range'][1]:.2f})"
        elif t["unit"] == "%":
            ms = f"{meas:.2f}% ({t['range'][0]:.2f}–{t['range'][1]:.2f})"
        elif t["unit"] == "KiB":
            ms = f"{meas:.2f} KiB ({t['range'][0]:.2f}–{t['range'][1]:.2f})"
        else:
            ms = f"{meas:g} {t['unit']}"
        a(f"| {t['target']} | {ms} | {'✅ ' if t.get('met') else ('❌ ' if t.get('met') is False else '')}{t['verdict']} |")
    a("")
    for t in res.get("targets", []):
        if t["id"].startswith("stack_vs_nginx"):
            d = t["detail"]
            a(f"- {t['id']}: metricd {n0(d.get('metricd_rps'))} req/s vs nginx {n0(d.get('nginx_rps'))} req/s "
              f"(blast); with wrk the ratio is {f2(d.get('same_with_wrk'), '×')}.")
        if t["id"].startswith("blast_vs_wrk"):
            d = t["detail"]
            a(f"- {t['id']}: blast {n0(d.get('blast_rps'))} vs wrk {n0(d.get('wrk_rps'))} req/s on metricd; "
              f"on nginx blast/wrk = {f2(d.get('on_nginx'), '×')}.")
    a("")

    def chart(name):
        c = charts.get(name) or {}
        if "svg" in c:
            a(f"![{c['title']}]({c['svg']})")
            a("")
            a(f"([PNG]({c['png']}))")
            a("")
        elif c.get("error"):
            a(f"_chart {name} failed: {c['error']}_")
            a("")

    # 1. Closed loop.
    a("## 1. Throughput, stack path vs heap path (closed loop, max rate)")
    a("")
    a("Requests/s, median (min–max). *heap/stack* is the per-repetition ratio of the two paths measured back to back "
      "on the same server: below 1.00× the heap path is slower. The last column is metricd's own CPU time (all "
      "threads, user+system, from /proc) per request, median: CPU time is not inflated by waiting for a CPU, so on a "
      "shared machine it compares the two paths more steadily than requests/s (it still moves with cache and "
      "frequency effects, and has a 10 ms tick resolution).")
    a("")
    cl = _summ_index(res, "closed_loop")
    runs = (res.get("closed_loop") or {}).get("runs", [])
    for stack, heap, works in (("/metric-stack", "/metric-heap", [0, st.get("work_heavy")]),
                               ("/stats-value", "/stats-pointer", [0])):
        a(f"| workers | pipeline | work | {stack} | {heap} | heap/stack | metricd CPU µs/request, stack → heap |")
        a("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for w in st["workers"]:
            for pl in st["pipelines"]:
                for work in works:
                    ks, kh = _mkey(stack, w, pl, work), _mkey(heap, w, pl, work)
                    if ks not in cl:
                        continue
                    cs = (cl[ks].get("server_cpu_us_per_request") or {}).get("median")
                    chh = (cl.get(kh, {}).get("server_cpu_us_per_request") or {}).get("median")
                    cpu = "–" if not cs or not chh else f"{cs:.2f} → {chh:.2f} ({(chh - cs) * 1000:+.0f} ns)"
                    a(f"| {w} | {pl} | {work} | {rng(cl[ks]['rps'])} | {rng(cl.get(kh, {}).get('rps'))} | "
                      f"{ratio_cell(paired_ratio(runs, kh, ks))} | {cpu} |")
        a("")
    chart("rps_vs_workers")

    # 2. Open loop.
    a("## 2. Latency under open-loop load (50% and 80% of each path's max)")
    a("")
    a(f"blast -R at a fixed rate (coordinated-omission corrected: latency counts from each request's intended send "
      f"time), {st['ref_workers']} workers, pipeline 1. The rate is a fraction of that path's median closed-loop "
      "max from section 1. Median (min–max) of the repetitions.")
    a("")
    a("| path | load | rate req/s | achieved | p50 | p99 | p99.9 | late sends |")
    a("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    overloaded = 0
    for s in (res.get("open_loop") or {}).get("summary", []):
        lat = s["latency_us"]

        def lr(p):
            v = lat.get(p) or {}
            if v.get("median") is None:
                return "–"
            return f"{us(v['median'])} ({us(v['min'])}–{us(v['max'])})"
        short = s["rps"]["median"] is not None and s["rps"]["median"] < 0.95 * s["rate"]
        overloaded += short
        a(f"| {s['path']} | {s['fraction'] * 100:.0f}% | {n0(s['rate'])} | "
          f"{n0(s['rps']['median'])}{' ⚠' if short else ''} | {lr('50')} | "
          f"{lr('99')} | {lr('99.9')} | {n0((s.get('late_sends') or {}).get('median'))} |")
    a("")
    if overloaded:
        a(f"⚠ {overloaded} row(s) achieved under 95% of the rate asked for: in those runs the machine could not "
          "sustain that rate (its spare capacity had dropped since the closed-loop max was measured), so the "
          "latencies are those of an overloaded server — queueing, not service time.")
        a("")
    orun = (res.get("open_loop") or {}).get("runs", [])
    osum = (res.get("open_loop") or {}).get("summary", [])
    for fr in st["open_fractions"]:
        for sp, hp in (("/metric-stack", "/metric-heap"), ("/stats-value", "/stats-pointer")):
            ks = next((s for s in osum if s["path"] == sp and s["fraction"] == fr), None)
            kh = next((s for s in osum if s["path"] == hp and s["fraction"] == fr), None)
            if ks and kh:
                p99 = lambda s: (s["latency_us"].get("99") or {}).get("median")  # noqa: E731
                if p99(ks) and p99(kh):
                    a(f"- at {fr * 100:.0f}%: {hp} p99 / {sp} p99 = {p99(kh) / p99(ks):.2f}× "
                      f"(each at its own rate: {n0(kh['rate'])} vs {n0(ks['rate'])} req/s)")
    del orun
    a("")
    chart("latency")

    # 3. Allocators.
    a("## 3. Allocators")
    a("")
    al = res.get("allocators") or {}
    if al.get("summary"):
        a(f"metricd's heap path with glibc malloc and with jemalloc / mimalloc via `LD_PRELOAD` "
          f"({st['ref_workers']} workers, closed loop). Ratio: per repetition, against glibc.")
        a("")
        a("| path | pipeline | allocator | req/s | vs glibc | allocator ns/request |")
        a("| --- | ---: | --- | ---: | ---: | ---: |")
        aruns = al.get("runs", [])
        for s in al["summary"]:
            gk = _mkey(s["path"], s["workers"], s["pipeline"], 0, "glibc", "allocators")
            a(f"| {s['path']} | {s['pipeline']} | {s['alloc']} | {rng(s['rps'])} | "
              f"{ratio_cell(paired_ratio(aruns, s['key'], gk)) if s['alloc'] != 'glibc' else '1'} | "
              f"{rng((s.get('server') or {}).get('allocator_ns_per_request'), g3)} |")
        a("")
    ab = res.get("allocbench") or {}
    if ab.get("summary"):
        names = [x for x in ("glibc", "jemalloc", "mimalloc") if any(x in r["ns_per_op"] for r in ab["summary"])]
        abst = ab.get("settings", {})
        a(f"allocbench (`{os.path.basename(ab.get('binary', 'allocbench'))} --sizes {abst.get('sizes')} --threads "
          f"{abst.get('threads')} --ops {abst.get('ops')}`): ns per operation, median (min–max) of {abst.get('reps')} "
          "interleaved runs. *cross-thread* is metricd's heap-path hand-off (malloc on the acceptor, free on a "
          "worker); *fan-out* is one producer feeding N−1 consumers; *slab* and *by-value* are what the stack path "
          "does instead.")
        if (m.get("cpus_allowed") or 0) < (abst.get("threads") or 0):
            a(f"Fan-out rows with more threads than the {m.get('cpus_allowed')} CPUs here are oversubscribed: they show "
              "what contention plus preemption costs, not what a bigger machine would see.")
        a("")
        a("| pattern | bytes | threads | " + " | ".join(names) + " |")
        a("| --- | ---: | ---: | " + " | ".join("---:" for _ in names) + " |")
        for r in ab["summary"]:
            a(f"| {r['pattern']} | {r['size']} | {r['threads']} | " +
              " | ".join(rng(r["ns_per_op"].get(x), g3) for x in names) + " |")
        a("")
    chart("allocators")

    # 4. References.
    a("## 4. References: nginx and wrk in the same run")
    a("")
    refs = res.get("references") or {}
    if refs.get("summary"):
        ng = refs.get("nginx") or {}
        a(f"nginx-light `return 200` with the same {ng.get('body_bytes', '?')}-byte body, {ng.get('workers')} worker "
          f"processes (metricd: {st['ref_workers']} workers + its acceptor thread). Both load generators with "
          f"{st['threads']} thread, {st['connections']} connections, {st['ref_duration']:g} s; wrk pipelines with a "
          "Lua script that writes 16 requests at once (as tools/bench/vs-nginx did).")
        a("")
        a("| server | path | pipeline | blast req/s | wrk req/s | blast/wrk |")
        a("| --- | --- | ---: | ---: | ---: | ---: |")
        rs = _summ_index(res, "references")
        rruns = refs.get("runs", [])
        seen = []
        for s in refs["summary"]:
            k = (s["target"], s["path"], s["pipeline"])
            if k in seen:
                continue
            seen.append(k)
            kb = _ref_key(res, "blast", s["target"], s["path"], s["pipeline"])
            kw = _ref_key(res, "wrk", s["target"], s["path"], s["pipeline"])
            a(f"| {s['target']} | {s['path']} | {s['pipeline']} | {rng((rs.get(kb) or {}).get('rps'))} | "
              f"{rng((rs.get(kw) or {}).get('rps'))} | {ratio_cell(paired_ratio(rruns, kb, kw))} |")
        a("")
        for pl in st["ref_pipelines"]:
            kb = _ref_key(res, "blast", "metricd", "/metric-stack", pl)
            kn = _ref_key(res, "blast", "nginx", "/metric-stack", pl)
            kh = _ref_key(res, "blast", "metricd", "/metric-heap", pl)
            a(f"- pipeline {pl}: /metric-stack / nginx = {ratio_cell(paired_ratio(rruns, kb, kn))}"
              + (f"; /metric-heap / nginx = {ratio_cell(paired_ratio(rruns, kh, kn))}" if kh in rs else ""))
        a("")
    else:
        a("_" + " ".join(str(refs.get("skipped") or refs.get("error") or "not measured").split()) + "_")
        a("")

    # 5. Server stats.
    a("## 5. What metricd counted (GET /stats, per path and worker count)")
    a("")
    a("Differences of the server's own counters before and after each run: allocator calls (malloc family) per "
      "request, frees done on another thread than the allocation, and the time spent inside the allocator "
      "(measured by metricd's counting wrapper with the TSC, so it includes the timer's own cost and any "
      "preemption inside the call). *metricd CPU µs/req* is the server's whole CPU time per request; "
      "*allocator share* is allocator ns / that CPU time (medians). Median (min–max) over the repetitions.")
    a("")
    a("| allocator | workers | path | pipeline | work | allocs/req | x-thread frees/req | allocator ns/req | "
      "metricd CPU µs/req | allocator share |")
    a("| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in (res.get("server_stats") or {}).get("summary", []):
        share = r.get("allocator_share_of_cpu")
        a(f"| {r['allocator']} | {r['workers']} | {r['path']} | {r['pipeline']} | {r['work']} | "
          f"{rng(r['allocs_per_request'], g3)} | {rng(r['cross_thread_frees_per_request'], g3)} | "
          f"{rng(r['allocator_ns_per_request'], g3)} | {rng(r.get('server_cpu_us_per_request'), g3)} | "
          f"{'–' if share is None else format(share * 100, '.1f') + '%'} |")
    a("")
    chart("allocs_per_request")

    # 6. Idle and memory.
    a("## 6. Idle CPU and memory per connection")
    a("")
    idle = res.get("idle_cpu") or {}
    if idle.get("reps"):
        a(f"Idle CPU: a fresh metricd ({idle.get('workers')} workers), a short burst of traffic, 1 s pause, then "
          f"{idle.get('window_s'):g} s without traffic, from utime+stime in /proc/PID/stat: "
          f"**{rng(idle.get('cpu_percent'), lambda x: f'{x:.2f}%')}** of one CPU.")
        last = idle["reps"][-1]
        a("Per thread in the last repetition: " + ", ".join(
            f"{t['name']} {t['cpu_percent']:.2f}% ({t['voluntary_ctxt_switches']} wake-ups)" for t in last["threads"]) + ".")
    else:
        a(f"_idle CPU: {idle.get('error', 'not measured')}_")
    a("")
    rss = res.get("rss_per_connection") or {}
    if rss.get("reps"):
        r0 = rss["reps"][0]
        a(f"Memory: {rss['connections']} keep-alive connections opened to a fresh metricd ({rss.get('workers')} workers) "
          "and left idle; VmRSS before, after connecting, and after one request on each: "
          f"**{rng(rss.get('kib_per_connection'), lambda x: f'{x:.2f} KiB')}** per connection "
          f"({rng(rss.get('kib_per_connection_connected'), lambda x: f'{x:.2f} KiB')} before any request). "
          f"First repetition: {r0['rss_before_kib']:,} → {r0['rss_connected_kib']:,} → {r0['rss_keepalive_kib']:,} KiB.")
    else:
        a(f"_RSS per connection: {rss.get('error', 'not measured')}_")
    a("")

    # 7. perf.
    perf = res.get("perf") or {}
    a("## 7. Profile")
    a("")
    if perf.get("profiles"):
        a("Taken because these targets were missed: " + ", ".join(perf.get("missed_targets", [])) + ".")
        a("")
        for p in perf["profiles"]:
            a(f"**{p['target']}**, {p['path'] or 'no traffic'}, pipeline {p['pipeline'] or '–'}, {p['seconds']:g} s "
              f"(`{p['record_command']}`). Flat profile (`perf report --no-children --sort comm,sym -g none`), "
              "entries over 0.5%:")
            a("")
            a("```")
            L.extend(p.get("flat") or ["(no samples)"])
            a("```")
            a("")
            a("<details><summary>perf report --no-children --sort comm,sym | head (with call chains)</summary>")
            a("")
            a("```")
            L.extend(p.get("report_head") or [])
            a("```")
            a("")
            a("</details>")
            a("")
    else:
        a(f"_{perf.get('skipped') or perf.get('error') or 'no profile'}_")
        a("")

    if res.get("warnings"):
        a("## Warnings")
        a("")
        for w in res["warnings"]:
            a(f"- {w}")
        a("")
    a("## How to read this")
    a("")
    a("- **heap/stack** below 1.00× is what the heap path's allocations cost end to end, at HTTP level, "
      "including everything both paths share (parsing, the ring, the send). On a small machine most of each "
      "request is shared work, so the ratio stays close to 1; section 5 and allocbench show the allocator's "
      "own share, and where it grows (cross-thread frees, fan-out to more workers, bigger objects).")
    a("- **Open-loop** percentiles are what a client sending at a fixed rate sees, queueing included; closed-loop "
      "numbers are capacity. Compare heap and stack at the same fraction of their own max.")
    a("- **Ranges** are min–max over the repetitions. When ranges of two figures overlap widely, the difference "
      "between their medians is noise on this machine.")
    a("- Raw data: `results.json` (every repetition, every figure), `raw/` (each blast JSON and wrk output), "
      "`logs/` (server logs), `charts/` (gnuplot data and scripts).")
    a("")
    with open(os.path.join(outdir, "report.md"), "w") as f:
        f.write("\n".join(L))
    return charts


def finish(res, out, log):
    if "targets" not in res:
        res["targets"] = evaluate_targets(res)
    try:
        write_report(res, out, log)
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
