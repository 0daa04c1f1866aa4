/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests for workers/telemetry.c and core/base/counters.c: the latency
 * histogram, and the /stats (JSON) and /metrics (Prometheus text) writers
 * over a registry built by hand with known counts.  The output is parsed
 * back - the JSON with blast's parser (tools/blast/json.c), the Prometheus
 * text line by line here - and compared with what went in; buckets are
 * checked against bounds this file works out itself and against the
 * samples, percentiles against the samples and against values worked out
 * by hand, not against the histogram's own arithmetic. */
#include "config.h"

#include <check.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "core/base/clock.h"
#include "core/base/counters.h"
#include "workers/telemetry.h"
#include "http/route.h"
#include "queue/queue.h"
#include "tools/blast/json.h"
#include "workers/accesslog.h"

#define NW 3
#define NS 2              /* shards: workers 0 and 1 in the first, 2 in the second */

struct fixture {
	struct counters acc_st[NS];
	struct counters *acceptors[NS];
	struct counters wst[NW];
	struct counters *workers[NW];
	struct queue_req rings[NW];
	struct queue_req *ringp[NW];
	uint64_t ring_hw[NW];
	struct acceptor_counters acc[NS];
	struct acceptor_counters *accs[NS];
	struct alog_ring alog_rings[2];
	struct alog alog;
	uint64_t draining;
	struct telemetry tm;
};

static struct fixture *fx;

/* Samples (ns) recorded on /metric-stack, spread over the workers. */
static const uint64_t samples[] = {
	900, 4000, 9999, 10000, 10001, 24000, 30000, 75000, 120000, 400000,
	999999, 1000000, 2000000, 7000000, 30000000, 600000000, 3000000000ull,
	9000000000ull, 20000000000ull, 55000,
};
#define NSAMPLES (sizeof(samples) / sizeof(samples[0]))

static void setup(void)
{
	fx = aligned_alloc(64, sizeof(*fx));
	memset(fx, 0, sizeof(*fx));
	for (unsigned a = 0; a < NS; a++) {
		counters_init(&fx->acc_st[a], "acc", a ? -1 : 3, (uint16_t)a);
		fx->acc_st[a].shard = (uint16_t)a;
		fx->acceptors[a] = &fx->acc_st[a];
		fx->accs[a] = &fx->acc[a];
	}
	for (unsigned w = 0; w < NW; w++) {
		char name[16];

		snprintf(name, sizeof(name), "w%u", w);
		counters_init(&fx->wst[w], name, w == 1 ? -1 : (int)w + 4, (uint16_t)(w + NS));
		fx->wst[w].shard = w == 2;
		fx->wst[w].spin = w == 0;
		fx->workers[w] = &fx->wst[w];
		ck_assert_int_eq(queue_req_init(&fx->rings[w], 8), 0);
		fx->ringp[w] = &fx->rings[w];
	}
	/* Known counts.  /metric-stack: 5 + 3 + 2 requests on the workers. */
	struct route_counters *r;
	r = &fx->wst[0].route[ROUTE_METRIC_STACK];
	r->requests = 5; r->status[SS_200] = 4; r->status[SS_404] = 1;
	r = &fx->wst[1].route[ROUTE_METRIC_STACK];
	r->requests = 3; r->status[SS_200] = 2; r->status[SS_503] = 1;
	r = &fx->wst[2].route[ROUTE_METRIC_STACK];
	r->requests = 2; r->status[SS_OTHER] = 2;
	/* /metric-heap: allocations on the acceptors (1 per request) and on
	 * the workers (2 per request), frees on the workers. */
	for (unsigned a = 0; a < NS; a++) {
		fx->acc_st[a].route[ROUTE_METRIC_HEAP].allocs = 2;
		fx->acc_st[a].route[ROUTE_METRIC_HEAP].alloc_bytes = 2 * 24;
		fx->acc_st[a].route[ROUTE_METRIC_HEAP].alloc_cycles = 500;
	}
	r = &fx->wst[2].route[ROUTE_METRIC_HEAP];
	r->requests = 4; r->status[SS_200] = 4;
	r->allocs = 8; r->alloc_bytes = 4 * (192 + 24); r->frees = 12;
	r->xthread_frees = 4; r->alloc_cycles = 3000;
	for (size_t i = 0; i < NSAMPLES; i++)
		lat_record(&fx->wst[i % NW].route[ROUTE_METRIC_STACK], samples[i]);
	/* Worker facts. */
	fx->wst[0].w.batches = 11; fx->wst[1].w.batches = 22; fx->wst[2].w.batches = 33;
	fx->wst[1].w.partial_writes = 7;
	fx->wst[2].w.held = 9; fx->wst[2].w.dropped = 10;
	fx->wst[0].w.send_timeouts = 2; fx->wst[0].w.shutdown_refused = 1;
	fx->wst[1].w.slab_high_water = 4096; fx->wst[1].w.slab_size = 524288;
	fx->wst[2].w.conns_with_tail = 3; fx->wst[2].w.tail_blocks_in_use = 5;
	fx->wst[2].w.tail_blocks_unmapped = 6;
	/* Ring 1 holds 3 descriptors now; it once held 6. */
	struct http_req d = { .kind = REQ_HTTP };
	for (int i = 0; i < 3; i++)
		ck_assert(queue_req_push(&fx->rings[1], &d));
	fx->ring_hw[1] = 6;
	fx->wst[0].w.spins_caught = 13; fx->wst[0].w.spins_slept = 14;
	/* The acceptors: 60 + 40 accepted, 4 + 2 open, the rest on one. */
	fx->acc[0] = (struct acceptor_counters){
		.accepted = 60, .rejected_full = 2, .accept_paused = 1, .ring_full = 3,
		.pipeline_pauses = 4, .wakes = 5, .open = 4, .header_timeouts = 7,
		.idle_closes = 8, .resets = 9, .closed_unused = 10, .bytes_read = 12345,
		.frame_bytes_examined = 23456, .read_budget_yields = 11, .reloads = 1,
		.access_log_text_dropped = 13, .heads_plain = 14,
	};
	fx->acc[1] = (struct acceptor_counters){ .accepted = 40, .open = 2, .reloads = 1 };
	/* Access-log lines dropped: 5 + 7, counted by the workers' rings. */
	fx->alog_rings[0].dropped = 5;
	fx->alog_rings[1].dropped = 7;
	fx->alog.rings = fx->alog_rings;
	fx->alog.nrings = 2;
	fx->draining = 1;                       /* SIGTERM seen */
	fx->tm = (struct telemetry){
		.nworkers = NW, .nshards = NS, .acceptors = fx->acceptors, .accs = fx->accs,
		.workers = fx->workers, .rings = fx->ringp, .ring_high_water = fx->ring_hw,
		.alog = &fx->alog, .draining = &fx->draining, .start_ns = clock_mono_ns(),
		.start_unix_ns = 1700000000123456789ull,
		.allocator = "lib\"odd\\name\n\001.so",
	};
}

