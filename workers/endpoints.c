/* SPDX-License-Identifier: BSD-2-Clause */
/* The workers' and the acceptor's columns of http/routes.def, and the
 * small replies every handler may give. */
#include "config.h"

#include <string.h>

#include "http/route.h"
#include "workers/handler.h"
#include "workers/worker.h"

#define STACK EP_STACK
#define HEAP EP_HEAP
#define ADMIN EP_ADMIN
#define SMALL HTTP_BODY_MAX_RESP
#define LARGE WORKER_STATS_MAX
#define NO_STEP NULL
#define ROUTE(name, path, id, kind, size, step, handler) \
	[ROUTE_##name] = { kind, size, step, handler },
const struct endpoint endpoints[ROUTE__COUNT] = {
#include "http/routes.def"
};
#undef ROUTE

struct reply reply_copy(const struct handler_ctx *ctx, unsigned status,
			enum http_ctype ct, const char *body, size_t len)
{
	memcpy(ctx->body, body, len);      /* len <= body_cap: our constants */
	return (struct reply){ .status = status, .ct = ct, .len = len };
}

struct reply reply_error(const struct handler_ctx *ctx, enum http_err err)
{
	size_t n = http_body_error(ctx->body, ctx->body_cap, http_err_message(err));

	return (struct reply){ .status = http_err_status(err), .ct = CT_JSON, .len = n };
}
