/* SPDX-License-Identifier: BSD-2-Clause */
/* The server around its shards: starting them, and the control thread -
 * main's, after start - that owns the signals: SIGHUP's reload (options
 * through the table, the workers' settings through RCU, the shards'
 * through their control word), the once-a-second tick (service manager
 * status, watchdog, access-log drops), SIGTERM's drain and its deadline.
 *
 * Threads: server_start and server_destroy run on the main thread while no
 * shard thread runs; the rest on the control thread.  The control thread
 * is the only writer of the running configuration's live options and of
 * the runtime snapshot pointer; shards read only the options a reload
 * cannot change, and get the live ones they need through
 * acceptor_command (core/lifecycle.c says why that ordering is enough).
 * Shards tell the control thread that they stopped by counting `stopped`
 * up (release) and writing done_fd; it reads the count with acquire. */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <urcu/urcu-qsbr.h>

#include "core/base/clock.h"
#include "core/base/log.h"
#include "core/base/proc.h"
#include "core/base/tsan.h"
#include "core/notify.h"
#include "core/server.h"

/* ---- reload (SIGHUP) -------------------------------------------------------
 *
 * Re-reads the config file under the same command line.  A bad file keeps
 * the running configuration.  Runtime settings take effect at once (the
 * workers' part through an RCU-published snapshot, the shards' through a
 * command); the others are reported as needing a restart. */

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
	rt->access_log_format = cfg->access_log_format;
	return rt;
}

/* The live settings each shard reads itself, then a command to apply them. */
static void shards_reload(struct server *s, unsigned cmd)
{
	for (unsigned i = 0; i < s->nshards; i++) {
		struct acceptor *a = &s->shards[i];

		__atomic_store_n(&a->header_timeout_ms, s->cfg->header_timeout_ms,
				 __ATOMIC_RELAXED);
		__atomic_store_n(&a->idle_timeout_ms, s->cfg->idle_timeout_ms,
				 __ATOMIC_RELAXED);
		__atomic_store_n(&a->access_log_on, s->cfg->access_log[0] != '\0',
				 __ATOMIC_RELAXED);
		if (cmd)
			acceptor_command(a, cmd);
	}
}

static void restart_required(const char *name)
{
	log_warn("reload: %s changed: restart required (keeping the running value)",
		 name);
}

/* The access log: a new path, or the same one reopened (logrotate).
 * Lines go to the ring first; the logger writes them to the file it has
 * open, so none is lost across the switch.  Done on every SIGHUP, even one
 * whose file does not parse: logrotate's postrotate sends it regardless,
 * and the lines must not keep going to the rotated file. */
static void reopen_access_log(struct server *s)
{
	if (s->cfg->access_log[0])
		alog_open(&s->alog, s->cfg->access_log);
}

static void on_reload(evutil_socket_t sig, short what, void *arg)
{
	struct server *s = arg;
	static struct cfg next;          /* large; this thread only */
	char err[512];
	struct runtime *rt, *old;

	notify_reloading();
	if (cfg_build(&next, s->argc, s->argv, err, sizeof(err)) != CFG_OK) {
		log_error("reload failed, keeping the running configuration: %s", err);
		reopen_access_log(s);
		notify_ready("reload failed; running configuration kept");
		return;
	}
	rt = runtime_new(&next, s->rt->generation + 1, &s->rt);
	if (!rt) {
		log_error("reload failed: out of memory");
		reopen_access_log(s);
		notify_ready("reload failed; running configuration kept");
		return;
	}
	/* The options the table marks live change now; the others are
	 * reported and keep their running value. */
	cfg_reload(s->cfg, &next, restart_required);
	log_set_level(s->cfg->log_level);
	reopen_access_log(s);
	shards_reload(s, ACC_CTL_RELOAD);
	TSAN_RELEASE(&s->rt);            /* publishes rt's contents */
	old = rcu_xchg_pointer(&s->rt, rt);
	/* Freed once every worker finished the batch that may still use it,
	 * by the reclaim thread, never by waiting here. */
	reclaim_retire(&s->reclaim, old);
	log_info("reloaded %s: log-level=%s spin-us=%d header-timeout=%u idle-timeout=%u "
		 "send-timeout=%u server-header='%s' (generation %llu)",
		 next.config_path[0] ? next.config_path : "(no config file)",
		 log_level_name(s->cfg->log_level), s->cfg->spin_us,
		 s->cfg->header_timeout_ms, s->cfg->idle_timeout_ms,
		 s->cfg->send_timeout_ms, s->cfg->server_header,
		 (unsigned long long)rt->generation);
	notify_ready(NULL);
}

