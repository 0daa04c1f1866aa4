/* The access log: one line per request, written without blocking workers
 * and without allocating.
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

int alog_init(struct alog *l, unsigned nrings);
/* Starts the logger on `path` ("-" = stderr); or switches to a new path. */
int alog_open(struct alog *l, const char *path);
void alog_destroy(struct alog *l);
/* Lines dropped so far because a ring was full (any thread). */
uint64_t alog_dropped(const struct alog *l);
/* Worker side: false when the line was dropped (ring full). */
bool alog_put(struct alog_ring *r, const char *line, size_t len);
/* "[27/Nov/2026:18:06:47 +0000]" for sec (32 bytes with the NUL). */
void alog_date(char out[32], time_t sec);
/* One request's line, formatted without allocating and put in the ring:
 * peer, date, request, status, body bytes, latency. */
void alog_request(struct alog_ring *r, const char *date,
		  const struct sockaddr_in6 *peer, const struct http_req *req,
		  unsigned status, size_t body_bytes, uint64_t latency_ns);

#endif
