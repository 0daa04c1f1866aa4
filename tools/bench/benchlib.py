"""The engine behind tools/bench/run and tools/bench/scaling.

It builds nothing by itself (see build()), starts every server it measures on
127.0.0.1 only, bounds every child in time, and kills what it started (by
process group id) when it ends, is interrupted or fails.  Python 3 standard
library only.

A run is a Plan (what to measure, how long, how often) executed phase by
phase into one results dict, written as results.json; benchreport turns that
into report.md and charts.  Every figure is measured `reps` times,
interleaved: all configurations of a phase run once in a fixed order, then
again in the reverse order, and so on, so that a comparison (stack vs heap,
metricd vs nginx, blast vs wrk, glibc vs jemalloc) is measured side by side
in time and each figure is the median of the repetitions, with min and max.
"""

import ctypes
import datetime as dt
import hashlib
import http.client
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

SCHEMA = "metricd-bench/1"

PAIRS = {
    "metric": ("/metric-stack", "/metric-heap"),
    "stats": ("/stats-value", "/stats-pointer"),
}
STACK_PATHS = ("/metric-stack", "/stats-value")
HEAP_PATHS = ("/metric-heap", "/stats-pointer")
ALL_PATHS = ("/metric-stack", "/metric-heap", "/stats-value", "/stats-pointer")
ALLOCATOR_LIBS = {"glibc": None, "jemalloc": "libjemalloc.so.2", "mimalloc": "libmimalloc.so.2"}
CLOSED_PCTS = "50,90,99,99.9"
OPEN_PCTS = "50,75,90,95,99,99.5,99.9,99.95,99.99"
DPKG_PACKAGES = (
    "libc6", "libjemalloc2", "libmimalloc2.0", "libevent-2.1-7", "libck0",
    "liburcu8", "libhttp-parser2.9", "nginx-light", "nginx-core", "nginx", "wrk",
    "gnuplot-nox", "linux-perf", "gcc", "gcc-12", "python3", "linux-image-amd64",
)

# ---------------------------------------------------------------- basics


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


def fmt_duration(seconds):
    """blast accepts 500ms, 10s, 1m."""
    ms = int(round(seconds * 1000))
    if ms % 1000 == 0:
        return f"{ms // 1000}s"
    return f"{ms}ms"


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return [float(x) for x in f.read().split()[:3]]
    except OSError:
        return None


class Log:
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


class BenchError(Exception):
    pass


# ------------------------------------------------------- child processes

_children = []
_libc = None


def _child_setup():
    # Die with the bench: PR_SET_PDEATHSIG(SIGKILL).
    try:
        _libc.prctl(1, signal.SIGKILL, 0, 0, 0)
    except Exception:
        pass


def _init_libc():
    global _libc
    if _libc is None:
        try:
            _libc = ctypes.CDLL(None, use_errno=True)
        except OSError:
            _libc = False


def spawn(args, env=None, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL):
    """A child in its own process group (its id is the group id), killed
    with the whole group by stop() or at exit."""
    _init_libc()
    p = subprocess.Popen(args, env=env, stdin=subprocess.DEVNULL, stdout=stdout,
                         stderr=stderr, start_new_session=True,
                         preexec_fn=_child_setup if _libc else None)
    _children.append(p)
    return p


def stop(p, sig=signal.SIGTERM, grace=10.0):
    if p is None:
        return None
    if p.poll() is None:
        try:
            os.killpg(p.pid, sig)
        except ProcessLookupError:
            pass
        try:
            p.wait(grace)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait(5)
    # Leftovers of the group (nginx workers if the master died first).
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    if p in _children:
        _children.remove(p)
    return p.returncode


def stop_all():
    for p in list(_children):
        try:
            stop(p, signal.SIGTERM, grace=3.0)
        except Exception:
            pass


def _on_signal(signum, frame):
    raise SystemExit(128 + signum)


def install_cleanup():
    import atexit
    atexit.register(stop_all)
    for s in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, _on_signal)
    # 1000 idle connections need the fds, in this process and in metricd.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard == resource.RLIM_INFINITY else hard
    if want == resource.RLIM_INFINITY or want > 65536:
        want = 65536
    if soft < want:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
        except (ValueError, OSError):
            pass


def run_bounded(args, timeout, env=None, cwd=None, input_text=None):
    """Runs a command to completion or kills its group after `timeout`
    seconds.  Returns (rc, stdout, stderr, seconds); rc 124 on timeout."""
    _init_libc()
    t0 = time.monotonic()
    p = subprocess.Popen(args, env=env, cwd=cwd,
                         stdin=subprocess.PIPE if input_text is not None else subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         start_new_session=True, preexec_fn=_child_setup if _libc else None)
    _children.append(p)
    try:
        out, err = p.communicate(input_text, timeout=timeout)
        rc = p.returncode
    except subprocess.TimeoutExpired:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        out, err = p.communicate()
        rc = 124
    finally:
        if p in _children:
            _children.remove(p)
    return rc, out or "", err or "", time.monotonic() - t0


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def http_get(port, path, timeout=5.0):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


# ----------------------------------------------------------- /proc views


def proc_cpu_ticks(pid):
    """utime+stime of a whole process, in clock ticks."""
    with open(f"/proc/{pid}/stat") as f:
        rest = f.read().rsplit(")", 1)[1].split()
    return int(rest[11]) + int(rest[12])


def proc_threads(pid):
    """Per-thread name, CPU ticks and context switches."""
    out = []
    try:
        tids = sorted(os.listdir(f"/proc/{pid}/task"), key=int)
    except OSError:
        return out
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                raw = f.read()
            name = raw[raw.index("(") + 1:raw.rindex(")")]
            rest = raw.rsplit(")", 1)[1].split()
            st = {}
            with open(f"/proc/{pid}/task/{tid}/status") as f:
                for line in f:
                    k, _, v = line.partition(":")
                    st[k] = v.strip()
            out.append({"tid": int(tid), "name": name,
                        "ticks": int(rest[11]) + int(rest[12]),
                        "voluntary_ctxt_switches": int(st.get("voluntary_ctxt_switches", 0)),
                        "nonvoluntary_ctxt_switches": int(st.get("nonvoluntary_ctxt_switches", 0))})
        except (OSError, ValueError):
            continue
    return out


def group_ticks(pgid):
    """CPU ticks of every process in a process group (nginx: master and workers)."""
    total = 0
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                rest = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(rest[2]) == pgid:
            total += int(rest[11]) + int(rest[12])
    return total


def host_snapshot(pgid=None):
    """What the whole machine did, to tell our load from everyone else's:
    busy ticks from /proc/stat, the measured server's ticks, this process's
    and its reaped children's (the load generator's) CPU, CPU pressure."""
    hz = os.sysconf("SC_CLK_TCK")
    snap = {"t": time.monotonic()}
    try:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        snap["busy"] = v[0] + v[1] + v[2] + v[5] + v[6]
        snap["steal"] = v[7] if len(v) > 7 else 0
        snap["total"] = sum(v[:8])
    except (OSError, ValueError, IndexError):
        return None
    snap["server"] = group_ticks(pgid) if pgid else 0
    ru_c, ru_s = resource.getrusage(resource.RUSAGE_CHILDREN), resource.getrusage(resource.RUSAGE_SELF)
    snap["ours"] = (ru_c.ru_utime + ru_c.ru_stime + ru_s.ru_utime + ru_s.ru_stime) * hz
    try:
        with open("/proc/pressure/cpu") as f:
            snap["psi_some_us"] = int(f.readline().split("total=")[1])
    except (OSError, IndexError, ValueError):
        pass
    return snap


