# SPDX-License-Identifier: BSD-2-Clause
# tools/alloccount: LD_PRELOAD interposer counting malloc-family calls,
# its reader library, the alloccount-report CLI, the alloccount command
# that runs a program under the interposer (their tests:
# tests/alloccount/local.mk).
# Included from the top-level Makefile.am (non-recursive build).
#
# Installed: alloccount (bin) and its man page; alloccount.so in
# $(pkglibdir) without its libtool .la (nothing links against it); the
# report program in $(pkglibexecdir), run as `alloccount report`.

# The interposer.  Built without $(SAN_CFLAGS)/$(SAN_LDFLAGS): it replaces
# malloc and must not drag a sanitizer runtime into the programs it is
# preloaded into (its tests are skipped in sanitizer builds).
pkglib_LTLIBRARIES += tools/alloccount/alloccount.la
tools_alloccount_alloccount_la_SOURCES = \
	tools/alloccount/alloccount.c \
	tools/alloccount/alloccount.h \
	tools/alloccount/acmaps.h
tools_alloccount_alloccount_la_CFLAGS = $(WARN_CFLAGS) $(PTHREAD_CFLAGS) -fno-builtin
tools_alloccount_alloccount_la_LDFLAGS = -module -avoid-version -shared $(PTHREAD_LIBS)
tools_alloccount_alloccount_la_LIBADD = $(DL_LIBS)

# Reader library (for alloccount-report and C tests).
noinst_LTLIBRARIES += tools/alloccount/libacread.la
tools_alloccount_libacread_la_SOURCES = \
	tools/alloccount/acread.c \
	tools/alloccount/acread.h \
	tools/alloccount/alloccount.h \
	tools/alloccount/acmaps.h

pkglibexec_PROGRAMS += alloccount-report
alloccount_report_SOURCES = tools/alloccount/report.c
alloccount_report_LDADD = tools/alloccount/libacread.la

EXTRA_DIST += tools/alloccount/README.md

bin_SCRIPTS += tools/alloccount/alloccount
tools/alloccount/alloccount: $(srcdir)/tools/alloccount/alloccount.in Makefile
	$(AM_V_GEN)$(do_edit_in) $(srcdir)/tools/alloccount/alloccount.in >$@.tmp && \
	chmod a-w,a+x $@.tmp && mv $@.tmp $@
nodist_man_MANS += tools/alloccount/alloccount.1
tools/alloccount/alloccount.1: $(srcdir)/tools/alloccount/alloccount.1.in Makefile
	$(AM_V_GEN)$(do_edit_in) $(srcdir)/tools/alloccount/alloccount.1.in >$@.tmp && \
	chmod a-w $@.tmp && mv $@.tmp $@
CLEANFILES += tools/alloccount/alloccount tools/alloccount/alloccount.tmp \
	tools/alloccount/alloccount.1 tools/alloccount/alloccount.1.tmp
EXTRA_DIST += tools/alloccount/alloccount.in tools/alloccount/alloccount.1.in

install-exec-hook:
	rm -f '$(DESTDIR)$(pkglibdir)/alloccount.la'
# libtool uninstalls through the .la, which is gone: remove the module.
uninstall-hook:
	rm -f '$(DESTDIR)$(pkglibdir)/alloccount.so'

