/* SPDX-License-Identifier: BSD-2-Clause */
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
 * The bytes are fed to an http_framer the way core/connection.c does
 * (http_framer_space / commit, then http_framer_next until NEED_MORE).  The
 * descriptors (the first FUZZ_ANSWER_MAX) are then answered by the server's
 * own worker - a real worker thread (workers/worker.c, stack.c, heap.c)
 * started once, fed through its ring the way the acceptor dispatches, its
 * answers read back from a socketpair - so what is checked is the reply
 * code itself, not a copy of it.  Invariants checked:
 *
 *   - an ERROR descriptor has REQF_CLOSE, a framing-level error code and a
 *     4xx/5xx status; after it (or after a request with REQF_CLOSE) nothing
 *     more is framed, however many bytes follow;
 *   - a REQ descriptor never carries a framing-level error, and its route,
 *     err, flags and work are in range; route NONE means 404;
 *   - while the framer wants more bytes it always has room for them (the
 *     acceptor treats a full buffer like EOF, which would drop the request);
 *   - the worker's byte stream parses back with http-parser as exactly one
 *     answer per descriptor, in order (100 Continue where the framer asked
 *     for it): each with the status its descriptor calls for, a
 *     Content-Length that matches its body (none sent for HEAD), "Connection:
 *     close" exactly when the request asked for it, no header that came
 *     from the request, and the body its route writes; the connection is
 *     closed after the last, and every request is accounted for;
 *   - each accepted request took exactly the bytes RFC 9112 section 6 gives
 *     it (head + Content-Length, or head + chunked body, or the head alone),
 *     checked against an account of the input made here independently, so
 *     no body is ever answered as a request;
 *   - the same input split differently (the fuzzer's splits, all at once,
 *     one byte at a time) gives the same descriptors, byte for byte, and
 *     the same access-log fields (target, Referer, User-Agent), which lie
 *     inside the buffer, hold only bytes a head may hold, and for a REQ
 *     include a target - also when a body that spans reads moved them;
 *   - the response writers on their own (http_fmt_*, http_write_head) stay
 *     within their bounds for values no request produces.
 *
 * Any violation aborts (libFuzzer reports it as a crash with the input). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <http_parser.h>

#include "core/base/clock.h"
#include "core/base/fmt.h"
#include "queue/conn.h"
#include "queue/runtime.h"
#include "core/base/counters.h"
#include "http/framing.h"
#include "http/response.h"
#include "http/route.h"
#include "workers/dashboard.h"
#include "workers/metric.h"
#include "workers/worker.h"
#include "workers/handler.h"

#define FUZZ_MAX_HEAD 1024u
/* As in core/connection.c: the read buffer is the head limit plus 4 KiB. */
#define FUZZ_CAP (FUZZ_MAX_HEAD + 4096u)
#define FUZZ_MAX_REQS 4096u
/* Inputs up to this size are also fed one byte at a time. */
#define FUZZ_BYTEWISE_MAX 2048u
/* Descriptors of one input answered by the worker; work is capped so a
 * heavy request stays heavy (REQF_HEAVY) without taking seconds. */
#define FUZZ_ANSWER_MAX 64u
#define FUZZ_WORK_CAP (2 * HTTP_WORK_HEAVY)
#define FUZZ_WAIT_MS 30000

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
	size_t server_len;     /* --server-header: < 64 bytes; 0 = default */
};

/* A --server-header value of the longest length the config allows. */
static const char server_value[64] =
	"Server-Header-Value/1.0 (a long one, to fill the head's bound..";

static struct http_head_ctx make_date(const struct world *wd)
{
	struct http_head_ctx d;

	memset(&d, 0, sizeof(d));
	if (wd->server_len) {
		d.server = server_value;
		d.server_len = wd->server_len;
	}
	http_head_set_date(&d, wd->date_sec);
	CHECK(strlen(d.date) == 29);
	return d;
}

