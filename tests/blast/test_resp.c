/* SPDX-License-Identifier: BSD-2-Clause */
/* Suite for tools/blast/resp.c: the incremental response parser. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/blast/resp.h"

struct seen {
	int n;             /* complete responses */
	unsigned status[16];
	int keepalive[16];
	size_t end[16];    /* stream offset just after each response */
	int error;         /* resp_feed returned -1 */
};

/* Feed `len` bytes in pieces of `chunk` bytes (0: all at once), resetting
 * the parser after each complete response like the engine does. */
static void feed(struct resp_parser *p, int is_head, const char *s, size_t len, size_t chunk,
		 struct seen *out, size_t base)
{
	size_t off = 0;
	while (off < len && !out->error) {
		size_t piece = chunk && len - off > chunk ? chunk : len - off;
		const char *b = s + off;
		size_t left = piece;
		while (left) {
			int done;
			ssize_t used = resp_feed(p, b, left, &done);
			if (used < 0) {
				out->error = 1;
				return;
			}
			ck_assert_uint_le((size_t)used, left);
			b += used;
			left -= (size_t)used;
			if (done) {
				out->status[out->n] = p->status;
				out->keepalive[out->n] = p->keepalive;
				out->end[out->n] = base + off + piece - left;
				out->n++;
				resp_reset(p, is_head);
			} else {
				ck_assert_uint_eq(left, 0); /* not done: took everything */
			}
		}
		off += piece;
	}
}

static struct seen parse(const char *s, size_t chunk, int is_head)
{
	struct resp_parser p;
	struct seen out;
	memset(&out, 0, sizeof out);
	resp_reset(&p, is_head);
	feed(&p, is_head, s, strlen(s), chunk, &out, 0);
	return out;
}

static const char *CL_RESP = "HTTP/1.1 200 OK\r\n"
			     "Server: test\r\n"
			     "Content-Length: 11\r\n"
			     "\r\n"
			     "hello world";

static const char *CHUNKED_RESP = "HTTP/1.1 201 Created\r\n"
				  "Transfer-Encoding: gzip, chunked\r\n"
				  "\r\n"
				  "5;name=value\r\nhello\r\n"
				  "1A\r\nabcdefghijklmnopqrstuvwxyz\r\n"
				  "0\r\n"
				  "X-Trailer: 1\r\n"
				  "\r\n";

START_TEST(test_content_length)
{
	for (size_t chunk = 0; chunk <= 8; chunk++) {
		struct seen s = parse(CL_RESP, chunk, 0);
		ck_assert_int_eq(s.error, 0);
		ck_assert_int_eq(s.n, 1);
		ck_assert_uint_eq(s.status[0], 200);
		ck_assert_int_eq(s.keepalive[0], 1);
		ck_assert_uint_eq(s.end[0], strlen(CL_RESP));
	}
	/* Content-Length: 0 completes right after the headers. */
	struct seen z = parse("HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 200 OK\r\n"
			      "content-length: 0\r\n\r\n", 0, 0);
	ck_assert_int_eq(z.n, 2);
	ck_assert_uint_eq(z.status[0], 204);
	ck_assert_uint_eq(z.status[1], 200);
}
END_TEST

START_TEST(test_chunked_every_split)
{
	size_t len = strlen(CHUNKED_RESP);
	/* Two pieces, split at every byte boundary. */
	for (size_t cut = 0; cut <= len; cut++) {
		struct resp_parser p;
		struct seen s;
		memset(&s, 0, sizeof s);
		resp_reset(&p, 0);
		feed(&p, 0, CHUNKED_RESP, cut, 0, &s, 0);
		ck_assert_int_eq(s.n, cut == len ? 1 : 0);
		feed(&p, 0, CHUNKED_RESP + cut, len - cut, 0, &s, cut);
		ck_assert_msg(!s.error, "split at %zu: error %s", cut, p.error);
		ck_assert_int_eq(s.n, 1);
		ck_assert_uint_eq(s.status[0], 201);
		ck_assert_uint_eq(s.end[0], len);
	}
	/* And one byte at a time (every boundary at once). */
	struct seen s = parse(CHUNKED_RESP, 1, 0);
	ck_assert_int_eq(s.n, 1);
	ck_assert_uint_eq(s.end[0], len);
}
END_TEST

START_TEST(test_head_has_no_body)
{
	/* Content-Length describes the GET body; after HEAD none follows, so
	 * the next response starts right after the blank line. */
	const char *two = "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"
			  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
	struct seen s = parse(two, 0, 1);
	ck_assert_int_eq(s.error, 0);
	ck_assert_int_eq(s.n, 2);
	ck_assert_uint_eq(s.end[1], strlen(two));
}
END_TEST

START_TEST(test_pipelined_in_one_buffer)
{
	char buf[2048];
	snprintf(buf, sizeof buf, "%s%s%s%s", CL_RESP, CHUNKED_RESP,
		 "HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\nnop",
		 "HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n");
	for (size_t chunk = 0; chunk < 40; chunk += 7) {
		struct seen s = parse(buf, chunk, 0);
		ck_assert_int_eq(s.error, 0);
		ck_assert_int_eq(s.n, 4);
		ck_assert_uint_eq(s.status[0], 200);
		ck_assert_uint_eq(s.status[1], 201);
		ck_assert_uint_eq(s.status[2], 404);
		ck_assert_uint_eq(s.status[3], 304);
		ck_assert_uint_eq(s.end[0], strlen(CL_RESP));
		ck_assert_uint_eq(s.end[1], strlen(CL_RESP) + strlen(CHUNKED_RESP));
		ck_assert_uint_eq(s.end[3], strlen(buf));
	}
}
END_TEST

