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
	tests/test_cfg \
	tests/test_framing \
	tests/test_mem \
	tests/test_metric \
	tests/test_notify \
	tests/test_queue \
	tests/test_response \
	tests/test_route \
	tests/test_slab
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
tests_test_notify_builtin_SOURCES = tests/test_notify.c core/notify.c core/log.c
tests_test_notify_builtin_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) -DNOTIFY_NO_LIBSYSTEMD
tests_test_notify_builtin_LDADD = $(CHECK_LIBS) $(PTHREAD_LIBS)
