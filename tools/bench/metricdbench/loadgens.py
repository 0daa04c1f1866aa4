# SPDX-License-Identifier: BSD-2-Clause
"""tools/bench/blast-vs-wrk: the load generators side by side, interleaved,
on this machine (client and server share it).  Per run: responses/s and the
client's CPU per request (user + system of the client process)."""

import argparse
import json
import os
import statistics
import sys
import shutil
import tempfile

from .build import binaries_in, build
from .cli import RESULTS
from .common import BenchError, Log
from .loads import blast_result, timed_client, wrk_parse, wrk_script
from .machine import machine_line
from .procs import install_cleanup
from .sample import proc_cpu_s
from .servers import Metricd, Nginx, RefServer

BODY = '{"id":1,"timestamp":1700000000000000000,"value":0.123456}'
SCENARIOS = ("ref", "ref-p16", "tls", "metricd")


def start_server(scenario, bins):
    """The scenario's server and the URL its clients load."""
    if scenario in ("ref", "ref-p16"):
        srv = RefServer(bins["refserver"]).start()
        return srv, f"http://127.0.0.1:{srv.port}/"
    if scenario == "tls":
        # nginx's default keepalive_requests: both clients reconnect (a TLS
        # handshake) every 1000 requests, as tools/blast/README.md says.
        srv = Nginx(2, BODY, tls=True, keepalive_requests=1000).start()
        return srv, f"https://127.0.0.1:{srv.port}/"
    srv = Metricd(bins["metricd"], os.cpu_count() or 2).start()
    return srv, f"http://127.0.0.1:{srv.port}/metric-stack?id=1"


def parse_wrk(out):
    r = wrk_parse(out)
    return (r["rps"], r.get("responses")) if r else (None, None)


def parse_blast(out):
    r = blast_result(out)
    return (r["rps"], r["responses"]) if r else (None, None)


def clients(scenario, blast, url, dur, lua):
    common = ["-t1", "-c64", f"-d{dur}s"]
    if scenario == "ref-p16":
        return [("wrk", ["wrk", *common, "-s", lua, url], parse_wrk),
                ("blast", [blast, "-q", "--json", *common, "--pipeline", "16", url], parse_blast)]
    extra = ["-k"] if url.startswith("https") else []
    out = [("wrk", ["wrk", *common, url], parse_wrk),
           ("blast", [blast, "-q", "--json", *common, *extra, url], parse_blast)]
    if scenario == "metricd":
        out.append(("blast --busy-poll 0", [blast, "-q", "--json", "--busy-poll", "0", *common, url], parse_blast))
    return out


def one_run(srv, scenario, rep, name, args, parse, dur):
    s0 = proc_cpu_s(srv.pid)
    out, rc, user, kernel = timed_client(args, dur + 30)
    cpu = user + kernel
    s1 = proc_cpu_s(srv.pid)
    rps, n = parse(out)
    print(f"  {scenario} rep {rep} {name}: {rps} req/s, client CPU {cpu:.2f} s", file=sys.stderr, flush=True)
    return {"rep": rep, "client": name, "command": " ".join(args), "rps": rps, "responses": n,
            "client_cpu_s": round(cpu, 3), "cpu_us_per_req": round(cpu / n * 1e6, 3) if n else None,
            "client_kernel_s": round(kernel, 3),
            "kernel_us_per_req": round(kernel / n * 1e6, 3) if n else None,
            "server_cpu_s": round(s1 - s0, 3) if s0 is not None and s1 is not None else None}


def run_scenario(scenario, bins, dur, reps, lua):
    srv, url = start_server(scenario, bins)
    rows = []
    try:
        for rep in range(1, reps + 1):
            for name, args, parse in clients(scenario, bins["blast"], url, dur, lua):
                rows.append(one_run(srv, scenario, rep, name, args, parse, dur))
    finally:
        srv.stop()
    return {"scenario": scenario, "url": url, "runs": rows}


