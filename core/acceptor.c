/* Acceptor: accept4, recv into each connection's fixed buffer, frame with
 * http-parser, enqueue descriptors by value into the connection's worker's
 * ring.  One thread, one event_base (EVENT_BASE_FLAG_NOLOCK).
 *
 * Threads: this thread is the only producer of every worker's request ring
 * and the only consumer of every note ring.  It owns the "acceptor" half of
 * each connection; it never writes to or closes a connection's socket after
 * the connection is open - the worker does (DESIGN.md invariants 2-3).
 *
 * Per connection, conn_advance() is the whole state machine: dispatch the
 * pending descriptor, frame the next one, repeat; stop when the buffer has
 * no complete request (then read more), when the ring is full (wait for the
 * worker's doorbell), or when --max-pipeline requests are in flight (wait
 * for NOTE_RESUME).  A paused connection is not read, so a client that
 * sends faster than it is answered is slowed by TCP, never dropped. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/acceptor.h"
#include "core/base/clock.h"
#include "core/base/log.h"
#include "core/base/tsan.h"
#include "core/notify.h"
#include "workers/handler.h"

#include <urcu/urcu-qsbr.h>

/* Connections accepted per loop turn: a connect/close flood gets a bounded
 * share of each turn, the connections already open get the rest. */
#define ACCEPT_BURST 16
#define ACCEPT_RETRY_MS 100
/* Requests one connection may frame per loop turn before the others get
 * theirs; the rest of its buffer waits for the next turn. */
#define FRAME_BUDGET 64

static void on_read(evutil_socket_t fd, short what, void *arg);

/* ---- listening ------------------------------------------------------------ */

int acceptor_listen(struct acceptor *a, struct cfg *cfg)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
	struct addrinfo *res = NULL;
	char port[8];
	int one = 1, rc;

	memset(a, 0, sizeof(*a));
	reclaim_init(&a->reclaim);
	a->cfg = cfg;
	a->lfd = -1;
	/* Socket activation: systemd bound the socket (metricd.socket). */
	a->lfd = notify_listen_fd();
	if (a->lfd >= 0) {
		log_info("using the listening socket passed by the service manager");
		return 0;
	}
	snprintf(port, sizeof(port), "%u", cfg->listen.port);
	rc = getaddrinfo(cfg->listen.host, port, &hints, &res);
	if (rc) {
		log_error("cannot resolve listen address '%s': %s", cfg->listen.host,
			  gai_strerror(rc));
		return -EINVAL;
	}
	a->lfd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (a->lfd < 0)
		goto Error;
	setsockopt(a->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(a->lfd, res->ai_addr, res->ai_addrlen) ||
	    listen(a->lfd, SOMAXCONN))
		goto Error;
	freeaddrinfo(res);
	return 0;
Error:
	rc = -errno;
	log_error("cannot listen on %s:%u: %s", cfg->listen.host, cfg->listen.port,
		  strerror(errno));
	freeaddrinfo(res);
	if (a->lfd >= 0)
		close(a->lfd);
	a->lfd = -1;
	return rc;
}

int acceptor_local_addr(const struct acceptor *a, char *out, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char host[INET6_ADDRSTRLEN];

	if (getsockname(a->lfd, (struct sockaddr *)&ss, &sl))
		return -errno;
	if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
		snprintf(out, len, "[%s]:%u", host, ntohs(s6->sin6_port));
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
		snprintf(out, len, "%s:%u", host, ntohs(s4->sin_port));
	}
	return 0;
}

/* ---- per-connection state machine ---------------------------------------- */

static void reading(struct acceptor *a, struct conn *c, bool on)
{
	if (c->reading == on)
		return;
	if (on)
		event_add(&c->rev, NULL);
	else
		event_del(&c->rev);
	c->reading = on;
}

static void block_on_ring(struct acceptor *a, struct conn *c)
{
	c->blocked = true;
	c->blocked_next = NULL;
	if (a->blocked_tail[c->worker])
		a->blocked_tail[c->worker]->blocked_next = c;
	else
		a->blocked_head[c->worker] = c;
	a->blocked_tail[c->worker] = c;
	CNT_ADD(a->ctr.ring_full, 1);
}

