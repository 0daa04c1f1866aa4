# SPDX-License-Identifier: BSD-2-Clause
"""The binaries a run measures: an optimized build of this source tree
through tools/build-tree (from a copy of the sources, so a file saved
during a run cannot get into it), or those of a built tree."""

import os
import shutil

from .common import TOP, BenchError
from .procs import run_bounded

BINARIES = ("metricd", "blast", "allocbench")
# Built with the others; only blast-vs-wrk needs it.
REFSERVER = "tools/bench/refserver"


def _mtime(path):
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None


def build(build_dir, cflags, log, jobs=None):
    """An optimized metricd, blast, allocbench and refserver in build_dir;
    make rebuilds only what changed since the last run."""
    bins = binaries_in(build_dir, check=False)
    before = {b: _mtime(p) for b, p in bins.items()}
    args = [os.path.join(TOP, "tools", "build-tree"), "--copy", "--quiet",
            "--jobs", str(jobs or len(os.sched_getaffinity(0))),
            build_dir, f"CFLAGS={cflags}", "--", *BINARIES, REFSERVER]
    log(f"build: tools/build-tree --copy {build_dir} CFLAGS='{cflags}'")
    rc, out, err, secs = run_bounded(args, 1800)
    if rc != 0:
        raise BenchError(f"tools/build-tree failed (exit {rc}):\n{(out + err).strip()[-3000:]}")
    reused = all(before[b] is not None and before[b] == _mtime(p) for b, p in bins.items())
    log(f"build: {'nothing to rebuild' if reused else 'built'} in {secs:.1f}s")
    return bins, {"dir": build_dir, "cflags": cflags, "reused": reused, "build_s": round(secs, 1),
                  "source": os.path.join(build_dir, ".src"), "tool": "tools/build-tree --copy"}


def binaries_in(d, check=True):
    """The binaries of the build directory d (BenchError when one is missing)."""
    bins = {b: os.path.join(os.path.abspath(d), b) for b in BINARIES}
    bins["refserver"] = os.path.join(os.path.abspath(d), REFSERVER)
    if check:
        for b in BINARIES:
            if not os.access(bins[b], os.X_OK):
                raise BenchError(f"{bins[b]} is missing: build it first (make {b})")
    return bins


def _first_line(args):
    rc, out, err, _ = run_bounded(args, 10)
    text = (out + err).strip()
    return text.splitlines()[0] if text else None


def describe_binaries(bins):
    info = {"binaries": dict(bins),
            "metricd_version": _first_line([bins["metricd"], "--version"]),
            "blast_version": _first_line([bins["blast"], "--version"])}
    mk = os.path.join(os.path.dirname(bins["metricd"]), "Makefile")
    if os.path.exists(mk):
        with open(mk) as f:
            for line in f:
                for var in ("CFLAGS", "WARN_CFLAGS", "SAN_CFLAGS"):
                    if line.startswith(var + " = "):
                        info[f"makefile_{var.lower()}"] = line.split("=", 1)[1].strip()
    if os.path.isdir(os.path.join(TOP, ".git")) and shutil.which("git"):
        rc, out, _, _ = run_bounded(["git", "-C", TOP, "rev-parse", "HEAD"], 10)
        info["git_commit"] = out.strip() if rc == 0 else None
        rc, out, _, _ = run_bounded(["git", "-C", TOP, "status", "--porcelain"], 30)
        info["git_dirty"] = bool(out.strip()) if rc == 0 else None
    return info