struct run {
	struct http_req reqs[FUZZ_MAX_REQS];
	uint64_t text[FUZZ_MAX_REQS];   /* hash of its access-log fields */
	uint64_t ends[FUZZ_MAX_REQS];   /* input offset where each message ends */
	unsigned cont_before[FUZZ_MAX_REQS];  /* REQ_CONTINUEs framed before it */
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
			    REQF_HEAVY | REQF_INM_MATCH)) == 0);
	CHECK(r->method <= HTTP_SOURCE + 1);
	CHECK(r->log_len == 0);                   /* the acceptor's to set */
	if (rc == HTTP_FRAME_ERROR) {
		CHECK((r->flags & ~REQF_HTTP10) == REQF_CLOSE);
		CHECK(is_framing_err(r->err));
		CHECK(r->route == ROUTE_NONE);
		unsigned st = http_err_status((enum http_err)r->err);
		CHECK(st == 400 || st == 413 || st == 417 || st == 431 || st == 505);
		return;
	}
	CHECK(rc == HTTP_FRAME_REQ);
	CHECK(r->method != HTTP_METHOD_NONE);
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
	    r->route == ROUTE_METRICS || r->route == ROUTE_DASHBOARD ||
	    r->route == ROUTE_ROOT)
		CHECK(r->err == HERR_NONE || r->err == HERR_METHOD);
	if (r->route == ROUTE_OPTIONS)
		CHECK(r->err == HERR_NONE);
}

/* ---- answers: the server's worker ------------------------------------------ */

/* One worker thread for the whole run, and what the acceptor would give
 * it: a connection slot (reused, a new generation per input), a doorbell,
 * a registry for /stats, the runtime snapshot, an access-log ring. */
static struct fuzz_worker {
	struct worker w;
	struct conn_table conns;
	struct queue_doorbell bell;
	struct telemetry tm;
	struct counters acc_st;
	struct acceptor_counters acc;
	uint64_t ring_hw;
	struct counters *wp;
	struct counters *ap;
	struct acceptor_counters *accp;
	struct queue_req *rp;
	struct runtime *rt;
	struct alog alog;
	unsigned past_deadline;
	uint32_t gen;
} *fw;

static void worker_up(void)
{
	struct worker_cfg wc = { .ring_size = 1024, .note_ring_size = 8,
				 .max_unsent = 4u << 20, .cpu = -1, .index = 1 };

	fw = aligned_alloc(64, sizeof(*fw));
	CHECK(fw != NULL);
	memset(fw, 0, sizeof(*fw));
	CHECK(conn_table_init(&fw->conns, 1, 4096) == 0);
	CHECK(queue_doorbell_init(&fw->bell) == 0);
	fw->rt = calloc(1, sizeof(*fw->rt));
	CHECK(fw->rt != NULL);
	fw->rt->generation = 1;
	fw->rt->access_log = 1;          /* lines into a ring nobody drains */
	fw->rt->server_len = sizeof(server_value) - 1;
	memcpy(fw->rt->server, server_value, sizeof(server_value));
	fw->rt->readers = &fw->rt;
	CHECK(alog_init(&fw->alog, 1) == 0);
	counters_init(&fw->acc_st, "fuzz-acc", -1, 0);
	fw->wp = &fw->w.cnt;
	fw->rp = &fw->w.rq;
	fw->ap = &fw->acc_st;
	fw->accp = &fw->acc;
	fw->tm = (struct telemetry){ .nworkers = 1, .nshards = 1, .acceptors = &fw->ap,
		.accs = &fw->accp, .workers = &fw->wp, .rings = &fw->rp,
		.ring_high_water = &fw->ring_hw, .alog = &fw->alog,
		.start_ns = clock_mono_ns() };
	CHECK(worker_init(&fw->w, 0, &wc, &fw->conns, &fw->bell, &fw->tm,
			  (struct runtime *const *)&fw->rt, &fw->alog.rings[0],
			  &fw->past_deadline) == 0);
	CHECK(worker_start(&fw->w) == 0);
}