static void teardown(void)
{
	for (unsigned w = 0; w < NW; w++)
		queue_req_destroy(&fx->rings[w]);
	free(fx);
}

/* ---- the histogram ------------------------------------------------------- */

/* The bounds, worked out here: 1, 1.6, 2.5, 4 and 6.3 times each power of
 * ten from 100 ns to 1 s, then 10 s. */
static uint64_t bound(unsigned i)
{
	static const uint64_t r5[] = { 10, 16, 25, 40, 63 };
	uint64_t decade = 10;           /* 100 ns = 10 x 10 */

	if (i == LAT_BOUNDS - 1)
		return 10000000000ull;
	for (unsigned d = 0; d < i / 5; d++)
		decade *= 10;
	return r5[i % 5] * decade;
}

/* The bucket v belongs in, by a linear search over bound(). */
static unsigned bucket_of(uint64_t v)
{
	unsigned i = 0;

	while (i < LAT_BOUNDS && v > bound(i))
		i++;
	return i;
}

START_TEST(bounds_are_r5_from_100ns_to_10s)
{
	ck_assert_uint_eq(LAT_BOUNDS, 41);
	for (unsigned i = 0; i < LAT_BOUNDS; i++)
		ck_assert_msg(lat_bound_ns[i] == bound(i), "bound %u: %llu, not %llu", i,
			      (unsigned long long)lat_bound_ns[i],
			      (unsigned long long)bound(i));
	ck_assert_uint_eq(lat_bound_ns[0], 100);
	ck_assert_uint_eq(lat_bound_ns[LAT_BOUNDS - 1], 10000000000ull);
	ck_assert_uint_eq(lat_bound_ns[LAT_BOUNDS], UINT64_MAX);
}
END_TEST

/* Every value lands where the linear search says: around every bound and
 * every power of two (where the look-up table changes), and a sweep. */
START_TEST(buckets_hold_their_values)
{
	for (unsigned i = 0; i < LAT_BOUNDS; i++)
		for (uint64_t v = bound(i) - 2; v <= bound(i) + 2; v++)
			ck_assert_msg(lat_bucket(v) == bucket_of(v), "%llu: bucket %u, not %u",
				      (unsigned long long)v, lat_bucket(v), bucket_of(v));
	for (unsigned o = 0; o < 64; o++) {
		uint64_t p = 1ull << o;

		for (uint64_t v = p > 2 ? p - 2 : 0; v <= p + 2 && v >= p / 2; v++)
			ck_assert_msg(lat_bucket(v) == bucket_of(v), "%llu: bucket %u, not %u",
				      (unsigned long long)v, lat_bucket(v), bucket_of(v));
	}
	for (uint64_t v = 0; v < (1ull << 40); v = v < 64 ? v + 1 : v + v / 7 + 3)
		ck_assert_uint_eq(lat_bucket(v), bucket_of(v));
	/* 100 ns and less: the first bucket; past 10 s: the last. */
	ck_assert_uint_eq(lat_bucket(0), 0);
	ck_assert_uint_eq(lat_bucket(100), 0);
	ck_assert_uint_eq(lat_bucket(101), 1);
	ck_assert_uint_eq(lat_bucket(250), 2);
	ck_assert_uint_eq(lat_bucket(251), 3);
	ck_assert_uint_eq(lat_bucket(10000000000ull), LAT_BOUNDS - 1);
	ck_assert_uint_eq(lat_bucket(10000000001ull), LAT_BUCKETS - 1);
	ck_assert_uint_eq(lat_bucket(UINT64_MAX), LAT_BUCKETS - 1);
}
END_TEST

START_TEST(record_keeps_min_max_and_sum)
{
	struct counters *c = aligned_alloc(64, sizeof(*c));
	struct route_counters *r = &c->route[ROUTE_METRIC_HEAP];

	counters_init(c, "t", -1, 0);
	ck_assert_uint_eq(r->lat_min_ns, UINT64_MAX);       /* none yet */
	lat_record(r, 5000);
	lat_record(r, 250);
	lat_record(r, 20000000000ull);
	ck_assert_uint_eq(r->lat_min_ns, 250);
	ck_assert_uint_eq(r->lat_max_ns, 20000000000ull);
	ck_assert_uint_eq(r->lat_sum_ns, 20000005250ull);
	ck_assert_uint_eq(r->lat[2], 1);
	ck_assert_uint_eq(r->lat[9], 1);                    /* 4 us < 5 us <= 6.3 us */
	ck_assert_uint_eq(r->lat[LAT_BUCKETS - 1], 1);
	ck_assert_uint_eq(c->route[ROUTE_METRIC_STACK].lat_min_ns, UINT64_MAX);
	free(c);
}
END_TEST

