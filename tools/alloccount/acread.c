/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * acread.c - reader side of the alloccount counter file.
 */
#include <config.h>

#include "tools/alloccount/acread.h"
#include "tools/alloccount/acmaps.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define LOAD(p) __atomic_load_n((p), __ATOMIC_RELAXED)

static void view_clear(struct ac_view *v)
{
	v->f = NULL;
	v->map_len = 0;
	v->owned = NULL;
}

int ac_open(const char *path, struct ac_view *v)
{
	struct stat st;
	const struct ac_file *f;
	uint64_t magic;
	int fd, err;

	view_clear(v);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) != 0) {
		err = errno;
		close(fd);
		errno = err;
		return -1;
	}
	if ((uint64_t)st.st_size < sizeof(struct ac_header)) {
		close(fd);
		errno = EAGAIN; /* being created */
		return -1;
	}
	if ((uint64_t)st.st_size != sizeof(struct ac_file)) {
		close(fd);
		errno = EPROTO;
		return -1;
	}
	f = mmap(NULL, sizeof(struct ac_file), PROT_READ, MAP_SHARED, fd, 0);
	err = errno;
	close(fd);
	if (f == MAP_FAILED) {
		errno = err;
		return -1;
	}
	magic = __atomic_load_n(&f->hdr.magic, __ATOMIC_ACQUIRE);
	if (magic != AC_MAGIC || f->hdr.version != AC_VERSION ||
	    f->hdr.file_size != sizeof(struct ac_file)) {
		munmap((void *)f, sizeof(struct ac_file));
		errno = magic == 0 ? EAGAIN : EPROTO;
		return -1;
	}
	v->f = f;
	v->map_len = sizeof(struct ac_file);
	return 0;
}

int ac_open_wait(const char *path, struct ac_view *v, int timeout_ms)
{
	struct timespec ts = {0, 2 * 1000 * 1000};
	int waited = 0;

	for (;;) {
		if (ac_open(path, v) == 0)
			return 0;
		if ((errno != ENOENT && errno != EAGAIN) || waited >= timeout_ms)
			return -1;
		nanosleep(&ts, NULL);
		waited += 2;
	}
}

void ac_close(struct ac_view *v)
{
	if (v->map_len)
		munmap((void *)v->f, v->map_len);
	free(v->owned);
	view_clear(v);
}

int64_t ac_pid(const struct ac_view *v)
{
	return v->f->hdr.pid;
}

const char *ac_exe(const struct ac_view *v)
{
	return v->f->hdr.exe;
}

uint64_t ac_flags(const struct ac_view *v)
{
	return LOAD(&v->f->hdr.flags);
}

int ac_alive(const struct ac_view *v)
{
	char path[64], exe[AC_EXE_CAP];
	int64_t pid = v->f->hdr.pid;
	ssize_t n;

	if (pid <= 0 || (ac_flags(v) & AC_F_EXITED))
		return 0;
	if (kill((pid_t)pid, 0) != 0 && errno != EPERM)
		return 0;
	snprintf(path, sizeof path, "/proc/%lld/exe", (long long)pid);
	n = readlink(path, exe, sizeof exe - 1);
	if (n < 0)
		return errno == EACCES; /* cannot tell: assume it is ours */
	exe[n] = '\0';
	return strncmp(exe, v->f->hdr.exe, sizeof exe) == 0;
}