static void push(const struct http_req *r)
{
	struct conn *c = &fw->conns.slots[r->slot];

	if (r->kind == REQ_HTTP)
		ck_pr_inc_uint(&c->inflight);     /* as dispatch() counts */
	while (!queue_req_push(&fw->w.rq, r)) {
		queue_fence();
		queue_req_wake(&fw->w.rq);
		usleep(50);
	}
}

/* What one answer must be. */
struct expect {
	unsigned status;
	unsigned flags;
	unsigned route;
	unsigned err;
	uint64_t id;
};

struct resp_parse {
	const struct expect *exp;
	unsigned nexp, k;          /* answers expected, answers begun */
	bool close_hdr;
	bool in_conn_hdr;
	bool foreign_hdr;
	char body[256];            /* its first bytes */
	size_t body_len;
};

/* The only header fields metricd writes: nothing from a request is echoed. */
static bool known_field(const char *at, size_t len)
{
	static const char *const names[] = { "Server", "Date", "Content-Type",
					     "Content-Length", "Allow", "Connection",
					     "ETag", "Cache-Control" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i]) == len && memcmp(at, names[i], len) == 0)
			return true;
	return false;
}

static int rp_on_message_begin(http_parser *p)
{
	struct resp_parse *rp = p->data;

	CHECK(rp->k < rp->nexp);        /* not one answer more than asked */
	rp->k++;
	rp->close_hdr = rp->in_conn_hdr = rp->foreign_hdr = false;
	rp->body_len = 0;
	return 0;
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
	const struct expect *e = &rp->exp[rp->k - 1];

	CHECK(p->status_code == e->status);
	CHECK(!rp->foreign_hdr);
	CHECK(rp->close_hdr == ((e->flags & REQF_CLOSE) != 0));
	if (e->status == 100)
		return 0;
	/* always a length, but for a 304 (RFC 9110 15.4.5) */
	CHECK((p->content_length != ULLONG_MAX) == (e->status != 304));
	if (e->flags & REQF_HEAD)
		return 1;                 /* the answer to HEAD has no body */
	return 0;
}

static int rp_on_body(http_parser *p, const char *at, size_t len)
{
	struct resp_parse *rp = p->data;
	size_t room = sizeof(rp->body) - 1 - rp->body_len;

	memcpy(rp->body + rp->body_len, at, len < room ? len : room);
	rp->body_len += len < room ? len : room;
	rp->body[rp->body_len] = '\0';
	return 0;
}

/* The live page's answer is a 304 when If-None-Match is "*" or names the
 * page's tag (RFC 9110 13.1.2). */
static bool not_modified(const struct http_req *r)
{
	if (r->route != ROUTE_DASHBOARD && r->route != ROUTE_ROOT)
		return false;
	return r->flags & REQF_INM_MATCH;
}