/* At the in-flight limit.  Returns true if the worker drained meanwhile and
 * we may go on; false if NOTE_RESUME will come.  Exactly one side wins the
 * swap of want_resume, so the connection is resumed exactly once. */
static bool pause_pipeline(struct acceptor *a, struct conn *c)
{
	ck_pr_store_uint(&c->want_resume, 1);
	ck_pr_fence_memory();
	if (ck_pr_load_uint(&c->inflight) < a->cfg->max_pipeline &&
	    ck_pr_fas_uint(&c->want_resume, 0) == 1)
		return true;
	c->wait_resume = true;
	CNT_ADD(a->ctr.pipeline_pauses, 1);
	return false;
}

static bool dispatch(struct acceptor *a, struct conn *c)
{
	struct queue_req *q = &a->workers[c->worker].rq;
	bool is_req = c->pending.kind == REQ_HTTP;
	bool last = c->pending.kind == REQ_CLOSE ||
		    (is_req && (c->pending.flags & REQF_CLOSE));

	if (is_req && ck_pr_load_uint(&c->inflight) >= a->cfg->max_pipeline &&
	    !pause_pipeline(a, c))
		return false;
	/* The last descriptor lets the worker close the fd: stop watching it
	 * first, so the event loop never touches a closed (or reused) fd. */
	if (last)
		reading(a, c, false);
	/* Count before the push: the worker may answer before we return. */
	if (is_req)
		ck_pr_inc_uint(&c->inflight);
	if (!queue_req_push(q, &c->pending) && !queue_req_push_or_wait(q, &c->pending)) {
		if (is_req)
			ck_pr_dec_uint(&c->inflight);
		block_on_ring(a, c);
		return false;
	}
	a->wake_pending[c->worker] = true;
	c->dispatched = true;
	unsigned depth = queue_req_depth(q);
	if (depth > a->ring_high_water[c->worker])
		CNT_SET(a->ring_high_water[c->worker], depth);
	c->has_pending = false;
	if (last)
		c->close_sent = true;
	return true;
}

static void ready_push(struct acceptor *a, struct conn *c);
static void conn_release(struct acceptor *a, struct conn *c);

/* A connection that closes before it sent a whole request (a port scan, a
 * TCP health check, a connect/close flood) never handed its worker a
 * descriptor, so nothing refers to its fd and the worker holds no state
 * for it: the acceptor closes it itself, sparing a trip through the ring,
 * a wake-up and a note. */
static void conn_close_unused(struct acceptor *a, struct conn *c)
{
	reading(a, c, false);
	close(c->fd);
	CNT_ADD(a->ctr.closed_unused, 1);
	conn_release(a, c);
}

/* Frames and dispatches what c's buffer holds, at most FRAME_BUDGET
 * requests in this turn (then c waits on the ready list for the next). */
static void conn_advance(struct acceptor *a, struct conn *c)
{
	uint64_t examined = c->fr.examined;
	unsigned budget = FRAME_BUDGET;

	while (!c->close_sent) {
		if (c->has_pending) {
			if (!dispatch(a, c)) {
				reading(a, c, false);
				break;
			}
			continue;
		}
		if (budget == 0) {
			/* Its turn is used up; the others go first. */
			reading(a, c, false);
			ready_push(a, c);
			CNT_ADD(a->ctr.read_budget_yields, 1);
			break;
		}
		enum http_frame_rc rc = http_framer_next(&c->fr, &c->pending);

		if (rc == HTTP_FRAME_NEED_MORE) {
			if (!c->closing) {
				/* Start the --header-timeout clock on a partial
				 * request; the sweep checks it. */
				if (!http_framer_has_partial(&c->fr))
					c->head_ms = 0;
				else if (!c->head_ms)
					c->head_ms = a->now_ms;
				reading(a, c, true);
				break;
			}
			if (!c->dispatched) {
				/* No worker ever saw it: close it here. */
				conn_close_unused(a, c);
				return;
			}
			memset(&c->pending, 0, sizeof(c->pending));
			c->pending.kind = REQ_CLOSE;
		} else if (rc != HTTP_FRAME_CONTINUE) {
			budget--;
			c->head_ms = 0;                 /* a whole request came */
			/* The route's acceptor step (http/routes.def): the
			 * heap path's request object.  If it fails, the
			 * handler answers 503. */
			if (rc == HTTP_FRAME_REQ && !c->pending.err &&
			    endpoints[c->pending.route].step)
				endpoints[c->pending.route].step(&a->cnt, &c->pending);
		}
		c->pending.slot = c->slot;
		c->pending.gen = c->gen;
		c->has_pending = true;
	}
	if (c->close_sent)
		reading(a, c, false);
	CNT_ADD(a->ctr.frame_bytes_examined, c->fr.examined - examined);
}

