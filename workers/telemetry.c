/* /stats (JSON) and /metrics (Prometheus): every thread's counters,
 * summed, written into a caller's buffer without allocating.  Readers only:
 * each thread writes its own counters (core/base/counters.h).
 *
 * The acceptor's and the workers' figures are each one table below, read
 * by both writers, so a figure in /stats is in /metrics too. */
#include "config.h"

#include <stddef.h>
#include <string.h>

#include "core/base/clock.h"
#include "core/base/fmt.h"
#include "core/base/sbuf.h"
#include "http/route.h"
#include "queue/queue.h"
#include "workers/telemetry.h"

static const char *const prom_le_text[PROM_BUCKETS] = {
	"1e-05", "2.5e-05", "5e-05", "0.0001", "0.00025", "0.0005",
	"0.001", "0.0025", "0.005", "0.01", "0.025", "0.05",
	"0.1", "0.25", "0.5", "1", "2.5", "5", "10",
};
static const char *const status_text[SS__COUNT] = {
	"200", "400", "404", "405", "408", "413", "417", "431", "500", "503", "505", "other",
};

/* One figure: its /stats key, its /metrics name (metricd_ added), type
 * and help, and where it is in its counters block. */
struct figure {
	const char *json, *prom, *type, *help;
	size_t off;
};

#define ACC(json, prom, type, field, help) \
	{ json, prom, type, help, offsetof(struct acceptor_counters, field) }
static const struct figure acceptor_figures[] = {
	ACC("connections_open", "connections_open", "gauge", open,
	    "Open client connections."),
	ACC("accepted", "connections_accepted_total", "counter", accepted,
	    "Connections accepted."),
	ACC("rejected_over_max_conns", "connections_rejected_total", "counter",
	    rejected_full, "Connections closed at once because --max-conns were open."),
	ACC("accept_pauses_out_of_fds", "accept_pauses_total", "counter", accept_paused,
	    "Times accepting paused because the process was out of file descriptors."),
	ACC("ring_full", "ring_full_total", "counter", ring_full,
	    "Times a worker's ring was full and a connection waited."),
	ACC("pipeline_pauses", "pipeline_pauses_total", "counter", pipeline_pauses,
	    "Times a connection reached --max-pipeline and was paused."),
	ACC("header_timeouts", "header_timeouts_total", "counter", header_timeouts,
	    "Requests answered 408 because the head did not arrive within --header-timeout."),
	ACC("idle_closes", "idle_closes_total", "counter", idle_closes,
	    "Keep-alive connections closed after --idle-timeout."),
	ACC("resets", "connection_resets_total", "counter", resets,
	    "Connections the peer reset; their queued requests were dropped."),
	ACC("closed_without_request", "connections_closed_without_request_total",
	    "counter", closed_unused,
	    "Connections that closed before sending a whole request (closed by the acceptor)."),
	ACC("bytes_read", "read_bytes_total", "counter", bytes_read,
	    "Bytes read from clients."),
	ACC("frame_bytes_examined", "frame_bytes_examined_total", "counter",
	    frame_bytes_examined, "Bytes the framer looked at (linear in the bytes read)."),
	ACC("read_budget_yields", "read_budget_yields_total", "counter",
	    read_budget_yields,
	    "Times a connection framed its per-turn share and let the others go first."),
	ACC("access_log_dropped", "access_log_dropped_total", "counter",
	    access_log_dropped, "Access-log lines dropped because a worker's log ring was full."),
	ACC("worker_wakeups_sent", "worker_wakeups_sent_total", "counter", wakes,
	    "Wake-ups the acceptor sent to sleeping workers."),
	ACC("draining", "draining", "gauge", draining,
	    "1 from SIGTERM until exit: /healthz answers 503 (--drain-delay)."),
};
#undef ACC

/* Worker figures; those with "slab_" in their /stats key go in its "slab"
 * object, under the rest of the key. */
#define WK(json, prom, type, field, help) \
	{ json, prom, type, help, offsetof(struct worker_counters, field) }
