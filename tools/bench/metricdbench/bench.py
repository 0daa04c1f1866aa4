# SPDX-License-Identifier: BSD-2-Clause
"""A run: its phases in order into one results dict, and the load phases -
closed loop (the matrix, the allocators, the references), open loop and
the server's own counters per run - measured interleaved."""

import os
import re
import time
import traceback

from . import perf, phases, targets
from .common import ALL_PATHS, CLOSED_PCTS, OPEN_PCTS, PAIRS, SCHEMA, BenchError, iso, now_utc, summary
from .loads import blast_run, wrk_run
from .machine import installed_allocators, machine_info
from .plan import LOAD_PHASES, cfg_key
from .procs import http_get
from .runs import summarize_runs, summary_index
from .sample import host_delta, host_snapshot, loadavg
from .servers import STAT_KEYS, Metricd, Nginx, stats_delta

# metricd's CPU time per request from /proc: all, user, system.
CPU_KEYS = ("server_cpu_us_per_request", "server_user_us_per_request", "server_sys_us_per_request")
# The closed-loop groups and the results section each goes to.
GROUP_SECTIONS = (("matrix", "closed_loop"), ("allocators", "allocators"), ("references", "references"),
                  ("shards", "shards"))


class Bench:
    def __init__(self, plan, bins, out, log, tool):
        self.plan, self.bins, self.out, self.log, self.tool = plan, bins, out, log, tool
        self.raw = os.path.join(out, "raw")
        self.logs = os.path.join(out, "logs")
        os.makedirs(self.raw, exist_ok=True)
        os.makedirs(self.logs, exist_ok=True)
        self.servers = {}
        self.res = {"schema": SCHEMA, "mode": plan["mode"], "tool": tool,
                    "started_utc": iso(now_utc()), "warnings": [], "errors": [],
                    "timing": {}, "load": {}}
        self.allocators = {}
        self.t0 = time.monotonic()

    def warn(self, msg):
        self.log("warning: " + msg)
        self.res["warnings"].append(msg)

    def phase(self, name, fn):
        """Runs one phase; its error is recorded and the others still run."""
        self.log(f"== {name}")
        t = time.monotonic()
        self.res["load"][name + "_start"] = loadavg()
        try:
            fn()
        except Exception as e:
            msg = f"{name}: {e}" if isinstance(e, (BenchError, OSError)) else f"{name}: {e!r}"
            self.log("ERROR " + msg)
            if not isinstance(e, BenchError):
                self.log(traceback.format_exc().rstrip())
            self.res["errors"].append(msg)
            sec = self.res.setdefault(name, {})
            if isinstance(sec, dict):
                sec["error"] = str(e)
        self.res["timing"][name] = round(time.monotonic() - t, 1)
        self.res["load"][name + "_end"] = loadavg()

    def run(self):
        plan, want = self.plan, self.plan["phases"]
        self.res["machine"] = machine_info()
        self.res["settings"] = plan
        self.allocators = installed_allocators(self.warn)
        plan["allocator_libs"] = {a: (p or "(glibc malloc)") for a, p in self.allocators.items()}
        for name, section, fn in (("allocbench", "allocbench", phases.allocbench),
                                  ("idle", "idle_cpu", phases.idle_cpu),
                                  ("rss", "rss_per_connection", phases.rss_per_connection)):
            if name in want:
                self.phase(section, lambda fn=fn: fn(self))
        if any(p in want for p in LOAD_PHASES):
            self.run_load_phases()
        else:
            self.res["targets"] = targets.evaluate(self.res)
        self.note_skipped_references()
        self.res["finished_utc"] = iso(now_utc())
        self.res["elapsed_s"] = round(time.monotonic() - self.t0, 1)
        self.res["machine"]["loadavg_at_end"] = loadavg()
        return self.res

    def run_load_phases(self):
        want = self.plan["phases"]
        try:
            self.phase("servers", self.start_servers)
            self.phase("closed_loop", self.do_closed)
            if "open" in want:
                self.phase("open_loop", self.do_open)
            self.phase("server_stats", self.do_server_stats)
            self.res["targets"] = targets.evaluate(self.res)
            if "perf" in want:
                self.phase("perf", lambda: perf.profile_missed(self))
            if "flame" in want:
                self.phase("flame", lambda: perf.flame_graphs(self))
        finally:
            self.stop_servers()

    def note_skipped_references(self):
        refs = self.res.setdefault("references", {})
        if "nginx" not in self.plan["phases"] and "error" not in refs:
            refs["skipped"] = ("references disabled (--no-references)" if not self.plan["references"]
                               else "not measured in this run (--only)")

    # -- servers for the load phases ---------------------------------

    def metricd(self, workers, alloc="glibc", extra=(), acceptors=None):
        if acceptors:
            extra = ("--acceptors", str(acceptors), *extra)
        m = Metricd(self.bins["metricd"], workers, alloc, self.allocators.get(alloc) or None, self.logs, extra)
        m.acceptors = acceptors
        if acceptors:
            m.name += f"-a{acceptors}"
        return m.start()

    def start_servers(self):
        plan, want = self.plan, self.plan["phases"]
        wr = plan["ref_workers"]
        for w in (plan["workers"] if "matrix" in want else [wr]):
            self.servers[("metricd", "glibc", w)] = self.metricd(w)
        if "allocators" in want:
            for a in self.allocators:
                if a != "glibc":
                    self.servers[("metricd", a, wr)] = self.metricd(wr, a)
        for w, n in shard_servers(plan):
            self.servers[("metricd", "glibc", w, n)] = self.metricd(w, acceptors=n)
        if "nginx" in want:
            for w in ([wr] + [w for w in plan["workers"] if w != wr] if plan.get("acceptors") else [wr]):
                self.start_nginx(w)
        self.res["servers"] = {"list": [s.describe() for s in self.servers.values()]}
        for s in self.servers.values():
            self.log(f"started {s.describe()['name']} on 127.0.0.1:{s.port}")

    def start_nginx(self, workers):
        if "nginx" not in self.plan["phases"]:
            return
        ref = self.servers[("metricd", "glibc", self.plan["ref_workers"])]
        status, body = http_get(ref.port, "/metric-stack?id=1")
        try:
            self.servers[("nginx", None, workers)] = Nginx(workers, body.decode()).start()
        except BenchError as e:
            # Measure everything else; the references section carries the error.
            self.plan["phases"].remove("nginx")
            self.res["references"] = {"error": str(e)}
            self.res["errors"].append(f"references: {e}")
            self.log(f"ERROR references: {e}")

    def stop_servers(self):
        snaps = {}
        for s in list(self.servers.values()):
            if isinstance(s, Metricd) and s.proc and s.proc.poll() is None:
                try:
                    snaps[s.name] = s.stats()
                except (OSError, ValueError, BenchError):
                    pass
            rc = s.stop()
            if isinstance(s, Metricd) and rc not in (0, None):
                self.warn(f"{s.name} exited with status {rc} (log {s.log_path})")
        self.servers.clear()
        if snaps and isinstance(self.res.get("server_stats"), dict):
            self.res["server_stats"]["final_snapshots"] = snaps

    def server_for(self, c):
        if c["target"] == "nginx":
            return self.servers[("nginx", None, c["workers"])]
        key = ("metricd", c["alloc"], c["workers"]) + ((c["acceptors"],) if c.get("acceptors") else ())
        srv = self.servers[key]
        if srv.proc.poll() is not None:
            self.warn(f"{srv.name} died (exit {srv.proc.returncode}); restarting it")
            self.servers[key] = srv = self.metricd(srv.workers, srv.allocator, acceptors=srv.acceptors)
        return srv

    # -- one measurement ---------------------------------------------

    def load(self, c, url, name):
        plan = self.plan
        if c["tool"] == "blast":
            return blast_run(self.bins["blast"], url, threads=plan["threads"], conns=plan["connections"],
                             duration=c["duration"], warmup=c["warmup"], pipeline=c["pipeline"],
                             rate=c.get("rate"), pcts=OPEN_PCTS if c.get("rate") else CLOSED_PCTS,
                             raw_path=os.path.join(self.raw, name + ".json"),
                             series_path=os.path.join(self.raw, name + ".series.csv"))
        return wrk_run(url, threads=plan["threads"], conns=plan["connections"], duration=c["duration"],
                       pipeline=c["pipeline"], scriptdir=self.raw, raw_path=os.path.join(self.raw, name + ".txt"))

    def measure(self, c, rep, idx, total, label):
        srv = self.server_for(c)
        url = srv.url(c["path"], c["work"])
        before = srv.stats() if isinstance(srv, Metricd) else None
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", cfg_key(c)) + f".rep{rep}"
        t_start = time.time()
        h0 = host_snapshot(srv.pid)
        r = self.load(c, url, name)
        r["host"] = host_delta(h0, host_snapshot(srv.pid))
        expect = c["duration"] + c["warmup"] if c["tool"] == "blast" else max(1, int(round(c["duration"])))
        r["stalled"] = (r.get("wall_s") or 0) > 1.5 * expect + 0.5
        if before is not None:
            try:
                r["server"] = stats_delta(before, srv.stats(), c["path"])
            except (OSError, ValueError, BenchError) as e:
                r["server"], r["server_error"] = None, str(e)
        # The server's own CPU time per request (all its threads, user+sys,
        # from /proc): unlike req/s, it barely moves when other processes
        # take CPUs away, so it compares the two paths on a shared machine.
        nreq = (r.get("server") or {}).get("requests") or (r.get("responses") if not c["warmup"] else None)
        if r.get("host") and nreq:
            r["server_cpu_us_per_request"] = r["host"]["server_cpu_s"] * 1e6 / nreq
            r["server_user_us_per_request"] = r["host"]["server_user_s"] * 1e6 / nreq
            r["server_sys_us_per_request"] = r["host"]["server_sys_s"] * 1e6 / nreq
        if not r.get("ok"):
            self.warn(f"{cfg_key(c)} rep {rep + 1}: {r.get('error', 'no responses')}")
        entry = dict(c, key=cfg_key(c), rep=rep, url=url, started=round(t_start, 3), result=r)
        self.log(f"[{label} {idx}/{total}] rep {rep + 1} {cfg_key(c)}: {progress(c, r)}")
        return entry

    def interleave(self, cfgs, label):
        runs = []
        total = len(cfgs) * self.plan["reps"]
        for rep in range(self.plan["reps"]):
            for c in (cfgs if rep % 2 == 0 else cfgs[::-1]):
                runs.append(self.measure(c, rep, len(runs) + 1, total, label))
        return runs

    # -- the load phases -----------------------------------------------

    def do_closed(self):
        cfgs = closed_configs(self.plan, self.allocators)
        est = sum(c["duration"] + c["warmup"] + 0.3 for c in cfgs) * self.plan["reps"]
        self.log(f"closed loop: {len(cfgs)} configurations x {self.plan['reps']} interleaved repetitions "
                 f"(about {est / 60:.1f} min)")
        runs = self.interleave(cfgs, "closed")
        for group, name in GROUP_SECTIONS:
            rs = [r for r in runs if r["group"] == group]
            if rs:
                prev = self.res.get(name) if isinstance(self.res.get(name), dict) else {}
                self.res[name] = dict(prev, runs=rs, summary=summarize_runs(rs))
        nginx = self.servers.get(("nginx", None, self.plan["ref_workers"]))
        if nginx:
            self.res["references"]["nginx"] = nginx.describe()

    def do_open(self):
        p = self.plan
        cfgs = open_configs(p, summary_index(self.res, "closed_loop"), self.warn)
        runs = self.interleave(cfgs, "open")
        self.res["open_loop"] = {"workers": p["ref_workers"], "pipeline": 1, "connections": p["connections"],
                                 "percentiles": OPEN_PCTS, "corrected": True,
                                 "runs": runs, "summary": summarize_runs(runs)}

    def do_server_stats(self):
        groups = {}
        for name in ("closed_loop", "allocators"):
            for r in (self.res.get(name) or {}).get("runs", []):
                if r["target"] != "metricd" or not r["result"].get("server"):
                    continue
                d = dict(r["result"]["server"])
                for k in CPU_KEYS:
                    d[k] = r["result"].get(k)
                groups.setdefault((r["alloc"], r["workers"], r["path"], r["pipeline"], r["work"]), []).append(d)
        order = sorted(groups, key=lambda k: (k[0] != "glibc", k[0], k[1], ALL_PATHS.index(k[2]), k[3], k[4]))
        self.res["server_stats"] = {"source": "GET /stats before and after each run (differences)",
                                    "summary": [server_stats_row(k, groups[k]) for k in order]}