def host_delta(a, b):
    if not a or not b:
        return None
    hz = os.sysconf("SC_CLK_TCK")
    wall = b["t"] - a["t"]
    if wall <= 0:
        return None
    other = (b["busy"] - a["busy"]) - (b["server"] - a["server"]) - (b["ours"] - a["ours"])
    d = {"wall_s": round(wall, 3),
         "machine_busy_cpus": round((b["busy"] - a["busy"]) / hz / wall, 3),
         "other_processes_cpus": round(max(0.0, other) / hz / wall, 3),
         "server_cpu_s": round((b["server"] - a["server"]) / hz, 3),
         "steal_pct": round((b["steal"] - a["steal"]) / max(1, b["total"] - a["total"]) * 100, 2)}
    if "psi_some_us" in a and "psi_some_us" in b:
        d["cpu_pressure_pct"] = round((b["psi_some_us"] - a["psi_some_us"]) / 1e4 / wall, 1)
    return d


def proc_rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise BenchError(f"no VmRSS for pid {pid}")


def proc_maps_has(pid, needle):
    try:
        with open(f"/proc/{pid}/maps") as f:
            return any(needle in line for line in f)
    except OSError:
        return False


# ------------------------------------------------------------- machine


def libdir_candidates():
    dirs = []
    try:
        rc, out, _, _ = run_bounded(["gcc", "-print-multiarch"], 10)
        if rc == 0 and out.strip():
            dirs.append(f"/usr/lib/{out.strip()}")
    except OSError:
        pass
    dirs += ["/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib"]
    return dirs


def find_allocator(name):
    lib = ALLOCATOR_LIBS[name]
    if lib is None:
        return ""
    for d in libdir_candidates():
        p = os.path.join(d, lib)
        if os.path.exists(p):
            return p
    return None


def dpkg_versions(names=DPKG_PACKAGES):
    out = {}
    if not shutil.which("dpkg-query"):
        return out
    rc, text, _, _ = run_bounded(["dpkg-query", "-W", "-f", "${Package}\t${Version}\t${db:Status-Abbrev}\n", *names], 30)
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) >= 3 and parts[2].startswith("ii"):
            out[parts[0]] = parts[1]
    return out


def machine_info():
    info = {"cpu_model": None, "cores_online": os.cpu_count(),
            "cpus_allowed": len(os.sched_getaffinity(0)),
            "cpus_allowed_list": sorted(os.sched_getaffinity(0)),
            "kernel": platform.release(), "kernel_version": platform.version(),
            "arch": platform.machine(),
            "glibc": os.confstr("CS_GNU_LIBC_VERSION") if hasattr(os, "confstr") else None,
            "python": platform.python_version()}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name") and info["cpu_model"] is None:
                    info["cpu_model"] = line.split(":", 1)[1].strip()
                if line.startswith("cpu MHz") and "cpu_mhz" not in info:
                    info["cpu_mhz"] = float(line.split(":", 1)[1])
    except OSError:
        pass
    if shutil.which("lscpu"):
        rc, out, _, _ = run_bounded(["lscpu"], 10)
        for line in out.splitlines():
            k, _, v = line.partition(":")
            k = k.strip()
            if k in ("Thread(s) per core", "Core(s) per socket", "Socket(s)", "Hypervisor vendor",
                     "Virtualization type", "L3 cache", "NUMA node(s)"):
                info["lscpu_" + re.sub(r"[^a-z0-9]+", "_", k.lower()).strip("_")] = v.strip()
    try:
        with open("/proc/meminfo") as f:
            info["mem_total_kib"] = int(f.readline().split()[1])
    except (OSError, ValueError, IndexError):
        pass
    gov = "/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor"
    if os.path.exists(gov):
        with open(gov) as f:
            info["cpufreq_governor"] = f.read().strip()
    info["packages"] = dpkg_versions()
    for tool, args in (("gcc", ["gcc", "--version"]), ("nginx", ["nginx", "-v"]),
                       ("wrk", ["wrk", "-v"]), ("gnuplot", ["gnuplot", "--version"]),
                       ("perf", ["perf", "--version"])):
        if shutil.which(args[0]):
            rc, out, err, _ = run_bounded(args, 10)
            text = (out + err).strip().splitlines()
            info[tool + "_version"] = text[0] if text else None
    info["loadavg_at_start"] = loadavg()
    return info


# ---------------------------------------------------------------- build

BUILD_EXCLUDE_DIRS = {".git", ".libs", ".deps", "autom4te.cache", "build-check", "__pycache__", ".gl"}
BUILD_EXCLUDE_FILES = {"Makefile", "config.h", "config.status", "config.log", "libtool",
                       "stamp-h1", "confdefs.h", "config.h.in~"}
BUILD_EXCLUDE_SUFFIX = (".o", ".lo", ".la", ".a", ".log", ".trs", ".pyc")


def source_files(top):
    """The tree's source files, relative to top: git's view (tracked and
    untracked-not-ignored) when it is a git checkout, else a walk that
    leaves out build outputs (for a release tarball)."""
    if os.path.isdir(os.path.join(top, ".git")) and shutil.which("git"):
        rc, out, err, _ = run_bounded(["git", "-C", top, "ls-files", "-z", "-co", "--exclude-standard"], 60)
        if rc == 0:
            return sorted(p for p in out.split("\0") if p and os.path.isfile(os.path.join(top, p)))
    files = []
    for root, dirs, names in os.walk(top):
        rel = os.path.relpath(root, top)
        dirs[:] = [d for d in dirs if d not in BUILD_EXCLUDE_DIRS
                   and not (rel == "." and (d == "bench" or d.startswith("metricd-")))]
        for n in names:
            p = os.path.join(root, n)
            if n in BUILD_EXCLUDE_FILES or n.endswith(BUILD_EXCLUDE_SUFFIX) or not os.path.isfile(p):
                continue
            with open(p, "rb") as f:
                if f.read(4) == b"\x7fELF":
                    continue
            files.append(os.path.normpath(os.path.join(rel, n)))
    return sorted(files)


