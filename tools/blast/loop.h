/* SPDX-License-Identifier: BSD-2-Clause */
/* Internal to the engine: a worker thread and its connections.
 *
 * Everything a worker touches on the per-request path lives in its own
 * struct worker (counters, histograms, read buffer) so that threads never
 * share a cache line while running; results are merged after join.
 */
#ifndef BLAST_LOOP_H
#define BLAST_LOOP_H

#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

#include "tools/blast/busypoll.h"
#include "tools/blast/engine.h"
#include "tools/blast/resp.h"
#include "tools/blast/sched.h"
#include "tools/blast/tls.h"

#define RBUF_SIZE (64 * 1024) /* per-thread read buffer */
#define GATHER_SIZE (16 * 1024) /* TLS: requests gathered into one record */

enum conn_state {
	C_NEW,        /* never connected */
	C_CONNECTING, /* non-blocking connect in progress */
	C_HANDSHAKE,  /* https: TLS handshake in progress */
	C_OPEN,
	C_WAIT,       /* closed; reconnect at retry_at */
};

struct worker;

struct conn {
	int fd;
	uint8_t state;
	uint8_t in_freeq;  /* open loop: queued as having room */
	uint8_t in_recon;  /* on the reconnect-now list */
	uint8_t in_refill; /* on the refill-after-this-batch list */
	uint16_t fails;    /* consecutive connections that served nothing */
	unsigned depth;    /* max requests in flight (pipeline, or 1) */
	unsigned inflight; /* issued, response not complete */
	unsigned head;     /* ring index of the oldest in-flight request */
	unsigned unsent;   /* newest in-flight requests not fully written */
	unsigned requeue;  /* ring entries to re-send after a reconnect */
	size_t wr_off;     /* bytes of the first unsent request written */
	uint64_t since;    /* connect() time, for the connect timeout */
	uint64_t retry_at;
	uint64_t served;   /* responses on the current socket */
	uint64_t attempts; /* connect attempts, >1 means reconnects */
	uint64_t *intended; /* ring of --pipeline entries: intended send time */
	uint64_t *sent;     /* ... and actual send time */
	uint32_t *ridx;     /* ... and which request (struct request index) */
	struct tls_conn *tls; /* https only */
	struct conn *next_free;
	struct worker *w;
	struct resp_parser rp;
};

struct engine;

struct worker {
	unsigned id;
	pthread_t tid;
	struct engine *eng;
	const struct blast_config *cfg;
	const struct target *tg;
	int epfd;
	int use_pwait2;
	struct conn *conns;
	unsigned nconns;
	unsigned cap;        /* ring size = --pipeline */
	uint64_t *rings;
	uint32_t *ridx_rings;
	char *rbuf;
	char *gather;        /* https: unsent requests copied into one record */
	struct tls_cache tls_cache;

	struct bp_thread bp; /* adaptive busy polling, this thread's part */
	uint32_t next_req;   /* next request of the set, taken in turn */
	uint64_t rng;        /* --random */

	int running;         /* past the start barrier */
	int open_loop;
	int limited;         /* -n given */
	int no_keepalive;    /* server closed after its first response */
	uint64_t remaining;  /* -n: this thread's requests still to issue */
	uint64_t inflight;   /* over all connections */
	uint64_t requeued;   /* over all connections */
	unsigned nconnecting;
	struct sched sch;

	uint64_t start, measure, end, stopped_at;
	uint64_t alive_at;   /* last tick that saw an open connection */
	uint64_t next_tick;

	struct conn *fq_head, *fq_tail; /* open loop: connections with room */
	struct conn **recon;            /* reconnect-now list */
	unsigned nrecon;
	struct conn **refill;           /* answered: send after the batch */
	unsigned nrefill;

	struct hist *iv;     /* this second, for the series; NULL if off */
	uint64_t iv_req, iv_err, cur_sec;

	struct stats st;
};

struct engine {
	const struct blast_config *cfg;
	const struct target *tg;
	struct series *ser;
	pthread_barrier_t barrier;
	uint64_t start;
	atomic_uint done;
	atomic_int poll_ok;  /* written by the main thread (busypoll.h) */
	struct worker *workers;
	unsigned n;
};

/* wire.c: bytes to and from the socket.  wire_flush writes what it can
 * of the unsent requests: 0 (done, or the socket is full) or -errno.
 * wire_recv is recv(): bytes, 0 at end of stream, or -errno. */
int wire_flush(struct worker *w, struct conn *c);
ssize_t wire_recv(struct conn *c, char *buf, size_t len);

/* conn.c: the connection state machine. */
void conn_connect(struct worker *w, struct conn *c, uint64_t now);
void conn_event(struct worker *w, struct conn *c, uint32_t events);
void conn_fill(struct worker *w, struct conn *c, uint64_t now, unsigned max);
void conn_fail(struct worker *w, struct conn *c, int kind, int err, uint64_t now);
void conn_shutdown(struct worker *w, struct conn *c);
void conn_refill_all(struct worker *w);
struct conn *freeq_pop(struct worker *w);
/* Delay before reconnecting after `fails` connections in a row served
 * nothing: 0, then 1 ms doubling up to 250 ms. */
uint64_t conn_backoff_ns(unsigned fails);

#endif
