/* libFuzzer harness: framing + routing + response writing as one unit.
 *
 * Input layout:
 *   byte 0        low 3 bits: how many split lengths follow (0..7);
 *                 bit 3: also feed one byte at a time (small inputs only)
 *   bytes 1..k    split lengths (1..256 each), used in turn to cut the rest
 *                 into the chunks a TCP peer could deliver
 *   next 8 bytes  when k > 0 and the first split length is odd: the
 *                 "world" for the response writers (timestamp, value,
 *                 date, Server header length), else all zero
 *   the rest      the bytes a client sends
 *
 * The bytes are fed to an http_framer the way core/acceptor.c does
 * (http_framer_space / commit, then http_framer_next until NEED_MORE), and
 * every descriptor is answered with http/response.c the way workers/stack.c
 * and workers/heap.c do, into buffers of exactly the documented bounds (so
 * AddressSanitizer sees any overrun).  Invariants checked:
 *
 *   - an ERROR descriptor has REQF_CLOSE, a framing-level error code and a
 *     4xx/5xx status; after it (or after a request with REQF_CLOSE) nothing
 *     more is framed, however many bytes follow;
 *   - a REQ descriptor never carries a framing-level error, and its route,
 *     err, flags and work are in range; route NONE means 404;
 *   - while the framer wants more bytes it always has room for them (the
 *     acceptor treats a full buffer like EOF, which would drop the request);
 *   - every response head and body fits its bound, parses back with
 *     http-parser as one response with that status and Content-Length, says
 *     "Connection: close" exactly when the request asked for it, and never
 *     carries bytes that came from the request;
 *   - each accepted request took exactly the bytes RFC 9112 section 6 gives
 *     it (head + Content-Length, or head + chunked body, or the head alone),
 *     checked against an account of the input made here independently, so
 *     no body is ever answered as a request;
 *   - the same input split differently (the fuzzer's splits, all at once,
 *     one byte at a time) gives the same descriptors, byte for byte.
 *
 * Any violation aborts (libFuzzer reports it as a crash with the input). */
#include "config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <http_parser.h>

#include "http/framing.h"
#include "http/response.h"
#include "http/route.h"

#define FUZZ_MAX_HEAD 1024u
/* As in core/acceptor.c: the read buffer is the head limit plus 4 KiB. */
#define FUZZ_CAP (FUZZ_MAX_HEAD + 4096u)
#define FUZZ_MAX_REQS 4096u
/* Inputs up to this size are also fed one byte at a time. */
#define FUZZ_BYTEWISE_MAX 2048u

#define CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "fuzz_framing: invariant failed: %s (%s:%d)\n", \
			#cond, __FILE__, __LINE__); \
		abort(); \
	} \
} while (0)

struct world {
	int64_t ts_ns;
	double value;
	unsigned decimals;
	time_t date_sec;
	size_t stats_len;
	size_t server_len;     /* --server-header: < 64 bytes; 0 = default */
};

/* A --server-header value of the longest length the config allows. */
static const char server_value[64] =
	"Server-Header-Value/1.0 (a long one, to fill the head's bound..";

static struct http_date make_date(const struct world *wd)
{
	struct http_date d;

	memset(&d, 0, sizeof(d));
	if (wd->server_len) {
		d.server = server_value;
		d.server_len = wd->server_len;
	}
	http_date_update(&d, wd->date_sec);
	CHECK(strlen(d.str) == 29);
	return d;
}

struct run {
	struct http_req reqs[FUZZ_MAX_REQS];
	uint64_t ends[FUZZ_MAX_REQS];   /* input offset where each message ends */
	unsigned n;
	unsigned continues;  /* REQ_CONTINUE descriptors (no message of their own) */
	bool ended;          /* error or Connection: close seen */
	bool error;
};

static bool is_framing_err(unsigned e)
{
	return e == HERR_BAD_REQUEST || e == HERR_HEAD_TOO_LARGE ||
	       e == HERR_BODY_TOO_LARGE || e == HERR_VERSION || e == HERR_EXPECT;
}

