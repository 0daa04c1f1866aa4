# SPDX-License-Identifier: BSD-2-Clause
# tools/alloccount's tests.  victim is a helper run by alloccount_test,
# not a test itself.  In sanitizer builds the test is built but exits 77
# (SKIP): an interposer cannot share the process with a sanitizer's
# allocator.
check_PROGRAMS += tests/alloccount/victim tests/alloccount/alloccount_test
tests_alloccount_victim_SOURCES = tests/alloccount/victim.c
tests_alloccount_victim_CFLAGS = $(AM_CFLAGS) -fno-builtin -fno-optimize-sibling-calls
tests_alloccount_victim_LDADD = $(PTHREAD_LIBS)

tests_alloccount_alloccount_test_SOURCES = tests/alloccount/alloccount_test.c
tests_alloccount_alloccount_test_CPPFLAGS = $(AM_CPPFLAGS) \
	-DALLOCCOUNT_SO='"$(abs_top_builddir)/tools/alloccount/.libs/alloccount.so"' \
	-DALLOCCOUNT_VICTIM='"$(abs_top_builddir)/tests/alloccount/victim$(EXEEXT)"' \
	-DALLOCCOUNT_REPORT_BIN='"$(abs_top_builddir)/alloccount-report$(EXEEXT)"'
if SANITIZERS
tests_alloccount_alloccount_test_CPPFLAGS += -DALLOCCOUNT_SKIP_TESTS=1
endif
tests_alloccount_alloccount_test_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_alloccount_alloccount_test_LDADD = tools/alloccount/libacread.la $(CHECK_LIBS) \
	$(PTHREAD_LIBS)
TESTS += tests/alloccount/alloccount_test tests/alloccount/wrapper.sh
EXTRA_DIST += tests/alloccount/wrapper.sh