/* The sample at rank ceil(q n), sorted. */
static uint64_t true_quantile(double q)
{
	uint64_t v[NSAMPLES];
	size_t rank = (size_t)ceil(q * NSAMPLES);

	memcpy(v, samples, sizeof(v));
	for (size_t i = 1; i < NSAMPLES; i++)
		for (size_t j = i; j > 0 && v[j - 1] > v[j]; j--) {
			uint64_t t = v[j];
			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	return v[(rank ? rank : 1) - 1];
}

static uint64_t samples_min(void)
{
	uint64_t m = UINT64_MAX;

	for (size_t i = 0; i < NSAMPLES; i++)
		m = samples[i] < m ? samples[i] : m;
	return m;
}

static uint64_t samples_max(void)
{
	uint64_t m = 0;

	for (size_t i = 0; i < NSAMPLES; i++)
		m = samples[i] > m ? samples[i] : m;
	return m;
}

/* A percentile is in the bucket of the sample at its rank (the bucket's
 * bounds, or that sample itself past the last bound) and between the
 * smallest and the largest sample (give or take tol ns: rounding). */
static void assert_in_its_bucket(double got_ns, double q, double tol)
{
	uint64_t want = true_quantile(q);
	unsigned b = bucket_of(want);
	double lo = b ? (double)bound(b - 1) : 0;
	double hi = b < LAT_BOUNDS ? (double)bound(b) : (double)samples_max();

	ck_assert_msg(got_ns >= lo - tol && got_ns <= hi + tol,
		      "q %.3f: %.1f ns outside (%.0f, %.0f], the bucket of the sample %llu",
		      q, got_ns, lo, hi, (unsigned long long)want);
	ck_assert(got_ns >= (double)samples_min() - tol &&
		  got_ns <= (double)samples_max() + tol);
}

START_TEST(quantiles_in_the_samples_bucket)
{
	uint64_t lat[LAT_BUCKETS] = { 0 };
	static const double qs[] = { 0, 0.01, 0.25, 0.5, 0.9, 0.99, 0.999, 1.0 };

	for (size_t i = 0; i < NSAMPLES; i++)
		lat[bucket_of(samples[i])]++;
	for (size_t k = 0; k < sizeof(qs) / sizeof(qs[0]); k++)
		assert_in_its_bucket(lat_quantile(lat, samples_min(), samples_max(), qs[k]),
				     qs[k], 0);
	ck_assert(lat_quantile(lat, samples_min(), samples_max(), 1.0) == (double)samples_max());
	ck_assert(lat_quantile(lat, samples_min(), samples_max(), 0) == (double)samples_min());
	memset(lat, 0, sizeof(lat));
	ck_assert(lat_quantile(lat, 0, 0, 0.5) == 0);
}
END_TEST

/* Within a bucket, as Prometheus's histogram_quantile: 4 latencies in
 * (2.5 us, 4 us]; the median's rank is 2 of 4, half way through the
 * bucket: 2500 + 1500 x 2/4 = 3250 ns.  q 0.99: 2500 + 1500 x 3.96/4 =
 * 3985 ns, above the largest (3950): 3950.  q 0.01: 2515 ns, below the
 * smallest (2600): 2600. */
START_TEST(quantiles_interpolate_then_clamp)
{
	uint64_t lat[LAT_BUCKETS] = { 0 };

	lat[bucket_of(2600)] = 4;
	ck_assert_uint_eq(bucket_of(2600), bucket_of(3950));
	ck_assert(fabs(lat_quantile(lat, 2600, 3950, 0.5) - 3250) < 1e-6);
	ck_assert(fabs(lat_quantile(lat, 2600, 3950, 0.75) - 3625) < 1e-6);
	ck_assert(lat_quantile(lat, 2600, 3950, 0.99) == 3950);
	ck_assert(lat_quantile(lat, 2600, 3950, 0.01) == 2600);
	/* Two buckets: 1 latency in (1 us, 1.6 us], 3 in (4 us, 6.3 us]; p50's
	 * rank 2 is the first of the 3: 4000 + 2300 x 1/3. */
	memset(lat, 0, sizeof(lat));
	lat[bucket_of(1500)] = 1;
	lat[bucket_of(5000)] = 3;
	ck_assert(fabs(lat_quantile(lat, 1500, 6000, 0.5) - (4000 + 2300.0 / 3)) < 1e-6);
	/* Past 10 s only the largest is known. */
	memset(lat, 0, sizeof(lat));
	lat[LAT_BUCKETS - 1] = 2;
	ck_assert(lat_quantile(lat, 11000000000ull, 12000000000ull, 0.5) == 12000000000.0);
}
END_TEST

/* Regression: /stats said p90 71.68 us with max 69.688 us - the midpoint
 * of the bucket that held the largest latencies, above all of them.  85
 * latencies of 30 us and 15 of 69.688 us, in (63 us, 100 us]: from the
 * 86th rank up the interpolation climbs through that bucket, and from p90
 * (63 + 37 x 5/15 = 75.3 us) it would pass the largest latency: 69.688 us
 * then, never more. */
START_TEST(percentiles_never_exceed_max)
{
	struct counters *c = aligned_alloc(64, sizeof(*c));
	struct route_counters *r = &c->route[ROUTE_METRIC_STACK];
	static const double qs[] = { 0.86, 0.9, 0.95, 0.99, 0.999, 1.0 };

	counters_init(c, "t", -1, 0);
	for (int i = 0; i < 85; i++)
		lat_record(r, 30000);
	for (int i = 0; i < 15; i++)
		lat_record(r, 69688);
	for (size_t k = 0; k < sizeof(qs) / sizeof(qs[0]); k++) {
		double v = lat_quantile(r->lat, r->lat_min_ns, r->lat_max_ns, qs[k]);

		ck_assert_msg(v <= 69688 && v > 63000, "q %.3f: %.3f", qs[k], v);
		if (qs[k] >= 0.9)
			ck_assert_msg(v == 69688, "q %.3f: %.3f", qs[k], v);
	}
	/* ... and the median is in (25 us, 40 us], at least the smallest. */
	double p50 = lat_quantile(r->lat, r->lat_min_ns, r->lat_max_ns, 0.5);
	ck_assert(p50 >= 30000 && p50 <= 40000);
	free(c);
}
END_TEST

START_TEST(status_index_buckets)
{
	static const unsigned codes[] = { 200, 304, 400, 404, 405, 408, 413, 417,
					  431, 500, 503, 505 };
	bool seen[SS__COUNT] = { false };

	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		unsigned s = status_index(codes[i]);

		ck_assert_uint_lt(s, SS_OTHER);
		ck_assert(!seen[s]);
		seen[s] = true;
	}
	ck_assert_uint_eq(status_index(302), SS_OTHER);
	ck_assert_uint_eq(status_index(0), SS_OTHER);
}
END_TEST

