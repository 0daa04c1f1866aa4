/* SPDX-License-Identifier: BSD-2-Clause */
/* /stats (JSON) and /metrics (Prometheus): every thread's counters,
 * summed, and the process's own figures, written into a caller's buffer
 * without allocating.  Readers only: each thread writes its own counters
 * (core/base/counters.h).
 *
 * Each group of figures - the process, the acceptor, the workers - is one
 * table below, read by both writers, so a figure in /stats is in /metrics
 * too; the endpoints' figures are written by the code after the tables
 * (tests/test_stats_metrics.py checks the whole of /stats against
 * /metrics). */
#include "config.h"

#include <stddef.h>
#include <string.h>

#include "core/base/clock.h"
#include "core/base/fmt.h"
#include "core/base/proc.h"
#include "core/base/sbuf.h"
#include "http/route.h"
#include "queue/queue.h"
#include "workers/accesslog.h"
#include "workers/handler.h"
#include "workers/telemetry.h"

#define LAT_TEXT(ns, text, a) text,
static const char *const lat_bound_text[LAT_BOUNDS] = { LAT_BOUNDS_LIST(LAT_TEXT, _) };
#undef LAT_TEXT

static const char *const status_text[SS__COUNT] = {
	"200", "304", "400", "404", "405", "408", "413", "417", "431", "500", "503", "505", "other",
};

/* An endpoint's kind (http/routes.def), as /stats names it: what a
 * reader such as the live page pairs side by side. */
static const char *const kind_text[] = {
	[EP_STACK] = "stack", [EP_HEAP] = "heap", [EP_ADMIN] = "admin",
};

/* The percentiles /stats gives, named as blast --json names them: "p"
 * and the percentile, its decimal point an underscore. */
static const struct {
	const char *name;
	double q;
} percentiles[] = {
	{ "p50", 0.50 }, { "p90", 0.90 }, { "p99", 0.99 }, { "p99_9", 0.999 },
};

/* One figure: its /stats key, its /metrics name, type and help, where it
 * is in its block, and whether it is a time in ns (written in seconds). */
struct figure {
	const char *json, *prom, *type, *help;
	size_t off;
	bool ns;
};

/* The process, under the names Prometheus's client libraries give these
 * figures.  Read when the page is written; one that cannot be read is
 * left out. */
struct process {
	struct proc_figures now;
	uint64_t start_unix_ns;
};

#define PROC(json, type, field, ns, help) \
	{ json, "process_" json, type, help, offsetof(struct process, field), ns }
static const struct figure process_figures[] = {
	PROC("start_time_seconds", "gauge", start_unix_ns, true,
	     "When the process started, in seconds since the epoch."),
	PROC("cpu_seconds_total", "counter", now.cpu_ns, true,
	     "CPU time the process used, user and system, every thread."),
	PROC("resident_memory_bytes", "gauge", now.resident_bytes, false,
	     "Memory the process has resident."),
	PROC("virtual_memory_bytes", "gauge", now.virtual_bytes, false,
	     "The process's virtual memory size."),
	PROC("open_fds", "gauge", now.open_fds, false,
	     "File descriptors the process has open."),
	PROC("max_fds", "gauge", now.max_fds, false,
	     "The most file descriptors the process may open (the soft RLIMIT_NOFILE)."),
};
#undef PROC

#define ACC(json, prom, type, field, help) \
	{ json, "metricd_" prom, type, help, offsetof(struct acceptor_counters, field), false }
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
	ACC("frame_bytes_examined", "framer_examined_bytes_total", "counter",
	    frame_bytes_examined, "Bytes the framer looked at (linear in the bytes read)."),
	ACC("heads_plain", "framer_plain_heads_total", "counter", heads_plain,
	    "Request heads framed by the strict scan alone, without http-parser (plain GET/HEAD heads)."),
	ACC("read_budget_yields", "read_budget_yields_total", "counter",
	    read_budget_yields,
	    "Times a connection framed its per-turn share and let the others go first."),
	ACC("access_log_text_dropped", "access_log_text_dropped_total", "counter",
	    access_log_text_dropped,
	    "Requests logged without target, referer and user agent because a worker's text ring was full."),
	ACC("worker_wakeups_sent", "worker_wakeups_sent_total", "counter", wakes,
	    "Wake-ups the acceptor sent to sleeping workers."),
	ACC("reloads_applied", "reloads_applied_total", "counter", reloads,
	    "Reloads (SIGHUP) whose live settings the acceptor applied."),
};
#undef ACC

