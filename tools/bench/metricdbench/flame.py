# SPDX-License-Identifier: BSD-2-Clause
"""Flame graphs of `perf script` output, folded and drawn here.

fold() turns perf script's samples (a header line per sample naming the
thread, then one line per frame, leaf first) into folded stacks,
"thread;outermost;...;leaf" -> samples, the usual interchange form.
render() draws one or more folded profiles as a flame graph SVG: one panel
each, stacked, every panel 100% wide, frames ordered by name, the root at
the bottom.  Frames in the allocator (malloc, free and their helpers, and
metricd's counting wrapper around them) are drawn in blue and counted in
the panel's title, so the heap path's cost can be read off next to the
stack path's; kernel frames are orange, everything else warm."""

import re
import zlib
from collections import Counter

from .svgplot import FONT, SMALL, Canvas, DIM, fit, heading, text_width

# A frame line of perf script: address, symbol (maybe "+0x.." or
# "(inlined)"), then the object in parentheses.
_FRAME = re.compile(r"^\s*([0-9a-fA-F]+)\s+(.*?)\s+\((.*)\)\s*$")
ALLOCATOR = re.compile(r"^(__GI_)?(__libc_)?(malloc|free|cfree|calloc|realloc|reallocarray)(@.*)?$|"
                       r"^_int_(malloc|free|realloc)|^tcache_|^malloc_|^sysmalloc|^unlink_chunk|"
                       r"^arena_|^mem_(malloc|free|calloc)$|^je_|^mi_|^_mi_")


# A thread's entry frames, the same under every stack: left out.
_ENTRY = ("clone3", "__clone3", "clone", "__clone", "start_thread")


def _symbol(sym, dso):
    sym = re.sub(r"\+0x[0-9a-f]+$", "", sym.replace(" (inlined)", ""))
    if sym in ("", "[unknown]"):
        base = dso.rsplit("/", 1)[-1]
        return f"[{base}]" if base and base != "[unknown]" else "[unknown]"
    if dso == "[kernel.kallsyms]":
        return sym + " [k]"
    return sym


def fold(text):
    """Folded stacks of perf script output: Counter of "a;b;c" -> samples."""
    out = Counter()
    thread, frames = None, []

    def flush():
        if thread is not None:
            stack = frames[::-1]
            while stack and stack[0] in _ENTRY:
                stack.pop(0)
            out[";".join([thread] + stack)] += 1

    for line in text.splitlines():
        if not line.strip():
            continue
        m = _FRAME.match(line) if line[0].isspace() else None
        if m:
            frames.append(_symbol(m.group(2), m.group(3)).replace(";", ":"))
            continue
        if line[0].isspace():
            continue                       # a line perf adds that is not a frame
        flush()
        thread, frames = line.split()[0].replace(";", ":"), []
    flush()
    return out



def write_folded(counts, path):
    with open(path, "w") as f:
        for stack, n in sorted(counts.items()):
            f.write(f"{stack} {n}\n")


def read_folded(path):
    counts = Counter()
    with open(path) as f:
        for line in f:
            stack, _, n = line.rstrip("\n").rpartition(" ")
            if stack and n.isdigit():
                counts[stack] += int(n)
    return counts


def is_allocator(frame):
    return bool(ALLOCATOR.search(frame))


def allocator_share(counts):
    """Share of the samples with an allocator frame anywhere on the stack."""
    total = sum(counts.values())
    hit = sum(n for s, n in counts.items() if any(is_allocator(f) for f in s.split(";")))
    return hit / total if total else 0.0


# ---- drawing -----------------------------------------------------------------

FRAME_H = 17
# Frames drawn per stack: loopback TCP puts some 40 kernel frames under a
# send; beyond this the leaf-most ones are left out (the counts are not).
MAX_DEPTH = 30


def _tree(counts):
    root = {"n": 0, "kids": {}}
    for stack, n in counts.items():
        node = root
        node["n"] += n
        for f in stack.split(";")[:MAX_DEPTH]:
            node = node["kids"].setdefault(f, {"n": 0, "kids": {}})
            node["n"] += n
    return root


def _depth(node):
    return 1 + max((_depth(k) for k in node["kids"].values()), default=0)


def _color(name):
    if is_allocator(name):
        return "#4f8fd8"
    h = zlib.crc32(name.encode()) & 0xff
    if name.endswith(" [k]"):
        return f"rgb({190 + h % 30},{190 + h % 30},{130 + h % 40})"
    return f"rgb({205 + h % 50},{90 + h % 110},{40 + h % 40})"


def _draw(cv, node, name, x, w, level, ybase, total, minw):
    y = ybase - (level + 1) * FRAME_H
    pct = 100.0 * node["n"] / total
    cv.rect(x, y, w - 0.5, FRAME_H - 1, _color(name), title=f"{name}: {node['n']} samples ({pct:.2f}%)")
    label = fit(name, w - 6, SMALL) if w > 26 else ""
    if label:
        cv.text(x + 3, y + FRAME_H - 5, label, size=SMALL)
    cx = x
    for kname in sorted(node["kids"]):
        kid = node["kids"][kname]
        kw = w * kid["n"] / node["n"]
        if kw >= minw:
            _draw(cv, kid, kname, cx, kw, level + 1, ybase, total, minw)
        cx += kw


def render(title, profiles, subtitle=None, width=900):
    """profiles: [(panel title, folded counts)], drawn one above the other."""
    cv = Canvas(width)
    y = heading(cv, 0, title, subtitle)
    for ptitle, counts in profiles:
        total = sum(counts.values())
        if not total:
            continue
        share = allocator_share(counts)
        y += 20
        cv.text(10, y, fit(f"{ptitle}: {total:,} samples, {share * 100:.1f}% of them in the allocator",
                           width - 20), size=FONT, weight="bold")
        root = _tree(counts)
        depth = _depth(root) - 1
        ybase = y + 8 + depth * FRAME_H
        x, full = 10.0, width - 20.0
        for kname in sorted(root["kids"]):
            kid = root["kids"][kname]
            kw = full * kid["n"] / total
            if kw >= 0.5:
                _draw(cv, kid, kname, x, kw, 0, ybase, total, 0.5)
            x += kw
        y = ybase + 6
    y += 16
    x = 10
    for name, color in (("allocator (malloc, free and metricd's counting wrapper)", _color("malloc")),
                        ("kernel", "rgb(200,200,150)"), ("the rest", "rgb(225,140,50)")):
        cv.rect(x, y - 10, 12, 12, color)
        cv.text(x + 16, y, name, size=SMALL, fill=DIM)
        x += 16 + text_width(name, SMALL) + 18
    return cv.svg(y + 10)