START_TEST(clock_calibration)
{
	clock_calibrate();
	/* Cycles of a TSC between 0.1 and 10 GHz. */
	ck_assert(clock_ns_per_cycle() > 0.1 && clock_ns_per_cycle() < 10);
}
END_TEST

/* ---- /stats -------------------------------------------------------------- */

static struct json *json_of_registry(void)
{
	size_t cap = 1 << 16, n;
	char *buf = malloc(cap), err[128];
	struct json *j;

	n = telemetry_write_json(&fx->tm, buf, cap);
	ck_assert_uint_gt(n, 0);
	ck_assert(buf[n - 1] == '\n');
	j = json_parse(buf, n, err, sizeof(err));
	ck_assert_msg(j != NULL, "not JSON: %s", err);
	free(buf);
	return j;
}

static const struct json *path(const struct json *j, const char *a, const char *b)
{
	const struct json *v = json_get(j, a);

	ck_assert_msg(v != NULL, "no %s", a);
	if (b) {
		v = json_get(v, b);
		ck_assert_msg(v != NULL, "no %s.%s", a, b);
	}
	return v;
}

START_TEST(json_counts)
{
	struct json *j = json_of_registry();
	const struct json *ep = path(j, "endpoints", "/metric-stack");
	const struct json *heap = path(j, "endpoints", "/metric-heap");

	ck_assert_uint_eq(json_get_u64(j, "workers", 0), NW);
	ck_assert(json_get_num(j, "uptime_s", -1) >= 0);
	/* Every endpoint is there, in route order. */
	const struct json *eps = path(j, "endpoints", NULL);
	ck_assert_uint_eq(eps->n, ROUTE__COUNT);
	for (unsigned r = 0; r < ROUTE__COUNT; r++)
		ck_assert_str_eq(eps->keys[r], http_route_name((enum http_route)r));
	ck_assert_uint_eq(json_get_u64(ep, "requests", 0), 10);
	const struct json *resp = json_get(ep, "responses");
	ck_assert_uint_eq(resp->n, 4);          /* only the codes that occurred */
	ck_assert_uint_eq(json_get_u64(resp, "200", 0), 6);
	ck_assert_uint_eq(json_get_u64(resp, "404", 0), 1);
	ck_assert_uint_eq(json_get_u64(resp, "503", 0), 1);
	ck_assert_uint_eq(json_get_u64(resp, "other", 0), 2);
	ck_assert_uint_eq(json_get_u64(ep, "allocs", 1), 0);
	/* The heap endpoint: summed over the acceptor and the workers. */
	ck_assert_uint_eq(json_get_u64(heap, "requests", 0), 4);
	ck_assert_uint_eq(json_get_u64(heap, "allocs", 0), 12);
	ck_assert_uint_eq(json_get_u64(heap, "frees", 0), 12);
	ck_assert_uint_eq(json_get_u64(heap, "cross_thread_frees", 0), 4);
	ck_assert_uint_eq(json_get_u64(heap, "alloc_bytes", 0), 4 * 24 + 4 * 216);
	ck_assert(json_get_num(heap, "allocs_per_request", 0) == 3.0);
	ck_assert(json_get_num(heap, "frees_per_request", 0) == 3.0);
	ck_assert(json_get_num(heap, "cross_thread_frees_per_request", 0) == 1.0);
	ck_assert(json_get_num(heap, "bytes_per_request", 0) == 240.0);
	ck_assert(fabs(json_get_num(heap, "allocator_ns_per_request", 0) -
		       4000 * clock_ns_per_cycle() / 4) < 0.001);
	/* No requests: ratios are 0, not a division by zero. */
	const struct json *hz = path(j, "endpoints", "/healthz");
	ck_assert(json_get_num(hz, "allocs_per_request", -1) == 0);
	ck_assert(json_get_num(path(hz, "latency_us", NULL), "p99", -1) == 0);
	json_free(j);
}
END_TEST

/* latency_us: min, mean, the percentiles under the names blast --json
 * uses too, max - in that order, nothing else. */
START_TEST(json_latency)
{
	struct json *j = json_of_registry();
	const struct json *lat = path(path(j, "endpoints", "/metric-stack"), "latency_us", NULL);
	static const char *const keys[] = { "min", "mean", "p50", "p90", "p99", "p99_9", "max" };
	static const struct { const char *k; double q; } qs[] = {
		{ "p50", 0.5 }, { "p90", 0.9 }, { "p99", 0.99 }, { "p99_9", 0.999 },
	};
	uint64_t sum = 0;

	ck_assert_uint_eq(lat->n, 7);
	for (size_t k = 0; k < lat->n; k++)
		ck_assert_str_eq(lat->keys[k], keys[k]);
	for (size_t i = 0; i < NSAMPLES; i++)
		sum += samples[i];
	ck_assert(fabs(json_get_num(lat, "max", 0) - (double)samples_max() / 1000) < 0.001);
	ck_assert(fabs(json_get_num(lat, "min", 0) - (double)samples_min() / 1000) < 0.001);
	ck_assert(fabs(json_get_num(lat, "mean", 0) - (double)(sum / NSAMPLES) / 1000) < 0.001);
	for (size_t k = 0; k < 4; k++)    /* 3 decimals of a us: half a ns */
		assert_in_its_bucket(json_get_num(lat, qs[k].k, -1) * 1000, qs[k].q, 0.5);
	/* An endpoint without requests: all 0. */
	lat = path(path(j, "endpoints", "/healthz"), "latency_us", NULL);
	for (size_t k = 0; k < lat->n; k++)
		ck_assert(json_get_num(lat, keys[k], -1) == 0);
	json_free(j);
}
END_TEST

