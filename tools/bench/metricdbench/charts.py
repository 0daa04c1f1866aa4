"""gnuplot charts (PNG and SVG) of a results dict: throughput vs workers,
open-loop latency, the allocators, and what metricd counted per request."""

import os
import shutil

from .common import ALL_PATHS, PAIRS, pct_value
from .plan import cfg_key
from .procs import run_bounded
from .runs import summary_index

PALETTE = {"/metric-stack": "#1b7837", "/metric-heap": "#c51b7d", "/stats-value": "#4575b4",
           "/stats-pointer": "#d73027"}
ALLOC_COLOR = {"glibc": "#4d4d4d", "jemalloc": "#2166ac", "mimalloc": "#b2182b"}
WORKER_COLORS = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#666666"]
ALLOCATORS = ("glibc", "jemalloc", "mimalloc")
HISTOGRAM = ("set style data histogram\nset style histogram errorbars gap 1 lw 1\n"
             "set style fill solid 0.7 border -1\n")


def triple(s):
    """median, min, max of a summary (None for each when it is missing)."""
    s = s or {}
    return [s.get("median"), s.get("min"), s.get("max")]


def q(s):
    return '"' + str(s).replace('"', "'") + '"'


def matrix_key(path, w, pl, work, alloc="glibc", group="matrix"):
    return cfg_key({"group": group, "tool": "blast", "target": "metricd", "alloc": alloc, "workers": w,
                    "path": path, "pipeline": pl, "work": work})


class Charts:
    def __init__(self, outdir, log=print):
        self.dir = os.path.join(outdir, "charts")
        os.makedirs(self.dir, exist_ok=True)
        self.made = {}
        self.log = log
        self.gnuplot = shutil.which("gnuplot")

    def data(self, name, rows):
        """Writes a gnuplot data file (None rows separate data sets)."""
        with open(os.path.join(self.dir, name), "w") as f:
            for row in rows:
                if row is None:
                    f.write("\n\n")
                    continue
                f.write(" ".join(q(x) if isinstance(x, str) else ("NaN" if x is None else f"{x:.6g}")
                                 for x in row) + "\n")
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


def yerror_panels(panels):
    """One plot per panel of (title, [(data file, title, color, dash type)])."""
    body = ""
    for title, series in panels:
        body += f"set title {q(title)}\nplot " + ", \\\n  ".join(
            f"{q(fn)} using 1:2:3:4 with yerrorlines lc rgb '{c}' dt {dtp} lw 2 pt 7 title {q(t)}"
            for fn, t, c, dtp in series) + "\n"
    return body + "unset multiplot\n"


def histogram_plot(fn, columns):
    """A histogram with error bars of data file fn: columns are (title,
    color), each three data columns (median, min, max) after the label."""
    return "plot " + ", \\\n  ".join(
        f"{q(fn)} using {2 + 3 * i}:{3 + 3 * i}:{4 + 3 * i}{':xtic(1)' if i == 0 else ''} "
        f"lc rgb '{c}' title {q(t)}" for i, (t, c) in enumerate(columns)) + "\n"


def rps_vs_workers(ch, res):
    st = res["settings"]
    workers, cl, heavy = st["workers"], summary_index(res, "closed_loop"), st.get("work_heavy") or 0
    panels = []
    for title, paths, work in (("/metric-* , work=0", PAIRS["metric"], 0),
                               (f"/metric-* , work={heavy}", PAIRS["metric"], heavy),
                               ("/stats-* ", PAIRS["stats"], 0)):
        series = []
        for path in paths:
            for pl in st["pipelines"]:
                rows = [(w, s["rps"]["median"], s["rps"]["min"], s["rps"]["max"]) for w in workers
                        for s in [cl.get(matrix_key(path, w, pl, work))] if s and s["rps"]["median"]]
                if rows:
                    fn = ch.data(f"rps_{path.strip('/')}_p{pl}_k{work}.dat", rows)
                    series.append((fn, f"{path} pipeline {pl}", PALETTE[path], 1 if pl == 1 else 2))
        if series:
            panels.append((title, series))
    if not panels:
        return
    body = (f"set multiplot layout 1,{len(panels)} title 'Closed-loop throughput vs workers (median, bars: "
            f"min..max of {st['reps']} interleaved runs)'\n"
            "set logscale y\nset xlabel 'metricd workers'\nset ylabel 'requests/s'\nset xtics 1\nset key below\n"
            f"set xrange [{min(workers) - 0.5}:{max(workers) + 0.5}]\nset format y '%.0s%c'\n")
    ch.plot("rps_vs_workers", "Throughput vs workers, per path", body + yerror_panels(panels),
            width=max(700, 520 * len(panels)), height=600)


