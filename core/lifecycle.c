/* SPDX-License-Identifier: BSD-2-Clause */
/* A shard's lifecycle: starting its workers and events, its acceptor
 * thread's loop, the control thread's commands (reload, drain, deadline),
 * the drain, and stopping the workers.
 *
 * Threads: everything here runs on the shard's acceptor thread, except
 * acceptor_start (main thread, before any shard thread exists),
 * acceptor_command (the control thread) and acceptor_destroy (main
 * thread, after the shard thread ended).  The control thread and the
 * shard share the control word `ctl` and the live timeouts: the control
 * thread stores the timeouts, ORs a command into `ctl` with release
 * ordering and writes the shard's eventfd; the shard, woken by it, swaps
 * `ctl` to 0 with acquire ordering, so it sees the timeouts stored before
 * the command (atomics, so a reload racing the read is no race either).
 * A command ORed in while the shard was handling the last one finds the
 * eventfd written again: none is lost. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/base/clock.h"
#include "core/base/log.h"
#include "core/server.h"

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
	a->wake_pending = calloc(a->nworkers, sizeof(*a->wake_pending));
	a->blocked_head = calloc(a->nworkers, sizeof(*a->blocked_head));
	a->blocked_tail = calloc(a->nworkers, sizeof(*a->blocked_tail));
	if (!a->wake_pending || !a->blocked_head || !a->blocked_tail)
		return -ENOMEM;
	return 0;
}

static int workers_start(struct acceptor *a, const int *cpus, const bool *spin)
{
	struct server *s = a->srv;
	const struct cfg *cfg = a->cfg;
	unsigned note_size = 4;
	int rc;

	/* Two notes per slot at most (one CLOSED, one RESUME): never full. */
	while (note_size < 2 * cfg->max_conns + 2)
		note_size <<= 1;
	for (unsigned i = 0; i < a->nworkers; i++) {
		unsigned id = a->first_worker + i;
		struct worker_cfg wc = {
			.ring_size = cfg->ring_size,
			.note_ring_size = note_size,
			.max_unsent = cfg->max_unsent_bytes,
			.cpu = cpus[id],
			.spin = spin[id],
			.shard = a->id,
			/* heap headers: the acceptors are threads 0..nshards-1 */
			.index = (uint16_t)(s->nshards + id),
		};

		if ((rc = worker_init(&a->workers[i], id, &wc, &a->conns, &a->bell,
				       &s->tm, &s->rt, &s->alog.rings[id],
				       &s->past_deadline)))
			return rc;
		a->ninit++;
	}
	for (unsigned i = 0; i < a->nworkers; i++) {
		if ((rc = worker_start(&a->workers[i]))) {
			log_error("cannot start worker %u: %s", a->first_worker + i,
				  strerror(-rc));
			return rc;
		}
		a->nrunning++;
	}
	return 0;
}

/* ---- the control thread's commands ----------------------------------------- */

void acceptor_command(struct acceptor *a, unsigned cmd)
{
	uint64_t one = 1;

	__atomic_fetch_or(&a->ctl, cmd, __ATOMIC_RELEASE);
	if (write(a->ctl_fd, &one, sizeof(one)) < 0)
		log_warn("shard %u: cannot ring: %s", a->id, strerror(errno));
}

/* SIGTERM: stop accepting, answer what was received, close the rest. */
static void drain(struct acceptor *a)
{
	if (a->draining)
		return;
	a->draining = true;
	log_debug("shard %u: draining %u connection(s)", a->id, a->live);
	acc__listen_close(a);
	for (uint32_t i = 0; i < a->slot_hw; i++) {
		struct conn *c = &a->conns.slots[i];

		if (c->state != CONN_OPEN || c->close_sent)
			continue;
		c->closing = true;
		if (!c->blocked && !c->wait_resume)
			acc__conn_advance(a, c);
	}
	if (a->live == 0)
		event_base_loopbreak(a->base);
}