static const struct figure worker_figures[] = {
	WK("batches", "worker_batches_total", "counter", batches,
	   "Batches drained from the worker's ring."),
	WK("wakeups", "worker_wakeups_total", "counter", wakeups,
	   "Times the worker woke from sleep."),
	WK("sleeps", "worker_sleeps_total", "counter", sleeps,
	   "Times the worker went to sleep after its spin budget."),
	WK("partial_writes", "worker_partial_writes_total", "counter", partial_writes,
	   "Writes the socket took only part of."),
	WK("write_errors", "worker_write_errors_total", "counter", write_errors,
	   "Writes that failed (peer gone)."),
	WK("connections_with_unsent_bytes", "worker_connections_with_unsent_bytes",
	   "gauge", conns_with_tail, "Connections whose answers wait for the client to read."),
	WK("unsent_blocks", "worker_unsent_blocks", "gauge", tail_blocks_in_use,
	   "16 KiB blocks holding unsent bytes or held requests."),
	WK("unsent_blocks_unmapped", "worker_unsent_blocks_unmapped_total", "counter",
	   tail_blocks_unmapped, "Unsent-byte blocks given back to the system."),
	WK("held_requests", "worker_held_requests_total", "counter", held,
	   "Requests put off because the connection's unsent bytes reached --max-unsent-bytes."),
	WK("dropped_requests", "worker_dropped_requests_total", "counter", dropped,
	   "Requests not computed because the peer was gone."),
	WK("send_timeouts", "worker_send_timeouts_total", "counter", send_timeouts,
	   "Connections closed because their unsent bytes made no progress for --send-timeout."),
	WK("shutdown_refused", "worker_shutdown_refused_total", "counter", shutdown_refused,
	   "Requests answered 503 after --shutdown-timeout."),
	WK("slab_size", "worker_slab_size_bytes", "gauge", slab_size,
	   "The worker's slab."),
	WK("slab_last_batch_bytes", "worker_slab_last_batch_bytes", "gauge",
	   slab_last_batch_bytes, "Slab bytes the last batch used."),
	WK("slab_high_water", "worker_slab_high_water_bytes", "gauge", slab_high_water,
	   "Most slab bytes one batch used."),
	WK("slab_resets", "worker_slab_resets_total", "counter", slab_resets,
	   "Slab resets (one per flushed batch)."),
	WK("slab_oversized_fallbacks", "worker_slab_oversized_total", "counter",
	   slab_overflows, "Slab allocations that did not fit and forced an early flush."),
};
#undef WK

#define NFIG(t) (sizeof(t) / sizeof((t)[0]))

static uint64_t figure_value(const void *block, const struct figure *f)
{
	return __atomic_load_n((const uint64_t *)((const char *)block + f->off),
			       __ATOMIC_RELAXED);
}

static bool is_slab(const struct figure *f)
{
	return strncmp(f->json, "slab_", 5) == 0;
}

/* ---- summing ------------------------------------------------------------- */

static void add_route(struct route_counters *sum, const struct route_counters *r)
{
	sum->requests += CNT_GET(r->requests);
	for (unsigned s = 0; s < SS__COUNT; s++)
		sum->status[s] += CNT_GET(r->status[s]);
	sum->allocs += CNT_GET(r->allocs);
	sum->alloc_bytes += CNT_GET(r->alloc_bytes);
	sum->frees += CNT_GET(r->frees);
	sum->xthread_frees += CNT_GET(r->xthread_frees);
	sum->alloc_cycles += CNT_GET(r->alloc_cycles);
	sum->lat_sum_ns += CNT_GET(r->lat_sum_ns);
	uint64_t m = CNT_GET(r->lat_max_ns);
	if (m > sum->lat_max_ns)
		sum->lat_max_ns = m;
	for (unsigned i = 0; i < LAT_BUCKETS; i++)
		sum->lat[i] += CNT_GET(r->lat[i]);
	for (unsigned i = 0; i < PROM_BUCKETS; i++)
		sum->prom[i] += CNT_GET(r->prom[i]);
}

/* Every endpoint summed over every thread (allocations happen on the
 * acceptor and on workers alike). */
static void sum_routes(const struct telemetry *tm,
		       struct route_counters sums[ROUTE__COUNT])
{
	memset(sums, 0, sizeof(struct route_counters) * ROUTE__COUNT);
	for (unsigned r = 0; r < ROUTE__COUNT; r++) {
		add_route(&sums[r], &tm->acceptor->route[r]);
		for (unsigned w = 0; w < tm->nworkers; w++)
			add_route(&sums[r], &tm->workers[w]->route[r]);
	}
}

static uint64_t hist_count(const struct route_counters *r)
{
	uint64_t n = 0;

	for (unsigned i = 0; i < LAT_BUCKETS; i++)
		n += r->lat[i];
	return n;
}