/* ---- the tick --------------------------------------------------------------- */

static unsigned open_connections(const struct server *s)
{
	uint64_t n = 0;

	for (unsigned i = 0; i < s->nshards; i++)
		n += CNT_GET(s->shards[i].ctr.open);
	return (unsigned)n;
}

/* Lines the workers could not put in their access-log rings (the disk or
 * the pipe behind the log is slower than the requests): warned about at
 * most once per tick; /stats counts them (workers/telemetry.c). */
static void alog_check_drops(struct server *s, uint64_t now)
{
	uint64_t dropped = alog_dropped(&s->alog);

	if (dropped == s->alog_dropped || now - s->alog_warned_ns < 1000000000ull)
		return;
	s->alog_warned_ns = now;
	log_warn("access log: %llu line(s) dropped (ring full), %llu in all",
		 (unsigned long long)(dropped - s->alog_dropped),
		 (unsigned long long)dropped);
	s->alog_dropped = dropped;
}

/* Once a second (or twice per watchdog interval): the live rate for
 * `systemctl status`, and the watchdog ping. */
static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct server *s = arg;
	uint64_t req = 0, now = clock_mono_ns();

	for (unsigned w = 0; w < s->nworkers; w++)
		for (unsigned r = 0; r < ROUTE__COUNT; r++)
			req += CNT_GET(s->workers[w].cnt.route[r].requests);
	if (s->tick_ns && now > s->tick_ns)
		notify_status("%u connections, %.0f requests/s", open_connections(s),
			      (double)(req - s->tick_requests) * 1e9 /
			      (double)(now - s->tick_ns));
	s->tick_requests = req;
	s->tick_ns = now;
	alog_check_drops(s, now);
	notify_watchdog();
}

/* ---- drain and stop --------------------------------------------------------- */

static void on_drain_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct server *s = arg;

	log_warn("shutdown timeout: %u connection(s) still busy; answering what "
		 "is queued with 503 and closing them", open_connections(s));
	ck_pr_store_uint(&s->past_deadline, 1);
	for (unsigned i = 0; i < s->nshards; i++)
		acceptor_command(&s->shards[i], ACC_CTL_DEADLINE);
}

static const char *sig_name(int sig)
{
	return sig == SIGINT ? "SIGINT" : "SIGTERM";
}

/* Every shard stops accepting, closes its idle connections and lets the
 * busy ones finish, at most --shutdown-timeout. */
static void drain(struct server *s)
{
	struct timeval tv = { s->cfg->shutdown_timeout_ms / 1000,
			      (s->cfg->shutdown_timeout_ms % 1000) * 1000 };

	if (!s->leaving)
		notify_stopping();
	log_info("%s: draining %u connection(s)", sig_name(s->stop_sig), open_connections(s));
	s->draining = true;
	__atomic_store_n(&s->draining_gauge, 1, __ATOMIC_RELAXED);
	event_del(&s->leave_ev);
	for (unsigned i = 0; i < s->nshards; i++)
		acceptor_command(&s->shards[i], ACC_CTL_DRAIN);
	evtimer_add(&s->drain_ev, &tv);
}

static void on_drain_delay_end(evutil_socket_t fd, short what, void *arg)
{
	drain(arg);
}

/* SIGTERM/SIGINT.  With --drain-delay the server first goes on as before
 * except that /healthz answers 503 (workers/admin.c), so a load balancer
 * checking it stops sending new requests while the listeners are still
 * open and nothing is refused; then the drain.  A second signal during the
 * delay drains at once. */
