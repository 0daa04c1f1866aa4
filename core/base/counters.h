/* SPDX-License-Identifier: BSD-2-Clause */
/* Live counters: per thread, summed by readers (workers/telemetry.h).
 *
 * Each thread (the acceptor, every worker) owns one struct counters and
 * is its only writer.  Writers update with relaxed atomic load+store (a
 * plain add on x86: no lock prefix, no fence); readers - the worker that
 * answers /stats or /metrics - load with relaxed atomics and sum.  A reader
 * may see one thread's counters a few requests apart from another's; it
 * never sees a torn value and never slows a writer beyond sharing the cache
 * line it reads.  Each block is cache-line aligned so two writers never
 * share a line. */
#ifndef METRICD_CORE_BASE_COUNTERS_H
#define METRICD_CORE_BASE_COUNTERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Endpoints counted per thread: at least the route table's size
 * (http/routes.def; checked where both are known, workers/worker.c). */
#define COUNTERS_ROUTES 12

#define CNT_ADD(field, n) \
	__atomic_store_n(&(field), __atomic_load_n(&(field), __ATOMIC_RELAXED) + (n), \
			 __ATOMIC_RELAXED)
#define CNT_SET(field, v) __atomic_store_n(&(field), (v), __ATOMIC_RELAXED)
#define CNT_GET(field) __atomic_load_n(&(field), __ATOMIC_RELAXED)

/* Status codes counted separately; others go to SS_OTHER. */
enum counted_status {
	SS_200, SS_304, SS_400, SS_404, SS_405, SS_408, SS_413, SS_417, SS_431, SS_500,
	SS_503, SS_505, SS_OTHER, SS__COUNT
};

/* Latency buckets: five a decade, the R5 preferred numbers (1, 1.6, 2.5,
 * 4, 6.3 times a power of ten), upper bounds from 100 ns to 10 s, and one
 * bucket more for what is slower.  Bucket i counts the latencies ns with
 * bound[i-1] < ns <= bound[i]: Prometheus's `le`, so /metrics's _bucket
 * series are these counts added up, and /stats's percentiles come from
 * the same buckets (workers/telemetry.c).  Neighbouring bounds are at
 * least 1.56x apart, so no more than two lie within one power of two:
 * lat_record finds a bucket with a count of leading zeros, a table look-up
 * and two comparisons (core/base/counters.c).
 *
 * LAT_BOUNDS_LIST(X, a): X(bound in ns, the bound in seconds as /metrics
 * writes it, a) for each bound, in order. */
#define LAT_BOUNDS_LIST(X, a) \
	X(100ull,           "1e-07",   a) \
	X(160ull,           "1.6e-07", a) \
	X(250ull,           "2.5e-07", a) \
	X(400ull,           "4e-07",   a) \
	X(630ull,           "6.3e-07", a) \
	X(1000ull,          "1e-06",   a) \
	X(1600ull,          "1.6e-06", a) \
	X(2500ull,          "2.5e-06", a) \
	X(4000ull,          "4e-06",   a) \
	X(6300ull,          "6.3e-06", a) \
	X(10000ull,         "1e-05",   a) \
	X(16000ull,         "1.6e-05", a) \
	X(25000ull,         "2.5e-05", a) \
	X(40000ull,         "4e-05",   a) \
	X(63000ull,         "6.3e-05", a) \
	X(100000ull,        "0.0001",  a) \
	X(160000ull,        "0.00016", a) \
	X(250000ull,        "0.00025", a) \
	X(400000ull,        "0.0004",  a) \
	X(630000ull,        "0.00063", a) \
	X(1000000ull,       "0.001",   a) \
	X(1600000ull,       "0.0016",  a) \
	X(2500000ull,       "0.0025",  a) \
	X(4000000ull,       "0.004",   a) \
	X(6300000ull,       "0.0063",  a) \
	X(10000000ull,      "0.01",    a) \
	X(16000000ull,      "0.016",   a) \
	X(25000000ull,      "0.025",   a) \
	X(40000000ull,      "0.04",    a) \
	X(63000000ull,      "0.063",   a) \
	X(100000000ull,     "0.1",     a) \
	X(160000000ull,     "0.16",    a) \
	X(250000000ull,     "0.25",    a) \
	X(400000000ull,     "0.4",     a) \
	X(630000000ull,     "0.63",    a) \
	X(1000000000ull,    "1",       a) \
	X(1600000000ull,    "1.6",     a) \
	X(2500000000ull,    "2.5",     a) \
	X(4000000000ull,    "4",       a) \
	X(6300000000ull,    "6.3",     a) \
	X(10000000000ull,   "10",      a)