def build(top, build_root, cflags, log, jobs=None):
    """An optimized metricd, blast and allocbench, built in build_root from
    a snapshot of the source tree (so an in-tree build, or a half-edited
    file saved later, cannot get in the way).  Reuses the last build when
    the snapshot is byte-identical."""
    files = source_files(top)
    if "configure.ac" not in files:
        raise BenchError(f"{top} does not look like the metricd source tree (no configure.ac)")
    h = hashlib.sha256(cflags.encode())
    for rel in files:
        h.update(rel.encode() + b"\0")
        with open(os.path.join(top, rel), "rb") as f:
            h.update(hashlib.sha256(f.read()).digest())
    digest = h.hexdigest()
    src, obj = os.path.join(build_root, "src"), os.path.join(build_root, "obj")
    stamp = os.path.join(build_root, "stamp")
    bins = {b: os.path.join(obj, b) for b in ("metricd", "blast", "allocbench")}
    info = {"dir": obj, "cflags": cflags, "source_sha256": digest, "files": len(files), "reused": False}
    if os.path.exists(stamp) and open(stamp).read().strip() == digest and all(os.access(b, os.X_OK) for b in bins.values()):
        log(f"build: reusing {obj} (sources unchanged)")
        info["reused"] = True
        return bins, info
    log(f"build: snapshot of {len(files)} source files -> {src}")
    for d in (src, obj):
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
    if os.path.exists(stamp):
        os.unlink(stamp)
    for rel in files:
        dst = os.path.join(src, rel)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copy2(os.path.join(top, rel), dst)
    jobs = jobs or len(os.sched_getaffinity(0))
    steps = []
    if not os.path.exists(os.path.join(src, "configure")):
        steps.append(("autoreconf", ["autoreconf", "-fi"], src, 600))
    steps.append(("configure", [os.path.join(src, "configure"), "-q", f"CFLAGS={cflags}"], obj, 600))
    steps.append(("make", ["make", f"-j{jobs}", "metricd", "blast", "allocbench"], obj, 1200))
    for name, args, cwd, limit in steps:
        log(f"build: {name}")
        rc, out, err, secs = run_bounded(args, limit, cwd=cwd)
        with open(os.path.join(build_root, f"{name}.out"), "w") as f:
            f.write(out + err)
        if rc != 0:
            tail = "\n".join((out + err).strip().splitlines()[-30:])
            raise BenchError(f"build step {name} failed (exit {rc}, see {build_root}/{name}.out):\n{tail}")
        info[f"{name}_s"] = round(secs, 1)
    with open(stamp, "w") as f:
        f.write(digest + "\n")
    return bins, info


def describe_binaries(bins, top):
    info = {"binaries": dict(bins)}
    rc, out, err, _ = run_bounded([bins["metricd"], "--version"], 10)
    info["metricd_version"] = (out + err).strip().splitlines()[0] if (out + err).strip() else None
    rc, out, err, _ = run_bounded([bins["blast"], "--version"], 10)
    info["blast_version"] = (out + err).strip().splitlines()[0] if (out + err).strip() else None
    mk = os.path.join(os.path.dirname(bins["metricd"]), "Makefile")
    if os.path.exists(mk):
        with open(mk) as f:
            for line in f:
                if line.startswith("CFLAGS = "):
                    info["makefile_cflags"] = line.split("=", 1)[1].strip()
                if line.startswith("WARN_CFLAGS = "):
                    info["makefile_warn_cflags"] = line.split("=", 1)[1].strip()
                if line.startswith("SAN_CFLAGS = "):
                    info["makefile_san_cflags"] = line.split("=", 1)[1].strip()
    if os.path.isdir(os.path.join(top, ".git")) and shutil.which("git"):
        rc, out, _, _ = run_bounded(["git", "-C", top, "rev-parse", "HEAD"], 10)
        info["git_commit"] = out.strip() if rc == 0 else None
        rc, out, _, _ = run_bounded(["git", "-C", top, "status", "--porcelain"], 30)
        info["git_dirty"] = bool(out.strip()) if rc == 0 else None
    return info


# -------------------------------------------------------------- servers


class Metricd:
    def __init__(self, binary, workers, allocator, preload, logdir, extra=()):
        self.binary, self.workers, self.allocator, self.preload = binary, workers, allocator, preload
        self.name = f"metricd-{allocator}-w{workers}"
        self.log_path = os.path.join(logdir, f"{self.name}.{int(time.time() * 1000) % 10**8}.log")
        self.extra = list(extra)
        self.proc = None
        self.port = None

    def start(self, timeout=10.0):
        env = dict(os.environ)
        env.pop("LD_PRELOAD", None)
        if self.preload:
            env["LD_PRELOAD"] = self.preload
        args = [self.binary, "--config", "/dev/null", "--listen", "127.0.0.1:0",
                "--workers", str(self.workers), "--shutdown-timeout", "3000", *self.extra]
        self.args = args
        self.logf = open(self.log_path, "w")
        self.proc = spawn(args, env=env, stderr=self.logf)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with open(self.log_path) as f:
                m = re.search(r"listening on 127\.0\.0\.1:(\d+) workers=(\d+)", f.read())
            if m:
                self.port = int(m.group(1))
                break
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        if self.port is None:
            stop(self.proc)
            with open(self.log_path) as f:
                tail = f.read()[-2000:]
            raise BenchError(f"{self.name} did not start: {' '.join(args)}\n{tail}")
        self.preload_loaded = (proc_maps_has(self.proc.pid, os.path.basename(self.preload))
                               if self.preload else None)
        if self.preload and not self.preload_loaded:
            raise BenchError(f"{self.name}: {self.preload} is not mapped into metricd")
        return self

    @property
    def pid(self):
        return self.proc.pid

    def url(self, path, work=0):
        return f"http://127.0.0.1:{self.port}{path}?id=1" + (f"&work={work}" if work else "")

    def stats(self):
        status, body = http_get(self.port, "/stats")
        if status != 200:
            raise BenchError(f"{self.name}: GET /stats answered {status}")
        return json.loads(body)

    def stop(self):
        rc = stop(self.proc, signal.SIGTERM, grace=8.0)
        try:
            self.logf.close()
        except Exception:
            pass
        return rc

    def describe(self):
        return {"name": self.name, "workers": self.workers, "allocator": self.allocator,
                "ld_preload": self.preload or None, "preload_mapped": self.preload_loaded,
                "args": self.args, "port": self.port}