static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct server *s = arg;
	unsigned ms = s->cfg->drain_delay_ms;
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	if (s->draining)
		return;
	if (!s->leaving)
		s->stop_sig = (int)sig;
	if (s->leaving || ms == 0) {
		drain(s);
		return;
	}
	notify_stopping();
	s->leaving = true;
	__atomic_store_n(&s->draining_gauge, 1, __ATOMIC_RELAXED);
	log_info("%s: /healthz answers 503 for %u ms, then draining", sig_name((int)sig), ms);
	evtimer_add(&s->leave_ev, &tv);
}

/* A shard stopped; when all did, so does the control thread. */
static void on_done(evutil_socket_t fd, short what, void *arg)
{
	struct server *s = arg;
	uint64_t v;

	if (read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		log_warn("control: %s", strerror(errno));
	if (__atomic_load_n(&s->stopped, __ATOMIC_ACQUIRE) == s->nstarted)
		event_base_loopbreak(s->base);
}

/* ---- start ------------------------------------------------------------------ */

/* The control thread's base: signals, the tick, the deadline, the shards'
 * stop.  The signal handlers are installed here, before any shard runs. */
static int control_arm(struct server *s)
{
	uint64_t wd = notify_watchdog_usec(), us = 1000000;

	s->base = event_base_new();
	s->done_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (!s->base || s->done_fd < 0)
		return s->base ? -errno : -ENOMEM;
	event_assign(&s->done_ev, s->base, s->done_fd, EV_READ | EV_PERSIST, on_done, s);
	evtimer_assign(&s->drain_ev, s->base, on_drain_timeout, s);
	evtimer_assign(&s->leave_ev, s->base, on_drain_delay_end, s);
	/* Once a second, or twice per watchdog interval. */
	if (wd && wd / 2 < us)
		us = wd / 2;
	struct timeval tv = { (time_t)(us / 1000000), (suseconds_t)(us % 1000000) };

	event_assign(&s->tick_ev, s->base, -1, EV_PERSIST, on_tick, s);
	event_add(&s->tick_ev, &tv);
	/* libevent puts back the disposition it found when these events go
	 * (server_destroy).  Found as "ignore", a stop or reload signal that
	 * arrives after the drain, while the process frees and exits, changes
	 * nothing, where the default would kill it (status 143, not 0). */
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	evsignal_assign(&s->sigint_ev, s->base, SIGINT, on_signal, s);
	evsignal_assign(&s->sigterm_ev, s->base, SIGTERM, on_signal, s);
	evsignal_assign(&s->sighup_ev, s->base, SIGHUP, on_reload, s);
	event_add(&s->done_ev, NULL);
	event_add(&s->sigint_ev, NULL);
	event_add(&s->sigterm_ev, NULL);
	event_add(&s->sighup_ev, NULL);
	return 0;
}

/* What /stats and /metrics read: every thread's counters. */
static int telemetry_init(struct server *s)
{
	struct telemetry *tm = &s->tm;

	tm->nworkers = s->nworkers;
	tm->nshards = s->nshards;
	tm->acceptors = calloc(s->nshards, sizeof(*tm->acceptors));
	tm->accs = calloc(s->nshards, sizeof(*tm->accs));
	tm->workers = calloc(s->nworkers, sizeof(*tm->workers));
	tm->rings = calloc(s->nworkers, sizeof(*tm->rings));
	tm->ring_high_water = calloc(s->nworkers, sizeof(*tm->ring_high_water));
	if (!tm->acceptors || !tm->accs || !tm->workers || !tm->rings ||
	    !tm->ring_high_water)
		return -ENOMEM;
	for (unsigned i = 0; i < s->nshards; i++) {
		tm->acceptors[i] = &s->shards[i].cnt;
		tm->accs[i] = &s->shards[i].ctr;
	}
	for (unsigned w = 0; w < s->nworkers; w++) {
		tm->workers[w] = &s->workers[w].cnt;
		tm->rings[w] = &s->workers[w].rq;
	}
	tm->alog = &s->alog;
	tm->draining = &s->draining_gauge;
	tm->start_ns = clock_mono_ns();
	tm->start_unix_ns = proc_start_unix_ns();
	tm->allocator = proc_allocator();
	return 0;
}

int server_start(struct server *s, int argc, char **argv)
{
	const struct placement *p = &s->place;
	int rc;

	s->argc = argc;
	s->argv = argv;
	s->nworkers = p->nworkers;
	s->rt = runtime_new(s->cfg, 1, &s->rt);
	if (!s->rt)
		return -ENOMEM;
	if (posix_memalign((void **)&s->workers, 64, s->nworkers * sizeof(*s->workers)))
		return -ENOMEM;
	memset(s->workers, 0, s->nworkers * sizeof(*s->workers));
	if ((rc = telemetry_init(s)))
		return rc;
	if ((rc = alog_init(&s->alog, s->nworkers)))
		return rc;
	if (s->cfg->access_log[0] && (rc = alog_open(&s->alog, s->cfg->access_log)))
		return rc;
	shards_reload(s, 0);
	for (unsigned i = 0; i < s->nshards; i++) {
		struct acceptor *a = &s->shards[i];

		a->first_worker = p->shard[i].first_worker;
		a->nworkers = p->shard[i].nworkers;
		a->workers = &s->workers[a->first_worker];
		a->ring_high_water = &s->tm.ring_high_water[a->first_worker];
		if ((rc = acceptor_start(a, p->worker_cpu, p->worker_spin)))
			return rc;
	}
	return control_arm(s);
}

/* ---- run -------------------------------------------------------------------- */

static int start_shard(struct acceptor *a)
{
	pthread_attr_t attr;
	int rc;

	pthread_attr_init(&attr);
	if (a->cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(a->cpu, &set);
		/* Returns an error number; it does not set errno. */
		rc = pthread_attr_setaffinity_np(&attr, sizeof(set), &set);
		if (rc) {
			pthread_attr_destroy(&attr);
			return -rc;
		}
	}
	rc = pthread_create(&a->thread, &attr, acceptor_thread, a);
	pthread_attr_destroy(&attr);
	return -rc;
}

int server_run(struct server *s)
{
	sigset_t sigs;
	int rc = 0;

	for (; s->nstarted < s->nshards; s->nstarted++)
		if ((rc = start_shard(&s->shards[s->nstarted]))) {
			log_error("cannot start acceptor %u: %s", s->nstarted, strerror(-rc));
			/* Stop the ones that run, at once. */
			ck_pr_store_uint(&s->past_deadline, 1);
			for (unsigned i = 0; i < s->nstarted; i++)
				acceptor_command(&s->shards[i], ACC_CTL_DRAIN | ACC_CTL_DEADLINE);
			break;
		}
	/* Only this thread takes the signals (main blocked them before any
	 * thread started; the shards and workers inherited that). */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_UNBLOCK, &sigs, NULL);
	if (s->nstarted)
		event_base_dispatch(s->base);
	for (unsigned i = 0; i < s->nstarted; i++)
		pthread_join(s->shards[i].thread, NULL);
	return rc;
}

uint64_t server_accepted(const struct server *s)
{
	uint64_t n = 0;

	for (unsigned i = 0; i < s->nshards; i++)
		n += CNT_GET(s->shards[i].ctr.accepted);
	return n;
}

void server_destroy(struct server *s)
{
	reclaim_destroy(&s->reclaim);
	for (unsigned i = 0; s->shards && i < s->nshards; i++)
		acceptor_destroy(&s->shards[i]);
	free(s->shards);
	free(s->workers);
	for (unsigned i = 0; i < s->ninherited; i++)
		close(s->inherited[i]);
	free(s->tm.acceptors);
	free(s->tm.accs);
	free(s->tm.workers);
	free(s->tm.rings);
	free(s->tm.ring_high_water);
	alog_destroy(&s->alog);
	free(s->rt);
	if (s->base)
		event_base_free(s->base);
	if (s->done_fd >= 0)
		close(s->done_fd);
	memset(s, 0, sizeof(*s));
	s->done_fd = -1;
}
