/* Unit tests for workers/telemetry.c and core/base/counters.c: the latency
 * histogram, and the /stats (JSON) and /metrics (Prometheus text) writers over a registry built by hand with
 * known counts.  The output is parsed back - the JSON with blast's parser
 * (tools/blast/json.c), the Prometheus text line by line here - and
 * compared with what went in; percentiles and buckets are checked against
 * the samples themselves, not against the histogram's own arithmetic. */
#include "config.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/clock.h"
#include "core/base/counters.h"
#include "workers/telemetry.h"
#include "http/route.h"
#include "queue/queue.h"
#include "tools/blast/json.h"

#define NW 3

struct fixture {
	struct counters acc_st;
	struct counters wst[NW];
	struct counters *workers[NW];
	struct queue_req rings[NW];
	struct queue_req *ringp[NW];
	uint64_t ring_hw[NW];
	struct acceptor_counters acc;
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
	counters_init(&fx->acc_st, "acc", -1, 0);
	for (unsigned w = 0; w < NW; w++) {
		char name[16];

		snprintf(name, sizeof(name), "w%u", w);
		counters_init(&fx->wst[w], name, w == 1 ? -1 : (int)w + 4, (uint16_t)(w + 1));
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
	/* /metric-heap: allocations on the acceptor (1 per request) and on the
	 * workers (2 per request), frees on the workers. */
	fx->acc_st.route[ROUTE_METRIC_HEAP].allocs = 4;
	fx->acc_st.route[ROUTE_METRIC_HEAP].alloc_bytes = 4 * 24;
	fx->acc_st.route[ROUTE_METRIC_HEAP].alloc_cycles = 1000;
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
	fx->acc = (struct acceptor_counters){
		.accepted = 100, .rejected_full = 2, .accept_paused = 1, .ring_full = 3,
		.pipeline_pauses = 4, .wakes = 5, .open = 6, .header_timeouts = 7,
		.idle_closes = 8, .resets = 9, .closed_unused = 10, .bytes_read = 12345,
		.frame_bytes_examined = 23456, .read_budget_yields = 11,
		.access_log_dropped = 12, .draining = 1,
	};
	fx->tm = (struct telemetry){
		.nworkers = NW, .acceptor = &fx->acc_st, .workers = fx->workers,
		.rings = fx->ringp, .ring_high_water = fx->ring_hw, .acc = &fx->acc,
		.start_ns = clock_mono_ns(),
	};
}

static void teardown(void)
{
	for (unsigned w = 0; w < NW; w++)
		queue_req_destroy(&fx->rings[w]);
	free(fx);
}

/* ---- the histogram ------------------------------------------------------- */

START_TEST(buckets_hold_their_values)
{
	/* Every value falls in a bucket whose bounds hold it, and a bucket is
	 * never wider than 1/16 of its low bound (values past 16). */
	for (uint64_t v = 0; v < (1ull << 40); v = v < 64 ? v + 1 : v + v / 7 + 3) {
		unsigned b = lat_bucket(v);
		uint64_t lo = lat_bucket_low(b), hi = lat_bucket_low(b + 1);

		ck_assert_uint_lt(b, LAT_BUCKETS);
		ck_assert_msg(lo <= v && v < hi, "%llu in [%llu, %llu)",
			      (unsigned long long)v, (unsigned long long)lo,
			      (unsigned long long)hi);
		if (v >= 16)
			ck_assert_uint_le((hi - lo) * 16, lo);
	}
	/* Past the last bucket: clamped into it. */
	ck_assert_uint_eq(lat_bucket(UINT64_MAX), LAT_BUCKETS - 1);
	ck_assert_uint_eq(lat_bucket(1ull << 45), LAT_BUCKETS - 1);
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

START_TEST(quantiles_within_a_sixteenth)
{
	uint64_t lat[LAT_BUCKETS] = { 0 };
	static const double qs[] = { 0.01, 0.25, 0.5, 0.9, 0.99, 0.999, 1.0 };

	for (size_t i = 0; i < NSAMPLES; i++)
		lat[lat_bucket(samples[i])]++;
	for (size_t k = 0; k < sizeof(qs) / sizeof(qs[0]); k++) {
		uint64_t want = true_quantile(qs[k]);
		uint64_t got = lat_quantile(lat, NSAMPLES, qs[k]);
		uint64_t diff = got > want ? got - want : want - got;

		ck_assert_msg(diff * 16 <= want, "q %.3f: %llu vs the sample %llu", qs[k],
			      (unsigned long long)got, (unsigned long long)want);
	}
	ck_assert_uint_eq(lat_quantile(lat, 0, 0.5), 0);
}
END_TEST

START_TEST(status_index_buckets)
{
	static const unsigned codes[] = { 200, 400, 404, 405, 408, 413, 417, 431,
					  500, 503, 505 };
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

START_TEST(json_latency)
{
	struct json *j = json_of_registry();
	const struct json *lat = path(path(j, "endpoints", "/metric-stack"), "latency_us", NULL);
	uint64_t sum = 0, max = 0;

	for (size_t i = 0; i < NSAMPLES; i++) {
		sum += samples[i];
		max = samples[i] > max ? samples[i] : max;
	}
	ck_assert(fabs(json_get_num(lat, "max", 0) - (double)max / 1000) < 0.001);
	ck_assert(fabs(json_get_num(lat, "mean", 0) - (double)(sum / NSAMPLES) / 1000) < 0.001);
	static const struct { const char *k; double q; } qs[] = {
		{ "p50", 0.5 }, { "p90", 0.9 }, { "p99", 0.99 }, { "p999", 0.999 },
	};
	for (size_t k = 0; k < 4; k++) {
		double want = (double)true_quantile(qs[k].q) / 1000;
		double got = json_get_num(lat, qs[k].k, -1);

		ck_assert_msg(fabs(got - want) <= want / 16, "%s: %.3f us vs the sample %.3f us",
			      qs[k].k, got, want);
	}
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
		{ "frame_bytes_examined", 23456 }, { "read_budget_yields", 11 },
		{ "access_log_dropped", 12 }, { "worker_wakeups_sent", 5 },
		{ "draining", 1 },
	};
	for (size_t i = 0; i < sizeof(acc) / sizeof(acc[0]); i++)
		ck_assert_msg(json_get_u64(a, acc[i].k, 999) == acc[i].v, "%s", acc[i].k);
	ck_assert_uint_eq(a->n, sizeof(acc) / sizeof(acc[0]));

	const struct json *ws = path(j, "worker", NULL);
	ck_assert_uint_eq(ws->type, JSON_ARR);
	ck_assert_uint_eq(ws->n, NW);
	for (unsigned w = 0; w < NW; w++)
		ck_assert_uint_eq(json_get_u64(&ws->items[w], "id", 99), w);
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

/* Too small a buffer: 0, and not a byte written past its end. */
static void too_small(size_t (*write)(const struct telemetry *, char *, size_t))
{
	size_t cap = 1 << 17, n;
	char *buf = malloc(cap + 64);

	n = write(&fx->tm, buf, cap);
	ck_assert_uint_gt(n, 0);
	for (size_t c = 0; c < n; c += c < 64 ? 1 : 997) {
		memset(buf, '#', n + 64);
		ck_assert_msg(write(&fx->tm, buf, c) == 0, "fits in %zu of %zu", c, n);
		for (size_t i = c; i < n + 64; i++)
			if (buf[i] != '#')
				ck_abort_msg("byte %zu written with cap %zu", i, c);
	}
	ck_assert_uint_eq(write(&fx->tm, buf, n - 1), 0);
	ck_assert_uint_eq(write(&fx->tm, buf, n), n);
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
	nprom = 0;
	for (char *l = buf, *e; *l; l = e + 1) {
		e = strchr(l, '\n');
		*e = '\0';
		if (strncmp(l, "# HELP metricd_", 15) == 0) {
			sscanf(l + 7, "%95s", family);
			continue;
		}
		if (strncmp(l, "# TYPE ", 7) == 0) {
			char f[96], type[16];

			ck_assert_int_eq(sscanf(l + 7, "%95s %15s", f, type), 2);
			ck_assert_str_eq(f, family);
			ck_assert(strcmp(type, "counter") == 0 || strcmp(type, "gauge") == 0 ||
				  strcmp(type, "histogram") == 0);
			continue;
		}
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
	ck_assert(metric("metricd_worker_batches_total{worker=\"2\"}") == 33);
	ck_assert(metric("metricd_worker_partial_writes_total{worker=\"1\"}") == 7);
	ck_assert(metric("metricd_worker_held_requests_total{worker=\"2\"}") == 9);
	ck_assert(metric("metricd_worker_dropped_requests_total{worker=\"2\"}") == 10);
	ck_assert(metric("metricd_worker_send_timeouts_total{worker=\"0\"}") == 2);
	ck_assert(metric("metricd_worker_shutdown_refused_total{worker=\"0\"}") == 1);
	ck_assert(metric("metricd_worker_unsent_blocks_unmapped_total{worker=\"2\"}") == 6);
	ck_assert(metric("metricd_worker_slab_high_water_bytes{worker=\"1\"}") == 4096);
	ck_assert(metric("metricd_worker_connections_with_unsent_bytes{worker=\"2\"}") == 3);
	ck_assert(metric("metricd_worker_unsent_blocks{worker=\"2\"}") == 5);
	ck_assert(metric("metricd_worker_ring_depth{worker=\"1\"}") == 3);
	ck_assert(metric("metricd_worker_ring_high_water{worker=\"1\"}") == 6);
	ck_assert(metric("metricd_connections_open") == 6);
	ck_assert(metric("metricd_connections_accepted_total") == 100);
	ck_assert(metric("metricd_connections_rejected_total") == 2);
	ck_assert(metric("metricd_ring_full_total") == 3);
	ck_assert(metric("metricd_header_timeouts_total") == 7);
	ck_assert(metric("metricd_idle_closes_total") == 8);
	ck_assert(metric("metricd_pipeline_pauses_total") == 4);
	ck_assert(metric("metricd_connection_resets_total") == 9);
	ck_assert(metric("metricd_connections_closed_without_request_total") == 10);
	ck_assert(metric("metricd_read_bytes_total") == 12345);
	ck_assert(metric("metricd_frame_bytes_examined_total") == 23456);
	ck_assert(metric("metricd_read_budget_yields_total") == 11);
	ck_assert(metric("metricd_draining") == 1);
	ck_assert(metric("metricd_access_log_dropped_total") == 12);
	free(prom);
}
END_TEST

/* Buckets: for each le, how many samples are at most le - counted here
 * from the samples; cumulative; +Inf, _count and _sum agree. */
START_TEST(prometheus_histogram)
{
	const char *pfx = "metricd_request_duration_seconds_bucket{endpoint=\"/metric-stack\",le=\"";
	double last = -1, prev_le = 0, sum = 0;
	unsigned nb = 0;

	parse_prometheus();
	for (size_t i = 0; i < nprom; i++) {
		if (strncmp(prom[i].name, pfx, strlen(pfx)) != 0)
			continue;
		const char *le_s = prom[i].name + strlen(pfx);
		double le = strncmp(le_s, "+Inf", 4) == 0 ? INFINITY : strtod(le_s, NULL);
		unsigned want = 0;

		ck_assert(le > prev_le);
		prev_le = le;
		for (size_t k = 0; k < NSAMPLES; k++)
			want += (double)samples[k] / 1e9 <= le;
		ck_assert_msg(prom[i].v == want, "le=%g: %g, the samples say %u", le,
			      prom[i].v, want);
		ck_assert(prom[i].v >= last);
		last = prom[i].v;
		nb++;
	}
	ck_assert_uint_eq(nb, PROM_BUCKETS + 1);
	ck_assert(last == NSAMPLES);
	ck_assert(metric("metricd_request_duration_seconds_count{endpoint=\"/metric-stack\"}") ==
		  NSAMPLES);
	for (size_t k = 0; k < NSAMPLES; k++)
		sum += (double)samples[k] / 1e9;
	ck_assert(fabs(metric("metricd_request_duration_seconds_sum{endpoint=\"/metric-stack\"}") -
		       sum) < 0.001);
	ck_assert(metric("metricd_request_duration_seconds_count{endpoint=\"/healthz\"}") == 0);
	free(prom);
}
END_TEST

START_TEST(prometheus_too_small_buffer)
{
	too_small(telemetry_write_prometheus);
}
END_TEST

static Suite *stats_suite(void)
{
	Suite *s = suite_create("stats");
	TCase *h = tcase_create("histogram");
	TCase *w = tcase_create("writers");

	tcase_set_timeout(h, 10);
	tcase_add_test(h, buckets_hold_their_values);
	tcase_add_test(h, quantiles_within_a_sixteenth);
	tcase_add_test(h, status_index_buckets);
	tcase_add_test(h, clock_calibration);
	suite_add_tcase(s, h);
	tcase_set_timeout(w, 20);
	tcase_add_checked_fixture(w, setup, teardown);
	tcase_add_test(w, json_counts);
	tcase_add_test(w, json_latency);
	tcase_add_test(w, json_acceptor_and_workers);
	tcase_add_test(w, json_too_small_buffer);
	tcase_add_test(w, prometheus_counts);
	tcase_add_test(w, prometheus_histogram);
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
