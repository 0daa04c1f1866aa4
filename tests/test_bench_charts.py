#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""The benchmark report's chart code (tools/bench/metricdbench: svgplot,
flame, charts), on made-up figures.

Every chart must print the values it shows, keep every element inside its
viewBox (nothing clipped), and never let two texts overlap - checked with
20 groups and long labels.  Text extents come from svgplot.text_width, the
font model the layout itself uses: what is checked is that the layout
keeps its own promises about where text goes.  The flame graph code is
checked on a hand-written piece of `perf script` output."""
import os
import shutil
import sys
import tempfile
import unittest
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools", "bench"))

from metricdbench import charts, flame, report, svgplot  # noqa: E402
from metricdbench.bench import shard_configs, shard_servers  # noqa: E402
from metricdbench.plan import cfg_key, default_plan, finish_plan  # noqa: E402
from metricdbench.common import pct_key  # noqa: E402

NS = "{http://www.w3.org/2000/svg}"


def boxes(svg):
    """(kind, x0, y0, x1, y1, text, element) of every drawn element."""
    root = ET.fromstring(svg)
    out = []
    for e in root.iter():
        tag = e.tag.replace(NS, "")
        f = lambda k: float(e.get(k))  # noqa: E731
        if tag == "rect":
            out.append(("rect", f("x"), f("y"), f("x") + f("width"), f("y") + f("height"), None, e))
        elif tag == "line":
            out.append(("line", min(f("x1"), f("x2")), min(f("y1"), f("y2")),
                        max(f("x1"), f("x2")), max(f("y1"), f("y2")), None, e))
        elif tag == "circle":
            r = f("r")
            out.append(("circle", f("cx") - r, f("cy") - r, f("cx") + r, f("cy") + r, None, e))
        elif tag == "polyline":
            pts = [tuple(map(float, p.split(","))) for p in e.get("points").split()]
            out.append(("polyline", min(p[0] for p in pts), min(p[1] for p in pts),
                        max(p[0] for p in pts), max(p[1] for p in pts), None, e))
        elif tag == "text":
            size = float(e.get("font-size"))
            w = svgplot.text_width(e.text or "", size)
            x, anchor = f("x"), e.get("text-anchor")
            x0 = x - w if anchor == "end" else x - w / 2 if anchor == "middle" else x
            out.append(("text", x0, f("y") - 0.8 * size, x0 + w, f("y") + 0.25 * size, e.text or "", e))
    return root, out


def overlaps(a, b, slack=0.5):
    return a[1] < b[3] - slack and b[1] < a[3] - slack and a[2] < b[4] - slack and b[2] < a[4] - slack


class Geometry:
    """Checks every chart test shares."""

    def assert_sound(self, svg, expect_texts=()):
        root, bs = boxes(svg)
        vb = [float(v) for v in root.get("viewBox").split()]
        self.assertEqual(vb[2], float(root.get("width")))
        for b in bs:
            self.assertTrue(vb[0] - 0.01 <= b[1] and b[3] <= vb[0] + vb[2] + 0.01 and
                            vb[1] - 0.01 <= b[2] and b[4] <= vb[1] + vb[3] + 0.01,
                            f"{b[0]} {b[5]!r} at ({b[1]:.1f},{b[2]:.1f})-({b[3]:.1f},{b[4]:.1f}) "
                            f"outside the viewBox {vb}")
        texts = [b for b in bs if b[0] == "text" and b[5]]
        for i, a in enumerate(texts):
            for b in texts[i + 1:]:
                self.assertFalse(overlaps(a, b), f"texts overlap: {a[5]!r} and {b[5]!r}")
        shown = [t[5] for t in texts]
        for want in expect_texts:
            self.assertTrue(any(want in t for t in shown), f"{want!r} is not printed; texts: {shown[:40]}")
        return root, bs


LONG = "/metric-* · 16 workers · pipeline 16 · work 10000 · mimalloc and a label far too long to fit"


class TestBars(unittest.TestCase, Geometry):
    def test_twenty_groups_values_printed(self):
        rows = []
        for i in range(20):
            label = LONG if i == 7 else f"configuration {i}"
            rows.append((label, [{"v": 10.0 * (i + 1), "lo": 9.0 * (i + 1), "hi": 11.5 * (i + 1)},
                                 {"v": 1234.5 + i, "lo": 1200.0, "hi": 1300.0 + i},
                                 None if i == 3 else {"v": 0.0, "lo": 0.0, "hi": 0.0}]))
        svg = svgplot.hbars("Twenty groups", rows, [("a", "#111111"), ("b", "#222222"), ("c", "#333333")],
                            lambda v: f"{v:.1f}", unit="µs", subtitle="a subtitle " * 30)
        want = [f"{10.0 * (i + 1):.1f}" for i in range(20)] + [f"{1234.5 + i:.1f}" for i in range(20)]
        root, bs = self.assert_sound(svg, want + ["configuration 19", "µs"])
        labels = [b[5] for b in bs if b[0] == "text" and b[5].startswith("/metric-*")]
        self.assertEqual(len(labels), 1)
        self.assertTrue(labels[0].endswith("…"), "the long label is shortened, not clipped")

    def test_bar_lengths_follow_the_values(self):
        rows = [("x", [{"v": 10.0}]), ("y", [{"v": 40.0}])]
        _, bs = boxes(svgplot.hbars("t", rows, [("s", "#123456")], lambda v: f"{v:g}"))
        bars = [b for b in bs if b[0] == "rect" and b[6].get("fill") == "#123456"]
        w = sorted(b[3] - b[1] for b in bars)
        self.assertAlmostEqual(w[1] / w[0], 4.0, places=2)

    def test_stacked_parts_and_log_scale(self):
        rows = [(f"r{i}", [{"v": 3.0 * 10 ** (i % 4), "parts": [("user", 2.0 * 10 ** (i % 4), "#aa0000"),
                                                               ("system", 1.0 * 10 ** (i % 4), "#ffaaaa")]}])
                for i in range(20)]
        svg = svgplot.hbars("stacked", rows, [("s", "#aa0000")], lambda v: svgplot.si(v), log=True)
        self.assert_sound(svg, ["= user 2 + system 1", "= user 2k + system 1k"])


class TestDots(unittest.TestCase, Geometry):
    def test_twenty_rows(self):
        rows = [(LONG if i == 0 else f"config {i}", [0.6 + 0.02 * i, 0.7 + 0.02 * i, None, 0.65 + 0.02 * i])
                for i in range(20)]
        svg = svgplot.dots("ratios", rows, subtitle="per repetition")
        root, bs = self.assert_sound(svg, ["median 0.65×", "median 1.03×"])
        self.assertEqual(sum(1 for b in bs if b[0] == "circle"), 60)
        # the reference line at 1.00x lies inside the plot
        ref = [b for b in bs if b[0] == "line" and b[6].get("stroke-dasharray")]
        self.assertEqual(len(ref), 1)


class TestPanels(unittest.TestCase, Geometry):
    PCTS = [50, 75, 90, 95, 99, 99.5, 99.9, 99.95, 99.99]

    def test_hdr_axis_and_end_labels(self):
        same = [(p, 100.0 * (1 + p / 10), None, None) for p in self.PCTS]
        series = [{"name": f"path {k}", "color": c, "points": same}
                  for k, c in enumerate(("#111111", "#222222", "#333333"))]
        series.append({"name": "whiskers", "color": "#444444",
                       "points": [(p, 50.0 * (1 + p), 40.0, 60.0 * (1 + p)) for p in self.PCTS]})
        svg = svgplot.panels("latency", [{"title": "one", "series": series}] * 2, "hdr", "log",
                             lambda v: f"{v:g}%", svgplot.duration_us, label_ends=True)
        root, bs = self.assert_sound(svg, ["99.99%", "99.9%", "90%", "50%"])
        # p50 -> p90 -> p99 -> p99.9 -> p99.99 equally spaced: a log axis of 1/(1-q)
        ticks = {b[5]: (b[1] + b[3]) / 2 for b in bs if b[0] == "text" and b[5].endswith("%")}
        steps = [ticks[b] - ticks[a] for a, b in (("90%", "99%"), ("99%", "99.9%"), ("99.9%", "99.99%"))]
        self.assertAlmostEqual(steps[0], steps[1], delta=0.5)
        self.assertAlmostEqual(steps[1], steps[2], delta=0.5)

    def test_integer_x_ticks(self):
        series = [{"name": "s", "color": "#111111", "points": [(w, 1000.0 * w, None, None) for w in (1, 2, 3)]}]
        _, bs = self.assert_sound(svgplot.panels("w", [{"title": "t", "series": series}], "linear", "log",
                                                 lambda v: f"{v:g}", svgplot.si, xint=True))
        labels = {b[5] for b in bs if b[0] == "text"}
        self.assertTrue({"1", "2", "3"} <= labels and "1.5" not in labels, labels)


PERF_SCRIPT = """metricd-w0 
\t            f93b mem_malloc (inlined)
\t            f93b heap_reply (/build/metricd)
\t            fe7a handle_metric_heap (/build/metricd)
\t           891f4 start_thread (/usr/lib/x86_64-linux-gnu/libc.so.6)
\t          1098eb clone3 (/usr/lib/x86_64-linux-gnu/libc.so.6)

