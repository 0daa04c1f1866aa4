# tools/bench: the one-command benchmark and report (docs/BENCHMARKS.md).
#   make bench                      full run, about 15 minutes on 2 CPUs
#   make bench BENCH_ARGS=--quick   about 2 minutes
# tools/bench/run builds its own optimized metricd, blast and allocbench
# (-O2, in bench/results/.build, from a snapshot of the source tree) and
# writes bench/results/<timestamp>/{results.json,report.md,charts/}.
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
	tools/bench/benchlib.py \
	tools/bench/benchreport.py \
	tools/bench/vs-nginx \
	tools/bench/robustness \
	tools/bench/faults \
	tools/bench/blast-vs-wrk \
	docs/BENCHMARKS.md