static size_t read_into(const char *path, char *buf, size_t cap)
{
	size_t n = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return 0;
	while (n < cap) {
		ssize_t r = read(fd, buf + n, cap - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	return n;
}

int ac_snapshot(const struct ac_view *src, struct ac_view *dst)
{
	struct ac_file *c;
	const uint64_t *s;
	uint64_t *d;
	size_t i, n;
	int alive;

	view_clear(dst);
	c = malloc(sizeof *c);
	if (!c)
		return -1;
	/* Word by word, each with one atomic load: no torn counters. */
	s = (const uint64_t *)(const void *)src->f;
	d = (uint64_t *)(void *)c;
	n = sizeof *c / sizeof(uint64_t);
	for (i = 0; i < n; i++)
		d[i] = LOAD(&s[i]);

	alive = ac_alive(src);
	if (alive) {
		char path[96];
		size_t len;

		snprintf(path, sizeof path, "/proc/%lld/maps", (long long)c->hdr.pid);
		len = read_into(path, c->maps, sizeof c->maps);
		while (len > 0 && c->maps[len - 1] != '\n')
			len--;
		if (len > 0)
			c->hdr.maps_len = len;
		for (i = 0; i < AC_THREAD_OVERFLOW; i++) {
			struct ac_thread *th = &c->threads[i];
			char name[32];

			if (th->tid == 0 || th->name[0] != '\0')
				continue;
			snprintf(path, sizeof path, "/proc/%lld/task/%lld/comm",
				 (long long)c->hdr.pid, (long long)th->tid);
			len = read_into(path, name, sizeof name - 1);
			while (len > 0 && name[len - 1] == '\n')
				len--;
			if (len > sizeof th->name - 1)
				len = sizeof th->name - 1;
			memcpy(th->name, name, len);
			th->name[len] = '\0';
		}
	}
	c->hdr.flags |= AC_F_SNAPSHOT;
	{
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		c->hdr.snapshot_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	}
	dst->f = c;
	dst->owned = c;
	return 0;
}

int ac_write(const struct ac_view *v, const char *path)
{
	char tmp[4096];
	const char *p = (const char *)v->f;
	size_t left = sizeof(struct ac_file);
	int fd, err;

	if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >=
	    sizeof tmp) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	while (left > 0) {
		ssize_t w = write(fd, p, left);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			err = w < 0 ? errno : EIO;
			close(fd);
			unlink(tmp);
			errno = err;
			return -1;
		}
		p += w;
		left -= (size_t)w;
	}
	if (close(fd) != 0 || rename(tmp, path) != 0) {
		err = errno;
		unlink(tmp);
		errno = err;
		return -1;
	}
	return 0;
}

/* Sum of a per-thread counter at byte offset off in struct ac_thread. */
static uint64_t sum_threads(const struct ac_view *v, size_t off)
{
	uint64_t n = 0;
	unsigned i;

	for (i = 0; i < AC_MAX_THREADS; i++)
		n += LOAD((const uint64_t *)(const void *)((const char *)&v->f->threads[i] +
							    off));
	return n;
}

#define SUM(v, field) sum_threads((v), offsetof(struct ac_thread, field))

uint64_t ac_total(const struct ac_view *v, enum ac_fn fn)
{
	return (unsigned)fn < AC_FN_COUNT ? SUM(v, calls[fn]) : 0;
}

uint64_t ac_total_bytes(const struct ac_view *v, enum ac_fn fn)
{
	return (unsigned)fn < AC_FN_COUNT ? SUM(v, bytes[fn]) : 0;
}

uint64_t ac_allocs(const struct ac_view *v)
{
	uint64_t n = 0;
	unsigned fn;

	for (fn = 0; fn < AC_FN_COUNT; fn++)
		if (fn != AC_FREE && fn != AC_FREE_NULL)
			n += ac_total(v, (enum ac_fn)fn);
	return n;
}

uint64_t ac_bytes(const struct ac_view *v)
{
	uint64_t n = 0;
	unsigned fn;

	for (fn = 0; fn < AC_FN_COUNT; fn++)
		n += ac_total_bytes(v, (enum ac_fn)fn);
	return n;
}

uint64_t ac_stat(const struct ac_view *v, enum ac_stat s)
{
	switch (s) {
	case AC_STAT_FAILED:
		return SUM(v, failed);
	case AC_STAT_XTHREAD_FREES:
		return SUM(v, xfree_in);
	case AC_STAT_XTHREAD_REALLOCS:
		return SUM(v, xrealloc_in);
	case AC_STAT_UNTRACKED_ALLOCS:
		return SUM(v, untracked_allocs);
	case AC_STAT_UNTRACKED_FREES:
		return SUM(v, untracked_frees);
	case AC_STAT_BOOTSTRAP_ALLOCS:
		return LOAD(&v->f->hdr.proc.bootstrap_allocs);
	case AC_STAT_BOOTSTRAP_FREES:
		return LOAD(&v->f->hdr.proc.bootstrap_frees);
	case AC_STAT_SITE_OTHER_CALLS:
		return SUM(v, site_other_calls);
	case AC_STAT_SITE_OTHER_BYTES:
		return SUM(v, site_other_bytes);
	case AC_STAT_NTHREADS:
		return LOAD(&v->f->hdr.nthreads);
	case AC_STAT_COUNT:
		break;
	}
	return 0;
}