static void check_desc(const struct http_req *r, enum http_frame_rc rc)
{
	CHECK(r->heap == NULL);
	CHECK(r->t_parsed_ns > 0);
	if (rc == HTTP_FRAME_CONTINUE) {
		CHECK(r->kind == REQ_CONTINUE);
		return;
	}
	CHECK(r->kind == REQ_HTTP);
	CHECK(r->err < HERR__COUNT);
	CHECK((r->flags & ~(REQF_HEAD | REQF_CLOSE | REQF_HTTP10 | REQF_OPTIONS |
			    REQF_HEAVY)) == 0);
	if (rc == HTTP_FRAME_ERROR) {
		CHECK(r->flags == REQF_CLOSE);
		CHECK(is_framing_err(r->err));
		CHECK(r->route == ROUTE_NONE);
		unsigned st = http_err_status((enum http_err)r->err);
		CHECK(st == 400 || st == 413 || st == 417 || st == 431 || st == 505);
		return;
	}
	CHECK(rc == HTTP_FRAME_REQ);
	CHECK(!(r->flags & REQF_HEAVY) ||
	      (r->err == HERR_NONE && r->work >= HTTP_WORK_HEAVY));
	CHECK(!(r->flags & REQF_OPTIONS) == (r->route != ROUTE_OPTIONS));
	CHECK(!is_framing_err(r->err));
	CHECK(r->route < ROUTE__COUNT);
	if (r->err == HERR_NONE)
		CHECK(r->work <= HTTP_WORK_MAX);    /* the worker runs it */
	if (r->route == ROUTE_NONE)
		CHECK(r->err == HERR_NOT_FOUND);
	else
		CHECK(r->err != HERR_NOT_FOUND);
	if (r->err == HERR_NONE)
		CHECK(r->route != ROUTE_NONE);
	if (r->route == ROUTE_HEALTHZ || r->route == ROUTE_STATS ||
	    r->route == ROUTE_METRICS)
		CHECK(r->err == HERR_NONE || r->err == HERR_METHOD);
	if (r->route == ROUTE_OPTIONS)
		CHECK(r->err == HERR_NONE);
}

/* ---- response side --------------------------------------------------------- */

struct resp_parse {
	bool complete;
	bool close_hdr;
	bool in_conn_hdr;
	bool foreign_hdr;
	uint64_t content_length;
};

/* The only header fields metricd writes: nothing from a request is echoed. */
static bool known_field(const char *at, size_t len)
{
	static const char *const names[] = { "Server", "Date", "Content-Type",
					     "Content-Length", "Allow", "Connection" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i]) == len && memcmp(at, names[i], len) == 0)
			return true;
	return false;
}

static int rp_on_header_field(http_parser *p, const char *at, size_t len)
{
	struct resp_parse *rp = p->data;

	/* Field names come in one piece here: the head is parsed at once. */
	rp->in_conn_hdr = len == 10 && memcmp(at, "Connection", 10) == 0;
	if (!known_field(at, len))
		rp->foreign_hdr = true;
	return 0;
}

static int rp_on_header_value(http_parser *p, const char *at, size_t len)
{
	struct resp_parse *rp = p->data;

	if (rp->in_conn_hdr && len == 5 && strncasecmp(at, "close", 5) == 0)
		rp->close_hdr = true;
	return 0;
}

static int rp_on_headers_complete(http_parser *p)
{
	struct resp_parse *rp = p->data;

	rp->content_length = p->content_length;
	return 0;
}

static int rp_on_headers_complete_head(http_parser *p)
{
	rp_on_headers_complete(p);
	return 1;      /* answer to HEAD: no body follows */
}

static int rp_on_message_complete(http_parser *p)
{
	struct resp_parse *rp = p->data;

	rp->complete = true;
	return 0;
}