START_TEST(test_keepalive_rules)
{
	struct seen s = parse("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", 0, 0);
	ck_assert_int_eq(s.n, 1);
	ck_assert_int_eq(s.keepalive[0], 0);
	s = parse("HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", 0, 0);
	ck_assert_int_eq(s.n, 1);
	ck_assert_int_eq(s.keepalive[0], 0);
	s = parse("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 2\r\n\r\nok", 0, 0);
	ck_assert_int_eq(s.keepalive[0], 1);
	s = parse("HTTP/1.1 200 OK\r\nConnection: upgrade, CLOSE\r\nContent-Length: 0\r\n\r\n", 0, 0);
	ck_assert_int_eq(s.keepalive[0], 0);
}
END_TEST

START_TEST(test_body_until_close)
{
	struct resp_parser p;
	struct seen s;
	const char *r = "HTTP/1.0 200 OK\r\nServer: x\r\n\r\nbody bytes until the end";
	memset(&s, 0, sizeof s);
	resp_reset(&p, 0);
	feed(&p, 0, r, strlen(r), 5, &s, 0);
	ck_assert_int_eq(s.n, 0);
	ck_assert_int_eq(resp_eof(&p), 1);
	ck_assert_int_eq(p.keepalive, 0);
	ck_assert_uint_eq(p.status, 200);
	/* EOF between responses is fine, inside one it is not. */
	resp_reset(&p, 0);
	ck_assert_int_eq(resp_eof(&p), 0);
	memset(&s, 0, sizeof s);
	feed(&p, 0, CL_RESP, strlen(CL_RESP) - 3, 0, &s, 0);
	ck_assert_int_eq(resp_eof(&p), -1);
}
END_TEST

START_TEST(test_interim_1xx)
{
	struct seen s = parse("HTTP/1.1 100 Continue\r\n\r\n"
			      "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
			      "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx", 3, 0);
	ck_assert_int_eq(s.error, 0);
	ck_assert_int_eq(s.n, 1);
	ck_assert_uint_eq(s.status[0], 200);
}
END_TEST

START_TEST(test_long_lines_split)
{
	/* A 1000-byte header split across reads is longer than the carry
	 * buffer; uninteresting, so it is skipped correctly. */
	char buf[4096];
	char filler[1001];
	memset(filler, 'a', 1000);
	filler[1000] = 0;
	snprintf(buf, sizeof buf, "HTTP/1.1 200 OK\r\nX-Long: %s\r\nContent-Length: 2\r\n\r\nok", filler);
	for (size_t chunk = 1; chunk < 600; chunk += 97) {
		struct seen s = parse(buf, chunk, 0);
		ck_assert_int_eq(s.error, 0);
		ck_assert_int_eq(s.n, 1);
		ck_assert_uint_eq(s.end[0], strlen(buf));
	}
	/* The same length in an interesting header cannot be trusted. */
	snprintf(buf, sizeof buf, "HTTP/1.1 200 OK\r\nConnection: %s\r\n\r\n", filler);
	ck_assert_int_eq(parse(buf, 100, 0).error, 1);
}
END_TEST

START_TEST(test_malformed)
{
	static const char *bad[] = {
		"HTTP/2 200 OK\r\n\r\n",
		"HTTP/1.1 2x0 OK\r\n\r\n",
		"HTTP/1.1 20 OK\r\n\r\n",
		"HTTP/1.1 200OK\r\n\r\n",
		"SMTP ready\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
		"HTTP/1.1 200 OK\r\nNo colon here\r\n\r\n",
		"HTTP/1.1 200 OK\r\nBad : space\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1ffffffffffffffff\r\n",
		"HTTP/1.1 101 Switching Protocols\r\n\r\n",
	};
	for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		for (size_t chunk = 0; chunk < 4; chunk++) {
			struct seen s = parse(bad[i], chunk, 0);
			ck_assert_msg(s.error == 1, "accepted: %s", bad[i]);
		}
	}
	/* An endless header block is cut off at RESP_MAX_HEAD. */
	size_t n = RESP_MAX_HEAD + 100;
	char *big = malloc(n + 1);
	static const char line[] = "X-Filler: hhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhh\r\n";
	memcpy(big, "HTTP/1.1 200 OK\r\n", 17);
	for (size_t i = 17; i < n; i++)
		big[i] = line[(i - 17) % (sizeof line - 1)];
	big[n] = 0;
	ck_assert_int_eq(parse(big, 4096, 0).error, 1);
	free(big);
}
END_TEST

static Suite *resp_suite(void)
{
	Suite *s = suite_create("resp");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_content_length);
	tcase_add_test(tc, test_chunked_every_split);
	tcase_add_test(tc, test_head_has_no_body);
	tcase_add_test(tc, test_pipelined_in_one_buffer);
	tcase_add_test(tc, test_keepalive_rules);
	tcase_add_test(tc, test_body_until_close);
	tcase_add_test(tc, test_interim_1xx);
	tcase_add_test(tc, test_long_lines_split);
	tcase_add_test(tc, test_malformed);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(resp_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
