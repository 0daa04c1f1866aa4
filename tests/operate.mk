# What operators rely on besides serving: the configuration test
# (metricd -t) and how metricd logs under systemd.
check_PROGRAMS += tests/test_log
TESTS += tests/test_log
tests_test_log_SOURCES = tests/test_log.c
tests_test_log_CFLAGS = $(UNIT_CFLAGS)
tests_test_log_LDADD = $(UNIT_LDADD)

TESTS += tests/test_check_config.py
EXTRA_DIST += tests/test_check_config.py
