# SPDX-License-Identifier: BSD-2-Clause
# tools/bench: the benchmarks (docs/BENCHMARKS.md), one front door per job
# onto one Python package, tools/bench/metricdbench.
#   make bench                      full run, about 15 minutes on 2 CPUs
#   make bench BENCH_ARGS=--quick   about 2 minutes
# tools/bench/run builds its own optimized metricd, blast and allocbench
# (-O2, with tools/build-tree, in bench/results/.build, from a copy of the
# source tree) and writes bench/results/<timestamp>/{results.json,report.md,charts/},
# the charts as SVG drawn by the package itself (svgplot.py, flame.py).
BENCH_ARGS =

# refserver: the cheapest HTTP/1.1 answerer, to measure load generators
# (tools/bench/blast-vs-wrk).
noinst_PROGRAMS += tools/bench/refserver
tools_bench_refserver_SOURCES = tools/bench/refserver.c
tools_bench_refserver_CFLAGS = $(AM_CFLAGS)
tools_bench_refserver_LDADD = $(PTHREAD_LIBS)
bench:
	$(PYTHON3) $(top_srcdir)/tools/bench/run $(BENCH_ARGS)
.PHONY: bench

EXTRA_DIST += \
	tools/bench/run \
	tools/bench/scaling \
	tools/bench/report \
	tools/bench/robustness \
	tools/bench/blast-vs-wrk \
	tools/bench/targets12 \
	tools/bench/metricdbench/__init__.py \
	tools/bench/metricdbench/bench.py \
	tools/bench/metricdbench/build.py \
	tools/bench/metricdbench/charts.py \
	tools/bench/metricdbench/cli.py \
	tools/bench/metricdbench/client.py \
	tools/bench/metricdbench/common.py \
	tools/bench/metricdbench/faults.py \
	tools/bench/metricdbench/flame.py \
	tools/bench/metricdbench/hostile.py \
	tools/bench/metricdbench/loadgens.py \
	tools/bench/metricdbench/loads.py \
	tools/bench/metricdbench/machine.py \
	tools/bench/metricdbench/perf.py \
	tools/bench/metricdbench/phases.py \
	tools/bench/metricdbench/plan.py \
	tools/bench/metricdbench/procs.py \
	tools/bench/metricdbench/report.py \
	tools/bench/metricdbench/runs.py \
	tools/bench/metricdbench/sample.py \
	tools/bench/metricdbench/servers.py \
	tools/bench/metricdbench/svgplot.py \
	tools/bench/metricdbench/targets.py \
	docs/BENCHMARKS.md
