/* SPDX-License-Identifier: BSD-2-Clause */
/* The access log: one line per request, written without blocking workers
 * and without allocating.
 *
 * A line is "combined" (what log tools read from Apache and nginx, plus the
 * request time) or JSON (--access-log-format).  Its target, Referer and
 * User-Agent are bytes the acceptor read; they reach the worker in the
 * text ring beside its request ring (queue/text.h), and the worker formats
 * the line from the descriptor, that text, the status, the body bytes and
 * the time taken.
 *
 * Each worker appends formatted lines to its own byte ring (single
 * producer); the logger thread "metricd-log" (single consumer of every
 * ring) drains them every 100 ms into the log file.  A full ring drops the
 * line and counts it: a slow disk never slows the server.  The file is
 * reopened on request (SIGHUP), so logrotate can move it.
 *
 * Ordering: the producer copies the line, then publishes the new tail with
 * a release store; the consumer loads the tail with acquire, writes the
 * bytes, then publishes the new head with release; the producer reads the
 * head with acquire before reusing space. */
#ifndef METRICD_WORKERS_ACCESSLOG_H
#define METRICD_WORKERS_ACCESSLOG_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <netinet/in.h>

#include "http/request.h"

#define ALOG_RING_SIZE (1u << 20)

struct alog_ring {
	char *buf;
	uint64_t head __attribute__((aligned(64)));   /* consumer */
	uint64_t tail __attribute__((aligned(64)));   /* producer */
	uint64_t dropped;                             /* producer */
} __attribute__((aligned(64)));

struct alog {
	struct alog_ring *rings;
	unsigned nrings;
	pthread_t thread;
	bool started;
	int stop;                  /* atomics */
	int reopen;
	pthread_mutex_t path_lock; /* path: written by the acceptor, copied by
				    * the logger when it reopens */
	char path[4096];
	int fd;                    /* logger thread only */
	uint64_t written;
};

/* The line's format (--access-log-format). */
enum alog_format {
	ALOG_COMBINED = 0,   /* Apache/nginx "combined", then the request time */
	ALOG_JSON,           /* one JSON object per line */
};

/* What one line tells of a request. */
struct alog_entry {
	const struct sockaddr_in6 *peer;
	const struct http_req *req;      /* method, protocol, error */
	const char *text;                /* its text record (queue/text.h), */
	uint16_t text_len;               /* or NULL, 0: none came */
	unsigned status;
	size_t body_bytes;
	uint64_t latency_ns;
};

/* The longest line: every byte of the three text fields escaped (6 bytes
 * each in JSON), and the rest. */
#define ALOG_LINE_MAX (12u << 10)

int alog_init(struct alog *l, unsigned nrings);
/* Starts the logger on `path` ("-" = stderr); or switches to a new path. */
int alog_open(struct alog *l, const char *path);
void alog_destroy(struct alog *l);
/* Lines dropped so far because a ring was full (any thread). */
uint64_t alog_dropped(const struct alog *l);
/* Worker side: false when the line was dropped (ring full). */
bool alog_put(struct alog_ring *r, const char *line, size_t len);
/* The date as the format writes it, for sec (32 bytes with the NUL):
 * combined "[27/Nov/2026:18:06:47 +0000]", JSON "2026-11-27T18:06:47+00:00". */
void alog_date(char out[32], time_t sec, enum alog_format fmt);
/* One request's line, with its '\n', into out (ALOG_LINE_MAX bytes),
 * without allocating; date from alog_date.  Returns its length. */
size_t alog_format_line(char *out, enum alog_format fmt, const char *date,
			const struct alog_entry *e);
/* Formats e's line and puts it in the ring. */
void alog_request(struct alog_ring *r, enum alog_format fmt, const char *date,
		  const struct alog_entry *e);

#endif