/* Connections that used up their turn with requests still buffered. */
static void ready_push(struct acceptor *a, struct conn *c)
{
	if (c->frame_ready)
		return;
	c->frame_ready = true;
	c->frame_next = NULL;
	if (a->ready_tail)
		a->ready_tail->frame_next = c;
	else
		a->ready_head = c;
	a->ready_tail = c;
}

/* Once per loop turn: each connection on the ready list frames its next
 * share (those that run out again go to the back for the next turn). */
static void run_ready(struct acceptor *a)
{
	struct conn *c = a->ready_head;

	a->ready_head = a->ready_tail = NULL;
	while (c) {
		struct conn *next = c->frame_next;

		c->frame_ready = false;
		if (c->state == CONN_OPEN && !c->close_sent && !c->blocked &&
		    !c->wait_resume)
			conn_advance(a, c);
		c = next;
	}
}

static void conn_open(struct acceptor *a, int fd, uint32_t slot,
		      const struct sockaddr_in6 *peer)
{
	struct conn_table *t = &a->conns;
	struct conn *c = &t->slots[slot];
	uint32_t gen = c->gen + 1;

	/* The slot is free: the worker handed it back, nobody else looks. */
	memset(c, 0, sizeof(*c));
	c->slot = slot;
	c->gen = gen;
	c->fd = fd;
	c->peer = *peer;
	c->worker = (uint16_t)a->next_worker;
	a->next_worker = (a->next_worker + 1) % a->nworkers;
	c->state = CONN_OPEN;
	c->owner = a;
	c->out_head = c->out_last = -1;
	c->wait_prev = c->wait_next = c->ready_next = UINT32_MAX;
	c->last_ms = a->now_ms;
	if (slot >= a->slot_hw)
		a->slot_hw = slot + 1;
	http_framer_init(&c->fr, t->bufs + (size_t)slot * t->buf_cap, t->buf_cap,
			 a->cfg->max_header_bytes);
	c->fr.max_body = a->cfg->max_body_bytes;
	event_assign(&c->rev, a->base, fd, EV_READ | EV_PERSIST, on_read, c);
	a->live++;
	CNT_SET(a->ctr.open, a->live);
	reading(a, c, true);
}

static void conn_release(struct acceptor *a, struct conn *c)
{
	if (c->frame_ready) {
		/* Rare (a turn's budget, then a close): unlink it. */
		struct conn **pp = &a->ready_head, *prev = NULL;

		while (*pp != c) {
			prev = *pp;
			pp = &(*pp)->frame_next;
		}
		*pp = c->frame_next;
		if (a->ready_tail == c)
			a->ready_tail = prev;
		c->frame_ready = false;
	}
	c->state = CONN_FREE;
	c->fd = -1;
	conn_table_put(&a->conns, c->slot, c->buf_high);
	a->live--;
	CNT_SET(a->ctr.open, a->live);
}

static struct acceptor *acceptor_of(struct conn *c);