def progress(c, r):
    rps = r.get("rps")
    text = "FAILED" if rps is None else f"{round(rps):,} rps"
    if r.get("server"):
        text += f" allocs/req {r['server'].get('allocs_per_request', 0):.2f}"
    if c.get("rate"):
        text += f" p99 {(r.get('latency_us') or {}).get('p99', float('nan')):.0f}us"
    return text


def server_stats_row(key, ds):
    alloc, w, path, pl, work = key
    row = {"allocator": alloc, "workers": w, "path": path, "pipeline": pl, "work": work,
           "requests": sum(d["requests"] for d in ds)}
    for k in STAT_KEYS + CPU_KEYS:
        row[k] = summary([d.get(k) for d in ds])
    cpu = row["server_cpu_us_per_request"]["median"]
    ns = row["allocator_ns_per_request"]["median"]
    row["allocator_share_of_cpu"] = (ns / (cpu * 1000)) if cpu and ns is not None else None
    tot = row["requests"]
    row["overall"] = {k: (sum(d[f] for d in ds) / tot if tot else None) for k, f in (
        ("allocs_per_request", "allocs"), ("cross_thread_frees_per_request", "cross_thread_frees"),
        ("allocator_ns_per_request", "allocator_ns"))}
    return row


def _metricd_cfg(base, group, alloc, workers, path, pipeline, work):
    return dict(base, group=group, tool="blast", target="metricd", alloc=alloc, workers=workers,
                path=path, pipeline=pipeline, work=work)