class Nginx:
    """nginx-light as a foreground process with a temporary config under
    /tmp, answering every path with `return 200` and the given body."""

    def __init__(self, workers, body):
        self.workers, self.body = workers, body
        self.proc, self.dir, self.port = None, None, None

    def start(self, timeout=10.0):
        if "'" in self.body or "\\" in self.body:
            raise BenchError("nginx body must not contain quotes or backslashes")
        self.dir = tempfile.mkdtemp(prefix="metricd-bench-nginx-", dir="/tmp")
        self.port = free_port()
        conf = os.path.join(self.dir, "nginx.conf")
        # nginx takes a config parameter of at most 4 KiB: a longer body is
        # served from a file, for every path.
        answer = f"return 200 '{self.body}';"
        if len(self.body) > 2048:
            with open(os.path.join(self.dir, "body"), "w") as f:
                f.write(self.body)
            answer = f"root {self.dir}; try_files /body =404;"
        with open(conf, "w") as f:
            f.write(f"""worker_processes {self.workers};
daemon off;
master_process on;
pid {self.dir}/nginx.pid;
error_log {self.dir}/error.log warn;
events {{ worker_connections 16384; }}
http {{
    access_log off;
    default_type application/json;
    client_body_temp_path {self.dir};
    proxy_temp_path {self.dir};
    fastcgi_temp_path {self.dir};
    uwsgi_temp_path {self.dir};
    scgi_temp_path {self.dir};
    server {{
        listen 127.0.0.1:{self.port} backlog=4096;
        keepalive_requests 100000000;
        keepalive_timeout 120s;
        location / {{ {answer} }}
    }}
}}
""")
        self.conf = conf
        self.errf = open(os.path.join(self.dir, "stderr"), "w")
        self.proc = spawn(["nginx", "-e", os.path.join(self.dir, "error.log"), "-c", conf, "-p", self.dir],
                          stderr=self.errf)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                status, body = http_get(self.port, "/metric-stack?id=1", timeout=1.0)
                if status == 200 and body.decode() == self.body:
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        err = ""
        for n in ("stderr", "error.log"):
            p = os.path.join(self.dir, n)
            if os.path.exists(p):
                err += open(p).read()[-1500:]
        self.stop()
        raise BenchError(f"nginx did not start on 127.0.0.1:{self.port}:\n{err}")

    def url(self, path, work=0):
        return f"http://127.0.0.1:{self.port}{path}?id=1" + (f"&work={work}" if work else "")

    def stop(self):
        rc = stop(self.proc, signal.SIGTERM, grace=5.0) if self.proc else None
        try:
            self.errf.close()
        except Exception:
            pass
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
        return rc

    def describe(self):
        return {"name": f"nginx-w{self.workers}", "workers": self.workers, "port": self.port,
                "body_bytes": len(self.body), "config": "return 200 '<metricd body>'; "
                "access_log off; keepalive_requests 100000000; foreground (daemon off); "
                "temp config under /tmp, removed afterwards"}


# ---------------------------------------------------------- load tools


