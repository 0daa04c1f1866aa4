/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * alloccount.c - LD_PRELOAD interposer counting every malloc-family call.
 *
 *   LD_PRELOAD=.../alloccount.so [ALLOCCOUNT_FILE=/path[%p]]
 *       [ALLOCCOUNT_XTHREAD=1] [ALLOCCOUNT_XTHREAD_SLOTS=N]
 *       [ALLOCCOUNT_REPORT=1] program ...
 *
 * Counters (per process, per thread, per call site) live in one region
 * laid out as struct ac_file (alloccount.h).  With ALLOCCOUNT_FILE the
 * region is a MAP_SHARED mapping of that file so other processes can
 * read it live; otherwise it is anonymous memory.  See alloccount.h and
 * tools/alloccount/README.md for the semantics.
 *
 * Rules this file follows:
 *   - nothing here may call malloc (directly or through stdio, snprintf,
 *     qsort, ...) while counting; only syscalls wrappers, memset/memcpy,
 *     getenv, dlsym (at start-up, served by the bootstrap arena) and the
 *     pthread key/atfork registration (guarded by ac_self);
 *   - the allocation layout is never changed: pointers returned are the
 *     real allocator's, untouched.
 */
#include <config.h>

#include "tools/alloccount/alloccount.h"
#include "tools/alloccount/acmaps.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define AC_TLS __attribute__((tls_model("initial-exec")))
#define AC_LIKELY(x) __builtin_expect(!!(x), 1)
#define AC_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define AC_ADD(p, v) ((void)__atomic_fetch_add((p), (v), __ATOMIC_RELAXED))
#define AC_LOAD(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define AC_STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)
#define AC_RA() ((uintptr_t)__builtin_return_address(0))

/* ------------------------------------------------------------------ */
/* Real functions, resolved with dlsym(RTLD_NEXT, ...).                */

static void *(*real_malloc)(size_t);
static void *(*real_calloc)(size_t, size_t);
static void *(*real_realloc)(void *, size_t);
static void (*real_free)(void *);
static int (*real_posix_memalign)(void **, size_t, size_t);
static void *(*real_aligned_alloc)(size_t, size_t);
static void *(*real_memalign)(size_t, size_t);
static void *(*real_valloc)(size_t);
static void *(*real_pvalloc)(size_t);

enum { AC_UNRESOLVED = 0, AC_RESOLVING = 1, AC_READY = 2 };
static int ac_rstate;

/* Per-thread state.  initial-exec TLS: accessing it never allocates. */
static __thread int ac_resolving AC_TLS; /* this thread runs dlsym() */
static __thread int ac_self AC_TLS;	 /* >0: our own code is running */
static __thread unsigned ac_tidx AC_TLS; /* thread number + 1, 0 = none */

/* ------------------------------------------------------------------ */
/* Bootstrap arena: serves the calls made while dlsym() runs.          */

#define AC_ARENA_SIZE (128 * 1024)
#define AC_ARENA_HDR 16
static unsigned char ac_arena[AC_ARENA_SIZE] __attribute__((aligned(4096)));
static size_t ac_arena_used;

static int ac_in_arena(const void *p)
{
	uintptr_t a = (uintptr_t)p, b = (uintptr_t)ac_arena;

	return a >= b && a < b + AC_ARENA_SIZE;
}

static size_t ac_arena_size(const void *p)
{
	size_t n;

	memcpy(&n, (const unsigned char *)p - AC_ARENA_HDR, sizeof n);
	return n;
}

/* Bump allocation, never reused: the memory is zero (bss). */
static void *ac_arena_alloc(size_t size, size_t align)
{
	size_t old, start, end;

	if (align < AC_ARENA_HDR)
		align = AC_ARENA_HDR;
	if (size > AC_ARENA_SIZE || align > AC_ARENA_SIZE / 2) {
		errno = ENOMEM;
		return NULL;
	}
	old = __atomic_load_n(&ac_arena_used, __ATOMIC_RELAXED);
	do {
		start = (old + AC_ARENA_HDR + align - 1) & ~(align - 1);
		end = start + size;
		if (end > AC_ARENA_SIZE) {
			errno = ENOMEM;
			return NULL;
		}
	} while (!__atomic_compare_exchange_n(&ac_arena_used, &old, end, 0,
					      __ATOMIC_RELAXED,
					      __ATOMIC_RELAXED));
	memcpy(ac_arena + start - AC_ARENA_HDR, &size, sizeof size);
	return ac_arena + start;
}

/* ------------------------------------------------------------------ */
/* The counter region.                                                 */

/* Counts made before the constructor ran (other libraries' constructors
 * run first) go here; the constructor copies them into the real region.
 * Only the pages touched cost memory. */
static struct ac_file ac_static_region;
static struct ac_file *ac_reg = &ac_static_region;
static int ac_fd = -1;		 /* open (and flock()ed) ALLOCCOUNT_FILE */
static char ac_path_tmpl[4096];	 /* ALLOCCOUNT_FILE as given */
static int ac_path_has_pid;	 /* it contains %p */
static int ac_report_at_exit;	 /* ALLOCCOUNT_REPORT */
static int ac_xthread_wanted;	 /* ALLOCCOUNT_XTHREAD */
static pthread_key_t ac_key;
static int ac_key_ok;

static inline struct ac_file *ac_region(void)
{
	return __atomic_load_n(&ac_reg, __ATOMIC_ACQUIRE);
}

/* Cross-thread free tracking: pointer -> allocating thread number, in a
 * private open-addressing table of single words (ptr | owner << 56).
 * Lock-free: claim a slot with CAS, delete by CAS to a tombstone.  An
 * entry is removed before the block is given back to the allocator and
 * inserted after the allocator returned it, so a live address is in the
 * table at most once.  Probing is bounded. */
#define AC_PTAB_TOMB UINT64_C(1)
#define AC_PTAB_PROBES 64
#define AC_OWNER_SHIFT 56
#define AC_PTR_MASK ((UINT64_C(1) << AC_OWNER_SHIFT) - 1)
static uint64_t *ac_ptab; /* NULL: tracking off */
static size_t ac_ptab_slots;
static unsigned ac_ptab_bits;

#define AC_SITE_PROBES 64
#define AC_SITE_BITS 12
#define AC_GOLDEN UINT64_C(0x9e3779b97f4a7c15)

/* ------------------------------------------------------------------ */
/* Small allocation-free helpers.                                      */

