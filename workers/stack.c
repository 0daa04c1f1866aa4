/* SPDX-License-Identifier: BSD-2-Clause */
/* The stack path: /metric-stack and /stats-value.
 *
 * The request arrived by value in the ring slot; the record is a local
 * returned by value; the body is formatted straight into the worker's
 * slab (ctx->body), where the worker puts the head in front of it, and the
 * slab is reset after the flush.  No call reaches the global allocator, on
 * any thread. */
#include "config.h"

#include "workers/handler.h"
#include "workers/metric.h"

/* Returned by value: the caller's frame holds it. */
static struct metric metric_make(uint64_t id, uint64_t work, int64_t now_ns)
{
	struct metric m = {
		.id = id,
		.timestamp = now_ns,
		.value = metric_value(id, work),
	};
	return m;
}

static struct request_stats stats_make(uint64_t id, int64_t now_ns)
{
	struct request_stats s = {
		.id = id,
		.timestamp = now_ns,
		.duration_ns = STATS_BUILT_NS,
		.status = 200,
	};
	return s;
}

/* Takes a copy, returns a modified copy: the caller's original is untouched. */
static struct request_stats stats_with_duration(struct request_stats s,
						int64_t duration_ns)
{
	s.duration_ns = duration_ns;
	return s;
}

struct reply handle_metric_stack(const struct handler_ctx *ctx)
{
	struct metric m = metric_make(ctx->req->id, ctx->req->work, ctx->now_ns);
	size_t n = http_body_metric(ctx->body, ctx->body_cap, m.id, m.timestamp,
				    m.value);

	return (struct reply){ .status = 200, .ct = CT_JSON, .len = n };
}

struct reply handle_stats_value(const struct handler_ctx *ctx)
{
	struct request_stats s = stats_make(ctx->req->id, ctx->now_ns);

	s = stats_with_duration(s, STATS_VALUE_NS);
	size_t n = http_body_stats(ctx->body, ctx->body_cap, s.id, s.timestamp,
				   s.duration_ns, s.status);

	return (struct reply){ .status = 200, .ct = CT_JSON, .len = n };
}