static void on_ctl(evutil_socket_t fd, short what, void *arg)
{
	struct acceptor *a = arg;
	uint64_t v;
	unsigned cmd;

	if (read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		log_warn("shard %u: control: %s", a->id, strerror(errno));
	cmd = __atomic_exchange_n(&a->ctl, 0, __ATOMIC_ACQUIRE);
	if (cmd & ACC_CTL_RELOAD) {
		acc__sweep_arm(a);
		CNT_ADD(a->ctr.reloads, 1);
	}
	if (cmd & ACC_CTL_DRAIN)
		drain(a);
	if (cmd & ACC_CTL_DEADLINE)
		event_base_loopbreak(a->base);
}

/* The listeners, the notes' doorbell, the control eventfd, the timers. */
static void events_arm(struct acceptor *a)
{
	for (unsigned i = 0; i < a->nlisteners; i++)
		event_assign(&a->listeners[i].ev, a->base, a->listeners[i].fd,
			     EV_READ | EV_PERSIST, acc__on_accept, a);
	event_assign(&a->bell_ev, a->base, a->bell.fd, EV_READ | EV_PERSIST, acc__on_bell, a);
	event_assign(&a->ctl_ev, a->base, a->ctl_fd, EV_READ | EV_PERSIST, on_ctl, a);
	evtimer_assign(&a->retry_ev, a->base, acc__on_accept_retry, a);
	event_assign(&a->sweep_ev, a->base, -1, EV_PERSIST, acc__on_sweep, a);
	a->now_ms = clock_coarse_ms();
	acc__sweep_arm(a);
	acc__listen_events(a, true);
	event_add(&a->bell_ev, NULL);
	event_add(&a->ctl_ev, NULL);
}

int acceptor_start(struct acceptor *a, const int *cpus, const bool *spin)
{
	const struct cfg *cfg = a->cfg;
	char name[16];
	int rc;

	if ((rc = alloc_base(a)))
		return rc;
	if ((rc = conn_table_init(&a->conns, cfg->max_conns, cfg->max_header_bytes + 4096)))
		return rc;
	if ((rc = queue_doorbell_init(&a->bell)))
		return rc;
	a->ctl_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (a->ctl_fd < 0)
		return -errno;
	/* One shard keeps the name it always had. */
	if (a->srv->nshards == 1)
		snprintf(name, sizeof(name), "metricd-acc");
	else
		snprintf(name, sizeof(name), "metricd-acc%u", a->id);
	counters_init(&a->cnt, name, a->cpu, (uint16_t)a->id);
	a->cnt.shard = (uint16_t)a->id;
	if ((rc = workers_start(a, cpus, spin)))
		return rc;
	events_arm(a);
	return 0;
}

/* ---- the loop ---------------------------------------------------------------- */

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

/* Stops and joins the worker threads that run: at the end of the shard's
 * loop, or from acceptor_destroy when a later step of the start failed
 * (the shard's thread never ran, its workers did). */
static void stop_workers(struct acceptor *a)
{
	struct http_req stop = { .kind = REQ_STOP };

	for (unsigned w = 0; w < a->nrunning; w++) {
		/* The worker keeps draining, so room appears; bounded wait. */
		for (int tries = 0; !queue_req_push(&a->workers[w].rq, &stop); tries++) {
			if (tries > 100000) {
				log_error("worker %u does not drain its ring",
					  a->first_worker + w);
				abort();
			}
			usleep(100);
		}
		a->wake_pending[w] = true;
	}
	wake_workers(a);
	for (unsigned w = 0; w < a->nrunning; w++)
		worker_join(&a->workers[w]);
	a->nrunning = 0;
}

static void run(struct acceptor *a)
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
}

void *acceptor_thread(void *arg)
{
	struct acceptor *a = arg;
	struct server *s = a->srv;
	uint64_t one = 1;

	pthread_setname_np(pthread_self(), a->cnt.name);
	run(a);
	stop_workers(a);
	/* The control thread joins the shards once every one has said so. */
	__atomic_add_fetch(&s->stopped, 1, __ATOMIC_RELEASE);
	if (write(s->done_fd, &one, sizeof(one)) < 0)
		log_error("shard %u: cannot tell the control thread: %s", a->id,
			  strerror(errno));
	return NULL;
}

void acceptor_destroy(struct acceptor *a)
{
	stop_workers(a);
	for (unsigned i = 0; i < a->ninit; i++)
		worker_destroy(&a->workers[i]);
	a->ninit = 0;
	free(a->wake_pending);
	free(a->blocked_head);
	free(a->blocked_tail);
	queue_doorbell_destroy(&a->bell);
	conn_table_destroy(&a->conns);
	for (unsigned i = 0; i < a->nlisteners; i++)
		if (!a->listeners[i].shared && a->listeners[i].fd >= 0)
			close(a->listeners[i].fd);
	a->nlisteners = 0;
	if (a->ctl_fd >= 0)
		close(a->ctl_fd);
	a->ctl_fd = -1;
	if (a->base)
		event_base_free(a->base);
	a->base = NULL;
}
