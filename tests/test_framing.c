/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests for http/framing.c: bytes in, request descriptors out.
 *
 * Every input that frames correctly is also fed split at every byte
 * boundary, and one byte at a time, and must give the same descriptors:
 * the acceptor sees TCP segments, not requests. */
#include "config.h"

#include <check.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <http_parser.h>

#include "http/framing.h"
#include "http/route.h"

#define MAX_HEAD 1024u
#define CAP 4096u
#define MAXREQ 64

#define LIT(s) s, sizeof(s) - 1

struct fx {
	struct http_framer f;
	char buf[CAP];
	struct http_req out[MAXREQ];
	unsigned n;
	enum http_frame_rc last;
	size_t unfed;        /* bytes the framer had no room for (after done) */
	/* Each descriptor's access-log fields as the framer recorded them
	 * (what is kept of each, as a string) and their whole lengths; not
	 * cleared by fx_init (only the first n are read). */
	uint32_t log_len[MAXREQ][HTTP_LOG_FIELDS];
	char log[MAXREQ][HTTP_LOG_FIELDS][HTTP_LOG_TARGET_MAX + 1];
	bool no_etag;        /* the framer has no entity-tag (not cleared) */
	bool always_parse;   /* every head through http-parser (not cleared) */
};

/* The entity-tag the framers compare If-None-Match with, as the server's
 * is its live page's. */
static const uint32_t test_etag = 0xdeadbeef;

static void fx_init(struct fx *x)
{
	memset(x, 0, offsetof(struct fx, log_len));
	http_framer_init(&x->f, x->buf, CAP, MAX_HEAD);
	if (!x->no_etag)
		x->f.etag = &test_etag;
	x->f.always_parse = x->always_parse;
	x->last = HTTP_FRAME_NEED_MORE;
}

/* Pulls descriptors until NEED_MORE or ERROR.  t_parsed_ns is checked and
 * then zeroed so descriptors compare byte for byte. */
static void fx_drain(struct fx *x)
{
	for (;;) {
		struct http_req r;
		enum http_frame_rc rc;

		memset(&r, 0xee, sizeof(r));
		rc = http_framer_next(&x->f, &r);
		if (rc == HTTP_FRAME_NEED_MORE)
			return;
		ck_assert_uint_lt(x->n, MAXREQ);
		ck_assert_uint_gt(r.t_parsed_ns, 0);
		r.t_parsed_ns = 0;
		for (unsigned k = 0; k < HTTP_LOG_FIELDS; k++) {
			const struct http_span *sp = &x->f.log[k];
			uint32_t n = sp->len < http_log_max(k) ? sp->len : http_log_max(k);

			ck_assert(n == 0 || sp->off + n <= x->f.len);
			memcpy(x->log[x->n][k], x->f.buf + sp->off, n);
			x->log[x->n][k][n] = '\0';
			x->log_len[x->n][k] = sp->len;
		}
		x->out[x->n++] = r;
		x->last = rc;
		if (rc == HTTP_FRAME_ERROR) {
			ck_assert_uint_eq(r.flags & REQF_CLOSE, REQF_CLOSE);
			/* An error ends the connection: nothing more comes out. */
			ck_assert_int_eq(http_framer_next(&x->f, &r),
					 HTTP_FRAME_NEED_MORE);
			return;
		}
	}
}

/* Feeds bytes as a socket would, draining after every read. */
static void fx_feed(struct fx *x, const char *p, size_t n)
{
	while (n) {
		size_t avail, k;
		char *dst = http_framer_space(&x->f, &avail);

		if (avail == 0) {
			x->unfed += n;
			return;
		}
		k = n < avail ? n : avail;
		memcpy(dst, p, k);
		http_framer_commit(&x->f, k);
		p += k;
		n -= k;
		fx_drain(x);
	}
	fx_drain(x);
}

static void fx_same(const struct fx *a, const struct fx *b, const char *how,
		    size_t at);

/* Frames p whole; every input is framed a second time with every head
 * through http-parser (always_parse: no plain heads, see deliver_plain in
 * http/framing.c), which must give the same descriptors. */
static void fx_frame(struct fx *x, const char *p, size_t n)
{
	static struct fx parsed;

	fx_init(x);
	fx_feed(x, p, n);
	parsed.no_etag = x->no_etag;
	parsed.always_parse = !x->always_parse;
	fx_init(&parsed);
	fx_feed(&parsed, p, n);
	fx_same(&parsed, x, "framed with and without plain heads, len", n);
}

static void fx_same(const struct fx *a, const struct fx *b, const char *how,
		    size_t at)
{
	ck_assert_msg(a->n == b->n, "%s %zu: %u descriptors, want %u", how, at,
		      a->n, b->n);
	ck_assert_msg(a->last == b->last, "%s %zu: last rc %d, want %d", how, at,
		      (int)a->last, (int)b->last);
	for (unsigned i = 0; i < a->n; i++) {
		ck_assert_msg(memcmp(&a->out[i], &b->out[i], sizeof(a->out[i])) == 0,
			      "%s %zu: descriptor %u differs (err %u/%u id %llu/%llu)",
			      how, at, i, a->out[i].err, b->out[i].err,
			      (unsigned long long)a->out[i].id,
			      (unsigned long long)b->out[i].id);
		for (unsigned k = 0; k < HTTP_LOG_FIELDS; k++)
			ck_assert_msg(a->log_len[i][k] == b->log_len[i][k] &&
				      strcmp(a->log[i][k], b->log[i][k]) == 0,
				      "%s %zu: descriptor %u: log field %u '%s', want '%s'",
				      how, at, i, k, a->log[i][k], b->log[i][k]);
	}
}

/* Frames `in` whole, then split at every byte, then byte by byte: all the
 * same.  Leaves the whole-buffer result in *ref. */
static void frame_every_split(struct fx *ref, const char *in, size_t len)
{
	static struct fx x;

	x.no_etag = ref->no_etag;
	fx_frame(ref, in, len);
	for (size_t k = 0; k <= len; k++) {
		fx_init(&x);
		fx_feed(&x, in, k);
		fx_feed(&x, in + k, len - k);
		fx_same(&x, ref, "split at", k);
	}
	fx_init(&x);
	for (size_t k = 0; k < len; k++)
		fx_feed(&x, in + k, 1);
	fx_same(&x, ref, "byte by byte, len", len);
}

static void assert_req(const struct http_req *r, enum http_route route,
		       uint64_t id, uint64_t work, unsigned flags,
		       enum http_err err)
{
	ck_assert_uint_eq(r->kind, REQ_HTTP);
	ck_assert_uint_eq(r->route, route);
	ck_assert_uint_eq(r->id, id);
	ck_assert_uint_eq(r->work, work);
	ck_assert_uint_eq(r->flags, flags);
	ck_assert_uint_eq(r->err, err);
	ck_assert_uint_eq(r->slot, 0);
	ck_assert_uint_eq(r->gen, 0);
	ck_assert_ptr_null(r->heap);
}

/* ---- well-formed input -------------------------------------------------- */

START_TEST(single_request)
{
	static struct fx x;
	static const char in[] =
		"GET /metric-stack?id=42&work=3 HTTP/1.1\r\n"
		"Host: localhost\r\nUser-Agent: t\r\n\r\n";

	fx_frame(&x, LIT(in));
	ck_assert_uint_eq(x.n, 1);
	ck_assert_int_eq(x.last, HTTP_FRAME_REQ);
	assert_req(&x.out[0], ROUTE_METRIC_STACK, 42, 3, 0, HERR_NONE);
	ck_assert(!http_framer_has_partial(&x.f));
	frame_every_split(&x, LIT(in));
}
END_TEST

static const char pipelined3[] =
	"GET /metric-stack?id=1 HTTP/1.1\r\nHost: a\r\n\r\n"
	"HEAD /stats-value?id=2&work=5 HTTP/1.1\r\nHost: a\r\n\r\n"
	"GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n";

START_TEST(pipelined_in_order)
{
	static struct fx x;

	fx_frame(&x, LIT(pipelined3));
	ck_assert_uint_eq(x.n, 3);
	assert_req(&x.out[0], ROUTE_METRIC_STACK, 1, 0, 0, HERR_NONE);
	assert_req(&x.out[1], ROUTE_STATS_VALUE, 2, 5, REQF_HEAD, HERR_NONE);
	assert_req(&x.out[2], ROUTE_HEALTHZ, 0, 0, 0, HERR_NONE);
	ck_assert(!http_framer_has_partial(&x.f));
}
END_TEST

START_TEST(pipelined_split_everywhere)
{
	static struct fx ref;

	frame_every_split(&ref, LIT(pipelined3));
	ck_assert_uint_eq(ref.n, 3);
}
END_TEST

