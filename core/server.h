/* SPDX-License-Identifier: BSD-2-Clause */
/* The server: its shards (an acceptor thread and the workers it feeds,
 * core/acceptor.h), what they share, and the control thread that owns the
 * signals (docs/ARCHITECTURE.md, "Threads").
 *
 * Shared by every shard: the running configuration (the control thread
 * changes its live options on SIGHUP; shards read only the others), the
 * runtime snapshot the workers read through RCU, the access log, the
 * connection count --max-conns limits, the shutdown flag, and the
 * telemetry /stats and /metrics read.  The control thread (main's) runs
 * core/control.c: signals, reload, the once-a-second tick, the drain and
 * its deadline; it tells the shards what to do through their control
 * word and eventfd (core/lifecycle.c) and learns that they stopped
 * through its own eventfd. */
#ifndef METRICD_CORE_SERVER_H
#define METRICD_CORE_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#include "core/acceptor.h"
#include "core/cfg.h"
#include "core/placement.h"
#include "core/reclaim.h"
#include "queue/runtime.h"
#include "workers/accesslog.h"
#include "workers/telemetry.h"
#include "workers/worker.h"

struct server {
	struct cfg *cfg;              /* live options change on reload */
	int argc;                     /* the command line, re-read on reload */
	char **argv;
	struct placement place;       /* where each thread runs */
	struct runtime *rt;           /* RCU-published to every worker */
	struct reclaim reclaim;       /* frees the snapshots reloads replace */
	struct alog alog;             /* access log: a ring per worker */
	struct acceptor *shards;
	unsigned nshards;
	unsigned nstarted;            /* shard threads running */
	struct worker *workers;       /* every shard's, by worker number */
	unsigned nworkers;
	/* socket activation: the service manager's sockets, watched by every
	 * shard, closed only when they all stopped (core/listener.c) */
	int inherited[CFG_MAX_LISTEN];
	unsigned ninherited;

	/* the control thread */
	struct event_base *base;
	struct event sigint_ev, sigterm_ev, sighup_ev;
	struct event tick_ev;         /* service manager: STATUS=, WATCHDOG=1 */
	struct event drain_ev;        /* the shutdown deadline */
	struct event leave_ev;        /* the end of --drain-delay */
	struct event done_ev;
	int done_fd;                  /* eventfd: a shard stopped */
	unsigned stopped;             /* shards that stopped (atomic) */
	bool leaving;                 /* SIGTERM seen, --drain-delay running */
	bool draining;
	int stop_sig;                 /* the signal that stops the server */
	uint64_t tick_requests;       /* requests answered at the last tick */
	uint64_t tick_ns;
	uint64_t alog_dropped;        /* access-log drops at the last warning */
	uint64_t alog_warned_ns;

	/* Set once the shutdown timeout passed: workers stop computing.  Read
	 * by every worker per request; written once, so its line stays
	 * shared-clean until then. */
	unsigned past_deadline __attribute__((aligned(64)));
	/* 1 from SIGTERM until exit: /healthz answers 503 (workers/admin.c).
	 * Written once by the control thread, read with relaxed loads: it
	 * publishes nothing else. */
	uint64_t draining_gauge;
	/* Open connections of every shard, against --max-conns: changed per
	 * connection (never per request) by the shards' acceptors. */
	unsigned open_conns __attribute__((aligned(64)));

	/* what /stats and /metrics read */
	struct telemetry tm __attribute__((aligned(64)));
};

/* Binds every shard's listening sockets (port 0 picks one, the same for
 * every shard), or takes the service manager's.  place says how many
 * shards; cfg stays the server's. */
int server_listen(struct server *s, struct cfg *cfg, const struct placement *place);
/* Allocates connections and starts the workers (pinned per the
 * placement) and arms the signals; argc/argv are kept for SIGHUP. */
int server_start(struct server *s, int argc, char **argv);
/* Starts the shards' threads and runs the control thread until SIGINT or
 * SIGTERM and a drain; the shards and their workers have stopped when it
 * returns.  Returns 0 or -errno (a shard thread could not start). */
int server_run(struct server *s);
void server_destroy(struct server *s);
/* "127.0.0.1:8080, [::1]:8080": the addresses bound, in order. */
int server_local_addrs(const struct server *s, char *out, size_t len);
/* Connections accepted by every shard. */
uint64_t server_accepted(const struct server *s);
/* metricd -t: every --listen address resolves and none is given twice.
 * Returns 0 or -EINVAL with a message. */
int server_check_listen(const struct cfg *cfg, char *err, size_t errlen);

#endif