static size_t ac_strlen(const char *s)
{
	size_t n = 0;

	while (s[n])
		n++;
	return n;
}

static char *ac_utoa(uint64_t v, char *end)
{
	*--end = '\0';
	do {
		*--end = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	return end;
}

static pid_t ac_gettid(void)
{
	return (pid_t)syscall(SYS_gettid);
}

static uint64_t ac_now_ns(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void ac_write_all(int fd, const char *s, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, s, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		s += w;
		n -= (size_t)w;
	}
}

static void ac_warn(const char *a, const char *b, int err)
{
	char num[24], *s;
	int saved = errno;

	ac_write_all(2, "alloccount: ", 12);
	ac_write_all(2, a, ac_strlen(a));
	if (b)
		ac_write_all(2, b, ac_strlen(b));
	if (err) {
		ac_write_all(2, ": errno ", 8);
		s = ac_utoa((uint64_t)err, num + sizeof num);
		ac_write_all(2, s, ac_strlen(s));
	}
	ac_write_all(2, "\n", 1);
	errno = saved;
}

/* Read fd to its end or until cap bytes, then close it; returns the
 * number of bytes read. */
static size_t ac_read_fd(int fd, char *buf, size_t cap)
{
	size_t n = 0;

	while (n < cap) {
		ssize_t r = read(fd, buf + n, cap - n);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	return n;
}

/* Read a whole small file into buf (NUL-terminated); returns length or -1. */
static ssize_t ac_read_file(const char *path, char *buf, size_t cap)
{
	size_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	n = ac_read_fd(fd, buf, cap - 1);
	buf[n] = '\0';
	return (ssize_t)n;
}

/* ------------------------------------------------------------------ */
/* Resolution of the real functions.                                   */

static void *ac_sym(const char *name)
{
	void *p = dlsym(RTLD_NEXT, name);

	if (!p) {
		ac_warn("cannot resolve the real ", name, 0);
		abort();
	}
	return p;
}

/* Returns 1 when the real functions can be used, 0 when the caller must
 * use the bootstrap arena (dlsym is running: on this thread, recursively,
 * or on another thread, which we do not wait for to avoid deadlocking
 * on the loader lock). */
static int ac_resolve(void)
{
	int s = __atomic_load_n(&ac_rstate, __ATOMIC_ACQUIRE);

	if (AC_LIKELY(s == AC_READY))
		return 1;
	if (s == AC_UNRESOLVED &&
	    __atomic_compare_exchange_n(&ac_rstate, &s, AC_RESOLVING, 0,
					__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		int saved = errno;

		ac_resolving = 1;
		real_malloc = (void *(*)(size_t))ac_sym("malloc");
		real_calloc = (void *(*)(size_t, size_t))ac_sym("calloc");
		real_realloc = (void *(*)(void *, size_t))ac_sym("realloc");
		real_free = (void (*)(void *))ac_sym("free");
		real_posix_memalign =
			(int (*)(void **, size_t, size_t))ac_sym("posix_memalign");
		real_aligned_alloc =
			(void *(*)(size_t, size_t))ac_sym("aligned_alloc");
		real_memalign = (void *(*)(size_t, size_t))ac_sym("memalign");
		real_valloc = (void *(*)(size_t))ac_sym("valloc");
		real_pvalloc = (void *(*)(size_t))ac_sym("pvalloc");
		ac_resolving = 0;
		errno = saved;
		__atomic_store_n(&ac_rstate, AC_READY, __ATOMIC_RELEASE);
		return 1;
	}
	return 0;
}

static inline int ac_ready(void)
{
	return AC_LIKELY(__atomic_load_n(&ac_rstate, __ATOMIC_ACQUIRE) == AC_READY) ||
	       ac_resolve();
}

/* ------------------------------------------------------------------ */
/* Counting.                                                           */

static unsigned ac_thread_slot(struct ac_file *f)
{
	unsigned t = ac_tidx;
	uint64_t n;
	unsigned idx;

	if (AC_LIKELY(t != 0))
		return t - 1;
	n = __atomic_fetch_add(&f->hdr.nthreads, 1, __ATOMIC_RELAXED);
	if (n < AC_THREAD_OVERFLOW) {
		idx = (unsigned)n;
		AC_STORE(&f->threads[idx].tid, (uint64_t)ac_gettid());
	} else {
		idx = AC_THREAD_OVERFLOW;
		__atomic_fetch_or(&f->threads[idx].flags, AC_TF_OVERFLOW,
				  __ATOMIC_RELAXED);
	}
	ac_tidx = idx + 1;
	if (__atomic_load_n(&ac_key_ok, __ATOMIC_ACQUIRE) && idx != AC_THREAD_OVERFLOW) {
		/* Key index < 32 in practice: glibc keeps its value in the
		 * thread descriptor without allocating.  If it allocates,
		 * ac_self lets the call through uncounted. */
		ac_self++;
		(void)pthread_setspecific(ac_key, (void *)(uintptr_t)(idx + 1));
		ac_self--;
	}
	return idx;
}

/* Add v to a counter of thread slot t: a plain (unlocked) relaxed
 * read-modify-write when the slot belongs to this thread alone, an
 * atomic add for the shared overflow slot. */
static inline void ac_tadd(unsigned t, uint64_t *p, uint64_t v)
{
	if (AC_LIKELY(t != AC_THREAD_OVERFLOW))
		AC_STORE(p, AC_LOAD(p) + v);
	else
		AC_ADD(p, v);
}

static void ac_site_add(struct ac_file *f, unsigned t, uintptr_t ra, unsigned fn,
			uint64_t bytes)
{
	uint64_t key = AC_SITE_KEY(ra, fn);
	struct ac_thread *th;

	if (AC_LIKELY(ra != 0 && ((uint64_t)ra & ~AC_SITE_ADDR_MASK) == 0)) {
		unsigned h = (unsigned)((key * AC_GOLDEN) >> (64 - AC_SITE_BITS));
		unsigned i;

		for (i = 0; i < AC_SITE_PROBES; i++) {
			unsigned slot = (h + i) & (AC_SITE_SLOTS - 1);
			uint64_t k = AC_LOAD(&f->site_keys[slot]);

			if (k == 0) {
				if (__atomic_compare_exchange_n(&f->site_keys[slot], &k, key,
								0, __ATOMIC_RELAXED,
								__ATOMIC_RELAXED))
					k = key;
			}
			if (k == key) {
				struct ac_site_count *c =
					&f->site_counts[t % AC_SITE_SHARDS][slot];

				/* Threads of one shard may share it: atomic. */
				AC_ADD(&c->calls, 1);
				if (bytes)
					AC_ADD(&c->bytes, bytes);
				return;
			}
		}
	}
	th = &f->threads[t];
	ac_tadd(t, &th->site_other_calls, 1);
	ac_tadd(t, &th->site_other_bytes, bytes);
}

/* Count one call; returns the calling thread's slot. */
static inline unsigned ac_count(struct ac_file *f, unsigned fn, uint64_t bytes,
				uintptr_t ra)
{
	unsigned t = ac_thread_slot(f);
	struct ac_thread *th = &f->threads[t];

	ac_tadd(t, &th->calls[fn], 1);
	if (bytes)
		ac_tadd(t, &th->bytes[fn], bytes);
	ac_site_add(f, t, ra, fn, bytes);
	return t;
}

/* A per-thread event counter of the calling thread (slot known). */
#define AC_TEVENT(f, t, field) ac_tadd((t), &(f)->threads[(t)].field, 1)

/* a * b; on overflow returns 1 and *bytes = 0 (nothing can be given). */
static inline int ac_mul(size_t a, size_t b, size_t *n, uint64_t *bytes)
{
	if (__builtin_mul_overflow(a, b, n)) {
		*bytes = 0;
		return 1;
	}
	*bytes = (uint64_t)*n;
	return 0;
}

static inline uint64_t *ac_tab(void)
{
	return __atomic_load_n(&ac_ptab, __ATOMIC_ACQUIRE);
}

static inline size_t ac_ptab_hash(uint64_t v)
{
	return (size_t)(((v >> 4) * AC_GOLDEN) >> (64 - ac_ptab_bits));
}

/* Insert p (allocated by owner) on behalf of thread t. */
static void ac_ptr_insert(struct ac_file *f, unsigned t, const void *p, unsigned owner)
{
	uint64_t v = (uint64_t)(uintptr_t)p, e, *tab = ac_tab();
	size_t h, i;

	if (!tab)
		return;
	if ((v & ~AC_PTR_MASK) != 0 || v <= AC_PTAB_TOMB) {
		AC_TEVENT(f, t, untracked_allocs);
		return;
	}
	e = v | ((uint64_t)owner << AC_OWNER_SHIFT);
	h = ac_ptab_hash(v);
	for (i = 0; i < AC_PTAB_PROBES; i++) {
		uint64_t *slot = &tab[(h + i) & (ac_ptab_slots - 1)];
		uint64_t cur = AC_LOAD(slot);

		if ((cur == 0 || cur == AC_PTAB_TOMB) &&
		    __atomic_compare_exchange_n(slot, &cur, e, 0, __ATOMIC_RELAXED,
						__ATOMIC_RELAXED))
			return;
	}
	AC_TEVENT(f, t, untracked_allocs);
}

/* Remove p; returns its owner, or -1 when it is not in the table. */
static int ac_ptr_remove(const void *p)
{
	uint64_t v = (uint64_t)(uintptr_t)p, *tab = ac_tab();
	size_t h, i;

	if (!tab || (v & ~AC_PTR_MASK) != 0 || v <= AC_PTAB_TOMB)
		return -1;
	h = ac_ptab_hash(v);
	for (i = 0; i < AC_PTAB_PROBES; i++) {
		uint64_t *slot = &tab[(h + i) & (ac_ptab_slots - 1)];
		uint64_t cur = AC_LOAD(slot);

		if (cur == 0)
			return -1;
		if (cur != AC_PTAB_TOMB && (cur & AC_PTR_MASK) == v) {
			if (__atomic_compare_exchange_n(slot, &cur, AC_PTAB_TOMB, 0,
							__ATOMIC_RELAXED,
							__ATOMIC_RELAXED))
				return (int)(cur >> AC_OWNER_SHIFT);
			return -1;
		}
	}
	return -1;
}

/* Book-keeping after an allocation call returned r (NULL = failure). */
static inline void ac_after_alloc(struct ac_file *f, const void *r, unsigned t)
{
	if (AC_UNLIKELY(r == NULL)) {
		AC_TEVENT(f, t, failed);
		return;
	}
	if (ac_tab())
		ac_ptr_insert(f, t, r, t);
}

/* The block p is about to be freed (or reallocated) by thread t. */
static int ac_forget(struct ac_file *f, const void *p, unsigned t, int is_free)
{
	int owner = ac_ptr_remove(p);

	if (owner < 0) {
		AC_TEVENT(f, t, untracked_frees);
	} else if ((unsigned)owner != t) {
		if (is_free) {
			AC_TEVENT(f, t, xfree_in);
			/* Another thread's slot: always atomic. */
			AC_ADD(&f->threads[owner].xfree_out, 1);
		} else {
			AC_TEVENT(f, t, xrealloc_in);
		}
	}
	return owner;
}

/* ------------------------------------------------------------------ */
/* Bootstrap paths (dlsym running).                                    */

static void *ac_boot_alloc(size_t size, size_t align)
{
	void *p = ac_arena_alloc(size, align);

	AC_ADD(&ac_region()->hdr.proc.bootstrap_allocs, 1);
	return p;
}

static void *ac_boot_realloc(void *p, size_t size)
{
	void *r;
	size_t old;

	if (p && !ac_in_arena(p)) {
		/* A block from the real allocator while it is not yet
		 * resolved cannot exist. */
		errno = ENOMEM;
		return NULL;
	}
	r = ac_boot_alloc(size, 0);
	if (r && p) {
		old = ac_arena_size(p);
		memcpy(r, p, old < size ? old : size);
		AC_ADD(&ac_region()->hdr.proc.bootstrap_frees, 1);
	}
	return r;
}

static int ac_valid_align(size_t align)
{
	return align != 0 && (align & (align - 1)) == 0;
}

/* ------------------------------------------------------------------ */
/* The interposed functions.                                           */

void *malloc(size_t size)
{
	uintptr_t ra = AC_RA();
	struct ac_file *f;
	unsigned t;
	void *r;

	if (AC_UNLIKELY(!ac_ready()))
		return ac_boot_alloc(size, 0);
	if (AC_UNLIKELY(ac_self))
		return real_malloc(size);
	f = ac_region();
	t = ac_count(f, AC_MALLOC, size, ra);
	r = real_malloc(size);
	ac_after_alloc(f, r, t);
	return r;
}

void *calloc(size_t nmemb, size_t size)
{
	uintptr_t ra = AC_RA();
	struct ac_file *f;
	unsigned t;
	void *r;
	size_t n;
	uint64_t bytes;
	int ovf = ac_mul(nmemb, size, &n, &bytes);

	if (AC_UNLIKELY(!ac_ready())) {
		if (ovf) {
			errno = ENOMEM;
			return NULL;
		}
		return ac_boot_alloc(n, 0); /* arena memory is zero */
	}
	if (AC_UNLIKELY(ac_self))
		return real_calloc(nmemb, size);
	f = ac_region();
	t = ac_count(f, AC_CALLOC, bytes, ra);
	r = real_calloc(nmemb, size);
	ac_after_alloc(f, r, t);
	return r;
}

/* realloc and reallocarray once the real functions are known. */
static void *ac_realloc_common(void *p, size_t nmemb, size_t size, unsigned fn,
			       uintptr_t ra)
{
	struct ac_file *f = ac_region();
	size_t n = size;
	uint64_t bytes = size;
	int ovf = fn == AC_REALLOC ? 0 : ac_mul(nmemb, size, &n, &bytes);
	unsigned t;
	int owner = -1;
	void *r;

	if (AC_UNLIKELY(p && ac_in_arena(p))) {
		/* Move a bootstrap block to the real heap. */
		size_t old = ac_arena_size(p);

		t = ac_self ? 0 : ac_count(f, fn, bytes, ra);
		AC_ADD(&f->hdr.proc.bootstrap_frees, 1);
		if (n == 0 && !ovf)
			return NULL; /* like glibc realloc(p, 0): freed */
		if (ovf) {
			if (!ac_self)
				AC_TEVENT(f, t, failed);
			errno = ENOMEM;
			return NULL;
		}
		r = real_malloc(n);
		if (r)
			memcpy(r, p, old < n ? old : n);
		if (!ac_self)
			ac_after_alloc(f, r, t);
		return r;
	}
	if (AC_UNLIKELY(ac_self)) {
		if (ovf) {
			errno = ENOMEM;
			return NULL;
		}
		return real_realloc(p, n);
	}
	t = ac_count(f, fn, bytes, ra);
	if (p && ac_tab())
		owner = ac_forget(f, p, t, 0);
	/* reallocarray is done here, not by the real one: glibc's calls
	 * realloc through the PLT, i.e. our realloc, counting it twice. */
	if (ovf) {
		r = NULL;
		errno = ENOMEM;
	} else {
		r = real_realloc(p, n);
	}
	if (r) {
		if (ac_tab())
			ac_ptr_insert(f, t, r, t);
	} else if (p && n == 0 && !ovf) {
		/* realloc(p, 0) freed p and returned NULL. */
	} else {
		AC_TEVENT(f, t, failed);
		if (owner >= 0)
			ac_ptr_insert(f, t, p, (unsigned)owner); /* p still valid */
	}
	return r;
}

void *realloc(void *p, size_t size)
{
	uintptr_t ra = AC_RA();

	if (AC_UNLIKELY(!ac_ready()))
		return ac_boot_realloc(p, size);
	return ac_realloc_common(p, 0, size, AC_REALLOC, ra);
}

void *reallocarray(void *p, size_t nmemb, size_t size)
{
	uintptr_t ra = AC_RA();

	if (AC_UNLIKELY(!ac_ready())) {
		size_t n;

		if (__builtin_mul_overflow(nmemb, size, &n)) {
			errno = ENOMEM;
			return NULL;
		}
		return ac_boot_realloc(p, n);
	}
	return ac_realloc_common(p, nmemb, size, AC_REALLOCARRAY, ra);
}

void free(void *p)
{
	uintptr_t ra = AC_RA();
	struct ac_file *f;
	unsigned t;

	if (p == NULL) {
		if (!ac_self && !ac_resolving)
			ac_count(ac_region(), AC_FREE_NULL, 0, ra);
		return;
	}
	if (AC_UNLIKELY(ac_in_arena(p))) {
		AC_ADD(&ac_region()->hdr.proc.bootstrap_frees, 1);
		return;
	}
	if (AC_UNLIKELY(!ac_ready()))
		return; /* cannot happen: see ac_boot_realloc */
	if (AC_UNLIKELY(ac_self)) {
		real_free(p);
		return;
	}
	f = ac_region();
	t = ac_count(f, AC_FREE, 0, ra);
	if (ac_tab())
		(void)ac_forget(f, p, t, 1);
	real_free(p);
}

/* The aligned family: fn, alignment, size; real function call in op. */
enum ac_align_op { AC_OP_ALIGNED_ALLOC, AC_OP_MEMALIGN, AC_OP_VALLOC, AC_OP_PVALLOC };

static void *ac_aligned(enum ac_align_op op, unsigned fn, size_t align, size_t size,
			uintptr_t ra)
{
	struct ac_file *f;
	unsigned t;
	void *r;

	if (AC_UNLIKELY(!ac_ready())) {
		size_t page = (size_t)sysconf(_SC_PAGESIZE);

		if (op == AC_OP_VALLOC || op == AC_OP_PVALLOC)
			align = page;
		if (op == AC_OP_PVALLOC)
			size = (size + page - 1) & ~(page - 1);
		if (!ac_valid_align(align)) {
			errno = EINVAL;
			return NULL;
		}
		return ac_boot_alloc(size, align);
	}
	if (AC_UNLIKELY(ac_self)) {
		f = NULL;
		t = 0;
	} else {
		f = ac_region();
		t = ac_count(f, fn, size, ra);
	}
	switch (op) {
	case AC_OP_ALIGNED_ALLOC:
		r = real_aligned_alloc(align, size);
		break;
	case AC_OP_MEMALIGN:
		r = real_memalign(align, size);
		break;
	case AC_OP_VALLOC:
		r = real_valloc(size);
		break;
	default:
		r = real_pvalloc(size);
		break;
	}
	if (f)
		ac_after_alloc(f, r, t);
	return r;
}

void *aligned_alloc(size_t alignment, size_t size)
{
	return ac_aligned(AC_OP_ALIGNED_ALLOC, AC_ALIGNED_ALLOC, alignment, size,
			  AC_RA());
}

void *memalign(size_t alignment, size_t size)
{
	return ac_aligned(AC_OP_MEMALIGN, AC_MEMALIGN, alignment, size, AC_RA());
}

void *valloc(size_t size)
{
	return ac_aligned(AC_OP_VALLOC, AC_VALLOC, 0, size, AC_RA());
}

void *pvalloc(size_t size)
{
	return ac_aligned(AC_OP_PVALLOC, AC_PVALLOC, 0, size, AC_RA());
}

int posix_memalign(void **memptr, size_t alignment, size_t size)
{
	uintptr_t ra = AC_RA();
	struct ac_file *f;
	unsigned t;
	int rc;

	if (AC_UNLIKELY(!ac_ready())) {
		void *p;

		if (!ac_valid_align(alignment) || alignment % sizeof(void *) != 0)
			return EINVAL;
		p = ac_boot_alloc(size, alignment);
		if (!p)
			return ENOMEM;
		*memptr = p;
		return 0;
	}
	if (AC_UNLIKELY(ac_self))
		return real_posix_memalign(memptr, alignment, size);
	f = ac_region();
	t = ac_count(f, AC_POSIX_MEMALIGN, size, ra);
	rc = real_posix_memalign(memptr, alignment, size);
	ac_after_alloc(f, rc == 0 ? *memptr : NULL, t);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Region set-up.                                                      */

static int ac_env_flag(const char *name)
{
	const char *v = getenv(name);

	if (!v || !*v)
		return 0;
	return !(v[0] == '0' && v[1] == '\0') && strcmp(v, "no") != 0 &&
	       strcmp(v, "false") != 0 && strcmp(v, "off") != 0;
}

/* Expand %p (pid) and %% in the template. Returns 0, or -1 if too long. */
static int ac_expand_path(const char *tmpl, char *out, size_t cap, pid_t pid)
{
	size_t o = 0;
	const char *s;

	for (s = tmpl; *s; s++) {
		const char *ins = NULL;
		char num[24];
		char c[2] = {*s, '\0'};

		if (s[0] == '%' && s[1] == 'p') {
			ins = ac_utoa((uint64_t)pid, num + sizeof num);
			s++;
		} else if (s[0] == '%' && s[1] == '%') {
			ins = "%";
			s++;
		} else {
			ins = c;
		}
		while (*ins) {
			if (o + 1 >= cap)
				return -1;
			out[o++] = *ins++;
		}
	}
	out[o] = '\0';
	return 0;
}

static struct ac_file *ac_map_anon(void)
{
	void *p = mmap(NULL, sizeof(struct ac_file), PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* Create/claim the counter file.  The first process to flock() it owns
 * it for its lifetime; a process that finds it locked (e.g. a program
 * exec()ed by the owner with the same environment) returns NULL with
 * *busy set and counts in anonymous memory instead. */
static struct ac_file *ac_map_file(const char *path, int *fdp, int *busy)
{
	int fd;
	void *p;

	*busy = 0;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0) {
		ac_warn("cannot open ALLOCCOUNT_FILE ", path, errno);
		return NULL;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		*busy = 1;
		close(fd);
		return NULL;
	}
	/* Keep the inode (a reader may have it mapped): resize and clear
	 * in place rather than truncating to 0. */
	if (ftruncate(fd, (off_t)sizeof(struct ac_file)) != 0) {
		ac_warn("cannot size ALLOCCOUNT_FILE ", path, errno);
		close(fd);
		return NULL;
	}
	p = mmap(NULL, sizeof(struct ac_file), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		ac_warn("cannot map ALLOCCOUNT_FILE ", path, errno);
		close(fd);
		return NULL;
	}
	__atomic_store_n(&((struct ac_file *)p)->hdr.magic, 0, __ATOMIC_RELEASE);
	memset(p, 0, sizeof(struct ac_file));
	*fdp = fd;
	return p;
}

static void ac_init_header(struct ac_file *f, uint64_t flags)
{
	struct ac_header *h = &f->hdr;
	ssize_t n;

	h->version = AC_VERSION;
	h->header_size = sizeof(struct ac_header);
	h->file_size = sizeof(struct ac_file);
	h->fn_slots = AC_FN_SLOTS;
	h->max_threads = AC_MAX_THREADS;
	h->site_slots = AC_SITE_SLOTS;
	h->thread_size = sizeof(struct ac_thread);
	h->site_shards = AC_SITE_SHARDS;
	h->maps_cap = AC_MAPS_CAP;
	h->threads_offset = offsetof(struct ac_file, threads);
	h->sites_offset = offsetof(struct ac_file, site_keys);
	h->maps_offset = offsetof(struct ac_file, maps);
	h->pid = (int64_t)getpid();
	h->flags = flags | (ac_tab() ? AC_F_XTHREAD : 0);
	h->start_ns = ac_now_ns();
	h->xthread_slots = ac_tab() ? ac_ptab_slots : 0;
	n = readlink("/proc/self/exe", h->exe, sizeof h->exe - 1);
	h->exe[n > 0 ? n : 0] = '\0';
}

static void ac_publish(struct ac_file *f)
{
	__atomic_store_n(&f->hdr.magic, AC_MAGIC, __ATOMIC_RELEASE);
}

/* Copy counters counted so far (static region) into the new region. */
static void ac_copy_counts(struct ac_file *dst, const struct ac_file *src)
{
	const uint64_t *s;
	uint64_t *d;
	size_t i, n;

	s = (const uint64_t *)(const void *)&src->hdr.proc;
	d = (uint64_t *)(void *)&dst->hdr.proc;
	n = sizeof(struct ac_process) / sizeof(uint64_t);
	for (i = 0; i < n; i++)
		d[i] = AC_LOAD(&s[i]);
	dst->hdr.nthreads = AC_LOAD(&src->hdr.nthreads);
	/* threads, site_keys and site_counts are contiguous */
	s = (const uint64_t *)(const void *)src->threads;
	d = (uint64_t *)(void *)dst->threads;
	n = (offsetof(struct ac_file, maps) - offsetof(struct ac_file, threads)) /
	    sizeof(uint64_t);
	for (i = 0; i < n; i++)
		d[i] = AC_LOAD(&s[i]);
}

static void ac_ptab_create(void)
{
	const char *v = getenv("ALLOCCOUNT_XTHREAD_SLOTS");
	size_t want = (size_t)1 << 18, slots = 1024;
	unsigned bits = 10;
	void *p;

	if (v && *v) {
		char *end;
		unsigned long long w = strtoull(v, &end, 10);

		if (*end == '\0' && w > 0)
			want = w > ((size_t)1 << 28) ? (size_t)1 << 28 : (size_t)w;
	}
	while (slots < want) {
		slots <<= 1;
		bits++;
	}
	p = mmap(NULL, slots * sizeof(uint64_t), PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED) {
		ac_warn("cannot map the cross-thread pointer table", NULL, errno);
		return;
	}
	ac_ptab_slots = slots;
	ac_ptab_bits = bits;
	__atomic_store_n(&ac_ptab, (uint64_t *)p, __ATOMIC_RELEASE);
}

/* Set up the region for this process: the file named by the template
 * (if any and not busy) or anonymous memory.  Returns NULL on failure. */
static struct ac_file *ac_make_region(uint64_t flags, int *fdp)
{
	struct ac_file *f = NULL;
	char path[sizeof ac_path_tmpl];
	int busy = 0;

	*fdp = -1;
	if (ac_path_tmpl[0]) {
		if (ac_expand_path(ac_path_tmpl, path, sizeof path, getpid()) != 0)
			ac_warn("ALLOCCOUNT_FILE too long", NULL, 0);
		else
			f = ac_map_file(path, fdp, &busy);
		if (f)
			flags |= AC_F_FILE;
		else if (busy && ac_report_at_exit)
			ac_warn("file in use by another process, counting privately: ",
				path, 0);
	}
	if (!f)
		f = ac_map_anon();
	if (f)
		ac_init_header(f, flags);
	return f;
}

static void ac_thread_exit(void *v);
static void ac_atfork_child(void);

/* ALLOCCOUNT_SELFTEST=1: exercise the bootstrap arena through the
 * exported functions, as if dlsym() were running on this thread (with
 * glibc 2.36 dlsym(RTLD_NEXT) does not allocate, so the real start-up
 * path rarely needs the arena).  Aborts on failure.  Run from the
 * constructor, before the program has threads. */
#define AC_CHECK(cond)                                                       \
	do {                                                                 \
		if (!(cond)) {                                               \
			ac_warn("self-test failed: ", #cond, 0);             \
			abort();                                             \
		}                                                            \
	} while (0)

static void ac_selftest_bootstrap(void)
{
	unsigned char *a, *b, *m;
	void *c = NULL, *d, *e, *g;
	int i, rc;

	__atomic_store_n(&ac_rstate, AC_RESOLVING, __ATOMIC_RELEASE);
	ac_resolving = 1;
	a = malloc(100);
	b = calloc(10, 10);
	rc = posix_memalign(&c, 256, 64);
	d = memalign(64, 10);
	e = valloc(10);
	g = aligned_alloc(128, 128);
	AC_CHECK(a && ac_in_arena(a) && ((uintptr_t)a & 15) == 0);
	AC_CHECK(b && ac_in_arena(b));
	for (i = 0; i < 100; i++)
		AC_CHECK(b[i] == 0);
	AC_CHECK(rc == 0 && ac_in_arena(c) && ((uintptr_t)c & 255) == 0);
	AC_CHECK(d && ac_in_arena(d) && ((uintptr_t)d & 63) == 0);
	AC_CHECK(e && ac_in_arena(e) && ((uintptr_t)e & ((uintptr_t)sysconf(_SC_PAGESIZE) - 1)) == 0);
	AC_CHECK(g && ac_in_arena(g) && ((uintptr_t)g & 127) == 0);
	AC_CHECK(posix_memalign(&c, 3, 8) == EINVAL);
	AC_CHECK(malloc(AC_ARENA_SIZE + 1) == NULL && errno == ENOMEM);
	memset(a, 'x', 100);
	a = realloc(a, 200);
	AC_CHECK(a && ac_in_arena(a) && a[0] == 'x' && a[99] == 'x');
	free(d); /* ignored */
	ac_resolving = 0;
	__atomic_store_n(&ac_rstate, AC_READY, __ATOMIC_RELEASE);

	/* Resolved: arena blocks given to realloc/free are recognised. */
	m = realloc(a, 300);
	AC_CHECK(m && !ac_in_arena(m) && m[0] == 'x' && m[99] == 'x');
	free(m);
	free(b);
	free(c);
	free(e);
	free(g);
}

__attribute__((constructor)) static void ac_init(void)
{
	const char *path;
	struct ac_file *f;
	int fd;

	(void)ac_resolve();
	ac_self++;
	path = getenv("ALLOCCOUNT_FILE");
	if (path && *path) {
		size_t n = ac_strlen(path);

		if (n < sizeof ac_path_tmpl) {
			memcpy(ac_path_tmpl, path, n + 1);
			ac_path_has_pid = strstr(path, "%p") != NULL;
		} else {
			ac_warn("ALLOCCOUNT_FILE too long", NULL, 0);
		}
	}
	ac_report_at_exit = ac_env_flag("ALLOCCOUNT_REPORT");
	ac_xthread_wanted = ac_env_flag("ALLOCCOUNT_XTHREAD");
	if (ac_xthread_wanted)
		ac_ptab_create();

	f = ac_make_region(0, &fd);
	if (f) {
		ac_copy_counts(f, &ac_static_region);
		ac_publish(f);
		__atomic_store_n(&ac_reg, f, __ATOMIC_RELEASE);
		ac_fd = fd;
	} else {
		/* Keep counting in the static region. */
		ac_init_header(&ac_static_region, 0);
		ac_publish(&ac_static_region);
	}
	if (pthread_key_create(&ac_key, ac_thread_exit) == 0)
		__atomic_store_n(&ac_key_ok, 1, __ATOMIC_RELEASE);
	(void)pthread_atfork(NULL, NULL, ac_atfork_child);
	ac_self--;
	if (ac_env_flag("ALLOCCOUNT_SELFTEST"))
		ac_selftest_bootstrap();
}

/* In a fork()ed child: count afresh, apart from the parent. */
static void ac_atfork_child(void)
{
	struct ac_file *old = ac_region(), *f;
	int oldfd = ac_fd, fd;

	ac_self++;
	ac_tidx = 0;
	if (ac_key_ok)
		(void)pthread_setspecific(ac_key, NULL);
	if (ac_ptab) {
		/* Blocks inherited from the parent become untracked. */
		uint64_t *old_tab = ac_ptab;

		__atomic_store_n(&ac_ptab, (uint64_t *)NULL, __ATOMIC_RELEASE);
		munmap(old_tab, ac_ptab_slots * sizeof(uint64_t));
		ac_ptab_create();
	}
	f = ac_path_has_pid ? ac_make_region(AC_F_FORKED, &fd) : NULL;
	if (!f) {
		fd = -1;
		f = ac_map_anon();
		if (f)
			ac_init_header(f, AC_F_FORKED);
	}
	if (!f) {
		/* Out of memory: reuse the static region, cleared. */
		f = &ac_static_region;
		memset(f, 0, sizeof *f);
		ac_init_header(f, AC_F_FORKED);
	}
	ac_publish(f);
	__atomic_store_n(&ac_reg, f, __ATOMIC_RELEASE);
	ac_fd = fd;
	if (old != &ac_static_region && old != f)
		munmap(old, sizeof *old);
	if (oldfd >= 0)
		close(oldfd); /* the parent keeps the lock */
	ac_self--;
}

/* comm of a thread into dst[16] (allocation-free). */
static void ac_thread_name(pid_t tid, int self, char *dst)
{
	char path[64], buf[32], num[24];
	size_t n = 0, i;
	const char *s;
	ssize_t len;

	if (self) {
		len = ac_read_file("/proc/thread-self/comm", buf, sizeof buf);
	} else {
		const char *parts[3];

		parts[0] = "/proc/self/task/";
		parts[1] = ac_utoa((uint64_t)tid, num + sizeof num);
		parts[2] = "/comm";
		for (i = 0; i < 3; i++)
			for (s = parts[i]; *s && n + 1 < sizeof path; s++)
				path[n++] = *s;
		path[n] = '\0';
		len = ac_read_file(path, buf, sizeof buf);
	}
	if (len <= 0)
		return;
	while (len > 0 && buf[len - 1] == '\n')
		len--;
	if (len > 15)
		len = 15;
	for (i = 0; i < (size_t)len; i++)
		dst[i] = buf[i];
	dst[len] = '\0';
}

static void ac_thread_exit(void *v)
{
	unsigned idx = (unsigned)(uintptr_t)v;
	struct ac_file *f = ac_region();

	if (idx == 0 || idx - 1 >= AC_THREAD_OVERFLOW || idx != ac_tidx)
		return;
	ac_self++;
	ac_thread_name(0, 1, f->threads[idx - 1].name);
	__atomic_fetch_or(&f->threads[idx - 1].flags, AC_TF_EXITED, __ATOMIC_RELAXED);
	ac_self--;
}

/* ------------------------------------------------------------------ */
/* Exit: capture maps and thread names, optional report on stderr.     */

struct ac_out {
	char buf[4096];
	size_t n;
};

static void ac_out_flush(struct ac_out *o)
{
	ac_write_all(2, o->buf, o->n);
	o->n = 0;
}

static void ac_out_mem(struct ac_out *o, const char *s, size_t n)
{
	while (n > 0) {
		size_t room = sizeof o->buf - o->n, k = n < room ? n : room;

		memcpy(o->buf + o->n, s, k);
		o->n += k;
		s += k;
		n -= k;
		if (o->n == sizeof o->buf)
			ac_out_flush(o);
	}
}

static void ac_out_str(struct ac_out *o, const char *s)
{
	ac_out_mem(o, s, ac_strlen(s));
}

/* Right-aligned in width (0: none). */
static void ac_out_u64(struct ac_out *o, uint64_t v, size_t width)
{
	char num[24];
	char *s = ac_utoa(v, num + sizeof num);
	size_t n = ac_strlen(s);

	while (width > n) {
		ac_out_mem(o, " ", 1);
		width--;
	}
	ac_out_mem(o, s, n);
}

static void ac_out_pad(struct ac_out *o, const char *s, size_t width)
{
	size_t n = ac_strlen(s);

	ac_out_mem(o, s, n);
	while (width > n) {
		ac_out_mem(o, " ", 1);
		width--;
	}
}

static void ac_out_hex(struct ac_out *o, uint64_t v)
{
	char num[20];
	int i = (int)sizeof num;

	do {
		num[--i] = "0123456789abcdef"[v & 15];
		v >>= 4;
	} while (v);
	num[--i] = 'x';
	num[--i] = '0';
	ac_out_mem(o, num + i, sizeof num - (size_t)i);
}

static int ac_slot_used(const struct ac_file *f, unsigned i)
{
	const struct ac_thread *th = &f->threads[i];

	return i != AC_THREAD_OVERFLOW ? AC_LOAD(&th->tid) != 0
				       : (AC_LOAD(&th->flags) & AC_TF_OVERFLOW) != 0;
}

/* Sum of a per-thread counter (at byte offset off in struct ac_thread). */
static uint64_t ac_sum_threads(const struct ac_file *f, size_t off)
{
	uint64_t n = 0;
	unsigned i;

	for (i = 0; i < AC_MAX_THREADS; i++)
		n += AC_LOAD((const uint64_t *)(const void *)
				     ((const char *)&f->threads[i] + off));
	return n;
}

#define AC_SUM(f, field) ac_sum_threads((f), offsetof(struct ac_thread, field))

static void ac_site_sum(const struct ac_file *f, unsigned slot, uint64_t *calls,
			uint64_t *bytes)
{
	unsigned s;

	*calls = *bytes = 0;
	for (s = 0; s < AC_SITE_SHARDS; s++) {
		*calls += AC_LOAD(&f->site_counts[s][slot].calls);
		*bytes += AC_LOAD(&f->site_counts[s][slot].bytes);
	}
}

static void ac_out_event(struct ac_out *o, const char *label, uint64_t v)
{
	ac_out_str(o, label);
	ac_out_u64(o, v, 0);
}

#define AC_REPORT_SITES 20

static void ac_report(const struct ac_file *f)
{
	/* Static: keep 36 KiB off a possibly small stack; exit runs once. */
	static struct ac_out o;
	static uint64_t site_calls[AC_SITE_SLOTS];
	const struct ac_header *h = &f->hdr;
	unsigned fn, i, k;
	unsigned top[AC_REPORT_SITES];
	unsigned ntop = 0, used = 0;

	o.n = 0;
	ac_out_str(&o, "alloccount: pid ");
	ac_out_u64(&o, (uint64_t)h->pid, 0);
	ac_out_str(&o, " ");
	ac_out_str(&o, h->exe);
	ac_out_str(&o, ac_tab() ? " (cross-thread tracking on)\n"
			       : " (cross-thread tracking off)\n");
	ac_out_str(&o, "alloccount:   function                  calls            bytes\n");
	for (fn = 0; fn < AC_FN_COUNT; fn++) {
		ac_out_str(&o, "alloccount:   ");
		ac_out_pad(&o, ac_fn_name(fn), 16);
		ac_out_u64(&o, AC_SUM(f, calls[fn]), 15);
		ac_out_u64(&o, AC_SUM(f, bytes[fn]), 17);
		ac_out_str(&o, "\n");
	}
	ac_out_event(&o, "alloccount: failed ", AC_SUM(f, failed));
	ac_out_event(&o, ", cross-thread frees ", AC_SUM(f, xfree_in));
	ac_out_event(&o, ", cross-thread reallocs ", AC_SUM(f, xrealloc_in));
	ac_out_event(&o, ", untracked allocs ", AC_SUM(f, untracked_allocs));
	ac_out_event(&o, " frees ", AC_SUM(f, untracked_frees));
	ac_out_event(&o, ", bootstrap allocs ", AC_LOAD(&h->proc.bootstrap_allocs));
	ac_out_event(&o, " frees ", AC_LOAD(&h->proc.bootstrap_frees));
	ac_out_event(&o, "\nalloccount: threads ", AC_LOAD(&h->nthreads));
	ac_out_str(&o, "\nalloccount:   slot      tid name                  allocs"
		       "      frees  free(NULL)           bytes   xfree-in  xfree-out\n");
	for (i = 0; i < AC_MAX_THREADS; i++) {
		const struct ac_thread *th = &f->threads[i];
		uint64_t allocs = 0, bytes = 0;

		if (!ac_slot_used(f, i))
			continue;
		for (fn = 0; fn < AC_FN_COUNT; fn++) {
			if (fn != AC_FREE && fn != AC_FREE_NULL)
				allocs += AC_LOAD(&th->calls[fn]);
			bytes += AC_LOAD(&th->bytes[fn]);
		}
		ac_out_str(&o, "alloccount:   ");
		ac_out_u64(&o, i, 4);
		ac_out_u64(&o, AC_LOAD(&th->tid), 9);
		ac_out_str(&o, " ");
		ac_out_pad(&o, i == AC_THREAD_OVERFLOW ? "(other threads)"
			       : th->name[0] ? th->name : "?", 16);
		ac_out_u64(&o, allocs, 12);
		ac_out_u64(&o, AC_LOAD(&th->calls[AC_FREE]), 11);
		ac_out_u64(&o, AC_LOAD(&th->calls[AC_FREE_NULL]), 12);
		ac_out_u64(&o, bytes, 16);
		ac_out_u64(&o, AC_LOAD(&th->xfree_in), 11);
		ac_out_u64(&o, AC_LOAD(&th->xfree_out), 11);
		ac_out_str(&o, "\n");
	}

	/* Top sites by calls: repeated selection (no qsort: it may allocate). */
	for (i = 0; i < AC_SITE_SLOTS; i++) {
		uint64_t b;

		site_calls[i] = 0;
		if (AC_LOAD(&f->site_keys[i])) {
			used++;
			ac_site_sum(f, i, &site_calls[i], &b);
		}
	}
	while (ntop < AC_REPORT_SITES) {
		unsigned best = AC_SITE_SLOTS;

		for (i = 0; i < AC_SITE_SLOTS; i++) {
			int taken = 0;

			if (site_calls[i] == 0 ||
			    (best != AC_SITE_SLOTS && site_calls[i] <= site_calls[best]))
				continue;
			for (k = 0; k < ntop; k++)
				if (top[k] == i)
					taken = 1;
			if (!taken)
				best = i;
		}
		if (best == AC_SITE_SLOTS)
			break;
		top[ntop++] = best;
	}
	ac_out_event(&o, "alloccount: call sites ", used);
	ac_out_event(&o, " (other: calls ", AC_SUM(f, site_other_calls));
	ac_out_event(&o, " bytes ", AC_SUM(f, site_other_bytes));
	ac_out_event(&o, "), top ", ntop);
	ac_out_str(&o, ":\n");
	for (k = 0; k < ntop; k++) {
		uint64_t key = AC_LOAD(&f->site_keys[top[k]]), calls, bytes;
		struct ac_maps_hit hit;

		ac_site_sum(f, top[k], &calls, &bytes);
		ac_out_str(&o, "alloccount:   ");
		ac_out_u64(&o, calls, 12);
		ac_out_u64(&o, bytes, 16);
		ac_out_str(&o, " ");
		ac_out_pad(&o, ac_fn_name(AC_SITE_FN(key)), 15);
		ac_out_hex(&o, AC_SITE_ADDR(key));
		if (h->maps_len &&
		    ac_maps_find(f->maps, (size_t)h->maps_len, AC_SITE_ADDR(key), &hit) == 0 &&
		    hit.path_len) {
			ac_out_str(&o, " ");
			ac_out_mem(&o, hit.path, hit.path_len);
			ac_out_str(&o, "+");
			ac_out_hex(&o, AC_SITE_ADDR(key) - hit.base);
		}
		ac_out_str(&o, "\n");
	}
	ac_out_flush(&o);
}

static void ac_capture_maps(struct ac_file *f)
{
	size_t n;
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return;
	n = ac_read_fd(fd, f->maps, AC_MAPS_CAP);
	/* Keep whole lines only. */
	while (n > 0 && f->maps[n - 1] != '\n')
		n--;
	AC_STORE(&f->hdr.maps_len, (uint64_t)n);
}

__attribute__((destructor)) static void ac_fini(void)
{
	struct ac_file *f = ac_region();
	pid_t me = ac_gettid();
	unsigned i;
	int saved = errno;

	ac_self++;
	ac_capture_maps(f);
	for (i = 0; i < AC_THREAD_OVERFLOW; i++) {
		struct ac_thread *th = &f->threads[i];
		pid_t tid = (pid_t)AC_LOAD(&th->tid);

		if (tid != 0 && th->name[0] == '\0')
			ac_thread_name(tid, tid == me, th->name);
	}
	__atomic_fetch_or(&f->hdr.flags, AC_F_EXITED, __ATOMIC_RELAXED);
	if (ac_report_at_exit)
		ac_report(f);
	ac_self--;
	errno = saved;
}