/* The body each route writes (its start, for the long ones). */
static void check_body(const struct resp_parse *rp, const struct expect *e)
{
	char want[256];
	const char *b = rp->body;

	if (e->status == 100 || e->status == 304 || (e->flags & REQF_HEAD)) {
		CHECK(rp->body_len == 0);
		return;
	}
	if (e->err) {
		snprintf(want, sizeof(want), "{\"error\":\"%s\"}",
			 http_err_message((enum http_err)e->err));
		CHECK(strcmp(b, want) == 0);
		return;
	}
	switch (e->route) {
	case ROUTE_METRIC_STACK:
	case ROUTE_METRIC_HEAP:
	case ROUTE_STATS_VALUE:
	case ROUTE_STATS_POINTER:
		snprintf(want, sizeof(want), "{\"id\":%llu,\"timestamp\":",
			 (unsigned long long)e->id);
		CHECK(strncmp(b, want, strlen(want)) == 0);
		if (e->route == ROUTE_STATS_VALUE)
			CHECK(strstr(b, ",\"duration_ns\":12000000,\"status\":200}") != NULL);
		else if (e->route == ROUTE_STATS_POINTER)
			CHECK(strstr(b, ",\"duration_ns\":15000000,\"status\":200}") != NULL);
		else
			CHECK(strstr(b, ",\"value\":0.") != NULL || strstr(b, ",\"value\":1.") != NULL);
		break;
	case ROUTE_HEALTHZ:
		CHECK(strcmp(b, "ok\n") == 0);
		break;
	case ROUTE_OPTIONS:
		CHECK(rp->body_len == 0);
		break;
	case ROUTE_STATS:
		CHECK(strncmp(b, "{\"uptime_s\":", 12) == 0);
		break;
	case ROUTE_METRICS:
		CHECK(strncmp(b, "# HELP metricd_", 15) == 0);
		break;
	case ROUTE_DASHBOARD:
	case ROUTE_ROOT:
		CHECK(strncmp(b, "<!DOCTYPE html>", 15) == 0);
		break;
	default:
		CHECK(0);
	}
}

static int rp_on_message_complete(http_parser *p)
{
	struct resp_parse *rp = p->data;

	check_body(rp, &rp->exp[rp->k - 1]);
	return 0;
}

/* Reads everything until the worker closes the connection. */
static char *read_all(int fd, size_t *len)
{
	size_t cap = 1 << 16, n = 0;
	char *buf = malloc(cap);

	CHECK(buf != NULL);
	for (;;) {
		struct pollfd p = { fd, POLLIN, 0 };

		int pr;

		/* A hang guard.  libFuzzer's timeout timer (SIGALRM) interrupts
		 * system calls, so EINTR is retried, not taken for a hang. */
		do
			pr = poll(&p, 1, FUZZ_WAIT_MS);
		while (pr < 0 && errno == EINTR);
		CHECK(pr == 1);
		if (n == cap) {
			cap *= 2;
			buf = realloc(buf, cap);
			CHECK(buf != NULL);
		}
		ssize_t r = read(fd, buf + n, cap - n);

		if (r < 0 && errno == EINTR)
			continue;
		CHECK(r >= 0);
		if (r == 0)
			break;
		n += (size_t)r;
	}
	*len = n;
	return buf;
}

/* The worker's NOTE_CLOSED for the connection, as the acceptor gets it. */
static void wait_closed(uint32_t gen)
{
	struct queue_note n;

	for (int waited = 0;; waited += 10) {
		queue_doorbell_arm(&fw->bell);
		if (queue_note_pop(&fw->w.notes, &n)) {
			CHECK(n.slot == 0 && n.gen == gen);
			if (n.kind == NOTE_CLOSED)
				return;
			continue;
		}
		struct pollfd p = { fw->bell.fd, POLLIN, 0 };

		CHECK(waited < FUZZ_WAIT_MS);
		poll(&p, 1, 10);
	}
}

/* Answers the run's descriptors through the worker, as the acceptor would
 * hand them over, and checks the byte stream that comes back. */