static void on_read(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	struct acceptor *a = acceptor_of(c);
	size_t avail;
	char *p = http_framer_space(&c->fr, &avail);
	ssize_t n = avail ? recv(fd, p, avail, 0) : 0;

	if (n > 0) {
		http_framer_commit(&c->fr, (size_t)n);
		if (c->fr.len > c->buf_high)
			c->buf_high = c->fr.len;
		c->last_ms = a->now_ms;
		CNT_ADD(a->ctr.bytes_read, (uint64_t)n);
	} else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
		return;
	} else if (n < 0) {
		/* Reset: nobody will read answers.  Frame nothing more; the
		 * worker drops what is queued without computing it. */
		ck_pr_store_uint(&c->gone, 1);
		http_framer_stop(&c->fr);
		c->closing = true;
		CNT_ADD(a->ctr.resets, 1);
	} else {
		/* EOF (maybe only a half-close): answer what was received,
		 * then close. */
		c->closing = true;
	}
	conn_advance(a, c);
}

/* ---- accepting ----------------------------------------------------------- */

static void on_accept(evutil_socket_t lfd, short what, void *arg)
{
	struct acceptor *a = arg;
	int one = 1;

	for (int i = 0; i < ACCEPT_BURST; i++) {
		struct sockaddr_in6 peer;
		socklen_t plen = sizeof(peer);
		int fd = accept4(lfd, (struct sockaddr *)&peer, &plen,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE) {
				/* Out of fds: the listener would fire forever.
				 * Stop it and retry on a timer; open
				 * connections are served meanwhile. */
				struct timeval tv = { 0, ACCEPT_RETRY_MS * 1000 };

				event_del(&a->lev);
				evtimer_add(&a->retry_ev, &tv);
				CNT_ADD(a->ctr.accept_paused, 1);
				log_warn("accept: %s; pausing for %d ms",
					 strerror(errno), ACCEPT_RETRY_MS);
			} else if (errno == ECONNABORTED || errno == EINTR) {
				continue;
			} else if (errno != EAGAIN) {
				log_warn("accept: %s", strerror(errno));
			}
			return;
		}
		uint32_t slot = conn_table_get(&a->conns);

		if (slot == UINT32_MAX) {
			CNT_ADD(a->ctr.rejected_full, 1);
			close(fd);
			continue;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		CNT_ADD(a->ctr.accepted, 1);
		conn_open(a, fd, slot, &peer);
	}
}

static void on_accept_retry(evutil_socket_t fd, short what, void *arg)
{
	struct acceptor *a = arg;

	if (!a->draining)
		event_add(&a->lev, NULL);
}

/* ---- notes from workers --------------------------------------------------- */

static void on_bell(evutil_socket_t fd, short what, void *arg)
{
	struct acceptor *a = arg;
	struct queue_note nt;

	queue_doorbell_arm(&a->bell);
	for (unsigned w = 0; w < a->nworkers; w++) {
		while (queue_note_pop(&a->workers[w].notes, &nt)) {
			struct conn *c = &a->conns.slots[nt.slot];

			if (c->gen != nt.gen || c->state != CONN_OPEN)
				continue;
			if (nt.kind == NOTE_CLOSED) {
				conn_release(a, c);
			} else if (nt.kind == NOTE_RESUME && c->wait_resume) {
				c->wait_resume = false;
				conn_advance(a, c);
			}
		}
		/* Connections that found the ring full, in arrival order. */
		struct conn *c = a->blocked_head[w];

		a->blocked_head[w] = a->blocked_tail[w] = NULL;
		while (c) {
			struct conn *next = c->blocked_next;

			c->blocked = false;
			conn_advance(a, c);
			if (c->blocked) {
				/* Ring full again: keep the rest queued behind it. */
				if (next) {
					a->blocked_tail[w]->blocked_next = next;
					while (a->blocked_tail[w]->blocked_next)
						a->blocked_tail[w] = a->blocked_tail[w]->blocked_next;
				}
				break;
			}
			c = next;
		}
	}
	if (a->draining && a->live == 0)
		event_base_loopbreak(a->base);
}

/* ---- timeouts -------------------------------------------------------------
 *
 * No timer per connection and nothing per request: reads stamp last_ms
 * from the loop's coarse clock, and a sweep a few times per timeout period
 * walks the slots that were ever used. */

