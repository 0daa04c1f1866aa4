#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# The benchmark works end to end: tools/bench/run --ci against the binaries
# of the build directory $1 (seconds, not minutes), then checks that it
# wrote a valid results.json with every section, a report.md, and every
# chart as a well-formed SVG (and the flame graphs where perf works).  The
# numbers are not asserted: CI machines are noisy and the targets are
# checked by the report, not by tests.
# Exit 0 pass, 77 skip (nginx, wrk, jemalloc or mimalloc missing:
# tools/setup-deps --bench installs them; with CI set that fails), anything
# else fails.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/ci.d/common.bash"
build=${1:?usage: tests/ci.d/bench.sh BUILD_DIR}
build=$(cd "$build" && pwd)
PATH=$PATH:/usr/sbin

missing=()
command -v nginx >/dev/null || missing+=(nginx-light)
command -v wrk >/dev/null || missing+=(wrk)
command -v python3 >/dev/null || missing+=(python3)
libdir=/usr/lib/$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
[ -e "$libdir/libjemalloc.so.2" ] || missing+=(libjemalloc2)
[ -e "$libdir/libmimalloc.so.2" ] || missing+=(libmimalloc2.0)
if [ ${#missing[@]} -gt 0 ]; then
	missing_tool "missing ${missing[*]} (tools/setup-deps --bench installs them)"
fi
for b in metricd blast allocbench; do
	[ -x "$build/$b" ] || { echo "FAIL: $build/$b is not built"; exit 1; }
done

out="$build/bench-ci"
rm -rf "$out"
mkdir -p "$out"
start=$(date +%s)
timeout -k 5 150 python3 "$top/tools/bench/run" --ci --bin-dir "$build" --out "$out"
rc=$?
echo "bench --ci: exit $rc after $(( $(date +%s) - start )) s"
[ "$rc" -eq 0 ] || { echo "FAIL: tools/bench/run --ci exited $rc"; exit 1; }

dir=$(find "$out" -mindepth 1 -maxdepth 1 -type d -name '*-ci*' | head -1)
[ -n "$dir" ] || { echo "FAIL: no results directory under $out"; exit 1; }
python3 - "$dir" <<'PY'
import json, os, sys
import xml.etree.ElementTree as ET
d = sys.argv[1]
fail = []
try:
    r = json.load(open(os.path.join(d, "results.json")))
except (OSError, ValueError) as e:
    print(f"FAIL: results.json: {e}")
    sys.exit(1)

def need(cond, what):
    if not cond:
        fail.append(what)

need(r.get("schema") == "metricd-bench/2", "schema")
need(r.get("mode") == "ci", "mode")
need(not r.get("errors"), f"errors: {r.get('errors')}")
m = r.get("machine", {})
for k in ("cpu_model", "cores_online", "kernel", "glibc", "packages"):
    need(m.get(k), f"machine.{k}")
need("libc6" in m.get("packages", {}), "machine.packages.libc6")
for sec in ("allocbench", "closed_loop", "open_loop", "allocators", "references"):
    s = r.get(sec) or {}
    need(not s.get("error"), f"{sec}: {s.get('error')}")
    need(s.get("runs"), f"{sec}.runs")
    need(s.get("summary"), f"{sec}.summary")
    for x in s.get("summary", []):
        if sec == "allocbench":
            need(all(v.get("n", 0) >= 1 for v in x["ns_per_op"].values()), f"{sec}: empty row {x}")
        else:
            rps = x.get("rps", {})
            need(rps.get("n") == r["settings"]["reps"] and rps.get("median") is not None
                 and rps["min"] <= rps["median"] <= rps["max"], f"{sec}: {x.get('key')}: rps {rps}")
allocs = {x["alloc"] for x in r.get("allocators", {}).get("summary", [])}
need(allocs == {"glibc", "jemalloc", "mimalloc"}, f"allocators: {allocs}")
tools = {(x["tool"], x["target"]) for x in r.get("references", {}).get("summary", [])}
need({("blast", "nginx"), ("wrk", "nginx"), ("blast", "metricd"), ("wrk", "metricd")} <= tools, f"references: {tools}")
need(len({x["pipeline"] for x in r.get("closed_loop", {}).get("summary", [])}) == 2, "closed loop: pipelines 1 and 16")
need({x["workers"] for x in r.get("closed_loop", {}).get("summary", [])} == set(r["settings"]["workers"]),
     "closed loop: every worker count")
for x in r.get("open_loop", {}).get("summary", []):
    need(all(p in x["latency_us"] for p in ("p50", "p99", "p99_9")), f"open loop percentiles: {x['key']}")
need(len(r.get("open_loop", {}).get("summary", [])) >= 4, "open loop: 2 paths x 2 rates")
for fr in r["settings"]["open_fractions"]:
    rates = {x["path"]: x["rate"] for x in r.get("open_loop", {}).get("summary", []) if x["fraction"] == fr}
    need(rates.get("/metric-stack") == rates.get("/metric-heap"), f"open loop at {fr}: one rate for both paths {rates}")
cl_runs = r.get("closed_loop", {}).get("runs", [])
need(all(x["result"].get("series") for x in cl_runs), "closed loop: blast's per-second series in every run")
need(all(x["result"].get("server_user_us_per_request") is not None for x in cl_runs),
     "closed loop: user and system CPU per request")
i = r.get("idle_cpu") or {}
need(i.get("cpu_percent", {}).get("median") is not None and len(i.get("reps", [])) >= 3, "idle_cpu")
s = r.get("rss_per_connection") or {}
need(s.get("kib_per_connection", {}).get("median") is not None and s.get("connections", 0) >= 100, "rss_per_connection")
ss = (r.get("server_stats") or {}).get("summary", [])
need({x["path"] for x in ss} >= {"/metric-stack", "/metric-heap", "/stats-value", "/stats-pointer"}, "server_stats paths")
for x in ss:
    for k in ("allocs_per_request", "cross_thread_frees_per_request", "allocator_ns_per_request"):
        need(x.get(k, {}).get("median") is not None, f"server_stats {x['path']} {k}")
ids = {t["id"] for t in r.get("targets", [])}
need(ids == {"stack_vs_nginx_p1", "stack_vs_nginx_p16", "blast_vs_wrk_p1", "blast_vs_wrk_p16",
             "stack_zero_allocs", "idle_cpu", "rss_per_connection"}, f"targets: {ids}")
for t in r.get("targets", []):
    need(t.get("met") in (True, False) and t.get("verdict"), f"target {t.get('id')} evaluated")
    if t.get("met") is False:
        need("MISSED" in t["verdict"], f"target {t['id']} says by how much")
p = r.get("perf") or {}
need("profiles" in p, "perf section")
if p.get("available") and p.get("missed_targets"):
    need(p["profiles"] and all(x.get("flat") is not None for x in p["profiles"]), "perf profiles")
ch = r.get("charts") or {}
want = ["heap_stack_ratio", "latency", "rps_per_second", "cpu_per_request", "allocator_ns", "allocators",
        "allocbench"]
if len(r["settings"]["workers"]) > 1:
    want.append("rps_vs_workers")
fl = r.get("flame") or {}
need("profiles" in fl, "flame section")
if fl.get("profiles") and all(p.get("folded") for p in fl["profiles"]):
    want.append("flame")
for name in want:
    c = ch.get(name) or {}
    need(not c.get("error") and c.get("svg") == f"charts/{name}.svg", f"chart {name}: {c}")
    path = os.path.join(d, "charts", f"{name}.svg")
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as e:
        fail.append(f"{path}: {e}")
        continue
    texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text") if t.text]
    need(root.tag.endswith("svg") and root.get("viewBox") and len(texts) >= 5, f"{path} is not a chart")
rep = open(os.path.join(d, "report.md")).read() if os.path.exists(os.path.join(d, "report.md")) else ""
for h in ("## Targets", "## 1.", "## 2.", "## 3.", "## 4.", "## 5.", "## 6.", "## 8.",
          "charts/heap_stack_ratio.svg", "charts/latency.svg"):
    need(h in rep, f"report.md: {h}")
if fail:
    for f in fail:
        print("FAIL:", f)
    sys.exit(1)
print(f"PASS: {d}: every section, {len(want)} charts, {len(r['closed_loop']['runs'])} closed-loop runs")
PY
