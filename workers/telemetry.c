/* /stats (JSON) and /metrics (Prometheus): every thread's counters,
 * summed, written into a caller's buffer without allocating.  Readers only:
 * each thread writes its own counters (core/base/counters.h). */
#include "config.h"

#include <string.h>

#include "core/base/clock.h"
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

/* ---- readers -------------------------------------------------------------- */

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

/* One endpoint summed over every thread (allocations happen on the acceptor
 * and on workers alike). */
static void sum_route(const struct telemetry *reg, unsigned route,
		      struct route_counters *sum)
{
	memset(sum, 0, sizeof(*sum));
	add_route(sum, &reg->acceptor->route[route]);
	for (unsigned w = 0; w < reg->nworkers; w++)
		add_route(sum, &reg->workers[w]->route[route]);
}

static uint64_t hist_count(const struct route_counters *r)
{
	uint64_t n = 0;

	for (unsigned i = 0; i < LAT_BUCKETS; i++)
		n += r->lat[i];
	return n;
}

static void json_us(struct sbuf *b, const char *key, uint64_t ns, bool comma)
{
	sbuf_puts(b, "\"");
	sbuf_puts(b, key);
	sbuf_puts(b, "\":");
	sbuf_ratio(b, (double)ns, 1000.0);
	if (comma)
		sbuf_puts(b, ",");
}

static void json_kv(struct sbuf *b, const char *key, uint64_t v, bool comma)
{
	sbuf_puts(b, "\"");
	sbuf_puts(b, key);
	sbuf_puts(b, "\":");
	sbuf_u64(b, v);
	if (comma)
		sbuf_puts(b, ",");
}

static void json_endpoint(struct sbuf *b, const struct route_counters *r)
{
	double req = (double)r->requests;
	uint64_t n = hist_count(r);
	bool first = true;

	json_kv(b, "requests", r->requests, true);
	sbuf_puts(b, "\"responses\":{");
	for (unsigned s = 0; s < SS__COUNT; s++) {
		if (!r->status[s])
			continue;
		if (!first)
			sbuf_puts(b, ",");
		first = false;
		sbuf_puts(b, "\"");
		sbuf_puts(b, status_text[s]);
		sbuf_puts(b, "\":");
		sbuf_u64(b, r->status[s]);
	}
	sbuf_puts(b, "},\"allocs_per_request\":");
	sbuf_ratio(b, (double)r->allocs, req);
	sbuf_puts(b, ",\"bytes_per_request\":");
	sbuf_ratio(b, (double)r->alloc_bytes, req);
	sbuf_puts(b, ",\"frees_per_request\":");
	sbuf_ratio(b, (double)r->frees, req);
	sbuf_puts(b, ",\"cross_thread_frees_per_request\":");
	sbuf_ratio(b, (double)r->xthread_frees, req);
	sbuf_puts(b, ",\"allocator_ns_per_request\":");
	sbuf_ratio(b, (double)r->alloc_cycles * clock_ns_per_cycle(), req);
	sbuf_puts(b, ",");
	json_kv(b, "allocs", r->allocs, true);
	json_kv(b, "alloc_bytes", r->alloc_bytes, true);
	json_kv(b, "frees", r->frees, true);
	json_kv(b, "cross_thread_frees", r->xthread_frees, true);
	sbuf_puts(b, "\"latency_us\":{");
	json_us(b, "mean", n ? r->lat_sum_ns / n : 0, true);
	json_us(b, "p50", lat_quantile(r->lat, n, 0.50), true);
	json_us(b, "p90", lat_quantile(r->lat, n, 0.90), true);
	json_us(b, "p99", lat_quantile(r->lat, n, 0.99), true);
	json_us(b, "p999", lat_quantile(r->lat, n, 0.999), true);
	json_us(b, "max", r->lat_max_ns, false);
	sbuf_puts(b, "}");
}

