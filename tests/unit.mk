# Unit tests: one Check suite per source file, mirroring the tree.  Each
# links the server's convenience library, so no server code is rebuilt.
UNIT_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(LIBEVENT_CFLAGS) $(CK_CFLAGS)
UNIT_LDADD = $(SERVER_LIBS) $(CHECK_LIBS)

check_PROGRAMS += tests/test_slab tests/test_queue tests/test_framing \
	tests/test_route tests/test_response tests/test_cfg tests/test_metric
TESTS += tests/test_slab tests/test_queue tests/test_framing \
	tests/test_route tests/test_response tests/test_cfg tests/test_metric

tests_test_slab_SOURCES = tests/test_slab.c
tests_test_slab_CFLAGS = $(UNIT_CFLAGS)
tests_test_slab_LDADD = $(UNIT_LDADD)

tests_test_queue_SOURCES = tests/test_queue.c
tests_test_queue_CFLAGS = $(UNIT_CFLAGS)
tests_test_queue_LDADD = $(UNIT_LDADD)

tests_test_framing_SOURCES = tests/test_framing.c
tests_test_framing_CFLAGS = $(UNIT_CFLAGS)
tests_test_framing_LDADD = $(UNIT_LDADD)

tests_test_route_SOURCES = tests/test_route.c
tests_test_route_CFLAGS = $(UNIT_CFLAGS)
tests_test_route_LDADD = $(UNIT_LDADD)

tests_test_response_SOURCES = tests/test_response.c
tests_test_response_CFLAGS = $(UNIT_CFLAGS)
tests_test_response_LDADD = $(UNIT_LDADD)

tests_test_cfg_SOURCES = tests/test_cfg.c
tests_test_cfg_CFLAGS = $(UNIT_CFLAGS)
tests_test_cfg_LDADD = $(UNIT_LDADD)

tests_test_metric_SOURCES = tests/test_metric.c
tests_test_metric_CFLAGS = $(UNIT_CFLAGS)
tests_test_metric_LDADD = $(UNIT_LDADD)
