/* The stack path: /metric-stack and /stats-value.
 *
 * The request arrived by value in the ring slot; the record is a local
 * returned by value; the body is formatted into a local array and copied,
 * with its head, into the worker's slab, which is reset after the flush.
 * No call reaches the global allocator, on any thread. */
#include "config.h"

#include "http/route.h"
#include "workers/metric.h"
#include "workers/worker.h"

/* Returned by value: the caller's frame holds it. */
static struct metric metric_make(uint64_t id, uint64_t work)
{
	struct metric m = {
		.id = id,
		.timestamp = metric_now_ns(),
		.value = metric_value(id, work),
	};
	return m;
}

static struct request_stats stats_make(uint64_t id)
{
	struct request_stats s = {
		.id = id,
		.timestamp = metric_now_ns(),
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

void stack_serve(struct worker *w, struct conn *c, const struct http_req *r)
{
	char body[HTTP_BODY_MAX_RESP];
	size_t n;

	if (r->err) {
		worker_reply_error(w, c, r->flags, (enum http_err)r->err);
		return;
	}
	switch (r->route) {
	case ROUTE_METRIC_STACK: {
		struct metric m = metric_make(r->id, r->work);

		n = http_body_metric(body, sizeof(body), m.id, m.timestamp, m.value);
		break;
	}
	case ROUTE_STATS_VALUE: {
		struct request_stats s = stats_make(r->id);

		s = stats_with_duration(s, STATS_VALUE_NS);
		n = http_body_stats(body, sizeof(body), s.id, s.timestamp,
				    s.duration_ns, s.status);
		break;
	}
	case ROUTE_HEALTHZ:
		worker_reply(w, c, r->flags, 200, CT_TEXT, "ok\n", 3);
		return;
	case ROUTE_OPTIONS:
		worker_reply(w, c, r->flags, 200, CT_TEXT, "", 0);
		return;
	case ROUTE_STATS:
	case ROUTE_METRICS:
		worker_reply_stats(w, c, r->flags, r->route == ROUTE_METRICS);
		return;
	default:
		/* A heap route without its object: the acceptor ran out of
		 * memory wrapping it. */
		worker_reply_error(w, c, r->flags, HERR_NO_MEMORY);
		return;
	}
	worker_reply(w, c, r->flags, 200, CT_JSON, body, n);
}
