/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * alloccount.h - layout of the alloccount counter file.
 *
 * The LD_PRELOAD interposer tools/alloccount/alloccount.so keeps every
 * counter it maintains inside one memory region with the fixed layout
 * below.  When ALLOCCOUNT_FILE=/path is set that region is a MAP_SHARED
 * mapping of /path, so any other process can read the live counters of
 * the instrumented process at any moment (open + mmap, or plain read).
 * Snapshots written by alloccount-report --snapshot use the same layout.
 *
 * This header is self-contained (C99 + <stdint.h>) so that a program
 * outside this tree can include it to read the file.
 *
 * Rules for readers:
 *   - All counters are naturally aligned uint64_t words, each written
 *     with single 64-bit relaxed atomic stores or read-modify-writes.
 *     Read each one with one aligned 64-bit load (e.g.
 *     __atomic_load_n(p, __ATOMIC_RELAXED)) to avoid torn values.
 *     Counters are not updated together, so a read while the process
 *     runs gives a valid value per counter, not an atomic snapshot of the
 *     whole file (quiesce the process for exact deltas).
 *   - hdr.magic is written last (release) when the region is initialised;
 *     a file whose magic is not AC_MAGIC is not (yet) valid.  Check
 *     hdr.version == AC_VERSION and hdr.file_size == sizeof(struct ac_file).
 *   - All multi-byte values are in the byte order of the machine that
 *     wrote them (the file is meant for the same host).
 *
 * Byte offsets (x86_64 and every LP64 ABI; checked by _Static_assert):
 *
 *   0x00000  struct ac_header   (4096 bytes)
 *            0x000 magic "ALLOCCNT"         0x008 version, 0x00c header_size
 *            0x010 file_size                0x018 fn_slots, 0x01c max_threads
 *            0x020 site_slots, 0x024 thread_size
 *            0x028 site_shards, 0x02c maps_cap
 *            0x030 threads_offset 0x038 sites_offset 0x040 maps_offset
 *            0x048 pid   0x050 flags   0x058 start_ns   0x060 nthreads
 *            0x068 maps_len  0x070 xthread_slots  0x078 snapshot_ns
 *            0x080 exe[1024]
 *            0x800 struct ac_process proc (512 bytes: bootstrap counters)
 *   0x01000  struct ac_thread threads[AC_MAX_THREADS]  (256 x 384 bytes)
 *            per slot: 0x000 tid 0x008 flags 0x010 calls[16] 0x090 bytes[16]
 *            0x110 failed 0x118 xfree_in 0x120 xfree_out 0x128 xrealloc_in
 *            0x130 untracked_allocs 0x138 untracked_frees
 *            0x140 site_other_calls 0x148 site_other_bytes 0x150 name[16]
 *   0x19000  uint64_t site_keys[AC_SITE_SLOTS]           (4096 x 8 bytes)
 *   0x21000  struct ac_site_count site_counts[8][4096]   (8 x 4096 x 16)
 *   0xa1000  char maps[AC_MAPS_CAP]  (/proc/PID/maps text, 256 KiB)
 *   0xe1000  end (file size 921600 bytes; sparse until counters are used)
 *
 * Process totals are not stored: sum the thread slots (acread.h does).
 */
#ifndef METRICD_ALLOCCOUNT_H
#define METRICD_ALLOCCOUNT_H

#include <stddef.h>
#include <stdint.h>

/* "ALLOCCNT" when the first 8 bytes of the file are viewed as text on a
 * little-endian host. */
#define AC_MAGIC UINT64_C(0x544e43434f4c4c41)
#define AC_VERSION 1u

/* Functions (and pseudo-functions) counted.  Values index the calls[]
 * and bytes[] arrays.  AC_FREE counts free() of non-NULL pointers only;
 * free(NULL) is kept apart in AC_FREE_NULL. */
enum ac_fn {
	AC_MALLOC = 0,
	AC_CALLOC = 1,
	AC_REALLOC = 2,
	AC_FREE = 3,
	AC_FREE_NULL = 4,
	AC_POSIX_MEMALIGN = 5,
	AC_ALIGNED_ALLOC = 6,
	AC_MEMALIGN = 7,
	AC_VALLOC = 8,
	AC_PVALLOC = 9,
	AC_REALLOCARRAY = 10,
	AC_FN_COUNT = 11
};

#define AC_FN_SLOTS 16 /* array length; slots >= AC_FN_COUNT are zero */

