# SPDX-License-Identifier: BSD-2-Clause
"""What every module shares: the endpoints measured, errors, the log,
medians of repetitions, and results written as JSON."""

import datetime as dt
import json
import os
import re
import statistics
import sys
import time

# /2: percentiles are keyed as blast --json and metricd's /stats key them
# (p50, p99_9); /1 keyed them "50", "99.9" (upgrade() renames them).
SCHEMA = "metricd-bench/2"
# The source tree this package belongs to.
TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

PAIRS = {
    "metric": ("/metric-stack", "/metric-heap"),
    "stats": ("/stats-value", "/stats-pointer"),
}
STACK_PATHS = ("/metric-stack", "/stats-value")
HEAP_PATHS = ("/metric-heap", "/stats-pointer")
ALL_PATHS = ("/metric-stack", "/metric-heap", "/stats-value", "/stats-pointer")
CLOSED_PCTS = "50,90,99,99.9"
OPEN_PCTS = "50,75,90,95,99,99.5,99.9,99.95,99.99"


class BenchError(Exception):
    pass


def now_utc():
    return dt.datetime.now(dt.timezone.utc)


def iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def summary(values):
    """median/min/max of the repetitions (None values are failed runs)."""
    v = [x for x in values if x is not None]
    if not v:
        return {"median": None, "min": None, "max": None, "n": 0, "values": list(values)}
    return {"median": statistics.median(v), "min": min(v), "max": max(v),
            "n": len(v), "values": list(values)}


def percentile(values, p):
    """The p-th percentile of values by rank (0.0 when there are none)."""
    v = sorted(values)
    if not v:
        return 0.0
    return v[min(len(v) - 1, max(0, int(round(p / 100.0 * (len(v) - 1)))))]


def pct_key(p):
    """The key of percentile p (99.9 or "99.9"): "p99_9"."""
    return "p" + f"{float(p):g}".replace(".", "_")


def pct_value(key):
    """The percentile a key names: "p99_9" -> 99.9."""
    return float(key[1:].replace("_", "."))


def _pcts_renamed(x):
    if isinstance(x, list):
        return [_pcts_renamed(v) for v in x]
    if not isinstance(x, dict):
        return x
    out = {}
    for k, v in x.items():
        if k in ("latency_us", "latency_uncorrected_us") and isinstance(v, dict):
            v = {pct_key(p) if re.fullmatch(r"[\d.]+", p) else p: q for p, q in v.items()}
        out[k] = _pcts_renamed(v)
    return out


def upgrade(res):
    """A results document in this package's schema: res itself, or a copy
    of an older one brought up to it; None when it is of no schema known."""
    if res.get("schema") == "metricd-bench/1":
        res = _pcts_renamed(res)
        res["schema"] = SCHEMA
    return res if res.get("schema") == SCHEMA else None


def fmt_duration(seconds):
    """blast accepts 500ms, 10s, 1m."""
    ms = int(round(seconds * 1000))
    if ms % 1000 == 0:
        return f"{ms // 1000}s"
    return f"{ms}ms"


class Log:
    """Timestamped progress lines on stderr, kept in a file too."""

    def __init__(self, path=None):
        self.t0 = time.monotonic()
        self.path = path
        self.lines = []

    def __call__(self, msg):
        line = f"[{time.monotonic() - self.t0:7.1f}s] {msg}"
        print(line, file=sys.stderr, flush=True)
        self.lines.append(line)
        if self.path:
            with open(self.path, "a") as f:
                f.write(line + "\n")


def write_json(path, obj):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=1, sort_keys=False)
        f.write("\n")
    os.replace(tmp, path)