START_TEST(head_sets_flag)
{
	static struct fx x;

	fx_frame(&x, LIT("HEAD /metric-stack?id=5 HTTP/1.1\r\nHost: t\r\n\r\n"
			 "HEAD /nope HTTP/1.1\r\nHost: t\r\n\r\n"));
	ck_assert_uint_eq(x.n, 2);
	assert_req(&x.out[0], ROUTE_METRIC_STACK, 5, 0, REQF_HEAD, HERR_NONE);
	assert_req(&x.out[1], ROUTE_NONE, 0, 0, REQF_HEAD, HERR_NOT_FOUND);
}
END_TEST

START_TEST(http10_closes_by_default)
{
	static struct fx x;
	static const char in[] =
		"GET /healthz HTTP/1.0\r\n\r\n"
		"GET /healthz HTTP/1.0\r\n\r\n";

	fx_frame(&x, LIT(in));
	ck_assert_uint_eq(x.n, 1);
	assert_req(&x.out[0], ROUTE_HEALTHZ, 0, 0, REQF_HTTP10 | REQF_CLOSE,
		   HERR_NONE);
	fx_feed(&x, LIT(in));
	ck_assert_uint_eq(x.n, 1);
	frame_every_split(&x, LIT(in));
}
END_TEST

START_TEST(http10_keep_alive)
{
	static struct fx x;
	static const char in[] =
		"GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
		"GET /metric-stack?id=9 HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"
		"GET /metric-stack?id=10 HTTP/1.0\r\n\r\n"
		"GET /metric-stack?id=11 HTTP/1.0\r\n\r\n";

	fx_frame(&x, LIT(in));
	ck_assert_uint_eq(x.n, 3);
	assert_req(&x.out[0], ROUTE_HEALTHZ, 0, 0, REQF_HTTP10, HERR_NONE);
	assert_req(&x.out[1], ROUTE_METRIC_STACK, 9, 0, REQF_HTTP10, HERR_NONE);
	assert_req(&x.out[2], ROUTE_METRIC_STACK, 10, 0,
		   REQF_HTTP10 | REQF_CLOSE, HERR_NONE);
	frame_every_split(&x, LIT(in));
}
END_TEST

START_TEST(connection_close_ends_framing)
{
	static struct fx x;
	static const char in[] =
		"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
		"GET /metric-stack?id=1 HTTP/1.1\r\nHost: t\r\n\r\n";

	fx_frame(&x, LIT(in));
	ck_assert_uint_eq(x.n, 1);
	assert_req(&x.out[0], ROUTE_HEALTHZ, 0, 0, REQF_CLOSE, HERR_NONE);
	fx_feed(&x, LIT("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n"));
	ck_assert_uint_eq(x.n, 1);
	frame_every_split(&x, LIT(in));
}
END_TEST

/* The body looks like a request: it must be skipped, not framed. */
static const char cl_body[] =
	"GET /metric-stack?id=1 HTTP/1.1\r\nHost: t\r\nContent-Length: 18\r\n\r\n"
	"GET / HTTP/1.1\r\n\r\n"
	"GET /metric-stack?id=2 HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n"
	"GET /metric-stack?id=3 HTTP/1.1\r\nHost: t\r\n\r\n";

START_TEST(content_length_body_discarded)
{
	static struct fx ref;

	frame_every_split(&ref, LIT(cl_body));
	ck_assert_uint_eq(ref.n, 3);
	assert_req(&ref.out[0], ROUTE_METRIC_STACK, 1, 0, 0, HERR_NONE);
	assert_req(&ref.out[1], ROUTE_METRIC_STACK, 2, 0, 0, HERR_NONE);
	assert_req(&ref.out[2], ROUTE_METRIC_STACK, 3, 0, 0, HERR_NONE);
}
END_TEST

static const char chunked_body[] =
	"GET /metric-stack?id=1 HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
	"5\r\nhello\r\n"
	"12\r\nGET / HTTP/1.1\r\n\r\n\r\n"
	"0\r\n\r\n"
	"GET /metric-stack?id=2 HTTP/1.1\r\nHost: t\r\ntransfer-encoding: Chunked\r\n\r\n"
	"3;ext=1\r\nabc\r\n0\r\nX-Trailer: v\r\n\r\n"
	"GET /metric-stack?id=3 HTTP/1.1\r\nHost: t\r\n\r\n";

START_TEST(chunked_body_discarded)
{
	static struct fx ref;

	frame_every_split(&ref, LIT(chunked_body));
	ck_assert_uint_eq(ref.n, 3);
	assert_req(&ref.out[0], ROUTE_METRIC_STACK, 1, 0, 0, HERR_NONE);
	assert_req(&ref.out[1], ROUTE_METRIC_STACK, 2, 0, 0, HERR_NONE);
	assert_req(&ref.out[2], ROUTE_METRIC_STACK, 3, 0, 0, HERR_NONE);
}
END_TEST

START_TEST(transfer_encoding_list_ending_chunked)
{
	static struct fx ref;
	static const char in[] =
		"GET /metric-stack?id=1 HTTP/1.1\r\nHost: t\r\n"
		"Transfer-Encoding: gzip, chunked\r\n\r\n"
		"3\r\nabc\r\n0\r\n\r\n"
		"GET /metric-stack?id=2 HTTP/1.1\r\nHost: t\r\n\r\n";

	frame_every_split(&ref, LIT(in));
	ck_assert_uint_eq(ref.n, 2);
	assert_req(&ref.out[0], ROUTE_METRIC_STACK, 1, 0, 0, HERR_NONE);
	assert_req(&ref.out[1], ROUTE_METRIC_STACK, 2, 0, 0, HERR_NONE);
}
END_TEST

START_TEST(method_with_body_on_known_path)
{
	static struct fx ref;
	static const char in[] =
		"POST /metric-stack?id=1 HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n\r\nabcd"
		"PUT /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n"
		"DELETE /nope HTTP/1.1\r\nHost: t\r\n\r\n"
		"GET /metric-heap?id=4 HTTP/1.1\r\nHost: t\r\n\r\n";

	frame_every_split(&ref, LIT(in));
	ck_assert_uint_eq(ref.n, 4);
	assert_req(&ref.out[0], ROUTE_METRIC_STACK, 0, 0, 0, HERR_METHOD);
	assert_req(&ref.out[1], ROUTE_HEALTHZ, 0, 0, 0, HERR_METHOD);
	assert_req(&ref.out[2], ROUTE_NONE, 0, 0, 0, HERR_NOT_FOUND);
	assert_req(&ref.out[3], ROUTE_METRIC_HEAP, 4, 0, 0, HERR_NONE);
}
END_TEST

START_TEST(leading_empty_lines_tolerated)
{
	static struct fx ref;
	static const char in[] =
		"\r\nGET /metric-stack?id=1 HTTP/1.1\r\nHost: t\r\n\r\n"
		"\r\n\r\nGET /metric-stack?id=2 HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\n\r\nx"
		"\r\nGET /metric-stack?id=3 HTTP/1.1\r\nHost: t\r\n\r\n";

	frame_every_split(&ref, LIT(in));
	ck_assert_uint_eq(ref.n, 3);
	assert_req(&ref.out[0], ROUTE_METRIC_STACK, 1, 0, 0, HERR_NONE);
	assert_req(&ref.out[1], ROUTE_METRIC_STACK, 2, 0, 0, HERR_NONE);
	assert_req(&ref.out[2], ROUTE_METRIC_STACK, 3, 0, 0, HERR_NONE);
}
END_TEST

START_TEST(partial_and_compaction)
{
	static struct fx x;
	static const char ab[] = "GET /metric-stack?id=1 HTTP/1.1\r\nHost: t\r\n\r\n"
				 "GET /metric-st";
	static const char b[] = "GET /metric-st";
	size_t avail;
	char *p;

	fx_init(&x);
	ck_assert(!http_framer_has_partial(&x.f));
	fx_feed(&x, LIT(ab));
	ck_assert_uint_eq(x.n, 1);
	ck_assert(http_framer_has_partial(&x.f));
	/* Consumed bytes are dropped: the partial head moves to the front. */
	p = http_framer_space(&x.f, &avail);
	ck_assert_ptr_eq(p, x.buf + sizeof(b) - 1);
	ck_assert_uint_eq(avail, CAP - (sizeof(b) - 1));
	ck_assert_mem_eq(x.buf, b, sizeof(b) - 1);
	fx_feed(&x, LIT("ack?id=2 HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\na"));
	ck_assert_uint_eq(x.n, 1);
	ck_assert(http_framer_has_partial(&x.f));      /* inside the body */
	fx_feed(&x, LIT("bc"));
	ck_assert_uint_eq(x.n, 2);
	ck_assert(!http_framer_has_partial(&x.f));
	assert_req(&x.out[1], ROUTE_METRIC_STACK, 2, 0, 0, HERR_NONE);
}
END_TEST

