/* SPDX-License-Identifier: BSD-2-Clause */
/* Worker thread: drain the ring in batches, answer, flush once per
 * connection per batch.
 *
 * Threads: the worker is the only consumer of w->rq and the only producer of
 * w->notes.  It touches only the "worker" half of its connections, plus
 * their fd/gen (immutable while open, published by the ring) and the shared
 * atomics.  It closes a connection's fd only on REQ_CLOSE or a REQF_CLOSE
 * answer - which the acceptor enqueues last for that connection - and only
 * after everything before it was flushed, then hands the slot back with
 * NOTE_CLOSED.  So no descriptor ever refers to a closed fd
 * (docs/ARCHITECTURE.md, rule 3).
 *
 * Unsent bytes (a partial write) are copied into blocks from the worker's
 * chain pool (core/base/chain.h) and flushed on EPOLLOUT
 * (workers/outbox.c); later answers for that connection are appended
 * behind them, so order holds.  Memory per
 * connection is bounded: once its unsent bytes (parked, or queued in the
 * batch) reach --max-unsent-bytes, its next descriptors are held, in
 * order and uncomputed, in a chain of the same blocks, and released as the
 * client reads.  The acceptor stops reading the connection at
 * --max-pipeline requests in flight (held ones count), so at most that many
 * are held.  A tail that makes no progress for --send-timeout closes the
 * connection.
 *
 * Access-log text: the worker is the only consumer of w->text
 * (queue/text.h).  It takes one record per descriptor that has one
 * (log_len), in ring order, as soon as it pops the batch and before any
 * descriptor is answered, held or dropped (take_text), into the batch's
 * slot of that descriptor; a held descriptor carries its record into the
 * held chain and gets it back with it (workers/outbox.c); a dropped one's
 * is not used.  So the ring's next record always belongs to the ring's
 * next descriptor that has text.
 *
 * Requests of a connection whose peer is gone (a write failed, or the
 * acceptor saw a reset) are dropped without being computed.  Past the
 * shutdown timeout each connection's next request is answered 503 with
 * Connection: close and the rest are dropped, so a deep queue of heavy
 * requests cannot hold the process past --shutdown-timeout. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <urcu/urcu-qsbr.h>

#include "core/base/clock.h"
#include "core/base/log.h"
#include "core/base/mem.h"
#include "core/base/sbuf.h"
#include "core/base/tsan.h"
#include "workers/metric.h"
#include "workers/outbox.h"
#include "workers/spin.h"
#include "workers/worker.h"

#define EP_WAKE UINT64_MAX
#define NONE UINT32_MAX
/* How often a worker with unsent bytes checks --send-timeout. */
#define SWEEP_MS 250

static const char continue_100[] = "HTTP/1.1 100 Continue\r\n\r\n";

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

_Static_assert(ROUTE__COUNT <= COUNTERS_ROUTES, "counters hold every route");
_Static_assert(QUEUE_TEXT_MAX <= WORKER_TEXT_SLOT, "a batch slot holds any record");

static struct conn *slot(struct worker *w, uint32_t i)
{
	return &w->conns->slots[i];
}

/* Answers r, or drops it when its connection's peer turned out to be gone
 * (a heavy request first pushes out what its connection has queued).
 * Returns the status, 0 when dropped.  Past the shutdown timeout the
 * connection's next request gets 503 and Connection: close and the rest
 * are dropped (the process is about to exit, which closes the socket). */
static unsigned serve_http(struct worker *w, struct conn *c,
			   const struct http_req *r, size_t *body_len)
{
	if (ck_pr_load_uint(w->past_deadline)) {
		if (r->heap)
			mem_free(&w->cnt, r->heap);
		c->shut = true;
		CNT_ADD(w->cnt.w.shutdown_refused, 1);
		return worker__answer(w, c, r, HERR_SHUTDOWN, r->flags | REQF_CLOSE,
				      body_len);
	}
	if ((r->flags & REQF_HEAVY) && c->touched && c->out_head >= 0) {
		worker__flush_conn(w, c);
		if (c->dead) {
			worker__drop(w, c, r);
			return 0;
		}
	}
	return worker__answer(w, c, r, HERR_NONE, r->flags, body_len);
}

