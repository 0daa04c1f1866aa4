/* A client connection, and the table of them.
 *
 * Ownership (DESIGN.md invariants 1-3): the acceptor thread owns the read
 * side (fields under "acceptor"), the connection's worker owns the write
 * side (fields under "worker").  The two halves sit on separate cache
 * lines.  `fd`, `gen` and `worker` are written by the acceptor before the
 * connection's first descriptor is enqueued and not changed until the worker
 * hands the slot back (NOTE_CLOSED), so the worker may read them; the ring's
 * release/acquire ordering publishes them.  Only the worker closes the fd.
 *
 * `inflight` and `want_resume` are the only fields both threads write:
 * inflight counts requests enqueued but not yet handed to the kernel; the
 * acceptor stops reading a connection at --max-pipeline and the worker sends
 * NOTE_RESUME when it drains below (see conn_pause_pipeline in acceptor.c). */
#ifndef METRICD_CORE_CONN_H
#define METRICD_CORE_CONN_H

#include <stdbool.h>
#include <stdint.h>

#include <netinet/in.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#include "http/framing.h"
#include "http/request.h"
#include "workers/tail.h"

enum conn_state { CONN_FREE = 0, CONN_OPEN };

struct conn {
	/* ---- acceptor ---- */
	struct event rev;
	struct http_framer fr;
	struct http_req pending;      /* framed, not yet enqueued */
	struct conn *blocked_next;    /* on its worker's ring-full list */
	void *owner;                  /* the struct acceptor */
	struct sockaddr_in6 peer;     /* for the access log (v4 or v6) */
	uint64_t last_ms;             /* last bytes read (acceptor clock) */
	uint64_t head_ms;             /* a partial request began; 0 = none */
	int fd;
	uint32_t gen;
	uint32_t slot;
	uint16_t worker;
	uint8_t state;
	bool has_pending;
	bool reading;                 /* read event is added */
	bool blocked;                 /* waiting for ring space */
	bool wait_resume;             /* waiting for NOTE_RESUME */
	bool closing;                 /* EOF/drain: close once the buffer is answered */
	bool close_sent;              /* the last descriptor is enqueued */

	/* ---- both (atomics) ---- */
	uint32_t inflight __attribute__((aligned(64)));
	uint32_t want_resume;

	/* ---- worker ---- */
	struct tail tail __attribute__((aligned(64)));  /* unsent bytes */
	uint32_t tail_resps;          /* answers wholly or partly in tail */
	int32_t out_head, out_last;   /* this batch's iovec chain */
	uint32_t out_resps;
	bool touched;                 /* in this batch's flush list */
	bool dead;                    /* write failed: discard answers */
	bool close_after_flush;
	bool want_out;                /* registered for EPOLLOUT */
} __attribute__((aligned(64)));

struct conn_table {
	struct conn *slots;
	char *bufs;                   /* n read buffers of buf_cap bytes */
	uint32_t n;
	uint32_t buf_cap;
	uint32_t *free_stack;         /* acceptor-owned */
	uint32_t nfree;
};

int conn_table_init(struct conn_table *t, uint32_t n, uint32_t buf_cap);
void conn_table_destroy(struct conn_table *t);

#endif
