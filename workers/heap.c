/* The heap path: /metric-heap and /stats-pointer, written the way ordinary
 * code is written.  Per request, three objects from the global allocator:
 *
 *   1. the request object   malloc'd by the acceptor (heap_request_wrap),
 *                           freed here on the worker: a cross-thread free;
 *   2. the record           malloc'd and freed here ("escapes" to the heap);
 *   3. the response body    malloc'd here, freed after the batch is sent.
 *
 * Exactly 3 mallocs and 3 frees per answered request (tests/test_allocs
 * checks it).  No locks, sleeps or extra copies of its own: any extra cost
 * measured against the stack path is the allocator's. */
#include "config.h"

#include <string.h>

#include "core/base/mem.h"
#include "http/route.h"
#include "workers/metric.h"
#include "workers/worker.h"

struct heap_request {
	uint64_t id;
	uint64_t work;
	uint8_t route;
};

bool heap_request_wrap(struct counters *st, struct http_req *r)
{
	struct heap_request *hr = mem_malloc(st, r->route, sizeof(*hr));

	if (!hr)
		return false;
	hr->id = r->id;
	hr->work = r->work;
	hr->route = r->route;
	r->heap = hr;
	r->id = r->work = 0;
	return true;
}


/* Returns a pointer: the record outlives this frame, so it must live on the
 * heap - what Go reports as "&Metric{...} escapes to heap". */
static struct metric *metric_new(struct counters *st, uint64_t id,
				 uint64_t work)
{
	struct metric *m = mem_malloc(st, ROUTE_METRIC_HEAP, sizeof(*m));

	if (!m)
		return NULL;
	m->id = id;
	m->timestamp = metric_now_ns();
	m->value = metric_value(id, work);
	return m;
}

static struct request_stats *stats_new(struct counters *st, uint64_t id)
{
	struct request_stats *s = mem_malloc(st, ROUTE_STATS_POINTER, sizeof(*s));

	if (!s)
		return NULL;
	s->id = id;
	s->timestamp = metric_now_ns();
	s->duration_ns = STATS_BUILT_NS;
	s->status = 200;
	return s;
}

/* Modifies the record in place, through the pointer. */
static void stats_set_duration(struct request_stats *s, int64_t duration_ns)
{
	s->duration_ns = duration_ns;
}

void heap_serve(struct worker *w, struct conn *c, const struct http_req *r)
{
	struct heap_request *hr = r->heap;
	uint64_t id = hr->id, work = hr->work;
	uint8_t route = hr->route;
	char *body;
	size_t n = 0;

	mem_free(&w->cnt, hr);               /* allocated on the acceptor */
	body = mem_malloc(&w->cnt, route, HTTP_BODY_MAX_RESP);
	if (!body)
		goto Error;
	if (route == ROUTE_METRIC_HEAP) {
		struct metric *m = metric_new(&w->cnt, id, work);

		if (!m)
			goto Error;
		n = http_body_metric(body, HTTP_BODY_MAX_RESP, m->id,
				     m->timestamp, m->value);
		mem_free(&w->cnt, m);
	} else {
		struct request_stats *s = stats_new(&w->cnt, id);

		if (!s)
			goto Error;
		stats_set_duration(s, STATS_POINTER_NS);
		n = http_body_stats(body, HTTP_BODY_MAX_RESP, s->id,
				    s->timestamp, s->duration_ns, s->status);
		mem_free(&w->cnt, s);
	}
	worker_reply_owned(w, c, r->flags, 200, CT_JSON, body, n);
	return;
Error:
	mem_free(&w->cnt, body);
	worker_reply_error(w, c, r->flags, HERR_NO_MEMORY);
}
