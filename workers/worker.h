/* SPDX-License-Identifier: BSD-2-Clause */
/* Worker threads.
 *
 * Each worker owns: its request ring (consumer side), its note ring (producer
 * side), its wake-up eventfd, an epoll set for that eventfd and for sockets
 * with unsent bytes, a thread-local slab, a pool of chains for unsent
 * bytes and held requests, and the write side of the connections the
 * acceptor gave it.  Nothing here is shared except through the rings and
 * the atomics in struct conn.  The thread's loop is workers/worker.c; the
 * write side, workers/outbox.c; the endpoints, workers/handler.h. */
#ifndef METRICD_WORKERS_WORKER_H
#define METRICD_WORKERS_WORKER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "core/base/counters.h"
#include "http/response.h"
#include "queue/conn.h"
#include "queue/queue.h"
#include "queue/runtime.h"
#include "queue/text.h"
#include "workers/accesslog.h"
#include "workers/slab.h"
#include "workers/spin.h"
#include "workers/telemetry.h"

#define WORKER_BATCH 64
#define WORKER_SLAB_SIZE (1024u << 10)
/* Largest /stats or /metrics body: three quarters of the slab, so it always
 * fits beside its head in an emptied slab. /metrics grows by about 1.5 KiB
 * a worker (every worker series names its shard too); at 256 workers it is
 * about 390 KiB (tests/soak/test_close_answers.py asks for it whole).  The
 * slab is mapped, not touched: a worker's resident share is what its
 * batches use. */
#define WORKER_STATS_MAX (WORKER_SLAB_SIZE / 4 * 3)
/* A batch slot for one request's access-log text (queue/text.h). */
#define WORKER_TEXT_SLOT 2048u

struct worker_cfg {
	unsigned ring_size;
	unsigned note_ring_size;
	uint64_t max_unsent;          /* bytes; above it requests are held */
	int cpu;                      /* -1: not pinned */
	bool spin;                    /* may spin when idle (core/placement.h) */
	unsigned shard;               /* the acceptor that feeds it */
	uint16_t index;               /* thread number in heap headers */
};

struct out_ent {
	struct iovec iov;
	int32_t next;
};

struct worker {
	unsigned id;
	pthread_t thread;
	struct worker_cfg cfg;
	struct queue_req rq;
	struct queue_text text;       /* consumer side; beside rq */
	struct queue_notes notes;
	struct queue_doorbell *bell;
	struct conn_table *conns;
	struct slab slab;
	int epfd;
	struct http_head_ctx head;
	bool stopping;
	bool ring_bell;

	/* the batch being answered */
	struct out_ent ents[WORKER_BATCH * 3];
	unsigned nents;
	struct conn *touched[WORKER_BATCH];
	unsigned ntouched;
	void *to_free[WORKER_BATCH];
	unsigned nfree;

	/* unsent tails and held requests */
	struct chain_pool chains;
	uint32_t ntails;              /* connections with a tail */
	uint32_t wait_head;           /* connections with a tail or held
				       * requests (UINT32_MAX: none) */
	uint32_t ready_head, ready_tail;  /* held requests that may go on */
	uint64_t now_ms;              /* CLOCK_MONOTONIC_COARSE, per loop */
	int64_t batch_real_ns;        /* CLOCK_REALTIME, read once per batch:
				       * the records' timestamp and the Date */
	uint64_t next_sweep_ms;       /* send-timeout sweep */
	uint64_t send_timeout_ms;     /* from the last snapshot read */
	const unsigned *past_deadline;    /* acceptor: shutdown timeout passed */

	uint16_t bstatus[WORKER_BATCH];   /* per request of the batch (0: not */
	uint32_t bbytes[WORKER_BATCH];    /* answered), for latency and log */
	/* and its peer, copied while the connection is ours: once it closes
	 * (NOTE_CLOSED) the acceptor may reuse the slot before the log */
	struct sockaddr_in6 bpeer[WORKER_BATCH];
	/* and its access-log text, taken from w->text when the descriptor
	 * left the ring (WORKER_BATCH slots, mapped at init) */
	char (*btext)[WORKER_TEXT_SLOT];
	bool alog_on;                 /* this batch is logged */
	uint8_t alog_fmt;             /* enum alog_format, from the snapshot */
	struct alog_ring *alog;
	time_t alog_sec;
	uint8_t alog_date_fmt;        /* the format alog_date is written in */
	char alog_date[32];           /* "[27/Nov/2026:18:06:47 +0000]" */
	const struct telemetry *tm;
	struct runtime *const *rtp;   /* RCU-protected, see queue/runtime.h */
	uint64_t spin_ns;         /* from the last snapshot read */
	struct spin_policy spin;
	struct counters cnt;       /* written by this thread only */
};

int worker_init(struct worker *w, unsigned id, const struct worker_cfg *cfg,
		struct conn_table *conns, struct queue_doorbell *bell,
		const struct telemetry *tm, struct runtime *const *rtp,
		struct alog_ring *alog, const unsigned *past_deadline);
int worker_start(struct worker *w);
void worker_join(struct worker *w);
void worker_destroy(struct worker *w);

#endif