static void timeout_head(struct acceptor *a, struct conn *c)
{
	memset(&c->pending, 0, sizeof(c->pending));
	c->pending.kind = REQ_HTTP;
	c->pending.err = HERR_TIMEOUT;
	c->pending.flags = REQF_CLOSE;
	c->pending.slot = c->slot;
	c->pending.gen = c->gen;
	c->pending.t_parsed_ns = clock_mono_ns();
	c->has_pending = true;
	CNT_ADD(a->ctr.header_timeouts, 1);
	conn_advance(a, c);
}

static void on_sweep(evutil_socket_t fd, short what, void *arg)
{
	struct acceptor *a = arg;
	uint64_t head_to = a->cfg->header_timeout_ms, idle_to = a->cfg->idle_timeout_ms;

	for (uint32_t i = 0; i < a->slot_hw; i++) {
		struct conn *c = &a->conns.slots[i];

		/* Paused connections wait on the server, not the client. */
		if (c->state != CONN_OPEN || c->close_sent || c->has_pending ||
		    c->blocked || c->wait_resume)
			continue;
		if (c->head_ms) {
			if (head_to && a->now_ms - c->head_ms >= head_to)
				timeout_head(a, c);
		} else if (idle_to && a->now_ms - c->last_ms >= idle_to &&
			   ck_pr_load_uint(&c->inflight) == 0) {
			CNT_ADD(a->ctr.idle_closes, 1);
			c->closing = true;
			conn_advance(a, c);
		}
	}
}

static void sweep_arm(struct acceptor *a)
{
	uint64_t period = 1000;
	unsigned t[2] = { a->cfg->header_timeout_ms, a->cfg->idle_timeout_ms };

	for (int i = 0; i < 2; i++)
		if (t[i] && t[i] / 4 < period)
			period = t[i] / 4;
	if (period < 25)
		period = 25;
	struct timeval tv = { (time_t)(period / 1000), (suseconds_t)(period % 1000) * 1000 };

	event_del(&a->sweep_ev);
	if (a->cfg->header_timeout_ms || a->cfg->idle_timeout_ms)
		event_add(&a->sweep_ev, &tv);
}

/* ---- reload (SIGHUP) -------------------------------------------------------
 *
 * Re-reads the config file under the same command line.  A bad file keeps
 * the running configuration.  Runtime settings take effect at once (the
 * workers' part through an RCU-published snapshot); the others are reported
 * as needing a restart. */

static struct runtime *runtime_new(const struct cfg *cfg, uint64_t generation,
				   struct runtime *const *home)
{
	struct runtime *rt = calloc(1, sizeof(*rt));

	if (!rt)
		return NULL;
	rt->spin_ns = (uint64_t)cfg->spin_us * 1000;
	rt->send_timeout_ms = cfg->send_timeout_ms;
	rt->readers = home;
	rt->server_len = strlen(cfg->server_header);
	memcpy(rt->server, cfg->server_header, rt->server_len + 1);
	rt->generation = generation;
	rt->access_log = cfg->access_log[0] != '\0';
	return rt;
}

static void restart_required(const char *name)
{
	log_warn("reload: %s changed: restart required (keeping the running value)",
		 name);
}

