/* SPDX-License-Identifier: BSD-2-Clause */
/* A real worker thread (workers/worker.c) driven the way the acceptor
 * drives it, for the unit suites of worker.c, stack.c and heap.c.
 *
 * The test thread plays the acceptor: it opens connection slots over
 * socketpairs, pushes descriptors into the worker's ring (and wakes it),
 * and reads the notes the worker sends back.  The test holds the client
 * end of each socketpair and reads the answers from it. */
#ifndef METRICD_TESTS_WORKER_HARNESS_H
#define METRICD_TESTS_WORKER_HARNESS_H

#include <stdbool.h>
#include <stdint.h>

#include "workers/accesslog.h"
#include "queue/conn.h"
#include "queue/runtime.h"
#include "core/base/counters.h"
#include "queue/queue.h"
#include "workers/worker.h"
#include "workers/handler.h"

#define WH_CONNS 16

struct wh_opts {
	unsigned ring_size;           /* 0: 64 */
	uint64_t max_unsent;          /* 0: 1 MiB */
	uint64_t send_timeout_ms;     /* 0: none */
	uint64_t spin_ns;             /* 0: the worker never spins */
	bool access_log;              /* lines go to h->alog.rings[0] */
	unsigned stats_workers;       /* /stats sees this many workers (all
				       * this one); 0: 1 */
	bool defer_start;             /* wh_run starts the thread: descriptors
				       * pushed before then come in one batch */
};

struct wh {
	struct worker w;
	struct conn_table conns;
	struct queue_doorbell bell;
	struct telemetry tm;
	struct counters acc_st;   /* the acceptor's: heap_request_wrap */
	struct acceptor_counters acc;
	struct counters *reg_acceptors[1];
	struct acceptor_counters *reg_accs[1];
	uint64_t *ring_hw;
	struct counters **reg_workers;
	struct queue_req **reg_rings;
	struct runtime *rt;
	struct alog alog;
	unsigned past_deadline;
	bool started;
	int client[WH_CONNS];         /* the test's end, by slot */
	uint32_t gen[WH_CONNS];
};

/* Allocates and starts a worker (id 0, not pinned).  Aborts the test on
 * failure; free with wh_stop. */
struct wh *wh_start(const struct wh_opts *o);
void wh_run(struct wh *h);
/* REQ_STOP and join (the notes it sent stay readable). */
void wh_join(struct wh *h);
/* Destroys and frees (joins first if needed). */
void wh_free(struct wh *h);
static inline void wh_stop(struct wh *h)
{
	wh_join(h);
	wh_free(h);
}

/* A connection over a socketpair: the worker gets one end (non-blocking),
 * the test the other (blocking, in h->client[slot]).  sndbuf > 0 shrinks
 * the worker end's send buffer, rcvbuf > 0 the client's receive buffer. */
uint32_t wh_open(struct wh *h, int sndbuf, int rcvbuf);
/* After NOTE_CLOSED: the slot is free again (the client end is closed). */
void wh_release(struct wh *h, uint32_t slot);

/* A descriptor for slot, as the framer would produce it (method GET, or
 * HEAD with REQF_HEAD). */
struct http_req wh_req(const struct wh *h, uint32_t slot, enum http_route route,
		       uint64_t id, unsigned flags);
struct http_req wh_close_req(const struct wh *h, uint32_t slot);
/* The acceptor's side of the heap path (counted against h->acc_st). */
void wh_wrap_heap(struct wh *h, struct http_req *r);
/* Writes r's access-log text into the worker's text ring as the acceptor
 * does (waiting for room if it is full; NULL or "" for an absent field)
 * and sets r->log_len.  Push r next, before any other descriptor with text. */
void wh_text(struct wh *h, struct http_req *r, const char *target,
	     const char *referer, const char *ua);
/* Pushes (waiting for room if the ring is full) and wakes the worker. */
void wh_push(struct wh *h, const struct http_req *r);
void wh_push_n(struct wh *h, const struct http_req *r, unsigned n);

/* Waits (at most timeout_ms, a hang guard) for the next note. */
bool wh_note(struct wh *h, struct queue_note *out, int timeout_ms);
/* Waits for NOTE_CLOSED of slot; NOTE_RESUMEs before it are skipped. */
bool wh_wait_closed(struct wh *h, uint32_t slot, int timeout_ms);

/* Polls a worker counter until it reaches at least v (hang guard
 * timeout_ms); returns its last value. */
uint64_t wh_wait_stat(const uint64_t *field, uint64_t v, int timeout_ms);

#endif