/* Worker figures; those with "slab_" in their /stats key go in its "slab"
 * object, under the rest of the key. */
#define WK(json, prom, type, field, help) \
	{ json, "metricd_" prom, type, help, offsetof(struct worker_counters, field), false }
static const struct figure worker_figures[] = {
	WK("batches", "worker_batches_total", "counter", batches,
	   "Batches drained from the worker's ring."),
	WK("wakeups", "worker_wakeups_total", "counter", wakeups,
	   "Times the worker woke from sleep."),
	WK("sleeps", "worker_sleeps_total", "counter", sleeps,
	   "Times the worker went to sleep."),
	WK("spins_caught_work", "worker_spins_caught_total", "counter", spins_caught,
	   "Idle spins that ended because work arrived."),
	WK("spins_then_slept", "worker_spins_slept_total", "counter", spins_slept,
	   "Idle spins that ended in a sleep (no work within --spin-us)."),
	WK("partial_writes", "worker_partial_writes_total", "counter", partial_writes,
	   "Writes the socket took only part of."),
	WK("write_errors", "worker_write_errors_total", "counter", write_errors,
	   "Writes that failed (peer gone)."),
	WK("connections_with_unsent_bytes", "worker_connections_with_unsent_data",
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

/* ns as seconds, exactly: "12.0345", "0.00000025", "3". */
static void put_seconds(struct sbuf *b, uint64_t ns)
{
	char frac[10];
	unsigned n = 9;
	uint64_t f = ns % 1000000000u;

	sbuf_u64(b, ns / 1000000000u);
	if (f == 0)
		return;
	frac[0] = '.';
	for (unsigned i = 9; i > 0; i--, f /= 10)
		frac[i] = (char)('0' + f % 10);
	while (frac[n] == '0')
		n--;
	sbuf_putn(b, frac, n + 1);
}

static void put_figure(struct sbuf *b, const struct figure *f, uint64_t v)
{
	if (f->ns)
		put_seconds(b, v);
	else
		sbuf_u64(b, v);
}

static void read_process(const struct telemetry *tm, struct process *p)
{
	proc_read(&p->now);
	p->start_unix_ns = tm->start_unix_ns ? tm->start_unix_ns : PROC_UNKNOWN;
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
	m = CNT_GET(r->lat_min_ns);
	if (m < sum->lat_min_ns)
		sum->lat_min_ns = m;
	for (unsigned i = 0; i < LAT_BUCKETS; i++)
		sum->lat[i] += CNT_GET(r->lat[i]);
}

/* Every endpoint summed over every thread (allocations happen on the
 * acceptor and on workers alike).  A minimum no latency has lowered is 0. */
static void sum_routes(const struct telemetry *tm,
		       struct route_counters sums[ROUTE__COUNT])
{
	memset(sums, 0, sizeof(struct route_counters) * ROUTE__COUNT);
	for (unsigned r = 0; r < ROUTE__COUNT; r++) {
		sums[r].lat_min_ns = UINT64_MAX;
		for (unsigned a = 0; a < tm->nshards; a++)
			add_route(&sums[r], &tm->acceptors[a]->route[r]);
		for (unsigned w = 0; w < tm->nworkers; w++)
			add_route(&sums[r], &tm->workers[w]->route[r]);
		if (sums[r].lat_min_ns == UINT64_MAX)
			sums[r].lat_min_ns = 0;
	}
}

/* An acceptor figure of one shard, or (shard < 0) summed over them. */
static uint64_t acceptor_value(const struct telemetry *tm, int shard,
			       const struct figure *f)
{
	uint64_t n = 0;

	if (shard >= 0)
		return figure_value(tm->accs[shard], f);
	for (unsigned a = 0; a < tm->nshards; a++)
		n += figure_value(tm->accs[a], f);
	return n;
}

/* The access log is the process's, shared by the shards. */
static uint64_t alog_drops(const struct telemetry *tm)
{
	return tm->alog ? alog_dropped(tm->alog) : 0;
}

uint64_t telemetry_draining(const struct telemetry *tm)
{
	return tm->draining ? __atomic_load_n(tm->draining, __ATOMIC_RELAXED) : 0;
}

static uint64_t hist_count(const struct route_counters *r)
{
	uint64_t n = 0;

	for (unsigned i = 0; i < LAT_BUCKETS; i++)
		n += r->lat[i];
	return n;
}

static double quantile_ns(const struct route_counters *r, double q)
{
	return lat_quantile(r->lat, r->lat_min_ns, r->lat_max_ns, q);
}

static uint64_t worker_requests(const struct counters *t)
{
	uint64_t n = 0;

	for (unsigned r = 0; r < ROUTE__COUNT; r++)
		n += CNT_GET(t->route[r].requests);
	return n;
}

/* metricd_build_info's labels and the /stats "build" object. */
struct build_facts {
	const char *version, *allocator, *sanitizers;
	char libc[48];
};

static void build_facts(const struct telemetry *tm, struct build_facts *bf)
{
	bf->version = PACKAGE_VERSION;
	bf->allocator = tm->allocator ? tm->allocator : "unknown";
	bf->sanitizers = METRICD_SANITIZERS;
	proc_libc(bf->libc, sizeof(bf->libc));
}

/* s in a JSON string (json) or in a Prometheus label value: '\' and '"'
 * escaped in both, a line feed as \n; JSON's other control characters as
 * \u00XX (a label value may hold them as they are). */
static void put_escaped(struct sbuf *b, const char *s, bool json)
{
	static const char hex[] = "0123456789abcdef";

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		char e[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };

		if (c == '\\' || c == '"') {
			e[1] = (char)c;
			sbuf_putn(b, e, 2);
		} else if (c == '\n') {
			sbuf_putn(b, "\\n", 2);
		} else if (c < 0x20 && json) {
			sbuf_putn(b, e, 6);
		} else {
			sbuf_putn(b, s, 1);
		}
	}
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

static void json_str(struct sbuf *b, const char *key, const char *v, bool comma)
{
	json_key(b, key);
	sbuf_puts(b, "\"");
	put_escaped(b, v, true);
	sbuf_puts(b, comma ? "\"," : "\"");
}

static void json_build(struct sbuf *b, const struct telemetry *tm)
{
	struct build_facts bf;

	build_facts(tm, &bf);
	sbuf_puts(b, "\"build\":{");
	json_str(b, "version", bf.version, true);
	json_str(b, "libc", bf.libc, true);
	json_str(b, "allocator", bf.allocator, true);
	json_str(b, "sanitizers", bf.sanitizers, false);
	sbuf_puts(b, "},");
}

static void json_process(struct sbuf *b, const struct telemetry *tm)
{
	struct process p;
	bool first = true;

	read_process(tm, &p);
	sbuf_puts(b, "\"process\":{");
	for (size_t k = 0; k < NFIG(process_figures); k++) {
		const struct figure *f = &process_figures[k];
		uint64_t v = figure_value(&p, f);

		if (v == PROC_UNKNOWN)
			continue;
		if (!first)
			sbuf_puts(b, ",");
		first = false;
		json_key(b, f->json);
		put_figure(b, f, v);
	}
	sbuf_puts(b, "},");
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
	json_ratio(b, "min", (double)r->lat_min_ns, 1000.0, true);
	json_ratio(b, "mean", n ? (double)(r->lat_sum_ns / n) : 0, 1000.0, true);
	for (size_t k = 0; k < NFIG(percentiles); k++)
		json_ratio(b, percentiles[k].name, quantile_ns(r, percentiles[k].q), 1000.0,
			   true);
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

static void json_cpu(struct sbuf *b, int cpu)
{
	json_key(b, "cpu");
	if (cpu < 0)
		sbuf_puts(b, "null,");
	else {
		sbuf_u64(b, (uint64_t)cpu);
		sbuf_puts(b, ",");
	}
}

static void json_worker(struct sbuf *b, const struct telemetry *tm, unsigned w)
{
	const struct counters *t = tm->workers[w];

	json_kv(b, "id", w, true);
	json_kv(b, "shard", t->shard, true);
	json_cpu(b, t->cpu);
	sbuf_puts(b, t->spin ? "\"spin\":true," : "\"spin\":false,");
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

static void json_endpoints(struct sbuf *b, const struct route_counters *sums)
{
	sbuf_puts(b, "\"endpoints\":{");
	for (unsigned r = 0; r < ROUTE__COUNT; r++) {
		if (r)
			sbuf_puts(b, ",");
		json_key(b, http_route_name((enum http_route)r));
		sbuf_puts(b, "{\"kind\":\"");
		sbuf_puts(b, r == ROUTE_NONE ? "none" : kind_text[endpoints[r].kind]);
		sbuf_puts(b, "\",");
		json_endpoint(b, &sums[r]);
		sbuf_puts(b, "}");
	}
	sbuf_puts(b, "},");
}

/* The acceptor figures of one shard, or (shard < 0) summed. */
static void json_acceptor(struct sbuf *b, const struct telemetry *tm, int shard)
{
	for (size_t k = 0; k < NFIG(acceptor_figures); k++)
		json_kv(b, acceptor_figures[k].json,
			acceptor_value(tm, shard, &acceptor_figures[k]),
			k + 1 < NFIG(acceptor_figures));
}

/* Each shard: its acceptor's CPU, its workers, its acceptor figures. */
static void json_shards(struct sbuf *b, const struct telemetry *tm)
{
	sbuf_puts(b, "\"shards\":[");
	for (unsigned a = 0; a < tm->nshards; a++) {
		unsigned n = 0;

		for (unsigned w = 0; w < tm->nworkers; w++)
			n += tm->workers[w]->shard == a;
		sbuf_puts(b, a ? ",{" : "{");
		json_kv(b, "id", a, true);
		json_cpu(b, tm->acceptors[a]->cpu);
		json_kv(b, "workers", n, true);
		json_acceptor(b, tm, (int)a);
		sbuf_puts(b, "}");
	}
	sbuf_puts(b, "],");
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
	json_kv(&b, "acceptors", tm->nshards, true);
	json_kv(&b, "draining", telemetry_draining(tm), true);
	json_build(&b, tm);
	json_process(&b, tm);
	json_endpoints(&b, sums);
	sbuf_puts(&b, "\"acceptor\":{");
	json_kv(&b, "access_log_dropped", alog_drops(tm), true);
	json_acceptor(&b, tm, -1);
	sbuf_puts(&b, "},");
	json_shards(&b, tm);
	sbuf_puts(&b, "\"worker\":[");
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
	sbuf_puts(b, "# HELP ");
	sbuf_puts(b, name);
	sbuf_puts(b, " ");
	sbuf_puts(b, help);
	sbuf_puts(b, "\n# TYPE ");
	sbuf_puts(b, name);
	sbuf_puts(b, " ");
	sbuf_puts(b, type);
	sbuf_puts(b, "\n");
}

/* NAME{LABEL="VALUE"[,le="LE"]} then the value (the caller's). */
static void prom_series(struct sbuf *b, const char *name, const char *label,
			const char *value, const char *le)
{
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

static void prom_seconds(struct sbuf *b, const char *name, const char *label,
			 const char *value, uint64_t ns)
{
	prom_series(b, name, label, value, NULL);
	put_seconds(b, ns);
	sbuf_puts(b, "\n");
}

static void prom_build(struct sbuf *b, const struct telemetry *tm)
{
	struct build_facts bf;

	build_facts(tm, &bf);
	const char *const label[] = { "version", "libc", "allocator", "sanitizers" };
	const char *const value[] = { bf.version, bf.libc, bf.allocator, bf.sanitizers };

	prom_head(b, "metricd_build_info", "gauge",
		  "Always 1; the labels say what runs: version, C library, "
		  "the file malloc comes from, sanitizers.");
	sbuf_puts(b, "metricd_build_info{");
	for (size_t k = 0; k < NFIG(label); k++) {
		sbuf_puts(b, k ? "," : "");
		sbuf_puts(b, label[k]);
		sbuf_puts(b, "=\"");
		put_escaped(b, value[k], false);
		sbuf_puts(b, "\"");
	}
	sbuf_puts(b, "} 1\n");
}

static void prom_process(struct sbuf *b, const struct telemetry *tm)
{
	struct process p;

	read_process(tm, &p);
	for (size_t k = 0; k < NFIG(process_figures); k++) {
		const struct figure *f = &process_figures[k];
		uint64_t v = figure_value(&p, f);

		if (v == PROC_UNKNOWN)
			continue;
		prom_head(b, f->prom, f->type, f->help);
		prom_series(b, f->prom, NULL, NULL, NULL);
		put_figure(b, f, v);
		sbuf_puts(b, "\n");
	}
	prom_head(b, "metricd_uptime_seconds", "gauge",
		  "Time since metricd started (the monotonic clock).");
	prom_seconds(b, "metricd_uptime_seconds", NULL, NULL, clock_mono_ns() - tm->start_ns);
	prom_head(b, "metricd_workers", "gauge", "Worker threads.");
	prom_u64(b, "metricd_workers", NULL, NULL, tm->nworkers);
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

static void prom_responses(struct sbuf *b, const struct route_counters *sums)
{
	prom_head(b, "metricd_responses_total", "counter",
		  "Responses by endpoint and status code.");
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
}

static void prom_endpoint_counters(struct sbuf *b, const struct route_counters *sums)
{
	static const struct {
		const char *name, *help;
		enum ep_field f;
	} ep[] = {
		{ "metricd_requests_total", "Requests answered, by endpoint.", EP_REQ },
		{ "metricd_heap_allocations_total", "Global allocator allocations made by metricd for the endpoint's requests, all threads.", EP_ALLOCS },
		{ "metricd_heap_allocated_bytes_total", "Bytes requested from the global allocator for the endpoint.", EP_BYTES },
		{ "metricd_heap_frees_total", "Global allocator frees for the endpoint, all threads.", EP_FREES },
		{ "metricd_heap_cross_thread_frees_total", "Frees of memory allocated on another thread.", EP_XFREES },
	};

	for (size_t k = 0; k < NFIG(ep); k++) {
		prom_head(b, ep[k].name, "counter", ep[k].help);
		for (unsigned r = 0; r < ROUTE__COUNT; r++)
			prom_u64(b, ep[k].name, "endpoint", http_route_name((enum http_route)r),
				 ep_value(&sums[r], ep[k].f));
	}
	prom_responses(b, sums);
	prom_head(b, "metricd_allocator_seconds_total", "counter",
		  "Time spent inside malloc and free for the endpoint, all threads.");
	for (unsigned r = 0; r < ROUTE__COUNT; r++)
		prom_seconds(b, "metricd_allocator_seconds_total", "endpoint",
			     http_route_name((enum http_route)r),
			     (uint64_t)((double)sums[r].alloc_cycles * clock_ns_per_cycle() + 0.5));
}

/* One endpoint's histogram: cumulative buckets, +Inf, sum and count. */
static void prom_histogram(struct sbuf *b, const char *ep, const struct route_counters *r)
{
	static const char name[] = "metricd_request_duration_seconds_bucket";
	uint64_t cum = 0;

	for (unsigned i = 0; i < LAT_BOUNDS; i++) {
		cum += r->lat[i];
		prom_series(b, name, "endpoint", ep, lat_bound_text[i]);
		sbuf_u64(b, cum);
		sbuf_puts(b, "\n");
	}
	prom_series(b, name, "endpoint", ep, "+Inf");
	sbuf_u64(b, cum + r->lat[LAT_BOUNDS]);
	sbuf_puts(b, "\n");
	prom_seconds(b, "metricd_request_duration_seconds_sum", "endpoint", ep, r->lat_sum_ns);
	prom_u64(b, "metricd_request_duration_seconds_count", "endpoint", ep,
		 cum + r->lat[LAT_BOUNDS]);
}

static void prom_latency(struct sbuf *b, const struct route_counters *sums)
{
	prom_head(b, "metricd_request_duration_seconds", "histogram",
		  "From the read that completed the request to its answer reaching the kernel.");
	for (unsigned r = 0; r < ROUTE__COUNT; r++)
		prom_histogram(b, http_route_name((enum http_route)r), &sums[r]);
	prom_head(b, "metricd_request_duration_min_seconds", "gauge",
		  "The shortest request duration since start (0 before the first request).");
	for (unsigned r = 0; r < ROUTE__COUNT; r++)
		prom_seconds(b, "metricd_request_duration_min_seconds", "endpoint",
			     http_route_name((enum http_route)r), sums[r].lat_min_ns);
	prom_head(b, "metricd_request_duration_max_seconds", "gauge",
		  "The longest request duration since start.");
	for (unsigned r = 0; r < ROUTE__COUNT; r++)
		prom_seconds(b, "metricd_request_duration_max_seconds", "endpoint",
			     http_route_name((enum http_route)r), sums[r].lat_max_ns);
}

/* NAME{LABELS} then the value (the caller's); labels written out already. */
static void prom_labelled(struct sbuf *b, const char *name, const char *labels)
{
	sbuf_puts(b, name);
	sbuf_puts(b, "{");
	sbuf_puts(b, labels);
	sbuf_puts(b, "} ");
}

/* KEY="N" at out (room for 40 bytes); returns its length. */
static size_t label_u64(char *out, const char *key, uint64_t n)
{
	size_t k = strlen(key), len;

	memcpy(out, key, k);
	memcpy(out + k, "=\"", 2);
	len = k + 2 + fmt_u64(out + k + 2, n);
	memcpy(out + len, "\"", 2);
	return len + 1;
}

/* worker="W",shard="S" */
static void worker_labels(char *out, const struct telemetry *tm, unsigned w)
{
	size_t n = label_u64(out, "worker", w);

	out[n++] = ',';
	label_u64(out + n, "shard", tm->workers[w]->shard);
}

/* One series per worker of a counter the caller reads for worker w. */
static void prom_per_worker(struct sbuf *b, const struct telemetry *tm, const char *name,
			    uint64_t (*value)(const struct telemetry *, unsigned, const void *),
			    const void *arg)
{
	char lb[96];

	for (unsigned w = 0; w < tm->nworkers; w++) {
		worker_labels(lb, tm, w);
		prom_labelled(b, name, lb);
		sbuf_u64(b, value(tm, w, arg));
		sbuf_puts(b, "\n");
	}
}

static uint64_t wv_figure(const struct telemetry *tm, unsigned w, const void *f)
{
	return figure_value(&tm->workers[w]->w, f);
}

static uint64_t wv_requests(const struct telemetry *tm, unsigned w, const void *arg)
{
	(void)arg;
	return worker_requests(tm->workers[w]);
}

static uint64_t wv_depth(const struct telemetry *tm, unsigned w, const void *arg)
{
	(void)arg;
	return queue_req_depth(tm->rings[w]);
}

static uint64_t wv_high_water(const struct telemetry *tm, unsigned w, const void *arg)
{
	(void)arg;
	return CNT_GET(tm->ring_high_water[w]);
}

static void prom_workers(struct sbuf *b, const struct telemetry *tm)
{
	char lb[96], v[24];

	prom_head(b, "metricd_worker_cpu", "gauge", "The CPU the worker is pinned to; -1: not pinned.");
	for (unsigned w = 0; w < tm->nworkers; w++) {
		worker_labels(lb, tm, w);
		prom_labelled(b, "metricd_worker_cpu", lb);
		sbuf_putn(b, v, fmt_i64(v, tm->workers[w]->cpu));
		sbuf_puts(b, "\n");
	}
	prom_head(b, "metricd_worker_requests_total", "counter", "Requests the worker answered.");
	prom_per_worker(b, tm, "metricd_worker_requests_total", wv_requests, NULL);
	for (size_t k = 0; k < NFIG(worker_figures); k++) {
		const struct figure *f = &worker_figures[k];

		prom_head(b, f->prom, f->type, f->help);
		prom_per_worker(b, tm, f->prom, wv_figure, f);
	}
	prom_head(b, "metricd_worker_ring_depth", "gauge", "Requests queued in the worker's ring now.");
	prom_per_worker(b, tm, "metricd_worker_ring_depth", wv_depth, NULL);
	prom_head(b, "metricd_worker_ring_high_water", "gauge", "Deepest the worker's ring has been.");
	prom_per_worker(b, tm, "metricd_worker_ring_high_water", wv_high_water, NULL);
}

/* The acceptor figures, one series per shard; the access log's drops,
 * the process's. */
static void prom_acceptors(struct sbuf *b, const struct telemetry *tm)
{
	char lb[48];

	char v[24];

	prom_head(b, "metricd_acceptors", "gauge", "Acceptor threads (shards).");
	prom_u64(b, "metricd_acceptors", NULL, NULL, tm->nshards);
	prom_head(b, "metricd_draining", "gauge",
		  "1 from SIGTERM until exit: /healthz answers 503 (--drain-delay).");
	prom_u64(b, "metricd_draining", NULL, NULL, telemetry_draining(tm));
	prom_head(b, "metricd_acceptor_cpu", "gauge",
		  "The CPU the shard's acceptor is pinned to; -1: not pinned.");
	for (unsigned a = 0; a < tm->nshards; a++) {
		label_u64(lb, "shard", a);
		prom_labelled(b, "metricd_acceptor_cpu", lb);
		sbuf_putn(b, v, fmt_i64(v, tm->acceptors[a]->cpu));
		sbuf_puts(b, "\n");
	}
	prom_head(b, "metricd_shard_workers", "gauge", "Worker threads the shard's acceptor feeds.");
	for (unsigned a = 0; a < tm->nshards; a++) {
		unsigned n = 0;

		for (unsigned w = 0; w < tm->nworkers; w++)
			n += tm->workers[w]->shard == a;
		label_u64(lb, "shard", a);
		prom_labelled(b, "metricd_shard_workers", lb);
		sbuf_u64(b, n);
		sbuf_puts(b, "\n");
	}
	for (size_t k = 0; k < NFIG(acceptor_figures); k++) {
		const struct figure *f = &acceptor_figures[k];

		prom_head(b, f->prom, f->type, f->help);
		for (unsigned a = 0; a < tm->nshards; a++) {
			label_u64(lb, "shard", a);
			prom_labelled(b, f->prom, lb);
			sbuf_u64(b, acceptor_value(tm, (int)a, f));
			sbuf_puts(b, "\n");
		}
	}
	prom_head(b, "metricd_access_log_dropped_total", "counter",
		  "Access-log lines dropped because a worker's log ring was full.");
	prom_u64(b, "metricd_access_log_dropped_total", NULL, NULL, alog_drops(tm));
}

size_t telemetry_write_prometheus(const struct telemetry *tm, char *out, size_t cap)
{
	struct route_counters sums[ROUTE__COUNT];
	struct sbuf b;

	sum_routes(tm, sums);
	sbuf_init(&b, out, cap);
	prom_build(&b, tm);
	prom_process(&b, tm);
	prom_endpoint_counters(&b, sums);
	prom_latency(&b, sums);
	prom_workers(&b, tm);
	prom_acceptors(&b, tm);
	return b.full ? 0 : b.len;
}