metricd-w0 
\t           98f62 _int_free+0x52 (/usr/lib/x86_64-linux-gnu/libc.so.6)
\t            fe7a handle_metric_heap (/build/metricd)
\t           891f4 start_thread (/usr/lib/x86_64-linux-gnu/libc.so.6)

metricd-acc 
\tffffffff8200e603 tcp_sendmsg_locked ([kernel.kallsyms])
\t          10ac4d __libc_sendmsg (/usr/lib/x86_64-linux-gnu/libc.so.6)
\t           215a4 [unknown] (/usr/lib/x86_64-linux-gnu/libevent-2.1.so.7.0.1)
\t              83 [unknown] ([unknown])

metricd-w0 
\t           98f62 _int_free+0x52 (/usr/lib/x86_64-linux-gnu/libc.so.6)
\t            fe7a handle_metric_heap (/build/metricd)
"""


class TestFlame(unittest.TestCase, Geometry):
    def test_fold(self):
        c = flame.fold(PERF_SCRIPT)
        self.assertEqual(c, {
            "metricd-w0;handle_metric_heap;heap_reply;mem_malloc": 1,
            "metricd-w0;handle_metric_heap;_int_free": 2,
            "metricd-acc;[unknown];[libevent-2.1.so.7.0.1];__libc_sendmsg;tcp_sendmsg_locked [k]": 1,
        })
        self.assertAlmostEqual(flame.allocator_share(c), 0.75)

    def test_folded_file_round_trip(self):
        c = flame.fold(PERF_SCRIPT)
        with tempfile.TemporaryDirectory() as d:
            flame.write_folded(c, os.path.join(d, "x.folded"))
            self.assertEqual(flame.read_folded(os.path.join(d, "x.folded")), c)

    def test_render(self):
        c = flame.fold(PERF_SCRIPT)
        many = {f"t;f{i};g{i % 7};leaf_{i}_with_a_long_name": i + 1 for i in range(60)}
        svg = flame.render("flame", [("heap", c), ("stack", many)], subtitle="test")
        root, bs = self.assert_sound(svg, ["heap: 4 samples, 75.0% of them in the allocator",
                                           "stack: 1,830 samples, 0.0% of them in the allocator"])
        frames = [b for b in bs if b[0] == "rect" and b[6].find(NS + "title") is not None]
        # the root frames of the first panel: metricd-w0 is 3/4 of the width
        w0 = next(b for b in frames if b[6].find(NS + "title").text.startswith("metricd-w0:"))
        acc = next(b for b in frames if b[6].find(NS + "title").text.startswith("metricd-acc:"))
        self.assertAlmostEqual((w0[3] - w0[1] + 0.5) / (acc[3] - acc[1] + 0.5), 3.0, places=2)
        # every frame's label (11 px, ink) sits inside a frame
        labels = [b for b in bs if b[0] == "text" and b[6].get("font-size") == str(svgplot.SMALL)
                  and b[6].get("fill") == svgplot.INK]
        self.assertGreater(len(labels), 10)
        for t in labels:
            y = float(t[6].get("y"))
            inside = [f for f in frames if f[1] <= t[1] + 0.01 and t[3] <= f[3] + 0.01 and f[2] <= y <= f[4]]
            self.assertTrue(inside, f"label {t[5]!r} is not inside a frame")


def results(reps=3):
    """A made-up results dict with the sections the charts read."""
    st = {"workers": [1, 2], "pipelines": [1, 16], "work_heavy": 10000, "reps": reps, "ref_workers": 2,
          "open_fractions": [0.5], "alloc_pipelines": [1]}
    runs, summ = [], []
    for path, base in (("/metric-stack", 100000), ("/metric-heap", 80000),
                       ("/stats-value", 90000), ("/stats-pointer", 70000)):
        for w in st["workers"]:
            for pl in st["pipelines"]:
                key = charts.matrix_key(path, w, pl, 0)
                vals = [base * w * (1 + 0.01 * r) for r in range(reps)]
                for r, v in enumerate(vals):
                    runs.append({"key": key, "rep": r, "result": {"rps": v, "series": [
                        {"second": s, "rps": v * (1 + 0.02 * s), "requests": int(v), "errors": 0}
                        for s in (1, 2, 3)]}})
                summ.append({"key": key, "path": path, "workers": w, "pipeline": pl, "work": 0,
                             "rps": {"median": vals[1], "min": vals[0], "max": vals[2]}})
    ss = [{"allocator": "glibc", "workers": w, "path": p, "pipeline": pl, "work": 0,
           "server_cpu_us_per_request": {"median": 4.0, "min": 3.5, "max": 4.5},
           "server_user_us_per_request": {"median": 3.0}, "server_sys_us_per_request": {"median": 1.0},
           "allocator_ns_per_request": {"median": 0.0 if "stack" in p or "value" in p else 234.5,
                                        "min": 0.0, "max": 250.0}}
          for w in st["workers"] for pl in st["pipelines"] for p in charts.PALETTE]
    lat = {pct_key(p): {"median": 100.0 * (1 + i), "min": 90.0, "max": 200.0 * (1 + i)}
           for i, p in enumerate(TestPanels.PCTS)}
    ol = [{"path": p, "fraction": 0.5, "rate": 40000, "rps": {"median": 40000}, "latency_us": lat}
          for p in charts.PALETTE]
    return {"settings": st, "closed_loop": {"runs": runs, "summary": summ},
            "server_stats": {"summary": ss}, "open_loop": {"summary": ol}}


class TestReportCharts(unittest.TestCase, Geometry):
    def test_make_charts(self):
        out = tempfile.mkdtemp(prefix="charts.")
        try:
            made = charts.make_charts(results(), out, log=lambda m: None)
            self.assertEqual(set(made), {"heap_stack_ratio", "latency", "rps_per_second", "cpu_per_request",
                                         "allocator_ns", "rps_vs_workers"})
            texts = {name: open(os.path.join(out, c["svg"])).read() for name, c in made.items()}
            for name, svg in texts.items():
                with self.subTest(chart=name):
                    self.assert_sound(svg)
            # heap / stack 0.80 for /metric-*, 0.78 for /stats-* (made up above)
            self.assert_sound(texts["heap_stack_ratio"], ["median 0.80×", "median 0.78×"])
            self.assert_sound(texts["latency"], ["/metric-* at 40k req/s", "1 ms"])
            self.assert_sound(texts["cpu_per_request"], ["4.00", "= user 3.00 + system 1.00"])
            self.assert_sound(texts["allocator_ns"], ["234", "0"])
        finally:
            shutil.rmtree(out)


class TestShards(unittest.TestCase):
    """tools/bench/scaling's shard runs: which servers and runs the plan
    asks for, and the report's table of them."""

    def plan(self, acceptors):
        p = default_plan("scaling", 4)
        p.update(max_workers=3, acceptors=acceptors)
        return finish_plan(p)

    def test_every_shard_count_with_enough_workers(self):
        p = self.plan([1, 2, 4])
        self.assertEqual(shard_servers(p), [(1, 1), (2, 1), (2, 2), (3, 1), (3, 2)])
        cfgs = shard_configs(p, with_nginx=True)
        keys = [cfg_key(c) for c in cfgs]
        self.assertEqual(len(keys), len(set(keys)))
        nginx = sorted((c["workers"], c["pipeline"]) for c in cfgs if c["target"] == "nginx")
        self.assertEqual(nginx, [(w, pl) for w in (1, 2, 3) for pl in (1, 16)])
        self.assertEqual(len(cfgs), 6 + 5 * 2)
        self.assertTrue(all(c["duration"] == p["shard_duration"] for c in cfgs))
        self.assertEqual(shard_configs(p, with_nginx=False), [c for c in cfgs if c["target"] != "nginx"])

    def test_none_without_shard_counts(self):
        p = self.plan(None)
        self.assertEqual(shard_servers(p), [])
        self.assertEqual(shard_configs(p, with_nginx=True), [])

    def test_table(self):
        p = self.plan([1, 2])
        runs, summ = [], []
        for c in shard_configs(p, with_nginx=True):
            k = cfg_key(c)
            v = 100000.0 * (2 if c["target"] == "nginx" else c["acceptors"]) * (4 if c["pipeline"] == 16 else 1)
            runs += [dict(c, key=k, rep=r, result={"rps": v}) for r in range(3)]
            summ.append(dict(c, key=k, rps={"median": v, "min": v, "max": v}))
        res = {"settings": p, "shards": {"runs": runs, "summary": summ}}
        text = "\n".join(report.shards_section(res, {}))
        self.assertIn("| 2 | 200,000 (200,000–200,000) | 100,000 (100,000–100,000) **0.50×** | "
                      "200,000 (200,000–200,000) **1.00×** |", text)
        self.assertIn("| 1 | 800,000 (800,000–800,000) | 400,000 (400,000–400,000) **0.50×** | – |", text)
        self.assertEqual(report.shards_section({"settings": p}, {}), [])


if __name__ == "__main__":
    unittest.main(verbosity=2)