/* One descriptor.  released: it comes off the held chain (in order), so
 * it is not held again. */
static void serve(struct worker *w, const struct http_req *r, unsigned i,
		  bool released)
{
	struct conn *c = &w->conns->slots[r->slot];

	w->bstatus[i] = 0;
	if (r->kind == REQ_STOP) {
		w->stopping = true;
		return;
	}
	if (c->gen != r->gen || c->state != CONN_OPEN) {
		/* A broken invariant: a descriptor outlived its connection. */
		log_error("worker %u: stale descriptor slot %u gen %u (now %u)",
			  w->id, r->slot, r->gen, c->gen);
		abort();
	}
	if (r->kind != REQ_CLOSE &&
	    (c->dead || c->shut || ck_pr_load_uint(&c->gone))) {
		worker__drop(w, c, r);
		if (c->close_after_flush)
			worker__touch(w, c);  /* the flush closes it */
		return;
	}
	if (!released && (!chain_empty(&c->held) || worker__over_limit(w, c))) {
		worker__hold(w, c, r, w->btext[i]);
		return;
	}
	switch (r->kind) {
	case REQ_HTTP: {
		struct route_counters *rc = &w->cnt.route[r->route];
		size_t len;
		unsigned status = serve_http(w, c, r, &len);

		if (!status) {
			if (c->close_after_flush)
				worker__touch(w, c);
			break;
		}
		if (r->flags & REQF_CLOSE)
			c->close_after_flush = true;
		CNT_ADD(rc->requests, 1);
		CNT_ADD(rc->status[status_index(status)], 1);
		w->bstatus[i] = (uint16_t)status;
		w->bbytes[i] = (uint32_t)len;
		if (w->alog_on)
			w->bpeer[i] = c->peer;   /* the slot may be reused after the flush */
		break;
	}
	case REQ_CONTINUE:
		/* An interim answer: it ends no request. */
		if (!c->shut && !ck_pr_load_uint(w->past_deadline))
			worker__out_add(w, c, (char *)continue_100,
					sizeof(continue_100) - 1, 0);
		break;
	case REQ_CLOSE:
		worker__touch(w, c);
		c->close_after_flush = true;
		break;
	}
}

/* One access-log line per answered request of the batch. */
static void access_log_batch(struct worker *w, const struct http_req *batch,
			     unsigned n, uint64_t done)
{
	time_t sec = (time_t)(w->batch_real_ns / 1000000000);

	if (sec != w->alog_sec || w->alog_fmt != w->alog_date_fmt) {
		alog_date(w->alog_date, sec, (enum alog_format)w->alog_fmt);
		w->alog_sec = sec;
		w->alog_date_fmt = w->alog_fmt;
	}
	for (unsigned i = 0; i < n; i++) {
		if (batch[i].kind != REQ_HTTP || !w->bstatus[i])
			continue;
		struct alog_entry e = {
			.peer = &w->bpeer[i], .req = &batch[i],
			.text = batch[i].log_len ? w->btext[i] : NULL,
			.text_len = batch[i].log_len, .status = w->bstatus[i],
			.body_bytes = w->bbytes[i],
			.latency_ns = done - batch[i].t_parsed_ns,
		};

		alog_request(w->alog, (enum alog_format)w->alog_fmt, w->alog_date, &e);
	}
}

/* Reads the runtime snapshot for the descriptors about to be served (valid
 * until the worker's next quiescent state) and the clock for them: one
 * CLOCK_REALTIME read gives the records' timestamp, the Date header and
 * the access log's second. */