/* The "build" and "process" objects. */
START_TEST(json_build_and_process)
{
	int fds[3];
	struct json *j = json_of_registry();
	const struct json *b = path(j, "build", NULL), *p = path(j, "process", NULL);
	struct rlimit rl;

	ck_assert_str_eq(json_get_str(b, "version", ""), PACKAGE_VERSION);
	ck_assert_str_eq(json_get_str(b, "allocator", ""), "lib\"odd\\name\n\001.so");
	ck_assert_str_eq(json_get_str(b, "sanitizers", ""), METRICD_SANITIZERS);
	ck_assert(strncmp(json_get_str(b, "libc", ""), "glibc ", 6) == 0);
	ck_assert(fabs(json_get_num(p, "start_time_seconds", 0) - 1700000000.123456789) < 1e-6);
	ck_assert(json_get_num(p, "cpu_seconds_total", -1) >= 0);
	ck_assert_uint_gt(json_get_u64(p, "resident_memory_bytes", 0), 0);
	ck_assert_uint_ge(json_get_u64(p, "virtual_memory_bytes", 0),
			  json_get_u64(p, "resident_memory_bytes", 0));
	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	ck_assert_uint_eq(json_get_u64(p, "max_fds", 0), rl.rlim_cur);
	/* Three descriptors more: three more counted. */
	uint64_t before = json_get_u64(p, "open_fds", 0);
	ck_assert_uint_gt(before, 2);
	for (int i = 0; i < 3; i++)
		ck_assert_int_ge(fds[i] = open("/dev/null", O_RDONLY), 0);
	json_free(j);
	j = json_of_registry();
	ck_assert_uint_eq(json_get_u64(path(j, "process", NULL), "open_fds", 0), before + 3);
	for (int i = 0; i < 3; i++)
		close(fds[i]);
	json_free(j);
}
END_TEST

START_TEST(json_acceptor_and_workers)
{
	struct json *j = json_of_registry();
	const struct json *a = path(j, "acceptor", NULL);
	static const struct { const char *k; uint64_t v; } acc[] = {
		{ "connections_open", 6 }, { "accepted", 100 }, { "rejected_over_max_conns", 2 },
		{ "accept_pauses_out_of_fds", 1 }, { "ring_full", 3 }, { "pipeline_pauses", 4 },
		{ "header_timeouts", 7 }, { "idle_closes", 8 }, { "resets", 9 },
		{ "closed_without_request", 10 }, { "bytes_read", 12345 },
		{ "frame_bytes_examined", 23456 }, { "heads_plain", 14 },
		{ "read_budget_yields", 11 },
		{ "access_log_dropped", 12 }, { "access_log_text_dropped", 13 },
		{ "worker_wakeups_sent", 5 }, { "reloads_applied", 2 },
	};
	for (size_t i = 0; i < sizeof(acc) / sizeof(acc[0]); i++)
		ck_assert_msg(json_get_u64(a, acc[i].k, 999) == acc[i].v, "%s", acc[i].k);
	ck_assert_uint_eq(a->n, sizeof(acc) / sizeof(acc[0]));
	ck_assert_uint_eq(json_get_u64(j, "acceptors", 0), NS);
	ck_assert_uint_eq(json_get_u64(j, "draining", 0), 1);

	/* Each shard: its acceptor's CPU, its workers, its own figures. */
	const struct json *sh = path(j, "shards", NULL);
	ck_assert_uint_eq(sh->type, JSON_ARR);
	ck_assert_uint_eq(sh->n, NS);
	ck_assert_uint_eq(json_get_u64(&sh->items[0], "id", 99), 0);
	ck_assert_uint_eq(json_get_u64(&sh->items[1], "id", 99), 1);
	ck_assert_uint_eq(json_get_u64(&sh->items[0], "cpu", 99), 3);
	ck_assert_uint_eq(json_get(&sh->items[1], "cpu")->type, JSON_NULL);
	ck_assert_uint_eq(json_get_u64(&sh->items[0], "workers", 0), 2);
	ck_assert_uint_eq(json_get_u64(&sh->items[1], "workers", 0), 1);
	ck_assert_uint_eq(json_get_u64(&sh->items[0], "accepted", 0), 60);
	ck_assert_uint_eq(json_get_u64(&sh->items[1], "accepted", 0), 40);
	ck_assert_uint_eq(json_get_u64(&sh->items[1], "connections_open", 0), 2);
	ck_assert_uint_eq(json_get_u64(&sh->items[1], "reloads_applied", 0), 1);
	ck_assert_uint_eq(json_get_u64(&sh->items[1], "ring_full", 99), 0);

	const struct json *ws = path(j, "worker", NULL);
	ck_assert_uint_eq(ws->type, JSON_ARR);
	ck_assert_uint_eq(ws->n, NW);
	for (unsigned w = 0; w < NW; w++) {
		ck_assert_uint_eq(json_get_u64(&ws->items[w], "id", 99), w);
		ck_assert_uint_eq(json_get_u64(&ws->items[w], "shard", 99), w == 2);
		ck_assert_uint_eq(json_get(&ws->items[w], "spin")->type, JSON_BOOL);
		ck_assert(json_get(&ws->items[w], "spin")->num == (w == 0));
	}
	ck_assert_uint_eq(json_get_u64(&ws->items[0], "spins_caught_work", 0), 13);
	ck_assert_uint_eq(json_get_u64(&ws->items[0], "spins_then_slept", 0), 14);
	ck_assert_uint_eq(json_get_u64(&ws->items[0], "cpu", 99), 4);
	ck_assert_uint_eq(json_get(&ws->items[1], "cpu")->type, JSON_NULL);
	ck_assert_uint_eq(json_get_u64(&ws->items[0], "requests", 0), 5);
	ck_assert_uint_eq(json_get_u64(&ws->items[2], "requests", 0), 6);
	ck_assert_uint_eq(json_get_u64(&ws->items[1], "ring_depth", 0), 3);
	ck_assert_uint_eq(json_get_u64(&ws->items[1], "ring_high_water", 0), 6);
	ck_assert_uint_eq(json_get_u64(&ws->items[2], "batches", 0), 33);
	ck_assert_uint_eq(json_get_u64(&ws->items[1], "partial_writes", 0), 7);
	ck_assert_uint_eq(json_get_u64(&ws->items[2], "held_requests", 0), 9);
	ck_assert_uint_eq(json_get_u64(&ws->items[2], "dropped_requests", 0), 10);
	ck_assert_uint_eq(json_get_u64(&ws->items[0], "send_timeouts", 0), 2);
	ck_assert_uint_eq(json_get_u64(&ws->items[0], "shutdown_refused", 0), 1);
	ck_assert_uint_eq(json_get_u64(&ws->items[2], "connections_with_unsent_bytes", 0), 3);
	ck_assert_uint_eq(json_get_u64(&ws->items[2], "unsent_blocks", 0), 5);
	ck_assert_uint_eq(json_get_u64(&ws->items[2], "unsent_blocks_unmapped", 0), 6);
	const struct json *slab = json_get(&ws->items[1], "slab");
	ck_assert_uint_eq(json_get_u64(slab, "size", 0), 524288);
	ck_assert_uint_eq(json_get_u64(slab, "high_water", 0), 4096);
	json_free(j);
}
END_TEST