def matrix_configs(p, base):
    """Every worker count and pipelining depth: /metric-* at work=0 (and
    the heavy work where asked), /stats-* where asked."""
    cfgs = []
    for w in p["workers"]:
        for pl in p["pipelines"]:
            works = [0]
            if p["work_heavy"] and w in p["heavy_workers"] and pl in p.get("heavy_pipelines", p["pipelines"]):
                works.append(p["work_heavy"])
            for work in works:
                cfgs += [_metricd_cfg(base, "matrix", "glibc", w, path, pl, work) for path in PAIRS["metric"]]
            if pl in p["stats_pipelines"]:
                cfgs += [_metricd_cfg(base, "matrix", "glibc", w, path, pl, 0) for path in PAIRS["stats"]]
    return cfgs


def reference_configs(p):
    """nginx and metricd, blast and wrk, side by side."""
    rb = {"duration": p["ref_duration"], "warmup": 0.0}
    rbb = {"duration": p.get("ref_blast_duration") or p["ref_duration"], "warmup": 0.0}
    cfgs = []
    for pl in p["ref_pipelines"]:
        seq = [("blast", "nginx", "/metric-stack"), ("blast", "metricd", "/metric-stack"),
               ("wrk", "metricd", "/metric-stack"), ("wrk", "nginx", "/metric-stack")]
        for path in p["ref_metricd_paths"]:
            if path != "/metric-stack":
                if path in p["ref_wrk_paths"]:
                    seq.append(("wrk", "metricd", path))
                seq.append(("blast", "metricd", path))
        for tool, target, path in seq:
            cfgs.append(dict(rbb if tool == "blast" else rb, group="references", tool=tool, target=target,
                             alloc="glibc" if target == "metricd" else None,
                             workers=p["ref_workers"], path=path, pipeline=pl, work=0))
    return cfgs