START_TEST(body_at_limit_is_read)
{
	static struct fx x;
	static char chunk[65536];
	char head[128];
	int hl = snprintf(head, sizeof(head),
			  "GET /metric-stack?id=1 HTTP/1.1\r\nHost: t\r\n"
			  "Content-Length: %u\r\n\r\n", HTTP_BODY_MAX);

	memset(chunk, 'G', sizeof(chunk));
	fx_init(&x);
	fx_feed(&x, head, (size_t)hl);
	ck_assert_uint_eq(x.n, 0);
	ck_assert(http_framer_has_partial(&x.f));
	for (unsigned sent = 0; sent < HTTP_BODY_MAX; sent += sizeof(chunk))
		fx_feed(&x, chunk, sizeof(chunk));
	ck_assert_uint_eq(HTTP_BODY_MAX % sizeof(chunk), 0);
	ck_assert_uint_eq(x.n, 1);
	fx_feed(&x, LIT("GET /metric-stack?id=2 HTTP/1.1\r\nHost: t\r\n\r\n"));
	ck_assert_uint_eq(x.n, 2);
	assert_req(&x.out[0], ROUTE_METRIC_STACK, 1, 0, 0, HERR_NONE);
	assert_req(&x.out[1], ROUTE_METRIC_STACK, 2, 0, 0, HERR_NONE);
}
END_TEST

START_TEST(connection_tokens)
{
	static struct fx x;

	fx_frame(&x, LIT("GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: keep-alive, close\r\n\r\n"
			 "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n"));
	ck_assert_uint_eq(x.n, 1);
	ck_assert_uint_eq(x.out[0].flags, REQF_CLOSE);
	fx_frame(&x, LIT("GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: CLOSE\r\n\r\n"
			 "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n"));
	ck_assert_uint_eq(x.n, 1);
	ck_assert_uint_eq(x.out[0].flags, REQF_CLOSE);
	fx_frame(&x, LIT("GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: keep-alive\r\n\r\n"
			 "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n"));
	ck_assert_uint_eq(x.n, 2);
	ck_assert_uint_eq(x.out[0].flags, 0);
}
END_TEST

/* metricd never switches protocols, and what follows an Upgrade or CONNECT
 * request may be another protocol to a proxy in front of it: such a request
 * is answered (CONNECT with 400) and nothing after it is framed. */
START_TEST(upgrade_and_connect_not_switched)
{
	static struct fx ref;
	static const char upgrade[] =
		"GET /metric-stack?id=1 HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\n"
		"Connection: Upgrade\r\n\r\n"
		"GET /metric-stack?id=3 HTTP/1.1\r\nHost: t\r\n\r\n";
	static const char connect[] =
		"CONNECT example.com:443 HTTP/1.1\r\nHost: t\r\n\r\n"
		"GET /metric-stack?id=3 HTTP/1.1\r\nHost: t\r\n\r\n";

	frame_every_split(&ref, LIT(upgrade));
	ck_assert_uint_eq(ref.n, 1);
	assert_req(&ref.out[0], ROUTE_METRIC_STACK, 1, 0, REQF_CLOSE, HERR_NONE);
	frame_every_split(&ref, LIT(connect));
	ck_assert_uint_eq(ref.n, 1);
	ck_assert_uint_eq(ref.out[0].err, HERR_BAD_REQUEST);
	ck_assert(ref.out[0].flags & REQF_CLOSE);
}
END_TEST

/* RFC 9112 section 6.1: an HTTP/1.0 message with Transfer-Encoding has
 * faulty framing; the server MUST close the connection after it.  Today a
 * keep-alive HTTP/1.0 chunked request keeps the connection open and the
 * bytes after it are framed as the next request - a smuggling vector
 * behind a proxy that frames it as 1.0 (by Content-Length or by close). */
START_TEST(regression_http10_transfer_encoding_closes)
{
	static struct fx x;

	fx_frame(&x, LIT("GET /metric-stack?id=1 HTTP/1.0\r\nConnection: keep-alive\r\n"
			 "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
			 "GET /metric-stack?id=2 HTTP/1.1\r\nHost: t\r\n\r\n"));
	ck_assert_uint_ge(x.n, 1);
	ck_assert_msg(x.n == 1, "a request after HTTP/1.0 + Transfer-Encoding "
		      "was framed (%u descriptors)", x.n);
	ck_assert_uint_eq(x.out[0].flags & REQF_CLOSE, REQF_CLOSE);
}
END_TEST

/* The trailer section is request header lines too: the strict scanner's
 * rules (no bare LF, no obs-fold, no space before the colon) must hold
 * there, or http-parser's lenient parsing of it decides the framing. */
START_TEST(regression_trailers_scanned_strictly)
{
	static const char *const bad[] = {
		"0\r\nX-T: a\n\r\n",             /* bare LF */
		"0\r\nX-T: a\r\n b\r\n\r\n",     /* obs-fold */
		"0\r\nX-T : a\r\n\r\n",          /* space before colon */
		"0\r\nX-T: a\rb\r\n\r\n",        /* bare CR */
		"0\r\n\n",                       /* bare LF ends the trailers */
	};
	static struct fx x;
	static char in[512];
	char accepted[64] = "";

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int n = snprintf(in, sizeof(in),
				 "GET /metric-stack?id=1 HTTP/1.1\r\nHost: t\r\n"
				 "Transfer-Encoding: chunked\r\n\r\n%s"
				 "GET /metric-stack?id=2 HTTP/1.1\r\nHost: t\r\n\r\n", bad[i]);

		fx_frame(&x, in, (size_t)n);
		if (!(x.last == HTTP_FRAME_ERROR && x.n == 1 &&
		      x.out[0].err == HERR_BAD_REQUEST))
			snprintf(accepted + strlen(accepted),
				 sizeof(accepted) - strlen(accepted), " %zu", i);
	}
	ck_assert_msg(accepted[0] == '\0', "trailer cases accepted:%s", accepted);
}
END_TEST

/* ---- malformed input ---------------------------------------------------- */

struct bad_case {
	const char *name;
	const char *in;
	size_t len;
	enum http_err err;
};

#define BAD(name, lit, e) { name, lit, sizeof(lit) - 1, e }
#define H "GET /healthz HTTP/1.1\r\nHost: t\r\n"

