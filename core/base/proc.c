/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#ifdef __GLIBC__
#include <gnu/libc-version.h>
#endif

#include "core/base/proc.h"

/* The whole of a small /proc file into buf (cap bytes); its length, or
 * -errno. */
static ssize_t read_small(const char *path, char *buf, size_t cap)
{
	size_t len = 0;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	while (len < cap && (n = read(fd, buf + len, cap - len)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			n = -errno;
			close(fd);
			return n;
		}
		len += (size_t)n;
	}
	close(fd);
	return (ssize_t)len;
}

/* The decimal number at *p, which then points past it; false when there
 * is none. */
static bool parse_u64(const char **p, const char *end, uint64_t *v)
{
	const char *s = *p;

	*v = 0;
	while (s < end && *s >= '0' && *s <= '9')
		*v = *v * 10 + (uint64_t)(*s++ - '0');
	if (s == *p)
		return false;
	*p = s;
	return true;
}

int proc_parse_stat(const char *text, size_t len, struct proc_stat *out)
{
	const char *end = text + len, *p = NULL;
	uint64_t v;

	for (const char *s = text; s < end; s++)
		if (*s == ')')
			p = s + 1;
	if (!p)
		return -EINVAL;
	/* Field 3 (the state, a letter) comes first; count fields by the
	 * spaces before them. */
	for (unsigned field = 3; field <= 24; field++) {
		if (p >= end || *p != ' ')
			return -EINVAL;
		p++;
		if (field == 3) {
			while (p < end && *p != ' ')
				p++;
			continue;
		}
		if (*p == '-')          /* signed fields before ours */
			p++;
		if (!parse_u64(&p, end, &v))
			return -EINVAL;
		if (field == 22)
			out->start_ticks = v;
		else if (field == 23)
			out->virtual_bytes = v;
		else if (field == 24)
			out->resident_pages = v;
	}
	return 0;
}

static int read_stat(struct proc_stat *st)
{
	char buf[1024];
	ssize_t n = read_small("/proc/self/stat", buf, sizeof(buf));

	return n < 0 ? (int)n : proc_parse_stat(buf, (size_t)n, st);
}

/* Entries of /proc/self/fd, less the descriptor that reads it. */
static uint64_t count_fds(void)
{
	char buf[4096] __attribute__((aligned(8)));
	uint64_t n = 0;
	ssize_t got;
	int fd = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return PROC_UNKNOWN;
	while ((got = getdents64(fd, buf, sizeof(buf))) > 0)
		for (ssize_t off = 0; off < got;) {
			const struct dirent64 *d = (const struct dirent64 *)(buf + off);

			n += d->d_name[0] != '.';
			off += d->d_reclen;
		}
	close(fd);
	return got < 0 || n == 0 ? PROC_UNKNOWN : n - 1;
}

void proc_read(struct proc_figures *p)
{
	struct rusage ru;
	struct rlimit rl;
	struct proc_stat st;
	long page = sysconf(_SC_PAGESIZE);

	p->cpu_ns = PROC_UNKNOWN;
	if (getrusage(RUSAGE_SELF, &ru) == 0)
		p->cpu_ns = ((uint64_t)ru.ru_utime.tv_sec + (uint64_t)ru.ru_stime.tv_sec) *
			1000000000u + ((uint64_t)ru.ru_utime.tv_usec +
				       (uint64_t)ru.ru_stime.tv_usec) * 1000u;
	p->resident_bytes = p->virtual_bytes = PROC_UNKNOWN;
	if (read_stat(&st) == 0) {
		p->virtual_bytes = st.virtual_bytes;
		if (page > 0)
			p->resident_bytes = st.resident_pages * (uint64_t)page;
	}
	p->open_fds = count_fds();
	p->max_fds = PROC_UNKNOWN;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		p->max_fds = rl.rlim_cur;
}

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t proc_start_unix_ns(void)
{
	struct proc_stat st;
	long hz = sysconf(_SC_CLK_TCK);
	/* The epoch's time at boot: now on the wall clock less now after boot
	 * (CLOCK_BOOTTIME counts suspended time, as the start time does). */
	uint64_t real = clock_ns(CLOCK_REALTIME), boot = clock_ns(CLOCK_BOOTTIME);

	if (read_stat(&st) != 0 || hz <= 0 || real < boot)
		return 0;
	return real - boot + st.start_ticks * (1000000000u / (uint64_t)hz);
}

const char *proc_allocator(void)
{
	void *(*fn)(size_t) = malloc;
	Dl_info info;
	const char *slash;

	if (!dladdr((void *)fn, &info) || !info.dli_fname || !info.dli_fname[0])
		return "unknown";
	slash = strrchr(info.dli_fname, '/');
	return slash ? slash + 1 : info.dli_fname;
}

size_t proc_libc(char *out, size_t cap)
{
#ifdef __GLIBC__
	const char *name = "glibc ", *version = gnu_get_libc_version();
#else
	const char *name = "", *version = "unknown";
#endif
	size_t a = strlen(name), b = strlen(version);

	if (cap == 0)
		return 0;
	if (a > cap - 1)
		a = cap - 1;
	memcpy(out, name, a);
	if (b > cap - 1 - a)
		b = cap - 1 - a;
	memcpy(out + a, version, b);
	out[a + b] = '\0';
	return a + b;
}