static const struct runtime *batch_begin(struct worker *w)
{
	const struct runtime *rt = rcu_dereference(*w->rtp);

	TSAN_ACQUIRE(w->rtp);            /* the snapshot's contents */
	w->head.server = rt->server;
	w->head.server_len = rt->server_len;
	w->spin_ns = rt->spin_ns;
	w->send_timeout_ms = rt->send_timeout_ms;
	w->alog_on = rt->access_log;
	w->alog_fmt = (uint8_t)rt->access_log_format;
	w->batch_real_ns = metric_now_ns();
	http_head_set_date(&w->head, (time_t)(w->batch_real_ns / 1000000000));
	return rt;
}

/* Flushes what batch[0..n) produced, then records latency and the access
 * log for the requests that were answered. */
static void batch_end(struct worker *w, const struct runtime *rt,
		      const struct http_req *batch, unsigned n)
{
	worker__flush_batch(w);
	/* One clock read per batch: every answer in it reached the kernel (or
	 * a tail) by now. */
	uint64_t done = clock_mono_ns();
	for (unsigned i = 0; i < n; i++)
		if (batch[i].kind == REQ_HTTP && w->bstatus[i])
			lat_record(&w->cnt.route[batch[i].route],
					     done - batch[i].t_parsed_ns);
	if (rt->access_log)
		access_log_batch(w, batch, n, done);
	CNT_ADD(w->cnt.w.batches, 1);
	CNT_SET(w->cnt.w.slab_high_water, w->slab.high_water);
	CNT_SET(w->cnt.w.slab_resets, w->slab.resets);
	CNT_SET(w->cnt.w.slab_overflows, w->slab.overflows);
	CNT_SET(w->cnt.w.tail_blocks_in_use, w->chains.in_use);
	CNT_SET(w->cnt.w.tail_blocks_unmapped, w->chains.unmapped);
	CNT_SET(w->cnt.w.conns_with_tail, w->ntails);
}

/* The access-log text of the descriptors just popped, one record per
 * descriptor that has one, in ring order (queue/text.h): taken now, before
 * any is answered, held or dropped, so the next batch finds the ring at
 * its own first record. */
static void take_text(struct worker *w, const struct http_req *batch, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (batch[i].log_len)
			queue_text_take(&w->text, w->btext[i], batch[i].log_len);
}

static void process(struct worker *w, const struct http_req *batch, unsigned n)
{
	const struct runtime *rt = batch_begin(w);

	take_text(w, batch, n);

	for (unsigned i = 0; i < n; i++)
		serve(w, &batch[i], i, false);
	batch_end(w, rt, batch, n);
}

/* Serves held descriptors of connections whose unsent bytes fell below
 * the limit, in order, as batches of their own: at most WORKER_BATCH per
 * call, round-robin over the ready connections, so requests in the ring
 * are never starved by held ones. */
static void release_held(struct worker *w)
{
	struct http_req batch[WORKER_BATCH];
	unsigned budget = WORKER_BATCH;

	while (budget && w->ready_head != NONE) {
		struct conn *c = slot(w, w->ready_head);
		unsigned n = 0;

		w->ready_head = c->ready_next;
		if (w->ready_head == NONE)
			w->ready_tail = NONE;
		c->ready = false;
		const struct runtime *rt = batch_begin(w);

		while (n < budget && !worker__over_limit(w, c) &&
		       worker__unhold(w, c, &batch[n], w->btext[n])) {
			serve(w, &batch[n], n, true);
			n++;
		}
		budget -= n;
		worker__wait_update(w, c);
		if (n)
			batch_end(w, rt, batch, n);   /* may ready c again */
	}
}

/* --send-timeout: a connection whose unsent bytes made no progress for
 * that long is closed (a client that pipelines and never reads). */
static void sweep_sends(struct worker *w)
{
	uint32_t next;

	w->next_sweep_ms = w->now_ms + SWEEP_MS;
	if (!w->send_timeout_ms)
		return;
	for (uint32_t i = w->wait_head; i != NONE; i = next) {
		struct conn *c = slot(w, i);

		next = c->wait_next;
		if (chain_empty(&c->tail) ||
		    w->now_ms - c->progress_ms < w->send_timeout_ms)
			continue;
		CNT_ADD(w->cnt.w.send_timeouts, 1);
		log_debug("worker %u: slot %u: send timeout, %llu bytes unsent",
			  w->id, c->slot, (unsigned long long)c->tail.bytes);
		worker__kill(w, c);
	}
}

