/* SPDX-License-Identifier: BSD-2-Clause */
/* What workers/worker.c uses of workers/outbox.c: the write side of a
 * worker's connections (names with worker__ are this module's own). */
#ifndef METRICD_WORKERS_OUTBOX_H
#define METRICD_WORKERS_OUTBOX_H

#include <stdbool.h>
#include <stddef.h>

#include "http/request.h"
#include "workers/worker.h"

/* Answers r on c - its handler, or the error err (or r's own) - into the
 * batch.  Returns the status; *body_len: the body's bytes. */
unsigned worker__answer(struct worker *w, struct conn *c, const struct http_req *r,
			enum http_err err, unsigned head_flags, size_t *body_len);
/* Queues bytes for c; nresp answers end in them. */
void worker__out_add(struct worker *w, struct conn *c, char *p, size_t n,
		     uint32_t nresp);
/* c takes part in this batch's flush (to be closed, say). */
void worker__touch(struct worker *w, struct conn *c);
/* Hands c's queued bytes to the kernel now (a heavy request follows). */
void worker__flush_conn(struct worker *w, struct conn *c);
/* Every touched connection: write, park the rest, close what is done. */
void worker__flush_batch(struct worker *w);
/* EPOLLOUT: send what the client has room for. */
void worker__tail_flush(struct worker *w, struct conn *c);
/* c's unsent bytes (parked and queued) reach --max-unsent-bytes. */
bool worker__over_limit(const struct worker *w, const struct conn *c);
/* Puts r off behind c's other held descriptors, with its access-log text
 * (r->log_len bytes). */
void worker__hold(struct worker *w, struct conn *c, const struct http_req *r,
		  const char *text);
/* The next held descriptor of c into *r and its text into text
 * (WORKER_TEXT_SLOT bytes); false when none is held. */
bool worker__unhold(struct worker *w, struct conn *c, struct http_req *r, char *text);
/* A request that will not be answered (its peer is gone). */
void worker__drop(struct worker *w, struct conn *c, const struct http_req *r);
/* Keeps c on the wait list exactly while it has a tail or held requests. */
void worker__wait_update(struct worker *w, struct conn *c);
void worker__close(struct worker *w, struct conn *c);
/* The peer is gone or stopped reading: drop what is queued, shut down. */
void worker__kill(struct worker *w, struct conn *c);

#endif
