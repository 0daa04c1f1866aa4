# SPDX-License-Identifier: BSD-2-Clause
# blast: HTTP/1.1 load generator.  See tools/blast/README.md.
# Included from the top-level Makefile.am (non-recursive, subdir-objects).

# Everything but main() goes into a convenience library shared by the
# binary and the unit tests, so each source is compiled once.
noinst_LTLIBRARIES += tools/blast/libblast.la
tools_blast_libblast_la_SOURCES = \
	tools/blast/now.h \
	tools/blast/busypoll.c tools/blast/busypoll.h \
	tools/blast/chart.c tools/blast/chart.h \
	tools/blast/cli.c tools/blast/cli.h \
	tools/blast/client.c \
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
	tools/blast/tally.c tools/blast/tally.h \
	tools/blast/target.c tools/blast/target.h \
	tools/blast/tls.c tools/blast/tls.h \
	tools/blast/url.c tools/blast/url.h \
	tools/blast/view.c tools/blast/view.h \
	tools/blast/wire.c \
	tools/blast/loop.h
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