def latency(ch, res):
    st = res["settings"]
    ol = (res.get("open_loop") or {}).get("summary", [])
    panels = []
    for title, paths in (("/metric-stack vs /metric-heap", PAIRS["metric"]),
                         ("/stats-value vs /stats-pointer", PAIRS["stats"])):
        series = []
        for s in (s for s in ol if s["path"] in paths):
            rows = [(1.0 / (1.0 - pct_value(p) / 100.0), v["median"], v["min"], v["max"])
                    for p, v in sorted(s["latency_us"].items(), key=lambda kv: pct_value(kv[0]))
                    if v["median"]]
            if rows:
                fn = ch.data(f"lat_{s['path'].strip('/')}_{int(s['fraction'] * 100)}.dat", rows)
                series.append((fn, f"{s['path']} at {s['fraction'] * 100:.0f}% of max ({s['rate']:,} req/s)",
                               PALETTE[s["path"]], 1 if s["fraction"] <= 0.5 else 2))
        if series:
            panels.append((title, series))
    if not panels:
        return
    body = ("set multiplot layout 1,%d title 'Open-loop latency, corrected for coordinated omission "
            "(median of %d runs; bars: min..max)'\n" % (len(panels), st["reps"]))
    body += "set logscale x\nset logscale y\nset xlabel 'percentile'\nset ylabel 'latency'\n"
    body += "set xtics ('50%%' 2, '90%%' 10, '99%%' 100, '99.9%%' 1000, '99.99%%' 10000)\n"
    body += "set xrange [1.8:12000]\nset key below\n"
    body += ("set ytics ('1µs' 1, '10µs' 10, '100µs' 100, '1ms' 1000, '10ms' 10000, '100ms' 100000, "
             "'1s' 1000000, '10s' 10000000)\n")
    ch.plot("latency", "Open-loop latency percentiles, heap vs stack", body + yerror_panels(panels),
            width=max(700, 620 * len(panels)), height=600)


def _allocators_http(ch, res):
    al = (res.get("allocators") or {}).get("summary", [])
    allocs = [a for a in ALLOCATORS if any(s["alloc"] == a for s in al)]
    if not allocs:
        return ""
    rows = []
    for path in dict.fromkeys(s["path"] for s in al):
        for pl in dict.fromkeys(s["pipeline"] for s in al):
            row = [f"{path} p{pl}"]
            for a in allocs:
                s = next((x for x in al if x["alloc"] == a and x["path"] == path and x["pipeline"] == pl), None)
                row += triple(s and s["rps"])
            rows.append(row)
    fn = ch.data("allocators_http.dat", rows)
    return ("set title 'metricd under each allocator (closed loop, %d workers)'\nset key top left\n"
            "set ylabel 'requests/s'\nunset logscale y\nset yrange [0:*]\nset format y '%%.0s%%c'\n"
            % res["settings"]["ref_workers"]) + histogram_plot(fn, [(a, ALLOC_COLOR[a]) for a in allocs])


