# SPDX-License-Identifier: BSD-2-Clause
"""The machine a run measures on: CPUs, kernel, libraries and tool versions,
and which allocators are installed for LD_PRELOAD."""

import os
import platform
import re
import shutil

from .procs import run_bounded
from .sample import loadavg

ALLOCATOR_LIBS = {"glibc": None, "jemalloc": "libjemalloc.so.2", "mimalloc": "libmimalloc.so.2"}
ALLOCATOR_PACKAGES = "apt-get install libjemalloc2 libmimalloc2.0"
DPKG_PACKAGES = (
    "libc6", "libjemalloc2", "libmimalloc2.0", "libevent-2.1-7", "libck0",
    "liburcu8", "libhttp-parser2.9", "nginx-light", "nginx-core", "nginx", "wrk",
    "linux-perf", "gcc", "gcc-12", "python3", "linux-image-amd64",
)
LSCPU_KEYS = ("Thread(s) per core", "Core(s) per socket", "Socket(s)", "Hypervisor vendor",
              "Virtualization type", "L3 cache", "NUMA node(s)")
TOOL_VERSIONS = (("gcc", ["gcc", "--version"]), ("nginx", ["nginx", "-v"]), ("wrk", ["wrk", "-v"]),
                 ("perf", ["perf", "--version"]))


def libdir_candidates():
    dirs = []
    rc, out, _, _ = run_bounded(["gcc", "-print-multiarch"], 10) if shutil.which("gcc") else (1, "", "", 0)
    if rc == 0 and out.strip():
        dirs.append(f"/usr/lib/{out.strip()}")
    return dirs + ["/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib"]


def find_allocator(name):
    """"" for glibc (nothing to preload), the library's path, or None when
    it is not installed."""
    lib = ALLOCATOR_LIBS[name]
    if lib is None:
        return ""
    for d in libdir_candidates():
        p = os.path.join(d, lib)
        if os.path.exists(p):
            return p
    return None


def installed_allocators(warn):
    """{name: preload path ("" for glibc)} of the allocators installed;
    warn() is told about the others."""
    found = {}
    for a in ALLOCATOR_LIBS:
        path = find_allocator(a)
        if path is None:
            warn(f"{a} is not installed ({ALLOCATOR_PACKAGES}); skipped")
        else:
            found[a] = path
    return found


def dpkg_versions(names=DPKG_PACKAGES):
    out = {}
    if not shutil.which("dpkg-query"):
        return out
    rc, text, _, _ = run_bounded(["dpkg-query", "-W", "-f", "${Package}\t${Version}\t${db:Status-Abbrev}\n",
                                  *names], 30)
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) >= 3 and parts[2].startswith("ii"):
            out[parts[0]] = parts[1]
    return out


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            m = re.search(r"^model name\s*:\s*(.*)$", f.read(), re.M)
            return m.group(1).strip() if m else None
    except OSError:
        return None


def _cpuinfo(info):
    info["cpu_model"] = cpu_model()
    try:
        with open("/proc/cpuinfo") as f:
            m = re.search(r"^cpu MHz\s*:\s*([\d.]+)", f.read(), re.M)
        if m:
            info["cpu_mhz"] = float(m.group(1))
    except OSError:
        pass
    if shutil.which("lscpu"):
        rc, out, _, _ = run_bounded(["lscpu"], 10)
        for line in out.splitlines():
            k, _, v = line.partition(":")
            if k.strip() in LSCPU_KEYS:
                info["lscpu_" + re.sub(r"[^a-z0-9]+", "_", k.strip().lower()).strip("_")] = v.strip()


def _memory_and_governor(info):
    try:
        with open("/proc/meminfo") as f:
            info["mem_total_kib"] = int(f.readline().split()[1])
    except (OSError, ValueError, IndexError):
        pass
    gov = "/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor"
    if os.path.exists(gov):
        with open(gov) as f:
            info["cpufreq_governor"] = f.read().strip()


def _tool_versions(info):
    for tool, args in TOOL_VERSIONS:
        if shutil.which(args[0]):
            rc, out, err, _ = run_bounded(args, 10)
            text = (out + err).strip().splitlines()
            info[tool + "_version"] = text[0] if text else None


def machine_info():
    allowed = os.sched_getaffinity(0)
    info = {"cpu_model": None, "cores_online": os.cpu_count(), "cpus_allowed": len(allowed),
            "cpus_allowed_list": sorted(allowed), "kernel": platform.release(),
            "kernel_version": platform.version(), "arch": platform.machine(),
            "glibc": os.confstr("CS_GNU_LIBC_VERSION") if hasattr(os, "confstr") else None,
            "python": platform.python_version()}
    _cpuinfo(info)
    _memory_and_governor(info)
    info["packages"] = dpkg_versions()
    _tool_versions(info)
    info["loadavg_at_start"] = loadavg()
    return info


def machine_line():
    """One line for a table's heading: CPUs, model, kernel."""
    return f"{os.cpu_count()} CPUs, {cpu_model() or '?'}, kernel {platform.release()}"
