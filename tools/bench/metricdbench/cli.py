# SPDX-License-Identifier: BSD-2-Clause
"""The command lines of tools/bench/run, tools/bench/scaling and
tools/bench/report."""

import argparse
import json
import os
import shutil
import sys

from . import report
from .bench import Bench, closed_configs
from .build import binaries_in, build, describe_binaries
from .common import SCHEMA, TOP, BenchError, Log, now_utc, upgrade, write_json
from .plan import PHASES, default_plan, finish_plan, select_phases
from .procs import install_cleanup

RESULTS = os.path.join(TOP, "bench", "results")
# Options that set a plan value: (option, plan key, type, help).
PLAN_OPTIONS = (
    ("--max-workers", "max_workers", int, "workers 1..N (default: the CPUs this process may use)"),
    ("--ref-workers", "ref_workers", int,
     "workers of metricd and nginx for references, open loop and allocators (default: the largest)"),
    ("--reps", "reps", int, "interleaved repetitions per figure (default 3)"),
    ("--duration", "duration", float, "seconds per closed/open-loop run"),
    ("--warmup", "warmup", float, "seconds of warm-up before each run"),
    ("--ref-duration", "ref_duration", float, "seconds per reference run (wrk: whole seconds)"),
    ("--connections", "connections", int, "connections per run (default 64)"),
    ("--threads", "threads", int, "load generator threads (default 1)"),
    ("--work", "work_heavy", int, "the heavier work=K value (default 10000)"),
    ("--idle-seconds", "idle_s", float, "idle CPU window (default 10)"),
    ("--rss-connections", "rss_connections", int, "idle keep-alive connections for RSS (default 1000)"),
    ("--allocbench-sizes", "allocbench_sizes", str, "allocbench --sizes (default 24,64,256,1024)"),
    ("--allocbench-threads", "allocbench_threads", int, "allocbench --threads (default: CPUs, at least 4)"),
    ("--allocbench-ops", "allocbench_ops", int, "allocbench --ops (default 1000000)"),
    ("--flame-seconds", "flame_s", float, "perf record time per path for the flame graphs (default 3)"),
    ("--cflags", "cflags", str, "CFLAGS of the optimized build (default: -O2 -g)"),
)
RUN_EPILOG = "phases for --only:\n" + "\n".join(f"  {k:<11} {v}" for k, v in PHASES.items()) + """

One job each, as --only:
  tools/bench/run --only nginx          metricd next to nginx, blast and wrk,
                                        /metric-stack and /metric-heap
  tools/bench/run --only allocators     the stack and heap paths under glibc,
                                        jemalloc and mimalloc (heap/stack, p99,
                                        allocator ns per request)
  tools/bench/run --only allocbench     allocbench under each allocator
A run of some phases prints its report on stdout too.
See docs/BENCHMARKS.md for how to read the report."""


def new_results_dir(base, name):
    stamp = now_utc().strftime("%Y%m%d-%H%M%S")
    name = f"{stamp}-{name}" if name else stamp
    out = os.path.join(base, name)
    n = 1
    while os.path.exists(out):
        n += 1
        out = os.path.join(base, f"{name}.{n}")
    os.makedirs(out)
    latest = os.path.join(base, "latest")
    try:
        if os.path.islink(latest):
            os.unlink(latest)
        if not os.path.exists(latest):
            os.symlink(os.path.basename(out), latest)
    except OSError:
        pass
    return out


def _run_parser(doc):
    ap = argparse.ArgumentParser(prog="tools/bench/run", description=doc.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=RUN_EPILOG)
    m = ap.add_mutually_exclusive_group()
    m.add_argument("--quick", action="store_const", dest="mode", const="quick", help="about two minutes")
    m.add_argument("--ci", action="store_const", dest="mode", const="ci",
                   help="seconds, for CI (numbers not meaningful)")
    ap.add_argument("--only", help="only these phases, comma-separated (listed below)")
    ap.add_argument("--out", default=RESULTS,
                    help="results go to OUT/<timestamp>/ (default: bench/results in the source tree)")
    ap.add_argument("--bin-dir", help="use metricd, blast and allocbench from this build directory "
                                      "instead of building")
    ap.add_argument("--build-dir", default=os.path.join(RESULTS, ".build"),
                    help="where the optimized build goes (default: bench/results/.build)")
    ap.add_argument("--workers", help="explicit worker counts, e.g. 1,2,4")
    ap.add_argument("--no-references", action="store_true", help="skip nginx and wrk")
    for opt, _, typ, text in PLAN_OPTIONS:
        ap.add_argument(opt, type=typ, help=text)
    return ap