def closed_configs(p, allocators):
    """The closed-loop configurations of the phases asked for, in the order
    they run within a repetition."""
    want = p["phases"]
    base = {"duration": p["duration"], "warmup": p["warmup"]}
    wr = p["ref_workers"]
    if "matrix" in want:
        cfgs = matrix_configs(p, base)
    elif "open" in want:
        # The open loop's rates are fractions of these maxima.
        cfgs = [_metricd_cfg(base, "matrix", "glibc", wr, path, 1, 0) for path in p["open_paths"]]
    else:
        cfgs = []
    if "allocators" in want and len(allocators) > 1:
        cfgs += [_metricd_cfg(base, "allocators", a, wr, path, pl, 0)
                 for pl in p["alloc_pipelines"] for a in allocators for path in p["alloc_paths"]]
    if "matrix" in want:
        cfgs += shard_configs(p, "nginx" in want)
    if "nginx" in want:
        cfgs += reference_configs(p)
    return cfgs


def shard_servers(p):
    """(workers, acceptors) of each metricd the shard runs need: every
    shard count with every worker count that gives each shard a worker."""
    if "matrix" not in p["phases"]:
        return []
    return [(w, n) for w in p["workers"] for n in p.get("acceptors") or () if w >= n]


def shard_configs(p, with_nginx):
    """/metric-stack, pipelining 1 and 16, at every worker count: metricd
    with each shard count (--acceptors N --workers W), and nginx with the
    same number of workers, side by side."""
    base = {"duration": p.get("shard_duration") or p["duration"], "warmup": p["warmup"]}
    cfgs = []
    for w in (p["workers"] if p.get("acceptors") else ()):
        for pl in p["shard_pipelines"]:
            if with_nginx:
                cfgs.append(dict(base, group="shards", tool="blast", target="nginx", alloc=None, workers=w,
                                 path="/metric-stack", pipeline=pl, work=0))
            cfgs += [dict(_metricd_cfg(base, "shards", "glibc", w, "/metric-stack", pl, 0), acceptors=n)
                     for w2, n in shard_servers(p) if w2 == w]
    return cfgs


def open_configs(p, closed, warn):
    """blast -R at each fraction of the slower path's closed-loop max,
    the stack and the heap path of a pair at the same offered rate, side
    by side: their latencies are then comparable point by point."""
    cfgs = []
    for pair in PAIRS.values():
        paths = [x for x in pair if x in p["open_paths"]]
        base = {x: dict(group="matrix", tool="blast", target="metricd", alloc="glibc",
                        workers=p["ref_workers"], path=x, pipeline=1, work=0) for x in paths}
        maxima = {x: (closed.get(cfg_key(base[x])) or {}).get("rps", {}).get("median") for x in paths}
        if not paths or not all(maxima.values()):
            if paths:
                warn(f"open loop: no closed-loop max rate for {', '.join(x for x in paths if not maxima[x])}; "
                     f"{' and '.join(paths)} skipped")
            continue
        slower = min(maxima.values())
        for fr in p["open_fractions"]:
            for x in paths:
                cfgs.append(dict(base[x], group="open", fraction=fr, max_rps=slower, own_max_rps=maxima[x],
                                 rate=int(fr * slower), duration=p["duration"], warmup=p["warmup"]))
    cfgs.sort(key=lambda c: (c["fraction"], ALL_PATHS.index(c["path"])))
    return cfgs
