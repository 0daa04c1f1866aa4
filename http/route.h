/* SPDX-License-Identifier: BSD-2-Clause */
/* Routing: request target → route, and the query parameters id and work. */
#ifndef METRICD_HTTP_ROUTE_H
#define METRICD_HTTP_ROUTE_H

#include <stddef.h>
#include <stdint.h>

#include "http/request.h"

#define HTTP_WORK_MAX 10000000u
/* From here on a request is marked REQF_HEAVY (about 20 us of work). */
#define HTTP_WORK_HEAVY 10000u

/* Fills r->route, r->id, r->work and r->err from the method and target.
 * is_get_or_head: the method was GET or HEAD. */
void http_route(const char *target, size_t len, int is_get_or_head,
		struct http_req *r);

/* Parses a decimal uint64: digits only, 1..20 of them, no sign, no
 * overflow.  Returns 0, -EINVAL (empty or not digits) or -ERANGE. */
int http_parse_u64(const char *s, size_t len, uint64_t *out);

const char *http_route_name(enum http_route r);
/* Status code and JSON error message for an error. */
unsigned http_err_status(enum http_err e);
const char *http_err_message(enum http_err e);

#endif
