/* SPDX-License-Identifier: BSD-2-Clause */
/* A client connection, and the table of them.
 *
 * Ownership (docs/ARCHITECTURE.md, rules 1-3): the acceptor thread owns the read
 * side (fields under "acceptor"), the connection's worker owns the write
 * side (fields under "worker").  The two halves sit on separate cache
 * lines.  `fd`, `gen`, `worker` and `peer` are written by the acceptor
 * before the connection's first descriptor is enqueued and not changed
 * until the worker hands the slot back (NOTE_CLOSED), so the worker may read
 * them until then, never after; the ring's release/acquire ordering
 * publishes them.  Only the worker closes the fd.
 *
 * `inflight`, `want_resume` and `gone` are the only fields both threads
 * write: inflight counts requests enqueued but not yet handed to the kernel
 * (or dropped); the acceptor stops reading a connection at --max-pipeline
 * and the worker sends NOTE_RESUME when it drains below (see
 * acc__pause_pipeline in core/connection.c).  The acceptor sets `gone` when the
 * peer reset the connection, and the worker then drops the connection's
 * queued requests without computing them. */
#ifndef METRICD_QUEUE_CONN_H
#define METRICD_QUEUE_CONN_H

#include <stdbool.h>
#include <stdint.h>

#include <netinet/in.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#include "http/framing.h"
#include "http/request.h"
#include "core/base/chain.h"

enum conn_state { CONN_FREE = 0, CONN_OPEN };

struct conn {
	/* ---- acceptor ---- */
	struct event rev;
	struct http_framer fr;
	struct http_req pending;      /* framed, not yet enqueued */
	struct conn *blocked_next;    /* on its worker's ring-full list */
	struct conn *frame_next;      /* on the acceptor's ready list */
	void *owner;                  /* the struct acceptor */
	struct sockaddr_in6 peer;     /* for the access log (v4 or v6) */
	uint64_t last_ms;             /* last bytes read (acceptor clock) */
	uint64_t head_ms;             /* a partial request began; 0 = none */
	uint32_t buf_high;            /* most bytes its read buffer held */
	int fd;
	uint32_t gen;
	uint32_t slot;
	uint16_t worker;
	uint8_t state;
	bool has_pending;
	bool pending_text;            /* pending came from the framer: fr.log
				       * holds its access-log fields */
	bool reading;                 /* read event is added */
	bool blocked;                 /* waiting for ring space */
	bool wait_resume;             /* waiting for NOTE_RESUME */
	bool closing;                 /* EOF/drain: close once the buffer is answered */
	bool close_sent;              /* the last descriptor is enqueued */
	bool frame_ready;             /* used up its turn: on the ready list */
	bool dispatched;              /* its worker got a descriptor */

	/* ---- both (atomics) ---- */
	uint32_t inflight __attribute__((aligned(64)));
	uint32_t want_resume;
	uint32_t gone;

	/* ---- worker ---- */
	struct chain tail __attribute__((aligned(64)));  /* unsent bytes */
	struct chain held;             /* descriptors put off: over max-unsent */
	uint64_t out_bytes;           /* queued in this batch, not yet written */
	uint64_t progress_ms;         /* the tail last shrank (send timeout) */
	uint32_t tail_resps;          /* answers wholly or partly in tail */
	int32_t out_head, out_last;   /* this batch's iovec chain */
	uint32_t out_resps;
	uint32_t wait_prev, wait_next;   /* the worker's list of connections
					  * with a tail or held requests */
	uint32_t ready_next;          /* the worker's list of connections
				       * whose held requests may go on */
	bool waiting;                 /* on the wait list */
	bool ready;                   /* on the ready list */
	bool touched;                 /* in this batch's flush list */
	bool dead;                    /* write failed: discard answers */
	bool shut;                    /* answered its last (shutdown): drop the rest */
	bool close_after_flush;
	bool want_out;                /* registered for EPOLLOUT */
} __attribute__((aligned(64)));

/* Slots and read buffers are reserved for max-conns but committed only as
 * connections touch them: slots are handed out from a high-water mark and
 * recycled through a stack, so --max-conns costs address space, not memory. */
struct conn_table {
	struct conn *slots;
	char *bufs;                   /* n read buffers of buf_cap bytes */
	uint32_t n;
	uint32_t buf_cap;
	uint32_t *free_stack;         /* acceptor-owned: released slots */
	uint32_t nfree;
	uint32_t fresh;               /* slots from here on were never used */
};

int conn_table_init(struct conn_table *t, uint32_t n, uint32_t buf_cap);
void conn_table_destroy(struct conn_table *t);
/* A free slot index, or UINT32_MAX when all n are open. */
uint32_t conn_table_get(struct conn_table *t);
/* Returns a slot; `used` bytes of its read buffer were touched, and pages
 * past the first go back to the system (a flood of pipelined requests
 * leaves no memory behind once its connections are gone). */
void conn_table_put(struct conn_table *t, uint32_t slot, uint32_t used);

#endif