/* Handles readiness: tails that can be written, and the wake-up fd. */
static void poll_events(struct worker *w, int timeout_ms)
{
	struct epoll_event evs[64];
	int n = epoll_wait(w->epfd, evs, 64, timeout_ms);
	bool woke = false;

	w->now_ms = clock_coarse_ms();
	for (int i = 0; i < n; i++) {
		if (evs[i].data.u64 == EP_WAKE) {
			woke = true;
			continue;
		}
		struct conn *c = slot(w, (uint32_t)evs[i].data.u64);

		if (!chain_empty(&c->tail))
			worker__tail_flush(w, c);
	}
	if (timeout_ms != 0) {
		queue_req_woke(&w->rq, woke);
		CNT_ADD(w->cnt.w.wakeups, 1);
	} else if (woke) {
		queue_req_woke(&w->rq, true);
	}
}

/* Stopping: connections still waiting on their client are closed. */
static void close_waiting(struct worker *w)
{
	while (w->wait_head != NONE)
		worker__close(w, slot(w, w->wait_head));
}

static void ring_bell(struct worker *w)
{
	if (w->ring_bell) {
		w->ring_bell = false;
		queue_doorbell_ring(w->bell);
	}
}

/* Polls the ring for at most ns (the clock is read once per 32 polls);
 * true when work came. */
static bool spin_wait(struct worker *w, uint64_t ns)
{
	uint64_t until = clock_mono_ns() + ns;

	for (unsigned i = 1;; i++) {
		if (queue_req_depth(&w->rq))
			return true;
		cpu_relax();
		if (!(i & 31) && clock_mono_ns() >= until)
			return false;
	}
}

/* Sleeps until the acceptor rings.  With nothing parked the eventfd alone
 * is waited for, one read(2) that also drains it (queue/queue.h); clients
 * that owe reads need the epoll set (EPOLLOUT) and the send-timeout sweep. */
static void sleep_now(struct worker *w)
{
	if (w->wait_head != NONE) {
		poll_events(w, SWEEP_MS);
		return;
	}
	queue_req_sleep(&w->rq);
	w->now_ms = clock_coarse_ms();
	CNT_ADD(w->cnt.w.wakeups, 1);
}

/* Nothing to do: spin while spinning pays (workers/spin.h) and only where
 * placement allowed it (alone on its CPU), then sleep, RCU-offline so a
 * sleeping worker never delays a reload. */
static void idle(struct worker *w)
{
	if (w->cfg.spin && w->spin_ns && spin_begin(&w->spin)) {
		bool caught = spin_wait(w, w->spin_ns);

		spin_end(&w->spin, caught);
		if (caught) {
			CNT_ADD(w->cnt.w.spins_caught, 1);
			return;
		}
		CNT_ADD(w->cnt.w.spins_slept, 1);
	}
	if (!queue_req_prepare_sleep(&w->rq))
		return;
	CNT_ADD(w->cnt.w.sleeps, 1);
	TSAN_RELEASE(w->rtp);
	urcu_qsbr_thread_offline();
	sleep_now(w);
	urcu_qsbr_thread_online();
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct http_req batch[WORKER_BATCH];

	pthread_setname_np(pthread_self(), w->cnt.name);
	slab_prefault(&w->slab);
	urcu_qsbr_register_thread();
	TSAN_ACQUIRE(w->rtp);
	w->spin_ns = rcu_dereference(*w->rtp)->spin_ns;
	w->send_timeout_ms = rcu_dereference(*w->rtp)->send_timeout_ms;
	TSAN_RELEASE(w->rtp);
	urcu_qsbr_quiescent_state();
	while (!w->stopping) {
		unsigned n = queue_req_pop_batch(&w->rq, batch, WORKER_BATCH);

		w->now_ms = clock_coarse_ms();
		if (n) {
			if (queue_req_take_producer_wait(&w->rq))
				w->ring_bell = true;
			process(w, batch, n);
		}
		if (w->wait_head != NONE) {
			/* Clients that owe reads: what they took, what may
			 * follow it, and who has stopped reading for too long. */
			poll_events(w, 0);
			release_held(w);
			if (w->now_ms >= w->next_sweep_ms)
				sweep_sends(w);
		}
		if (n || w->wait_head != NONE) {
			TSAN_RELEASE(w->rtp);    /* done with the snapshot */
			urcu_qsbr_quiescent_state();
		}
		ring_bell(w);
		if (!n && w->ready_head == NONE)
			idle(w);
	}
	close_waiting(w);
	ring_bell(w);
	TSAN_RELEASE(w->rtp);
	urcu_qsbr_unregister_thread();
	return NULL;
}