def _plan_from(args, mode):
    plan = default_plan(mode, len(os.sched_getaffinity(0)))
    for opt, key, _, _ in PLAN_OPTIONS:
        v = getattr(args, opt[2:].replace("-", "_"))
        if v is not None:
            plan[key] = v
    if args.workers:
        try:
            plan["workers"] = [int(x) for x in args.workers.split(",") if x]
        except ValueError:
            raise ValueError(f"--workers: '{args.workers}' is not a list like 1,2,4")
    if args.only:
        select_phases(plan, args.only)
    if args.no_references:
        plan["references"] = False
    if plan["max_workers"] < 1 or plan["reps"] < 1 or plan["duration"] <= 0:
        raise ValueError("--max-workers, --reps and --duration must be positive")
    return finish_plan(plan)


def missing_tools(plan):
    need = {}
    if "nginx" in plan["phases"]:
        need.update(nginx="nginx-light", wrk="wrk")
    return [pkg for tool, pkg in need.items()
            if not shutil.which(tool) and not os.path.exists(f"/usr/sbin/{tool}")]


def _binaries(args, plan, log):
    if args.bin_dir:
        bins = binaries_in(args.bin_dir)
        info = {"dir": os.path.abspath(args.bin_dir), "cflags": None, "reused": True,
                "note": "binaries from --bin-dir, not built by the bench"}
    else:
        bins, info = build(os.path.abspath(args.build_dir), plan["cflags"], log)
    info.update(describe_binaries(bins))
    return bins, info


def _measure(bench, log):
    try:
        return bench.run()
    except KeyboardInterrupt:
        log("interrupted; writing what was measured")
        bench.res["errors"].append("interrupted")
        return bench.res


def run(argv, doc):
    args = _run_parser(doc).parse_args(argv)
    mode = args.mode or "full"
    try:
        plan = _plan_from(args, mode)
    except ValueError as e:
        print(f"bench: {e}", file=sys.stderr)
        return 2
    install_cleanup()
    missing = missing_tools(plan)
    if missing:
        print(f"bench: missing {', '.join(missing)}: run tools/setup-deps --bench (as root)", file=sys.stderr)
        return 2
    name = "-".join(x for x in ("" if mode == "full" else mode, "+".join(plan["phases"]) if args.only else "") if x)
    os.makedirs(args.out, exist_ok=True)
    out = new_results_dir(args.out, name)
    log = Log(os.path.join(out, "run.log"))
    log(f"bench {mode} ({', '.join(plan['phases'])}): results in {out}")
    try:
        bins, build_info = _binaries(args, plan, log)
    except BenchError as e:
        log(f"ERROR {e}")
        return 2
    tool = "tools/bench/run" + ("" if mode == "full" else f" --{mode}") + (f" --only {args.only}" if args.only else "")
    bench = Bench(plan, bins, out, log, tool)
    bench.res["build"] = build_info
    return report.finish(_measure(bench, log), out, log, echo=bool(args.only))


def _scaling_parser(doc):
    ap = argparse.ArgumentParser(prog="tools/bench/scaling", description=doc.split("\n\n")[0])
    ap.add_argument("--bin-dir", help="directory with metricd, blast and allocbench (default: the tree's top, "
                                      "else its build-check/werror)")
    ap.add_argument("--out", default=RESULTS)
    ap.add_argument("--max-workers", type=int, help="workers 1..N (default: CPUs - 1, at most 15)")
    ap.add_argument("--duration", type=float, help="seconds per run (default 0.5)")
    ap.add_argument("--warmup", type=float, help="warm-up seconds per run (default 0.1)")
    ap.add_argument("--reps", type=int, help="interleaved repetitions (default 3)")
    ap.add_argument("--threads", type=int, help="load generator threads (default CPUs/4, at most 4)")
    ap.add_argument("--connections", type=int, help="connections (default 64 per load thread)")
    ap.add_argument("--work", type=int, help="the heavier work=K value (default 10000)")
    ap.add_argument("--acceptors", default="1,2,4",
                    help="shard counts: /metric-stack (pipelining 1 and 16) at every worker count W with "
                         "--acceptors N --workers W for each N <= W, next to nginx with W workers "
                         "(default 1,2,4; 0 or empty: none)")
    return ap