/* Parses one response back and checks it says what was written. */
static void check_response(const char *buf, size_t len, unsigned status,
			   size_t body_len, unsigned req_flags)
{
	http_parser_settings s = {
		.on_header_field = rp_on_header_field,
		.on_header_value = rp_on_header_value,
		.on_headers_complete = (req_flags & REQF_HEAD)
			? rp_on_headers_complete_head : rp_on_headers_complete,
		.on_message_complete = rp_on_message_complete,
	};
	struct resp_parse rp = { 0 };
	http_parser p;

	http_parser_init(&p, HTTP_RESPONSE);
	p.data = &rp;
	size_t n = http_parser_execute(&p, &s, buf, len);

	CHECK(HTTP_PARSER_ERRNO(&p) == HPE_OK);
	CHECK(n == len);
	CHECK(rp.complete);
	CHECK(p.status_code == status);
	CHECK(rp.content_length == body_len);
	CHECK(!rp.foreign_hdr);
	CHECK(rp.close_hdr == ((req_flags & REQF_CLOSE) != 0));
	if (req_flags & REQF_CLOSE)
		CHECK(!http_should_keep_alive(&p));
}

/* worker_reply(): head and body in one buffer of HTTP_RESP_MAX bytes. */
static void reply(const struct world *wd, unsigned req_flags, unsigned status,
		  enum http_ctype ct, const char *body, size_t body_len)
{
	char *p = malloc(HTTP_RESP_MAX);
	struct http_date date = make_date(wd);
	size_t n;

	CHECK(p != NULL);
	CHECK(body_len <= HTTP_BODY_MAX_RESP);
	n = http_write_head(p, HTTP_HEAD_MAX, status, ct, body_len, req_flags, &date);
	CHECK(n > 0 && n <= HTTP_HEAD_MAX);
	CHECK(memcmp(p + n - 4, "\r\n\r\n", 4) == 0);
	if (!(req_flags & REQF_HEAD)) {
		memcpy(p + n, body, body_len);
		n += body_len;
	}
	check_response(p, n, status, body_len, req_flags);
	free(p);
}

/* Writers that format a body must fill exactly what they return and stay
 * inside the bound: the buffer is the bound, on the heap (heap.c does
 * that), so ASan catches a single byte over. */
static size_t body_metric(char *out, const struct http_req *r,
			  const struct world *wd)
{
	size_t n = http_body_metric(out, HTTP_BODY_MAX_RESP, r->id, wd->ts_ns,
				    wd->value);

	CHECK(n > 0 && n <= HTTP_BODY_MAX_RESP);
	CHECK(out[0] == '{' && out[n - 1] == '}');
	CHECK(memchr(out, '\r', n) == NULL && memchr(out, '\n', n) == NULL);
	return n;
}

static void answer(const struct http_req *r, const struct world *wd)
{
	char *body = malloc(HTTP_BODY_MAX_RESP);
	size_t n = 0;

	CHECK(body != NULL);
	if (r->err) {
		const char *msg = http_err_message((enum http_err)r->err);

		n = http_body_error(body, HTTP_BODY_MAX_RESP, msg);
		CHECK(n == strlen(msg) + 12);
		reply(wd, r->flags, http_err_status((enum http_err)r->err),
		      CT_JSON, body, n);
		free(body);
		return;
	}
	switch (r->route) {
	case ROUTE_METRIC_STACK:
	case ROUTE_METRIC_HEAP:
		n = body_metric(body, r, wd);
		reply(wd, r->flags, 200, CT_JSON, body, n);
		break;
	case ROUTE_STATS_VALUE:
	case ROUTE_STATS_POINTER:
		n = http_body_stats(body, HTTP_BODY_MAX_RESP, r->id, wd->ts_ns,
				    wd->ts_ns ^ (int64_t)r->work, (int)r->work);
		CHECK(n > 0 && n <= HTTP_BODY_MAX_RESP);
		reply(wd, r->flags, 200, CT_JSON, body, n);
		break;
	case ROUTE_HEALTHZ:
		reply(wd, r->flags, 200, CT_TEXT, "ok\n", 3);
		break;
	case ROUTE_OPTIONS:
		reply(wd, r->flags, 200, CT_TEXT, "", 0);
		break;
	case ROUTE_STATS:
	case ROUTE_METRICS: {
		/* worker_reply_stats: the head goes in front of a body of any
		 * length; only the head is ours to check. */
		char *h = malloc(HTTP_HEAD_MAX);
		struct http_date date = make_date(wd);

		CHECK(h != NULL);
		n = http_write_head(h, HTTP_HEAD_MAX, 200,
				    r->route == ROUTE_METRICS ? CT_PROMETHEUS : CT_JSON,
				    wd->stats_len, r->flags, &date);
		CHECK(n > 0 && n <= HTTP_HEAD_MAX);
		free(h);
		break;
	}
	default:
		CHECK(0);
	}
	free(body);
}

