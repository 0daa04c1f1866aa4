/* SPDX-License-Identifier: BSD-2-Clause */
/* What readers (the worker answering /stats or /metrics) need to see the
 * whole server, and the two writers. */
#ifndef METRICD_WORKERS_TELEMETRY_H
#define METRICD_WORKERS_TELEMETRY_H

#include <stddef.h>
#include <stdint.h>

#include "core/base/counters.h"

struct alog;
struct queue_req;

/* Immutable after start.  A shard is an acceptor and the workers it
 * feeds; each counters block says its thread's shard and CPU. */
struct telemetry {
	unsigned nworkers;
	unsigned nshards;
	struct counters **acceptors;            /* nshards: each acceptor thread's */
	struct acceptor_counters **accs;        /* nshards */
	struct counters **workers;              /* nworkers */
	struct queue_req **rings;               /* nworkers, for live depth */
	uint64_t *ring_high_water;              /* nworkers, acceptor-written */
	const struct alog *alog;                /* its drops; NULL: none */
	const uint64_t *draining;               /* 1 from SIGTERM on (relaxed);
						 * NULL: never */
	uint64_t start_ns;                      /* CLOCK_MONOTONIC */
	uint64_t start_unix_ns;                 /* proc_start_unix_ns(); 0: unknown */
	const char *allocator;                  /* proc_allocator(); NULL: unknown */
};

/* 1 from SIGTERM until exit (/healthz then answers 503), else 0. */
uint64_t telemetry_draining(const struct telemetry *tm);

/* Both write into out (cap bytes) and return the length, or 0 when it does
 * not fit.  They allocate nothing (the process figures are read from /proc
 * into the stack, core/base/proc.h). */
size_t telemetry_write_json(const struct telemetry *tm, char *out, size_t cap);
size_t telemetry_write_prometheus(const struct telemetry *tm, char *out,
				  size_t cap);

#endif
