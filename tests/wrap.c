/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/types.h>

#include "tests/wrap.h"

void *__real_malloc(size_t n);
void *__real_calloc(size_t k, size_t n);
void *__real_realloc(void *p, size_t n);
void __real_free(void *p);
void *__real_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t k, size_t n);
void *__wrap_realloc(void *p, size_t n);
void __wrap_free(void *p);
void *__wrap_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);

static pthread_t watched;
static int watching;          /* 1: watched only, 2: every thread */
static struct wrap_counts counts;
static size_t fail_malloc_size, fail_mmap_size;
static unsigned fail_malloc_n, fail_mmap_n;

static bool mine(void)
{
	int w = __atomic_load_n(&watching, __ATOMIC_ACQUIRE);

	return w == 2 || (w == 1 && pthread_equal(watched, pthread_self()));
}

static void count(uint64_t *field)
{
	__atomic_add_fetch(field, 1, __ATOMIC_RELAXED);
}

/* Consumes one planned failure of this size. */
static bool take_failure(size_t *size, unsigned *n, size_t want)
{
	if (__atomic_load_n(n, __ATOMIC_ACQUIRE) == 0 || *size != want)
		return false;
	return __atomic_sub_fetch(n, 1, __ATOMIC_ACQ_REL) != (unsigned)-1;
}

void wrap_watch(const pthread_t *t)
{
	__atomic_store_n(&watching, 0, __ATOMIC_RELEASE);
	if (t)
		watched = *t;
	__atomic_store_n(&counts.malloc, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&counts.calloc, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&counts.realloc, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&counts.free, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&counts.mmap, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&watching, t ? 1 : 2, __ATOMIC_RELEASE);
}

struct wrap_counts wrap_counts(void)
{
	struct wrap_counts c = {
		__atomic_load_n(&counts.malloc, __ATOMIC_RELAXED),
		__atomic_load_n(&counts.calloc, __ATOMIC_RELAXED),
		__atomic_load_n(&counts.realloc, __ATOMIC_RELAXED),
		__atomic_load_n(&counts.free, __ATOMIC_RELAXED),
		__atomic_load_n(&counts.mmap, __ATOMIC_RELAXED),
	};
	return c;
}

void wrap_fail_malloc(size_t size, unsigned n)
{
	fail_malloc_size = size;
	__atomic_store_n(&fail_malloc_n, n, __ATOMIC_RELEASE);
}

void wrap_fail_mmap(size_t size, unsigned n)
{
	fail_mmap_size = size;
	__atomic_store_n(&fail_mmap_n, n, __ATOMIC_RELEASE);
}

void *__wrap_malloc(size_t n)
{
	if (mine()) {
		count(&counts.malloc);
		if (take_failure(&fail_malloc_size, &fail_malloc_n, n))
			return NULL;
	}
	return __real_malloc(n);
}

void *__wrap_calloc(size_t k, size_t n)
{
	if (mine())
		count(&counts.calloc);
	return __real_calloc(k, n);
}

void *__wrap_realloc(void *p, size_t n)
{
	if (mine())
		count(&counts.realloc);
	return __real_realloc(p, n);
}

void __wrap_free(void *p)
{
	if (p && mine())
		count(&counts.free);
	__real_free(p);
}

void *__wrap_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	if (mine()) {
		count(&counts.mmap);
		if (take_failure(&fail_mmap_size, &fail_mmap_n, len)) {
			errno = ENOMEM;
			return MAP_FAILED;
		}
	}
	return __real_mmap(addr, len, prot, flags, fd, off);
}