/* Too small a buffer: 0, and not a byte written past its end.  The
 * process figures change from one call to the next, and with them the
 * length by a few bytes: a cap within 64 bytes of it may or may not do. */
static void too_small(size_t (*write)(const struct telemetry *, char *, size_t))
{
	size_t cap = 1 << 17, n, got;
	char *buf = malloc(cap + 64);

	n = write(&fx->tm, buf, cap);
	ck_assert_uint_gt(n, 64);
	for (size_t c = 0; c < n + 64; c += c < 64 || c > n - 64 ? 1 : 997) {
		memset(buf, '#', n + 128);
		got = write(&fx->tm, buf, c);
		ck_assert_msg(got == 0 || (c > n - 64 && got <= c), "%zu in %zu of %zu", got, c, n);
		for (size_t i = c; i < n + 128; i++)
			if (buf[i] != '#')
				ck_abort_msg("byte %zu written with cap %zu", i, c);
	}
	free(buf);
}

START_TEST(json_too_small_buffer)
{
	too_small(telemetry_write_json);
}
END_TEST

/* ---- /metrics ------------------------------------------------------------ */

struct sample {
	char name[160];
	double v;
};

static struct sample *prom;
static size_t nprom;
/* The families, in order: name and type. */
static struct {
	char name[96], type[16];
} fam[256];
static size_t nfam;

/* Parses the exposition: every line is a comment (# HELP / # TYPE) or
 * "name{labels} value"; each series has a HELP and a TYPE before it. */
static void parse_prometheus(void)
{
	size_t cap = 1 << 17, n;
	char *buf = malloc(cap);
	char family[96] = "";

	n = telemetry_write_prometheus(&fx->tm, buf, cap);
	ck_assert_uint_gt(n, 0);
	ck_assert(buf[n - 1] == '\n');
	buf[n] = '\0';
	prom = calloc(4096, sizeof(*prom));
	nprom = nfam = 0;
	for (char *l = buf, *e; *l; l = e + 1) {
		e = strchr(l, '\n');
		*e = '\0';
		if (strncmp(l, "# HELP ", 7) == 0) {
			ck_assert_int_eq(sscanf(l + 7, "%95s", family), 1);
			ck_assert_msg(strlen(l) > 8 + strlen(family), "%s: no help", family);
			continue;
		}
		if (strncmp(l, "# TYPE ", 7) == 0) {
			ck_assert_uint_lt(nfam, 256);
			ck_assert_int_eq(sscanf(l + 7, "%95s %15s", fam[nfam].name, fam[nfam].type), 2);
			ck_assert_str_eq(fam[nfam].name, family);
			nfam++;
			continue;
		}
		ck_assert_msg(nfam && strcmp(fam[nfam - 1].name, family) == 0,
			      "'%s' without # HELP and # TYPE", l);
		ck_assert_msg(strncmp(l, family, strlen(family)) == 0,
			      "'%s' outside its family %s", l, family);
		char *sp = strrchr(l, ' ');
		ck_assert_ptr_nonnull(sp);
		ck_assert_uint_lt(nprom, 4096);
		snprintf(prom[nprom].name, sizeof(prom[nprom].name), "%.*s", (int)(sp - l), l);
		char *end;
		prom[nprom].v = strtod(sp + 1, &end);
		ck_assert_msg(*end == '\0', "bad value in '%s'", l);
		nprom++;
	}
	free(buf);
}

static double metric(const char *name)
{
	for (size_t i = 0; i < nprom; i++)
		if (strcmp(prom[i].name, name) == 0)
			return prom[i].v;
	ck_abort_msg("no series %s", name);
	return 0;
}

static bool has(const char *name)
{
	for (size_t i = 0; i < nprom; i++)
		if (strcmp(prom[i].name, name) == 0)
			return true;
	return false;
}

