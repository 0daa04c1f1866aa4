/* SPDX-License-Identifier: BSD-2-Clause */
/* Integration: the real metricd binary on an ephemeral loopback port. */
#include "config.h"

#include <check.h>
#include <pthread.h>
#include <signal.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/testlib.h"

static struct tl_server srv;

static void start(void)
{
	static const char *const args[] = { "--workers", "2", NULL };

	ck_assert_int_eq(tl_server_start(&srv, args, NULL), 0);
}

static void stop(void)
{
	ck_assert_int_eq(tl_server_stop(&srv, SIGTERM, 5000), 0);
}

static void get(const char *req, struct tl_resp *r)
{
	ck_assert_msg(tl_get(srv.port, req, r) == 0, "no answer to %s", req);
}

static void send_str(int fd, const char *s)
{
	ck_assert_int_eq(tl_send_all(fd, s, strlen(s)), 0);
}

/* The body with the digits of its "timestamp" replaced by T: what must be
 * byte-identical between the two paths. */
static void without_timestamp(const struct tl_resp *r, char *out, size_t len)
{
	const char *at = strstr(r->body, "\"timestamp\":");
	size_t head;

	ck_assert_ptr_nonnull(at);
	at += strlen("\"timestamp\":");
	head = (size_t)(at - r->body);
	while (*at >= '0' && *at <= '9')
		at++;
	ck_assert_int_lt(snprintf(out, len, "%.*sT%s", (int)head, r->body, at), (int)len);
}

START_TEST(metric_endpoints)
{
	/* The values, worked out apart from the server (see test_metric.c):
	 * id 42 with work 0, 1 and 17. */
	static const struct { const char *query, *body; } cases[] = {
		{ "id=42", "{\"id\":42,\"timestamp\":T,\"value\":0.197262}" },
		{ "id=42&work=1", "{\"id\":42,\"timestamp\":T,\"value\":0.617564}" },
		{ "id=0042&work=17&x=y", "{\"id\":42,\"timestamp\":T,\"value\":0.932943}" },
	};
	struct tl_resp a, b;
	char ct[64], req[128], sa[256], sb[256];
	long long ts;

	start();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(req, sizeof(req), "GET /metric-stack?%s HTTP/1.1\r\nHost: t\r\n\r\n",
			 cases[i].query);
		get(req, &a);
		snprintf(req, sizeof(req), "GET /metric-heap?%s HTTP/1.1\r\nHost: t\r\n\r\n",
			 cases[i].query);
		get(req, &b);
		ck_assert_int_eq(a.status, 200);
		ck_assert_int_eq(b.status, 200);
		ck_assert_str_eq(tl_header(&a, "Content-Type", ct, sizeof(ct)), "application/json");
		ck_assert_str_eq(tl_header(&b, "Content-Type", ct, sizeof(ct)), "application/json");
		ck_assert_ptr_nonnull(tl_header(&a, "Date", ct, sizeof(ct)));
		ck_assert_ptr_nonnull(tl_header(&a, "Server", ct, sizeof(ct)));
		/* Both paths: the same bytes apart from the timestamp, and the
		 * value worked out independently. */
		without_timestamp(&a, sa, sizeof(sa));
		without_timestamp(&b, sb, sizeof(sb));
		ck_assert_str_eq(sa, cases[i].body);
		ck_assert_str_eq(sb, cases[i].body);
		ck_assert_int_eq(sscanf(a.body, "{\"id\":42,\"timestamp\":%lld,", &ts), 1);
		ck_assert(ts > 1600000000000000000LL);
	}
	stop();
}
END_TEST

START_TEST(stats_endpoints)
{
	/* README: built with 10 ms, then a modified copy with 12 ms (value) or
	 * modified in place to 15 ms (pointer). */
	struct tl_resp a, b;
	char sa[256], sb[256];

	start();
	get("GET /stats-value?id=9 HTTP/1.1\r\nHost: t\r\n\r\n", &a);
	get("GET /stats-pointer?id=9 HTTP/1.1\r\nHost: t\r\n\r\n", &b);
	ck_assert_int_eq(a.status, 200);
	ck_assert_int_eq(b.status, 200);
	without_timestamp(&a, sa, sizeof(sa));
	without_timestamp(&b, sb, sizeof(sb));
	ck_assert_str_eq(sa, "{\"id\":9,\"timestamp\":T,\"duration_ns\":12000000,\"status\":200}");
	ck_assert_str_eq(sb, "{\"id\":9,\"timestamp\":T,\"duration_ns\":15000000,\"status\":200}");
	get("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n", &a);
	ck_assert_int_eq(a.status, 200);
	ck_assert_str_eq(a.body, "ok\n");
	stop();
}
END_TEST

