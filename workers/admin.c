/* SPDX-License-Identifier: BSD-2-Clause */
/* The server's own endpoints: /healthz, /stats (JSON), /metrics
 * (Prometheus), the live page (/dashboard and /) and OPTIONS *.  Like the
 * stack path they allocate nothing: the telemetry is written straight
 * into the slab, the page is sent from the binary. */
#include "config.h"

#include "workers/dashboard.h"
#include "workers/handler.h"

/* 503 from SIGTERM on: during --drain-delay a load balancer's checks see
 * it while the server still serves, and take it out of rotation before
 * the listener closes (docs/DEPLOY.md, "Scaling out").  A relaxed load:
 * the flag publishes nothing else, and a check that still reads 0 is
 * followed by one that reads 1. */
struct reply handle_healthz(const struct handler_ctx *ctx)
{
	static const char draining[] = "draining\n";

	if (telemetry_draining(ctx->tm))
		return reply_copy(ctx, 503, CT_TEXT, draining, sizeof(draining) - 1);
	return reply_copy(ctx, 200, CT_TEXT, "ok\n", 3);
}

/* The methods OPTIONS * lists are in its head (REQF_OPTIONS). */
struct reply handle_options(const struct handler_ctx *ctx)
{
	return (struct reply){ .status = 200, .ct = CT_TEXT };
}

static struct reply telemetry_reply(const struct handler_ctx *ctx, size_t n,
				    enum http_ctype ct)
{
	static const char too_big[] = "{\"error\":\"statistics do not fit the buffer\"}";

	if (n == 0)
		return reply_copy(ctx, 500, CT_JSON, too_big, sizeof(too_big) - 1);
	return (struct reply){ .status = 200, .ct = ct, .len = n };
}

struct reply handle_stats(const struct handler_ctx *ctx)
{
	return telemetry_reply(ctx, telemetry_write_json(ctx->tm, ctx->body,
							 ctx->body_cap), CT_JSON);
}

struct reply handle_metrics(const struct handler_ctx *ctx)
{
	return telemetry_reply(ctx, telemetry_write_prometheus(ctx->tm, ctx->body,
							       ctx->body_cap),
			       CT_PROMETHEUS);
}

/* The page changes only with the binary: a browser keeps it and asks
 * again with If-None-Match, which gets a 304 of a few hundred bytes. */
struct reply handle_dashboard(const struct handler_ctx *ctx)
{
	if (http_not_modified(ctx->req))
		return (struct reply){ .status = 304, .ct = CT_HTML,
				       .etag = &dashboard_page_etag };
	return (struct reply){ .status = 200, .ct = CT_HTML,
			       .len = dashboard_page_len, .fixed = dashboard_page,
			       .etag = &dashboard_page_etag };
}
