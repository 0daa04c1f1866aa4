# SPDX-License-Identifier: BSD-2-Clause
"""The load generators: blast (its --json output) and wrk (its text
output, pipelining through a Lua script), each run bounded in time."""

import json
import os
import re

from .common import CLOSED_PCTS, fmt_duration, pct_key
from .procs import run_bounded

WRK_PIPELINE_LUA = """-- wrk: send {n} requests per write (HTTP pipelining)
init = function(args)
   local r = {{}}
   for i = 1, {n} do r[i] = wrk.format(nil) end
   req = table.concat(r)
end
request = function() return req end
"""


def wrk_script(scriptdir, pipeline):
    """The Lua script that makes wrk pipeline `pipeline` requests per write."""
    script = os.path.join(scriptdir, f"pipeline{pipeline}.lua")
    if not os.path.exists(script):
        with open(script, "w") as f:
            f.write(WRK_PIPELINE_LUA.format(n=pipeline))
    return script


def blast_result(out):
    """The first result of blast --json output, or None."""
    try:
        return json.loads(out)["results"][0]
    except (ValueError, KeyError, IndexError, TypeError):
        return None


def _blast_fields(r, rate):
    lat = r.get("latency", {})
    res = dict(rps=r.get("rps"), requests=r.get("requests"), responses=r.get("responses"),
               elapsed_s=r.get("elapsed_s"), errors=r.get("errors_total"),
               error_kinds=r.get("errors"), status=r.get("status"),
               status_other=r.get("status_other"), unfinished=r.get("unfinished"),
               connects=r.get("connects"), reconnects=r.get("reconnects"),
               latency_us=lat.get("percentiles_us"), latency_mean_us=lat.get("mean_us"),
               latency_max_us=lat.get("max_us"))
    if rate:
        unc = r.get("latency_uncorrected", {})
        res.update(target_rate=r.get("target_rate"), rate_achieved=r.get("rate_achieved"),
                   late_sends=r.get("late_sends"), backlog=r.get("backlog"),
                   send_lag_max_ns=r.get("send_lag_max_ns"),
                   latency_uncorrected_us=unc.get("percentiles_us"))
    return res


def read_series(path, elapsed_s):
    """blast --csv-series: requests/s in each second of the measured window
    (the last second may be partial: its rate is over what it lasted)."""
    rows = []
    try:
        with open(path) as f:
            for line in f.readlines()[1:]:
                parts = line.rstrip("\n").rsplit(",", 5)
                if len(parts) == 6:
                    rows.append((int(parts[1]), int(parts[2]), int(parts[3])))
    except (OSError, ValueError):
        return None
    out = []
    for sec, req, err in rows:
        span = min(1.0, (elapsed_s or sec) - (sec - 1))
        if span > 0.05:
            out.append({"second": sec, "requests": req, "errors": err, "rps": req / span})
    return out


def blast_run(binary, url, *, threads, conns, duration, warmup=0.0, pipeline=1, rate=None,
              pcts=CLOSED_PCTS, raw_path=None, series_path=None):
    args = [binary, "-q", "--json", "-t", str(threads), "-c", str(conns),
            "-d", fmt_duration(duration), "--pipeline", str(pipeline), "--percentiles", pcts]
    if series_path:
        args += ["--csv-series", series_path]
    if warmup > 0:
        args += ["--warmup", fmt_duration(warmup)]
    if rate:
        args += ["-R", str(int(rate))]
    args.append(url)
    rc, out, err, secs = run_bounded(args, timeout=duration + warmup + 30)
    if raw_path:
        with open(raw_path, "w") as f:
            f.write(out)
    res = {"tool": "blast", "command": " ".join(args), "exit": rc, "wall_s": round(secs, 3)}
    r = blast_result(out)
    if r is None:
        res.update(ok=False, error=f"blast exit {rc}: {err.strip()[-400:]}", rps=None)
        return res
    res.update(_blast_fields(r, rate), ok=(rc == 0 and r.get("responses", 0) > 0))
    if series_path:
        res["series"] = read_series(series_path, r.get("elapsed_s"))
    if rc != 0:
        res["error"] = f"blast exit {rc}: {err.strip()[-400:]}"
    return res


def _wrk_time_us(text):
    m = re.match(r"([\d.]+)(us|ms|s|m)$", text)
    if not m:
        return None
    return float(m.group(1)) * {"us": 1, "ms": 1e3, "s": 1e6, "m": 60e6}[m.group(2)]


def wrk_parse(out):
    """rps, responses, latency percentiles, errors of wrk's output (None
    when it has no Requests/sec line)."""
    m = re.search(r"Requests/sec:\s*([\d.]+)", out)
    if not m:
        return None
    res = {"rps": float(m.group(1)), "latency_us": {}}
    m = re.search(r"(\d+) requests in ([\d.]+)(\w+),", out)
    if m:
        res["responses"] = int(m.group(1))
    for p, v in re.findall(r"^\s+(50|75|90|99)%\s+(\S+)", out, re.M):
        res["latency_us"][pct_key(p)] = _wrk_time_us(v)
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    res["errors"] = sum(int(x) for x in m.groups()) if m else 0
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    res["status_other"] = int(m.group(1)) if m else 0
    return res


def wrk_run(url, *, threads, conns, duration, pipeline=1, scriptdir, raw_path=None):
    secs = max(1, int(round(duration)))
    args = ["wrk", "-t", str(threads), "-c", str(conns), "-d", f"{secs}s", "--latency"]
    if pipeline > 1:
        args += ["-s", wrk_script(scriptdir, pipeline)]
    args.append(url)
    rc, out, err, wall = run_bounded(args, timeout=secs + 30)
    if raw_path:
        with open(raw_path, "w") as f:
            f.write(out + err)
    res = {"tool": "wrk", "command": " ".join(args), "exit": rc, "wall_s": round(wall, 3),
           "duration_s": secs}
    parsed = wrk_parse(out)
    if rc != 0 or parsed is None:
        res.update(ok=False, rps=None, error=f"wrk exit {rc}: {(out + err).strip()[-400:]}")
        return res
    res.update(parsed, ok=True)
    return res


def timed_client(args, timeout):
    """Runs a load generator; (stdout, exit status, its CPU seconds in user
    mode, and in the kernel: of the reaped child)."""
    before = os.times()
    rc, out, _, _ = run_bounded(args, timeout)
    after = os.times()
    return (out, rc, after.children_user - before.children_user,
            after.children_system - before.children_system)
