# SPDX-License-Identifier: BSD-2-Clause
# Unit tests: one Check suite per source file, mirroring the tree.  Each
# links the server's convenience library, so no server code is rebuilt.
#
# A suite is one line in UNIT_SUITES: tests/test_x is built from
# tests/test_x.c (automake's default sources) with the flags below, which
# apply to the suites' objects and links only.  They are GNU make
# target-specific variables: automake passes these lines through as rules.
# A suite that needs more (other sources, libraries, link flags) adds its
# own tests_test_x_SOURCES / _LDADD (with $(UNIT_LIBS)) / _LDFLAGS; with
# its own _CFLAGS, use $(UNIT_CFLAGS).
UNIT_SUITES = \
	tests/test_accesslog \
	tests/test_cfg \
	tests/test_cfgfile \
	tests/test_conn \
	tests/test_framing \
	tests/test_log \
	tests/test_mem \
	tests/test_metric \
	tests/test_notify \
	tests/test_placement \
	tests/test_proc \
	tests/test_response \
	tests/test_route \
	tests/test_slab \
	tests/test_spin \
	tests/test_text
check_PROGRAMS += $(UNIT_SUITES)
TESTS += $(UNIT_SUITES)

UNIT_EXTRA_CFLAGS = $(CHECK_CFLAGS) $(LIBEVENT_CFLAGS) $(CK_CFLAGS)
UNIT_CFLAGS = $(AM_CFLAGS) $(UNIT_EXTRA_CFLAGS)
UNIT_LIBS = $(SERVER_LIBS) $(CHECK_LIBS)
unit_objects = $(UNIT_SUITES:=.$(OBJEXT))
unit_programs = $(UNIT_SUITES:=$(EXEEXT))
$(unit_objects): AM_CFLAGS += $(UNIT_EXTRA_CFLAGS)
$(unit_programs): LDADD = $(UNIT_LIBS)
$(unit_programs): libmetricd.a

# test_notify links the configured core/notify.c (libsystemd when
# configure found it); test_notify_builtin compiles it again with the
# built-in protocol forced, so both implementations are tested in one build.
check_PROGRAMS += tests/test_notify_builtin
TESTS += tests/test_notify_builtin
tests_test_notify_builtin_SOURCES = tests/test_notify.c core/notify.c core/base/log.c core/base/clock.c
tests_test_notify_builtin_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) -DNOTIFY_NO_LIBSYSTEMD
tests_test_notify_builtin_LDADD = $(CHECK_LIBS) $(PTHREAD_LIBS)

# Link-time interposition (tests/wrap.h): allocator calls counted per
# thread, chosen malloc/mmap calls made to fail.
LDWRAP_FLAGS = -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=free,--wrap=mmap
noinst_LIBRARIES += tests/libwrap.a tests/libworkerharness.a
tests_libwrap_a_SOURCES = tests/wrap.c tests/wrap.h
tests_libwrap_a_CFLAGS = $(UNIT_CFLAGS)
EXTRA_DIST += tests/covdump.h
# A real worker thread fed through its ring (worker, stack and heap suites).
tests_libworkerharness_a_SOURCES = tests/worker_harness.c tests/worker_harness.h
tests_libworkerharness_a_CFLAGS = $(UNIT_CFLAGS) $(URCU_CFLAGS)

# Suites with more than the default: link-time wrapping, the worker
# harness, blast's JSON parser (test_telemetry reads the JSON back with code
# independent of the writer), the acceptor's own source.
WRAP_SUITES = tests/test_queue tests/test_chain
HARNESS_SUITES = tests/test_worker tests/test_stack tests/test_heap
check_PROGRAMS += $(WRAP_SUITES) $(HARNESS_SUITES) tests/test_telemetry tests/test_acceptor
TESTS += $(WRAP_SUITES) $(HARNESS_SUITES) tests/test_telemetry tests/test_acceptor

tests_test_queue_CFLAGS = $(UNIT_CFLAGS)
tests_test_queue_LDFLAGS = $(LDWRAP_FLAGS)
tests_test_queue_LDADD = tests/libwrap.a $(UNIT_LIBS)
tests_test_chain_CFLAGS = $(UNIT_CFLAGS)
tests_test_chain_LDFLAGS = $(LDWRAP_FLAGS)
tests_test_chain_LDADD = tests/libwrap.a $(UNIT_LIBS)

HARNESS_LIBS = tests/libworkerharness.a tests/libtestlib.a tests/libwrap.a $(UNIT_LIBS)
tests_test_worker_CFLAGS = $(UNIT_CFLAGS) $(URCU_CFLAGS)
tests_test_worker_LDFLAGS = $(LDWRAP_FLAGS)
tests_test_worker_LDADD = $(HARNESS_LIBS)
tests_test_stack_CFLAGS = $(UNIT_CFLAGS) $(URCU_CFLAGS)
tests_test_stack_LDFLAGS = $(LDWRAP_FLAGS)
tests_test_stack_LDADD = $(HARNESS_LIBS)
tests_test_heap_CFLAGS = $(UNIT_CFLAGS) $(URCU_CFLAGS)
tests_test_heap_LDFLAGS = $(LDWRAP_FLAGS)
tests_test_heap_LDADD = $(HARNESS_LIBS)

tests_test_telemetry_CFLAGS = $(UNIT_CFLAGS)
tests_test_telemetry_LDADD = tools/blast/libblast.la $(UNIT_LIBS) -lm
# test_accesslog reads its JSON lines back with the same parser.
tests_test_accesslog_LDADD = tools/blast/libblast.la $(UNIT_LIBS) -lm

# The acceptor with its workers, in process on an ephemeral port.
tests_test_acceptor_CFLAGS = $(UNIT_CFLAGS) $(URCU_CFLAGS) $(LIBSYSTEMD_CFLAGS)
tests_test_acceptor_LDADD = tests/libtestlib.a $(UNIT_LIBS)