/* The live page: built into the binary, cacheable, revalidated with
 * If-None-Match (a 304 without a body), HEAD without a body, / the same. */
START_TEST(dashboard_page)
{
	struct tl_reader rd;
	struct tl_resp r;
	char etag[64], v[64], req[256];
	long len;
	int fd;

	start();
	get("GET /dashboard HTTP/1.1\r\nHost: t\r\n\r\n", &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(tl_header(&r, "Content-Type", v, sizeof(v)), "text/html; charset=utf-8");
	ck_assert_str_eq(tl_header(&r, "Cache-Control", v, sizeof(v)), "no-cache");
	ck_assert_ptr_nonnull(tl_header(&r, "ETag", etag, sizeof(etag)));
	ck_assert_uint_eq(strlen(etag), 10);               /* "8 hex digits" */
	ck_assert(strncmp(r.body, "<!DOCTYPE html>", 15) == 0);
	ck_assert_ptr_nonnull(strstr(r.body, "</html>"));
	ck_assert_uint_eq(strlen(r.body), r.body_len);     /* no NUL sent */
	len = r.content_length;
	get("GET / HTTP/1.1\r\nHost: t\r\n\r\n", &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_int_eq(r.content_length, len);
	ck_assert_str_eq(tl_header(&r, "ETag", v, sizeof(v)), etag);

	/* One connection: HEAD, a matching If-None-Match (304, no body; the
	 * first tag of metricd's form is the one compared), a stale one (the
	 * page), "*", and the answers stay in step. */
	fd = tl_connect(srv.port);
	tl_reader_init(&rd, fd);
	send_str(fd, "HEAD /dashboard HTTP/1.1\r\nHost: t\r\n\r\n");
	ck_assert_int_eq(tl_read_resp(&rd, &r, true, 3000), 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert_int_eq(r.content_length, len);
	snprintf(req, sizeof(req), "GET /dashboard HTTP/1.1\r\nHost: t\r\n"
		 "If-None-Match: W/\"x\", %s\r\n\r\n", etag);
	send_str(fd, req);
	ck_assert_int_eq(tl_read_resp(&rd, &r, false, 3000), 0);
	ck_assert_int_eq(r.status, 304);
	ck_assert_int_eq(r.content_length, -1);
	ck_assert_ptr_null(tl_header(&r, "Content-Type", v, sizeof(v)));
	ck_assert_str_eq(tl_header(&r, "ETag", v, sizeof(v)), etag);
	send_str(fd, "GET / HTTP/1.1\r\nHost: t\r\nIf-None-Match: \"00000000\"\r\n\r\n");
	ck_assert_int_eq(tl_read_resp(&rd, &r, false, 3000), 0);
	ck_assert_str_ne(etag, "\"00000000\"");
	ck_assert_int_eq(r.status, 200);
	ck_assert_int_eq(r.content_length, len);
	send_str(fd, "HEAD / HTTP/1.1\r\nHost: t\r\nIf-None-Match: *\r\n\r\n");
	ck_assert_int_eq(tl_read_resp(&rd, &r, true, 3000), 0);
	ck_assert_int_eq(r.status, 304);
	send_str(fd, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
	ck_assert_int_eq(tl_read_resp(&rd, &r, false, 3000), 0);
	ck_assert_str_eq(r.body, "ok\n");
	close(fd);
	stop();
}
END_TEST

START_TEST(errors_keep_serving)
{
	static const struct { const char *req; int status; const char *body; } cases[] = {
		{ "GET /nope HTTP/1.1\r\nHost: t\r\n\r\n", 404, "{\"error\":\"not found\"}" },
		{ "POST /metric-stack?id=1 HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n", 405, NULL },
		{ "GET /metric-stack HTTP/1.1\r\nHost: t\r\n\r\n", 400, "{\"error\":\"id is required\"}" },
		{ "GET /metric-heap?id=x HTTP/1.1\r\nHost: t\r\n\r\n", 400, NULL },
		{ "GET /metric-heap?id=99999999999999999999 HTTP/1.1\r\nHost: t\r\n\r\n", 400, NULL },
		{ "GET /x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding : chunked\r\n\r\n", 400, NULL },
		{ "GET /x HTTP/1.1\r\nHost: t\r\nA: b\r\n c\r\n\r\n", 400, NULL },
		{ "GET /x HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx", 400, NULL },
		{ "GET /x HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 400, NULL },
		{ "GARBAGE\r\n\r\n", 400, NULL },
	};
	struct tl_resp r;
	char v[64];

	start();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		get(cases[i].req, &r);
		ck_assert_msg(r.status == cases[i].status, "%s: got %d", cases[i].req, r.status);
		if (cases[i].body)
			ck_assert_str_eq(r.body, cases[i].body);
		if (cases[i].status == 405)
			ck_assert_str_eq(tl_header(&r, "Allow", v, sizeof(v)), "GET, HEAD");
		/* The server still serves. */
		get("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n", &r);
		ck_assert_int_eq(r.status, 200);
	}
	stop();
}
END_TEST

START_TEST(malformed_closes)
{
	struct tl_reader rd;
	struct tl_resp r;
	int fd;

	start();
	fd = tl_connect(srv.port);
	tl_reader_init(&rd, fd);
	send_str(fd, "GET / HTTP/1.1\nHost: x\n\n");
	ck_assert_int_eq(tl_read_resp(&rd, &r, false, 3000), 0);
	ck_assert_int_eq(r.status, 400);
	ck_assert(r.conn_close);
	ck_assert(tl_wait_eof(&rd, 3000));
	close(fd);
	stop();
}
END_TEST

START_TEST(header_too_large)
{
	static const char *const args[] = { "--max-header-bytes", "1024", NULL };
	char req[4096];
	struct tl_resp r;
	int n;

	ck_assert_int_eq(tl_server_start(&srv, args, NULL), 0);
	n = snprintf(req, sizeof(req), "GET /healthz HTTP/1.1\r\nHost: t\r\nX-Big: ");
	memset(req + n, 'a', 2000);
	strcpy(req + n + 2000, "\r\n\r\n");
	get(req, &r);
	ck_assert_int_eq(r.status, 431);
	ck_assert(r.conn_close);
	get("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n", &r);
	ck_assert_int_eq(r.status, 200);
	stop();
}
END_TEST

START_TEST(pipelined_in_order)
{
	static const char req[] =
		"GET /metric-stack?id=1 HTTP/1.1\r\nHost: t\r\n\r\n"
		"GET /metric-heap?id=2 HTTP/1.1\r\nHost: t\r\n\r\n"
		"GET /stats-value?id=3 HTTP/1.1\r\nHost: t\r\n\r\n";
	struct tl_reader rd;
	struct tl_resp r;
	int fd;

	start();
	fd = tl_connect(srv.port);
	tl_reader_init(&rd, fd);
	ck_assert_int_eq(tl_send_all(fd, req, sizeof(req) - 1), 0);
	for (int i = 1; i <= 3; i++) {
		char want[32];

		ck_assert_int_eq(tl_read_resp(&rd, &r, false, 3000), 0);
		ck_assert_int_eq(r.status, 200);
		snprintf(want, sizeof(want), "{\"id\":%d,", i);
		ck_assert_msg(strncmp(r.body, want, strlen(want)) == 0, "answer %d: %s", i, r.body);
	}
	close(fd);
	stop();
}
END_TEST

START_TEST(http10_and_head)
{
	struct tl_reader rd;
	struct tl_resp r;
	char v[64];
	int fd;

	start();
	/* HTTP/1.0 without keep-alive: answered, then closed. */
	fd = tl_connect(srv.port);
	tl_reader_init(&rd, fd);
	send_str(fd, "GET /healthz HTTP/1.0\r\n\r\n");
	ck_assert_int_eq(tl_read_resp(&rd, &r, false, 3000), 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert(strncmp(r.head, "HTTP/1.1 200", 12) == 0);
	ck_assert(tl_wait_eof(&rd, 3000));
	close(fd);
	/* HTTP/1.0 with keep-alive: stays open for a second request. */
	fd = tl_connect(srv.port);
	tl_reader_init(&rd, fd);
	send_str(fd, "GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
	ck_assert_int_eq(tl_read_resp(&rd, &r, false, 3000), 0);
	ck_assert_str_eq(tl_header(&r, "Connection", v, sizeof(v)), "keep-alive");
	send_str(fd, "HEAD /metric-heap?id=5 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
	ck_assert_int_eq(tl_read_resp(&rd, &r, true, 3000), 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert(r.content_length > 0);
	/* HEAD has no body: the next answer starts right after the head. */
	send_str(fd, "GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
	ck_assert_int_eq(tl_read_resp(&rd, &r, false, 3000), 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body, "ok\n");
	ck_assert(r.conn_close);
	ck_assert(tl_wait_eof(&rd, 3000));
	close(fd);
	stop();
}
END_TEST

/* ---- 100 connections x 1,000 requests, every answer checked ---- */

#define LOAD_CONNS 100
#define LOAD_REQS 1000

struct load_arg {
	int port;
	int index;
	int ok;
};

static void *load_client(void *p)
{
	struct load_arg *la = p;
	struct tl_reader *rd = malloc(sizeof(*rd));
	struct tl_resp *r = malloc(sizeof(*r));
	int fd = tl_connect(la->port);

	if (fd < 0 || !rd || !r)
		goto out;
	tl_reader_init(rd, fd);
	for (int i = 0; i < LOAD_REQS; i++) {
		char req[128], want[48];
		unsigned id = (unsigned)(la->index * LOAD_REQS + i);
		const char *path = (i & 1) ? "/metric-heap" : "/metric-stack";
		int n = snprintf(req, sizeof(req), "GET %s?id=%u HTTP/1.1\r\nHost: t\r\n\r\n",
				 path, id);

		if (tl_send_all(fd, req, (size_t)n) || tl_read_resp(rd, r, false, 10000))
			break;
		snprintf(want, sizeof(want), "{\"id\":%u,\"timestamp\":", id);
		if (r->status != 200 || strncmp(r->body, want, strlen(want)) != 0)
			break;
		la->ok++;
	}
out:
	if (fd >= 0)
		close(fd);
	free(rd);
	free(r);
	return NULL;
}

START_TEST(hundred_conns_thousand_reqs)
{
	pthread_t th[LOAD_CONNS];
	struct load_arg args[LOAD_CONNS];
	int total = 0;

	start();
	for (int i = 0; i < LOAD_CONNS; i++) {
		args[i] = (struct load_arg){ srv.port, i, 0 };
		ck_assert_int_eq(pthread_create(&th[i], NULL, load_client, &args[i]), 0);
	}
	for (int i = 0; i < LOAD_CONNS; i++) {
		pthread_join(th[i], NULL);
		total += args[i].ok;
	}
	ck_assert_int_eq(total, LOAD_CONNS * LOAD_REQS);
	stop();
}
END_TEST

/* ---- SIGTERM under load: every request already received is answered ---- */

/* Waits until the server's log contains `what` (all of it read so far
 * stays in buf).  The deadline only guards against a hang. */
static bool wait_log(const char *what, char *buf, size_t len, int timeout_ms)
{
	size_t have = strlen(buf);

	for (int waited = 0; waited < timeout_ms; waited += 10) {
		have += tl_server_log(&srv, buf + have, len - have);
		if (strstr(buf, what))
			return true;
		if (have + 1 >= len)
			return false;
		usleep(10000);
	}
	return false;
}

#define DRAIN_CONNS 20
#define DRAIN_REQS 140

START_TEST(sigterm_answers_received)
{
	/* Slow requests (work=) so plenty are queued when SIGTERM lands; with
	 * the default --max-pipeline (64) most still sit unparsed in the
	 * server's read buffers, which the drain must answer too.  A
	 * connection's requests go in one write that fits the server's read
	 * buffer (--max-header-bytes + 4 KiB), so once its first answer came
	 * back the server has read all of them: no sleep decides that. */
	static const char *const args[] = { "--workers", "2", NULL };
	static char req[DRAIN_REQS * 64];
	static char log[8192];
	struct tl_reader *rd = calloc(DRAIN_CONNS, sizeof(*rd));
	int fds[DRAIN_CONNS], answered[DRAIN_CONNS] = { 0 }, total = 0;
	struct tl_resp r;
	size_t len = 0;

	ck_assert_ptr_nonnull(rd);
	ck_assert_int_eq(tl_server_start(&srv, args, NULL), 0);
	for (int i = 0; i < DRAIN_REQS; i++)
		len += (size_t)snprintf(req + len, sizeof(req) - len,
					"GET /metric-heap?id=%d&work=100000 HTTP/1.1\r\nHost: t\r\n\r\n", i);
	ck_assert_int_le(len, 8192);
	for (int c = 0; c < DRAIN_CONNS; c++) {
		fds[c] = tl_connect(srv.port);
		ck_assert_int_ge(fds[c], 0);
		tl_reader_init(&rd[c], fds[c]);
		ck_assert_int_eq(tl_send_all(fds[c], req, len), 0);
	}
	for (int c = 0; c < DRAIN_CONNS; c++) {
		ck_assert_int_eq(tl_read_resp(&rd[c], &r, false, 30000), 0);
		ck_assert_int_eq(r.status, 200);
		answered[c]++;
	}
	log[0] = '\0';
	kill(srv.pid, SIGTERM);
	ck_assert_msg(wait_log("draining", log, sizeof(log), 10000), "log: %s", log);
	/* Every connection still had requests queued: all 20 are drained. */
	ck_assert_msg(strstr(log, "draining 20 connection(s)"), "log: %s", log);
	for (int c = 0; c < DRAIN_CONNS; c++) {
		while (answered[c] < DRAIN_REQS) {
			if (tl_read_resp(&rd[c], &r, false, 30000) || r.status != 200)
				break;
			answered[c]++;
		}
		ck_assert(tl_wait_eof(&rd[c], 30000));
		close(fds[c]);
		total += answered[c];
	}
	free(rd);
	ck_assert_int_eq(total, DRAIN_CONNS * DRAIN_REQS);
	ck_assert_int_eq(tl_server_stop(&srv, SIGTERM, 10000), 0);
}
END_TEST

/* ---- a client that writes while it reads: every answer, in order ---- */

#define SLOW_REQS 20000

struct slow_writer {
	int fd;
	int ok;
};

static void *slow_write(void *p)
{
	struct slow_writer *sw = p;
	char req[96];

	for (int i = 0; i < SLOW_REQS; i++) {
		int n = snprintf(req, sizeof(req), "GET /%s?id=%d HTTP/1.1\r\nHost: t\r\n\r\n",
				 (i % 3) ? "metric-stack" : "metric-heap", i);

		if (tl_send_all(sw->fd, req, (size_t)n))
			return NULL;
	}
	sw->ok = 1;
	return NULL;
}

START_TEST(writer_and_reader_get_everything_in_order)
{
	struct slow_writer sw;
	struct tl_reader *rd = malloc(sizeof(*rd));
	struct tl_resp r;
	pthread_t th;
	int got = 0;

	start();
	sw.fd = tl_connect(srv.port);
	sw.ok = 0;
	ck_assert_int_ge(sw.fd, 0);
	ck_assert_int_eq(pthread_create(&th, NULL, slow_write, &sw), 0);
	tl_reader_init(rd, sw.fd);
	for (int i = 0; i < SLOW_REQS; i++) {
		char want[48];

		if (tl_read_resp(rd, &r, false, 10000) || r.status != 200)
			break;
		snprintf(want, sizeof(want), "{\"id\":%d,", i);
		if (strncmp(r.body, want, strlen(want)) != 0)
			break;
		got++;
	}
	pthread_join(th, NULL);
	ck_assert_int_eq(sw.ok, 1);
	ck_assert_int_eq(got, SLOW_REQS);
	close(sw.fd);
	free(rd);
	stop();
}
END_TEST

/* ---- a client that stops reading: the unsent tail parks and resumes ----
 *
 * The client shrinks its receive buffer and pipelines more answer bytes
 * than the server's socket can hold (twice net.ipv4.tcp_wmem's maximum, so
 * whatever the kernel grants the send buffer): a worker's write must then
 * stop part way and park the rest.  The test waits for that state in
 * /stats (not for a time), then reads everything. */

/* Sum of one per-worker figure of /stats over the workers. */
static long stats_sum(const char *field)
{
	struct tl_resp *st = malloc(sizeof(*st));
	char key[64];
	long sum = 0;

	ck_assert_ptr_nonnull(st);
	get("GET /stats HTTP/1.1\r\nHost: t\r\n\r\n", st);
	ck_assert_int_eq(st->status, 200);
	snprintf(key, sizeof(key), "\"%s\":", field);
	for (const char *at = strstr(st->body, key); at; at = strstr(at + 1, key))
		sum += atol(at + strlen(key));
	free(st);
	return sum;
}

/* Pairs of /metrics (tens of KB each) and /metric-stack?id=i, enough for
 * twice the largest send buffer the kernel allows. */
static int park_pairs(void)
{
	long wmem_max = 4194304;
	FILE *f = fopen("/proc/sys/net/ipv4/tcp_wmem", "r");

	if (f) {
		long lo, def;

		if (fscanf(f, "%ld %ld %ld", &lo, &def, &wmem_max) != 3)
			wmem_max = 4194304;
		fclose(f);
	}
	return (int)(2 * wmem_max / 16384) + 1;     /* /metrics is over 16 KB */
}

static int connect_small_rcvbuf(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)srv.port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), small = 4096;

	ck_assert_int_ge(fd, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)), 0);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

/* Sends the pairs (the last request with `last_extra` headers), waits
 * until a worker holds an unsent tail, then reads every answer in order. */
static void park_then_read(int fd, struct tl_reader *rd, int pairs, const char *last_extra)
{
	struct tl_resp *r = malloc(sizeof(*r));
	long parked = 0, partial = 0;
	char req[160];
	int waited;

	ck_assert_ptr_nonnull(r);
	for (int i = 0; i < pairs; i++) {
		int n = snprintf(req, sizeof(req),
				 "GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n"
				 "GET /metric-stack?id=%d HTTP/1.1\r\nHost: t\r\n%s\r\n", i,
				 i == pairs - 1 ? last_extra : "");

		ck_assert_int_eq(tl_send_all(fd, req, (size_t)n), 0);
	}
	/* Not reading: wait for the parked state; 30 s only guards a hang. */
	for (waited = 0; waited < 30000; waited += 20) {
		parked = stats_sum("connections_with_unsent_bytes");
		partial = stats_sum("partial_writes");
		if (parked > 0 && partial > 0)
			break;
		usleep(20000);
	}
	ck_assert_msg(parked > 0 && partial > 0, "no worker parked an unsent tail "
		      "(%d pairs sent; partial writes %ld)", pairs, partial);
	for (int i = 0; i < pairs; i++) {
		char want[48];

		ck_assert_msg(tl_read_resp(rd, r, false, 30000) == 0, "pair %d: /metrics", i);
		ck_assert_int_eq(r->status, 200);
		ck_assert_uint_eq(r->body_len, (size_t)r->content_length);
		ck_assert_msg(strncmp(r->body, "# HELP ", 7) == 0, "pair %d: %.40s", i, r->body);
		ck_assert_msg(tl_read_resp(rd, r, false, 30000) == 0, "pair %d: /metric-stack", i);
		ck_assert_int_eq(r->status, 200);
		snprintf(want, sizeof(want), "{\"id\":%d,", i);
		ck_assert_msg(strncmp(r->body, want, strlen(want)) == 0, "pair %d: %s", i, r->body);
	}
	free(r);
}

START_TEST(partial_write_parks_and_resumes)
{
	struct tl_reader *rd = malloc(sizeof(*rd));
	struct tl_resp r;
	int fd, pairs = park_pairs();

	ck_assert_ptr_nonnull(rd);
	start();
	fd = connect_small_rcvbuf();
	tl_reader_init(rd, fd);
	park_then_read(fd, rd, pairs, "");
	/* The tail was flushed: the same connection serves new requests.  A
	 * worker publishes its figures after each batch: once the second
	 * answer is here, the first one's batch - the first after the flush -
	 * has published that no connection holds unsent bytes. */
	for (int i = 0; i < 2; i++) {
		send_str(fd, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
		ck_assert_int_eq(tl_read_resp(rd, &r, false, 30000), 0);
		ck_assert_int_eq(r.status, 200);
		ck_assert_str_eq(r.body, "ok\n");
	}
	ck_assert_int_eq(stats_sum("connections_with_unsent_bytes"), 0);
	ck_assert_int_eq(stats_sum("write_errors"), 0);
	close(fd);
	free(rd);
	stop();
}
END_TEST

START_TEST(partial_write_then_close)
{
	/* The last request says Connection: close: every answer, then EOF -
	 * the close waits for the parked tail. */
	struct tl_reader *rd = malloc(sizeof(*rd));
	int fd, pairs = park_pairs();

	ck_assert_ptr_nonnull(rd);
	start();
	fd = connect_small_rcvbuf();
	tl_reader_init(rd, fd);
	park_then_read(fd, rd, pairs, "Connection: close\r\n");
	ck_assert(tl_wait_eof(rd, 30000));
	close(fd);
	ck_assert_int_eq(stats_sum("write_errors"), 0);
	free(rd);
	stop();
}
END_TEST

/* ---- a ring of 4: the acceptor waits for room, nothing is dropped ---- */

#define TINY_CONNS 20
#define TINY_REQS 300

START_TEST(tiny_ring_backpressure)
{
	static const char *const args[] = { "--workers", "1", "--ring-size", "4",
					    "--max-pipeline", "512", NULL };
	static char req[TINY_REQS * 64];
	int fds[TINY_CONNS];
	size_t len = 0;
	int answered = 0;

	ck_assert_int_eq(tl_server_start(&srv, args, NULL), 0);
	for (int i = 0; i < TINY_REQS; i++)
		len += (size_t)snprintf(req + len, sizeof(req) - len,
					"GET /stats-value?id=%d HTTP/1.1\r\nHost: t\r\n\r\n", i);
	for (int c = 0; c < TINY_CONNS; c++) {
		fds[c] = tl_connect(srv.port);
		ck_assert_int_ge(fds[c], 0);
		ck_assert_int_eq(tl_send_all(fds[c], req, len), 0);
	}
	for (int c = 0; c < TINY_CONNS; c++) {
		struct tl_reader *rd = malloc(sizeof(*rd));
		struct tl_resp r;

		tl_reader_init(rd, fds[c]);
		for (int i = 0; i < TINY_REQS; i++) {
			char want[32];

			if (tl_read_resp(rd, &r, false, 10000) || r.status != 200)
				break;
			snprintf(want, sizeof(want), "{\"id\":%d,", i);
			if (strncmp(r.body, want, strlen(want)) != 0)
				break;
			answered++;
		}
		close(fds[c]);
		free(rd);
	}
	ck_assert_int_eq(answered, TINY_CONNS * TINY_REQS);
	/* ... and the ring was in fact full along the way. */
	struct tl_resp st;
	const char *at;

	get("GET /stats HTTP/1.1\r\nHost: t\r\n\r\n", &st);
	at = strstr(st.body, "\"ring_full\":");
	ck_assert_ptr_nonnull(at);
	ck_assert_int_gt(atoi(at + strlen("\"ring_full\":")), 0);
	stop();
}
END_TEST

START_TEST(bad_flags_exit_2)
{
	static const char *const bad[][3] = {
		{ "--ring-size", "1000", NULL },
		{ "--workers", "0", NULL },
		{ "--bogus", NULL, NULL },
		{ "--listen", "nowhere", NULL },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char cmd[512];

		snprintf(cmd, sizeof(cmd), "%s %s %s 2>/dev/null", METRICD_BIN, bad[i][0],
			 bad[i][1] ? bad[i][1] : "");
		int st = system(cmd);

		ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 2, "%s", cmd);
	}
}
END_TEST

static Suite *integration_suite(void)
{
	Suite *s = suite_create("integration");
	TCase *tc = tcase_create("server");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, metric_endpoints);
	tcase_add_test(tc, stats_endpoints);
	tcase_add_test(tc, dashboard_page);
	tcase_add_test(tc, errors_keep_serving);
	tcase_add_test(tc, malformed_closes);
	tcase_add_test(tc, header_too_large);
	tcase_add_test(tc, pipelined_in_order);
	tcase_add_test(tc, http10_and_head);
	tcase_add_test(tc, hundred_conns_thousand_reqs);
	tcase_add_test(tc, sigterm_answers_received);
	tcase_add_test(tc, writer_and_reader_get_everything_in_order);
	tcase_add_test(tc, partial_write_parks_and_resumes);
	tcase_add_test(tc, partial_write_then_close);
	tcase_add_test(tc, tiny_ring_backpressure);
	tcase_add_test(tc, bad_flags_exit_2);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(integration_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
