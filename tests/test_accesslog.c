/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests for workers/accesslog.c: the line, combined and JSON, from a
 * descriptor and its text record (escaping, fields cut to their caps, what
 * is shown when something is not known); workers' lines through per-worker
 * byte rings to the logger thread and its file; a full ring drops and
 * counts; the file is reopened on request; a reader that stops never
 * blocks it. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <http_parser.h>

#include "queue/text.h"
#include "tools/blast/json.h"
#include "workers/accesslog.h"

static char dir[64];

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void mkdir_tmp(void)
{
	snprintf(dir, sizeof(dir), "/tmp/metricd-alog-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static const char *in_dir(const char *name)
{
	static char p[2][128];
	static int k;

	k ^= 1;
	snprintf(p[k], sizeof(p[k]), "%s/%s", dir, name);
	return p[k];
}

/* Line i of a test stream: distinct, and of varying length. */
static size_t line(char *buf, size_t cap, unsigned ring, unsigned i)
{
	return (size_t)snprintf(buf, cap, "ring %u line %u %.*s\n", ring, i,
				(int)(i % 37), "abcdefghijklmnopqrstuvwxyz0123456789");
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	char *p;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	*len = (size_t)ftell(f);
	rewind(f);
	p = malloc(*len + 1);
	ck_assert_uint_eq(fread(p, 1, *len, f), *len);
	p[*len] = '\0';
	fclose(f);
	return p;
}

static off_t size_of(const char *path)
{
	struct stat st;

	return stat(path, &st) ? -1 : st.st_size;
}

/* Waits until path holds at least n bytes (a hang guard, not a timing
 * assertion: the logger writes every 100 ms). */
static bool wait_size(const char *path, off_t n)
{
	long deadline = now_ms() + 20000;

	while (size_of(path) < n) {
		if (now_ms() > deadline)
			return false;
		usleep(5000);
	}
	return true;
}

/* With no logger draining it, a ring takes ALOG_RING_SIZE bytes of lines
 * and then refuses, counting each refused line. */
START_TEST(ring_full_drops_and_counts)
{
	struct alog l;
	char buf[100];
	unsigned fit = ALOG_RING_SIZE / sizeof(buf);

	memset(buf, 'x', sizeof(buf));
	ck_assert_int_eq(alog_init(&l, 2), 0);
	for (unsigned i = 0; i < fit; i++)
		ck_assert_msg(alog_put(&l.rings[0], buf, sizeof(buf)), "line %u", i);
	ck_assert(!alog_put(&l.rings[0], buf, sizeof(buf)));
	ck_assert(!alog_put(&l.rings[0], buf, sizeof(buf)));
	/* What is left is smaller than a line: a short line still fits. */
	ck_assert(alog_put(&l.rings[0], buf, ALOG_RING_SIZE % sizeof(buf)));
	ck_assert(!alog_put(&l.rings[0], buf, 1));
	/* Each ring is its own: the other one is empty. */
	ck_assert(alog_put(&l.rings[1], buf, sizeof(buf)));
	ck_assert_uint_eq(alog_dropped(&l), 3);
	alog_destroy(&l);
}
END_TEST

/* The logger writes every line of every ring, whole and in each ring's
 * order; the rings wrap around several times meanwhile. */
START_TEST(logger_writes_every_line)
{
	struct alog l;
	char buf[128];
	unsigned per_ring = 60000, next[2] = { 0, 0 }, refused = 0;
	size_t len, total = 0;
	long deadline = now_ms() + 60000;

	mkdir_tmp();
	ck_assert_int_eq(alog_init(&l, 2), 0);
	ck_assert_int_eq(alog_open(&l, in_dir("access.log")), 0);
	while (next[0] < per_ring || next[1] < per_ring) {
		for (unsigned r = 0; r < 2; r++) {
			if (next[r] == per_ring)
				continue;
			size_t n = line(buf, sizeof(buf), r, next[r]);

			if (alog_put(&l.rings[r], buf, n)) {
				next[r]++;
				total += n;
			} else {
				refused++;
				ck_assert_msg(now_ms() < deadline, "the logger does not drain");
				usleep(1000);    /* full: the logger catches up */
			}
		}
	}
	/* Every refused put was counted (and retried here). */
	ck_assert_uint_eq(alog_dropped(&l), refused);
	/* Destroying stops the logger after a last drain. */
	alog_destroy(&l);
	char *text = slurp(in_dir("access.log"), &len);

	ck_assert_ptr_nonnull(text);
	ck_assert_uint_eq(len, total);
	/* Checked line by line, asserted once (an assertion per line would
	 * cost more than the logger). */
	unsigned seen[2] = { 0, 0 }, bad = 0;
	for (char *p = text, *e; *p && !bad; p = e + 1) {
		unsigned r, i;

		e = strchr(p, '\n');
		if (e)
			*e = '\0';       /* sscanf would scan the whole rest */
		if (!e || sscanf(p, "ring %u line %u ", &r, &i) != 2 || r > 1 || i != seen[r] ||
		    memcmp(p, buf, line(buf, sizeof(buf), r, i) - 1) != 0 ||
		    p + line(buf, sizeof(buf), r, i) != e + 1) {
			bad = 1;
			ck_abort_msg("line %u/%u of the file: '%.60s'", seen[0], seen[1], p);
		}
		seen[r]++;
	}
	ck_assert_uint_eq(seen[0], per_ring);
	ck_assert_uint_eq(seen[1], per_ring);
	free(text);
}
END_TEST

/* A new path: lines go there once the logger has opened it (logrotate
 * moves the old file and asks for a reopen). */
START_TEST(reopen_switches_files)
{
	struct alog l;
	const char *a, *b;
	char buf[128];
	size_t n, la, lb;

	mkdir_tmp();
	a = in_dir("a.log");
	b = in_dir("b.log");
	ck_assert_int_eq(alog_init(&l, 1), 0);
	ck_assert_int_eq(alog_open(&l, a), 0);
	n = line(buf, sizeof(buf), 0, 1);
	ck_assert(alog_put(&l.rings[0], buf, n));
	ck_assert(wait_size(a, (off_t)n));
	ck_assert_int_eq(alog_open(&l, b), 0);
	/* The logger creates b when it switches; lines after that go to b. */
	ck_assert(wait_size(b, 0));
	n = line(buf, sizeof(buf), 0, 2);
	ck_assert(alog_put(&l.rings[0], buf, n));
	alog_destroy(&l);
	char *ta = slurp(a, &la), *tb = slurp(b, &lb);

	ck_assert_str_eq(ta, "ring 0 line 1 a\n");
	ck_assert_str_eq(tb, "ring 0 line 2 ab\n");
	free(ta);
	free(tb);
}
END_TEST

/* A path that cannot be opened on reopen: an error is logged and lines
 * keep going to the old file. */
START_TEST(reopen_failure_keeps_the_old_file)
{
	struct alog l;
	const char *a;
	char buf[128], errbuf[1024] = "";
	size_t n, la;
	int saved = dup(STDERR_FILENO), pfd[2];

	mkdir_tmp();
	a = in_dir("a.log");
	ck_assert_int_eq(pipe2(pfd, O_NONBLOCK), 0);
	ck_assert_int_eq(alog_init(&l, 1), 0);
	ck_assert_int_eq(alog_open(&l, a), 0);
	dup2(pfd[1], STDERR_FILENO);
	ck_assert_int_eq(alog_open(&l, "/nonexistent/dir/access.log"), 0);
	/* The logger tries on its next turn and says so. */
	long deadline = now_ms() + 20000;
	size_t got = 0;

	while (!strstr(errbuf, "keeping the old file") && now_ms() < deadline) {
		ssize_t r = read(pfd[0], errbuf + got, sizeof(errbuf) - 1 - got);

		if (r > 0) {
			got += (size_t)r;
			errbuf[got] = '\0';
		} else {
			usleep(5000);
		}
	}
	dup2(saved, STDERR_FILENO);
	close(saved);
	ck_assert_msg(strstr(errbuf, "access log: cannot open '/nonexistent/dir/access.log': "
			     "No such file or directory; keeping the old file"), "%s", errbuf);
	n = line(buf, sizeof(buf), 0, 3);
	ck_assert(alog_put(&l.rings[0], buf, n));
	alog_destroy(&l);
	char *ta = slurp(a, &la);

	ck_assert_str_eq(ta, "ring 0 line 3 abc\n");
	free(ta);
	close(pfd[0]);
	close(pfd[1]);
}
END_TEST

START_TEST(first_open_failure_is_an_error)
{
	struct alog l;

	ck_assert_int_eq(alog_init(&l, 1), 0);
	ck_assert_int_eq(alog_open(&l, "/nonexistent/dir/access.log"), -ENOENT);
	ck_assert(!l.started);
	alog_destroy(&l);
}
END_TEST

/* A FIFO whose reader never reads: the logger fills the pipe, then the
 * ring, then lines are dropped and counted; nothing blocks, destroy
 * returns, and what the reader can read is the start of the stream. */
START_TEST(fifo_reader_stops)
{
	struct alog l;
	const char *fifo;
	char buf[128];
	size_t sent = 0, cap = 8u << 20;
	char *stream = malloc(cap);
	unsigned i = 0;
	int rfd;

	mkdir_tmp();
	fifo = in_dir("fifo");
	ck_assert_int_eq(mkfifo(fifo, 0600), 0);
	rfd = open(fifo, O_RDONLY | O_NONBLOCK);
	ck_assert_int_ge(rfd, 0);
	ck_assert_int_eq(alog_init(&l, 1), 0);
	ck_assert_int_eq(alog_open(&l, fifo), 0);
	/* More than the pipe and the ring hold together. */
	while (alog_dropped(&l) == 0) {
		size_t n = line(buf, sizeof(buf), 0, i);

		ck_assert_uint_lt(sent + n, cap);
		if (alog_put(&l.rings[0], buf, n)) {
			memcpy(stream + sent, buf, n);
			sent += n;
			i++;
		}
	}
	ck_assert_uint_ge(sent, ALOG_RING_SIZE - sizeof(buf));
	alog_destroy(&l);
	/* The reader gets a prefix of the stream (maybe a partial line). */
	size_t got = 0;
	ssize_t r;

	while ((r = read(rfd, buf, sizeof(buf))) > 0) {
		ck_assert_uint_le(got + (size_t)r, sent);
		ck_assert(memcmp(stream + got, buf, (size_t)r) == 0);
		got += (size_t)r;
	}
	ck_assert_uint_gt(got, 0);
	ck_assert_uint_lt(got, sent);
	close(rfd);
	free(stream);
}
END_TEST

/* A file that takes nothing (disk full): lines are lost, the logger
 * keeps going and the ring empties. */
START_TEST(write_errors_lose_lines)
{
	struct alog l;
	char buf[128];
	long deadline = now_ms() + 20000;

	if (access("/dev/full", W_OK) != 0)
		return;
	ck_assert_int_eq(alog_init(&l, 1), 0);
	ck_assert_int_eq(alog_open(&l, "/dev/full"), 0);
	for (unsigned i = 0; i < 1000; i++) {
		size_t n = line(buf, sizeof(buf), 0, i);

		ck_assert(alog_put(&l.rings[0], buf, n));
	}
	while (__atomic_load_n(&l.rings[0].head, __ATOMIC_ACQUIRE) !=
	       __atomic_load_n(&l.rings[0].tail, __ATOMIC_ACQUIRE)) {
		ck_assert_msg(now_ms() < deadline, "the ring does not empty");
		usleep(5000);
	}
	ck_assert_uint_eq(alog_dropped(&l), 0);
	alog_destroy(&l);
	ck_assert_uint_eq(l.written, 0);
}
END_TEST

/* "-": the process's stderr. */
START_TEST(dash_is_stderr)
{
	struct alog l;
	char buf[128], in[256] = "";
	int saved = dup(STDERR_FILENO), pfd[2];
	size_t n;

	ck_assert_int_eq(pipe(pfd), 0);
	dup2(pfd[1], STDERR_FILENO);
	ck_assert_int_eq(alog_init(&l, 1), 0);
	ck_assert_int_eq(alog_open(&l, "-"), 0);
	n = line(buf, sizeof(buf), 0, 4);
	ck_assert(alog_put(&l.rings[0], buf, n));
	alog_destroy(&l);
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(pfd[1]);
	ck_assert_int_eq(read(pfd[0], in, sizeof(in) - 1), (ssize_t)n);
	ck_assert_str_eq(in, "ring 0 line 4 abcd\n");
	close(pfd[0]);
}
END_TEST

/* ---- the line ------------------------------------------------------------ */

#define WHEN 1796183161      /* 02/Dec/2026:03:46:01 UTC */

/* A text record of the three fields, through the text ring as the
 * acceptor writes it and a worker reads it. */
struct rec {
	char bytes[QUEUE_TEXT_MAX];
	uint16_t len;
};

static void rec_of(struct rec *r, const char *target, size_t tn, const char *referer,
		   size_t rn, const char *ua, size_t un)
{
	static struct queue_text t;
	static char buf[8192];
	struct http_span span[HTTP_LOG_FIELDS] = {
		{ 0, (uint32_t)tn }, { 4096, (uint32_t)rn }, { 6144, (uint32_t)un },
	};

	ck_assert(tn <= 4096 && rn <= 2048 && un <= 2048);
	if (tn)                           /* a field may be NULL, 0 bytes */
		memcpy(buf, target, tn);
	if (rn)
		memcpy(buf + 4096, referer, rn);
	if (un)
		memcpy(buf + 6144, ua, un);
	ck_assert_int_eq(queue_text_init(&t), 0);
	r->len = queue_text_put(&t, buf, span);
	ck_assert_uint_gt(r->len, 0);
	queue_text_take(&t, r->bytes, r->len);
	queue_text_destroy(&t);
}

#define S(lit) lit, sizeof(lit) - 1

static struct sockaddr_in6 peer4(void)
{
	struct sockaddr_in6 p;
	struct sockaddr_in *sin = (struct sockaddr_in *)&p;

	memset(&p, 0, sizeof(p));
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(0x7f000001);
	return p;
}

static const char *line_of(enum alog_format fmt, const struct alog_entry *e)
{
	static char line[ALOG_LINE_MAX + 1];
	char date[32];
	size_t n;

	alog_date(date, WHEN, fmt);
	n = alog_format_line(line, fmt, date, e);
	ck_assert_uint_le(n, ALOG_LINE_MAX);
	ck_assert_int_eq(line[n - 1], '\n');
	line[n] = '\0';
	return line;
}

/* Apache's and nginx's combined format, then the request time: the real
 * method, the target as sent, the protocol; '"', '\\', control bytes and
 * bytes from 0x7f up escaped as nginx does. */
START_TEST(combined_line)
{
	struct sockaddr_in6 p = peer4();
	struct http_req req = { .kind = REQ_HTTP, .method = HTTP_GET + 1 };
	struct rec r;

	rec_of(&r, S("/x?a=1&b=\"2\""), S("http://r/"), S("c\"u\\l\t\xe9\x7f/1"));
	struct alog_entry e = { &p, &req, r.bytes, r.len, 200, 123, 107000 };

	ck_assert_str_eq(line_of(ALOG_COMBINED, &e),
			 "127.0.0.1 - - [02/Dec/2026:03:46:01 +0000] "
			 "\"GET /x?a=1&b=\\x222\\x22 HTTP/1.1\" 200 123 \"http://r/\" "
			 "\"c\\x22u\\x5Cl\\x09\\xE9\\x7F/1\" 0.000107\n");
	/* No text came (the text ring was full): the descriptor's part only. */
	req.method = HTTP_DELETE + 1;
	req.flags = REQF_HTTP10;
	req.err = HERR_METHOD;
	e = (struct alog_entry){ &p, &req, NULL, 0, 405, 30, 1500000000 };
	ck_assert_str_eq(line_of(ALOG_COMBINED, &e),
			 "127.0.0.1 - - [02/Dec/2026:03:46:01 +0000] "
			 "\"DELETE - HTTP/1.0\" 405 30 \"-\" \"-\" 1.500000\n");
	/* A version it does not speak: the protocol is not known. */
	req = (struct http_req){ .kind = REQ_HTTP, .method = HTTP_GET + 1,
				 .err = HERR_VERSION, .flags = REQF_CLOSE };
	rec_of(&r, S("/"), NULL, 0, NULL, 0);
	e = (struct alog_entry){ &p, &req, r.bytes, r.len, 505, 38, 999 };
	ck_assert_str_eq(line_of(ALOG_COMBINED, &e),
			 "127.0.0.1 - - [02/Dec/2026:03:46:01 +0000] "
			 "\"GET / -\" 505 38 \"-\" \"-\" 0.000000\n");
	/* No request line at all: "-", as Apache writes it. */
	req = (struct http_req){ .kind = REQ_HTTP, .err = HERR_BAD_REQUEST };
	e = (struct alog_entry){ &p, &req, NULL, 0, 400, 29, 42000 };
	ck_assert_str_eq(line_of(ALOG_COMBINED, &e),
			 "127.0.0.1 - - [02/Dec/2026:03:46:01 +0000] "
			 "\"-\" 400 29 \"-\" \"-\" 0.000042\n");
}
END_TEST

/* One JSON object per line: strings JSON-escaped, well-formed UTF-8 as it
 * is, any other byte as \u00XX so the line stays JSON; null for what is
 * not known. */
START_TEST(json_line)
{
	struct sockaddr_in6 p;
	struct http_req req = { .kind = REQ_HTTP, .method = HTTP_HEAD + 1,
				.flags = REQF_HEAD };
	struct rec r;
	char err[128];

	memset(&p, 0, sizeof(p));
	p.sin6_family = AF_INET6;
	p.sin6_addr.s6_addr[15] = 1;
	/* ü (2 bytes), 😀 (4), then: a lone 0xE9, a control byte, an overlong
	 * '/', a surrogate, a sequence cut short at the end. */
	rec_of(&r, S("/x?a=\"1\"\\"), NULL, 0,
	       S("\xc3\xbc \xf0\x9f\x98\x80 \xe9\x01 \xc0\xaf \xed\xa0\x80 \xe2\x82"));
	struct alog_entry e = { &p, &req, r.bytes, r.len, 200, 0, 2000107000 };
	const char *line = line_of(ALOG_JSON, &e);

	ck_assert_str_eq(line,
			 "{\"time\":\"2026-12-02T03:46:01+00:00\",\"remote_addr\":\"::1\","
			 "\"method\":\"HEAD\",\"target\":\"/x?a=\\\"1\\\"\\\\\","
			 "\"protocol\":\"HTTP/1.1\",\"status\":200,\"body_bytes\":0,"
			 "\"referer\":null,\"user_agent\":\"\xc3\xbc \xf0\x9f\x98\x80 "
			 "\\u00E9\\u0001 \\u00C0\\u00AF \\u00ED\\u00A0\\u0080 "
			 "\\u00E2\\u0082\",\"request_time\":2.000107}\n");
	struct json *j = json_parse(line, strlen(line) - 1, err, sizeof(err));

	ck_assert_msg(j, "%s", err);
	ck_assert_str_eq(json_get_str(j, "target", ""), "/x?a=\"1\"\\");
	ck_assert_uint_eq(json_get(j, "referer")->type, JSON_NULL);
	ck_assert(json_get_num(j, "request_time", 0) == 2.000107);
	json_free(j);
	/* Nothing known of the request line, and no text. */
	req = (struct http_req){ .kind = REQ_HTTP, .err = HERR_BAD_REQUEST };
	e = (struct alog_entry){ &p, &req, NULL, 0, 400, 29, 42000 };
	ck_assert_str_eq(line_of(ALOG_JSON, &e),
			 "{\"time\":\"2026-12-02T03:46:01+00:00\",\"remote_addr\":\"::1\","
			 "\"method\":null,\"target\":null,\"protocol\":null,\"status\":400,"
			 "\"body_bytes\":29,\"referer\":null,\"user_agent\":null,"
			 "\"request_time\":0.000042}\n");
}
END_TEST

/* Fields over their caps reach the line cut and marked; the longest line
 * (every byte of every field escaped) fits ALOG_LINE_MAX whole. */
START_TEST(long_fields_and_the_longest_line)
{
	static char target[2000], referer[400], ua[700], want[2000];
	struct sockaddr_in6 p = peer4();
	struct http_req req = { .kind = REQ_HTTP, .method = HTTP_GET + 1 };
	struct rec r;

	memset(target, 'a', sizeof(target));
	target[0] = '/';
	memset(referer, 'r', sizeof(referer));
	memset(ua, 'u', sizeof(ua));
	rec_of(&r, target, sizeof(target), referer, sizeof(referer), ua, sizeof(ua));
	struct alog_entry e = { &p, &req, r.bytes, r.len, 200, 1, 1000 };
	const char *line = line_of(ALOG_COMBINED, &e);

	snprintf(want, sizeof(want), "\"GET %.*s... HTTP/1.1\" 200 1 \"%.*s...\" \"%.*s...\" ",
		 HTTP_LOG_TARGET_MAX - 3, target, HTTP_LOG_REFERER_MAX - 3, referer,
		 HTTP_LOG_UA_MAX - 3, ua);
	ck_assert_msg(strstr(line, want), "%s", line);
	/* Every byte escaped: 4 bytes each in combined, 6 in JSON. */
	memset(target, 0x01, sizeof(target));
	memset(referer, 0xff, sizeof(referer));
	memset(ua, '"', sizeof(ua));
	rec_of(&r, target, sizeof(target), referer, sizeof(referer), ua, sizeof(ua));
	e.text = r.bytes;
	e.text_len = r.len;
	line = line_of(ALOG_COMBINED, &e);
	static const char end_c[] = "...\" 0.000001\n", end_j[] = "...\",\"request_time\":0.000001}\n";
	size_t n = strlen(line), escaped = HTTP_LOG_TARGET_MAX - 3 + HTTP_LOG_REFERER_MAX - 3 +
					   HTTP_LOG_UA_MAX - 3;

	ck_assert_uint_gt(n, 4 * escaped);
	ck_assert_str_eq(line + n - (sizeof(end_c) - 1), end_c);
	line = line_of(ALOG_JSON, &e);
	n = strlen(line);
	ck_assert_uint_gt(n, 6 * (escaped - (HTTP_LOG_UA_MAX - 3)) + 2 * (HTTP_LOG_UA_MAX - 3));
	ck_assert_str_eq(line + n - (sizeof(end_j) - 1), end_j);
	struct json *j = json_parse(line, strlen(line) - 1, NULL, 0);

	ck_assert_ptr_nonnull(j);
	ck_assert_uint_eq(strlen(json_get_str(j, "target", "")), HTTP_LOG_TARGET_MAX);
	ck_assert_uint_eq(strlen(json_get_str(j, "user_agent", "")), HTTP_LOG_UA_MAX);
	json_free(j);
}
END_TEST

static Suite *accesslog_suite(void)
{
	Suite *s = suite_create("accesslog");
	TCase *tc = tcase_create("accesslog");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, ring_full_drops_and_counts);
	tcase_add_test(tc, logger_writes_every_line);
	tcase_add_test(tc, reopen_switches_files);
	tcase_add_test(tc, reopen_failure_keeps_the_old_file);
	tcase_add_test(tc, first_open_failure_is_an_error);
	tcase_add_test(tc, fifo_reader_stops);
	tcase_add_test(tc, write_errors_lose_lines);
	tcase_add_test(tc, dash_is_stderr);
	suite_add_tcase(s, tc);

	TCase *ln = tcase_create("line");
	tcase_add_test(ln, combined_line);
	tcase_add_test(ln, json_line);
	tcase_add_test(ln, long_fields_and_the_longest_line);
	suite_add_tcase(s, ln);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(accesslog_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