def median(rows, client, key):
    v = [r[key] for r in rows if r["client"] == client and r[key] is not None]
    return statistics.median(v) if v else None


def _ratios(by):
    w, b = by.get("wrk", {}), by.get("blast", {})
    rps = b["rps"] / w["rps"] if w.get("rps") and b.get("rps") else None
    cpu = (b["cpu_us_per_req"] / w["cpu_us_per_req"]
           if w.get("cpu_us_per_req") and b.get("cpu_us_per_req") else None)
    return rps, cpu


def _cpu_cell(cpu, kernel):
    """Client CPU per request, and in brackets the part spent in the kernel
    (its send and receive system calls: a floor no client goes below with
    the same calls)."""
    return f"{cpu or 0:.2f} ({kernel:.2f})" if kernel is not None else f"{cpu or 0:.2f}"


def table(sc):
    """One Markdown table: a row per repetition, then the medians."""
    rows = sc["runs"]
    names = list(dict.fromkeys(r["client"] for r in rows))
    lines = [f"### {sc['scenario']} ({sc['url']})\n",
             "| rep | " + " | ".join(f"{n} req/s | {n} CPU µs/req (kernel)" for n in names) + " | blast/wrk req/s | "
             "blast/wrk CPU |", "|---" * (2 * len(names) + 3) + "|"]
    ratios, cratios = [], []
    for rep in sorted({r["rep"] for r in rows}):
        by = {r["client"]: r for r in rows if r["rep"] == rep}
        cells = [c for n in names for c in (f"{by.get(n, {}).get('rps') or 0:,.0f}",
                                            _cpu_cell(by.get(n, {}).get('cpu_us_per_req'),
                                                      by.get(n, {}).get('kernel_us_per_req')))]
        rps, cpu = _ratios(by)
        ratios += [rps] if rps else []
        cratios += [cpu] if cpu else []
        lines.append(f"| {rep} | " + " | ".join(cells) + f" | {rps or 0:.2f} | {cpu or 0:.2f} |")
    med = " | ".join(f"{median(rows, n, 'rps') or 0:,.0f} | "
                     + _cpu_cell(median(rows, n, 'cpu_us_per_req'), median(rows, n, 'kernel_us_per_req'))
                     for n in names)
    lines.append(f"| median | {med} | {statistics.median(ratios) if ratios else 0:.2f} | "
                 f"{statistics.median(cratios) if cratios else 0:.2f} |")
    return "\n".join(lines) + "\n"


def binaries(a):
    if a.build:
        return binaries_in(a.build)
    return build(os.path.join(RESULTS, ".build"), "-O2 -g", Log())[0]


def main(argv, doc):
    ap = argparse.ArgumentParser(prog="tools/bench/blast-vs-wrk", description=doc.split("\n\n")[0])
    ap.add_argument("--build", help="a build directory with blast, metricd and tools/bench/refserver "
                                    "(default: the bench's optimized build, made with tools/build-tree)")
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--scenarios", default=",".join(SCENARIOS))
    ap.add_argument("--json")
    a = ap.parse_args(argv)
    install_cleanup()
    for tool in ("wrk", "nginx", "openssl"):
        if not shutil.which(tool):
            print(f"blast-vs-wrk: {tool} is missing (tools/setup-deps installs it)", file=sys.stderr)
            return 2
    try:
        bins = binaries(a)
    except BenchError as e:
        print(f"blast-vs-wrk: {e}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="blast-vs-wrk.") as tmp:
        lua = wrk_script(tmp, 16)
        results = [run_scenario(sc, bins, a.duration, a.reps, lua) for sc in a.scenarios.split(",")]
    machine = f"{machine_line()}; client and server share it"
    print(f"Machine: {machine}\n")
    print("\n".join(table(sc) for sc in results))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"machine": machine, "duration_s": a.duration, "reps": a.reps, "results": results}, f, indent=1)
    return 0
