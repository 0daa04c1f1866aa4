/* SPDX-License-Identifier: BSD-2-Clause */
/* Worker threads and their event loops.
 *
 * Why raw epoll instead of libevent: the loop below is the whole event
 * library blast needs.  Each readiness event goes straight to
 * conn_event() with no callback table or event-object indirection;
 * sockets are registered once edge-triggered and never re-armed (libevent
 * would add and remove EV_WRITE interest around every request); one
 * epoll_wait returns up to MAX_EVENTS ready sockets per system call; and
 * epoll_pwait2 gives the open-loop scheduler nanosecond wake-ups instead
 * of libevent's timer heap rounded to milliseconds.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "tools/blast/busypoll.h"
#include "tools/blast/now.h"
#include "tools/blast/loop.h"

#define TICK_NS (10 * 1000000ull) /* housekeeping period */
#define MAX_EVENTS 256

atomic_int blast_stop;

/* Block in epoll for at most d ns: nanosecond resolution with
 * epoll_pwait2 (kernel 5.11+), milliseconds otherwise. */
static int sleep_events(struct worker *w, struct epoll_event *ev, uint64_t d)
{
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 35)
	if (w->use_pwait2) {
		struct timespec ts = {.tv_sec = (time_t)(d / 1000000000u),
				      .tv_nsec = (long)(d % 1000000000u)};
		int n = epoll_pwait2(w->epfd, ev, MAX_EVENTS, &ts, NULL);
		if (n >= 0 || errno != ENOSYS)
			return n < 0 ? 0 : n;
		w->use_pwait2 = 0; /* kernel older than 5.11 */
	}
#endif
	int n = epoll_wait(w->epfd, ev, MAX_EVENTS, (int)((d + 999999) / 1000000));
	return n < 0 ? 0 : n;
}

/* Before sleeping, poll for up to --busy-poll, yielding the CPU between
 * polls, when the adaptive rules allow it (busypoll.h).  sched_yield()
 * hands the CPU to any runnable thread, so a poll takes little from a
 * server thread that is ready to run on this CPU. */
static int busy_poll(struct worker *w, struct epoll_event *ev, uint64_t deadline, uint64_t now)
{
	uint64_t until = now + w->cfg->busy_poll_ns;
	if (until > deadline)
		until = deadline;
	int n = epoll_wait(w->epfd, ev, MAX_EVENTS, 0);
	if (n > 0) {
		bp_thread_outcome(&w->bp, BP_READY);
		return n;
	}
	while (now_ns() < until) {
		sched_yield();
		n = epoll_wait(w->epfd, ev, MAX_EVENTS, 0);
		if (n > 0) {
			bp_thread_outcome(&w->bp, BP_CAUGHT);
			return n;
		}
	}
	bp_thread_outcome(&w->bp, BP_MISSED);
	return 0;
}

/* Wait until `deadline` (absolute ns) or an event. */
static int wait_events(struct worker *w, struct epoll_event *ev, uint64_t deadline, uint64_t now)
{
	if (w->cfg->busy_poll_ns && deadline > now &&
	    atomic_load_explicit(&w->eng->poll_ok, memory_order_relaxed) &&
	    bp_thread_poll(&w->bp)) {
		int n = busy_poll(w, ev, deadline, now);
		if (n > 0)
			return n;
		now = now_ns();
	}
	return sleep_events(w, ev, deadline > now ? deadline - now : 0);
}

/* Hand this thread's finished seconds to the series aggregator.  At the
 * end (`final`) the last, partial second is handed over only if the run
 * lasted into it: a -d run of whole seconds ends exactly on a boundary,
 * and publishing that empty second printed a phantom "3s 0 req/s" line
 * and CSV row after a 2 s run. */
static void series_tick(struct worker *w, uint64_t now, int final)
{
	if (!w->iv)
		return;
	uint64_t sec = now > w->measure ? (now - w->measure) / SERIES_SEC_NS : 0;
	struct series_part p = {.h = w->iv, .inflight = w->inflight, .len_ns = SERIES_SEC_NS};
	while (w->cur_sec < sec) {
		p.req = w->iv_req;
		p.err = w->iv_err;
		series_publish(w->eng->ser, w->id, w->cur_sec, &p, 0);
		if (w->iv->total)
			hist_init(w->iv);
		w->iv_req = w->iv_err = 0;
		w->cur_sec++;
	}
	if (!final)
		return;
	uint64_t from = w->measure + w->cur_sec * SERIES_SEC_NS;
	p.req = w->iv_req;
	p.err = w->iv_err;
	p.len_ns = now > from ? now - from : 0;
	if (!p.len_ns)
		p.h = NULL;
	series_publish(w->eng->ser, w->id, w->cur_sec, &p, 1);
}