def _estimate(plan):
    est = sum(c["duration"] + c["warmup"] + 0.15 for c in closed_configs(plan, {"glibc": ""})) * plan["reps"]
    est += len(plan["open_paths"]) * len(plan["open_fractions"]) * plan["reps"] * \
        (plan["duration"] + plan["warmup"] + 0.15)
    return est + plan["idle_reps"] * (plan["idle_s"] + 2) + plan["rss_reps"] * 3 + 40


def scaling(argv, doc):
    args = _scaling_parser(doc).parse_args(argv)
    install_cleanup()
    dirs = [args.bin_dir] if args.bin_dir else [TOP, os.path.join(TOP, "build-check", "werror")]
    bindir = next((d for d in dirs if all(os.access(os.path.join(d, b), os.X_OK)
                                          for b in ("metricd", "blast", "allocbench"))), None)
    if bindir is None:
        print(f"scaling: no built metricd, blast and allocbench in {' or '.join(dirs)}; build first "
              "(tools/build-tree DIR) or pass --bin-dir", file=sys.stderr)
        return 2
    allowed = len(os.sched_getaffinity(0))
    plan = default_plan("scaling", allowed)
    for key in ("max_workers", "duration", "warmup", "reps", "threads", "connections"):
        if getattr(args, key) is not None:
            plan[key] = getattr(args, key)
    if args.work is not None:
        plan["work_heavy"] = args.work
    if args.duration is not None:
        plan["shard_duration"] = None
    try:
        plan["acceptors"] = sorted({int(x) for x in args.acceptors.split(",") if x.strip()} - {0}) or None
    except ValueError:
        print(f"scaling: --acceptors: '{args.acceptors}' is not a list like 1,2,4", file=sys.stderr)
        return 2
    if args.threads and not args.connections:
        plan["connections"] = 64 * args.threads
    plan["references"] = bool(shutil.which("nginx") and shutil.which("wrk"))
    finish_plan(plan)
    os.makedirs(args.out, exist_ok=True)
    out = new_results_dir(args.out, "scaling")
    log = Log(os.path.join(out, "run.log"))
    log(f"scaling: {allowed} CPUs, workers {plan['workers'][0]}..{plan['workers'][-1]}, "
        f"shards {','.join(map(str, plan['acceptors'] or [])) or 'none'}, "
        f"load generator -t{plan['threads']} -c{plan['connections']}; results in {out}")
    if not plan["references"]:
        log("nginx or wrk not installed: references skipped")
    bins = binaries_in(bindir)
    bench = Bench(plan, bins, out, log, "tools/bench/scaling")
    bench.res["build"] = dict(describe_binaries(bins), dir=os.path.abspath(bindir), cflags=None, reused=True,
                              note="binaries from the built tree, not built by the bench")
    log(f"estimated time: {_estimate(plan) / 60:.1f} min")
    res = _measure(bench, log)
    if not plan["references"]:
        res.setdefault("references", {})["skipped"] = "nginx or wrk not installed on this machine"
    return report.finish(res, out, log)


def report_again(argv, doc):
    ap = argparse.ArgumentParser(prog="tools/bench/report", description=doc.split("\n\n")[0])
    ap.add_argument("results", help="a results directory or its results.json")
    ap.add_argument("--out", help="write report.md and charts/ here (default: beside results.json)")
    args = ap.parse_args(argv)
    path = os.path.join(args.results, "results.json") if os.path.isdir(args.results) else args.results
    with open(path) as f:
        got = json.load(f)
    res = upgrade(got)
    if res is None:
        print(f"report: {path}: schema {got.get('schema')!r}, expected {SCHEMA!r}", file=sys.stderr)
        return 2
    out = args.out or os.path.dirname(os.path.abspath(path))
    os.makedirs(out, exist_ok=True)
    res["targets"] = report.evaluate(res)
    report.write_report(res, out, lambda m: print(m, file=sys.stderr))
    if os.path.abspath(out) == os.path.dirname(os.path.abspath(path)):
        write_json(path, res)
    print(os.path.join(out, "report.md"))
    return 0
