/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/base/log.h"

/* Process-wide facts: the level is read by every thread, written on start
 * and (later) on reload; a relaxed int is enough for a filter. */
static int log_level = LOG_LVL_INFO;
static int log_journal;

static const char *const level_names[] = { "error", "warn", "info", "debug" };
static const char level_syslog[] = { '3', '4', '6', '7' };

/* systemd sets JOURNAL_STREAM=DEV:INO (decimal) for the stream it
 * connects to stdout/stderr.  The variable is inherited by children whose
 * stderr was redirected (a script run from the unit, `metricd 2>file`), so
 * systemd.exec(5) says to compare it with the fd's own st_dev:st_ino. */
bool log_stream_is_journal(const char *journal_stream, int fd)
{
	unsigned long long dev, ino;
	struct stat st;
	int end = 0;

	if (!journal_stream ||
	    sscanf(journal_stream, "%llu:%llu%n", &dev, &ino, &end) != 2 ||
	    journal_stream[end] != '\0' || fstat(fd, &st))
		return false;
	return (unsigned long long)st.st_dev == dev &&
	       (unsigned long long)st.st_ino == ino;
}

void log_init(void)
{
	log_journal = log_stream_is_journal(getenv("JOURNAL_STREAM"), STDERR_FILENO);
}

void log_set_level(enum log_level lvl)
{
	__atomic_store_n(&log_level, (int)lvl, __ATOMIC_RELAXED);
}

const char *log_level_name(enum log_level lvl)
{
	return (unsigned)lvl < 4 ? level_names[lvl] : "?";
}

int log_level_parse(const char *name, enum log_level *out)
{
	for (unsigned i = 0; i < 4; i++) {
		if (strcasecmp(name, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	char line[1024];
	size_t n = 0;
	va_list ap;
	int saved = errno;

	if ((int)lvl > __atomic_load_n(&log_level, __ATOMIC_RELAXED))
		return;
	if (log_journal) {
		line[n++] = '<';
		line[n++] = level_syslog[lvl];
		line[n++] = '>';
	} else {
		struct timespec ts;
		struct tm tm;

		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		n += strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
		n += (size_t)snprintf(line + n, sizeof(line) - n, ".%03ldZ ",
				      ts.tv_nsec / 1000000);
	}
	n += (size_t)snprintf(line + n, sizeof(line) - n, "metricd[%s]: ",
			      level_names[lvl]);
	va_start(ap, fmt);
	int m = vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
	va_end(ap);
	if (m < 0)
		m = 0;
	n += (size_t)m;
	if (n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	/* One write per line keeps lines from different threads whole. */
	ssize_t w = write(STDERR_FILENO, line, n);
	(void)w;
	errno = saved;
}

int log_to_buf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}
