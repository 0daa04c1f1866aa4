/* SPDX-License-Identifier: BSD-2-Clause */
/* Link-time interposition for unit tests (ld --wrap): counts the allocator
 * calls one thread makes, and makes chosen malloc or mmap calls fail.
 *
 * Only calls from code linked into the test program are seen - the server's
 * library (libmetricd.a) and the test itself - not the C library's own, so
 * a count is exactly what the server's code asked for.  A test program that
 * uses this links tests/wrap.c with
 *   -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=free,--wrap=mmap */
#ifndef METRICD_TESTS_WRAP_H
#define METRICD_TESTS_WRAP_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

struct wrap_counts {
	uint64_t malloc, calloc, realloc, free, mmap;
};

/* Counts (from zero) the calls thread *t makes from now on; t NULL: the
 * calls of every thread. */
void wrap_watch(const pthread_t *t);
struct wrap_counts wrap_counts(void);
/* The next n calls from the watched thread(s) of exactly `size` bytes fail
 * (malloc returns NULL, mmap MAP_FAILED with ENOMEM). */
void wrap_fail_malloc(size_t size, unsigned n);
void wrap_fail_mmap(size_t size, unsigned n);

#endif