static void on_reload(evutil_socket_t sig, short what, void *arg)
{
	struct acceptor *a = arg;
	static struct cfg next;          /* large; this thread only */
	char err[512];
	struct runtime *rt, *old;

	notify_reloading();
	if (cfg_build(&next, a->argc, a->argv, err, sizeof(err)) != CFG_OK) {
		log_error("reload failed, keeping the running configuration: %s", err);
		notify_ready("reload failed; running configuration kept");
		return;
	}
	int spin_asked = next.spin_us;             /* -1: auto */
	unsigned ncpus = a->ncpus;
	cpu_set_t set;

	if (!ncpus)                                /* --no-pin: as at start */
		ncpus = sched_getaffinity(0, sizeof(set), &set) == 0
			? (unsigned)CPU_COUNT(&set) : 1;
	cfg_resolve(&next, ncpus);                 /* as a start would */
	if (spin_asked < 0) {
		/* Auto spinning follows the workers that run, not the file's. */
		unsigned workers = next.workers;

		next.workers = a->cfg->workers;
		next.spin_us = -1;
		cfg_resolve(&next, ncpus);
		next.workers = workers;
	}
	rt = runtime_new(&next, a->rt->generation + 1, &a->rt);
	if (!rt) {
		log_error("reload failed: out of memory");
		notify_ready("reload failed; running configuration kept");
		return;
	}
	/* The options the table marks live change now; the others are
	 * reported and keep their running value. */
	cfg_reload(a->cfg, &next, restart_required);
	log_set_level(a->cfg->log_level);
	/* The access log: a new path, or the same one reopened (logrotate).
	 * Lines go to the ring first; the logger writes them to the file it
	 * has open, so none is lost across the switch. */
	if (a->cfg->access_log[0])
		alog_open(&a->alog, a->cfg->access_log);
	sweep_arm(a);
	TSAN_RELEASE(&a->rt);            /* publishes rt's contents */
	old = rcu_xchg_pointer(&a->rt, rt);
	/* Freed once every worker finished the batch that may still use it,
	 * by the reclaim thread, never by waiting here. */
	reclaim_retire(&a->reclaim, old);
	log_info("reloaded %s: log-level=%s spin-us=%d header-timeout=%u idle-timeout=%u "
		 "send-timeout=%u server-header='%s' (generation %llu)",
		 next.config_path[0] ? next.config_path : "(no config file)",
		 log_level_name(a->cfg->log_level), a->cfg->spin_us,
		 a->cfg->header_timeout_ms, a->cfg->idle_timeout_ms,
		 a->cfg->send_timeout_ms, a->cfg->server_header,
		 (unsigned long long)rt->generation);
	notify_ready(NULL);
}

/* Lines the workers could not put in their access-log rings (the disk or
 * the pipe behind the log is slower than the requests): counted, and
 * warned about at most once per tick. */
static void alog_check_drops(struct acceptor *a)
{
	uint64_t dropped = alog_dropped(&a->alog);

	if (dropped == a->alog_dropped || a->now_ms - a->alog_warned_ms < 1000)
		return;
	a->alog_warned_ms = a->now_ms;
	CNT_SET(a->ctr.access_log_dropped, dropped);
	log_warn("access log: %llu line(s) dropped (ring full), %llu in all",
		 (unsigned long long)(dropped - a->alog_dropped),
		 (unsigned long long)dropped);
	a->alog_dropped = dropped;
}

/* Once a second (or twice per watchdog interval): the live rate for
 * `systemctl status`, and the watchdog ping. */
static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct acceptor *a = arg;
	uint64_t req = 0, now = clock_mono_ns();

	for (unsigned w = 0; w < a->nworkers; w++)
		for (unsigned r = 0; r < ROUTE__COUNT; r++)
			req += CNT_GET(a->workers[w].cnt.route[r].requests);
	if (a->tick_ns && now > a->tick_ns)
		notify_status("%u connections, %.0f requests/s",
			      a->live, (double)(req - a->tick_requests) * 1e9 /
			      (double)(now - a->tick_ns));
	a->tick_requests = req;
	a->tick_ns = now;
	alog_check_drops(a);
	notify_watchdog();
}

/* ---- lifecycle ----------------------------------------------------------- */

static void on_drain_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct acceptor *a = arg;

	log_warn("shutdown timeout: %u connection(s) still busy; answering what "
		 "is queued with 503 and closing them", a->live);
	ck_pr_store_uint(&a->past_deadline, 1);
	event_base_loopbreak(a->base);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct acceptor *a = arg;
	struct timeval tv = { a->cfg->shutdown_timeout_ms / 1000,
			      (a->cfg->shutdown_timeout_ms % 1000) * 1000 };

	if (a->draining)
		return;
	notify_stopping();
	log_info("%s: draining %u connection(s)", sig == SIGINT ? "SIGINT" : "SIGTERM",
		 a->live);
	a->draining = true;
	event_del(&a->lev);
	event_del(&a->retry_ev);
	close(a->lfd);
	a->lfd = -1;
	for (uint32_t i = 0; i < a->conns.n; i++) {
		struct conn *c = &a->conns.slots[i];

		if (c->state != CONN_OPEN || c->close_sent)
			continue;
		c->closing = true;
		if (!c->blocked && !c->wait_resume)
			conn_advance(a, c);
	}
	if (a->live == 0)
		event_base_loopbreak(a->base);
	else
		evtimer_add(&a->drain_ev, &tv);
}