static uint64_t worker_requests(const struct counters *t)
{
	uint64_t n = 0;

	for (unsigned r = 0; r < ROUTE__COUNT; r++)
		n += CNT_GET(t->route[r].requests);
	return n;
}

/* ---- JSON ------------------------------------------------------------------ */

static void json_key(struct sbuf *b, const char *key)
{
	sbuf_puts(b, "\"");
	sbuf_puts(b, key);
	sbuf_puts(b, "\":");
}

static void json_kv(struct sbuf *b, const char *key, uint64_t v, bool comma)
{
	json_key(b, key);
	sbuf_u64(b, v);
	if (comma)
		sbuf_puts(b, ",");
}

static void json_ratio(struct sbuf *b, const char *key, double n, double d, bool comma)
{
	json_key(b, key);
	sbuf_ratio(b, n, d);
	if (comma)
		sbuf_puts(b, ",");
}

static void json_statuses(struct sbuf *b, const struct route_counters *r)
{
	bool first = true;

	sbuf_puts(b, "\"responses\":{");
	for (unsigned s = 0; s < SS__COUNT; s++) {
		if (!r->status[s])
			continue;
		if (!first)
			sbuf_puts(b, ",");
		first = false;
		json_kv(b, status_text[s], r->status[s], false);
	}
	sbuf_puts(b, "},");
}

static void json_latency(struct sbuf *b, const struct route_counters *r)
{
	uint64_t n = hist_count(r);

	sbuf_puts(b, "\"latency_us\":{");
	json_ratio(b, "mean", n ? (double)(r->lat_sum_ns / n) : 0, 1000.0, true);
	json_ratio(b, "p50", (double)lat_quantile(r->lat, n, 0.50), 1000.0, true);
	json_ratio(b, "p90", (double)lat_quantile(r->lat, n, 0.90), 1000.0, true);
	json_ratio(b, "p99", (double)lat_quantile(r->lat, n, 0.99), 1000.0, true);
	json_ratio(b, "p999", (double)lat_quantile(r->lat, n, 0.999), 1000.0, true);
	json_ratio(b, "max", (double)r->lat_max_ns, 1000.0, false);
	sbuf_puts(b, "}");
}

static void json_endpoint(struct sbuf *b, const struct route_counters *r)
{
	double req = (double)r->requests;

	json_kv(b, "requests", r->requests, true);
	json_statuses(b, r);
	json_ratio(b, "allocs_per_request", (double)r->allocs, req, true);
	json_ratio(b, "bytes_per_request", (double)r->alloc_bytes, req, true);
	json_ratio(b, "frees_per_request", (double)r->frees, req, true);
	json_ratio(b, "cross_thread_frees_per_request", (double)r->xthread_frees, req, true);
	json_ratio(b, "allocator_ns_per_request",
		   (double)r->alloc_cycles * clock_ns_per_cycle(), req, true);
	json_kv(b, "allocs", r->allocs, true);
	json_kv(b, "alloc_bytes", r->alloc_bytes, true);
	json_kv(b, "frees", r->frees, true);
	json_kv(b, "cross_thread_frees", r->xthread_frees, true);
	json_latency(b, r);
}

static void json_worker(struct sbuf *b, const struct telemetry *tm, unsigned w)
{
	const struct counters *t = tm->workers[w];

	json_kv(b, "id", w, true);
	json_key(b, "cpu");
	if (t->cpu < 0)
		sbuf_puts(b, "null,");
	else {
		sbuf_u64(b, (uint64_t)t->cpu);
		sbuf_puts(b, ",");
	}
	json_kv(b, "requests", worker_requests(t), true);
	json_kv(b, "ring_depth", queue_req_depth(tm->rings[w]), true);
	json_kv(b, "ring_high_water", CNT_GET(tm->ring_high_water[w]), true);
	for (size_t k = 0; k < NFIG(worker_figures); k++)
		if (!is_slab(&worker_figures[k]))
			json_kv(b, worker_figures[k].json,
				figure_value(&t->w, &worker_figures[k]), true);
	sbuf_puts(b, "\"slab\":{");
	for (size_t k = 0, first = 1; k < NFIG(worker_figures); k++) {
		if (!is_slab(&worker_figures[k]))
			continue;
		if (!first)
			sbuf_puts(b, ",");
		first = 0;
		json_kv(b, worker_figures[k].json + 5,
			figure_value(&t->w, &worker_figures[k]), false);
	}
	sbuf_puts(b, "}");
}

