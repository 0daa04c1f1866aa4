# SPDX-License-Identifier: BSD-2-Clause
"""SVG charts drawn here, with no plotting library: horizontal bars (values
printed at their ends), dot plots of paired ratios, and line panels on
linear, log or HDR-percentile axes.

Every chart is WIDTH pixels wide (readable at a GitHub page's width without
scaling) and as tall as its rows need, so nothing is clipped and labels
never share a line: the layout measures every text with text_width() (a
deliberately generous estimate of a sans-serif font's advance) and makes
room for it.  tests/test_bench_charts.py checks the output against the
same estimate: every element inside the viewBox, no two texts overlapping,
the values present."""

import math
from xml.sax.saxutils import escape

WIDTH = 900
FONT = 12
SMALL = 11
FAMILY = "DejaVu Sans, Verdana, Arial, sans-serif"
INK, DIM, GRID = "#1f2328", "#57606a", "#d0d7de"

# Advance of a character in ems: DejaVu Sans and Verdana (the widest of the
# usual sans-serif faces) are at or under these.
_NARROW = set("il.,:;|!'`ıjtf()[] ")
_WIDE = set("mwMW@%")


def text_width(s, size=FONT):
    """Estimated width in pixels of s at font size `size`."""
    w = 0.0
    for c in str(s):
        if c in _NARROW:
            w += 0.36
        elif c in _WIDE:
            w += 0.95
        elif c.isupper() or c.isdigit() or c in "×µ–—#$&+<=>?~_":
            w += 0.70
        else:
            w += 0.62
    return w * size


def fit(s, width, size=FONT):
    """s, shortened with an ellipsis until it fits width ('' if nothing does)."""
    s = str(s)
    if text_width(s, size) <= width:
        return s
    while s and text_width(s + "…", size) > width:
        s = s[:-1]
    return s + "…" if s else ""


# ---- numbers and axes -------------------------------------------------------

def si(v, digits=3):
    """1234 -> 1.23k, 2500000 -> 2.5M: short tick and value labels."""
    if v is None:
        return "–"
    a = abs(v)
    for div, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if a >= div:
            return _trim(v / div, digits) + suffix
    return _trim(v, digits)


def _trim(v, digits):
    if v == 0:
        return "0"
    mag = int(math.floor(math.log10(abs(v))))
    decimals = max(0, digits - 1 - mag)
    s = f"{v:.{decimals}f}"
    return s.rstrip("0").rstrip(".") if "." in s else s


def duration_us(v):
    """A latency in µs as text: 850 µs, 1.2 ms, 3.4 s."""
    if v >= 1e6:
        return si(v / 1e6) + " s"
    if v >= 1e3:
        return si(v / 1e3) + " ms"
    return si(v) + " µs"


def nice_ticks(lo, hi, n=5, integer=False):
    """Round tick values covering [lo, hi] (whole numbers if integer)."""
    if hi <= lo:
        hi = lo + 1
    raw = (hi - lo) / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    if integer:
        step = max(1, round(step))
    start = math.floor(lo / step) * step
    ticks, t = [], start
    while t <= hi + step * 1e-9:
        ticks.append(round(t, 12))
        t += step
    if ticks[-1] < hi:
        ticks.append(round(t, 12))
    return ticks


