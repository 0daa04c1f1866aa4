/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * acread.h - read alloccount counter files (live or snapshots).
 *
 * Typical use in a test:
 *
 *     struct ac_view live, before, after;
 *     ac_open_wait("/tmp/x.ac", &live, 5000);   // server started with
 *                                               // ALLOCCOUNT_FILE=/tmp/x.ac
 *     ac_snapshot(&live, &before);
 *     ... send N requests ...
 *     ac_snapshot(&live, &after);
 *     uint64_t mallocs = ac_total(&after, AC_MALLOC) - ac_total(&before, AC_MALLOC);
 *     ac_close(&after); ac_close(&before); ac_close(&live);
 *
 * Every accessor reads each counter with one relaxed atomic 64-bit load,
 * so it may be used on a live view.  A snapshot copies the whole file
 * (word by word) into memory owned by the view, and fills in the
 * process's /proc/PID/maps text and thread names when it is still alive.
 */
#ifndef METRICD_ACREAD_H
#define METRICD_ACREAD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "tools/alloccount/alloccount.h"

struct ac_view {
	const struct ac_file *f; /* the counters */
	size_t map_len;		 /* > 0: f is an mmap() of a file */
	void *owned;		 /* != NULL: f is a heap copy (snapshot) */
};

/* Extra counters: sums over the thread slots (struct ac_thread), except
 * the bootstrap counters (hdr.proc) and nthreads (hdr). */
enum ac_stat {
	AC_STAT_FAILED,
	AC_STAT_XTHREAD_FREES,
	AC_STAT_XTHREAD_REALLOCS,
	AC_STAT_UNTRACKED_ALLOCS,
	AC_STAT_UNTRACKED_FREES,
	AC_STAT_BOOTSTRAP_ALLOCS,
	AC_STAT_BOOTSTRAP_FREES,
	AC_STAT_SITE_OTHER_CALLS,
	AC_STAT_SITE_OTHER_BYTES,
	AC_STAT_NTHREADS, /* thread numbers handed out */
	AC_STAT_COUNT
};

struct ac_thread_info {
	unsigned idx;	 /* slot; AC_THREAD_OVERFLOW = shared by extra threads */
	int64_t tid;	 /* kernel TID (0 for the overflow slot) */
	uint64_t flags;	 /* AC_TF_* */
	uint64_t calls[AC_FN_COUNT];
	uint64_t bytes_fn[AC_FN_COUNT];
	uint64_t allocs; /* sum of calls[] of the allocating functions */
	uint64_t bytes;	 /* sum of bytes_fn[] */
	uint64_t failed;
	uint64_t xfree_in, xfree_out, xrealloc_in;
	uint64_t untracked_allocs, untracked_frees;
	uint64_t site_other_calls, site_other_bytes;
	char name[16];	 /* may be empty */
};

struct ac_site_info {
	unsigned slot;
	uint64_t addr; /* return address of the call */
	enum ac_fn fn;
	uint64_t calls, bytes; /* summed over the shards */
};

/* Map a counter file read-only (a live file or a snapshot).  Returns 0,
 * or -1 with errno: from open/mmap, EAGAIN when the file is not (yet)
 * initialised (no magic), EPROTO for another version or size. */
int ac_open(const char *path, struct ac_view *v);

/* ac_open(), retried every few milliseconds while the file does not
 * exist or has no magic yet, for at most timeout_ms. */
int ac_open_wait(const char *path, struct ac_view *v, int timeout_ms);

/* Copy src into memory owned by dst (which must be closed with
 * ac_close).  When the process is alive the copy gets its maps and the
 * names of its live threads.  Returns 0 or -1 (ENOMEM). */
int ac_snapshot(const struct ac_view *src, struct ac_view *dst);

/* Write a view (usually a snapshot) to path, same layout; 0 or -1. */
int ac_write(const struct ac_view *v, const char *path);

void ac_close(struct ac_view *v);

int64_t ac_pid(const struct ac_view *v);
const char *ac_exe(const struct ac_view *v);
uint64_t ac_flags(const struct ac_view *v);
/* 1 when the process the view is about still runs (and is the same
 * executable), 0 otherwise. */
int ac_alive(const struct ac_view *v);

/* Process totals: sums over the thread slots. */
uint64_t ac_total(const struct ac_view *v, enum ac_fn fn);	 /* calls */
uint64_t ac_total_bytes(const struct ac_view *v, enum ac_fn fn); /* bytes */
uint64_t ac_allocs(const struct ac_view *v); /* calls of allocating functions */
uint64_t ac_bytes(const struct ac_view *v);  /* bytes, all functions */
uint64_t ac_stat(const struct ac_view *v, enum ac_stat s);
const char *ac_stat_name(enum ac_stat s);

/* Threads: slots 0 .. AC_MAX_THREADS-1; 0 when the slot is used. */
int ac_thread(const struct ac_view *v, unsigned idx, struct ac_thread_info *out);
int ac_thread_by_tid(const struct ac_view *v, int64_t tid, struct ac_thread_info *out);

/* Sites: slots 0 .. AC_SITE_SLOTS-1; 0 when the slot is used. */
int ac_site(const struct ac_view *v, unsigned slot, struct ac_site_info *out);
int ac_site_find(const struct ac_view *v, uint64_t addr, enum ac_fn fn,
		 struct ac_site_info *out);

/* Maps text stored in the view (captured at exit or by ac_snapshot);
 * NULL when there is none. */
const char *ac_maps(const struct ac_view *v, size_t *len);

/* Module and offset of addr using ac_maps(): copies the module path
 * into path (cap bytes) and sets *offset = addr - load base.  0 or -1. */
int ac_addr_module(const struct ac_view *v, uint64_t addr, char *path, size_t cap,
		   uint64_t *offset);

#endif /* METRICD_ACREAD_H */
