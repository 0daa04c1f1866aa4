/* SPDX-License-Identifier: BSD-2-Clause */
/* What an endpoint's handler gets and returns (one per row of
 * http/routes.def).
 *
 * A handler gets the request (its id and work, or its heap object), room
 * for its body in the worker's slab, this thread's counters and the
 * telemetry; it writes the body there - or returns a malloc'd one, the
 * heap path, or bytes built into the binary - and says what the answer
 * is.  It never touches the
 * connection, the socket or the batch: the worker writes the head in
 * front of the body, queues both, counts, logs and closes. */
#ifndef METRICD_WORKERS_HANDLER_H
#define METRICD_WORKERS_HANDLER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/base/counters.h"
#include "http/request.h"
#include "http/response.h"
#include "workers/telemetry.h"

struct handler_ctx {
	const struct http_req *req;
	char *body;                   /* room for body_cap bytes */
	size_t body_cap;              /* the row's size: SMALL or LARGE */
	struct counters *cnt;         /* this thread's */
	const struct telemetry *tm;   /* what /stats and /metrics read */
	int64_t now_ns;               /* CLOCK_REALTIME when the worker began
				       * this batch (one read per batch, not
				       * per request): the records' timestamp */
};

/* The body is in one of three places: at ctx->body (the slab: neither
 * owned nor fixed), in a mem_malloc'd buffer (owned: the heap path, sent
 * from there and freed by the worker after the flush), or in bytes that
 * live as long as the process (fixed: a page built into the binary, sent
 * from there and never freed - answering it allocates nothing). */
struct reply {
	unsigned status;
	enum http_ctype ct;
	size_t len;                   /* body bytes */
	char *owned;
	const char *fixed;
	const uint32_t *etag;         /* NULL, or the body's entity-tag
				       * (http_write_head) */
};

typedef struct reply (*handler_fn)(const struct handler_ctx *ctx);
typedef bool (*acceptor_step_fn)(struct counters *cnt, struct http_req *r);

enum endpoint_kind { EP_STACK, EP_HEAP, EP_ADMIN };

/* One row of http/routes.def as the workers and the acceptor see it. */
struct endpoint {
	enum endpoint_kind kind;
	size_t body_max;
	acceptor_step_fn step;        /* NULL: none */
	handler_fn handler;
};

/* Indexed by enum http_route; ROUTE_NONE has no handler. */
extern const struct endpoint endpoints[ROUTE__COUNT];

/* An error's answer: its JSON body at ctx->body. */
struct reply reply_error(const struct handler_ctx *ctx, enum http_err err);
/* A body of len bytes copied to ctx->body. */
struct reply reply_copy(const struct handler_ctx *ctx, unsigned status,
			enum http_ctype ct, const char *body, size_t len);

/* The handlers, by file: stack.c, heap.c, admin.c. */
#define ROUTE(name, path, id, kind, size, step, handler) \
	struct reply handler(const struct handler_ctx *ctx);
#include "http/routes.def"
#undef ROUTE

/* The heap path's acceptor step (heap.c): moves the request into a
 * malloc'd object, counted against the acceptor.  false when malloc
 * failed: the handler then answers 503. */
bool heap_request_wrap(struct counters *cnt, struct http_req *r);

#endif