static struct acceptor *acceptor_of(struct conn *c)
{
	return c->owner;
}

int acceptor_start(struct acceptor *a, const int *cpus, unsigned ncpus,
		   int argc, char **argv)
{
	struct cfg *cfg = a->cfg;
	struct event_config *ec = event_config_new();
	uint32_t buf_cap = cfg->max_header_bytes + 4096;
	unsigned note_size = 4;
	int rc = -ENOMEM;

	if (!ec)
		return -ENOMEM;
	a->argc = argc;
	a->argv = argv;
	a->ncpus = ncpus;
	a->rt = runtime_new(cfg, 1, &a->rt);
	if (!a->rt) {
		event_config_free(ec);
		return -ENOMEM;
	}
	/* One thread uses this base: no locks. */
	event_config_set_flag(ec, EVENT_BASE_FLAG_NOLOCK);
	a->base = event_base_new_with_config(ec);
	event_config_free(ec);
	if (!a->base)
		return -ENOMEM;
	if ((rc = conn_table_init(&a->conns, cfg->max_conns, buf_cap)))
		return rc;
	if ((rc = queue_doorbell_init(&a->bell)))
		return rc;
	a->nworkers = cfg->workers;
	a->workers = calloc(a->nworkers, sizeof(*a->workers));
	a->wake_pending = calloc(a->nworkers, sizeof(*a->wake_pending));
	a->blocked_head = calloc(a->nworkers, sizeof(*a->blocked_head));
	a->blocked_tail = calloc(a->nworkers, sizeof(*a->blocked_tail));
	a->ring_high_water = calloc(a->nworkers, sizeof(*a->ring_high_water));
	a->tm.workers = calloc(a->nworkers, sizeof(*a->tm.workers));
	a->tm.rings = calloc(a->nworkers, sizeof(*a->tm.rings));
	if (!a->workers || !a->wake_pending || !a->blocked_head || !a->blocked_tail ||
	    !a->ring_high_water || !a->tm.workers || !a->tm.rings)
		return -ENOMEM;
	counters_init(&a->cnt, "metricd-acc", -1, 0);
	a->tm.nworkers = a->nworkers;
	a->tm.acceptor = &a->cnt;
	a->tm.acc = &a->ctr;
	a->tm.ring_high_water = a->ring_high_water;
	a->tm.start_ns = clock_mono_ns();
	for (unsigned i = 0; i < a->nworkers; i++) {
		a->tm.workers[i] = &a->workers[i].cnt;
		a->tm.rings[i] = &a->workers[i].rq;
	}
	if ((rc = alog_init(&a->alog, a->nworkers)))
		return rc;
	if (cfg->access_log[0] && (rc = alog_open(&a->alog, cfg->access_log)))
		return rc;
	/* Two notes per slot at most (one CLOSED, one RESUME): never full. */
	while (note_size < 2 * cfg->max_conns + 2)
		note_size <<= 1;
	for (unsigned i = 0; i < a->nworkers; i++) {
		struct worker_cfg wc = {
			.ring_size = cfg->ring_size,
			.note_ring_size = note_size,
			.max_unsent = cfg->max_unsent_bytes,
			.cpu = ncpus ? cpus[i % ncpus] : -1,
		};

		if ((rc = worker_init(&a->workers[i], i, &wc, &a->conns, &a->bell,
				       &a->tm, &a->rt, &a->alog.rings[i],
				       &a->past_deadline)))
			return rc;
		a->ninit++;
	}
	for (unsigned i = 0; i < a->nworkers; i++) {
		if ((rc = worker_start(&a->workers[i]))) {
			log_error("cannot start worker %u: %s", i, strerror(-rc));
			return rc;
		}
	}
	event_assign(&a->lev, a->base, a->lfd, EV_READ | EV_PERSIST, on_accept, a);
	event_assign(&a->bell_ev, a->base, a->bell.fd, EV_READ | EV_PERSIST, on_bell, a);
	evtimer_assign(&a->retry_ev, a->base, on_accept_retry, a);
	evtimer_assign(&a->drain_ev, a->base, on_drain_timeout, a);
	event_assign(&a->sweep_ev, a->base, -1, EV_PERSIST, on_sweep, a);
	a->now_ms = clock_coarse_ms();
	sweep_arm(a);
	{
		uint64_t wd = notify_watchdog_usec(), us = 1000000;

		if (wd && wd / 2 < us)
			us = wd / 2;
		struct timeval tv = { (time_t)(us / 1000000), (suseconds_t)(us % 1000000) };

		event_assign(&a->tick_ev, a->base, -1, EV_PERSIST, on_tick, a);
		event_add(&a->tick_ev, &tv);
	}
	evsignal_assign(&a->sigint_ev, a->base, SIGINT, on_signal, a);
	evsignal_assign(&a->sigterm_ev, a->base, SIGTERM, on_signal, a);
	evsignal_assign(&a->sighup_ev, a->base, SIGHUP, on_reload, a);
	event_add(&a->lev, NULL);
	event_add(&a->bell_ev, NULL);
	event_add(&a->sigint_ev, NULL);
	event_add(&a->sigterm_ev, NULL);
	event_add(&a->sighup_ev, NULL);
	return 0;
}

