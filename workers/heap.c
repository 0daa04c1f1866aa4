/* SPDX-License-Identifier: BSD-2-Clause */
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
#include "workers/handler.h"

struct heap_request {
	uint64_t id;
	uint64_t work;
	uint8_t route;
};

bool heap_request_wrap(struct counters *cnt, struct http_req *r)
{
	struct heap_request *hr = mem_malloc(cnt, r->route, sizeof(*hr));

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
static struct metric *metric_new(struct counters *cnt, uint64_t id,
				 uint64_t work, int64_t now_ns)
{
	struct metric *m = mem_malloc(cnt, ROUTE_METRIC_HEAP, sizeof(*m));

	if (!m)
		return NULL;
	m->id = id;
	m->timestamp = now_ns;
	m->value = metric_value(id, work);
	return m;
}

static struct request_stats *stats_new(struct counters *cnt, uint64_t id,
					int64_t now_ns)
{
	struct request_stats *s = mem_malloc(cnt, ROUTE_STATS_POINTER, sizeof(*s));

	if (!s)
		return NULL;
	s->id = id;
	s->timestamp = now_ns;
	s->duration_ns = STATS_BUILT_NS;
	s->status = 200;
	return s;
}

/* Modifies the record in place, through the pointer. */
static void stats_set_duration(struct request_stats *s, int64_t duration_ns)
{
	s->duration_ns = duration_ns;
}

/* The handlers get the request object the acceptor allocated and free it
 * first (a free on another thread than the malloc); the body they return
 * is malloc'd, sent from where it is and freed by the worker after the
 * flush. */
static struct reply heap_reply(const struct handler_ctx *ctx, bool stats)
{
	struct heap_request *hr = ctx->req->heap;
	char *body;
	size_t n;

	if (!hr)                               /* the acceptor's malloc failed */
		return reply_error(ctx, HERR_NO_MEMORY);
	uint64_t id = hr->id, work = hr->work;
	uint8_t route = hr->route;

	mem_free(ctx->cnt, hr);                /* allocated on the acceptor */
	body = mem_malloc(ctx->cnt, route, HTTP_BODY_MAX_RESP);
	if (!body)
		return reply_error(ctx, HERR_NO_MEMORY);
	if (!stats) {
		struct metric *m = metric_new(ctx->cnt, id, work, ctx->now_ns);

		if (!m)
			goto Error;
		n = http_body_metric(body, HTTP_BODY_MAX_RESP, m->id,
				     m->timestamp, m->value);
		mem_free(ctx->cnt, m);
	} else {
		struct request_stats *s = stats_new(ctx->cnt, id, ctx->now_ns);

		if (!s)
			goto Error;
		stats_set_duration(s, STATS_POINTER_NS);
		n = http_body_stats(body, HTTP_BODY_MAX_RESP, s->id,
				    s->timestamp, s->duration_ns, s->status);
		mem_free(ctx->cnt, s);
	}
	return (struct reply){ .status = 200, .ct = CT_JSON, .len = n, .owned = body };
Error:
	mem_free(ctx->cnt, body);
	return reply_error(ctx, HERR_NO_MEMORY);
}

struct reply handle_metric_heap(const struct handler_ctx *ctx)
{
	return heap_reply(ctx, false);
}

struct reply handle_stats_pointer(const struct handler_ctx *ctx)
{
	return heap_reply(ctx, true);
}