static void answer_run(const struct run *rn, uint64_t seed)
{
	static struct expect exp[2 * FUZZ_ANSWER_MAX + 2];
	unsigned nexp = 0, n = rn->n < FUZZ_ANSWER_MAX ? rn->n : FUZZ_ANSWER_MAX;
	unsigned conts = 0;
	bool closes = false;
	int sv[2];

	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	CHECK(fcntl(sv[0], F_SETFL, O_NONBLOCK) == 0);
	/* As conn_open(); the slot is free, the worker does not look. */
	struct conn *c = &fw->conns.slots[0];
	memset(c, 0, sizeof(*c));
	c->gen = ++fw->gen;
	c->fd = sv[0];
	c->state = CONN_OPEN;
	c->out_head = c->out_last = -1;
	c->wait_prev = c->wait_next = c->ready_next = UINT32_MAX;
	c->peer.sin6_family = (seed & 1) ? AF_INET6 : AF_INET;

	for (unsigned i = 0; i <= n; i++) {
		/* 100 Continue where the framer put it: before request i, or
		 * after the last when the input ended inside a body. */
		unsigned upto = i < rn->n ? rn->cont_before[i] : rn->continues;

		if (i == n && n < rn->n)
			break;
		for (; conts < upto && !closes; conts++) {
			struct http_req r = { .kind = REQ_CONTINUE, .gen = c->gen };

			push(&r);
			exp[nexp++] = (struct expect){ .status = 100 };
		}
		if (i == n || closes)
			break;
		struct http_req r = rn->reqs[i];

		r.slot = 0;
		r.gen = c->gen;
		r.t_parsed_ns = clock_mono_ns();
		if (r.work > FUZZ_WORK_CAP)
			r.work = FUZZ_WORK_CAP;
		exp[nexp++] = (struct expect){
			.status = r.err ? http_err_status((enum http_err)r.err)
				: not_modified(&r) ? 304 : 200,
			.flags = r.flags, .route = r.route, .err = r.err, .id = r.id };
		/* The acceptor's part of the heap path. */
		if (!r.err && (r.route == ROUTE_METRIC_HEAP || r.route == ROUTE_STATS_POINTER))
			CHECK(heap_request_wrap(&fw->acc_st, &r));
		push(&r);
		closes = r.flags & REQF_CLOSE;
	}
	if (!closes) {
		/* EOF: the acceptor's last descriptor. */
		struct http_req r = { .kind = REQ_CLOSE, .gen = c->gen };

		push(&r);
	}
	queue_fence();
	queue_req_wake(&fw->w.rq);

	size_t len;
	char *out = read_all(sv[1], &len);
	wait_closed(c->gen);
	CHECK(ck_pr_load_uint(&c->inflight) == 0);    /* every request answered */
	close(sv[1]);
	c->state = CONN_FREE;

	http_parser_settings st = {
		.on_message_begin = rp_on_message_begin,
		.on_header_field = rp_on_header_field,
		.on_header_value = rp_on_header_value,
		.on_headers_complete = rp_on_headers_complete,
		.on_body = rp_on_body,
		.on_message_complete = rp_on_message_complete,
	};
	struct resp_parse rp = { .exp = exp, .nexp = nexp };
	http_parser p;

	http_parser_init(&p, HTTP_RESPONSE);
	p.data = &rp;
	size_t used = http_parser_execute(&p, &st, out, len);

	if (HTTP_PARSER_ERRNO(&p) != HPE_OK || used != len) {
		fprintf(stderr, "fuzz_framing: answers do not parse (%s) at %zu of %zu\n",
			http_errno_name(HTTP_PARSER_ERRNO(&p)), used, len);
		abort();
	}
	CHECK(rp.k == nexp);          /* every answer, nothing after the last */
	free(out);
}

/* The formatting helpers on their own, with values no request produces. */
static void check_formatters(const struct world *wd, uint64_t x)
{
	char buf[48];
	size_t n;

	n = fmt_u64(buf, x);
	CHECK(n >= 1 && n <= 20);
	n = fmt_i64(buf, (int64_t)x);
	CHECK(n >= 1 && n <= 20);
	n = fmt_fixed(buf, wd->value, wd->decimals);
	CHECK(n >= 1 && n <= 32);
	n = fmt_fixed6(buf, wd->value);
	CHECK(n >= 1 && n <= 32);
	/* Every status the server can send, and one it never sends. */
	static const unsigned statuses[] = { 200, 304, 400, 404, 405, 408, 413,
					     417, 431, 500, 503, 505, 299 };
	char *h = malloc(HTTP_HEAD_MAX);
	struct http_head_ctx date = make_date(wd);
	uint32_t tag = (uint32_t)x;

	CHECK(h != NULL);
	n = http_write_head(h, HTTP_HEAD_MAX, statuses[x % 13], (enum http_ctype)(x % 4),
			    SIZE_MAX - (x & 0xff), REQF_CLOSE | REQF_HTTP10 | REQF_OPTIONS, &date,
			    (x & 0x100) ? &tag : NULL);
	CHECK(n > 0 && n <= HTTP_HEAD_MAX);
	n = http_write_head(h, HTTP_HEAD_MAX, 405, CT_PROMETHEUS, SIZE_MAX,
			    REQF_HTTP10, &date, &tag);
	CHECK(n > 0 && n <= HTTP_HEAD_MAX);
	free(h);
}

