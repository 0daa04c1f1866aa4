# tools/alloccount: LD_PRELOAD interposer counting malloc-family calls,
# its reader library, the alloccount-report CLI and their tests.
# Included from the top-level Makefile.am (non-recursive build).

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

bin_PROGRAMS += alloccount-report
alloccount_report_SOURCES = tools/alloccount/report.c
alloccount_report_LDADD = tools/alloccount/libacread.la

EXTRA_DIST += tools/alloccount/README.md