class Axis:
    """Maps values to pixels: kind 'linear', 'log' or 'hdr' (a quantile q
    given as a percentile p is placed at log10(1 / (1 - p/100)))."""

    def __init__(self, kind, lo, hi, p0, p1, integer=False):
        self.kind, self.p0, self.p1 = kind, p0, p1
        if kind == "linear":
            self.ticks = nice_ticks(lo, hi, integer=integer)
            self.lo, self.hi = self.ticks[0], self.ticks[-1]
        elif kind == "hdr":
            # From the lowest percentile shown (p50 is 0.30), not from 0%.
            self.lo = self._f(lo)
            self.hi = max(self.lo + 1, math.ceil(self._f(hi) - 1e-9))
            self.ticks = [lo] + [100.0 * (1 - 10 ** -d) for d in range(math.ceil(self.lo + 0.2), int(self.hi) + 1)]
        else:
            f = self._f
            d0 = math.floor(f(lo) + 1e-9)
            d1 = max(d0 + 1, math.ceil(f(hi) - 1e-9))
            self.lo, self.hi = d0, d1
            self.ticks = self._log_ticks(d0, d1)

    def _f(self, v):
        if self.kind == "hdr":
            return math.log10(1.0 / (1.0 - v / 100.0))
        return math.log10(v)

    def _log_ticks(self, d0, d1):
        ticks = []
        for d in range(d0, d1 + 1):
            for m in ((1, 2, 5) if d1 - d0 <= 2 else (1,)):
                v = m * 10 ** d
                if 10 ** d0 <= v <= 10 ** d1:
                    ticks.append(v)
        return ticks

    def __call__(self, v):
        x = v if self.kind == "linear" else self._f(v)
        return self.p0 + (self.p1 - self.p0) * (x - self.lo) / (self.hi - self.lo)

    def label(self, v, fmt):
        if self.kind == "hdr":
            return _trim(v, 6) + "%"
        return fmt(v)


# ---- the document -------------------------------------------------------------

class Canvas:
    def __init__(self, width=WIDTH):
        self.width = width
        self.items = []

    def add(self, item):
        self.items.append(item)

    def text(self, x, y, s, size=FONT, anchor="start", fill=INK, weight=None, title=None):
        """A one-line text whose baseline is at y."""
        w = f' font-weight="{weight}"' if weight else ""
        inner = escape(str(s))
        if title:
            inner = f"<title>{escape(title)}</title>" + inner
        self.add(f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" '
                 f'fill="{fill}"{w}>{inner}</text>')

    def rect(self, x, y, w, h, fill, title=None, stroke=None, opacity=None):
        extra = (f' stroke="{stroke}" stroke-width="0.5"' if stroke else "") + \
                (f' fill-opacity="{opacity}"' if opacity is not None else "")
        t = f"<title>{escape(title)}</title>" if title else ""
        self.add(f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(0.0, w):.1f}" height="{max(0.0, h):.1f}" '
                 f'fill="{fill}"{extra}>{t}</rect>')

    def line(self, x1, y1, x2, y2, stroke=GRID, width=1, dash=None):
        d = f' stroke-dasharray="{dash}"' if dash else ""
        self.add(f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="{stroke}" '
                 f'stroke-width="{width}"{d}/>')

    def polyline(self, pts, stroke, width=2, dash=None):
        d = f' stroke-dasharray="{dash}"' if dash else ""
        p = " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)
        self.add(f'<polyline points="{p}" fill="none" stroke="{stroke}" stroke-width="{width}"{d}/>')

    def circle(self, x, y, r, fill, title=None, opacity=None):
        o = f' fill-opacity="{opacity}"' if opacity is not None else ""
        t = f"<title>{escape(title)}</title>" if title else ""
        self.add(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r}" fill="{fill}"{o}>{t}</circle>')

    def svg(self, height):
        h = int(math.ceil(height))
        return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{self.width}" height="{h}" '
                f'viewBox="0 0 {self.width} {h}" font-family="{FAMILY}">\n'
                f'<rect x="0" y="0" width="{self.width}" height="{h}" fill="#ffffff"/>\n' +
                "\n".join(self.items) + "\n</svg>\n")


def heading(cv, y, title, subtitle=None):
    """Title (and a wrapped subtitle) from y; returns the next free y."""
    for line in wrap(title, cv.width - 20, 15):
        y += 18
        cv.text(10, y, line, size=15, weight="bold")
    for line in wrap(subtitle or "", cv.width - 20, SMALL):
        y += 15
        cv.text(10, y, line, size=SMALL, fill=DIM)
    return y + 8