START_TEST(prometheus_counts)
{
	parse_prometheus();
	ck_assert(metric("metricd_requests_total{endpoint=\"/metric-stack\"}") == 10);
	ck_assert(metric("metricd_requests_total{endpoint=\"/metric-heap\"}") == 4);
	ck_assert(metric("metricd_requests_total{endpoint=\"/healthz\"}") == 0);
	ck_assert(metric("metricd_heap_allocations_total{endpoint=\"/metric-heap\"}") == 12);
	ck_assert(metric("metricd_heap_frees_total{endpoint=\"/metric-heap\"}") == 12);
	ck_assert(metric("metricd_heap_cross_thread_frees_total{endpoint=\"/metric-heap\"}") == 4);
	ck_assert(metric("metricd_heap_allocated_bytes_total{endpoint=\"/metric-heap\"}") == 960);
	ck_assert(metric("metricd_responses_total{endpoint=\"/metric-stack\",code=\"200\"}") == 6);
	ck_assert(metric("metricd_responses_total{endpoint=\"/metric-stack\",code=\"other\"}") == 2);
	ck_assert(!has("metricd_responses_total{endpoint=\"/metric-stack\",code=\"400\"}"));
	ck_assert(fabs(metric("metricd_allocator_seconds_total{endpoint=\"/metric-heap\"}") -
		       4000 * clock_ns_per_cycle() / 1e9) < 0.001);
	ck_assert(metric("metricd_worker_batches_total{worker=\"2\",shard=\"1\"}") == 33);
	ck_assert(metric("metricd_worker_partial_writes_total{worker=\"1\",shard=\"0\"}") == 7);
	ck_assert(metric("metricd_worker_held_requests_total{worker=\"2\",shard=\"1\"}") == 9);
	ck_assert(metric("metricd_worker_dropped_requests_total{worker=\"2\",shard=\"1\"}") == 10);
	ck_assert(metric("metricd_worker_send_timeouts_total{worker=\"0\",shard=\"0\"}") == 2);
	ck_assert(metric("metricd_worker_shutdown_refused_total{worker=\"0\",shard=\"0\"}") == 1);
	ck_assert(metric("metricd_worker_unsent_blocks_unmapped_total{worker=\"2\",shard=\"1\"}") == 6);
	ck_assert(metric("metricd_worker_slab_high_water_bytes{worker=\"1\",shard=\"0\"}") == 4096);
	ck_assert(metric("metricd_worker_connections_with_unsent_data{worker=\"2\",shard=\"1\"}") == 3);
	ck_assert(metric("metricd_worker_unsent_blocks{worker=\"2\",shard=\"1\"}") == 5);
	ck_assert(metric("metricd_worker_ring_depth{worker=\"1\",shard=\"0\"}") == 3);
	ck_assert(metric("metricd_worker_ring_high_water{worker=\"1\",shard=\"0\"}") == 6);
	ck_assert(metric("metricd_worker_spins_caught_total{worker=\"0\",shard=\"0\"}") == 13);
	ck_assert(metric("metricd_worker_spins_slept_total{worker=\"0\",shard=\"0\"}") == 14);
	/* The acceptors' figures, one series per shard. */
	ck_assert(metric("metricd_connections_open{shard=\"0\"}") == 4);
	ck_assert(metric("metricd_connections_open{shard=\"1\"}") == 2);
	ck_assert(metric("metricd_connections_accepted_total{shard=\"0\"}") == 60);
	ck_assert(metric("metricd_connections_accepted_total{shard=\"1\"}") == 40);
	ck_assert(metric("metricd_reloads_applied_total{shard=\"1\"}") == 1);
	ck_assert(metric("metricd_acceptors") == NS);
	ck_assert(metric("metricd_draining") == 1);
	ck_assert(metric("metricd_acceptor_cpu{shard=\"0\"}") == 3);
	ck_assert(metric("metricd_acceptor_cpu{shard=\"1\"}") == -1);
	ck_assert(metric("metricd_shard_workers{shard=\"0\"}") == 2);
	ck_assert(metric("metricd_shard_workers{shard=\"1\"}") == 1);
	ck_assert(metric("metricd_connections_rejected_total{shard=\"0\"}") == 2);
	ck_assert(metric("metricd_ring_full_total{shard=\"0\"}") == 3);
	ck_assert(metric("metricd_ring_full_total{shard=\"1\"}") == 0);
	ck_assert(metric("metricd_header_timeouts_total{shard=\"0\"}") == 7);
	ck_assert(metric("metricd_idle_closes_total{shard=\"0\"}") == 8);
	ck_assert(metric("metricd_pipeline_pauses_total{shard=\"0\"}") == 4);
	ck_assert(metric("metricd_connection_resets_total{shard=\"0\"}") == 9);
	ck_assert(metric("metricd_connections_closed_without_request_total{shard=\"0\"}") == 10);
	ck_assert(metric("metricd_read_bytes_total{shard=\"0\"}") == 12345);
	ck_assert(metric("metricd_framer_examined_bytes_total{shard=\"0\"}") == 23456);
	ck_assert(metric("metricd_framer_plain_heads_total{shard=\"0\"}") == 14);
	ck_assert(metric("metricd_framer_plain_heads_total{shard=\"1\"}") == 0);
	ck_assert(metric("metricd_read_budget_yields_total{shard=\"0\"}") == 11);
	ck_assert(metric("metricd_access_log_dropped_total") == 12);
	ck_assert(metric("metricd_access_log_text_dropped_total{shard=\"0\"}") == 13);
	ck_assert(metric("metricd_workers") == NW);
	ck_assert(metric("metricd_worker_requests_total{worker=\"0\",shard=\"0\"}") == 5);
	ck_assert(metric("metricd_worker_requests_total{worker=\"2\",shard=\"1\"}") == 6);
	ck_assert(metric("metricd_worker_cpu{worker=\"0\",shard=\"0\"}") == 4);
	ck_assert(metric("metricd_worker_cpu{worker=\"1\",shard=\"0\"}") == -1);   /* not pinned */
	ck_assert(metric("metricd_request_duration_max_seconds{endpoint=\"/metric-stack\"}") == 20);
	ck_assert(metric("metricd_request_duration_min_seconds{endpoint=\"/metric-stack\"}") ==
		  900e-9);
	ck_assert(metric("metricd_request_duration_min_seconds{endpoint=\"/healthz\"}") == 0);
	free(prom);
}
END_TEST

/* Buckets: the le values are the bounds (worked out here), and for each,
 * how many samples are at most le - counted here from the samples;
 * cumulative; +Inf, _count and _sum agree. */
START_TEST(prometheus_histogram)
{
	const char *pfx = "metricd_request_duration_seconds_bucket{endpoint=\"/metric-stack\",le=\"";
	double last = -1, sum = 0;
	unsigned nb = 0;

	parse_prometheus();
	for (size_t i = 0; i < nprom; i++) {
		if (strncmp(prom[i].name, pfx, strlen(pfx)) != 0)
			continue;
		const char *le_s = prom[i].name + strlen(pfx);
		double le = strncmp(le_s, "+Inf", 4) == 0 ? INFINITY : strtod(le_s, NULL);
		unsigned want = 0;

		if (nb < LAT_BOUNDS)
			ck_assert_msg(fabs(le * 1e9 - (double)bound(nb)) < 1e-6 * (double)bound(nb),
				      "bucket %u: le %s", nb, le_s);
		else
			ck_assert(isinf(le));
		for (size_t k = 0; k < NSAMPLES; k++)
			want += (double)samples[k] <= le * 1e9 * (1 + 1e-12);
		ck_assert_msg(prom[i].v == want, "le=%g: %g, the samples say %u", le,
			      prom[i].v, want);
		ck_assert(prom[i].v >= last);
		last = prom[i].v;
		nb++;
	}
	ck_assert_uint_eq(nb, LAT_BOUNDS + 1);
	ck_assert(last == NSAMPLES);
	ck_assert(metric("metricd_request_duration_seconds_count{endpoint=\"/metric-stack\"}") ==
		  NSAMPLES);
	for (size_t k = 0; k < NSAMPLES; k++)
		sum += (double)samples[k] / 1e9;
	/* written to the ns, not rounded to the ms */
	ck_assert(fabs(metric("metricd_request_duration_seconds_sum{endpoint=\"/metric-stack\"}") -
		       sum) < 1e-9);
	ck_assert(metric("metricd_request_duration_seconds_count{endpoint=\"/healthz\"}") == 0);
	free(prom);
}
END_TEST

