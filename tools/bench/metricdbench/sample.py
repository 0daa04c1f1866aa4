# SPDX-License-Identifier: BSD-2-Clause
"""What /proc says about a process, its threads, its process group and the
whole machine: CPU ticks, RSS, context switches, load."""

import os
import resource
import time

HZ = os.sysconf("SC_CLK_TCK")


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return [float(x) for x in f.read().split()[:3]]
    except OSError:
        return None


def _stat_fields(path):
    """The fields of a /proc/.../stat file after the command name."""
    with open(path) as f:
        return f.read().rsplit(")", 1)[1].split()


def proc_cpu_ticks(pid):
    """utime+stime of a whole process, in clock ticks."""
    rest = _stat_fields(f"/proc/{pid}/stat")
    return int(rest[11]) + int(rest[12])


def proc_cpu_s(pid):
    """utime+stime of a whole process in seconds (None once it is gone)."""
    try:
        return proc_cpu_ticks(pid) / HZ
    except OSError:
        return None


def _thread(pid, tid):
    with open(f"/proc/{pid}/task/{tid}/stat") as f:
        raw = f.read()
    rest = raw.rsplit(")", 1)[1].split()
    st = {}
    with open(f"/proc/{pid}/task/{tid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            st[k] = v.strip()
    return {"tid": int(tid), "name": raw[raw.index("(") + 1:raw.rindex(")")],
            "ticks": int(rest[11]) + int(rest[12]),
            "voluntary_ctxt_switches": int(st.get("voluntary_ctxt_switches", 0)),
            "nonvoluntary_ctxt_switches": int(st.get("nonvoluntary_ctxt_switches", 0))}


def proc_threads(pid):
    """Per-thread name, CPU ticks and context switches."""
    out = []
    try:
        tids = sorted(os.listdir(f"/proc/{pid}/task"), key=int)
    except OSError:
        return out
    for tid in tids:
        try:
            out.append(_thread(pid, tid))
        except (OSError, ValueError):
            continue
    return out


def thread_deltas(before, after, seconds):
    """What each thread did between two proc_threads() samples."""
    by_tid = {t["tid"]: t for t in before}
    out = []
    for t in after:
        b = by_tid.get(t["tid"])
        if b:
            out.append({"name": t["name"], "cpu_percent": (t["ticks"] - b["ticks"]) / HZ / seconds * 100,
                        "voluntary_ctxt_switches": t["voluntary_ctxt_switches"] - b["voluntary_ctxt_switches"],
                        "nonvoluntary_ctxt_switches":
                            t["nonvoluntary_ctxt_switches"] - b["nonvoluntary_ctxt_switches"]})
    return out


def _group_members(pgid):
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            rest = _stat_fields(f"/proc/{d}/stat")
        except OSError:
            continue
        if int(rest[2]) == pgid:
            yield int(d), rest


def group_ticks(pgid):
    """CPU ticks of every process in a process group (nginx: master and workers)."""
    return sum(group_ticks_split(pgid))


def group_ticks_split(pgid):
    """(user, system) CPU ticks of every process in a process group."""
    u = s = 0
    for _, rest in _group_members(pgid):
        u, s = u + int(rest[11]), s + int(rest[12])
    return u, s


def group_rss_kib(pgid):
    total = 0
    for pid, _ in _group_members(pgid):
        try:
            total += proc_rss_kib(pid)
        except (OSError, ValueError):
            pass
    return total


def proc_rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise ValueError(f"no VmRSS for pid {pid}")


def proc_maps_has(pid, needle):
    try:
        with open(f"/proc/{pid}/maps") as f:
            return any(needle in line for line in f)
    except OSError:
        return False


def host_snapshot(pgid=None):
    """What the whole machine did, to tell our load from everyone else's:
    busy ticks from /proc/stat, the measured server's ticks, this process's
    and its reaped children's (the load generator's) CPU, CPU pressure."""
    snap = {"t": time.monotonic()}
    try:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        snap["busy"] = v[0] + v[1] + v[2] + v[5] + v[6]
        snap["steal"] = v[7] if len(v) > 7 else 0
        snap["total"] = sum(v[:8])
    except (OSError, ValueError, IndexError):
        return None
    snap["server_user"], snap["server_sys"] = group_ticks_split(pgid) if pgid else (0, 0)
    snap["server"] = snap["server_user"] + snap["server_sys"]
    ru_c, ru_s = resource.getrusage(resource.RUSAGE_CHILDREN), resource.getrusage(resource.RUSAGE_SELF)
    snap["ours"] = (ru_c.ru_utime + ru_c.ru_stime + ru_s.ru_utime + ru_s.ru_stime) * HZ
    try:
        with open("/proc/pressure/cpu") as f:
            snap["psi_some_us"] = int(f.readline().split("total=")[1])
    except (OSError, IndexError, ValueError):
        pass
    return snap


def host_delta(a, b):
    if not a or not b:
        return None
    wall = b["t"] - a["t"]
    if wall <= 0:
        return None
    other = (b["busy"] - a["busy"]) - (b["server"] - a["server"]) - (b["ours"] - a["ours"])
    d = {"wall_s": round(wall, 3),
         "machine_busy_cpus": round((b["busy"] - a["busy"]) / HZ / wall, 3),
         "other_processes_cpus": round(max(0.0, other) / HZ / wall, 3),
         "server_cpu_s": round((b["server"] - a["server"]) / HZ, 3),
         "server_user_s": round((b["server_user"] - a["server_user"]) / HZ, 3),
         "server_sys_s": round((b["server_sys"] - a["server_sys"]) / HZ, 3),
         "steal_pct": round((b["steal"] - a["steal"]) / max(1, b["total"] - a["total"]) * 100, 2)}
    if "psi_some_us" in a and "psi_some_us" in b:
        d["cpu_pressure_pct"] = round((b["psi_some_us"] - a["psi_some_us"]) / 1e4 / wall, 1)
    return d
