# SPDX-License-Identifier: BSD-2-Clause
# allocbench: the contention micro-benchmark, built, not installed: it
# runs from the build tree under each allocator (LD_PRELOAD) through
# tools/bench/run --only allocbench.
noinst_PROGRAMS += allocbench
allocbench_SOURCES = tools/allocbench/allocbench.c workers/slab.c workers/slab.h
allocbench_CFLAGS = $(AM_CFLAGS) $(CK_CFLAGS) -O2
allocbench_LDADD = $(CK_LIBS) $(PTHREAD_LIBS)