static const struct bad_case bad_cases[] = {
	BAD("space before colon (TE)", H "Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n",
	    HERR_BAD_REQUEST),
	BAD("space before colon (Host)", H "Host : a\r\n\r\n", HERR_BAD_REQUEST),
	BAD("tab before colon", H "Host\t: a\r\n\r\n", HERR_BAD_REQUEST),
	BAD("obs-fold SP", H "X-A: a\r\n b\r\n\r\n", HERR_BAD_REQUEST),
	BAD("obs-fold HTAB", H "X-A: a\r\n\tb\r\n\r\n", HERR_BAD_REQUEST),
	BAD("obs-fold on first header", H " Host: a\r\n\r\n", HERR_BAD_REQUEST),
	BAD("CL and TE", H "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "0\r\n\r\n", HERR_BAD_REQUEST),
	BAD("TE and CL", H "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n"
	    "0\r\n\r\n", HERR_BAD_REQUEST),
	BAD("duplicate CL, same value", H "Content-Length: 5\r\nContent-Length: 5\r\n\r\n"
	    "hello", HERR_BAD_REQUEST),
	BAD("duplicate CL, different values", H "Content-Length: 5\r\n"
	    "content-length: 6\r\n\r\nhello!", HERR_BAD_REQUEST),
	BAD("CL list", H "Content-Length: 5, 5\r\n\r\nhello", HERR_BAD_REQUEST),
	BAD("TE gzip", H "Transfer-Encoding: gzip\r\n\r\n", HERR_BAD_REQUEST),
	BAD("TE chunked, gzip", H "Transfer-Encoding: chunked, gzip\r\n\r\n",
	    HERR_BAD_REQUEST),
	BAD("bare LF everywhere", "GET /healthz HTTP/1.1\nHost: a\n\n",
	    HERR_BAD_REQUEST),
	BAD("bare LF after a header", H "Host: a\n\r\n", HERR_BAD_REQUEST),
	BAD("bare LF as the blank line", H "Host: a\r\n\n", HERR_BAD_REQUEST),
	BAD("bare CR in a value", H "Host: a\rb\r\n\r\n", HERR_BAD_REQUEST),
	BAD("bare CR in the request line", "GET /healthz\r HTTP/1.1\r\nHost: t\r\n\r\n",
	    HERR_BAD_REQUEST),
	BAD("CR CR LF", H "Host: a\r\r\n\r\n", HERR_BAD_REQUEST),
	BAD("NUL in a value", H "Host: a\0b\r\n\r\n", HERR_BAD_REQUEST),
	BAD("NUL in a name", H "Ho\0st: a\r\n\r\n", HERR_BAD_REQUEST),
	BAD("NUL in the target", "GET /heal\0thz HTTP/1.1\r\nHost: t\r\n\r\n", HERR_BAD_REQUEST),
	BAD("control byte in a value", H "Host: a\x01" "b\r\n\r\n", HERR_BAD_REQUEST),
	BAD("DEL in a value", H "Host: a\x7f\r\n\r\n", HERR_BAD_REQUEST),
	BAD("header without colon", H "Host\r\n\r\n", HERR_BAD_REQUEST),
	BAD("empty header name", H ": a\r\n\r\n", HERR_BAD_REQUEST),
	BAD("invalid char in method", "G(ET /healthz HTTP/1.1\r\nHost: t\r\n\r\n",
	    HERR_BAD_REQUEST),
	BAD("quote in method", "G\"T /healthz HTTP/1.1\r\nHost: t\r\n\r\n", HERR_BAD_REQUEST),
	BAD("empty method", " /healthz HTTP/1.1\r\nHost: t\r\n\r\n", HERR_BAD_REQUEST),
	BAD("unknown method", "BREW /healthz HTTP/1.1\r\nHost: t\r\n\r\n", HERR_BAD_REQUEST),
	BAD("request line without version", "GET /\r\n\r\n", HERR_BAD_REQUEST),
	BAD("request line without target", "GET HTTP/1.1\r\nHost: t\r\n\r\n", HERR_BAD_REQUEST),
	BAD("double space", "GET  /healthz HTTP/1.1\r\nHost: t\r\n\r\n", HERR_BAD_REQUEST),
	BAD("lower-case version", "GET /healthz http/1.1\r\n\r\n", HERR_BAD_REQUEST),
	BAD("space after version", "GET /healthz HTTP/1.1 \r\n\r\n", HERR_BAD_REQUEST),
	BAD("HTTP/1", "GET /healthz HTTP/1\r\n\r\n", HERR_BAD_REQUEST),
	BAD("HTTP/11.1", "GET /healthz HTTP/11.1\r\n\r\n", HERR_BAD_REQUEST),
	BAD("control byte in target", "GET /a\x01z HTTP/1.1\r\nHost: t\r\n\r\n", HERR_BAD_REQUEST),
	BAD("blank line only then junk", "\r\n\r\n\r\nx\r\n\r\n", HERR_BAD_REQUEST),
	BAD("HTTP/2.0", "GET /healthz HTTP/2.0\r\n\r\n", HERR_VERSION),
	BAD("HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", HERR_VERSION),
	BAD("HTTP/0.9", "GET /healthz HTTP/0.9\r\n\r\n", HERR_VERSION),
	BAD("HTTP/3.0", "GET /healthz HTTP/3.0\r\n\r\n", HERR_VERSION),
	BAD("CL over HTTP_BODY_MAX", H "Content-Length: 1048577\r\n\r\n",
	    HERR_BODY_TOO_LARGE),
	BAD("CL far over HTTP_BODY_MAX", H "Content-Length: 99999999999\r\n\r\n",
	    HERR_BODY_TOO_LARGE),
	BAD("CL not a number", H "Content-Length: abc\r\n\r\n", HERR_BAD_REQUEST),
	BAD("CL negative", H "Content-Length: -1\r\n\r\n", HERR_BAD_REQUEST),
	BAD("valid request, then a bad one", H "\r\n" H "Host : x\r\n\r\n",
	    HERR_BAD_REQUEST),
};

START_TEST(malformed)
{
	const struct bad_case *c = &bad_cases[_i];
	static struct fx ref, x;
	unsigned want_n;

	fx_frame(&ref, c->in, c->len);
	want_n = ref.n;
	ck_assert_msg(ref.last == HTTP_FRAME_ERROR, "%s: not rejected (%u descriptors)",
		      c->name, ref.n);
	ck_assert_msg(ref.out[want_n - 1].err == c->err, "%s: err %u, want %u",
		      c->name, ref.out[want_n - 1].err, c->err);
	ck_assert_uint_eq(ref.out[want_n - 1].flags, REQF_CLOSE);
	ck_assert_uint_eq(ref.out[want_n - 1].kind, REQ_HTTP);
	ck_assert_uint_eq(ref.out[want_n - 1].route, ROUTE_NONE);
	for (unsigned i = 0; i + 1 < want_n; i++)
		ck_assert_uint_eq(ref.out[i].err, HERR_NONE);
	/* Nothing more once rejected, whatever arrives. */
	fx_feed(&ref, LIT("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n"));
	ck_assert_uint_eq(ref.n, want_n);

	/* The same answer however the bytes arrive. */
	for (size_t k = 0; k <= c->len; k++) {
		fx_init(&x);
		fx_feed(&x, c->in, k);
		fx_feed(&x, c->in + k, c->len - k);
		ck_assert_msg(x.n == want_n && x.last == HTTP_FRAME_ERROR &&
			      x.out[want_n - 1].err == c->err,
			      "%s: split at %zu gives %u descriptors, err %u",
			      c->name, k, x.n, x.n ? x.out[x.n - 1].err : 0);
	}
}
END_TEST

START_TEST(absurd_content_length)
{
	static struct fx x;

	fx_frame(&x, LIT(H "Content-Length: 123456789012345678901234567890\r\n\r\n"));
	ck_assert_uint_eq(x.n, 1);
	ck_assert_int_eq(x.last, HTTP_FRAME_ERROR);
	ck_assert_msg(x.out[0].err == HERR_BAD_REQUEST ||
		      x.out[0].err == HERR_BODY_TOO_LARGE, "err %u", x.out[0].err);
	ck_assert_uint_eq(x.out[0].flags, REQF_CLOSE);
}
END_TEST

/* ---- head size limit ---------------------------------------------------- */

/* A head of exactly `len` bytes: the request line, one padding header and
 * the blank line; `complete` leaves off the final CRLF CRLF when false. */
static size_t make_head(char *out, size_t len, const char *line, bool complete)
{
	size_t n = (size_t)sprintf(out, "%sX-Fill: ", line);

	ck_assert_uint_gt(len, n + 4);
	memset(out + n, 'a', len - n - 4);
	n = len - 4;
	if (complete) {
		memcpy(out + n, "\r\n\r\n", 4);
		n += 4;
	}
	return n;
}

START_TEST(head_too_large_never_terminated)
{
	static struct fx x;
	static char head[MAX_HEAD + 8];
	size_t n = make_head(head, MAX_HEAD + 4, H, false);

	ck_assert_uint_eq(n, MAX_HEAD);
	fx_init(&x);
	fx_feed(&x, head, n - 1);
	ck_assert_uint_eq(x.n, 0);           /* one byte short: still waiting */
	fx_feed(&x, head + n - 1, 1);
	ck_assert_uint_eq(x.n, 1);
	ck_assert_int_eq(x.last, HTTP_FRAME_ERROR);
	ck_assert_uint_eq(x.out[0].err, HERR_HEAD_TOO_LARGE);
	ck_assert_uint_eq(x.out[0].flags, REQF_CLOSE);
}
END_TEST

START_TEST(head_too_large_complete)
{
	static struct fx x;
	static char head[MAX_HEAD + 8];
	size_t n;

	n = make_head(head, MAX_HEAD + 1, H, true);
	fx_frame(&x, head, n);
	ck_assert_uint_eq(x.n, 1);
	ck_assert_int_eq(x.last, HTTP_FRAME_ERROR);
	ck_assert_uint_eq(x.out[0].err, HERR_HEAD_TOO_LARGE);

	/* Exactly at the limit is fine, for http-parser too. */
	n = make_head(head, MAX_HEAD, H, true);
	fx_frame(&x, head, n);
	ck_assert_uint_eq(x.n, 1);
	ck_assert_int_eq(x.last, HTTP_FRAME_REQ);
	assert_req(&x.out[0], ROUTE_HEALTHZ, 0, 0, 0, HERR_NONE);
}
END_TEST

/* The limit applies per request head, not to the pipelined buffer. */
START_TEST(head_limit_is_per_request)
{
	static struct fx x;
	static char in[5 * MAX_HEAD];
	size_t n = 0;

	for (int i = 0; i < 3; i++)
		n += make_head(in + n, MAX_HEAD, "GET /metric-stack?id=7 HTTP/1.1\r\nHost: t\r\n",
			       true);
	fx_frame(&x, in, n);
	ck_assert_uint_eq(x.n, 3);
	for (int i = 0; i < 3; i++)
		assert_req(&x.out[i], ROUTE_METRIC_STACK, 7, 0, 0, HERR_NONE);

	n += make_head(in + n, MAX_HEAD + 1, H, true);
	fx_frame(&x, in, n);
	ck_assert_uint_eq(x.n, 4);
	ck_assert_uint_eq(x.out[3].err, HERR_HEAD_TOO_LARGE);
}
END_TEST

/* A chunked request's trailers must not count against the NEXT request's
 * head limit (http-parser counts trailer bytes in parser->nread, the same
 * counter it checks heads against). */
START_TEST(chunked_trailers_do_not_count_against_next_head)
{
	static struct fx x;
	static char in[4 * MAX_HEAD];
	size_t n = 0;

	n += (size_t)sprintf(in, "GET /metric-stack?id=1 HTTP/1.1\r\nHost: t\r\n"
			     "Transfer-Encoding: chunked\r\n\r\n"
			     "0\r\nX-Trailer: ");
	memset(in + n, 't', 700);
	n += 700;
	n += (size_t)sprintf(in + n, "\r\n\r\n");
	n += make_head(in + n, 400, "GET /metric-stack?id=2 HTTP/1.1\r\nHost: t\r\n", true);

	fx_frame(&x, in, n);
	ck_assert_uint_eq(x.n, 2);
	assert_req(&x.out[0], ROUTE_METRIC_STACK, 1, 0, 0, HERR_NONE);
	ck_assert_msg(x.out[1].err == HERR_NONE,
		      "request after a chunked one rejected: err %u", x.out[1].err);
	assert_req(&x.out[1], ROUTE_METRIC_STACK, 2, 0, 0, HERR_NONE);
}
END_TEST

/* Same at the boundary: a head of exactly max_head after a chunked request. */
START_TEST(head_at_limit_after_chunked)
{
	static struct fx x;
	static char in[4 * MAX_HEAD];
	size_t n = 0;

	n += (size_t)sprintf(in, "GET /metric-stack?id=1 HTTP/1.1\r\nHost: t\r\n"
			     "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
	n += make_head(in + n, MAX_HEAD, "GET /metric-stack?id=2 HTTP/1.1\r\nHost: t\r\n", true);

	fx_frame(&x, in, n);
	ck_assert_uint_eq(x.n, 2);
	ck_assert_msg(x.out[1].err == HERR_NONE,
		      "head of exactly max_head after a chunked request: err %u",
		      x.out[1].err);
	assert_req(&x.out[1], ROUTE_METRIC_STACK, 2, 0, 0, HERR_NONE);
}
END_TEST

/* ---- cost: framing is linear in the bytes received ----------------------
 *
 * A head of many short lines arriving one byte per read must not be
 * rescanned from its start on every read: the framer counts the bytes it
 * looks at, and that count stays within a small multiple of the input. */

static size_t many_lines_head(char *out, size_t cap)
{
	size_t n = (size_t)snprintf(out, cap, "GET /healthz HTTP/1.1\r\nHost: t\r\n");

	while (n + 6 + 2 < cap && n + 6 + 2 < MAX_HEAD)
		n += (size_t)snprintf(out + n, cap - n, "a: b\r\n");
	n += (size_t)snprintf(out + n, cap - n, "\r\n");
	return n;
}

START_TEST(drip_fed_head_is_linear)
{
	static struct fx x;
	char head[MAX_HEAD];
	size_t len = many_lines_head(head, sizeof(head));

	ck_assert_uint_gt(len, MAX_HEAD - 16);
	fx_init(&x);
	for (size_t k = 0; k < len; k++)
		fx_feed(&x, head + k, 1);
	ck_assert_uint_eq(x.n, 1);
	assert_req(&x.out[0], ROUTE_HEALTHZ, 0, 0, 0, HERR_NONE);
	ck_assert_msg(x.f.examined <= 4 * len,
		      "%zu-byte head fed byte by byte: %llu bytes examined (> 4x)",
		      len, (unsigned long long)x.f.examined);
	/* In one piece it costs about the same. */
	fx_frame(&x, head, len);
	ck_assert_uint_eq(x.n, 1);
	ck_assert_uint_le(x.f.examined, 4 * len);
}
END_TEST

START_TEST(drip_fed_long_line_is_linear)
{
	static struct fx x;
	char head[MAX_HEAD];
	size_t n = (size_t)snprintf(head, sizeof(head),
				    "GET /healthz HTTP/1.1\r\nHost: t\r\nX-Long: ");

	memset(head + n, 'v', MAX_HEAD - n - 8);
	n = MAX_HEAD - 8;
	memcpy(head + n, "\r\n\r\n", 4);
	n += 4;
	fx_init(&x);
	for (size_t k = 0; k < n; k++)
		fx_feed(&x, head + k, 1);
	ck_assert_uint_eq(x.n, 1);
	ck_assert_uint_eq(x.out[0].err, HERR_NONE);
	ck_assert_msg(x.f.examined <= 4 * n, "%llu examined for %zu bytes",
		      (unsigned long long)x.f.examined, n);
}
END_TEST

START_TEST(drip_fed_chunked_body_is_linear)
{
	static struct fx x;
	static const char in[] =
		"GET /metric-stack?id=1 HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
		"40\r\n0123456789012345678901234567890123456789012345678901234567890123\r\n"
		"40\r\n0123456789012345678901234567890123456789012345678901234567890123\r\n"
		"0\r\nX-T: 1\r\nX-U: 2\r\nX-V: 3\r\n\r\n";
	size_t len = sizeof(in) - 1;

	fx_init(&x);
	for (size_t k = 0; k < len; k++)
		fx_feed(&x, in + k, 1);
	ck_assert_uint_eq(x.n, 1);
	assert_req(&x.out[0], ROUTE_METRIC_STACK, 1, 0, 0, HERR_NONE);
	ck_assert_uint_le(x.f.examined, 4 * len);
}
END_TEST

/* ---- RFC 9112 3.2: Host, request-target forms ---------------------------- */

struct host_case {
	const char *in;
	size_t len;
	enum http_err err;        /* HERR_NONE: framed and routed */
	enum http_route route;
};

#define HC(lit, e, r) { lit, sizeof(lit) - 1, e, r }
static const struct host_case host_cases[] = {
	HC("GET /healthz HTTP/1.1\r\n\r\n", HERR_BAD_REQUEST, ROUTE_NONE),
	HC("GET /healthz HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", HERR_BAD_REQUEST, ROUTE_NONE),
	HC("GET /healthz HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", HERR_BAD_REQUEST, ROUTE_NONE),
	HC("GET /healthz HTTP/1.1\r\nHost:\r\n\r\n", HERR_BAD_REQUEST, ROUTE_NONE),
	HC("GET /healthz HTTP/1.1\r\nHost: a b\r\n\r\n", HERR_BAD_REQUEST, ROUTE_NONE),
	HC("GET /healthz HTTP/1.1\r\nHost: a/b\r\n\r\n", HERR_BAD_REQUEST, ROUTE_NONE),
	HC("GET /healthz HTTP/1.1\r\nHost: u@a\r\n\r\n", HERR_BAD_REQUEST, ROUTE_NONE),
	HC("GET /healthz HTTP/1.1\r\nHost: a:8x\r\n\r\n", HERR_BAD_REQUEST, ROUTE_NONE),
	HC("GET /healthz HTTP/1.1\r\nHost: [::1\r\n\r\n", HERR_BAD_REQUEST, ROUTE_NONE),
	HC("GET /healthz HTTP/1.1\r\nHost: []\r\n\r\n", HERR_BAD_REQUEST, ROUTE_NONE),
	HC("GET /healthz HTTP/1.1\r\nHost: a%zz\r\n\r\n", HERR_BAD_REQUEST, ROUTE_NONE),
	HC("GET /healthz HTTP/1.1\r\nHost: \xc3\xa9\r\n\r\n", HERR_BAD_REQUEST, ROUTE_NONE),
	HC("GET /healthz HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", HERR_BAD_REQUEST, ROUTE_NONE),
	/* valid */
	HC("GET /healthz HTTP/1.0\r\n\r\n", HERR_NONE, ROUTE_HEALTHZ),
	HC("GET /healthz HTTP/1.1\r\nHost: example.org\r\n\r\n", HERR_NONE, ROUTE_HEALTHZ),
	HC("GET /healthz HTTP/1.1\r\nHost: \t example.org:8080 \r\n\r\n", HERR_NONE, ROUTE_HEALTHZ),
	HC("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:\r\n\r\n", HERR_NONE, ROUTE_HEALTHZ),
	HC("GET /healthz HTTP/1.1\r\nHost: [::1]:80\r\n\r\n", HERR_NONE, ROUTE_HEALTHZ),
	HC("GET /healthz HTTP/1.1\r\nHost: a_b-c~d%41.e\r\n\r\n", HERR_NONE, ROUTE_HEALTHZ),
	/* absolute-form: routed by its path; the Host field is still required
	 * (as nginx does) */
	HC("GET http://example.org/healthz HTTP/1.1\r\nHost: x\r\n\r\n", HERR_NONE, ROUTE_HEALTHZ),
	HC("GET HTTPS://example.org:8443/metric-stack?id=7 HTTP/1.1\r\nHost: x\r\n\r\n",
	   HERR_NONE, ROUTE_METRIC_STACK),
	HC("GET http://example.org HTTP/1.1\r\nHost: x\r\n\r\n", HERR_NOT_FOUND, ROUTE_NONE),
	HC("GET http://example.org/healthz HTTP/1.1\r\n\r\n", HERR_BAD_REQUEST, ROUTE_NONE),
	HC("GET http://u@example.org/healthz HTTP/1.1\r\nHost: x\r\n\r\n", HERR_BAD_REQUEST, ROUTE_NONE),
	HC("GET http:///healthz HTTP/1.1\r\nHost: x\r\n\r\n", HERR_BAD_REQUEST, ROUTE_NONE),
	HC("GET http:/healthz HTTP/1.1\r\nHost: x\r\n\r\n", HERR_BAD_REQUEST, ROUTE_NONE),
	HC("GET healthz HTTP/1.1\r\nHost: x\r\n\r\n", HERR_BAD_REQUEST, ROUTE_NONE),
	/* asterisk-form: OPTIONS only */
	HC("GET * HTTP/1.1\r\nHost: x\r\n\r\n", HERR_BAD_REQUEST, ROUTE_NONE),
	HC("OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", HERR_NONE, ROUTE_OPTIONS),
	HC("OPTIONS /metric-stack HTTP/1.1\r\nHost: x\r\n\r\n", HERR_METHOD, ROUTE_METRIC_STACK),
};
#undef HC

START_TEST(host_and_target_forms)
{
	const struct host_case *c = &host_cases[_i];
	static struct fx ref;

	frame_every_split(&ref, c->in, c->len);
	ck_assert_uint_eq(ref.n, 1);
	ck_assert_msg(ref.out[0].err == c->err, "case %d: err %u, want %u", _i,
		      ref.out[0].err, c->err);
	ck_assert_msg(ref.out[0].route == c->route, "case %d: route %u, want %u",
		      _i, ref.out[0].route, c->route);
	if (c->err == HERR_BAD_REQUEST)
		ck_assert_int_eq(ref.last, HTTP_FRAME_ERROR);
	else
		ck_assert_int_eq(ref.last, HTTP_FRAME_REQ);
	if (c->route == ROUTE_OPTIONS)
		ck_assert_uint_eq(ref.out[0].flags & REQF_OPTIONS, REQF_OPTIONS);
}
END_TEST

/* ---- Expect (RFC 9110 10.1.1) -------------------------------------------- */

START_TEST(expect_100_continue_before_the_body)
{
	static struct fx ref;
	static const char in[] =
		"POST /metric-stack?id=1 HTTP/1.1\r\nHost: t\r\nExpect: 100-Continue\r\n"
		"Content-Length: 3\r\n\r\nabc"
		"GET /metric-stack?id=2 HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\n"
		"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
		"GET /metric-stack?id=3 HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\n\r\n"
		"GET /metric-stack?id=4 HTTP/1.0\r\nConnection: keep-alive\r\n"
		"Expect: 100-continue\r\nContent-Length: 1\r\n\r\nx"
		"GET /metric-stack?id=5 HTTP/1.1\r\nHost: t\r\n\r\n";

	frame_every_split(&ref, LIT(in));
	ck_assert_uint_eq(ref.n, 7);
	ck_assert_uint_eq(ref.out[0].kind, REQ_CONTINUE);
	ck_assert_uint_eq(ref.out[1].err, HERR_METHOD);
	ck_assert_uint_eq(ref.out[1].kind, REQ_HTTP);
	ck_assert_uint_eq(ref.out[2].kind, REQ_CONTINUE);
	assert_req(&ref.out[3], ROUTE_METRIC_STACK, 2, 0, 0, HERR_NONE);
	/* no body: no interim answer */
	assert_req(&ref.out[4], ROUTE_METRIC_STACK, 3, 0, 0, HERR_NONE);
	/* HTTP/1.0 ignores the expectation */
	assert_req(&ref.out[5], ROUTE_METRIC_STACK, 4, 0, REQF_HTTP10, HERR_NONE);
	assert_req(&ref.out[6], ROUTE_METRIC_STACK, 5, 0, 0, HERR_NONE);
}
END_TEST

START_TEST(expect_other_is_417)
{
	static struct fx ref;
	static const char in[] =
		"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n"
		"GET /healthz HTTP/1.1\r\nHost: t\r\nExpect: 100-continue, x\r\n\r\n";
	static const char in10[] =
		"GET /healthz HTTP/1.0\r\nExpect: something\r\n\r\n";

	frame_every_split(&ref, LIT(in));
	ck_assert_uint_eq(ref.n, 2);
	ck_assert_int_eq(ref.last, HTTP_FRAME_ERROR);
	ck_assert_uint_eq(ref.out[1].err, HERR_EXPECT);
	ck_assert_uint_eq(http_err_status(HERR_EXPECT), 417);
	frame_every_split(&ref, LIT(in10));
	ck_assert_uint_eq(ref.n, 1);
	ck_assert_uint_eq(ref.out[0].err, HERR_NONE);
}
END_TEST

/* ---- what the access log gets ---------------------------------------------- */

/* Descriptor i's recorded fields; NULL: the request had none. */
static void assert_log(const struct fx *x, unsigned i, const char *target,
		       const char *referer, const char *ua)
{
	const char *want[HTTP_LOG_FIELDS] = { target, referer, ua };

	for (unsigned k = 0; k < HTTP_LOG_FIELDS; k++) {
		ck_assert_msg(strcmp(x->log[i][k], want[k] ? want[k] : "") == 0,
			      "descriptor %u field %u: '%s', want '%s'", i, k,
			      x->log[i][k], want[k] ? want[k] : "");
		ck_assert_uint_eq(x->log_len[i][k], want[k] ? strlen(want[k]) : 0);
	}
	ck_assert_uint_eq(x->out[i].log_len, 0);     /* the acceptor's to set */
}

/* The method, the target as sent (query and absolute-form included), the
 * first Referer and User-Agent without the whitespace around them; each
 * message starts with none. */
START_TEST(log_fields_recorded)
{
	static struct fx x;
	static const char in[] =
		"GET /a/b?x=1&y=%22 HTTP/1.1\r\nHost: t\r\nreferer: http://r/x?q\r\n"
		"USER-Agent: \t ua/1.0 (x; y) \t\r\nUser-Agent: second\r\n\r\n"
		"DELETE /metric-stack?id=1 HTTP/1.1\r\nHost: t\r\n\r\n"
		"GET http://h:1/healthz?z HTTP/1.1\r\nHost: h:1\r\nReferer:\r\n\r\n"
		"OPTIONS * HTTP/1.1\r\nHost: t\r\nUser-Agent: o\r\n\r\n";

	fx_frame(&x, LIT(in));
	ck_assert_uint_eq(x.n, 4);
	ck_assert_uint_eq(x.out[0].method, HTTP_GET + 1);
	assert_log(&x, 0, "/a/b?x=1&y=%22", "http://r/x?q", "ua/1.0 (x; y)");
	ck_assert_uint_eq(x.out[1].method, HTTP_DELETE + 1);
	ck_assert_uint_eq(x.out[1].err, HERR_METHOD);
	assert_log(&x, 1, "/metric-stack?id=1", NULL, NULL);
	ck_assert_uint_eq(x.out[2].route, ROUTE_HEALTHZ);
	assert_log(&x, 2, "http://h:1/healthz?z", NULL, NULL);   /* empty: none */
	ck_assert_uint_eq(x.out[3].method, HTTP_OPTIONS + 1);
	assert_log(&x, 3, "*", NULL, "o");
	frame_every_split(&x, LIT(in));
}
END_TEST

/* A body that spans reads: the head went to http-parser and the buffer is
 * compacted before the message ends.  The fields move to the front, as
 * much of each as is logged (a 600-byte User-Agent keeps 512), and come
 * out with the message, however the bytes arrived. */
START_TEST(log_fields_survive_a_body_across_reads)
{
	static struct fx x, ref;
	static char in[16384], ua[601];
	static const size_t reads[] = { 1, 7, 1000, CAP };
	size_t n;

	memset(ua, 'u', 600);
	ua[0] = 'U';
	n = (size_t)snprintf(in, sizeof(in), "POST /metric-stack?id=7 HTTP/1.1\r\nHost: t\r\n"
			     "User-Agent: %s\r\nReferer: http://r/\r\nContent-Length: 9000\r\n\r\n",
			     ua);
	memset(in + n, 'b', 9000);
	n += 9000;
	n += (size_t)snprintf(in + n, sizeof(in) - n, "GET /healthz HTTP/1.1\r\nHost: t\r\n"
			      "Transfer-Encoding: chunked\r\nUser-Agent: c\r\n\r\n"
			      "800\r\n%02048d\r\n800\r\n%02048d\r\n0\r\nT: 1\r\n\r\n", 0, 0);
	for (size_t r = 0; r < sizeof(reads) / sizeof(reads[0]); r++) {
		struct fx *y = r ? &x : &ref;

		fx_init(y);
		for (size_t off = 0; off < n; off += reads[r])
			fx_feed(y, in + off, n - off < reads[r] ? n - off : reads[r]);
		ck_assert_uint_eq(y->n, 2);
		if (r)
			fx_same(y, &ref, "reads of", reads[r]);
	}
	ck_assert_uint_eq(ref.out[0].method, HTTP_POST + 1);
	ck_assert_uint_eq(ref.out[0].err, HERR_METHOD);
	ck_assert_str_eq(ref.log[0][HTTP_LOG_TARGET], "/metric-stack?id=7");
	ck_assert_str_eq(ref.log[0][HTTP_LOG_REFERER], "http://r/");
	ck_assert_uint_eq(ref.log_len[0][HTTP_LOG_UA], 600);
	ck_assert_uint_eq(strlen(ref.log[0][HTTP_LOG_UA]), HTTP_LOG_UA_MAX);
	ck_assert(strncmp(ref.log[0][HTTP_LOG_UA], ua, HTTP_LOG_UA_MAX) == 0);
	assert_log(&ref, 1, "/healthz", NULL, "c");
}
END_TEST

/* An error answer shows what was read of its request: the method (also
 * one http-parser never got to), the target, HTTP/1.0, the fields before
 * the fault; nothing of a request line that was not one. */
START_TEST(log_fields_of_errors)
{
	static const struct {
		const char *in;
		unsigned err, method, flags;
		const char *target, *ua;
	} cases[] = {
		{ "GET / HTTP/2.0\r\nHost: t\r\n\r\n", HERR_VERSION, HTTP_GET + 1,
		  REQF_CLOSE, "/", NULL },
		{ "GET /x HTTP/1.0\r\nUser-Agent: a\r\nBad Header: 1\r\n\r\n",
		  HERR_BAD_REQUEST, HTTP_GET + 1, REQF_CLOSE | REQF_HTTP10, "/x", "a" },
		{ "FOO /y HTTP/1.1\r\nHost: t\r\n\r\n", HERR_BAD_REQUEST,
		  HTTP_METHOD_NONE, REQF_CLOSE, "/y", NULL },
		{ "PUT /z HTTP/1.1\r\nHost: t\r\nUser-Agent: b\r\n"
		  "Content-Length: 99999999999\r\n\r\n", HERR_BODY_TOO_LARGE,
		  HTTP_PUT + 1, REQF_CLOSE, "/z", "b" },
		{ "CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n", HERR_BAD_REQUEST,
		  HTTP_CONNECT + 1, REQF_CLOSE, "h:443", NULL },
		{ "garbage\r\n\r\n", HERR_BAD_REQUEST, HTTP_METHOD_NONE, REQF_CLOSE,
		  NULL, NULL },
	};
	static struct fx x;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fx_frame(&x, cases[i].in, strlen(cases[i].in));
		ck_assert_uint_eq(x.n, 1);
		ck_assert_int_eq(x.last, HTTP_FRAME_ERROR);
		ck_assert_uint_eq(x.out[0].err, cases[i].err);
		ck_assert_msg(x.out[0].method == cases[i].method, "case %zu: method %u",
			      i, x.out[0].method);
		ck_assert_uint_eq(x.out[0].flags, cases[i].flags);
		assert_log(&x, 0, cases[i].target, NULL, cases[i].ua);
	}
	/* A chunked body over the limit, found after the buffer was
	 * compacted: the head's fields are still there. */
	static const char head[] = "POST /c HTTP/1.1\r\nHost: t\r\nUser-Agent: c\r\n"
				   "Transfer-Encoding: chunked\r\n\r\n";
	static char chunk[6 + 4096 + 2];

	fx_init(&x);
	x.f.max_body = 5000;
	memcpy(chunk, "1000\r\n", 6);
	memset(chunk + 6, 'b', 4096);
	memcpy(chunk + 6 + 4096, "\r\n", 2);
	fx_feed(&x, LIT(head));
	fx_feed(&x, chunk, sizeof(chunk));
	fx_feed(&x, chunk, sizeof(chunk));
	ck_assert_uint_eq(x.n, 1);
	ck_assert_uint_eq(x.out[0].err, HERR_BODY_TOO_LARGE);
	ck_assert_uint_eq(x.out[0].method, HTTP_POST + 1);
	assert_log(&x, 0, "/c", NULL, "c");
}
END_TEST

/* ---- If-None-Match (RFC 9110 13.1.2) ------------------------------------- */

START_TEST(if_none_match_tags)
{
	static struct fx ref;
#define INM(v) "GET /healthz HTTP/1.1\r\nHost: t\r\nIf-None-Match: " v "\r\n\r\n"
	static const char in[] =
		INM("\"0a1b2c3d\"")                   /* another tag */
		INM("W/\"x\", W/\"deadbeef\" ,\"00000001\"")  /* ours, weak, in a list */
		INM("\"00000001\", \"deadbeef\"")      /* ours, later in the list */
		INM("*")
		INM("\"DEADBEEF\"")                  /* tags compare exactly */
		INM("\"0a1b2c3d")                     /* not a list of tags: ignored */
		INM("deadbeef")
		INM("\"0000000g\", \"123456789\"")
		INM("\"x\" \"deadbeef")                /* stops being a list first */
		"GET /healthz HTTP/1.1\r\nHost: t\r\nIf-None-Match: \"x\"\r\n"
		"if-none-match:\t\"deadbeef\"\r\n\r\n"   /* two lines: one list */
		"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n";
#undef INM
	static const unsigned want[] = {
		0, REQF_INM_MATCH, REQF_INM_MATCH, REQF_INM_MATCH, 0, 0, 0, 0, 0,
		REQF_INM_MATCH, 0,
	};

	frame_every_split(&ref, LIT(in));
	ck_assert_uint_eq(ref.n, sizeof(want) / sizeof(want[0]));
	for (unsigned i = 0; i < ref.n; i++)
		assert_req(&ref.out[i], ROUTE_HEALTHZ, 0, 0, want[i], HERR_NONE);
}
END_TEST

/* Without an entity-tag of its own, a framer matches only "*". */
START_TEST(if_none_match_without_tag)
{
	static struct fx ref;
	static const char in[] =
		"GET /healthz HTTP/1.1\r\nHost: t\r\nIf-None-Match: \"deadbeef\"\r\n\r\n"
		"GET /healthz HTTP/1.1\r\nHost: t\r\nIf-None-Match: *\r\n\r\n";

	ref.no_etag = true;
	frame_every_split(&ref, LIT(in));
	ck_assert_uint_eq(ref.n, 2);
	assert_req(&ref.out[0], ROUTE_HEALTHZ, 0, 0, 0, HERR_NONE);
	assert_req(&ref.out[1], ROUTE_HEALTHZ, 0, 0, REQF_INM_MATCH, HERR_NONE);
}
END_TEST

/* ---- plain heads: framed by the scanner alone ---------------------------- */

/* Which heads skip http-parser.  fx_frame frames each input both ways too,
 * so a plain head that http-parser would read differently fails there. */
START_TEST(plain_heads_skip_http_parser)
{
	static struct fx x;
	static const struct {
		const char *in;
		bool plain;
	} cases[] = {
		{ "GET /metric-stack?id=1 HTTP/1.1\r\nHost: a\r\n\r\n", true },
		{ "HEAD /stats-value?id=2 HTTP/1.1\r\nHost: a\r\n\r\n", true },
		{ "GET /healthz HTTP/1.0\r\n\r\n", true },
		{ "GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", true },
		{ "GET /healthz HTTP/1.1\r\nHost: a\r\nConnection: CLOSE\r\n\r\n", true },
		{ "GET /healthz HTTP/1.1\r\nHost: a\r\nconnection:keep-alive\r\n\r\n", true },
		{ "\r\n\r\nGET /x HTTP/1.1\r\nHost: a\r\nUser-Agent: u\r\n\r\n", true },
		{ "GET /healthz HTTP/1.1\r\nHost: a\r\nIf-None-Match: *\r\n\r\n", true },
		/* http-parser decides these */
		{ "POST /healthz HTTP/1.1\r\nHost: a\r\n\r\n", false },
		{ "get /healthz HTTP/1.1\r\nHost: a\r\n\r\n", false },   /* 400 */
		{ "GETS /healthz HTTP/1.1\r\nHost: a\r\n\r\n", false },
		{ "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", false },
		{ "GET http://a/healthz HTTP/1.1\r\nHost: a\r\n\r\n", false },
		{ "GET /healthz HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", false },
		{ "GET /healthz HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", false },
		{ "GET /healthz HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\n", false },
		{ "GET /healthz HTTP/1.1\r\nHost: a\r\nUpgrade: h2c\r\n\r\n", false },
		/* found by tests/fuzz: http-parser reads this name as
		 * Transfer-Encoding and refuses the request (400) */
		{ "GET /healthz HTTP/1.1\r\nHost: a\r\nTransfer-Encoding2: x\r\n\r\n", false },
		{ "GET /healthz HTTP/1.1\r\nHost: a\r\nConnection-2: x\r\n\r\n", true },
		{ "GET /healthz HTTP/1.1\r\nHost: a\r\nContent-Length2: x\r\n\r\n", true },
		{ "GET /healthz HTTP/1.1\r\nHost: a\r\nProxy-Connection: close\r\n\r\n", false },
		{ "GET /healthz HTTP/1.1\r\nHost: a\r\nConnection: close \r\n\r\n", false },
		{ "GET /healthz HTTP/1.1\r\nHost: a\r\nConnection: close, te\r\n\r\n", false },
		{ "GET /healthz HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\n\r\n", false },
		{ "GET /healthz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n"
		  "Connection: keep-alive\r\n\r\n", false },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fx_frame(&x, cases[i].in, strlen(cases[i].in));
		ck_assert_msg(x.n == 1 && (x.last == HTTP_FRAME_REQ || !cases[i].plain),
			      "case %zu: %u descriptors, last %d", i, x.n, x.last);
		ck_assert_msg(x.f.heads_plain == (cases[i].plain ? 1u : 0u),
			      "case %zu: plain %llu, want %d", i,
			      (unsigned long long)x.f.heads_plain, cases[i].plain);
	}
	/* The keep-alive rule, read without http-parser. */
	fx_frame(&x, cases[2].in, strlen(cases[2].in));
	ck_assert_uint_eq(x.out[0].flags, REQF_HTTP10 | REQF_CLOSE);
	fx_frame(&x, cases[3].in, strlen(cases[3].in));
	ck_assert_uint_eq(x.out[0].flags, REQF_HTTP10);
	fx_frame(&x, cases[4].in, strlen(cases[4].in));
	ck_assert_uint_eq(x.out[0].flags, REQF_CLOSE);
	fx_frame(&x, cases[1].in, strlen(cases[1].in));
	ck_assert_uint_eq(x.out[0].flags, REQF_HEAD);
}
END_TEST

/* Every byte a request target may hold, in the path and in the query of a
 * plain head, and a plain head exactly at the head limit: the same
 * descriptors with and without http-parser (fx_frame). */
START_TEST(plain_heads_match_http_parser)
{
	static struct fx x;
	static char in[MAX_HEAD + 8];

	for (int c = 0x21; c < 0x7f; c++) {
		int n = snprintf(in, sizeof(in),
				 "GET /metric-stack%c?id=1 HTTP/1.1\r\nHost: a\r\n\r\n"
				 "GET /metric-stack?id=1%c&work=2 HTTP/1.1\r\nHost: a\r\n\r\n",
				 c, c);

		fx_frame(&x, in, (size_t)n);
		ck_assert_uint_eq(x.n, 2);
		ck_assert_uint_eq(x.f.heads_plain, 2);
	}
	size_t n = make_head(in, MAX_HEAD, "GET /healthz HTTP/1.1\r\nHost: t\r\n", true);

	fx_frame(&x, in, n);
	ck_assert_uint_eq(x.n, 1);
	ck_assert_uint_eq(x.f.heads_plain, 1);
	assert_req(&x.out[0], ROUTE_HEALTHZ, 0, 0, 0, HERR_NONE);
}
END_TEST

/* The scan checks eight bytes at a time: every byte value at every place
 * in a word, in a field value and in a request target, is judged as the
 * byte-by-byte rule says (CR and LF end the line, so they are left out). */
START_TEST(every_byte_everywhere)
{
	static struct fx x;
	char in[128];

	for (int c = 0; c < 256; c++) {
		if (c == '\r' || c == '\n')
			continue;
		bool ctl = (c < 0x20 && c != '\t') || c == 0x7f;
		bool vchar = c > 0x20 && c < 0x7f;

		for (int pos = 0; pos < 18; pos++) {
			int n = snprintf(in, sizeof(in), "GET /a HTTP/1.1\r\nHost: a\r\nX: %.*s%c%.*s\r\n\r\n",
					 pos, "zzzzzzzzzzzzzzzzzz", c, 17 - pos, "zzzzzzzzzzzzzzzzzz");
			/* snprintf stops at a NUL: put the byte in by hand */
			in[29 + pos] = (char)c;
			fx_frame(&x, in, (size_t)n);
			ck_assert_msg(x.n == 1 && (x.last == HTTP_FRAME_ERROR) == ctl,
				      "value byte 0x%02x at %d: last %d", c, pos, x.last);

			n = snprintf(in, sizeof(in), "GET /%.*s%c%.*s HTTP/1.1\r\nHost: a\r\n\r\n",
				     pos, "zzzzzzzzzzzzzzzzzz", c, 17 - pos, "zzzzzzzzzzzzzzzzzz");
			in[5 + pos] = (char)c;
			fx_frame(&x, in, (size_t)n);
			ck_assert_msg(x.n == 1 && (x.last == HTTP_FRAME_REQ) == vchar,
				      "target byte 0x%02x at %d: last %d", c, pos, x.last);
		}
	}
}
END_TEST

static Suite *framing_suite(void)
{
	Suite *s = suite_create("framing");
	TCase *tc = tcase_create("good");

	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, single_request);
	tcase_add_test(tc, pipelined_in_order);
	tcase_add_test(tc, pipelined_split_everywhere);
	tcase_add_test(tc, head_sets_flag);
	tcase_add_test(tc, http10_closes_by_default);
	tcase_add_test(tc, http10_keep_alive);
	tcase_add_test(tc, connection_close_ends_framing);
	tcase_add_test(tc, content_length_body_discarded);
	tcase_add_test(tc, chunked_body_discarded);
	tcase_add_test(tc, transfer_encoding_list_ending_chunked);
	tcase_add_test(tc, method_with_body_on_known_path);
	tcase_add_test(tc, leading_empty_lines_tolerated);
	tcase_add_test(tc, partial_and_compaction);
	tcase_add_test(tc, body_at_limit_is_read);
	tcase_add_test(tc, connection_tokens);
	tcase_add_test(tc, upgrade_and_connect_not_switched);
	tcase_add_test(tc, log_fields_recorded);
	tcase_add_test(tc, log_fields_survive_a_body_across_reads);
	tcase_add_test(tc, log_fields_of_errors);
	suite_add_tcase(s, tc);

	TCase *bad = tcase_create("malformed");
	tcase_set_timeout(bad, 20);
	tcase_add_loop_test(bad, malformed, 0,
			    (int)(sizeof(bad_cases) / sizeof(bad_cases[0])));
	tcase_add_test(bad, absurd_content_length);
	tcase_add_test(bad, regression_http10_transfer_encoding_closes);
	tcase_add_test(bad, regression_trailers_scanned_strictly);
	suite_add_tcase(s, bad);

	TCase *lim = tcase_create("limits");
	tcase_set_timeout(lim, 20);
	tcase_add_test(lim, head_too_large_never_terminated);
	tcase_add_test(lim, head_too_large_complete);
	tcase_add_test(lim, head_limit_is_per_request);
	tcase_add_test(lim, chunked_trailers_do_not_count_against_next_head);
	tcase_add_test(lim, head_at_limit_after_chunked);
	tcase_add_test(lim, drip_fed_head_is_linear);
	tcase_add_test(lim, drip_fed_long_line_is_linear);
	tcase_add_test(lim, drip_fed_chunked_body_is_linear);
	suite_add_tcase(s, lim);

	TCase *rfc = tcase_create("rfc9110");
	tcase_set_timeout(rfc, 20);
	tcase_add_loop_test(rfc, host_and_target_forms, 0,
			    (int)(sizeof(host_cases) / sizeof(host_cases[0])));
	tcase_add_test(rfc, expect_100_continue_before_the_body);
	tcase_add_test(rfc, expect_other_is_417);
	tcase_add_test(rfc, if_none_match_tags);
	tcase_add_test(rfc, if_none_match_without_tag);
	tcase_add_test(rfc, plain_heads_skip_http_parser);
	tcase_add_test(rfc, plain_heads_match_http_parser);
	tcase_add_test(rfc, every_byte_everywhere);
	suite_add_tcase(s, rfc);
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed;

	/* Process-wide http-parser limit: once, before any framer runs. */
	http_framer_global_init(MAX_HEAD);
	sr = srunner_create(framing_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