static void process_recon(struct worker *w, uint64_t now)
{
	while (w->nrecon) {
		struct conn *c = w->recon[--w->nrecon];
		c->in_recon = 0;
		if (c->state == C_WAIT)
			conn_connect(w, c, now);
	}
}

/* Every TICK_NS: stop conditions, timeouts, delayed reconnects, series.
 * Scanning all connections is O(c) a hundred times a second -- far
 * cheaper than keeping a timer per request.  Returns 1 to stop. */
static int tick(struct worker *w, uint64_t now)
{
	uint64_t timeout = w->cfg->timeout_ns;
	int open = 0;

	w->next_tick = now + TICK_NS;
	if (atomic_load_explicit(&blast_stop, memory_order_relaxed) || now >= w->end)
		return 1;
	for (unsigned i = 0; i < w->nconns; i++) {
		struct conn *c = &w->conns[i];
		open |= c->state == C_OPEN;
		if (c->state == C_OPEN && c->inflight && now >= c->sent[c->head] + timeout)
			conn_fail(w, c, ERR_TIMEOUT, 0, now);
		else if ((c->state == C_CONNECTING || c->state == C_HANDSHAKE) &&
			 now >= c->since + timeout)
			conn_fail(w, c, c->state == C_HANDSHAKE ? ERR_TLS : ERR_CONNECT, ETIMEDOUT,
				  now);
		else if (c->state == C_WAIT && !c->in_recon && now >= c->retry_at)
			conn_connect(w, c, now);
	}
	process_recon(w, now);
	series_tick(w, now, 0);
	if (open) {
		w->alive_at = now;
	} else if (w->limited && w->end == UINT64_MAX && now - w->alive_at > timeout) {
		/* -n without -d would otherwise retry a dead server forever */
		w->st.gave_up++;
		return 1;
	}
	return 0;
}

/* Open loop: give every request that is due to a connection with room,
 * one per connection in turn. */
static void issue_due(struct worker *w, uint64_t now)
{
	uint64_t due;
	while (w->fq_head && (due = sched_peek(&w->sch)) <= now && due < w->end &&
	       (!w->limited || w->remaining))
		conn_fill(w, freeq_pop(w), now, 1);
}

static void worker_loop(struct worker *w)
{
	struct epoll_event ev[MAX_EVENTS];
	for (;;) {
		uint64_t now = now_ns();
		if (w->open_loop)
			issue_due(w, now); /* first: a wake-up at `end` still sends
					      what was due before it */
		if ((now >= w->next_tick || now >= w->end) && tick(w, now))
			break;
		if (w->limited && !w->remaining && !w->inflight && !w->requeued)
			break; /* -n: every request answered or failed */
		uint64_t deadline = w->next_tick < w->end ? w->next_tick : w->end;
		if (w->open_loop && w->fq_head && (!w->limited || w->remaining)) {
			uint64_t due = sched_peek(&w->sch);
			if (due < deadline)
				deadline = due;
		}
		int n = wait_events(w, ev, deadline, now);
		for (int i = 0; i < n; i++)
			conn_event(w, ev[i].data.ptr, ev[i].events);
		if (w->nrefill)
			conn_refill_all(w);
		if (w->nrecon)
			process_recon(w, now_ns());
	}
	w->stopped_at = now_ns();
}

/* Open all connections before the clock starts, so a run with many
 * connections does not measure its own connect storm. */
static void worker_setup(struct worker *w)
{
	struct epoll_event ev[MAX_EVENTS];
	uint64_t now = now_ns(), deadline = now + w->cfg->timeout_ns;

	for (unsigned i = 0; i < w->nconns; i++)
		conn_connect(w, &w->conns[i], now);
	while (w->nconnecting && !atomic_load(&blast_stop)) {
		now = now_ns();
		if (now >= deadline)
			break;
		int n = wait_events(w, ev, now + TICK_NS < deadline ? now + TICK_NS : deadline, now);
		for (int i = 0; i < n; i++)
			conn_event(w, ev[i].data.ptr, ev[i].events);
	}
}

