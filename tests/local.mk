# SPDX-License-Identifier: BSD-2-Clause
# Server tests: one Check suite per source file, plus integration tests that
# start the real binary on an ephemeral port.
TEST_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(LIBEVENT_CFLAGS) $(CK_CFLAGS) \
	-DMETRICD_BIN=\"$(abs_top_builddir)/metricd\"

noinst_LIBRARIES += tests/libtestlib.a
tests_libtestlib_a_SOURCES = tests/testlib.c tests/testlib.h
tests_libtestlib_a_CFLAGS = $(TEST_CFLAGS)

check_PROGRAMS += tests/test_integration
TESTS += tests/test_integration
tests_test_integration_SOURCES = tests/test_integration.c
tests_test_integration_CFLAGS = $(TEST_CFLAGS)
tests_test_integration_LDADD = tests/libtestlib.a $(CHECK_LIBS) $(PTHREAD_LIBS)
# The integration tests run the real binary.
tests/test_integration.$(OBJEXT): metricd$(EXEEXT)

# Allocations per request, counted by the alloccount interposer over every
# thread of the real server.  Skipped (77) in sanitizer builds, whose own
# allocator cannot share the process with an interposer.
check_PROGRAMS += tests/test_allocs
TESTS += tests/test_allocs
tests_test_allocs_SOURCES = tests/test_allocs.c
tests_test_allocs_CFLAGS = $(TEST_CFLAGS) \
	-DALLOCCOUNT_SO='"$(abs_top_builddir)/tools/alloccount/.libs/alloccount.so"'
if SANITIZERS
tests_test_allocs_CFLAGS += -DSKIP_UNDER_SANITIZERS=1
endif
tests_test_allocs_LDADD = tests/libtestlib.a tools/alloccount/libacread.la \
	$(CHECK_LIBS) $(PTHREAD_LIBS)
tests/test_allocs.$(OBJEXT): metricd$(EXEEXT) tools/alloccount/alloccount.la

# Every test runs under tests/bounded: a test that hangs is killed after
# TEST_TIMEOUT_S seconds and ends as a FAIL that says so.  A guard against
# hangs, not a measurement: the slowest test takes about a minute under
# ThreadSanitizer, and under `make -j` a soak test may first wait for its
# turn (tests/soak/soaklib.py) behind the others.
TEST_TIMEOUT_S = 600
LOG_COMPILER = $(SHELL) $(top_srcdir)/tests/bounded $(TEST_TIMEOUT_S)
EXTRA_DIST += tests/bounded

# Script tests, run by Debian's python3 against the built binary.
TEST_EXTENSIONS = .py
PY_LOG_COMPILER = $(LOG_COMPILER) $(PYTHON3)
# Sanitizer builds: the first report ends the process (with
# -fno-sanitize-recover from configure), and says where it came from.
# Options the caller already set are kept and win (they come last).
AM_TESTS_ENVIRONMENT = METRICD='$(abs_top_builddir)/metricd'; export METRICD; \
	. $(top_srcdir)/tests/sanitizer-env.sh;
EXTRA_DIST += tests/sanitizer-env.sh
# test_service_notify.py: the real binary under a fake service manager
# (readiness, reload, stop, watchdog and socket activation);
# test_stats_metrics.py: every /stats figure against its /metrics series.
# test_dashboard.py: the live page in headless Chromium, under blast's load
# (it needs blast; its screenshot goes to tests/test_dashboard.out/).
# test_bench_charts.py: the benchmark report's SVG charts and flame graphs
# (tools/bench/metricdbench), on made-up figures.
PY_TESTS = tests/test_stats.py tests/test_stats_metrics.py tests/test_access_log.py \
	tests/test_service_notify.py tests/test_dashboard.py tests/test_bench_charts.py
tests/test_dashboard.log: blast$(EXEEXT)
clean-local: clean-dashboard-out
clean-dashboard-out:
	rm -rf tests/test_dashboard.out
.PHONY: clean-dashboard-out
TESTS += $(PY_TESTS)
EXTRA_DIST += $(PY_TESTS) tests/httptest.py
include $(top_srcdir)/tests/unit.mk
include $(top_srcdir)/tests/operate.mk

# The extra checks tools/check-all runs, and what they share.  coverage.py
# holds the coverage floors.
EXTRA_DIST += tests/ci.d/common.bash \
	tests/ci.d/bench.sh \
	tests/ci.d/cluster.sh \
	tests/ci.d/coverage.sh \
	tests/ci.d/coverage.py \
	tests/ci.d/deb.sh \
	tests/ci.d/escape-report.sh \
	tests/ci.d/fuzz.sh \
	tests/ci.d/goaccess.sh \
	tests/ci.d/haproxy.sh \
	tests/ci.d/install.sh \
	tests/ci.d/layers.sh \
	tests/ci.d/logrotate.sh \
	tests/ci.d/options-doc.sh \
	tests/ci.d/prometheus.sh \
	tests/ci.d/spdx.sh \
	tests/ci.d/systemd.sh \
	tests/ci.d/valgrind.sh
# ci.d/cluster.sh's test: three hosts, HAProxy and Prometheus in network
# namespaces, under faults.
EXTRA_DIST += tests/cluster/test_cluster.py tests/cluster/clusterlib.py
