# blast: HTTP/1.1 load generator.  See tools/blast/README.md.
# Included from the top-level Makefile.am (non-recursive, subdir-objects).

# Everything but main() goes into a convenience library shared by the
# binary and the unit tests, so each source is compiled once.
noinst_LTLIBRARIES += tools/blast/libblast.la
tools_blast_libblast_la_SOURCES = \
	tools/blast/clock.h \
	tools/blast/busypoll.c tools/blast/busypoll.h \
	tools/blast/chart.c tools/blast/chart.h \
	tools/blast/cli.c tools/blast/cli.h \
	tools/blast/conn.c \
	tools/blast/engine.c tools/blast/engine.h \
	tools/blast/hdrlog.c tools/blast/hdrlog.h \
	tools/blast/hist.c tools/blast/hist.h \
	tools/blast/json.c tools/blast/json.h \
	tools/blast/jsonout.c \
	tools/blast/merge.c tools/blast/merge.h \
	tools/blast/output.c tools/blast/output.h \
	tools/blast/parse.c tools/blast/parse.h \
	tools/blast/request.c tools/blast/request.h \
	tools/blast/resp.c tools/blast/resp.h \
	tools/blast/sched.c tools/blast/sched.h \
	tools/blast/series.c tools/blast/series.h \
	tools/blast/stats.c tools/blast/stats.h \
	tools/blast/target.c tools/blast/target.h \
	tools/blast/tls.c tools/blast/tls.h \
	tools/blast/url.c tools/blast/url.h \
	tools/blast/view.c tools/blast/view.h \
	tools/blast/wire.c \
	tools/blast/worker.h
tools_blast_libblast_la_CFLAGS = $(AM_CFLAGS) $(OPENSSL_CFLAGS) $(ZLIB_CFLAGS)
tools_blast_libblast_la_LIBADD = $(OPENSSL_LIBS) $(ZLIB_LIBS)

bin_PROGRAMS += blast
blast_SOURCES = tools/blast/main.c
blast_CFLAGS = $(AM_CFLAGS)
blast_LDADD = tools/blast/libblast.la $(PTHREAD_LIBS) -lm

nodist_man_MANS += tools/blast/blast.1
tools/blast/blast.1: $(srcdir)/tools/blast/blast.1.in Makefile
	$(AM_V_GEN)$(do_edit_in) $(srcdir)/tools/blast/blast.1.in >$@.tmp && \
	chmod a-w $@.tmp && mv $@.tmp $@
CLEANFILES += tools/blast/blast.1 tools/blast/blast.1.tmp
EXTRA_DIST += tools/blast/blast.1.in tools/blast/README.md

# Tests: one Check suite per source file, an in-process stall server for
# the end-to-end suites, and a shell test of the binary itself.
blast_test_cflags = $(AM_CFLAGS) $(CHECK_CFLAGS) $(OPENSSL_CFLAGS)
blast_test_libs = tools/blast/libblast.la $(CHECK_LIBS) $(OPENSSL_LIBS) $(PTHREAD_LIBS) -lm
blast_stall_sources = tests/blast/stallserver.c tests/blast/stallserver.h \
	tests/blast/testcert.c tests/blast/testcert.h \
	tests/blast/testutil.c tests/blast/testutil.h

blast_unit_tests = \
	tests/blast/test_hist \
	tests/blast/test_busypoll \
	tests/blast/test_chart \
	tests/blast/test_hdrlog \
	tests/blast/test_view \
	tests/blast/test_resp \
	tests/blast/test_url \
	tests/blast/test_cli \
	tests/blast/test_parse \
	tests/blast/test_request \
	tests/blast/test_json \
	tests/blast/test_merge \
	tests/blast/test_sched \
	tests/blast/test_series \
	tests/blast/test_engine \
	tests/blast/test_target \
	tests/blast/test_tls
check_PROGRAMS += $(blast_unit_tests) tests/blast/stallserver
TESTS += $(blast_unit_tests) tests/blast/cli.sh
EXTRA_DIST += tests/blast/cli.sh