static void worker_start(struct worker *w)
{
	const struct blast_config *cfg = w->cfg;
	/* Open loop sleeps until exact send times; the default 50 us timer
	 * slack would make every wake-up (and so every send) that late. */
	if (w->open_loop)
		prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
	w->start = w->eng->start;
	w->measure = w->start + cfg->warmup_ns;
	w->end = cfg->duration_ns ? w->measure + cfg->duration_ns : UINT64_MAX;
	if (w->open_loop)
		sched_init(&w->sch, w->start, cfg->rate, w->nconns, cfg->connections, w->id);
	w->next_tick = 0;
	w->running = 1;
	uint64_t now = now_ns();
	w->alive_at = now;
	for (unsigned i = 0; i < w->nconns; i++)
		conn_fill(w, &w->conns[i], now, UINT_MAX);
}

static void worker_finish(struct worker *w)
{
	uint64_t stop = w->stopped_at < w->end ? w->stopped_at : w->end;
	if (w->open_loop && stop >= w->measure) {
		uint64_t b = sched_backlog(&w->sch, stop - 1); /* due before stop */
		if (w->limited && b > w->remaining)
			b = w->remaining;
		w->st.backlog = b;
	}
	for (unsigned i = 0; i < w->nconns; i++)
		conn_shutdown(w, &w->conns[i]);
	series_tick(w, stop, 1);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	worker_setup(w);
	pthread_barrier_wait(&w->eng->barrier); /* everyone connected */
	pthread_barrier_wait(&w->eng->barrier); /* main has set the start */
	worker_start(w);
	worker_loop(w);
	worker_finish(w);
	atomic_fetch_add(&w->eng->done, 1);
	return NULL;
}

static int worker_init(struct worker *w, struct engine *eng, unsigned id, unsigned nconns)
{
	const struct blast_config *cfg = eng->cfg;
	unsigned t = cfg->threads;

	w->id = id;
	w->eng = eng;
	w->cfg = cfg;
	w->tg = eng->tg;
	w->nconns = nconns;
	w->cap = cfg->pipeline;
	w->use_pwait2 = 1;
	w->open_loop = cfg->rate > 0;
	w->limited = cfg->requests > 0;
	w->remaining = cfg->requests / t + (id < cfg->requests % t);
	stats_init(&w->st);
	w->epfd = epoll_create1(EPOLL_CLOEXEC);
	w->conns = calloc(nconns, sizeof *w->conns);
	w->rings = calloc((size_t)nconns * w->cap * 2, sizeof *w->rings);
	w->ridx_rings = calloc((size_t)nconns * w->cap, sizeof *w->ridx_rings);
	if (eng->tg->tls)
		w->gather = malloc(GATHER_SIZE);
	w->next_req = request_first(eng->tg->req.n, id, t);
	w->rng = 0x9E3779B97F4A7C15ull * (id + 1) ^ now_ns();
	w->recon = calloc(nconns, sizeof *w->recon);
	w->refill = calloc(nconns, sizeof *w->refill);
	w->rbuf = malloc(RBUF_SIZE);
	if (eng->ser) {
		w->iv = malloc(sizeof *w->iv);
		if (w->iv)
			hist_init(w->iv);
	}
	if (w->epfd < 0 || !w->conns || !w->rings || !w->ridx_rings || !w->recon || !w->refill ||
	    !w->rbuf || (eng->tg->tls && !w->gather) || (eng->ser && !w->iv))
		return -1;
	for (unsigned i = 0; i < nconns; i++) {
		struct conn *c = &w->conns[i];
		c->fd = -1;
		c->state = C_NEW;
		c->w = w;
		c->intended = w->rings + (size_t)i * w->cap * 2;
		c->sent = c->intended + w->cap;
		c->ridx = w->ridx_rings + (size_t)i * w->cap;
	}
	return 0;
}

