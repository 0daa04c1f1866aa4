# SPDX-License-Identifier: BSD-2-Clause
"""perf profiles, only when perf is installed and works here: one for
each missed target (of metricd under blast, idle, or of blast itself),
and the flame graphs of the stack and the heap path."""

import os
import shutil
import subprocess
import time

from . import flame
from .common import PAIRS, fmt_duration
from .procs import run_bounded, spawn, stop


def _todo(ids):
    """What to profile for the missed targets ids, without repeats."""
    todo = []
    if "stack_vs_nginx_p1" in ids or "blast_vs_wrk_p1" in ids:
        todo.append(("metricd", "/metric-stack", 1))
    if "stack_vs_nginx_p16" in ids or "blast_vs_wrk_p16" in ids:
        todo.append(("metricd", "/metric-stack", 16))
    if "stack_zero_allocs" in ids or "rss_per_connection" in ids or not todo and "idle_cpu" not in ids:
        todo.append(("metricd", "/metric-stack", 1))
    if "idle_cpu" in ids:
        todo.append(("idle", None, None))
    for pl in (1, 16):
        if f"blast_vs_wrk_p{pl}" in ids:
            todo.append(("blast", "/metric-stack", pl))
    return list(dict.fromkeys(todo))


def _perf_works(sec):
    if not shutil.which("perf"):
        sec["skipped"] = "perf is not installed (apt-get install linux-perf)"
        return False
    rc, out, err, _ = run_bounded(["perf", "stat", "-e", "task-clock", "true"], 30)
    sec["check"] = {"command": "perf stat -e task-clock true", "exit": rc, "stderr_tail": err.strip()[-300:]}
    if rc != 0:
        sec["skipped"] = f"perf does not work here (perf stat -e task-clock true: exit {rc})"
        return False
    return True


def profile_missed(b):
    sec = b.res["perf"] = {"available": False, "profiles": []}
    missed = [t for t in b.res.get("targets", []) if t.get("met") is False]
    sec["missed_targets"] = [t["id"] for t in missed]
    if not missed:
        sec["skipped"] = "every target met; no profile needed"
        return
    if not _perf_works(sec):
        return
    sec["available"] = True
    srv = b.servers.get(("metricd", "glibc", b.plan["ref_workers"]))
    if srv is None:
        sec["skipped"] = "no metricd instance left to profile"
        return
    ids = sorted(t["id"] for t in missed)
    for item in _todo(set(ids)):
        sec["profiles"].append(_profile(b, srv, *item, reasons=ids))


def _record(b, srv, what, path, pipeline, data, errf):
    """perf record of blast, or of metricd (idle or under blast)."""
    p, secs = b.plan, b.plan["perf_s"]
    load_args = [b.bins["blast"], "-q", "-t", str(p["threads"]), "-c", str(p["connections"])]
    if what == "blast":
        args = ["perf", "record", "-g", "-F", "999", "-o", data, "--", *load_args, "--json",
                "-d", fmt_duration(secs), "--pipeline", str(pipeline), srv.url(path)]
        rc, out, err, _ = run_bounded(args, secs + 60)
        errf.write(err)
        return args, rc, "blast (the load generator), against metricd"
    args = ["perf", "record", "-g", "-F", "999", "-o", data, "-p", str(srv.pid), "--", "sleep", f"{secs:g}"]
    load = None
    if what == "metricd":
        # The load runs before, during and after the recording window.
        load = spawn(load_args + ["-d", fmt_duration(secs + 1.5), "--pipeline", str(pipeline), srv.url(path)])
        time.sleep(0.5)
    rc, out, err, _ = run_bounded(args, secs + 60)
    errf.write(err)
    if load is not None:
        try:
            load.wait(secs + 30)
        except subprocess.TimeoutExpired:
            pass
        stop(load)
    return args, rc, f"metricd pid {srv.pid} ({srv.name})" + (" while blast loads it" if load else ", idle")