tests_blast_test_hist_SOURCES = tests/blast/test_hist.c
tests_blast_test_hist_CFLAGS = $(blast_test_cflags)
tests_blast_test_hist_LDADD = $(blast_test_libs)
tests_blast_test_busypoll_SOURCES = tests/blast/test_busypoll.c
tests_blast_test_busypoll_CFLAGS = $(blast_test_cflags)
tests_blast_test_busypoll_LDADD = $(blast_test_libs)
tests_blast_test_chart_SOURCES = tests/blast/test_chart.c
tests_blast_test_chart_CFLAGS = $(blast_test_cflags)
tests_blast_test_chart_LDADD = $(blast_test_libs)
tests_blast_test_hdrlog_SOURCES = tests/blast/test_hdrlog.c
tests_blast_test_hdrlog_CFLAGS = $(blast_test_cflags) $(ZLIB_CFLAGS)
tests_blast_test_hdrlog_LDADD = $(blast_test_libs) $(ZLIB_LIBS)
tests_blast_test_view_SOURCES = tests/blast/test_view.c
tests_blast_test_view_CFLAGS = $(blast_test_cflags)
tests_blast_test_view_LDADD = $(blast_test_libs)
tests_blast_test_resp_SOURCES = tests/blast/test_resp.c
tests_blast_test_resp_CFLAGS = $(blast_test_cflags)
tests_blast_test_resp_LDADD = $(blast_test_libs)
tests_blast_test_url_SOURCES = tests/blast/test_url.c
tests_blast_test_url_CFLAGS = $(blast_test_cflags)
tests_blast_test_url_LDADD = $(blast_test_libs)
tests_blast_test_cli_SOURCES = tests/blast/test_cli.c
tests_blast_test_cli_CFLAGS = $(blast_test_cflags)
tests_blast_test_cli_LDADD = $(blast_test_libs)
tests_blast_test_parse_SOURCES = tests/blast/test_parse.c
tests_blast_test_parse_CFLAGS = $(blast_test_cflags)
tests_blast_test_parse_LDADD = $(blast_test_libs)
tests_blast_test_request_SOURCES = tests/blast/test_request.c
tests_blast_test_request_CFLAGS = $(blast_test_cflags)
tests_blast_test_request_LDADD = $(blast_test_libs)
tests_blast_test_json_SOURCES = tests/blast/test_json.c
tests_blast_test_json_CFLAGS = $(blast_test_cflags)
tests_blast_test_json_LDADD = $(blast_test_libs)
tests_blast_test_merge_SOURCES = tests/blast/test_merge.c
tests_blast_test_merge_CFLAGS = $(blast_test_cflags)
tests_blast_test_merge_LDADD = $(blast_test_libs)
tests_blast_test_sched_SOURCES = tests/blast/test_sched.c $(blast_stall_sources)
tests_blast_test_sched_CFLAGS = $(blast_test_cflags)
tests_blast_test_sched_LDADD = $(blast_test_libs)
tests_blast_test_series_SOURCES = tests/blast/test_series.c
tests_blast_test_series_CFLAGS = $(blast_test_cflags)
tests_blast_test_series_LDADD = $(blast_test_libs)
tests_blast_test_engine_SOURCES = tests/blast/test_engine.c $(blast_stall_sources)
tests_blast_test_engine_CFLAGS = $(blast_test_cflags)
tests_blast_test_engine_LDADD = $(blast_test_libs)
tests_blast_test_target_SOURCES = tests/blast/test_target.c $(blast_stall_sources)
tests_blast_test_target_CFLAGS = $(blast_test_cflags)
tests_blast_test_target_LDADD = $(blast_test_libs)
tests_blast_test_tls_SOURCES = tests/blast/test_tls.c $(blast_stall_sources)
tests_blast_test_tls_CFLAGS = $(blast_test_cflags)
tests_blast_test_tls_LDADD = $(blast_test_libs)

tests_blast_stallserver_SOURCES = tests/blast/stallserver_main.c tests/blast/stallserver.c \
	tests/blast/stallserver.h tests/blast/testcert.c tests/blast/testcert.h
tests_blast_stallserver_CFLAGS = $(AM_CFLAGS) $(OPENSSL_CFLAGS)
tests_blast_stallserver_LDADD = $(OPENSSL_LIBS) $(PTHREAD_LIBS)
