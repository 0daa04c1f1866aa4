# allocbench: the contention micro-benchmark.  Under each allocator
# (LD_PRELOAD): tools/bench/run --only allocbench.
bin_PROGRAMS += allocbench
allocbench_SOURCES = tools/allocbench/allocbench.c workers/slab.c workers/slab.h
allocbench_CFLAGS = $(AM_CFLAGS) $(CK_CFLAGS) -O2
allocbench_LDADD = $(CK_LIBS) $(PTHREAD_LIBS)