static bool ends_with(const char *s, const char *end)
{
	size_t a = strlen(s), b = strlen(end);

	return a >= b && strcmp(s + a - b, end) == 0;
}

/* Prometheus's naming: each family once, counters and only counters end
 * in _total, a unit (seconds, bytes) is the name's last word before
 * _total, an _info family is a gauge of 1s. */
START_TEST(prometheus_names)
{
	parse_prometheus();
	ck_assert_uint_gt(nfam, 40);
	for (size_t i = 0; i < nfam; i++) {
		const char *n = fam[i].name, *t = fam[i].type;
		char base[96];

		for (size_t k = 0; k < i; k++)
			ck_assert_msg(strcmp(fam[k].name, n) != 0, "%s twice", n);
		ck_assert_msg(strncmp(n, "metricd_", 8) == 0 || strncmp(n, "process_", 8) == 0,
			      "%s: no prefix", n);
		ck_assert_msg(strcmp(t, "counter") == 0 || strcmp(t, "gauge") == 0 ||
			      strcmp(t, "histogram") == 0, "%s: type %s", n, t);
		ck_assert_msg((strcmp(t, "counter") == 0) == ends_with(n, "_total"),
			      "%s is a %s", n, t);
		snprintf(base, sizeof(base), "%.*s", (int)(strlen(n) - (ends_with(n, "_total") ? 6 : 0)), n);
		if (strstr(base, "seconds"))
			ck_assert_msg(ends_with(base, "_seconds"), "%s: the unit goes last", n);
		if (strstr(base, "bytes"))
			ck_assert_msg(ends_with(base, "_bytes"), "%s: the unit goes last", n);
		if (ends_with(n, "_info"))
			ck_assert_str_eq(t, "gauge");
	}
	free(prom);
}
END_TEST

/* metricd_build_info (its labels escaped) and the process_* family. */
START_TEST(prometheus_build_and_process)
{
	struct rlimit rl;
	char want[256];

	parse_prometheus();
	snprintf(want, sizeof(want), "metricd_build_info{version=\"%s\",libc=\"glibc ",
		 PACKAGE_VERSION);
	size_t i;
	for (i = 0; i < nprom && strncmp(prom[i].name, want, strlen(want)) != 0; i++)
		;
	ck_assert_msg(i < nprom, "no %s...", want);
	ck_assert(prom[i].v == 1);
	/* \\ and \" and \n escaped, the other control character as it is */
	snprintf(want, sizeof(want),
		 "\",allocator=\"lib\\\"odd\\\\name\\n\001.so\",sanitizers=\"%s\"}",
		 METRICD_SANITIZERS);
	ck_assert_msg(ends_with(prom[i].name, want), "%s does not end in %s", prom[i].name, want);
	ck_assert(fabs(metric("process_start_time_seconds") - 1700000000.123456789) < 1e-6);
	ck_assert(metric("process_cpu_seconds_total") >= 0);
	ck_assert(metric("process_resident_memory_bytes") > 0);
	ck_assert(metric("process_virtual_memory_bytes") >= metric("process_resident_memory_bytes"));
	ck_assert(metric("process_open_fds") > 2);
	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	ck_assert(metric("process_max_fds") == (double)rl.rlim_cur);
	ck_assert(metric("metricd_uptime_seconds") >= 0);
	free(prom);
}
END_TEST

START_TEST(prometheus_too_small_buffer)
{
	too_small(telemetry_write_prometheus);
}
END_TEST

/* What is not known is left out, or said to be unknown. */
START_TEST(unknown_start_and_allocator)
{
	fx->tm.start_unix_ns = 0;
	fx->tm.allocator = NULL;
	struct json *j = json_of_registry();

	ck_assert_ptr_null(json_get(path(j, "process", NULL), "start_time_seconds"));
	ck_assert_ptr_nonnull(json_get(path(j, "process", NULL), "open_fds"));
	ck_assert_str_eq(json_get_str(path(j, "build", NULL), "allocator", ""), "unknown");
	json_free(j);
	parse_prometheus();
	ck_assert(!has("process_start_time_seconds"));
	ck_assert(has("process_open_fds"));
	for (size_t i = 0; i < nprom; i++)
		if (strncmp(prom[i].name, "metricd_build_info{", 19) == 0)
			ck_assert_ptr_nonnull(strstr(prom[i].name, ",allocator=\"unknown\","));
	free(prom);
}
END_TEST

static Suite *stats_suite(void)
{
	Suite *s = suite_create("stats");
	TCase *h = tcase_create("histogram");
	TCase *w = tcase_create("writers");

	tcase_set_timeout(h, 10);
	tcase_add_test(h, bounds_are_r5_from_100ns_to_10s);
	tcase_add_test(h, buckets_hold_their_values);
	tcase_add_test(h, record_keeps_min_max_and_sum);
	tcase_add_test(h, quantiles_in_the_samples_bucket);
	tcase_add_test(h, quantiles_interpolate_then_clamp);
	tcase_add_test(h, percentiles_never_exceed_max);
	tcase_add_test(h, status_index_buckets);
	tcase_add_test(h, clock_calibration);
	suite_add_tcase(s, h);
	tcase_set_timeout(w, 20);
	tcase_add_checked_fixture(w, setup, teardown);
	tcase_add_test(w, json_counts);
	tcase_add_test(w, json_latency);
	tcase_add_test(w, json_build_and_process);
	tcase_add_test(w, json_acceptor_and_workers);
	tcase_add_test(w, json_too_small_buffer);
	tcase_add_test(w, prometheus_counts);
	tcase_add_test(w, prometheus_histogram);
	tcase_add_test(w, prometheus_names);
	tcase_add_test(w, prometheus_build_and_process);
	tcase_add_test(w, unknown_start_and_allocator);
	tcase_add_test(w, prometheus_too_small_buffer);
	suite_add_tcase(s, w);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(stats_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
