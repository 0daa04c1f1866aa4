# SPDX-License-Identifier: BSD-2-Clause
# blast's tests: one Check suite per source file, an in-process stall
# server for the end-to-end suites, and a shell test of the binary itself.
#
# A suite is one line in BLAST_SUITES: tests/blast/test_x is built from
# tests/blast/test_x.c with the flags below, which apply to the suites'
# objects and links only (GNU make target-specific variables, as in
# tests/unit.mk).
BLAST_SUITES = \
	tests/blast/test_busypoll \
	tests/blast/test_chart \
	tests/blast/test_cli \
	tests/blast/test_engine \
	tests/blast/test_hdrlog \
	tests/blast/test_hist \
	tests/blast/test_json \
	tests/blast/test_merge \
	tests/blast/test_parse \
	tests/blast/test_request \
	tests/blast/test_resp \
	tests/blast/test_sched \
	tests/blast/test_series \
	tests/blast/test_target \
	tests/blast/test_tls \
	tests/blast/test_url \
	tests/blast/test_view
check_PROGRAMS += $(BLAST_SUITES) tests/blast/stallserver
TESTS += $(BLAST_SUITES) tests/blast/cli.sh
EXTRA_DIST += tests/blast/cli.sh

# The end-to-end suites run the stall server in their own process.
blast_stall_sources = tests/blast/stallserver.c tests/blast/stallserver.h \
	tests/blast/testcert.c tests/blast/testcert.h \
	tests/blast/testutil.c tests/blast/testutil.h
blast_stall_objects = tests/blast/stallserver.$(OBJEXT) \
	tests/blast/testcert.$(OBJEXT) tests/blast/testutil.$(OBJEXT)
tests_blast_test_engine_SOURCES = tests/blast/test_engine.c $(blast_stall_sources)
tests_blast_test_sched_SOURCES = tests/blast/test_sched.c $(blast_stall_sources)
tests_blast_test_target_SOURCES = tests/blast/test_target.c $(blast_stall_sources)
tests_blast_test_tls_SOURCES = tests/blast/test_tls.c $(blast_stall_sources)

blast_suite_objects = $(BLAST_SUITES:=.$(OBJEXT)) $(blast_stall_objects)
blast_suite_programs = $(BLAST_SUITES:=$(EXEEXT))
$(blast_suite_objects): AM_CFLAGS += $(CHECK_CFLAGS) $(OPENSSL_CFLAGS) $(ZLIB_CFLAGS)
$(blast_suite_programs): LDADD = tools/blast/libblast.la $(CHECK_LIBS) \
	$(OPENSSL_LIBS) $(ZLIB_LIBS) $(PTHREAD_LIBS) -lm
$(blast_suite_programs): tools/blast/libblast.la

# The stall server on its own, for tests/blast/cli.sh.
tests_blast_stallserver_SOURCES = tests/blast/stallserver_main.c tests/blast/stallserver.c \
	tests/blast/stallserver.h tests/blast/testcert.c tests/blast/testcert.h
tests_blast_stallserver_CFLAGS = $(AM_CFLAGS) $(OPENSSL_CFLAGS)
tests_blast_stallserver_LDADD = $(OPENSSL_LIBS) $(PTHREAD_LIBS)
