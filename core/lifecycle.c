/* The server's lifecycle around the acceptor thread: starting the workers
 * and the events, the loop, reloads (SIGHUP: options through the table,
 * the runtime snapshot through RCU), the once-a-second tick (service
 * manager status, watchdog, access-log drops), SIGTERM's drain delay, the
 * drain and its deadline, and stopping the workers.
 *
 * Threads: everything here runs on the acceptor thread, except
 * acceptor_start (main thread, before the acceptor thread exists) and
 * acceptor_destroy (main thread, after it ended).  What workers read of it
 * is the runtime snapshot (queue/runtime.h) and the shutdown flag
 * (past_deadline), both published as their comments say, and the draining
 * gauge, a relaxed flag that /healthz reads (workers/admin.c). */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <urcu/urcu-qsbr.h>

#include "core/acceptor.h"
#include "core/base/clock.h"
#include "core/base/log.h"
#include "core/base/tsan.h"
#include "core/notify.h"

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
	acc__sweep_arm(a);
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

/* Stops accepting, closes idle connections, lets the busy ones finish
 * (at most --shutdown-timeout) and ends the loop when none is left. */
static void drain(struct acceptor *a)
{
	struct timeval tv = { a->cfg->shutdown_timeout_ms / 1000,
			      (a->cfg->shutdown_timeout_ms % 1000) * 1000 };

	if (!a->leaving)
		notify_stopping();
	log_info("%s: draining %u connection(s)", a->stop_sig == SIGINT ? "SIGINT" : "SIGTERM",
		 a->live);
	a->draining = true;
	CNT_SET(a->ctr.draining, 1);
	event_del(&a->leave_ev);
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
			acc__conn_advance(a, c);
	}
	if (a->live == 0)
		event_base_loopbreak(a->base);
	else
		evtimer_add(&a->drain_ev, &tv);
}

static void on_drain_delay_end(evutil_socket_t fd, short what, void *arg)
{
	drain(arg);
}

/* SIGTERM/SIGINT.  With --drain-delay the server first goes on as before
 * except that /healthz answers 503 (workers/admin.c), so a load balancer
 * checking it stops sending new requests while the listener is still open
 * and nothing is refused; then the drain.  A second signal during the
 * delay drains at once. */
static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct acceptor *a = arg;
	unsigned ms = a->cfg->drain_delay_ms;
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	if (a->draining)
		return;
	if (!a->leaving)
		a->stop_sig = (int)sig;
	if (a->leaving || ms == 0) {
		drain(a);
		return;
	}
	notify_stopping();
	a->leaving = true;
	CNT_SET(a->ctr.draining, 1);
	log_info("%s: /healthz answers 503 for %u ms, then draining",
		 sig == SIGINT ? "SIGINT" : "SIGTERM", ms);
	evtimer_add(&a->leave_ev, &tv);
}

/* The event base (one thread uses it: no locks) and the per-worker
 * arrays the acceptor keeps. */
static int alloc_base(struct acceptor *a)
{
	struct event_config *ec = event_config_new();

	if (!ec)
		return -ENOMEM;
	event_config_set_flag(ec, EVENT_BASE_FLAG_NOLOCK);
	a->base = event_base_new_with_config(ec);
	event_config_free(ec);
	if (!a->base)
		return -ENOMEM;
	a->nworkers = a->cfg->workers;
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
	return 0;
}

/* What /stats and /metrics read: every thread's counters. */
static void telemetry_init(struct acceptor *a)
{
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
}

static int workers_start(struct acceptor *a, const int *cpus, unsigned ncpus)
{
	const struct cfg *cfg = a->cfg;
	unsigned note_size = 4;
	int rc;

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
	return 0;
}

/* The listener, the notes' doorbell, the timers and the signals. */
static void events_arm(struct acceptor *a)
{
	uint64_t wd = notify_watchdog_usec(), us = 1000000;

	event_assign(&a->lev, a->base, a->lfd, EV_READ | EV_PERSIST, acc__on_accept, a);
	event_assign(&a->bell_ev, a->base, a->bell.fd, EV_READ | EV_PERSIST, acc__on_bell, a);
	evtimer_assign(&a->retry_ev, a->base, acc__on_accept_retry, a);
	evtimer_assign(&a->drain_ev, a->base, on_drain_timeout, a);
	evtimer_assign(&a->leave_ev, a->base, on_drain_delay_end, a);
	event_assign(&a->sweep_ev, a->base, -1, EV_PERSIST, acc__on_sweep, a);
	a->now_ms = clock_coarse_ms();
	acc__sweep_arm(a);
	/* Once a second, or twice per watchdog interval. */
	if (wd && wd / 2 < us)
		us = wd / 2;
	struct timeval tv = { (time_t)(us / 1000000), (suseconds_t)(us % 1000000) };

	event_assign(&a->tick_ev, a->base, -1, EV_PERSIST, on_tick, a);
	event_add(&a->tick_ev, &tv);
	evsignal_assign(&a->sigint_ev, a->base, SIGINT, on_signal, a);
	evsignal_assign(&a->sigterm_ev, a->base, SIGTERM, on_signal, a);
	evsignal_assign(&a->sighup_ev, a->base, SIGHUP, on_reload, a);
	event_add(&a->lev, NULL);
	event_add(&a->bell_ev, NULL);
	event_add(&a->sigint_ev, NULL);
	event_add(&a->sigterm_ev, NULL);
	event_add(&a->sighup_ev, NULL);
}

int acceptor_start(struct acceptor *a, const int *cpus, unsigned ncpus,
		   int argc, char **argv)
{
	const struct cfg *cfg = a->cfg;
	int rc;

	a->argc = argc;
	a->argv = argv;
	a->ncpus = ncpus;
	a->rt = runtime_new(cfg, 1, &a->rt);
	if (!a->rt)
		return -ENOMEM;
	if ((rc = alloc_base(a)))
		return rc;
	if ((rc = conn_table_init(&a->conns, cfg->max_conns, cfg->max_header_bytes + 4096)))
		return rc;
	if ((rc = queue_doorbell_init(&a->bell)))
		return rc;
	telemetry_init(a);
	if ((rc = alog_init(&a->alog, a->nworkers)))
		return rc;
	if (cfg->access_log[0] && (rc = alog_open(&a->alog, cfg->access_log)))
		return rc;
	if ((rc = workers_start(a, cpus, ncpus)))
		return rc;
	events_arm(a);
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
		acc__run_ready(a);
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