#define AC_MAX_THREADS 256 /* thread slots, the last one is shared */
#define AC_THREAD_OVERFLOW (AC_MAX_THREADS - 1)
#define AC_SITE_SLOTS 4096
#define AC_MAPS_CAP (256 * 1024)
#define AC_EXE_CAP 1024

/* hdr.flags */
#define AC_F_XTHREAD UINT64_C(0x1)  /* cross-thread free tracking was on */
#define AC_F_EXITED UINT64_C(0x2)   /* the process ran its exit handler */
#define AC_F_FILE UINT64_C(0x4)     /* region is a file (ALLOCCOUNT_FILE) */
#define AC_F_SNAPSHOT UINT64_C(0x8) /* this is a copy (alloccount-report) */
#define AC_F_FORKED UINT64_C(0x10)  /* region of a fork()ed child */

/* ac_thread.flags */
#define AC_TF_EXITED UINT64_C(0x1)   /* the thread has exited */
#define AC_TF_OVERFLOW UINT64_C(0x2) /* the shared slot for extra threads */

/* Process-wide counters that are not kept per thread (rare events). */
struct ac_process {
	uint64_t bootstrap_allocs; /* calls served from the static start-up
				    * arena (made while dlsym() resolved the
				    * real functions); in no other counter */
	uint64_t bootstrap_frees;  /* free()/realloc() of arena blocks */
	uint64_t reserved[62];
};

struct ac_header {
	uint64_t magic;		  /* AC_MAGIC, written last */
	uint32_t version;	  /* AC_VERSION */
	uint32_t header_size;	  /* sizeof(struct ac_header) */
	uint64_t file_size;	  /* sizeof(struct ac_file) */
	uint32_t fn_slots;	  /* AC_FN_SLOTS */
	uint32_t max_threads;	  /* AC_MAX_THREADS */
	uint32_t site_slots;	  /* AC_SITE_SLOTS */
	uint32_t thread_size;	  /* sizeof(struct ac_thread) */
	uint32_t site_shards;	  /* AC_SITE_SHARDS */
	uint32_t maps_cap;	  /* AC_MAPS_CAP */
	uint64_t threads_offset;  /* offsetof(struct ac_file, threads) */
	uint64_t sites_offset;	  /* offsetof(struct ac_file, site_keys) */
	uint64_t maps_offset;	  /* offsetof(struct ac_file, maps) */
	int64_t pid;		  /* process the counters belong to */
	uint64_t flags;		  /* AC_F_* */
	uint64_t start_ns;	  /* CLOCK_REALTIME when counting started */
	uint64_t nthreads;	  /* thread numbers handed out; above
				   * AC_MAX_THREADS - 1 the extra threads
				   * share slot AC_THREAD_OVERFLOW */
	uint64_t maps_len;	  /* bytes of maps[] filled (0: none yet);
				   * written at exit and by snapshots */
	uint64_t xthread_slots;	  /* size of the private pointer table */
	uint64_t snapshot_ns;	  /* CLOCK_REALTIME of a snapshot, else 0 */
	char exe[AC_EXE_CAP];	  /* /proc/self/exe at start, NUL-terminated */
	uint64_t reserved[(2048 - 128 - AC_EXE_CAP) / 8];
	struct ac_process proc;	  /* at offset 2048 */
	uint64_t reserved2[(4096 - 2048 - sizeof(struct ac_process)) / 8];
};

/* One per thread, indexed by a small thread number assigned on the
 * thread's first call; slots are not reused when a thread exits.  All
 * counters of a slot are written by its thread only (plain relaxed
 * stores, no lock prefix), except xfree_out, which other threads add to
 * atomically, and the shared overflow slot, which is updated with
 * atomic adds.  PROCESS TOTALS ARE THE SUMS OVER ALL 256 SLOTS (there is
 * no separate process-wide copy, which would make every thread contend
 * for the same cache lines). */
