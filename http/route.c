/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "http/route.h"

struct route_entry {
	const char *path;
	size_t len;
	bool needs_id;
};

/* The router's columns of http/routes.def, by route number. */
#define ID true
#define NO_ID false
#define ROUTE(name, path, id, kind, size, step, handler) \
	[ROUTE_##name] = { path, sizeof(path) - 1, id },
static const struct route_entry routes[ROUTE__COUNT] = {
	[ROUTE_NONE] = { "other", 5, false },
#include "http/routes.def"
};
#undef ROUTE
#undef ID
#undef NO_ID

const char *http_route_name(enum http_route r)
{
	return (unsigned)r < ROUTE__COUNT ? routes[r].path : "?";
}

static const struct {
	unsigned status;
	const char *msg;
} errs[HERR__COUNT] = {
	[HERR_NONE] = { 200, "" },
	[HERR_NOT_FOUND] = { 404, "not found" },
	[HERR_METHOD] = { 405, "method not allowed" },
	[HERR_ID_MISSING] = { 400, "id is required" },
	[HERR_ID_INVALID] = { 400, "id must be a decimal integer" },
	[HERR_ID_RANGE] = { 400, "id is out of range (0 to 18446744073709551615)" },
	[HERR_ID_REPEATED] = { 400, "id is given more than once" },
	[HERR_WORK_INVALID] = { 400, "work must be a decimal integer from 0 to 10000000" },
	[HERR_BAD_REQUEST] = { 400, "malformed request" },
	[HERR_HEAD_TOO_LARGE] = { 431, "request header too large" },
	[HERR_BODY_TOO_LARGE] = { 413, "request body too large" },
	[HERR_VERSION] = { 505, "HTTP version not supported" },
	[HERR_TIMEOUT] = { 408, "request not received in time" },
	[HERR_EXPECT] = { 417, "only 100-continue can be expected" },
	[HERR_NO_MEMORY] = { 503, "out of memory" },
	[HERR_SHUTDOWN] = { 503, "shutting down" },
};

unsigned http_err_status(enum http_err e)
{
	return (unsigned)e < HERR__COUNT ? errs[e].status : 500;
}

const char *http_err_message(enum http_err e)
{
	return (unsigned)e < HERR__COUNT ? errs[e].msg : "internal error";
}

int http_parse_u64(const char *s, size_t len, uint64_t *out)
{
	uint64_t v = 0;

	if (len == 0)
		return -EINVAL;
	for (size_t i = 0; i < len; i++)
		if ((unsigned)((unsigned char)s[i] - '0') > 9)
			return -EINVAL;
	if (len > 20)
		return -ERANGE;
	for (size_t i = 0; i < len; i++) {
		unsigned d = (unsigned char)s[i] - '0';

		if (d > 9)
			return -EINVAL;
		if (v > (UINT64_MAX - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

/* Walks "a=1&b=2" and applies id and work; unknown keys are ignored. */
static enum http_err parse_query(const char *q, size_t len, struct http_req *r)
{
	int seen_id = 0, seen_work = 0;
	enum http_err err = HERR_NONE;
	size_t i = 0;

	while (i < len) {
		size_t amp = i;

		while (amp < len && q[amp] != '&')
			amp++;
		const char *kv = q + i;
		size_t kvlen = amp - i;
		const char *eq = memchr(kv, '=', kvlen);
		size_t klen = eq ? (size_t)(eq - kv) : kvlen;
		const char *val = eq ? eq + 1 : kv + kvlen;
		size_t vlen = kvlen - klen - (eq ? 1 : 0);

		if (klen == 2 && memcmp(kv, "id", 2) == 0) {
			int rc = http_parse_u64(val, vlen, &r->id);

			if (seen_id++)
				return HERR_ID_REPEATED;
			if (err == HERR_NONE && rc)
				err = vlen == 0 ? HERR_ID_MISSING
				    : rc == -ERANGE ? HERR_ID_RANGE : HERR_ID_INVALID;
		} else if (klen == 4 && memcmp(kv, "work", 4) == 0) {
			if (seen_work++ || http_parse_u64(val, vlen, &r->work) ||
			    r->work > HTTP_WORK_MAX)
				err = err ? err : HERR_WORK_INVALID;
		}
		i = amp + 1;
	}
	return seen_id ? err : HERR_ID_MISSING;
}

void http_route(const char *target, size_t len, int is_get_or_head,
		struct http_req *r)
{
	const char *qm = memchr(target, '?', len);
	size_t plen = qm ? (size_t)(qm - target) : len;

	r->route = ROUTE_NONE;
	r->id = 0;
	r->work = 0;
	/* Paths begin with '/': the asterisk-form row and "other" never
	 * match a target here. */
	for (unsigned i = ROUTE_NONE + 1; i < ROUTE__COUNT; i++) {
		const struct route_entry *e = &routes[i];

		if (plen != e->len || e->path[0] != '/' ||
		    memcmp(target, e->path, plen) != 0)
			continue;
		r->route = (uint8_t)i;
		if (!is_get_or_head) {
			r->err = HERR_METHOD;
			return;
		}
		if (!e->needs_id)
			r->err = HERR_NONE;
		else if (qm)
			r->err = (uint8_t)parse_query(qm + 1, len - plen - 1, r);
		else
			r->err = HERR_ID_MISSING;
		if (r->err == HERR_NONE && r->work >= HTTP_WORK_HEAVY)
			r->flags |= REQF_HEAVY;
		return;
	}
	r->err = HERR_NOT_FOUND;
}
