# SPDX-License-Identifier: BSD-2-Clause
"""What a run measures: durations and sizes per mode, and the phases.

A run is a plan executed phase by phase into one results dict.  Every
figure is measured `reps` times, interleaved: all configurations of a phase
run once in a fixed order, then again in the reverse order, and so on, so
that a comparison (stack vs heap, metricd vs nginx, blast vs wrk, glibc vs
jemalloc) is measured side by side in time and each figure is the median
of the repetitions, with min and max."""

import sys

from .common import ALL_PATHS, PAIRS

# The phases, in the order a run takes them; `run --only` picks some.
PHASES = {
    "allocbench": "allocbench under glibc, jemalloc and mimalloc (ns per operation)",
    "idle": "idle CPU of metricd",
    "rss": "RSS per idle keep-alive connection",
    "matrix": "closed loop: every path, pipelining and worker count; GET /stats per run",
    "open": "open-loop latency, stack and heap at the same rate: 50% and 80% of the slower one's max",
    "allocators": "the stack and heap paths under each allocator (LD_PRELOAD)",
    "nginx": "nginx and wrk next to metricd and blast (references)",
    "perf": "a profile when a target is missed",
    "flame": "flame graphs of the stack and the heap path under load (perf record), when perf works",
}
# The phases that load a running server, measured interleaved (flame:
# after them, on the same servers).
LOAD_PHASES = ("matrix", "open", "allocators", "nginx", "flame")


def _base(mode, allowed):
    return {
        "mode": mode,
        "phases": list(PHASES),
        "reps": 3,
        "threads": 1,              # blast/wrk threads
        "connections": 64,
        "pipelines": [1, 16],
        "work_heavy": 10000,       # logistic-map iterations per request
        "max_workers": allowed,
        "workers": None,           # filled in: 1..max_workers
        "ref_workers": None,       # metricd and nginx workers for references/open loop/allocators
        "heavy_workers": None,     # worker counts measured with work_heavy (None: all)
        "stats_pipelines": [1, 16],
        "open_fractions": [0.5, 0.8],
        "open_paths": list(ALL_PATHS),
        "alloc_paths": list(PAIRS["metric"]),
        "alloc_pipelines": [1, 16],
        "references": True,
        "acceptors": None,         # shard counts for the shard runs (scaling); None: none
        "shard_pipelines": [1, 16],
        "shard_duration": None,    # seconds per shard run (None: duration)
        "ref_pipelines": [1, 16],
        "ref_metricd_paths": list(PAIRS["metric"]),
        "ref_wrk_paths": list(PAIRS["metric"]),
        "idle_reps": 3,
        "idle_s": 10.0,
        "idle_settle_s": 1.0,
        "rss_settle_s": 0.5,
        "rss_reps": 3,
        "rss_connections": 1000,
        "allocbench_sizes": "24,64,256,1024",
        "allocbench_threads": max(4, allowed),
        "allocbench_ops": 1000000,
        "perf_s": 5.0,
        "flame_s": 3.0,            # seconds of perf record per path
        "flame_pipeline": 16,      # where the allocator's share is largest
        "cflags": "-O2 -g",
    }


def default_plan(mode, allowed):
    """Durations and sizes per mode.  ci: seconds; quick: about two
    minutes; full: the real thing (about 15 minutes on 2 CPUs); scaling: a
    16-CPU machine."""
    p = _base(mode, allowed)
    if mode == "full":
        p.update(duration=4.0, warmup=1.0, ref_duration=5.0)
    elif mode == "quick":
        p.update(duration=0.4, warmup=0.1, ref_duration=1.0, idle_s=2.0, idle_settle_s=0.5,
                 rss_settle_s=0.3, allocbench_ops=200000, perf_s=2.0, flame_s=1.0, heavy_workers="max",
                 ref_wrk_paths=["/metric-stack"])
    elif mode == "ci":
        # wrk cannot run under 1 s; blast's reference runs keep the short
        # duration so the whole run stays well under a minute.
        p.update(duration=0.15, warmup=0.0, ref_duration=1.0, ref_blast_duration=0.15, idle_s=0.5,
                 idle_settle_s=0.3, rss_settle_s=0.2, rss_connections=1000,
                 stats_pipelines=[16], open_paths=list(PAIRS["metric"]), heavy_workers="max",
                 allocbench_ops=20000, allocbench_sizes="64,1024", allocbench_threads=3,
                 perf_s=1.0, flame_s=0.5, ref_wrk_paths=["/metric-stack"], ref_metricd_paths=["/metric-stack"],
                 max_workers=min(allowed, 2))
    elif mode == "scaling":
        # Workers 1..15.  Heavy work is measured without pipelining only
        # (with 64 connections per load thread there are enough requests
        # in flight), /stats-* with pipelining 16 only.
        t = max(1, min(4, allowed // 4))
        p.update(duration=0.5, warmup=0.1, ref_duration=1.0, threads=t, connections=64 * t,
                 max_workers=max(1, min(15, allowed - 1)), heavy_pipelines=[1], stats_pipelines=[16],
                 idle_s=5.0, allocbench_ops=300000, allocbench_threads=max(2, min(8, allowed)),
                 perf_s=3.0, ref_wrk_paths=["/metric-stack"], open_paths=list(PAIRS["metric"]),
                 acceptors=[1, 2, 4], shard_duration=0.35)
    else:
        raise ValueError(mode)
    return p


def select_phases(p, only):
    """Keeps the phases named in `only` (a comma-separated list); a run of
    some phases alone compares what the old one-job scripts compared: nginx
    with wrk on both paths."""
    names = [x for x in only.split(",") if x]
    unknown = [x for x in names if x not in PHASES]
    if unknown or not names:
        raise ValueError(f"--only: unknown phase(s) {', '.join(unknown) or '(none)'}; "
                         f"known: {', '.join(PHASES)}")
    p["phases"] = [x for x in PHASES if x in names]
    p["only"] = True
    p["ref_metricd_paths"] = p["ref_wrk_paths"] = list(PAIRS["metric"])
    return p


def finish_plan(p):
    if not p.get("workers"):
        p["workers"] = list(range(1, p["max_workers"] + 1))
    p["workers"] = sorted(set(int(w) for w in p["workers"]))
    if not p.get("ref_workers"):
        p["ref_workers"] = max(p["workers"])
    if p["ref_workers"] not in p["workers"]:
        p["workers"] = sorted(p["workers"] + [p["ref_workers"]])
    if p.get("heavy_workers") is None:
        p["heavy_workers"] = list(p["workers"])
    elif p["heavy_workers"] == "max":
        p["heavy_workers"] = [max(p["workers"])]
    if not p["references"] and "nginx" in p["phases"]:
        p["phases"].remove("nginx")
    if p["reps"] < 3:
        print(f"bench: warning: --reps {p['reps']}: figures are medians of fewer than 3 repetitions",
              file=sys.stderr)
    return p


def cfg_key(c):
    """The name of one measured configuration, the same in every repetition."""
    k = f"{c['group']}:{c['tool']}:{c['target']}"
    if c["target"] == "metricd":
        k += f":{c['alloc']}"
    k += f":w{c['workers']}"
    if c.get("acceptors"):
        k += f":a{c['acceptors']}"
    k += f":{c['path']}:p{c['pipeline']}:k{c['work']}"
    if c.get("fraction") is not None:
        k += f":r{c['fraction']:g}"
    return k
