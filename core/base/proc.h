/* SPDX-License-Identifier: BSD-2-Clause */
/* This process as the kernel and the C library see it: CPU time, memory,
 * file descriptors, when it started, where its malloc comes from.  The
 * figures are the ones Prometheus's client libraries export as process_*
 * and are read the same way, but without allocating - open/read/close into
 * the caller's stack, no stdio - because a worker reads them while it
 * answers /stats or /metrics (workers/telemetry.c).  Any thread may call
 * these; they share nothing. */
#ifndef METRICD_CORE_BASE_PROC_H
#define METRICD_CORE_BASE_PROC_H

#include <stddef.h>
#include <stdint.h>

/* A figure that could not be read (no /proc, say). */
#define PROC_UNKNOWN UINT64_MAX

struct proc_figures {
	uint64_t cpu_ns;              /* user + system, every thread */
	uint64_t resident_bytes;
	uint64_t virtual_bytes;
	uint64_t open_fds;
	uint64_t max_fds;             /* the soft RLIMIT_NOFILE */
};

void proc_read(struct proc_figures *p);

/* The fields of one line of /proc/PID/stat (proc(5)) that are read. */
struct proc_stat {
	uint64_t start_ticks;         /* field 22: clock ticks after boot */
	uint64_t virtual_bytes;       /* field 23, vsize */
	uint64_t resident_pages;      /* field 24, rss */
};

/* 0, or -EINVAL when text is not such a line.  The command name (field
 * 2) may hold spaces and parentheses: the fields after it are counted from
 * the last ')'. */
int proc_parse_stat(const char *text, size_t len, struct proc_stat *out);

/* When this process started, in ns since the epoch (from its start in
 * ticks after boot; 0 when unknown).  Reads three clocks and a file: call
 * it once. */
uint64_t proc_start_unix_ns(void);

/* The file this process's malloc is defined in - libc.so.6,
 * libjemalloc.so.2, an LD_PRELOADed interposer, the program itself under
 * a sanitizer - or "unknown".  Called once, at start. */
const char *proc_allocator(void);

/* The C library that runs, as "glibc 2.36" (or "unknown"), into out
 * (cap bytes, NUL-terminated, cut to fit); returns its length. */
size_t proc_libc(char *out, size_t cap);

#endif
