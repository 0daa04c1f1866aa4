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

# Script tests, run by Debian's python3 against the built binary.
TEST_EXTENSIONS = .py
PY_LOG_COMPILER = $(PYTHON3)
AM_TESTS_ENVIRONMENT = METRICD='$(abs_top_builddir)/metricd'; export METRICD;
TESTS += tests/test_stats.py
EXTRA_DIST += tests/test_stats.py
