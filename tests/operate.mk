# What operators rely on besides serving: how metricd logs under systemd.
check_PROGRAMS += tests/test_log
TESTS += tests/test_log
tests_test_log_SOURCES = tests/test_log.c
tests_test_log_CFLAGS = $(UNIT_CFLAGS)
tests_test_log_LDADD = $(UNIT_LDADD)