size_t telemetry_write_json(const struct telemetry *tm, char *out, size_t cap)
{
	struct route_counters sums[ROUTE__COUNT];
	struct sbuf b;

	sum_routes(tm, sums);
	sbuf_init(&b, out, cap);
	sbuf_puts(&b, "{");
	json_ratio(&b, "uptime_s", (double)(clock_mono_ns() - tm->start_ns), 1e9, true);
	json_kv(&b, "workers", tm->nworkers, true);
	sbuf_puts(&b, "\"endpoints\":{");
	for (unsigned r = 0; r < ROUTE__COUNT; r++) {
		if (r)
			sbuf_puts(&b, ",");
		json_key(&b, http_route_name((enum http_route)r));
		sbuf_puts(&b, "{");
		json_endpoint(&b, &sums[r]);
		sbuf_puts(&b, "}");
	}
	sbuf_puts(&b, "},\"acceptor\":{");
	for (size_t k = 0; k < NFIG(acceptor_figures); k++)
		json_kv(&b, acceptor_figures[k].json,
			figure_value(tm->acc, &acceptor_figures[k]),
			k + 1 < NFIG(acceptor_figures));
	sbuf_puts(&b, "},\"worker\":[");
	for (unsigned w = 0; w < tm->nworkers; w++) {
		sbuf_puts(&b, w ? ",{" : "{");
		json_worker(&b, tm, w);
		sbuf_puts(&b, "}");
	}
	sbuf_puts(&b, "]}\n");
	return b.full ? 0 : b.len;
}

/* ---- Prometheus text exposition format 0.0.4 ---------------------------- */

static void prom_head(struct sbuf *b, const char *name, const char *type,
		      const char *help)
{
	sbuf_puts(b, "# HELP metricd_");
	sbuf_puts(b, name);
	sbuf_puts(b, " ");
	sbuf_puts(b, help);
	sbuf_puts(b, "\n# TYPE metricd_");
	sbuf_puts(b, name);
	sbuf_puts(b, " ");
	sbuf_puts(b, type);
	sbuf_puts(b, "\n");
}

/* metricd_NAME{LABEL="VALUE"[,le="LE"]} then the value (the caller's). */
static void prom_series(struct sbuf *b, const char *name, const char *label,
			const char *value, const char *le)
{
	sbuf_puts(b, "metricd_");
	sbuf_puts(b, name);
	if (label) {
		sbuf_puts(b, "{");
		sbuf_puts(b, label);
		sbuf_puts(b, "=\"");
		sbuf_puts(b, value);
		sbuf_puts(b, "\"");
		if (le) {
			sbuf_puts(b, ",le=\"");
			sbuf_puts(b, le);
			sbuf_puts(b, "\"");
		}
		sbuf_puts(b, "}");
	}
	sbuf_puts(b, " ");
}

static void prom_u64(struct sbuf *b, const char *name, const char *label,
		     const char *value, uint64_t v)
{
	prom_series(b, name, label, value, NULL);
	sbuf_u64(b, v);
	sbuf_puts(b, "\n");
}

enum ep_field { EP_REQ, EP_ALLOCS, EP_BYTES, EP_FREES, EP_XFREES };

static uint64_t ep_value(const struct route_counters *r, enum ep_field f)
{
	switch (f) {
	case EP_REQ: return r->requests;
	case EP_ALLOCS: return r->allocs;
	case EP_BYTES: return r->alloc_bytes;
	case EP_FREES: return r->frees;
	case EP_XFREES: return r->xthread_frees;
	}
	return 0;
}