size_t telemetry_write_json(const struct telemetry *reg, char *out, size_t cap)
{
	struct route_counters sum;
	struct sbuf b;
	const struct acceptor_counters *a = reg->acc;

	sbuf_init(&b, out, cap);
	sbuf_puts(&b, "{\"uptime_s\":");
	sbuf_ratio(&b, (double)(clock_mono_ns() - reg->start_ns), 1e9);
	sbuf_puts(&b, ",\"workers\":");
	sbuf_u64(&b, reg->nworkers);
	sbuf_puts(&b, ",\"endpoints\":{");
	for (unsigned r = 0; r < ROUTE__COUNT; r++) {
		sum_route(reg, r, &sum);
		if (r)
			sbuf_puts(&b, ",");
		sbuf_puts(&b, "\"");
		sbuf_puts(&b, http_route_name((enum http_route)r));
		sbuf_puts(&b, "\":{");
		json_endpoint(&b, &sum);
		sbuf_puts(&b, "}");
	}
	sbuf_puts(&b, "},\"acceptor\":{");
	json_kv(&b, "connections_open", CNT_GET(a->open), true);
	json_kv(&b, "accepted", CNT_GET(a->accepted), true);
	json_kv(&b, "rejected_over_max_conns", CNT_GET(a->rejected_full), true);
	json_kv(&b, "accept_pauses_out_of_fds", CNT_GET(a->accept_paused), true);
	json_kv(&b, "ring_full", CNT_GET(a->ring_full), true);
	json_kv(&b, "pipeline_pauses", CNT_GET(a->pipeline_pauses), true);
	json_kv(&b, "header_timeouts", CNT_GET(a->header_timeouts), true);
	json_kv(&b, "idle_closes", CNT_GET(a->idle_closes), true);
	json_kv(&b, "resets", CNT_GET(a->resets), true);
	json_kv(&b, "closed_without_request", CNT_GET(a->closed_unused), true);
	json_kv(&b, "bytes_read", CNT_GET(a->bytes_read), true);
	json_kv(&b, "frame_bytes_examined", CNT_GET(a->frame_bytes_examined), true);
	json_kv(&b, "read_budget_yields", CNT_GET(a->read_budget_yields), true);
	json_kv(&b, "access_log_dropped", CNT_GET(a->access_log_dropped), true);
	json_kv(&b, "worker_wakeups_sent", CNT_GET(a->wakes), false);
	sbuf_puts(&b, "},\"worker\":[");
	for (unsigned w = 0; w < reg->nworkers; w++) {
		const struct counters *t = reg->workers[w];
		uint64_t req = 0;

		for (unsigned r = 0; r < ROUTE__COUNT; r++)
			req += CNT_GET(t->route[r].requests);
		if (w)
			sbuf_puts(&b, ",");
		sbuf_puts(&b, "{");
		json_kv(&b, "id", w, true);
		sbuf_puts(&b, "\"cpu\":");
		if (t->cpu < 0)
			sbuf_puts(&b, "null");
		else
			sbuf_u64(&b, (uint64_t)t->cpu);
		sbuf_puts(&b, ",");
		json_kv(&b, "requests", req, true);
		json_kv(&b, "ring_depth", queue_req_depth(reg->rings[w]), true);
		json_kv(&b, "ring_high_water", CNT_GET(reg->ring_high_water[w]), true);
		json_kv(&b, "batches", CNT_GET(t->w.batches), true);
		json_kv(&b, "wakeups", CNT_GET(t->w.wakeups), true);
		json_kv(&b, "sleeps", CNT_GET(t->w.sleeps), true);
		json_kv(&b, "partial_writes", CNT_GET(t->w.partial_writes), true);
		json_kv(&b, "write_errors", CNT_GET(t->w.write_errors), true);
		json_kv(&b, "connections_with_unsent_bytes", CNT_GET(t->w.conns_with_tail), true);
		json_kv(&b, "unsent_blocks", CNT_GET(t->w.tail_blocks_in_use), true);
		json_kv(&b, "unsent_blocks_unmapped", CNT_GET(t->w.tail_blocks_unmapped), true);
		json_kv(&b, "held_requests", CNT_GET(t->w.held), true);
		json_kv(&b, "dropped_requests", CNT_GET(t->w.dropped), true);
		json_kv(&b, "send_timeouts", CNT_GET(t->w.send_timeouts), true);
		json_kv(&b, "shutdown_refused", CNT_GET(t->w.shutdown_refused), true);
		sbuf_puts(&b, "\"slab\":{");
		json_kv(&b, "size", CNT_GET(t->w.slab_size), true);
		json_kv(&b, "last_batch_bytes", CNT_GET(t->w.slab_last_batch_bytes), true);
		json_kv(&b, "high_water", CNT_GET(t->w.slab_high_water), true);
		json_kv(&b, "resets", CNT_GET(t->w.slab_resets), true);
		json_kv(&b, "oversized_fallbacks", CNT_GET(t->w.slab_overflows), false);
		sbuf_puts(&b, "}}");
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

static void prom_label_line(struct sbuf *b, const char *name, const char *lk,
			    const char *lv, uint64_t v)
{
	sbuf_puts(b, "metricd_");
	sbuf_puts(b, name);
	sbuf_puts(b, "{");
	sbuf_puts(b, lk);
	sbuf_puts(b, "=\"");
	sbuf_puts(b, lv);
	sbuf_puts(b, "\"} ");
	sbuf_u64(b, v);
	sbuf_puts(b, "\n");
}

static void prom_plain(struct sbuf *b, const char *name, const char *type,
		       const char *help, uint64_t v)
{
	prom_head(b, name, type, help);
	sbuf_puts(b, "metricd_");
	sbuf_puts(b, name);
	sbuf_puts(b, " ");
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

static void prom_worker_series(struct sbuf *b, const struct telemetry *reg,
			       const char *name, const char *type, const char *help,
			       size_t offset)
{
	prom_head(b, name, type, help);
	for (unsigned w = 0; w < reg->nworkers; w++) {
		char id[12];
		const uint64_t *field = (const uint64_t *)
			((const char *)&reg->workers[w]->w + offset);

		id[fmt_u64(id, w)] = '\0';
		prom_label_line(b, name, "worker", id, __atomic_load_n(field, __ATOMIC_RELAXED));
	}
}

size_t telemetry_write_prometheus(const struct telemetry *reg, char *out, size_t cap)
{
	static const struct {
		const char *name, *help;
		enum ep_field f;
	} ep_counters[] = {
		{ "requests_total", "Requests answered, by endpoint.", EP_REQ },
		{ "heap_allocations_total", "Global allocator allocations made by metricd for the endpoint's requests, all threads.", EP_ALLOCS },
		{ "heap_allocated_bytes_total", "Bytes requested from the global allocator for the endpoint.", EP_BYTES },
		{ "heap_frees_total", "Global allocator frees for the endpoint, all threads.", EP_FREES },
		{ "heap_cross_thread_frees_total", "Frees of memory allocated on another thread.", EP_XFREES },
	};
	static struct {
		const char *name, *help;
		size_t off;
	} const wk[] = {
		{ "worker_batches_total", "Batches drained from the worker's ring.", offsetof(struct worker_counters, batches) },
		{ "worker_wakeups_total", "Times the worker woke from sleep.", offsetof(struct worker_counters, wakeups) },
		{ "worker_sleeps_total", "Times the worker went to sleep after its spin budget.", offsetof(struct worker_counters, sleeps) },
		{ "worker_partial_writes_total", "Writes the socket took only part of.", offsetof(struct worker_counters, partial_writes) },
		{ "worker_write_errors_total", "Writes that failed (peer gone).", offsetof(struct worker_counters, write_errors) },
		{ "worker_slab_resets_total", "Slab resets (one per flushed batch).", offsetof(struct worker_counters, slab_resets) },
		{ "worker_slab_oversized_total", "Slab allocations that did not fit and forced an early flush.", offsetof(struct worker_counters, slab_overflows) },
		{ "worker_held_requests_total", "Requests put off because the connection's unsent bytes reached --max-unsent-bytes.", offsetof(struct worker_counters, held) },
		{ "worker_dropped_requests_total", "Requests not computed because the peer was gone.", offsetof(struct worker_counters, dropped) },
		{ "worker_send_timeouts_total", "Connections closed because their unsent bytes made no progress for --send-timeout.", offsetof(struct worker_counters, send_timeouts) },
		{ "worker_shutdown_refused_total", "Requests answered 503 after --shutdown-timeout.", offsetof(struct worker_counters, shutdown_refused) },
		{ "worker_unsent_blocks_unmapped_total", "Unsent-byte blocks given back to the system.", offsetof(struct worker_counters, tail_blocks_unmapped) },
	};
	struct route_counters sum;
	struct sbuf b;

	sbuf_init(&b, out, cap);
	for (size_t k = 0; k < sizeof(ep_counters) / sizeof(ep_counters[0]); k++) {
		prom_head(&b, ep_counters[k].name, "counter", ep_counters[k].help);
		for (unsigned r = 0; r < ROUTE__COUNT; r++) {
			sum_route(reg, r, &sum);
			prom_label_line(&b, ep_counters[k].name, "endpoint",
					http_route_name((enum http_route)r),
					ep_value(&sum, ep_counters[k].f));
		}
	}
	prom_head(&b, "responses_total", "counter", "Responses by endpoint and status code.");
	for (unsigned r = 0; r < ROUTE__COUNT; r++) {
		sum_route(reg, r, &sum);
		for (unsigned s = 0; s < SS__COUNT; s++) {
			if (!sum.status[s])
				continue;
			sbuf_puts(&b, "metricd_responses_total{endpoint=\"");
			sbuf_puts(&b, http_route_name((enum http_route)r));
			sbuf_puts(&b, "\",code=\"");
			sbuf_puts(&b, status_text[s]);
			sbuf_puts(&b, "\"} ");
			sbuf_u64(&b, sum.status[s]);
			sbuf_puts(&b, "\n");
		}
	}
	prom_head(&b, "allocator_seconds_total", "counter",
		  "Time spent inside malloc and free for the endpoint, all threads.");
	for (unsigned r = 0; r < ROUTE__COUNT; r++) {
		sum_route(reg, r, &sum);
		sbuf_puts(&b, "metricd_allocator_seconds_total{endpoint=\"");
		sbuf_puts(&b, http_route_name((enum http_route)r));
		sbuf_puts(&b, "\"} ");
		sbuf_ratio(&b, (double)sum.alloc_cycles * clock_ns_per_cycle(), 1e9);
		sbuf_puts(&b, "\n");
	}
	prom_head(&b, "request_duration_seconds", "histogram",
		  "From the request being framed to its answer reaching the kernel.");
	for (unsigned r = 0; r < ROUTE__COUNT; r++) {
		const char *ep = http_route_name((enum http_route)r);
		uint64_t cum = 0;

		sum_route(reg, r, &sum);
		for (unsigned i = 0; i < PROM_BUCKETS; i++) {
			cum += sum.prom[i];
			sbuf_puts(&b, "metricd_request_duration_seconds_bucket{endpoint=\"");
			sbuf_puts(&b, ep);
			sbuf_puts(&b, "\",le=\"");
			sbuf_puts(&b, prom_le_text[i]);
			sbuf_puts(&b, "\"} ");
			sbuf_u64(&b, cum);
			sbuf_puts(&b, "\n");
		}
		uint64_t n = hist_count(&sum);
		sbuf_puts(&b, "metricd_request_duration_seconds_bucket{endpoint=\"");
		sbuf_puts(&b, ep);
		sbuf_puts(&b, "\",le=\"+Inf\"} ");
		sbuf_u64(&b, n);
		sbuf_puts(&b, "\nmetricd_request_duration_seconds_sum{endpoint=\"");
		sbuf_puts(&b, ep);
		sbuf_puts(&b, "\"} ");
		sbuf_ratio(&b, (double)sum.lat_sum_ns, 1e9);
		sbuf_puts(&b, "\nmetricd_request_duration_seconds_count{endpoint=\"");
		sbuf_puts(&b, ep);
		sbuf_puts(&b, "\"} ");
		sbuf_u64(&b, n);
		sbuf_puts(&b, "\n");
	}
	for (size_t k = 0; k < sizeof(wk) / sizeof(wk[0]); k++)
		prom_worker_series(&b, reg, wk[k].name, "counter", wk[k].help, wk[k].off);
	prom_worker_series(&b, reg, "worker_slab_high_water_bytes", "gauge",
			   "Most slab bytes one batch used.",
			   offsetof(struct worker_counters, slab_high_water));
	prom_worker_series(&b, reg, "worker_connections_with_unsent_bytes", "gauge",
			   "Connections whose answers wait for the client to read.",
			   offsetof(struct worker_counters, conns_with_tail));
	prom_worker_series(&b, reg, "worker_unsent_blocks", "gauge",
			   "16 KiB blocks holding unsent bytes or held requests.",
			   offsetof(struct worker_counters, tail_blocks_in_use));
	prom_head(&b, "worker_ring_depth", "gauge", "Requests queued in the worker's ring now.");
	for (unsigned w = 0; w < reg->nworkers; w++) {
		char id[12];

		id[fmt_u64(id, w)] = '\0';
		prom_label_line(&b, "worker_ring_depth", "worker", id,
				queue_req_depth(reg->rings[w]));
	}
	prom_head(&b, "worker_ring_high_water", "gauge", "Deepest the worker's ring has been.");
	for (unsigned w = 0; w < reg->nworkers; w++) {
		char id[12];

		id[fmt_u64(id, w)] = '\0';
		prom_label_line(&b, "worker_ring_high_water", "worker", id,
				CNT_GET(reg->ring_high_water[w]));
	}
	prom_plain(&b, "connections_open", "gauge", "Open client connections.",
		   CNT_GET(reg->acc->open));
	prom_plain(&b, "connections_accepted_total", "counter", "Connections accepted.",
		   CNT_GET(reg->acc->accepted));
	prom_plain(&b, "connections_rejected_total", "counter",
		   "Connections closed at once because --max-conns were open.",
		   CNT_GET(reg->acc->rejected_full));
	prom_plain(&b, "ring_full_total", "counter",
		   "Times a worker's ring was full and a connection waited.",
		   CNT_GET(reg->acc->ring_full));
	prom_plain(&b, "header_timeouts_total", "counter",
		   "Requests answered 408 because the head did not arrive within --header-timeout.",
		   CNT_GET(reg->acc->header_timeouts));
	prom_plain(&b, "idle_closes_total", "counter",
		   "Keep-alive connections closed after --idle-timeout.",
		   CNT_GET(reg->acc->idle_closes));
	prom_plain(&b, "pipeline_pauses_total", "counter",
		   "Times a connection reached --max-pipeline and was paused.",
		   CNT_GET(reg->acc->pipeline_pauses));
	prom_plain(&b, "connection_resets_total", "counter",
		   "Connections the peer reset; their queued requests were dropped.",
		   CNT_GET(reg->acc->resets));
	prom_plain(&b, "connections_closed_without_request_total", "counter",
		   "Connections that closed before sending a whole request (closed by the acceptor).",
		   CNT_GET(reg->acc->closed_unused));
	prom_plain(&b, "read_bytes_total", "counter", "Bytes read from clients.",
		   CNT_GET(reg->acc->bytes_read));
	prom_plain(&b, "frame_bytes_examined_total", "counter",
		   "Bytes the framer looked at (linear in the bytes read).",
		   CNT_GET(reg->acc->frame_bytes_examined));
	prom_plain(&b, "read_budget_yields_total", "counter",
		   "Times a connection framed its per-turn share and let the others go first.",
		   CNT_GET(reg->acc->read_budget_yields));
	prom_plain(&b, "access_log_dropped_total", "counter",
		   "Access-log lines dropped because a worker's log ring was full.",
		   CNT_GET(reg->acc->access_log_dropped));
	return b.full ? 0 : b.len;
}
