/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tools/blast/request.h"

/* A writer that only counts when p is NULL: one function both measures
 * and formats a request, so the two can never disagree. */
struct out {
	char *p;
	size_t n;
};

static void put(struct out *o, const char *s, size_t len)
{
	if (o->p)
		memcpy(o->p + o->n, s, len);
	o->n += len;
}

static void put_str(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

/* s with every {id} replaced by id (or copied as is when id is NULL). */
static void put_subst(struct out *o, const char *s, size_t len, const char *id)
{
	const size_t tl = sizeof REQUEST_ID_TOKEN - 1;
	while (id && len >= tl) {
		const char *hit = memmem(s, len, REQUEST_ID_TOKEN, tl);
		if (!hit)
			break;
		put(o, s, (size_t)(hit - s));
		put_str(o, id);
		len -= (size_t)(hit - s) + tl;
		s = hit + tl;
	}
	put(o, s, len);
}

static int user_has_header(const struct blast_config *cfg, const char *name)
{
	size_t n = strlen(name);
	for (unsigned i = 0; i < cfg->nheaders; i++)
		if (strncasecmp(cfg->headers[i], name, n) == 0 && cfg->headers[i][n] == ':')
			return 1;
	return 0;
}

/* One request; returns its length. */
static size_t format_one(const struct blast_config *cfg, const struct url *u, const char *id,
			 char *buf)
{
	struct out o = {buf, 0}, body = {NULL, 0};
	put_str(&o, cfg->method);
	put(&o, " ", 1);
	put_subst(&o, u->path, strlen(u->path), id);
	put_str(&o, " HTTP/1.1\r\n");
	if (!user_has_header(cfg, "host")) {
		put_str(&o, "Host: ");
		put_str(&o, u->authority);
		put(&o, "\r\n", 2);
	}
	for (unsigned i = 0; i < cfg->nheaders; i++) {
		put_subst(&o, cfg->headers[i], strlen(cfg->headers[i]), id);
		put(&o, "\r\n", 2);
	}
	if (cfg->body) {
		put_subst(&body, cfg->body, cfg->body_len, id);
		if (!user_has_header(cfg, "content-length")) {
			char cl[48];
			snprintf(cl, sizeof cl, "Content-Length: %zu\r\n", body.n);
			put_str(&o, cl);
		}
	}
	put(&o, "\r\n", 2);
	if (cfg->body)
		put_subst(&o, cfg->body, cfg->body_len, id);
	return o.n;
}

static int has_token(const char *s, size_t len)
{
	return memmem(s, len, REQUEST_ID_TOKEN, sizeof REQUEST_ID_TOKEN - 1) != NULL;
}

/* Is there an {id} anywhere a request is made from? */
static int uses_ids(const struct blast_config *cfg, const struct url *urls, unsigned nurls)
{
	for (unsigned i = 0; i < nurls; i++)
		if (has_token(urls[i].path, strlen(urls[i].path)))
			return 1;
	for (unsigned i = 0; i < cfg->nheaders; i++)
		if (has_token(cfg->headers[i], strlen(cfg->headers[i])))
			return 1;
	return cfg->body && has_token(cfg->body, cfg->body_len);
}

static void id_string(const struct blast_config *cfg, uint64_t k, char *buf, size_t len)
{
	snprintf(buf, len, "%llu", (unsigned long long)(cfg->id_lo + k));
}

/* How many requests, and how many bytes they take with the wrap copies;
 * -1 with a message when over the limits. */
static int measure(const struct blast_config *cfg, const struct url *urls, unsigned nurls,
		   uint64_t n, unsigned wrap, size_t *total, char *err, size_t errlen)
{
	uint64_t bytes = 0;
	char id[24];
	if (n > REQUEST_MAX_COUNT) {
		snprintf(err, errlen, "%llu distinct requests: at most %u can be pre-built; "
			 "narrow --ids", (unsigned long long)n, REQUEST_MAX_COUNT);
		return -1;
	}
	for (uint64_t i = 0; i < n + wrap; i++) {
		uint64_t k = i % n;
		if (cfg->has_ids)
			id_string(cfg, k / nurls, id, sizeof id);
		bytes += format_one(cfg, &urls[k % nurls], cfg->has_ids ? id : NULL, NULL);
		if (bytes > REQUEST_MAX_BYTES) {
			snprintf(err, errlen, "the %llu distinct requests would take more than "
				 "%u MiB pre-built; narrow --ids or shorten the body",
				 (unsigned long long)n, REQUEST_MAX_BYTES >> 20);
			return -1;
		}
	}
	*total = (size_t)bytes;
	return 0;
}

int request_build(const struct blast_config *cfg, const struct url *urls, unsigned nurls,
		  unsigned pipeline, struct request *r, char *err, size_t errlen)
{
	uint64_t nids = cfg->has_ids ? cfg->id_hi - cfg->id_lo + 1 : 1;
	uint64_t n = nids * nurls;
	unsigned wrap = pipeline - 1;
	size_t total;
	char id[24];

	memset(r, 0, sizeof *r);
	if (cfg->has_ids != uses_ids(cfg, urls, nurls)) {
		snprintf(err, errlen, cfg->has_ids
			 ? "--ids is given but no {id} appears in the URL, headers or body"
			 : "{id} appears in the request but no --ids range is given");
		return -1;
	}
	if (cfg->random && n == 1) {
		snprintf(err, errlen, "--random needs several requests to choose from "
				      "(--ids or --urls)");
		return -1;
	}
	if (measure(cfg, urls, nurls, n, wrap, &total, err, errlen) < 0)
		return -1;
	r->buf = malloc(total ? total : 1);
	r->off = malloc((n + wrap + 1) * sizeof *r->off);
	if (!r->buf || !r->off) {
		request_free(r);
		snprintf(err, errlen, "out of memory for %zu bytes of requests", total);
		return -1;
	}
	r->n = (uint32_t)n;
	r->wrap = wrap;
	r->off[0] = 0;
	for (uint64_t e = 0; e < n + wrap; e++) {
		uint64_t k = e % n;
		if (e >= n) { /* a wrap copy */
			memcpy(r->buf + r->off[e], r->buf + r->off[k], request_len(r, (uint32_t)k));
			r->off[e + 1] = r->off[e] + request_len(r, (uint32_t)k);
			continue;
		}
		if (cfg->has_ids)
			id_string(cfg, k / nurls, id, sizeof id);
		r->off[e + 1] = r->off[e] + format_one(cfg, &urls[k % nurls],
						       cfg->has_ids ? id : NULL, r->buf + r->off[e]);
	}
	r->is_head = strcasecmp(cfg->method, "HEAD") == 0;
	return 0;
}

void request_free(struct request *r)
{
	free(r->buf);
	free(r->off);
	r->buf = NULL;
	r->off = NULL;
}

uint32_t request_first(uint32_t n, unsigned t, unsigned nthreads)
{
	uint64_t block = n / nthreads, extra = n % nthreads;
	return (uint32_t)((t * block + (t < extra ? t : extra)) % n);
}