static void prom_endpoint_counters(struct sbuf *b, const struct route_counters *sums)
{
	static const struct {
		const char *name, *help;
		enum ep_field f;
	} ep[] = {
		{ "requests_total", "Requests answered, by endpoint.", EP_REQ },
		{ "heap_allocations_total", "Global allocator allocations made by metricd for the endpoint's requests, all threads.", EP_ALLOCS },
		{ "heap_allocated_bytes_total", "Bytes requested from the global allocator for the endpoint.", EP_BYTES },
		{ "heap_frees_total", "Global allocator frees for the endpoint, all threads.", EP_FREES },
		{ "heap_cross_thread_frees_total", "Frees of memory allocated on another thread.", EP_XFREES },
	};

	for (size_t k = 0; k < NFIG(ep); k++) {
		prom_head(b, ep[k].name, "counter", ep[k].help);
		for (unsigned r = 0; r < ROUTE__COUNT; r++)
			prom_u64(b, ep[k].name, "endpoint", http_route_name((enum http_route)r),
				 ep_value(&sums[r], ep[k].f));
	}
	prom_head(b, "responses_total", "counter", "Responses by endpoint and status code.");
	for (unsigned r = 0; r < ROUTE__COUNT; r++)
		for (unsigned s = 0; s < SS__COUNT; s++) {
			if (!sums[r].status[s])
				continue;
			sbuf_puts(b, "metricd_responses_total{endpoint=\"");
			sbuf_puts(b, http_route_name((enum http_route)r));
			sbuf_puts(b, "\",code=\"");
			sbuf_puts(b, status_text[s]);
			sbuf_puts(b, "\"} ");
			sbuf_u64(b, sums[r].status[s]);
			sbuf_puts(b, "\n");
		}
	prom_head(b, "allocator_seconds_total", "counter",
		  "Time spent inside malloc and free for the endpoint, all threads.");
	for (unsigned r = 0; r < ROUTE__COUNT; r++) {
		prom_series(b, "allocator_seconds_total", "endpoint",
			    http_route_name((enum http_route)r), NULL);
		sbuf_ratio(b, (double)sums[r].alloc_cycles * clock_ns_per_cycle(), 1e9);
		sbuf_puts(b, "\n");
	}
}

static void prom_latency(struct sbuf *b, const struct route_counters *sums)
{
	static const char name[] = "request_duration_seconds";

	prom_head(b, name, "histogram",
		  "From the request being framed to its answer reaching the kernel.");
	for (unsigned r = 0; r < ROUTE__COUNT; r++) {
		const char *ep = http_route_name((enum http_route)r);
		uint64_t cum = 0, n = hist_count(&sums[r]);

		for (unsigned i = 0; i < PROM_BUCKETS; i++) {
			cum += sums[r].prom[i];
			prom_series(b, "request_duration_seconds_bucket", "endpoint", ep,
				    prom_le_text[i]);
			sbuf_u64(b, cum);
			sbuf_puts(b, "\n");
		}
		prom_series(b, "request_duration_seconds_bucket", "endpoint", ep, "+Inf");
		sbuf_u64(b, n);
		sbuf_puts(b, "\n");
		prom_series(b, "request_duration_seconds_sum", "endpoint", ep, NULL);
		sbuf_ratio(b, (double)sums[r].lat_sum_ns, 1e9);
		sbuf_puts(b, "\n");
		prom_u64(b, "request_duration_seconds_count", "endpoint", ep, n);
	}
}

static void prom_workers(struct sbuf *b, const struct telemetry *tm)
{
	char id[12];

	for (size_t k = 0; k < NFIG(worker_figures); k++) {
		const struct figure *f = &worker_figures[k];

		prom_head(b, f->prom, f->type, f->help);
		for (unsigned w = 0; w < tm->nworkers; w++) {
			id[fmt_u64(id, w)] = '\0';
			prom_u64(b, f->prom, "worker", id, figure_value(&tm->workers[w]->w, f));
		}
	}
	prom_head(b, "worker_ring_depth", "gauge", "Requests queued in the worker's ring now.");
	for (unsigned w = 0; w < tm->nworkers; w++) {
		id[fmt_u64(id, w)] = '\0';
		prom_u64(b, "worker_ring_depth", "worker", id, queue_req_depth(tm->rings[w]));
	}
	prom_head(b, "worker_ring_high_water", "gauge", "Deepest the worker's ring has been.");
	for (unsigned w = 0; w < tm->nworkers; w++) {
		id[fmt_u64(id, w)] = '\0';
		prom_u64(b, "worker_ring_high_water", "worker", id,
			 CNT_GET(tm->ring_high_water[w]));
	}
}

size_t telemetry_write_prometheus(const struct telemetry *tm, char *out, size_t cap)
{
	struct route_counters sums[ROUTE__COUNT];
	struct sbuf b;

	sum_routes(tm, sums);
	sbuf_init(&b, out, cap);
	prom_endpoint_counters(&b, sums);
	prom_latency(&b, sums);
	prom_workers(&b, tm);
	for (size_t k = 0; k < NFIG(acceptor_figures); k++) {
		const struct figure *f = &acceptor_figures[k];

		prom_head(&b, f->prom, f->type, f->help);
		prom_u64(&b, f->prom, NULL, NULL, figure_value(tm->acc, f));
	}
	return b.full ? 0 : b.len;
}