def wrap(s, width, size=FONT):
    """Words of s in lines no wider than width."""
    lines, cur = [], ""
    for word in str(s).split():
        cand = (cur + " " + word).strip()
        if cur and text_width(cand, size) > width:
            lines.append(cur)
            cur = word
        else:
            cur = cand
    if cur:
        lines.append(cur)
    return [fit(x, width, size) for x in lines]


def legend(cv, y, entries, x0=10):
    """Swatches and names, wrapped onto as many lines as they need;
    entries are (name, color, dash).  Returns the next free y."""
    x, y = x0, y + 14
    for name, color, dash in entries:
        w = 26 + text_width(name, SMALL) + 18
        if x + w > cv.width - 10 and x > x0:
            x, y = x0, y + 17
        cv.line(x, y - 4, x + 20, y - 4, stroke=color, width=3, dash=dash)
        cv.text(x + 26, y, name, size=SMALL)
        x += w
    return y + 8


# ---- horizontal bars ------------------------------------------------------------

def hbars(title, rows, series, fmt, subtitle=None, unit="", log=False, note=None, tick_fmt=si):
    """Grouped horizontal bars.  rows: [(label, [cell per series])]; a
    cell is None or {"v": median, "lo": min, "hi": max, "parts": [(name,
    value, color)]} (parts: a stacked bar, e.g. user + system time).  The
    value (and its range) is printed at the end of each bar."""
    cv = Canvas()
    y = heading(cv, 0, title, subtitle)
    y = legend(cv, y, [(n, c, None) for n, c in series])
    texts = {}
    vals = []
    for label, cells in rows:
        for cell in cells:
            if cell and cell.get("v") is not None:
                t = fmt(cell["v"])
                if cell.get("lo") is not None and cell.get("hi") is not None and cell["hi"] > cell["lo"]:
                    t += f"  ({fmt(cell['lo'])}–{fmt(cell['hi'])})"
                if cell.get("parts"):
                    t += "  = " + " + ".join(f"{n} {fmt(v)}" for n, v, _ in cell["parts"])
                texts[id(cell)] = t
                vals += [cell["v"], cell.get("hi") or cell["v"]]
    label_w = min(cv.width * 0.42, max([text_width(r[0]) for r in rows] + [40]) + 14)
    value_w = max([text_width(t, SMALL) for t in texts.values()] + [30]) + 10
    x0, x1 = label_w, cv.width - 10 - value_w
    if x1 - x0 < 200:                          # long value texts: they wrap below instead
        x1 = cv.width - 20
    positive = [v for v in vals if v and v > 0]
    lo = min(positive) if log and positive else 0
    ax = Axis("log" if log and positive else "linear", lo if log else 0, max(vals + [1e-9]), x0, x1)
    bar_h, gap = 15, 10
    top = y + 4
    for label, cells in rows:
        n = len(series)
        cv.text(10, top + (n * bar_h) / 2 + 4, fit(label, label_w - 14))
        for s, cell in enumerate(cells):
            by = top + s * bar_h
            if not cell or cell.get("v") is None:
                continue
            _bar(cv, ax, x0, by, bar_h - 3, cell, series[s][1])
            end = max(ax(cell["v"]), ax(cell["hi"]) if cell.get("hi") is not None else x0)
            t = texts[id(cell)]
            if end + 6 + text_width(t, SMALL) > cv.width - 6:
                end = max(x0, cv.width - 6 - text_width(t, SMALL) - 6)
            cv.text(end + 6, by + bar_h - 5, t, size=SMALL)
        top += len(series) * bar_h + gap
    _x_axis(cv, ax, x0, x1, y, top, tick_fmt, unit)
    y = top + 48
    for line in wrap(note or "", cv.width - 20, SMALL):
        cv.text(10, y, line, size=SMALL, fill=DIM)
        y += 15
    return cv.svg(y + 4)