/* The formatting helpers on their own, with values no request produces. */
static void check_formatters(const struct world *wd, uint64_t x)
{
	char buf[48];
	size_t n;

	n = http_fmt_u64(buf, x);
	CHECK(n >= 1 && n <= 20);
	n = http_fmt_i64(buf, (int64_t)x);
	CHECK(n >= 1 && n <= 20);
	n = http_fmt_fixed(buf, wd->value, wd->decimals);
	CHECK(n >= 1 && n <= 32);
	n = http_fmt_fixed6(buf, wd->value);
	CHECK(n >= 1 && n <= 32);
	/* Every status the server can send, and one it never sends. */
	static const unsigned statuses[] = { 200, 400, 404, 405, 408, 413, 417,
					     431, 500, 503, 505, 299 };
	char *h = malloc(HTTP_HEAD_MAX);
	struct http_date date = make_date(wd);

	CHECK(h != NULL);
	n = http_write_head(h, HTTP_HEAD_MAX, statuses[x % 12], (enum http_ctype)(x % 3),
			    SIZE_MAX - (x & 0xff), REQF_CLOSE | REQF_HTTP10 | REQF_OPTIONS, &date);
	CHECK(n > 0 && n <= HTTP_HEAD_MAX);
	n = http_write_head(h, HTTP_HEAD_MAX, 405, CT_PROMETHEUS, SIZE_MAX,
			    REQF_HTTP10, &date);
	CHECK(n > 0 && n <= HTTP_HEAD_MAX);
	free(h);
}

/* ---- request side ---------------------------------------------------------- */

/* Pulls descriptors like conn_advance(): until NEED_MORE, an error, or a
 * request that ends the connection.  fed: bytes committed so far. */
static void drain(struct http_framer *f, struct run *rn, uint64_t fed)
{
	while (!rn->ended) {
		struct http_req r;
		enum http_frame_rc rc;

		memset(&r, 0xa5, sizeof(r));
		rc = http_framer_next(f, &r);
		if (rc == HTTP_FRAME_NEED_MORE)
			return;
		check_desc(&r, rc);
		if (rc == HTTP_FRAME_CONTINUE) {
			/* The interim answer comes right after its head and
			 * before the request it belongs to. */
			rn->continues++;
			continue;
		}
		CHECK(rn->n < FUZZ_MAX_REQS);
		r.t_parsed_ns = 0;
		rn->ends[rn->n] = fed - (f->len - f->pos);
		rn->reqs[rn->n++] = r;
		if (rc == HTTP_FRAME_ERROR) {
			rn->ended = rn->error = true;
		} else if (r.flags & REQF_CLOSE) {
			rn->ended = true;
		}
	}
}

/* Feeds data in chunks of the given lengths (cycled), or as much as fits
 * when nlens is 0. */