static void worker_free(struct worker *w)
{
	if (w->epfd >= 0)
		close(w->epfd);
	free(w->conns);
	free(w->rings);
	free(w->ridx_rings);
	free(w->gather);
	tls_cache_clear(&w->tls_cache);
	free(w->recon);
	free(w->refill);
	free(w->rbuf);
	free(w->iv);
}

/* Fill res from the joined workers. */
static void collect(struct engine *eng, struct run_result *res)
{
	uint64_t stop = 0;
	stats_init(&res->st);
	for (unsigned i = 0; i < eng->n; i++) {
		struct worker *w = &eng->workers[i];
		stats_merge(&res->st, &w->st);
		uint64_t s = w->stopped_at < w->end ? w->stopped_at : w->end;
		if (s > stop)
			stop = s;
	}
	uint64_t measure = eng->start + eng->cfg->warmup_ns;
	res->elapsed_ns = stop > measure ? stop - measure : 0;
	res->target_rate = eng->cfg->rate;
	res->interrupted = atomic_load(&blast_stop) != 0;
	res->merged = 1;
	snprintf(res->url, sizeof res->url, "%s", eng->tg->label);
}

/* Start the workers with SIGINT/SIGTERM blocked, so that Ctrl-C is
 * delivered to the main thread only. */
static int start_threads(struct engine *eng)
{
	sigset_t set, old;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, &old);
	for (unsigned i = 0; i < eng->n; i++) {
		int rc = pthread_create(&eng->workers[i].tid, NULL, worker_main, &eng->workers[i]);
		if (rc) {
			/* Workers already started wait at a barrier sized for
			 * all of them; there is no clean way back. */
			fprintf(stderr, "blast: cannot create thread: %s\n", strerror(rc));
			exit(1);
		}
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return 0;
}

int engine_run(const struct blast_config *cfg, const struct target *tg, struct series *ser,
	       struct run_result *res)
{
	struct engine eng = {.cfg = cfg, .tg = tg, .ser = ser, .n = cfg->threads};
	int rc = -1;

	struct bp_policy bp;
	struct cpu_sample sample;
	int adapt = cfg->busy_poll_ns && cpu_sample_read(&sample) == 0;
	atomic_init(&eng.done, 0);
	/* Without /proc/stat the machine-wide rule cannot run: the per-thread
	 * one alone decides. */
	atomic_init(&eng.poll_ok, !adapt);
	eng.workers = calloc(eng.n, sizeof *eng.workers);
	if (!eng.workers)
		goto out;
	for (unsigned i = 0; i < eng.n; i++)
		eng.workers[i].epfd = -1;
	for (unsigned i = 0; i < eng.n; i++) {
		unsigned share = cfg->connections / eng.n + (i < cfg->connections % eng.n);
		if (worker_init(&eng.workers[i], &eng, i, share) < 0) {
			fprintf(stderr, "blast: out of memory or file descriptors\n");
			goto out;
		}
	}
	pthread_barrier_init(&eng.barrier, NULL, eng.n + 1);
	start_threads(&eng);
	pthread_barrier_wait(&eng.barrier);
	eng.start = now_ns();
	if (ser)
		series_started(ser, wall_ns() + cfg->warmup_ns);
	pthread_barrier_wait(&eng.barrier);

	if (adapt)
		bp_policy_init(&bp, now_ns(), &sample);
	int allow = 0;
	while (atomic_load(&eng.done) < eng.n) {
		struct timespec ts = {0, 20 * 1000000};
		nanosleep(&ts, NULL); /* EINTR on Ctrl-C is fine: workers see it */
		if (ser)
			series_poll(ser, 0);
		if (adapt && cpu_sample_read(&sample) == 0 &&
		    bp_policy_step(&bp, now_ns(), &sample) != allow) {
			allow = !allow;
			atomic_store_explicit(&eng.poll_ok, allow, memory_order_relaxed);
		}
	}
	for (unsigned i = 0; i < eng.n; i++)
		pthread_join(eng.workers[i].tid, NULL);
	if (ser)
		series_poll(ser, 1);
	pthread_barrier_destroy(&eng.barrier);
	collect(&eng, res);
	rc = 0;
out:
	if (eng.workers)
		for (unsigned i = 0; i < eng.n; i++)
			worker_free(&eng.workers[i]);
	free(eng.workers);
	return rc;
}
