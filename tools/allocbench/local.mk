# allocbench: the contention micro-benchmark (built, not installed: it is
# run from the build tree by tools/allocbench/run-allocators and the bench).
noinst_PROGRAMS += allocbench
allocbench_SOURCES = tools/allocbench/allocbench.c workers/slab.c workers/slab.h
allocbench_CFLAGS = $(AM_CFLAGS) $(CK_CFLAGS) -O2
allocbench_LDADD = $(CK_LIBS) $(PTHREAD_LIBS)
EXTRA_DIST += tools/allocbench/run-allocators