#define LAT_BOUNDS 41
#define LAT_BUCKETS (LAT_BOUNDS + 1)
/* The bounds in ns, and UINT64_MAX for the last bucket's. */
extern const uint64_t lat_bound_ns[LAT_BUCKETS];

struct route_counters {
	uint64_t requests;
	uint64_t status[SS__COUNT];
	/* the global allocator, as used by this thread for this endpoint */
	uint64_t allocs;
	uint64_t alloc_bytes;
	uint64_t frees;
	uint64_t xthread_frees;       /* freed here, allocated on another thread */
	uint64_t alloc_cycles;        /* time inside malloc/free, TSC cycles */
	/* latency: framed by the acceptor → handed to the kernel */
	uint64_t lat_sum_ns;
	uint64_t lat_min_ns;          /* UINT64_MAX until the first */
	uint64_t lat_max_ns;
	uint64_t lat[LAT_BUCKETS];    /* counts per bucket, not cumulative */
};

/* Worker facts published once per batch. */
struct worker_counters {
	uint64_t batches;
	uint64_t wakeups;
	uint64_t sleeps;
	uint64_t partial_writes;
	uint64_t write_errors;
	uint64_t slab_last_batch_bytes;
	uint64_t slab_high_water;
	uint64_t slab_resets;
	uint64_t slab_overflows;
	uint64_t slab_size;
	uint64_t tail_blocks_in_use;
	uint64_t tail_blocks_unmapped;    /* given back to the system */
	uint64_t conns_with_tail;
	uint64_t held;                /* requests put off: over max-unsent */
	uint64_t dropped;             /* requests not computed: peer gone */
	uint64_t send_timeouts;       /* connections closed by send-timeout */
	uint64_t shutdown_refused;    /* 503 past the shutdown timeout */
	uint64_t spins_caught;        /* idle spins that work ended */
	uint64_t spins_slept;         /* idle spins that ended in a sleep */
};

struct counters {
	char name[16];
	int cpu;                      /* -1: not pinned */
	uint16_t index;               /* thread number, stored in heap headers */
	uint16_t shard;               /* the thread's shard (acceptor) */
	bool spin;                    /* a worker that may spin */
	struct route_counters route[COUNTERS_ROUTES];
	struct worker_counters w;
} __attribute__((aligned(64)));

struct acceptor_counters {
	uint64_t accepted;
	uint64_t rejected_full;
	uint64_t accept_paused;
	uint64_t ring_full;
	uint64_t pipeline_pauses;
	uint64_t wakes;
	uint64_t open;
	uint64_t header_timeouts;     /* 408 sent */
	uint64_t idle_closes;
	uint64_t resets;              /* peers that reset: requests dropped */
	uint64_t closed_unused;       /* closed by the acceptor: no request */
	uint64_t bytes_read;
	uint64_t frame_bytes_examined;    /* by the framer: linear, <= 3x read */
	uint64_t heads_plain;         /* framed without http-parser */
	uint64_t read_budget_yields;  /* a connection used up its turn */
	uint64_t access_log_text_dropped;  /* requests logged without their
					    * text: the text ring was full */
	uint64_t reloads;             /* reloads this acceptor applied */
} __attribute__((aligned(64)));


static inline unsigned status_index(unsigned status)
{
	switch (status) {
	case 200: return SS_200;
	case 304: return SS_304;
	case 400: return SS_400;
	case 404: return SS_404;
	case 405: return SS_405;
	case 408: return SS_408;
	case 413: return SS_413;
	case 417: return SS_417;
	case 431: return SS_431;
	case 500: return SS_500;
	case 503: return SS_503;
	case 505: return SS_505;
	default: return SS_OTHER;
	}
}

/* The bucket ns falls in. */
unsigned lat_bucket(uint64_t ns);
void lat_record(struct route_counters *r, uint64_t ns);
/* The latency (ns) at quantile q (0..1) of a histogram whose latencies
 * lie between min and max: interpolated within its bucket the way
 * Prometheus's histogram_quantile does, then kept within [min, max] (a
 * bucket's upper part may lie above every latency it holds).  0 when the
 * histogram is empty. */
double lat_quantile(const uint64_t lat[LAT_BUCKETS], uint64_t min, uint64_t max,
		    double q);

void counters_init(struct counters *t, const char *name, int cpu,
		       uint16_t index);

#endif