def _bar(cv, ax, x0, y, h, cell, color):
    if cell.get("parts"):
        x = x0
        acc = 0.0
        for name, v, c in cell["parts"]:
            acc += v
            xe = ax(acc)
            cv.rect(x, y, xe - x, h, c, title=f"{name}: {v:g}")
            x = xe
    else:
        cv.rect(x0, y, ax(cell["v"]) - x0, h, color, title=f"{cell['v']:g}")
    if cell.get("lo") is not None and cell.get("hi") is not None:
        xm, xM = ax(cell["lo"]), ax(cell["hi"])
        cv.line(xm, y + h / 2, xM, y + h / 2, stroke=INK, width=1)
        cv.line(xm, y + 2, xm, y + h - 2, stroke=INK)
        cv.line(xM, y + 2, xM, y + h - 2, stroke=INK)


def _x_axis(cv, ax, x0, x1, ytop, ybot, fmt, unit):
    """Grid lines and tick labels under the plot (a label that would
    reach left of the plot, into the y labels, starts at its tick), the
    unit under them at the right.  Takes 34 px below ybot."""
    last_end = -1e9
    for t in ax.ticks:
        x = ax(t)
        cv.line(x, ytop, x, ybot, stroke=GRID)
        label = ax.label(t, fmt)
        w = text_width(label, SMALL)
        left = max(x - w / 2, x0 - 1)
        if left > last_end + 6 and left + w <= cv.width - 4:
            cv.text(left, ybot + 15, label, size=SMALL, fill=DIM)
            last_end = left + w
    if unit:
        cv.text(x1, ybot + 30, unit, size=SMALL, anchor="end", fill=DIM)


# ---- paired ratios -----------------------------------------------------------------

