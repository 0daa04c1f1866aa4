/* SPDX-License-Identifier: BSD-2-Clause */
/* Response writing into caller-owned buffers.  No allocation, no stdio:
 * every function writes at most the capacity it is given and returns the
 * length written, or 0 when it does not fit. */
#ifndef METRICD_HTTP_RESPONSE_H
#define METRICD_HTTP_RESPONSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "http/request.h"

/* Upper bounds, checked by the unit tests: a response head and body always
 * fit these, so buffers sized from them never truncate. */
#define HTTP_HEAD_MAX 384   /* with a 63-byte Server value */
#define HTTP_BODY_MAX_RESP 192
#define HTTP_RESP_MAX (HTTP_HEAD_MAX + HTTP_BODY_MAX_RESP)

/* The per-thread parts of every response head: the Date header
 * ("Sun, 06 Nov 1994 08:49:37 GMT", refreshed once a second) and the Server
 * header's value (NULL: "metricd/VERSION"), which a reload may change. */
struct http_head_ctx {
	time_t sec;
	char date[32];               /* "Sun, 06 Nov 1994 08:49:37 GMT" */
	const char *server;
	size_t server_len;
};

void http_head_set_date(struct http_head_ctx *h, time_t now);

enum http_ctype { CT_JSON = 0, CT_TEXT, CT_PROMETHEUS, CT_HTML };

/* Writes the status line and headers for a body of body_len bytes.
 * req_flags decides Connection handling; status 405 adds Allow.  etag:
 * NULL, or the entity-tag of a body that only changes with the binary:
 * the head then says `ETag: "8 hex digits"` and `Cache-Control: no-cache`
 * (a cache keeps it and asks again with If-None-Match before each use,
 * RFC 9111 5.2.2.4).  A 304 has neither Content-Type nor Content-Length
 * (RFC 9110 15.4.5). */
size_t http_write_head(char *out, size_t cap, unsigned status,
		       enum http_ctype ct, size_t body_len, unsigned req_flags,
		       const struct http_head_ctx *head, const uint32_t *etag);

/* True when a GET or HEAD of the tagged body (the live page's) may be
 * answered 304 Not Modified: its If-None-Match is "*" or names that body's
 * entity-tag (RFC 9110 13.1.2, weak comparison; the framer compared). */
bool http_not_modified(const struct http_req *r);

/* JSON bodies shared by both paths, so they are byte-identical. */
size_t http_body_metric(char *out, size_t cap, uint64_t id, int64_t ts_ns,
			double value);
size_t http_body_stats(char *out, size_t cap, uint64_t id, int64_t ts_ns,
		       int64_t duration_ns, int status);
size_t http_body_error(char *out, size_t cap, const char *msg);


#endif
