/* SPDX-License-Identifier: BSD-2-Clause */
/* A shard: one acceptor thread - one libevent event_base that accepts,
 * reads, frames and hands requests to its workers - and the workers it
 * feeds (docs/ARCHITECTURE.md, "Threads").  Each shard has its own
 * listening sockets (SO_REUSEPORT spreads connections over the shards),
 * its own connection table, its own rings and doorbell; the ownership
 * rules hold inside each shard, and nothing of a connection ever crosses
 * to another.  Three files share this struct, one job each:
 * core/listener.c (listening, accepting), core/connection.c (the
 * per-connection state machine, the workers' notes, timeouts) and
 * core/lifecycle.c (start, loop, the control thread's commands, drain,
 * stop).  What the shards share is core/server.h's. */
#ifndef METRICD_CORE_ACCEPTOR_H
#define METRICD_CORE_ACCEPTOR_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#include "core/base/counters.h"
#include "core/cfg.h"
#include "queue/conn.h"
#include "queue/queue.h"
#include "workers/worker.h"

struct server;

/* Commands from the control thread (core/control.c), OR-ed into the
 * shard's control word, then its eventfd is written. */
enum acc_ctl {
	ACC_CTL_RELOAD = 1,           /* the live timeouts changed */
	ACC_CTL_DRAIN = 2,            /* SIGTERM: stop accepting, drain */
	ACC_CTL_DEADLINE = 4,         /* the shutdown timeout passed: stop */
};

struct listener {
	int fd;
	bool shared;                  /* the service manager's: not ours to close */
	struct event ev;
};

struct acceptor {
	unsigned id;                  /* the shard's number */
	struct server *srv;
	/* The server's configuration: only the options a reload cannot change
	 * are read here (the control thread writes the live ones); the live
	 * ones a shard needs come with ACC_CTL_RELOAD, below. */
	const struct cfg *cfg;
	int cpu;                      /* -1: not pinned */
	pthread_t thread;
	struct event_base *base;
	struct listener listeners[CFG_MAX_LISTEN];
	unsigned nlisteners;
	struct event bell_ev;
	struct event ctl_ev;
	struct event retry_ev;        /* re-enable accept after EMFILE */
	struct event sweep_ev;        /* header and idle timeouts */
	int ctl_fd;                   /* eventfd: the control thread rang */
	uint64_t now_ms;              /* CLOCK_MONOTONIC_COARSE, per loop turn */
	uint32_t slot_hw;             /* slots below this were ever used */
	struct conn_table conns;
	struct queue_doorbell bell;
	struct worker *workers;       /* this shard's, in the server's array */
	unsigned nworkers;
	unsigned first_worker;        /* the number of workers[0] */
	unsigned ninit;               /* workers initialised (for cleanup) */
	unsigned nrunning;            /* worker threads started, not yet
				       * stopped and joined */
	unsigned next_worker;
	bool *wake_pending;           /* per worker, this loop iteration */
	struct conn **blocked_head;   /* per worker: connections waiting for room */
	struct conn **blocked_tail;
	struct conn *ready_head;      /* used up their turn with requests buffered */
	struct conn *ready_tail;
	uint32_t live;
	unsigned *open_total;         /* every shard's connections (server's) */
	bool draining;
	/* statistics: this thread's allocations, its counters */
	struct counters cnt;
	struct acceptor_counters ctr;
	uint64_t *ring_high_water;    /* per worker */

	/* Written by the control thread, read by this one: atomics. */
	unsigned ctl __attribute__((aligned(64)));
	unsigned header_timeout_ms;   /* live: --header-timeout */
	unsigned idle_timeout_ms;     /* live: --idle-timeout */
	unsigned access_log_on;       /* live: --access-log is set (the
				       * acceptor then copies each request's
				       * text for it) */
} __attribute__((aligned(64)));

/* ---- for the server (core/server.h) ---- */

/* Binds shard a's sockets for every --listen address; the server's first
 * shard picks the port for port 0, the others take the same. */
int acceptor_listen(struct acceptor *a, const struct cfg *cfg, const struct acceptor *first);
/* The event base, the connection table, the doorbell; the workers
 * (already in place in a->workers) are initialised and started. */
int acceptor_start(struct acceptor *a, const int *cpus, const bool *spin);
/* The shard's thread: runs until the drain ends or the deadline, then
 * stops its workers and tells the control thread. */
void *acceptor_thread(void *arg);
/* From the control thread: OR cmd into the control word, ring. */
void acceptor_command(struct acceptor *a, unsigned cmd);
void acceptor_destroy(struct acceptor *a);
/* "127.0.0.1:8080" or "[::1]:8080" of a bound socket. */
int acceptor_addr_text(int fd, char *out, size_t len);

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
/* Watches (or stops watching) every listening socket. */
void acc__listen_events(struct acceptor *a, bool on);
/* SIGTERM: stops watching and closes the shard's own sockets. */
void acc__listen_close(struct acceptor *a);

#endif