/* ---- request side ---------------------------------------------------------- */

/* The access-log fields of the descriptor just framed (what the acceptor
 * copies into the text ring): inside the buffer, of bytes a head may
 * hold - a REQ's target is a whole request target - and hashed (FNV-1a)
 * so that every split of the input must give the same text. */
static uint64_t log_fields(const struct http_framer *f, enum http_frame_rc rc)
{
	uint64_t h = 14695981039346656037ull;

	for (unsigned k = 0; k < HTTP_LOG_FIELDS; k++) {
		const struct http_span *s = &f->log[k];
		uint32_t n = s->len < http_log_max(k) ? s->len : http_log_max(k);

		CHECK(!n || (s->off < f->len && n <= f->len - s->off));
		for (uint32_t i = 0; i < n; i++) {
			unsigned char c = (unsigned char)f->buf[s->off + i];

			CHECK(c >= 0x20 || c == '\t');
			CHECK(k != HTTP_LOG_TARGET || (c > 0x20 && c < 0x7f));
			h = (h ^ c) * 1099511628211ull;
		}
		h = (h ^ s->len) * 1099511628211ull;
	}
	CHECK(rc != HTTP_FRAME_REQ || f->log[HTTP_LOG_TARGET].len > 0);
	return h;
}

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
		rn->cont_before[rn->n] = rn->continues;
		rn->ends[rn->n] = fed - (f->len - f->pos);
		rn->text[rn->n] = log_fields(f, rc);
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
		 unsigned nlens, unsigned step, bool always_parse, struct run *rn)
{
	static char buf[FUZZ_CAP];
	struct http_framer f;
	size_t off = 0;
	unsigned k = 0;

	http_framer_init(&f, buf, sizeof(buf), FUZZ_MAX_HEAD);
	f.etag = &dashboard_page_etag;          /* as core/connection.c sets it */
	f.always_parse = always_parse;
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
	       memcmp(a->text, b->text, nok * sizeof(a->text[0])) == 0 &&
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
	worker_up();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct run split, whole, bytewise, parsed;
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
	wd.server_len = (size_t)((seed >> 20) % 64);

	check_formatters(&wd, seed);

	feed(data, size, lens, nlens, 0, false, &split);
	feed(data, size, NULL, 0, 0, false, &whole);
	if (!same_runs(&split, &whole)) {
		report_diff("split vs whole", &split, &whole);
		abort();
	}
	/* Plain heads are framed without http-parser (http/framing.c,
	 * deliver_plain): http-parser must agree on every one. */
	feed(data, size, lens, nlens, 0, true, &parsed);
	if (!same_runs(&parsed, &split)) {
		report_diff("every head parsed vs plain heads", &parsed, &split);
		abort();
	}
	if (do_bytewise && size <= FUZZ_BYTEWISE_MAX) {
		feed(data, size, NULL, 0, 1, false, &bytewise);
		if (!same_runs(&bytewise, &whole)) {
			report_diff("bytewise vs whole", &bytewise, &whole);
			abort();
		}
	}
	check_message_bounds(data, &whole);
	answer_run(&whole, seed);
	return 0;
}