struct ac_thread {
	uint64_t tid;		     /* kernel TID; 0 = slot unused */
	uint64_t flags;		     /* AC_TF_* */
	uint64_t calls[AC_FN_SLOTS]; /* calls per enum ac_fn, failed included */
	uint64_t bytes[AC_FN_SLOTS]; /* bytes requested per enum ac_fn:
				      * malloc/realloc/valloc/...: size;
				      * calloc/reallocarray: n * size
				      * (0 when n * size overflows);
				      * free: 0.  Sums wrap modulo 2^64. */
	uint64_t failed;	     /* allocation calls that returned NULL or
				      * an error (realloc(p, 0) excluded) */
	uint64_t xfree_in;	     /* frees here of blocks allocated by
				      * another thread (ALLOCCOUNT_XTHREAD=1);
				      * summed: the cross-thread frees */
	uint64_t xfree_out;	     /* blocks allocated here, freed by
				      * another thread */
	uint64_t xrealloc_in;	     /* realloc()/reallocarray() here of a
				      * block another thread allocated */
	uint64_t untracked_allocs;   /* blocks the pointer table had no room
				      * for (ALLOCCOUNT_XTHREAD=1) */
	uint64_t untracked_frees;    /* frees/reallocs of a pointer not in the
				      * table (allocated before tracking
				      * started, or untracked) */
	uint64_t site_other_calls;   /* calls whose call site found no room
				      * in the site table */
	uint64_t site_other_bytes;
	char name[16];		     /* comm, filled when the thread exits,
				      * at process exit or by a snapshot;
				      * may be empty */
	uint64_t reserved[4];
};

/* Call sites: an open-addressing table keyed by the return address of
 * the interposed call (__builtin_return_address(0)) and the function;
 * insert-only, key 0 = empty slot.  The counts of slot i are split in
 * AC_SITE_SHARDS shards (thread slot % AC_SITE_SHARDS writes shard
 * site_counts[shard][i]) so that threads running the same code do not
 * contend for one cache line; a site's count is the sum of its shards. */
struct ac_site_count {
	uint64_t calls;
	uint64_t bytes;
};

#define AC_SITE_SHARDS 8
#define AC_SITE_FN_SHIFT 56
#define AC_SITE_ADDR_MASK ((UINT64_C(1) << AC_SITE_FN_SHIFT) - 1)
#define AC_SITE_ADDR(key) ((key) & AC_SITE_ADDR_MASK)
#define AC_SITE_FN(key) ((unsigned)((key) >> AC_SITE_FN_SHIFT))
#define AC_SITE_KEY(addr, fn) \
	(((uint64_t)(addr) & AC_SITE_ADDR_MASK) | ((uint64_t)(fn) << AC_SITE_FN_SHIFT))

struct ac_file {
	struct ac_header hdr;
	struct ac_thread threads[AC_MAX_THREADS];
	uint64_t site_keys[AC_SITE_SLOTS]; /* return address | fn << 56 */
	struct ac_site_count site_counts[AC_SITE_SHARDS][AC_SITE_SLOTS];
	char maps[AC_MAPS_CAP];
};

#if defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
_Static_assert(sizeof(struct ac_process) == 512, "ac_process size");
_Static_assert(sizeof(struct ac_header) == 4096, "ac_header size");
_Static_assert(offsetof(struct ac_header, pid) == 0x48, "pid offset");
_Static_assert(offsetof(struct ac_header, exe) == 0x80, "exe offset");
_Static_assert(offsetof(struct ac_header, proc) == 0x800, "proc offset");
_Static_assert(sizeof(struct ac_thread) == 384, "ac_thread size");
_Static_assert(offsetof(struct ac_thread, calls) == 0x10, "calls offset");
_Static_assert(offsetof(struct ac_thread, bytes) == 0x90, "bytes offset");
_Static_assert(offsetof(struct ac_thread, failed) == 0x110, "failed offset");
_Static_assert(offsetof(struct ac_thread, name) == 0x150, "name offset");
_Static_assert(offsetof(struct ac_file, threads) == 0x1000, "threads offset");
_Static_assert(offsetof(struct ac_file, site_keys) == 0x19000, "keys offset");
_Static_assert(offsetof(struct ac_file, site_counts) == 0x21000, "counts offset");
_Static_assert(offsetof(struct ac_file, maps) == 0xa1000, "maps offset");
_Static_assert(sizeof(struct ac_file) == 0xe1000, "file size");
#endif

/* Name of an enum ac_fn value ("malloc", ..., "free(NULL)"), or "?". */
static inline const char *ac_fn_name(unsigned fn)
{
	static const char *const names[AC_FN_COUNT] = {
		"malloc", "calloc", "realloc", "free", "free(NULL)",
		"posix_memalign", "aligned_alloc", "memalign", "valloc",
		"pvalloc", "reallocarray",
	};
	return fn < AC_FN_COUNT ? names[fn] : "?";
}

#endif /* METRICD_ALLOCCOUNT_H */