const char *ac_stat_name(enum ac_stat s)
{
	static const char *const names[AC_STAT_COUNT] = {
		"failed",	    "xthread_frees",	"xthread_reallocs",
		"untracked_allocs", "untracked_frees",	"bootstrap_allocs",
		"bootstrap_frees",  "site_other_calls", "site_other_bytes",
		"nthreads",
	};
	return (unsigned)s < AC_STAT_COUNT ? names[s] : "?";
}

int ac_thread(const struct ac_view *v, unsigned idx, struct ac_thread_info *out)
{
	const struct ac_thread *th;
	unsigned fn;

	if (idx >= AC_MAX_THREADS)
		return -1;
	th = &v->f->threads[idx];
	if (idx == AC_THREAD_OVERFLOW ? !(LOAD(&th->flags) & AC_TF_OVERFLOW)
				      : LOAD(&th->tid) == 0)
		return -1;
	memset(out, 0, sizeof *out);
	out->idx = idx;
	out->tid = (int64_t)LOAD(&th->tid);
	out->flags = LOAD(&th->flags);
	for (fn = 0; fn < AC_FN_COUNT; fn++) {
		out->calls[fn] = LOAD(&th->calls[fn]);
		out->bytes_fn[fn] = LOAD(&th->bytes[fn]);
		out->bytes += out->bytes_fn[fn];
		if (fn != AC_FREE && fn != AC_FREE_NULL)
			out->allocs += out->calls[fn];
	}
	out->failed = LOAD(&th->failed);
	out->xfree_in = LOAD(&th->xfree_in);
	out->xfree_out = LOAD(&th->xfree_out);
	out->xrealloc_in = LOAD(&th->xrealloc_in);
	out->untracked_allocs = LOAD(&th->untracked_allocs);
	out->untracked_frees = LOAD(&th->untracked_frees);
	out->site_other_calls = LOAD(&th->site_other_calls);
	out->site_other_bytes = LOAD(&th->site_other_bytes);
	for (fn = 0; fn + 1 < sizeof out->name; fn++) {
		char ch = __atomic_load_n(&th->name[fn], __ATOMIC_RELAXED);

		out->name[fn] = ch;
		if (!ch)
			break;
	}
	return 0;
}

int ac_thread_by_tid(const struct ac_view *v, int64_t tid, struct ac_thread_info *out)
{
	unsigned i;

	for (i = 0; i < AC_THREAD_OVERFLOW; i++)
		if ((int64_t)LOAD(&v->f->threads[i].tid) == tid && tid != 0)
			return ac_thread(v, i, out);
	return -1;
}

int ac_site(const struct ac_view *v, unsigned slot, struct ac_site_info *out)
{
	uint64_t key;
	unsigned s;

	if (slot >= AC_SITE_SLOTS)
		return -1;
	key = LOAD(&v->f->site_keys[slot]);
	if (key == 0)
		return -1;
	out->slot = slot;
	out->addr = AC_SITE_ADDR(key);
	out->fn = (enum ac_fn)AC_SITE_FN(key);
	out->calls = out->bytes = 0;
	for (s = 0; s < AC_SITE_SHARDS; s++) {
		out->calls += LOAD(&v->f->site_counts[s][slot].calls);
		out->bytes += LOAD(&v->f->site_counts[s][slot].bytes);
	}
	return 0;
}

int ac_site_find(const struct ac_view *v, uint64_t addr, enum ac_fn fn,
		 struct ac_site_info *out)
{
	uint64_t key = AC_SITE_KEY(addr, fn);
	unsigned i;

	/* A linear scan: independent of the writer's hash and probing. */
	for (i = 0; i < AC_SITE_SLOTS; i++)
		if (LOAD(&v->f->site_keys[i]) == key)
			return ac_site(v, i, out);
	return -1;
}

const char *ac_maps(const struct ac_view *v, size_t *len)
{
	uint64_t n = LOAD(&v->f->hdr.maps_len);

	if (n == 0 || n > AC_MAPS_CAP)
		return NULL;
	*len = (size_t)n;
	return v->f->maps;
}

int ac_addr_module(const struct ac_view *v, uint64_t addr, char *path, size_t cap,
		   uint64_t *offset)
{
	struct ac_maps_hit hit;
	size_t len, n;
	const char *maps = ac_maps(v, &len);

	if (!maps || cap == 0 || ac_maps_find(maps, len, addr, &hit) != 0 ||
	    hit.path_len == 0)
		return -1;
	n = hit.path_len < cap - 1 ? hit.path_len : cap - 1;
	memcpy(path, hit.path, n);
	path[n] = '\0';
	*offset = addr - hit.base;
	return 0;
}