def _allocbench(ch, res):
    ab = (res.get("allocbench") or {}).get("summary", [])
    names = [a for a in ALLOCATORS if any(a in r["ns_per_op"] for r in ab)]
    if not names:
        return ""
    wanted = [r for r in ab if r["pattern"] in ("same-thread", "cross-thread", "fan-out", "slab", "by-value")]
    maxthreads = {}
    for r in (r for r in wanted if r["pattern"] == "fan-out"):
        maxthreads[r["size"]] = max(maxthreads.get(r["size"], 0), r["threads"])
    rows = []
    for r in wanted:
        if r["pattern"] == "fan-out" and r["threads"] != maxthreads[r["size"]]:
            continue
        label = f"{r['pattern']}{'(' + str(r['threads']) + 't)' if r['pattern'] == 'fan-out' else ''} {r['size']}B"
        rows.append([label] + [v for a in names for v in triple(r["ns_per_op"].get(a))])
    fn = ch.data("allocbench.dat", rows)
    return ("set title 'allocbench: ns per operation (median of %d; log scale)'\n"
            "set ylabel 'ns/op'\nset logscale y\nset yrange [*:*]\nset format y '%%g'\n"
            "set xtics rotate by -45\nset key top right\n" % res["settings"]["reps"]) + \
        histogram_plot(fn, [(a, ALLOC_COLOR[a]) for a in names])


def allocators(ch, res):
    panels = [p for p in (_allocators_http(ch, res), _allocbench(ch, res)) if p]
    if not panels:
        return
    head = (f"set multiplot layout 1,{len(panels)} title 'Allocator comparison (bars: median; whiskers: "
            f"min..max)'\n{HISTOGRAM}set key top right\nset xtics nomirror\n")
    ch.plot("allocators", "Allocator comparison", head + "".join(panels) + "unset multiplot\n",
            width=700 * len(panels), height=560)


PER_REQUEST = (("allocs_per_request", "allocs_per_request.dat", "allocator calls per request (malloc family)",
                "allocs/request"),
               ("allocator_ns_per_request", "allocator_ns_per_request.dat", "time in the allocator per request",
                "ns/request"),
               ("server_cpu_us_per_request", "cpu_per_request.dat", "metricd CPU time per request (all threads)",
                "µs/request"))


def per_request(ch, res):
    """allocs/request, allocator ns/request and CPU per request, per path,
    per worker count."""
    st = res["settings"]
    ss = (res.get("server_stats") or {}).get("summary", [])
    pl0 = st["pipelines"][0]
    rows = {w: {x["path"]: x for x in ss if x["allocator"] == "glibc" and x["workers"] == w
                and x["pipeline"] == pl0 and x["work"] == 0} for w in st["workers"]}
    workers = [w for w in st["workers"] if rows[w]]
    tables = {k: [] for k, _, _, _ in PER_REQUEST}
    for path in (p for p in ALL_PATHS if any(p in rows[w] for w in workers)):
        for k in tables:
            tables[k].append([path] + [v for w in workers for v in triple((rows[w].get(path) or {}).get(k))])
    if not tables["allocs_per_request"]:
        return
    body = (f"set multiplot layout 1,3 title 'What metricd counted (GET /stats, /proc), glibc, pipeline {pl0}, "
            f"work=0; bars: median, whiskers: min..max'\n{HISTOGRAM}set key top left\n")
    columns = [(f"{w} worker{'s' if w > 1 else ''}", WORKER_COLORS[i % len(WORKER_COLORS)])
               for i, w in enumerate(workers)]
    for k, fname, title, ylabel in PER_REQUEST:
        top = max([v for r in tables[k] for v in r[1:] if v is not None] + [1.0]) * 1.2
        body += f"set title {q(title)}\nset ylabel {q(ylabel)}\nset yrange [0:{top:.4g}]\n"
        body += histogram_plot(ch.data(fname, tables[k]), columns)
    ch.plot("allocs_per_request", "Allocations, allocator time and CPU time per request, per path",
            body + "unset multiplot\n", width=1650)


def make_charts(res, outdir, log=print):
    ch = Charts(outdir, log)
    for chart in (rps_vs_workers, latency, allocators, per_request):
        chart(ch, res)
    return ch.made
