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
	SS_200, SS_400, SS_404, SS_405, SS_408, SS_413, SS_417, SS_431, SS_500,
	SS_503, SS_505, SS_OTHER, SS__COUNT
};

/* Latency, log-linear: 16 sub-buckets per power of two (error < 6.25%),
 * from 1 ns to about 2^40 ns (18 minutes). */
#define LAT_SUB_BITS 4
#define LAT_BUCKETS ((40 - LAT_SUB_BITS + 1) * (1 << LAT_SUB_BITS) + (1 << LAT_SUB_BITS))
/* Prometheus buckets (seconds), exact counts; their upper bounds in ns. */
#define PROM_BUCKETS 19
extern const uint64_t prom_le_ns[PROM_BUCKETS];

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
	uint64_t lat_max_ns;
	uint64_t lat[LAT_BUCKETS];
	uint64_t prom[PROM_BUCKETS];  /* counts per le bucket, not cumulative */
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
};

struct counters {
	char name[16];
	int cpu;                      /* -1: not pinned */
	uint16_t index;               /* thread number, stored in heap headers */
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
	uint64_t read_budget_yields;  /* a connection used up its turn */
	uint64_t access_log_dropped;  /* lines lost to a full ring */
	uint64_t draining;            /* 1 from SIGTERM on: /healthz says 503 */
} __attribute__((aligned(64)));


static inline unsigned status_index(unsigned status)
{
	switch (status) {
	case 200: return SS_200;
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

unsigned lat_bucket(uint64_t ns);
/* Lowest value that falls in bucket i. */
uint64_t lat_bucket_low(unsigned i);
void lat_record(struct route_counters *r, uint64_t ns);
/* Value at quantile q (0..1) of a summed histogram (upper half of its
 * bucket); 0 when empty. */
uint64_t lat_quantile(const uint64_t *lat, uint64_t count, double q);

void counters_init(struct counters *t, const char *name, int cpu,
		       uint16_t index);

#endif
