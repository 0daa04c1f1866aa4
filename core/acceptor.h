/* The acceptor thread: one libevent event_base that accepts, reads, frames
 * and hands requests to workers; and the server's lifecycle around it.
 * Three files share this struct, one job each: core/listener.c
 * (listening, accepting), core/connection.c (the per-connection state
 * machine, the workers' notes, timeouts) and core/lifecycle.c (start,
 * loop, reload, tick, drain, stop). */
#ifndef METRICD_CORE_ACCEPTOR_H
#define METRICD_CORE_ACCEPTOR_H

#include <stdbool.h>
#include <stdint.h>

#include <event2/event.h>

#include "core/base/counters.h"
#include "core/cfg.h"
#include "core/reclaim.h"
#include "queue/conn.h"
#include "queue/queue.h"
#include "queue/runtime.h"
#include "workers/accesslog.h"
#include "workers/worker.h"

struct acceptor {
	struct cfg *cfg;             /* runtime fields change on reload */
	int argc;                    /* the command line, re-read on reload */
	char **argv;
	unsigned ncpus;
	struct runtime *rt;          /* RCU-published to the workers */
	struct reclaim reclaim;      /* frees the snapshots reloads replace */
	struct alog alog;            /* access log: a ring per worker */
	struct event_base *base;
	int lfd;
	struct event lev;
	struct event bell_ev;
	struct event sigint_ev, sigterm_ev, sighup_ev;
	struct event retry_ev;       /* re-enable accept after EMFILE */
	struct event drain_ev;       /* shutdown timeout */
	struct event leave_ev;       /* end of --drain-delay */
	struct event sweep_ev;       /* header and idle timeouts */
	struct event tick_ev;        /* service manager: STATUS=, WATCHDOG=1 */
	uint64_t tick_requests;      /* requests answered at the last tick */
	uint64_t tick_ns;
	uint64_t now_ms;             /* CLOCK_MONOTONIC_COARSE, per loop turn */
	uint32_t slot_hw;            /* slots below this were ever used */
	struct conn_table conns;
	struct queue_doorbell bell;
	struct worker *workers;
	unsigned nworkers;
	unsigned ninit;              /* workers initialised (for cleanup) */
	unsigned next_worker;
	bool *wake_pending;          /* per worker, this loop iteration */
	struct conn **blocked_head;  /* per worker: connections waiting for room */
	struct conn **blocked_tail;
	struct conn *ready_head;     /* used up their turn with requests buffered */
	struct conn *ready_tail;
	uint64_t alog_dropped;       /* access-log drops at the last warning */
	uint64_t alog_warned_ms;
	uint32_t live;
	bool leaving;                /* SIGTERM seen, --drain-delay running */
	bool draining;
	int stop_sig;                /* the signal that stops the server */
	/* Set once the shutdown timeout passed: workers stop computing.  Read
	 * by every worker per request; written once, so its line stays
	 * shared-clean until then. */
	unsigned past_deadline __attribute__((aligned(64)));
	/* statistics: this thread's allocations, its counters, and the
	 * registry readers use to see the whole server */
	struct counters cnt;
	struct acceptor_counters ctr;
	uint64_t *ring_high_water;   /* per worker */
	struct telemetry tm;
};

/* Binds the listening socket (port 0 picks one). */
int acceptor_listen(struct acceptor *a, struct cfg *cfg);
/* Allocates connections and starts the workers; pins them per cfg.
 * argc/argv are kept to rebuild the configuration on SIGHUP. */
int acceptor_start(struct acceptor *a, const int *cpus, unsigned ncpus,
		   int argc, char **argv);
/* Runs until SIGINT/SIGTERM and a graceful drain; stops the workers. */
int acceptor_run(struct acceptor *a);
void acceptor_destroy(struct acceptor *a);
/* "127.0.0.1:8080" or "[::1]:8080" of the bound socket. */
int acceptor_local_addr(const struct acceptor *a, char *out, size_t len);

/* ---- between the acceptor's own files (acc__: this module's) ---- */

/* core/connection.c */
void acc__conn_open(struct acceptor *a, int fd, uint32_t slot,
		    const struct sockaddr_in6 *peer);
/* Runs the state machine of c until it must wait. */
void acc__conn_advance(struct acceptor *a, struct conn *c);
/* Once per loop turn: connections that used up their last turn go on. */
void acc__run_ready(struct acceptor *a);
/* At the in-flight limit: true if the worker drained meanwhile and c may
 * go on; false if NOTE_RESUME will come. */
bool acc__pause_pipeline(struct acceptor *a, struct conn *c);
void acc__on_bell(evutil_socket_t fd, short what, void *arg);
void acc__on_sweep(evutil_socket_t fd, short what, void *arg);
/* (Re)arms the timeout sweep for the current header/idle timeouts. */
void acc__sweep_arm(struct acceptor *a);
/* core/listener.c */
void acc__on_accept(evutil_socket_t lfd, short what, void *arg);
void acc__on_accept_retry(evutil_socket_t fd, short what, void *arg);

#endif
