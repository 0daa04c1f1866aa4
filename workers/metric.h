/* SPDX-License-Identifier: BSD-2-Clause */
/* The records both paths serve, as in the Go lesson: Metric and
 * RequestStats.  Pure functions; where the records live is up to the caller,
 * which is the whole difference between stack.c and heap.c. */
#ifndef METRICD_WORKERS_METRIC_H
#define METRICD_WORKERS_METRIC_H

#include <stdint.h>

struct metric {
	uint64_t id;
	int64_t timestamp;     /* CLOCK_REALTIME, ns */
	double value;
};

struct request_stats {
	uint64_t id;
	int64_t timestamp;
	int64_t duration_ns;
	int status;
};

#define STATS_BUILT_NS 10000000    /* 10 ms: as built */
#define STATS_VALUE_NS 12000000    /* 12 ms: the value path's modified copy */
#define STATS_POINTER_NS 15000000  /* 15 ms: the pointer path, in place */

/* Deterministic in (id, work): work iterations of the logistic map feed it,
 * so a client can model heavier requests. */
double metric_value(uint64_t id, uint64_t work);
int64_t metric_now_ns(void);

#endif