/* Wakes, once, each worker that got descriptors in this iteration and is
 * asleep (see queue.h for why one fence suffices). */
static void wake_workers(struct acceptor *a)
{
	bool fenced = false;

	for (unsigned w = 0; w < a->nworkers; w++) {
		if (!a->wake_pending[w])
			continue;
		if (!fenced) {
			queue_fence();
			fenced = true;
		}
		a->wake_pending[w] = false;
		if (queue_req_wake(&a->workers[w].rq))
			CNT_ADD(a->ctr.wakes, 1);
	}
}

static void stop_workers(struct acceptor *a)
{
	struct http_req stop = { .kind = REQ_STOP };

	for (unsigned w = 0; w < a->nworkers; w++) {
		/* The worker keeps draining, so room appears; bounded wait. */
		for (int tries = 0; !queue_req_push(&a->workers[w].rq, &stop); tries++) {
			if (tries > 100000) {
				log_error("worker %u does not drain its ring", w);
				abort();
			}
			usleep(100);
		}
		a->wake_pending[w] = true;
	}
	wake_workers(a);
	for (unsigned w = 0; w < a->nworkers; w++)
		worker_join(&a->workers[w]);
}

int acceptor_run(struct acceptor *a)
{
	while (!event_base_got_break(a->base)) {
		/* Connections with buffered requests left from the last turn
		 * go on after this one's events, without waiting for new ones. */
		if (event_base_loop(a->base, a->ready_head ? EVLOOP_NONBLOCK
							   : EVLOOP_ONCE) < 0)
			break;
		a->now_ms = clock_coarse_ms();
		run_ready(a);
		wake_workers(a);
	}
	stop_workers(a);
	return 0;
}

void acceptor_destroy(struct acceptor *a)
{
	reclaim_destroy(&a->reclaim);
	for (unsigned i = 0; i < a->ninit; i++)
		worker_destroy(&a->workers[i]);
	free(a->workers);
	free(a->wake_pending);
	free(a->blocked_head);
	free(a->blocked_tail);
	free(a->ring_high_water);
	free(a->tm.workers);
	free(a->tm.rings);
	queue_doorbell_destroy(&a->bell);
	alog_destroy(&a->alog);
	free(a->rt);
	conn_table_destroy(&a->conns);
	if (a->base)
		event_base_free(a->base);
	if (a->lfd >= 0)
		close(a->lfd);
	memset(a, 0, sizeof(*a));
	a->lfd = -1;
}
