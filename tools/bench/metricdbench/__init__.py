# SPDX-License-Identifier: BSD-2-Clause
"""metricd's benchmarks, as one package (Python 3 standard library only).

The executables in tools/bench are thin front doors onto it, one per job:

  run           the benchmark and its report (every phase, or --only some:
                nginx next to metricd, the allocator comparisons, ...)
  scaling       the same run on a bigger machine, from a built tree
  report        report.md and charts again from a results.json
  robustness    hostile clients and faults: the figures the soak tests
                print but never assert, metricd next to nginx
  blast-vs-wrk  the load generators side by side

Modules, from the bottom up:

  common    names, errors, the log, medians, JSON
  procs     child processes in their own process groups, bounded runs,
            cleanup at exit
  sample    /proc: CPU ticks, RSS, per-thread counters, host snapshots
  machine   the machine's facts, package versions, the allocators installed
  build     an optimized build through tools/build-tree
  servers   metricd, nginx (plain, TLS, large bodies from a file), refserver
  client    a keep-alive HTTP/1.1 client for the latency probes
  loads     blast and wrk runs (wrk pipelining through Lua)
  plan      what a run measures, per mode, and which phases
  bench     the interleaved load phases (closed loop, open loop, allocators,
            references) and /stats per run
  phases    the phases without a load matrix: allocbench, idle CPU, RSS
  perf      profiles when a target is missed, and the flame graphs' samples
  svgplot, flame
            SVG charts and flame graphs, drawn here (no plotting library)
  targets, charts, report
            the targets, the charts and report.md of a results.json
  cli       tools/bench/run, scaling and report
  hostile   tools/bench/robustness
  loadgens  tools/bench/blast-vs-wrk
"""
