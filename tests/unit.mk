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
tests_test_queue_LDFLAGS = $(LDWRAP_FLAGS)
tests_test_queue_LDADD = tests/libwrap.a $(UNIT_LDADD)

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

# Link-time interposition (tests/wrap.h): allocator calls counted per
# thread, chosen malloc/mmap calls made to fail.
LDWRAP_FLAGS = -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=free,--wrap=mmap
noinst_LIBRARIES += tests/libwrap.a tests/libworkerharness.a
tests_libwrap_a_SOURCES = tests/wrap.c tests/wrap.h
EXTRA_DIST += tests/covdump.h
tests_libwrap_a_CFLAGS = $(UNIT_CFLAGS)
# A real worker thread fed through its ring (worker, stack and heap suites).
tests_libworkerharness_a_SOURCES = tests/worker_harness.c tests/worker_harness.h
tests_libworkerharness_a_CFLAGS = $(UNIT_CFLAGS) $(URCU_CFLAGS)

check_PROGRAMS += tests/test_tail tests/test_conn tests/test_cfgfile \
	tests/test_log tests/test_accesslog tests/test_stats
TESTS += tests/test_tail tests/test_conn tests/test_cfgfile \
	tests/test_log tests/test_accesslog tests/test_stats

tests_test_tail_SOURCES = tests/test_tail.c
tests_test_tail_CFLAGS = $(UNIT_CFLAGS)
tests_test_tail_LDFLAGS = $(LDWRAP_FLAGS)
tests_test_tail_LDADD = tests/libwrap.a $(UNIT_LDADD)

tests_test_conn_SOURCES = tests/test_conn.c
tests_test_conn_CFLAGS = $(UNIT_CFLAGS)
tests_test_conn_LDADD = $(UNIT_LDADD)

tests_test_cfgfile_SOURCES = tests/test_cfgfile.c
tests_test_cfgfile_CFLAGS = $(UNIT_CFLAGS)
tests_test_cfgfile_LDADD = $(UNIT_LDADD)

tests_test_log_SOURCES = tests/test_log.c
tests_test_log_CFLAGS = $(UNIT_CFLAGS)
tests_test_log_LDADD = $(UNIT_LDADD)

tests_test_accesslog_SOURCES = tests/test_accesslog.c
tests_test_accesslog_CFLAGS = $(UNIT_CFLAGS)
tests_test_accesslog_LDADD = $(UNIT_LDADD)

# The JSON is read back with blast's parser: code independent of the writer.
tests_test_stats_SOURCES = tests/test_stats.c
tests_test_stats_CFLAGS = $(UNIT_CFLAGS)
tests_test_stats_LDADD = tools/blast/libblast.la $(UNIT_LDADD) -lm

# Worker, stack and heap paths through a real worker thread.
check_PROGRAMS += tests/test_worker tests/test_stack tests/test_heap
TESTS += tests/test_worker tests/test_stack tests/test_heap
HARNESS_LDADD = tests/libworkerharness.a tests/libtestlib.a tests/libwrap.a $(UNIT_LDADD)

tests_test_worker_SOURCES = tests/test_worker.c
tests_test_worker_CFLAGS = $(UNIT_CFLAGS) $(URCU_CFLAGS)
tests_test_worker_LDFLAGS = $(LDWRAP_FLAGS)
tests_test_worker_LDADD = $(HARNESS_LDADD)

tests_test_stack_SOURCES = tests/test_stack.c
tests_test_stack_CFLAGS = $(UNIT_CFLAGS) $(URCU_CFLAGS)
tests_test_stack_LDFLAGS = $(LDWRAP_FLAGS)
tests_test_stack_LDADD = $(HARNESS_LDADD)

tests_test_heap_SOURCES = tests/test_heap.c
tests_test_heap_CFLAGS = $(UNIT_CFLAGS) $(URCU_CFLAGS)
tests_test_heap_LDFLAGS = $(LDWRAP_FLAGS)
tests_test_heap_LDADD = $(HARNESS_LDADD)

# The acceptor with its workers, in process on an ephemeral port.  The
# suite includes core/acceptor.c (see the file's head comment), so it is
# compiled with the server's flags and takes the rest from libmetricd.a.
check_PROGRAMS += tests/test_acceptor
TESTS += tests/test_acceptor
tests_test_acceptor_SOURCES = tests/test_acceptor.c
tests_test_acceptor_CFLAGS = $(UNIT_CFLAGS) $(URCU_CFLAGS) $(LIBSYSTEMD_CFLAGS)
tests_test_acceptor_LDADD = tests/libtestlib.a $(UNIT_LDADD)
