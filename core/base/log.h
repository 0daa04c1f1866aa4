/* SPDX-License-Identifier: BSD-2-Clause */
/* Logging: one line per event on stderr, with a level.  When stderr is
 * the journal (JOURNAL_STREAM names its device and inode) lines carry a
 * syslog priority prefix and no timestamp; otherwise an ISO-8601 UTC
 * timestamp.  Safe from any thread:
 * each line is formatted on the caller's stack and written with one write(2). */
#ifndef METRICD_CORE_BASE_LOG_H
#define METRICD_CORE_BASE_LOG_H

#include <stdbool.h>
#include <stddef.h>

enum log_level { LOG_LVL_ERROR = 0, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

void log_init(void);
/* True when fd is the stream JOURNAL_STREAM's "DEV:INO" names. */
bool log_stream_is_journal(const char *journal_stream, int fd);
void log_set_level(enum log_level lvl);
/* Returns 0 and sets *out, or -EINVAL for an unknown name. */
int log_level_parse(const char *name, enum log_level *out);
const char *log_level_name(enum log_level lvl);

void log_msg(enum log_level lvl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* For a check that reports to its caller rather than to the log: writes
 * the message into err (errlen bytes) and returns -EINVAL. */
int log_to_buf(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define log_error(...) log_msg(LOG_LVL_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__)

#endif
