/* SPDX-License-Identifier: BSD-2-Clause */
/* The request descriptor: what the acceptor hands a worker, by value.
 *
 * Fixed size, no pointers into memory another thread may reuse: the
 * connection is named by slot index + generation, never by fd.  The one
 * pointer, `heap`, is set only on the heap path, where handing a malloc'd
 * object to another thread is the point of the exercise. */
#ifndef METRICD_HTTP_REQUEST_H
#define METRICD_HTTP_REQUEST_H

#include <stdint.h>

enum http_req_kind {
	REQ_HTTP = 1,   /* answer this request */
	REQ_CLOSE,      /* answer nothing more; close after flushing */
	REQ_CONTINUE,   /* write "100 Continue": the request's body follows */
	REQ_STOP,       /* worker: finish and exit */
};

/* One per row of http/routes.def, in its order; ROUTE_NONE is a path no
 * row has (404). */
enum http_route {
	ROUTE_NONE = 0,
#define ROUTE(name, path, id, kind, size, step, handler) ROUTE_##name,
#include "http/routes.def"
#undef ROUTE
	ROUTE__COUNT,
};

enum http_req_flag {
	REQF_HEAD = 1 << 0,        /* HEAD: headers only */
	REQF_CLOSE = 1 << 1,       /* close the connection after this answer */
	REQF_HTTP10 = 1 << 2,      /* HTTP/1.0 request (kept alive on request) */
	REQF_OPTIONS = 1 << 3,     /* OPTIONS *: answer with Allow */
	REQF_HEAVY = 1 << 4,       /* work >= HTTP_WORK_HEAVY */
	REQF_INM_MATCH = 1 << 5,   /* If-None-Match is "*" or names the
				    * framer's entity-tag (http/framing.h) */
};

/* Why a request is answered with an error instead of its route. */
enum http_err {
	HERR_NONE = 0,
	HERR_NOT_FOUND,          /* 404 */
	HERR_METHOD,             /* 405 + Allow */
	HERR_ID_MISSING,         /* 400 */
	HERR_ID_INVALID,         /* 400 */
	HERR_ID_RANGE,           /* 400 */
	HERR_ID_REPEATED,        /* 400 */
	HERR_WORK_INVALID,       /* 400 */
	HERR_BAD_REQUEST,        /* 400, then close */
	HERR_HEAD_TOO_LARGE,     /* 431, then close */
	HERR_BODY_TOO_LARGE,     /* 413, then close */
	HERR_VERSION,            /* 505, then close */
	HERR_TIMEOUT,            /* 408, then close: --header-timeout */
	HERR_EXPECT,             /* 417, then close: an expectation other
				  * than 100-continue */
	HERR_NO_MEMORY,          /* 503: the heap path's malloc failed */
	HERR_SHUTDOWN,           /* 503, then close: past --shutdown-timeout */
	HERR__COUNT,
};

/* The method as http-parser numbers it, shifted by one so that a zeroed
 * descriptor says "not known" (HTTP_DELETE is 0). */
#define HTTP_METHOD_NONE 0

struct heap_request;

struct http_req {
	uint32_t slot;
	uint32_t gen;
	uint8_t kind;      /* enum http_req_kind */
	uint8_t route;     /* enum http_route */
	uint8_t flags;     /* enum http_req_flag */
	uint8_t err;       /* enum http_err */
	uint8_t method;    /* http-parser's enum http_method + 1; 0: not known */
	uint8_t reserved;
	uint16_t log_len;  /* bytes of access-log text that travel beside this
			    * descriptor in its worker's text ring
			    * (queue/text.h); 0: none */
	uint64_t id;
	uint64_t work;
	uint64_t t_parsed_ns;          /* CLOCK_MONOTONIC when the read that
					* completed it returned */
	struct heap_request *heap;     /* heap path only; the worker frees it */
};

_Static_assert(sizeof(struct http_req) == 48, "descriptor size is part of the design");

#endif