def _profile(b, srv, what, path, pipeline, reasons):
    data = os.path.join(b.out, f"perf-{what}-{pipeline or 'idle'}.data")
    prof = {"what": what, "path": path, "pipeline": pipeline, "seconds": b.plan["perf_s"], "reasons": reasons}
    with open(os.path.join(b.logs, "perf-record.err"), "a") as errf:
        args, rc, prof["target"] = _record(b, srv, what, path, pipeline, data, errf)
    prof["record_command"] = " ".join(args)
    prof["record_exit"] = rc
    cmd = ["perf", "report", "-i", data, "--no-children", "--sort", "comm,sym", "--stdio"]
    rc2, out, err, _ = run_bounded(cmd, 120)
    prof["report_command"] = "perf report --no-children --sort comm,sym | head"
    prof["report_head"] = [line for line in out.splitlines() if line.strip()][:60]
    rc3, flat, _, _ = run_bounded(cmd + ["-g", "none", "--percent-limit", "0.5"], 120)
    prof["flat"] = [line for line in flat.splitlines() if line.strip() and not line.startswith("#")][:25]
    if rc2 != 0:
        prof["error"] = f"perf report exit {rc2}: {err.strip()[-300:]}"
    for f in (data, data + ".old"):
        if os.path.exists(f):
            os.unlink(f)
    b.log(f"perf: profiled {what} {path or ''} p{pipeline or '-'}: {len(prof['flat'])} symbols over 0.5%")
    return prof


def _flame_one(b, srv, path):
    """perf record of metricd while blast loads one path; its samples
    folded into flame/<path>.folded under the results directory."""
    p, secs = b.plan, b.plan["flame_s"]
    name = path.strip("/")
    data = os.path.join(b.out, f"flame-{name}.data")
    load = spawn([b.bins["blast"], "-q", "-t", str(p["threads"]), "-c", str(p["connections"]),
                  "-d", fmt_duration(secs + 1.5), "--pipeline", str(p["flame_pipeline"]), srv.url(path)])
    time.sleep(0.5)
    # DWARF unwinding: metricd and glibc are built without frame pointers.
    args = ["perf", "record", "-F", "499", "--call-graph", "dwarf,16384", "-o", data,
            "-p", str(srv.pid), "--", "sleep", f"{secs:g}"]
    with open(os.path.join(b.logs, "perf-record.err"), "a") as errf:
        rc, _, err, _ = run_bounded(args, secs + 60)
        errf.write(err)
    try:
        load.wait(secs + 30)
    except subprocess.TimeoutExpired:
        pass
    stop(load)
    prof = {"path": path, "pipeline": p["flame_pipeline"], "seconds": secs, "record_command": " ".join(args),
            "record_exit": rc}
    rc2, out, err, _ = run_bounded(["perf", "script", "-F", "comm,ip,sym,dso", "-i", data], 300)
    for f in (data, data + ".old"):
        if os.path.exists(f):
            os.unlink(f)
    counts = flame.fold(out)
    if rc2 != 0 or not counts:
        prof["error"] = f"perf script exit {rc2}, {sum(counts.values())} samples: {err.strip()[-300:]}"
        return prof
    os.makedirs(os.path.join(b.out, "flame"), exist_ok=True)
    prof["folded"] = f"flame/{name}.folded"
    flame.write_folded(counts, os.path.join(b.out, prof["folded"]))
    prof["samples"] = sum(counts.values())
    prof["allocator_share"] = flame.allocator_share(counts)
    b.log(f"flame: {path}: {prof['samples']} samples, {prof['allocator_share'] * 100:.1f}% in the allocator")
    return prof


def flame_graphs(b):
    """The stack and the heap path of /metric-* under the same load, each
    recorded on the same metricd: what the flame graphs are drawn from."""
    sec = b.res["flame"] = {"profiles": []}
    if not _perf_works(sec):
        return
    srv = b.servers.get(("metricd", "glibc", b.plan["ref_workers"]))
    if srv is None:
        sec["skipped"] = "no metricd instance to profile"
        return
    sec["workers"] = b.plan["ref_workers"]
    for path in PAIRS["metric"]:
        sec["profiles"].append(_flame_one(b, srv, path))