static void feed(const uint8_t *data, size_t size, const uint8_t *lens,
		 unsigned nlens, unsigned step, struct run *rn)
{
	static char buf[FUZZ_CAP];
	struct http_framer f;
	size_t off = 0;
	unsigned k = 0;

	http_framer_init(&f, buf, sizeof(buf), FUZZ_MAX_HEAD);
	rn->n = 0;
	rn->continues = 0;
	rn->ended = rn->error = false;
	while (off < size) {
		size_t avail;
		char *dst = http_framer_space(&f, &avail);
		size_t want = step ? step : nlens ? (size_t)lens[k++ % nlens] + 1 : avail;

		if (!rn->ended) {
			/* The framer wants bytes: it must have room for them,
			 * or the acceptor would read 0 and take it for EOF. */
			CHECK(avail > 0);
		} else if (avail == 0) {
			break;
		}
		if (want > avail)
			want = avail;
		if (want > size - off)
			want = size - off;
		memcpy(dst, data + off, want);
		http_framer_commit(&f, want);
		off += want;
		if (rn->ended) {
			/* Nothing is framed after the end, whatever follows. */
			struct http_req r;

			CHECK(http_framer_next(&f, &r) == HTTP_FRAME_NEED_MORE);
			continue;
		}
		drain(&f, rn, off);
	}
	/* EOF: the acceptor frames what is buffered, then closes. */
	drain(&f, rn, off);
	if (!rn->ended && !http_framer_has_partial(&f)) {
		size_t avail;

		http_framer_space(&f, &avail);
		CHECK(avail == sizeof(buf));
	}
}

static bool same_runs(const struct run *a, const struct run *b)
{
	/* Where an error was noticed depends on what had arrived: its end
	 * offset is not compared, and neither is which of several defects in
	 * the failing message was seen first (a head growing past the limit
	 * vs a bad byte inside it; a bad chunk byte vs an oversized chunk):
	 * every framing error is a 4xx and a close.  Requests framed before
	 * it must match exactly. */
	unsigned nok = a->n - (a->n && a->error ? 1 : 0);

	return a->n == b->n && a->error == b->error && a->ended == b->ended &&
	       a->continues == b->continues &&
	       memcmp(a->reqs, b->reqs, nok * sizeof(a->reqs[0])) == 0 &&
	       memcmp(a->ends, b->ends, nok * sizeof(a->ends[0])) == 0;
}

static void report_diff(const char *what, const struct run *a, const struct run *b)
{
	fprintf(stderr, "fuzz_framing: %s: %u vs %u descriptors, error %d vs %d\n",
		what, a->n, b->n, a->error, b->error);
	for (unsigned i = 0; i < a->n || i < b->n; i++) {
		const struct http_req *x = i < a->n ? &a->reqs[i] : NULL;
		const struct http_req *y = i < b->n ? &b->reqs[i] : NULL;

		fprintf(stderr, "  #%u: end %lld/%lld route %d/%d err %d/%d flags %d/%d id %llu/%llu\n", i,
			i < a->n ? (long long)a->ends[i] : -1ll,
			i < b->n ? (long long)b->ends[i] : -1ll,
			x ? x->route : -1, y ? y->route : -1, x ? x->err : -1,
			y ? y->err : -1, x ? x->flags : -1, y ? y->flags : -1,
			x ? (unsigned long long)x->id : 0ull,
			y ? (unsigned long long)y->id : 0ull);
	}
}

/* ---- an independent account of where each accepted message ends -------- */

static const uint8_t *find(const uint8_t *p, size_t n, const char *lit)
{
	size_t l = strlen(lit);

	for (size_t i = 0; i + l <= n; i++)
		if (memcmp(p + i, lit, l) == 0)
			return p + i;
	return NULL;
}

/* Header value as a decimal number (OWS trimmed); false if it is not one. */
static bool value_u64(const uint8_t *v, size_t n, uint64_t *out)
{
	uint64_t x = 0;
	size_t i = 0;

	while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
		n--;
	while (i < n && (v[i] == ' ' || v[i] == '\t'))
		i++;
	if (i == n || n - i > 19)
		return false;
	for (; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return false;
		x = x * 10 + (uint64_t)(v[i] - '0');
	}
	*out = x;
	return true;
}