def blast_run(binary, url, *, threads, conns, duration, warmup=0.0, pipeline=1, rate=None,
              pcts=CLOSED_PCTS, raw_path=None):
    args = [binary, "-q", "--json", "-t", str(threads), "-c", str(conns),
            "-d", fmt_duration(duration), "--pipeline", str(pipeline), "--percentiles", pcts]
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
    try:
        r = json.loads(out)["results"][0]
    except (ValueError, KeyError, IndexError):
        res.update(ok=False, error=f"blast exit {rc}: {err.strip()[-400:]}", rps=None)
        return res
    lat = r.get("latency", {})
    res.update(ok=(rc == 0 and r.get("responses", 0) > 0), rps=r.get("rps"),
               requests=r.get("requests"), responses=r.get("responses"),
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
    if rc != 0:
        res["error"] = f"blast exit {rc}: {err.strip()[-400:]}"
    return res


WRK_PIPELINE_LUA = """-- wrk: send PIPELINE requests per write (HTTP pipelining), as in tools/bench/vs-nginx
init = function(args)
   local r = {}
   for i = 1, %d do r[i] = wrk.format(nil) end
   req = table.concat(r)
end
request = function() return req end
"""


def _wrk_time_us(text):
    m = re.match(r"([\d.]+)(us|ms|s|m)$", text)
    if not m:
        return None
    mult = {"us": 1, "ms": 1e3, "s": 1e6, "m": 60e6}[m.group(2)]
    return float(m.group(1)) * mult


def wrk_run(url, *, threads, conns, duration, pipeline=1, scriptdir, raw_path=None):
    secs = max(1, int(round(duration)))
    args = ["wrk", "-t", str(threads), "-c", str(conns), "-d", f"{secs}s", "--latency"]
    if pipeline > 1:
        script = os.path.join(scriptdir, f"pipeline{pipeline}.lua")
        if not os.path.exists(script):
            with open(script, "w") as f:
                f.write(WRK_PIPELINE_LUA % pipeline)
        args += ["-s", script]
    args.append(url)
    rc, out, err, wall = run_bounded(args, timeout=secs + 30)
    if raw_path:
        with open(raw_path, "w") as f:
            f.write(out + err)
    res = {"tool": "wrk", "command": " ".join(args), "exit": rc, "wall_s": round(wall, 3),
           "duration_s": secs}
    m = re.search(r"Requests/sec:\s*([\d.]+)", out)
    if rc != 0 or not m:
        res.update(ok=False, rps=None, error=f"wrk exit {rc}: {(out + err).strip()[-400:]}")
        return res
    res.update(ok=True, rps=float(m.group(1)))
    m = re.search(r"(\d+) requests in ([\d.]+)(\w+),", out)
    if m:
        res["responses"] = int(m.group(1))
    lat = {}
    for p, v in re.findall(r"^\s+(50|75|90|99)%\s+(\S+)", out, re.M):
        lat[p] = _wrk_time_us(v)
    res["latency_us"] = lat
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    res["errors"] = sum(int(x) for x in m.groups()) if m else 0
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    res["status_other"] = int(m.group(1)) if m else 0
    return res


# ------------------------------------------------------------ /stats


def stats_delta(before, after, path):
    """What one run cost on the server, from two GET /stats snapshots."""
    eb, ea = before["endpoints"].get(path), after["endpoints"].get(path)
    if eb is None or ea is None:
        return None
    dreq = ea["requests"] - eb["requests"]
    d = {"requests": dreq}
    for k in ("allocs", "alloc_bytes", "frees", "cross_thread_frees"):
        d[k] = ea.get(k, 0) - eb.get(k, 0)
    ns = ea.get("allocator_ns_per_request", 0.0) * ea["requests"] - \
        eb.get("allocator_ns_per_request", 0.0) * eb["requests"]
    d["allocator_ns"] = round(ns, 1)
    if dreq > 0:
        d["allocs_per_request"] = d["allocs"] / dreq
        d["frees_per_request"] = d["frees"] / dreq
        d["bytes_per_request"] = d["alloc_bytes"] / dreq
        d["cross_thread_frees_per_request"] = d["cross_thread_frees"] / dreq
        d["allocator_ns_per_request"] = ns / dreq
    wb = {w["id"]: w for w in before.get("worker", [])}
    d["requests_per_worker"] = [w["requests"] - wb.get(w["id"], {}).get("requests", 0)
                                for w in after.get("worker", [])]
    d["wakeups_per_worker"] = [w.get("wakeups", 0) - wb.get(w["id"], {}).get("wakeups", 0)
                               for w in after.get("worker", [])]
    acc_b, acc_a = before.get("acceptor", {}), after.get("acceptor", {})
    d["acceptor"] = {k: acc_a[k] - acc_b.get(k, 0) for k in acc_a
                     if isinstance(acc_a[k], (int, float)) and k != "connections_open"}
    return d


STAT_KEYS = ("allocs_per_request", "frees_per_request", "bytes_per_request",
             "cross_thread_frees_per_request", "allocator_ns_per_request")


# ----------------------------------------------------------------- plan


def default_plan(mode, allowed):
    """Durations and sizes per mode.  ci: seconds; quick: about two
    minutes; full: the real thing (about 15 minutes on 2 CPUs)."""
    p = {
        "mode": mode,
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
        "alloc_paths": ["/metric-heap"],
        "alloc_pipelines": [1, 16],
        "references": True,
        "ref_pipelines": [1, 16],
        "ref_metricd_paths": ["/metric-stack", "/metric-heap"],
        "ref_wrk_paths": ["/metric-stack", "/metric-heap"],
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
        "cflags": "-O2 -g",
    }
    if mode == "full":
        p.update(duration=4.0, warmup=1.0, ref_duration=5.0)
    elif mode == "quick":
        p.update(duration=0.4, warmup=0.1, ref_duration=1.0, idle_s=2.0, idle_settle_s=0.5,
                 rss_settle_s=0.3, allocbench_ops=200000, perf_s=2.0, heavy_workers="max",
                 ref_wrk_paths=["/metric-stack"])
    elif mode == "ci":
        # wrk cannot run under 1 s; blast's reference runs keep the short
        # duration so the whole run stays well under a minute.
        p.update(duration=0.15, warmup=0.0, ref_duration=1.0, ref_blast_duration=0.15, idle_s=0.5,
                 idle_settle_s=0.3, rss_settle_s=0.2, rss_connections=1000,
                 stats_pipelines=[16], open_paths=list(PAIRS["metric"]), heavy_workers="max",
                 allocbench_ops=20000, allocbench_sizes="64,1024", allocbench_threads=3,
                 perf_s=1.0, ref_wrk_paths=["/metric-stack"], ref_metricd_paths=["/metric-stack"],
                 max_workers=min(allowed, 2))
    elif mode == "scaling":
        # A bigger machine (16 CPUs: workers 1..15), about 7 minutes.  Heavy
        # work is measured without pipelining only (with 64 connections per
        # load thread there are enough requests in flight), /stats-* with
        # pipelining 16 only.
        t = max(1, min(4, allowed // 4))
        p.update(duration=0.5, warmup=0.1, ref_duration=1.0, threads=t, connections=64 * t,
                 max_workers=max(1, min(15, allowed - 1)), heavy_pipelines=[1], stats_pipelines=[16],
                 idle_s=5.0, allocbench_ops=300000, allocbench_threads=max(2, min(8, allowed)),
                 perf_s=3.0, ref_wrk_paths=["/metric-stack"], open_paths=list(PAIRS["metric"]))
    else:
        raise ValueError(mode)
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
    if p["reps"] < 3:
        print(f"bench: warning: --reps {p['reps']}: figures are medians of fewer than 3 repetitions",
              file=sys.stderr)
    return p


# ---------------------------------------------------------------- runner


def cfg_key(c):
    k = f"{c['group']}:{c['tool']}:{c['target']}"
    if c["target"] == "metricd":
        k += f":{c['alloc']}"
    k += f":w{c['workers']}:{c['path']}:p{c['pipeline']}:k{c['work']}"
    if c.get("fraction") is not None:
        k += f":r{c['fraction']:g}"
    return k


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

    # -- phases ------------------------------------------------------

    def phase(self, name, fn):
        self.log(f"== {name}")
        t = time.monotonic()
        self.res["load"][name + "_start"] = loadavg()
        try:
            fn()
        except Exception as e:  # recorded; the other phases and the report still run
            msg = f"{name}: {e}" if isinstance(e, (BenchError, OSError)) else f"{name}: {e!r}"
            self.log("ERROR " + msg)
            if not isinstance(e, BenchError):
                import traceback
                self.log(traceback.format_exc().rstrip())
            self.res["errors"].append(msg)
            sec = self.res.setdefault(name, {})
            if isinstance(sec, dict):
                sec["error"] = str(e)
        self.res["timing"][name] = round(time.monotonic() - t, 1)
        self.res["load"][name + "_end"] = loadavg()

    def run(self, report_fn=None):
        plan = self.plan
        self.res["machine"] = machine_info()
        self.res["settings"] = plan
        for a in ALLOCATOR_LIBS:
            path = find_allocator(a)
            if path is None:
                self.warn(f"{a} is not installed (apt-get install libjemalloc2 libmimalloc2.0); skipped")
            else:
                self.allocators[a] = path
        self.res["settings"]["allocator_libs"] = {a: (p or "(glibc malloc)") for a, p in self.allocators.items()}
        self.phase("allocbench", self.do_allocbench)
        self.phase("idle_cpu", self.do_idle)
        self.phase("rss_per_connection", self.do_rss)
        try:
            self.phase("servers", self.start_servers)
            self.phase("closed_loop", self.do_closed)
            self.phase("open_loop", self.do_open)
            self.phase("server_stats", self.do_server_stats)
            if report_fn is not None:
                self.res["targets"] = report_fn.evaluate_targets(self.res)
            self.phase("perf", self.do_perf)
        finally:
            self.stop_servers()
        self.res["finished_utc"] = iso(now_utc())
        self.res["elapsed_s"] = round(time.monotonic() - self.t0, 1)
        self.res["machine"]["loadavg_at_end"] = loadavg()
        return self.res

    # -- allocbench --------------------------------------------------

    def do_allocbench(self):
        plan = self.plan
        sec = self.res["allocbench"] = {
            "binary": self.bins["allocbench"],
            "settings": {"sizes": plan["allocbench_sizes"], "threads": plan["allocbench_threads"],
                         "ops": plan["allocbench_ops"], "reps": plan["reps"]},
            "runs": [], "summary": []}
        names = list(self.allocators)
        for rep in range(plan["reps"]):
            order = names if rep % 2 == 0 else names[::-1]
            for a in order:
                env = dict(os.environ)
                env.pop("LD_PRELOAD", None)
                if self.allocators[a]:
                    env["LD_PRELOAD"] = self.allocators[a]
                args = [self.bins["allocbench"], "--csv", "--label", a, "--sizes", plan["allocbench_sizes"],
                        "--threads", str(plan["allocbench_threads"]), "--ops", str(plan["allocbench_ops"])]
                rc, out, err, secs = run_bounded(args, 900, env=env)
                if rc != 0:
                    raise BenchError(f"allocbench under {a} failed (exit {rc}): {err.strip()[-300:]}")
                rows = []
                for line in out.strip().splitlines()[1:]:
                    f = line.split(",")
                    rows.append({"pattern": f[1], "size": int(f[2]), "threads": int(f[3]),
                                 "ns_per_op": float(f[4])})
                sec["runs"].append({"allocator": a, "rep": rep, "wall_s": round(secs, 2),
                                    "command": ("LD_PRELOAD=" + self.allocators[a] + " " if self.allocators[a] else "") + " ".join(args),
                                    "rows": rows})
                self.log(f"allocbench {a} rep {rep + 1}: {len(rows)} rows in {secs:.1f}s")
        keys = []
        for r in sec["runs"]:
            for row in r["rows"]:
                k = (row["pattern"], row["size"], row["threads"])
                if k not in keys:
                    keys.append(k)
        for k in keys:
            by = {}
            for a in names:
                vals = [row["ns_per_op"] for r in sec["runs"] if r["allocator"] == a for row in r["rows"]
                        if (row["pattern"], row["size"], row["threads"]) == k]
                by[a] = summary(vals)
            sec["summary"].append({"pattern": k[0], "size": k[1], "threads": k[2], "ns_per_op": by})

    # -- idle CPU ----------------------------------------------------

    def fresh_metricd(self, workers=None):
        w = workers or self.plan["ref_workers"]
        return Metricd(self.bins["metricd"], w, "glibc", None, self.logs).start()

    def do_idle(self):
        plan = self.plan
        hz = os.sysconf("SC_CLK_TCK")
        sec = self.res["idle_cpu"] = {"workers": plan["ref_workers"], "window_s": plan["idle_s"],
                                      "clock_ticks_per_s": hz, "source": "/proc/PID/stat utime+stime",
                                      "reps": []}
        for rep in range(plan["idle_reps"]):
            m = self.fresh_metricd()
            try:
                blast_run(self.bins["blast"], m.url("/metric-stack"), threads=1, conns=8, duration=0.3)
                time.sleep(plan["idle_settle_s"])
                c0, th0, t0 = proc_cpu_ticks(m.pid), proc_threads(m.pid), time.monotonic()
                time.sleep(plan["idle_s"])
                c1, th1, t1 = proc_cpu_ticks(m.pid), proc_threads(m.pid), time.monotonic()
            finally:
                m.stop()
            pct = (c1 - c0) / hz / (t1 - t0) * 100.0
            before = {t["tid"]: t for t in th0}
            threads = []
            for t in th1:
                b = before.get(t["tid"])
                if b:
                    threads.append({"name": t["name"], "cpu_percent": (t["ticks"] - b["ticks"]) / hz / (t1 - t0) * 100,
                                    "voluntary_ctxt_switches": t["voluntary_ctxt_switches"] - b["voluntary_ctxt_switches"],
                                    "nonvoluntary_ctxt_switches": t["nonvoluntary_ctxt_switches"] - b["nonvoluntary_ctxt_switches"]})
            sec["reps"].append({"rep": rep, "seconds": round(t1 - t0, 3), "ticks": c1 - c0,
                                "cpu_percent": pct, "threads": threads})
            self.log(f"idle rep {rep + 1}: {pct:.2f}% CPU over {t1 - t0:.1f}s")
        sec["cpu_percent"] = summary([r["cpu_percent"] for r in sec["reps"]])

    # -- RSS per idle keep-alive connection ------------------------------

    def do_rss(self):
        plan = self.plan
        n = plan["rss_connections"]
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft < n + 100:
            self.warn(f"RLIMIT_NOFILE {soft}: {n} connections reduced to {soft - 100}")
            n = max(10, soft - 100)
        sec = self.res["rss_per_connection"] = {"workers": plan["ref_workers"], "connections": n,
                                               "source": "/proc/PID/status VmRSS", "reps": []}
        req = b"GET /metric-stack?id=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        for rep in range(plan["rss_reps"]):
            m = self.fresh_metricd()
            socks = []
            try:
                # Warm the workers (slab, first pages) through one connection.
                blast_run(self.bins["blast"], m.url("/metric-stack"), threads=1, conns=1, duration=0.2)
                time.sleep(0.3)
                r0 = proc_rss_kib(m.pid)
                for _ in range(n):
                    s = socket.create_connection(("127.0.0.1", m.port), timeout=10)
                    socks.append(s)
                time.sleep(plan["rss_settle_s"])
                r1 = proc_rss_kib(m.pid)
                for s in socks:
                    s.sendall(req)
                for s in socks:
                    buf = b""
                    while b"\r\n\r\n" not in buf:
                        chunk = s.recv(4096)
                        if not chunk:
                            raise BenchError("metricd closed an idle test connection")
                        buf += chunk
                    head, _, body = buf.partition(b"\r\n\r\n")
                    mm = re.search(rb"(?i)content-length:\s*(\d+)", head)
                    want = int(mm.group(1)) if mm else 0
                    while len(body) < want:
                        chunk = s.recv(4096)
                        if not chunk:
                            raise BenchError("metricd closed an idle test connection")
                        body += chunk
                time.sleep(plan["rss_settle_s"])
                r2 = proc_rss_kib(m.pid)
                open_conns = m.stats().get("acceptor", {}).get("connections_open")
            finally:
                for s in socks:
                    s.close()
                m.stop()
            rec = {"rep": rep, "rss_before_kib": r0, "rss_connected_kib": r1, "rss_keepalive_kib": r2,
                   "server_connections_open": open_conns,
                   "kib_per_connection_connected": (r1 - r0) / n,
                   "kib_per_connection": (r2 - r0) / n}
            sec["reps"].append(rec)
            self.log(f"rss rep {rep + 1}: {r0} -> {r1} (connected) -> {r2} KiB (after one request each): "
                     f"{rec['kib_per_connection']:.2f} KiB/connection")
        sec["kib_per_connection"] = summary([r["kib_per_connection"] for r in sec["reps"]])
        sec["kib_per_connection_connected"] = summary([r["kib_per_connection_connected"] for r in sec["reps"]])

    # -- servers for the load phases ---------------------------------

    def start_servers(self):
        plan = self.plan
        sec = self.res["servers"] = {"list": []}
        for w in plan["workers"]:
            self.servers[("metricd", "glibc", w)] = Metricd(self.bins["metricd"], w, "glibc", None, self.logs).start()
        for a, lib in self.allocators.items():
            if a != "glibc" and plan["alloc_paths"]:
                self.servers[("metricd", a, plan["ref_workers"])] = Metricd(
                    self.bins["metricd"], plan["ref_workers"], a, lib, self.logs).start()
        if plan["references"]:
            ref = self.servers[("metricd", "glibc", plan["ref_workers"])]
            status, body = http_get(ref.port, "/metric-stack?id=1")
            self.ref_body = body.decode()
            try:
                self.servers[("nginx", None, plan["ref_workers"])] = Nginx(plan["ref_workers"], self.ref_body).start()
            except BenchError as e:
                # Measure everything else; the references section carries the error.
                plan["references"] = False
                self.res["references"] = {"error": str(e)}
                self.res["errors"].append(f"references: {e}")
                self.log(f"ERROR references: {e}")
        for k, s in self.servers.items():
            sec["list"].append(s.describe())
            self.log(f"started {s.describe()['name']} on 127.0.0.1:{s.port}")

    def stop_servers(self):
        snaps = {}
        for k, s in list(self.servers.items()):
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
        return self.servers[("metricd", c["alloc"], c["workers"])]

    # -- one measurement ---------------------------------------------

    def measure(self, c, rep, idx, total, label):
        plan = self.plan
        srv = self.server_for(c)
        if isinstance(srv, Metricd) and srv.proc.poll() is not None:
            self.warn(f"{srv.name} died (exit {srv.proc.returncode}); restarting it")
            key = ("metricd", c["alloc"], c["workers"])
            self.servers[key] = srv = Metricd(srv.binary, srv.workers, srv.allocator, srv.preload, self.logs).start()
        url = srv.url(c["path"], c["work"])
        before = srv.stats() if isinstance(srv, Metricd) else None
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", cfg_key(c)) + f".rep{rep}"
        t_start = time.time()
        h0 = host_snapshot(srv.proc.pid)
        if c["tool"] == "blast":
            r = blast_run(self.bins["blast"], url, threads=plan["threads"], conns=plan["connections"],
                          duration=c["duration"], warmup=c["warmup"], pipeline=c["pipeline"],
                          rate=c.get("rate"), pcts=OPEN_PCTS if c.get("rate") else CLOSED_PCTS,
                          raw_path=os.path.join(self.raw, name + ".json"))
        else:
            r = wrk_run(url, threads=plan["threads"], conns=plan["connections"], duration=c["duration"],
                        pipeline=c["pipeline"], scriptdir=self.raw,
                        raw_path=os.path.join(self.raw, name + ".txt"))
        r["host"] = host_delta(h0, host_snapshot(srv.proc.pid))
        expect = c["duration"] + c["warmup"] if c["tool"] == "blast" else max(1, int(round(c["duration"])))
        r["stalled"] = (r.get("wall_s") or 0) > 1.5 * expect + 0.5
        if before is not None:
            try:
                r["server"] = stats_delta(before, srv.stats(), c["path"])
            except (OSError, ValueError, BenchError) as e:
                r["server"] = None
                r["server_error"] = str(e)
        # The server's own CPU time per request (all its threads, user+sys,
        # from /proc): unlike req/s, it barely moves when other processes
        # take CPUs away, so it compares the two paths on a shared machine.
        nreq = (r.get("server") or {}).get("requests") or (r.get("responses") if not c["warmup"] else None)
        if r.get("host") and nreq:
            r["server_cpu_us_per_request"] = r["host"]["server_cpu_s"] * 1e6 / nreq
        if not r.get("ok"):
            self.warn(f"{cfg_key(c)} rep {rep + 1}: {r.get('error', 'no responses')}")
        entry = dict(c)
        entry.update(key=cfg_key(c), rep=rep, url=url, started=round(t_start, 3), result=r)
        rps = r.get("rps")
        extra = ""
        if r.get("server"):
            extra = f" allocs/req {r['server'].get('allocs_per_request', 0):.2f}"
        if c.get("rate"):
            lat = r.get("latency_us") or {}
            extra += f" p99 {lat.get('99', float('nan')):.0f}us"
        self.log(f"[{label} {idx}/{total}] rep {rep + 1} {cfg_key(c)}: "
                 f"{rps if rps is None else round(rps):,} rps{extra}".replace("None,", "FAILED"))
        return entry

    def interleave(self, cfgs, label):
        runs = []
        total = len(cfgs) * self.plan["reps"]
        i = 0
        for rep in range(self.plan["reps"]):
            order = cfgs if rep % 2 == 0 else cfgs[::-1]
            for c in order:
                i += 1
                runs.append(self.measure(c, rep, i, total, label))
        return runs

    # -- closed loop: matrix, allocators and references, interleaved -----

    def closed_configs(self):
        p = self.plan
        base = {"duration": p["duration"], "warmup": p["warmup"]}
        cfgs = []
        for w in p["workers"]:
            for pl in p["pipelines"]:
                works = [0]
                if p["work_heavy"] and w in p["heavy_workers"] and pl in p.get("heavy_pipelines", p["pipelines"]):
                    works.append(p["work_heavy"])
                for work in works:
                    for path in PAIRS["metric"]:
                        cfgs.append(dict(base, group="matrix", tool="blast", target="metricd", alloc="glibc",
                                         workers=w, path=path, pipeline=pl, work=work))
                if pl in p["stats_pipelines"]:
                    for path in PAIRS["stats"]:
                        cfgs.append(dict(base, group="matrix", tool="blast", target="metricd", alloc="glibc",
                                         workers=w, path=path, pipeline=pl, work=0))
        wr = p["ref_workers"]
        if p["alloc_paths"] and len(self.allocators) > 1:
            for pl in p["alloc_pipelines"]:
                for path in p["alloc_paths"]:
                    for a in self.allocators:
                        cfgs.append(dict(base, group="allocators", tool="blast", target="metricd", alloc=a,
                                         workers=wr, path=path, pipeline=pl, work=0))
        if p["references"]:
            rb = {"duration": p["ref_duration"], "warmup": 0.0}
            rbb = {"duration": p.get("ref_blast_duration") or p["ref_duration"], "warmup": 0.0}
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
                                     workers=wr, path=path, pipeline=pl, work=0))
        return cfgs

    def do_closed(self):
        cfgs = self.closed_configs()
        est = sum(c["duration"] + c["warmup"] + 0.3 for c in cfgs) * self.plan["reps"]
        self.log(f"closed loop: {len(cfgs)} configurations x {self.plan['reps']} interleaved repetitions "
                 f"(about {est / 60:.1f} min)")
        runs = self.interleave(cfgs, "closed")
        for group, name in (("matrix", "closed_loop"), ("allocators", "allocators"), ("references", "references")):
            rs = [r for r in runs if r["group"] == group]
            prev = self.res.get(name) if isinstance(self.res.get(name), dict) else {}
            self.res[name] = dict(prev, runs=rs, summary=summarize_runs(rs))
        if self.plan["references"] and ("nginx", None, self.plan["ref_workers"]) in self.servers:
            self.res["references"]["nginx"] = self.servers[("nginx", None, self.plan["ref_workers"])].describe()
        elif not self.plan["references"] and "error" not in self.res["references"]:
            self.res["references"]["skipped"] = "references disabled (--no-references)"

    # -- open loop -----------------------------------------------------

    def do_open(self):
        p = self.plan
        wr = p["ref_workers"]
        summ = {s["key"]: s for s in self.res.get("closed_loop", {}).get("summary", [])}
        cfgs = []
        for path in p["open_paths"]:
            base = dict(group="matrix", tool="blast", target="metricd", alloc="glibc", workers=wr,
                        path=path, pipeline=1, work=0)
            s = summ.get(cfg_key(base))
            if not s or not s["rps"]["median"]:
                self.warn(f"open loop: no closed-loop max rate for {path}; skipped")
                continue
            for fr in p["open_fractions"]:
                cfgs.append(dict(base, group="open", fraction=fr, max_rps=s["rps"]["median"],
                                 rate=int(fr * s["rps"]["median"]), duration=p["duration"], warmup=p["warmup"]))
        # Order so stack and heap at the same fraction run side by side.
        cfgs.sort(key=lambda c: (c["fraction"], ALL_PATHS.index(c["path"])))
        runs = self.interleave(cfgs, "open")
        self.res["open_loop"] = {"workers": wr, "pipeline": 1, "connections": p["connections"],
                                 "percentiles": OPEN_PCTS, "corrected": True,
                                 "runs": runs, "summary": summarize_runs(runs)}

    # -- server stats per path per worker count --------------------------

    def do_server_stats(self):
        rows = []
        groups = {}
        for name in ("closed_loop", "allocators"):
            for r in self.res.get(name, {}).get("runs", []):
                if r["target"] != "metricd" or not r["result"].get("server"):
                    continue
                k = (r["alloc"], r["workers"], r["path"], r["pipeline"], r["work"])
                d = dict(r["result"]["server"])
                d["server_cpu_us_per_request"] = r["result"].get("server_cpu_us_per_request")
                groups.setdefault(k, []).append(d)
        for (alloc, w, path, pl, work), ds in sorted(groups.items(), key=lambda kv: (
                kv[0][0] != "glibc", kv[0][0], kv[0][1], ALL_PATHS.index(kv[0][2]), kv[0][3], kv[0][4])):
            row = {"allocator": alloc, "workers": w, "path": path, "pipeline": pl, "work": work,
                   "requests": sum(d["requests"] for d in ds)}
            for k in STAT_KEYS + ("server_cpu_us_per_request",):
                row[k] = summary([d.get(k) for d in ds])
            cpu = row["server_cpu_us_per_request"]["median"]
            ns = row["allocator_ns_per_request"]["median"]
            row["allocator_share_of_cpu"] = (ns / (cpu * 1000)) if cpu and ns is not None else None
            tot = row["requests"]
            row["overall"] = {
                "allocs_per_request": sum(d["allocs"] for d in ds) / tot if tot else None,
                "cross_thread_frees_per_request": sum(d["cross_thread_frees"] for d in ds) / tot if tot else None,
                "allocator_ns_per_request": sum(d["allocator_ns"] for d in ds) / tot if tot else None,
            }
            rows.append(row)
        self.res["server_stats"] = {"source": "GET /stats before and after each run (differences)",
                                    "summary": rows}

    # -- perf ------------------------------------------------------------

    def do_perf(self):
        sec = self.res["perf"] = {"available": False, "profiles": []}
        missed = [t for t in self.res.get("targets", []) if t.get("met") is False]
        sec["missed_targets"] = [t["id"] for t in missed]
        if not missed:
            sec["skipped"] = "every target met; no profile needed"
            return
        if not shutil.which("perf"):
            sec["skipped"] = "perf is not installed (apt-get install linux-perf)"
            return
        rc, out, err, _ = run_bounded(["perf", "stat", "-e", "task-clock", "true"], 30)
        sec["check"] = {"command": "perf stat -e task-clock true", "exit": rc, "stderr_tail": err.strip()[-300:]}
        if rc != 0:
            sec["skipped"] = f"perf does not work here (perf stat -e task-clock true: exit {rc})"
            return
        sec["available"] = True
        p = self.plan
        ids = {t["id"] for t in missed}
        wr = p["ref_workers"]
        srv = self.servers.get(("metricd", "glibc", wr))
        if srv is None:
            sec["skipped"] = "no metricd instance left to profile"
            return
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
        seen = []
        for item in todo:
            if item in seen:
                continue
            seen.append(item)
            sec["profiles"].append(self.perf_one(srv, *item, reasons=sorted(ids)))

    def perf_one(self, srv, what, path, pipeline, reasons):
        p = self.plan
        secs = p["perf_s"]
        data = os.path.join(self.out, f"perf-{what}-{pipeline or 'idle'}.data")
        prof = {"what": what, "path": path, "pipeline": pipeline, "seconds": secs, "reasons": reasons}
        errf = open(os.path.join(self.logs, "perf-record.err"), "a")
        if what == "blast":
            args = ["perf", "record", "-g", "-F", "999", "-o", data, "--", self.bins["blast"], "-q", "--json",
                    "-t", str(p["threads"]), "-c", str(p["connections"]), "-d", fmt_duration(secs),
                    "--pipeline", str(pipeline), srv.url(path)]
            prof["target"] = "blast (the load generator), against metricd"
            rc, out, err, _ = run_bounded(args, secs + 60)
            errf.write(err)
        else:
            args = ["perf", "record", "-g", "-F", "999", "-o", data, "-p", str(srv.pid), "--", "sleep", f"{secs:g}"]
            prof["target"] = f"metricd pid {srv.pid} ({srv.name})" + (" while blast loads it" if what == "metricd" else ", idle")
            load = None
            if what == "metricd":
                # The load runs before, during and after the recording window.
                load = spawn([self.bins["blast"], "-q", "-t", str(p["threads"]), "-c", str(p["connections"]),
                              "-d", fmt_duration(secs + 1.5), "--pipeline", str(pipeline), srv.url(path)])
                time.sleep(0.5)
            rc, out, err, _ = run_bounded(args, secs + 60)
            errf.write(err)
            if load is not None:
                try:
                    load.wait(secs + 30)
                except subprocess.TimeoutExpired:
                    pass
                stop(load)
        errf.close()
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
        try:
            os.unlink(data)
            if os.path.exists(data + ".old"):
                os.unlink(data + ".old")
        except OSError:
            pass
        self.log(f"perf: profiled {what} {path or ''} p{pipeline or '-'}: {len(prof['flat'])} symbols over 0.5%")
        return prof


def summarize_runs(runs):
    out = []
    order = []
    by = {}
    for r in runs:
        if r["key"] not in by:
            by[r["key"]] = []
            order.append(r["key"])
        by[r["key"]].append(r)
    for k in order:
        rs = sorted(by[k], key=lambda r: r["rep"])
        c = {f: rs[0][f] for f in ("group", "tool", "target", "alloc", "workers", "path", "pipeline", "work",
                                    "duration", "warmup") if f in rs[0]}
        for f in ("fraction", "rate", "max_rps"):
            if f in rs[0]:
                c[f] = rs[0][f]
        c["key"] = k
        c["rps"] = summary([r["result"].get("rps") for r in rs])
        pcts = set()
        for r in rs:
            pcts |= set((r["result"].get("latency_us") or {}).keys())
        c["latency_us"] = {p: summary([(r["result"].get("latency_us") or {}).get(p) for r in rs])
                           for p in sorted(pcts, key=float)}
        c["server_cpu_us_per_request"] = summary([r["result"].get("server_cpu_us_per_request") for r in rs])
        c["errors"] = sum((r["result"].get("errors") or 0) + (r["result"].get("status_other") or 0) for r in rs)
        c["failed_runs"] = sum(1 for r in rs if not r["result"].get("ok"))
        if any("late_sends" in r["result"] for r in rs):
            c["late_sends"] = summary([r["result"].get("late_sends") for r in rs])
            c["rate_achieved"] = all(r["result"].get("rate_achieved") for r in rs)
        srv = [r["result"].get("server") for r in rs if r["result"].get("server")]
        if srv:
            c["server"] = {k2: summary([d.get(k2) for d in srv]) for k2 in STAT_KEYS}
        out.append(c)
    return out


def paired_ratio(runs, key_a, key_b):
    """Per repetition a/b of two configurations measured side by side."""
    a = {r["rep"]: r["result"].get("rps") for r in runs if r["key"] == key_a}
    b = {r["rep"]: r["result"].get("rps") for r in runs if r["key"] == key_b}
    vals = [a[k] / b[k] for k in sorted(a) if a.get(k) and b.get(k)]
    return summary(vals)


def new_results_dir(base, mode):
    stamp = now_utc().strftime("%Y%m%d-%H%M%S")
    name = stamp if mode == "full" else f"{stamp}-{mode}"
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


def write_json(path, obj):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=1, sort_keys=False)
        f.write("\n")
    os.replace(tmp, path)