int worker_init(struct worker *w, unsigned id, const struct worker_cfg *cfg,
		struct conn_table *conns, struct queue_doorbell *bell,
		const struct telemetry *tm, struct runtime *const *rtp,
		struct alog_ring *alog, const unsigned *past_deadline)
{
	char name[16];

	int rc;
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = EP_WAKE };

	memset(w, 0, sizeof(*w));
	w->id = id;
	w->cfg = *cfg;
	w->conns = conns;
	w->bell = bell;
	w->tm = tm;
	w->rtp = rtp;
	w->alog = alog;
	w->past_deadline = past_deadline;
	w->epfd = -1;
	w->wait_head = w->ready_head = w->ready_tail = NONE;
	snprintf(name, sizeof(name), "metricd-w%u", id);
	/* Heap headers name threads by index (the acceptors come first). */
	counters_init(&w->cnt, name, cfg->cpu, cfg->index);
	w->cnt.shard = cfg->shard;
	w->cnt.spin = cfg->spin;
	spin_init(&w->spin);
	chain_pool_init(&w->chains);
	if ((rc = queue_req_init(&w->rq, cfg->ring_size)))
		goto Error;
	if ((rc = queue_text_init(&w->text)))
		goto Error;
	/* Touched only while the access log is on. */
	w->btext = mmap(NULL, WORKER_BATCH * WORKER_TEXT_SLOT, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (w->btext == MAP_FAILED) {
		w->btext = NULL;
		rc = -ENOMEM;
		goto Error;
	}
	if ((rc = queue_notes_init(&w->notes, cfg->note_ring_size)))
		goto Error;
	if ((rc = slab_init(&w->slab, WORKER_SLAB_SIZE)))
		goto Error;
	CNT_SET(w->cnt.w.slab_size, w->slab.size);
	w->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (w->epfd < 0 || epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->rq.wake_fd, &ev)) {
		rc = -errno;
		goto Error;
	}
	return 0;
Error:
	worker_destroy(w);
	return rc;
}

int worker_start(struct worker *w)
{
	pthread_attr_t attr;
	int rc;

	pthread_attr_init(&attr);
	if (w->cfg.cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(w->cfg.cpu, &set);
		/* Returns an error number; it does not set errno. */
		rc = pthread_attr_setaffinity_np(&attr, sizeof(set), &set);
		if (rc) {
			pthread_attr_destroy(&attr);
			return -rc;
		}
	}
	rc = pthread_create(&w->thread, &attr, worker_main, w);
	pthread_attr_destroy(&attr);
	return -rc;
}

void worker_join(struct worker *w)
{
	pthread_join(w->thread, NULL);
}

void worker_destroy(struct worker *w)
{
	if (w->epfd >= 0)
		close(w->epfd);
	w->epfd = -1;
	queue_req_destroy(&w->rq);
	queue_text_destroy(&w->text);
	if (w->btext)
		munmap(w->btext, WORKER_BATCH * WORKER_TEXT_SLOT);
	w->btext = NULL;
	queue_notes_destroy(&w->notes);
	slab_destroy(&w->slab);
	chain_pool_destroy(&w->chains);
}