/* For every request the framer accepted, the message it took must be
 * exactly what RFC 9112 section 6 says: the head, then Content-Length
 * bytes, or a chunked body (which ends in CRLF CRLF), or nothing.  This is
 * what keeps a body from being answered as a request (smuggling). */
static void check_message_bounds(const uint8_t *data, const struct run *rn)
{
	uint64_t start = 0;

	for (unsigned i = 0; i < rn->n; i++) {
		uint64_t end = rn->ends[i];

		CHECK(end >= start);
		if (i + 1 == rn->n && rn->error)
			break;       /* an error consumes no defined amount */
		const uint8_t *m = data + start;
		size_t len = (size_t)(end - start);

		while (len >= 2 && m[0] == '\r' && m[1] == '\n') {
			m += 2;
			len -= 2;
		}
		const uint8_t *he = find(m, len, "\r\n\r\n");
		CHECK(he != NULL);
		size_t head_len = (size_t)(he - m) + 4;
		uint64_t cl = 0;
		bool has_cl = false, chunked = false;
		const uint8_t *line = find(m, head_len, "\r\n") + 2;

		while (line < m + head_len - 2) {
			const uint8_t *eol = find(line, (size_t)(m + head_len - line), "\r\n");
			const uint8_t *colon = memchr(line, ':', (size_t)(eol - line));

			CHECK(colon != NULL);
			size_t nl = (size_t)(colon - line);
			if (nl == 14 && strncasecmp((const char *)line, "content-length", 14) == 0) {
				CHECK(!has_cl);
				has_cl = true;
				CHECK(value_u64(colon + 1, (size_t)(eol - colon - 1), &cl));
			} else if (nl == 17 &&
				   strncasecmp((const char *)line, "transfer-encoding", 17) == 0) {
				chunked = true;
			}
			line = eol + 2;
		}
		CHECK(!(has_cl && chunked));
		if (chunked) {
			CHECK(len >= head_len + 5);
			CHECK(memcmp(m + len - 4, "\r\n\r\n", 4) == 0);
		} else {
			CHECK(len == head_len + cl);
		}
		start = end;
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* Process-wide, once, before any framer (as core/main.c does). */
	http_framer_global_init(FUZZ_MAX_HEAD);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct run split, whole, bytewise;
	struct world wd = { 0 };
	uint64_t seed = 0;

	if (size < 1)
		return 0;
	unsigned nlens = data[0] & 7;
	bool do_bytewise = (data[0] & 8) != 0;

	if (size < 1 + (size_t)nlens)
		return 0;
	const uint8_t *lens = data + 1;

	data += 1 + nlens;
	size -= 1 + nlens;
	if (nlens > 0 && (lens[0] & 1) && size >= 8) {
		memcpy(&seed, data, 8);
		data += 8;
		size -= 8;
	}
	wd.ts_ns = (int64_t)seed;
	memcpy(&wd.value, &seed, sizeof(wd.value));
	wd.decimals = (unsigned)(seed >> 60);
	/* The server formats its own clock: years 1970..9999. */
	wd.date_sec = (time_t)(seed % 253402300800ull);
	wd.stats_len = (size_t)(seed >> 8);
	wd.server_len = (size_t)((seed >> 20) % 64);

	check_formatters(&wd, seed);

	feed(data, size, lens, nlens, 0, &split);
	feed(data, size, NULL, 0, 0, &whole);
	if (!same_runs(&split, &whole)) {
		report_diff("split vs whole", &split, &whole);
		abort();
	}
	if (do_bytewise && size <= FUZZ_BYTEWISE_MAX) {
		feed(data, size, NULL, 0, 1, &bytewise);
		if (!same_runs(&bytewise, &whole)) {
			report_diff("bytewise vs whole", &bytewise, &whole);
			abort();
		}
	}
	check_message_bounds(data, &whole);
	for (unsigned i = 0; i < whole.n; i++) {
		struct http_req r = whole.reqs[i];

		r.t_parsed_ns = 1;
		answer(&r, &wd);
	}
	return 0;
}