def dots(title, rows, subtitle=None, ref=1.0, fmt=lambda v: f"{v:.2f}×", xlabel="", color="#c51b7d"):
    """One row per configuration: a dot per repetition, a bar at the
    median, the median printed at the right, a dashed line at ref.
    rows: [(label, [values])]."""
    cv = Canvas()
    y = heading(cv, 0, title, subtitle)
    meds = {}
    for label, vs in rows:
        v = sorted(x for x in vs if x is not None)
        meds[label] = (v[len(v) // 2] if len(v) % 2 else (v[len(v) // 2 - 1] + v[len(v) // 2]) / 2) if v else None
    label_w = min(cv.width * 0.42, max([text_width(r[0]) for r in rows] + [40]) + 14)
    value_w = max([text_width("median " + fmt(m), SMALL) for m in meds.values() if m is not None] + [40]) + 14
    x0, x1 = label_w, cv.width - 10 - value_w
    allv = [x for _, vs in rows for x in vs if x is not None] + [ref]
    span = max(allv) - min(allv) or 0.1
    ax = Axis("linear", min(allv) - 0.05 * span, max(allv) + 0.05 * span, x0, x1)
    row_h, top = 22, y + 6
    for label, vs in rows:
        cy = top + row_h / 2
        cv.line(x0, cy, x1, cy, stroke="#eaeef2")
        cv.text(10, cy + 4, fit(label, label_w - 14))
        for i, v in enumerate(vs):
            if v is not None:
                cv.circle(ax(v), cy, 4.5, color, title=f"repetition {i + 1}: {fmt(v)}", opacity=0.55)
        m = meds[label]
        if m is not None:
            cv.line(ax(m), cy - 8, ax(m), cy + 8, stroke=INK, width=2.5)
            cv.text(cv.width - 10, cy + 4, "median " + fmt(m), size=SMALL, anchor="end")
        top += row_h
    xr = ax(ref)
    cv.line(xr, y + 2, xr, top, stroke=DIM, width=1.5, dash="5,4")
    _x_axis(cv, ax, x0, x1, y + 2, top, fmt, xlabel)
    return cv.svg(top + 40)


# ---- line panels ---------------------------------------------------------------------

def panels(title, panel_list, xkind, ykind, xfmt, yfmt, subtitle=None, xlabel="",
           height=280, label_ends=False, xint=False):
    """Line charts stacked vertically, one per panel: {"title", "series":
    [{"name", "color", "dash", "points": [(x, y, lo, hi)]}]}; lo/hi (or
    None) draw whiskers.  label_ends: the last point's value is printed
    beside it, nudged so that no two of them overlap.  xint: x ticks at
    whole numbers."""
    cv = Canvas()
    y = heading(cv, 0, title, subtitle)
    for p in panel_list:
        y = _panel(cv, y, p, (xkind, xint), ykind, xfmt, yfmt, xlabel, height, label_ends)
    return cv.svg(y + 4)


def _ranges(series, ykind):
    xs = [pt[0] for s in series for pt in s["points"]]
    ys = [v for s in series for pt in s["points"] for v in (pt[1], pt[2], pt[3])
          if v is not None and (ykind == "linear" or v > 0)]
    return xs, ys


def _panel(cv, y, p, xspec, ykind, xfmt, yfmt, xlabel, height, label_ends):
    xkind, xint = xspec
    series = [s for s in p["series"] if s["points"]]
    xs, ys = _ranges(series, ykind)
    if not xs or not ys:
        return y
    y += 4
    cv.text(10, y + 14, fit(p["title"], cv.width - 20), weight="bold")
    ytop, ybot = y + 26, y + 26 + height
    ylo = min(ys) if ykind != "linear" else min(0.0, min(ys))
    yax = Axis(ykind, ylo, max(ys), ybot, ytop)
    tick_w = max(text_width(yax.label(t, yfmt), SMALL) for t in yax.ticks)
    end_w = max((text_width(yfmt(s["points"][-1][1]), SMALL) for s in series), default=0) + 12 \
        if label_ends else 0
    x0, x1 = 14 + tick_w + 8, cv.width - 12 - end_w
    xax = Axis(xkind, min(xs), max(xs), x0, x1, integer=xint)
    for t in yax.ticks:
        cv.line(x0, yax(t), x1, yax(t), stroke=GRID)
        cv.text(x0 - 6, yax(t) + 4, yax.label(t, yfmt), size=SMALL, anchor="end", fill=DIM)
    _x_axis(cv, xax, x0, x1, ytop, ybot, xfmt, xlabel)
    ends = []
    for s in series:
        pts = [(xax(pt[0]), yax(max(pt[1], 1e-300) if ykind != "linear" else pt[1])) for pt in s["points"]]
        cv.polyline(pts, s["color"], width=2, dash=s.get("dash"))
        for pt, (px, py) in zip(s["points"], pts):
            cv.circle(px, py, 2.5, s["color"], title=f"{s['name']}: {xfmt(pt[0])} → {yfmt(pt[1])}")
            if pt[2] is not None and pt[3] is not None:
                cv.line(px, yax(pt[2]), px, yax(pt[3]), stroke=s["color"], width=1)
        ends.append([pts[-1][1] + 4, yfmt(s["points"][-1][1]), s["color"], pts[-1][0]])
    if label_ends:
        _end_labels(cv, ends, ytop, ybot)
    return legend(cv, ybot + 34, [(s["name"], s["color"], s.get("dash")) for s in series])


def _end_labels(cv, ends, ytop, ybot):
    """The last values, top to bottom, at least one line apart."""
    ends.sort(key=lambda e: e[0])
    for i, e in enumerate(ends):
        e[0] = min(max(e[0], ytop + 10, ends[i - 1][0] + 14 if i else -1e9), ybot - 4)
    for i in range(len(ends) - 2, -1, -1):       # pushed past the bottom: back up
        ends[i][0] = min(ends[i][0], ends[i + 1][0] - 14)
    for yy, text, color, x in ends:
        cv.text(x + 6, yy, text, size=SMALL, fill=color)
