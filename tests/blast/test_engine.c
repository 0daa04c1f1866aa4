/* SPDX-License-Identifier: BSD-2-Clause */
/* Suite for tools/blast/engine.c and conn.c, end to end against the
 * stall server: exact counts, pipelining, status codes, servers that
 * close, speak HTTP/1.0, drop us or never answer, and nobody listening. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/blast/stallserver.h"
#include "tests/blast/testutil.h"
#include "tools/blast/loop.h"

static struct stallserver *srv;

static struct run_result *run(const struct stall_opts *o, const char *const *args)
{
	srv = stall_start(o);
	ck_assert_ptr_nonnull(srv);
	struct run_result *r = run_blast(o->ipv6 ? "http://[::1]:%d/t?x=1" : "http://127.0.0.1:%d/t",
					 stall_port(srv), args);
	stall_stop(srv);
	ck_assert_ptr_nonnull(r);
	return r;
}

static void done(struct run_result *r)
{
	stall_free(srv);
	free(r);
}

/* Every request is accounted for exactly once. */
static void assert_balanced(const struct run_result *r)
{
	ck_assert_uint_eq(r->st.issued,
			  r->st.responses + stats_request_errors(&r->st) + r->st.unfinished);
}

START_TEST(test_exact_request_count)
{
	struct stall_opts o = {0};
	const char *args[] = {"-t2", "-c8", "-n", "1001", NULL};
	struct run_result *r = run(&o, args);
	ck_assert_uint_eq(stall_requests(srv), 1001);
	ck_assert_uint_eq(r->st.issued, 1001);
	ck_assert_uint_eq(r->st.responses, 1001);
	ck_assert_uint_eq(r->st.status[200], 1001);
	ck_assert_uint_eq(r->st.lat.total, 1001);
	ck_assert_uint_eq(stats_errors_total(&r->st), 0);
	ck_assert_uint_eq(r->st.unfinished, 0);
	ck_assert_uint_eq(r->st.connects, 8);
	ck_assert_uint_eq(stall_connections(srv), 8);
	done(r);
}
END_TEST

START_TEST(test_pipelining_counts_every_response)
{
	struct stall_opts o = {.chunked = 1, .body_len = 300};
	const char *args[] = {"-t2", "-c4", "--pipeline", "16", "-n", "5003", NULL};
	struct run_result *r = run(&o, args);
	ck_assert_uint_eq(stall_requests(srv), 5003);
	ck_assert_uint_eq(r->st.responses, 5003);
	ck_assert_uint_eq(r->st.status[200], 5003);
	ck_assert_uint_eq(stats_errors_total(&r->st), 0);
	ck_assert_uint_eq(r->st.connects, 4);
	done(r);
}
END_TEST

START_TEST(test_status_404_counted)
{
	struct stall_opts o = {.status = 404};
	const char *args[] = {"-t1", "-c2", "-n", "300", NULL};
	struct run_result *r = run(&o, args);
	ck_assert_uint_eq(r->st.status[404], 300);
	ck_assert_uint_eq(r->st.status[200], 0);
	ck_assert_uint_eq(r->st.responses, 300);
	ck_assert_uint_eq(stats_errors_total(&r->st), 0);
	done(r);
}
END_TEST

START_TEST(test_head_requests)
{
	struct stall_opts o = {.body_len = 5000};
	const char *args[] = {"-t1", "-c2", "--pipeline", "4", "--method", "HEAD", "-n", "200", NULL};
	struct run_result *r = run(&o, args);
	ck_assert_uint_eq(r->st.responses, 200);
	ck_assert_uint_eq(stats_errors_total(&r->st), 0);
	done(r);
}
END_TEST

START_TEST(test_post_body)
{
	struct stall_opts o = {0};
	const char *args[] = {"-t1", "-c2", "--pipeline", "3", "--method", "POST", "--body",
			      "{\"id\":1,\"value\":2}", "-H", "Content-Type: application/json",
			      "-n", "150", NULL};
	struct run_result *r = run(&o, args);
	ck_assert_uint_eq(stall_requests(srv), 150);
	ck_assert_uint_eq(r->st.responses, 150);
	done(r);
}
END_TEST

START_TEST(test_ipv6)
{
	struct stall_opts o = {.ipv6 = 1};
	const char *args[] = {"-t1", "-c2", "-n", "100", NULL};
	struct run_result *r = run(&o, args);
	ck_assert_uint_eq(r->st.responses, 100);
	ck_assert_uint_eq(stall_requests(srv), 100);
	done(r);
}
END_TEST

/* Connection: close after every response: one request per connection,
 * reconnects, no errors. */
START_TEST(test_connection_close)
{
	struct stall_opts o = {.mode = STALL_CLOSE};
	const char *args[] = {"-t1", "-c4", "-n", "200", NULL};
	struct run_result *r = run(&o, args);
	ck_assert_uint_eq(r->st.responses, 200);
	ck_assert_uint_eq(stall_requests(srv), 200);
	ck_assert_uint_eq(stats_errors_total(&r->st), 0);
	ck_assert_uint_ge(r->st.reconnects, 196);
	ck_assert_uint_eq(stall_connections(srv), r->st.connects);
	done(r);
}
END_TEST

/* Pipelining into Connection: close: the server answers one request per
 * connection; the rest are re-sent on the next connection, not lost. */
START_TEST(test_pipelining_into_close)
{
	struct stall_opts o = {.mode = STALL_CLOSE};
	const char *args[] = {"-t1", "-c2", "--pipeline", "8", "-n", "100", NULL};
	struct run_result *r = run(&o, args);
	ck_assert_uint_eq(r->st.responses, 100);
	ck_assert_uint_eq(stall_requests(srv), 100);
	ck_assert_uint_eq(stats_errors_total(&r->st), 0);
	ck_assert_uint_gt(r->st.retried, 0);
	done(r);
}
END_TEST

START_TEST(test_http10_with_length)
{
	struct stall_opts o = {.mode = STALL_HTTP10};
	const char *args[] = {"-t1", "-c2", "-n", "100", NULL};
	struct run_result *r = run(&o, args);
	ck_assert_uint_eq(r->st.responses, 100);
	ck_assert_uint_eq(stats_errors_total(&r->st), 0);
	done(r);
}
END_TEST

START_TEST(test_http10_body_until_close)
{
	struct stall_opts o = {.mode = STALL_HTTP10_EOF, .body_len = 2000};
	const char *args[] = {"-t1", "-c2", "-n", "100", "--timeout", "2s", NULL};
	struct run_result *r = run(&o, args);
	ck_assert_uint_eq(r->st.responses, 100);
	ck_assert_uint_eq(r->st.bytes_in > 100 * 2000, 1);
	ck_assert_uint_eq(stats_errors_total(&r->st), 0);
	done(r);
}
END_TEST

/* A server that reads the request and hangs up: every request is lost
 * once, as an error, and the run still ends after exactly -n. */
START_TEST(test_server_drops)
{
	struct stall_opts o = {.mode = STALL_DROP};
	const char *args[] = {"-t1", "-c2", "-n", "10", NULL};
	struct run_result *r = run(&o, args);
	ck_assert_uint_eq(r->st.responses, 0);
	ck_assert_uint_eq(r->st.issued, 10);
	ck_assert_uint_eq(stats_request_errors(&r->st), 10);
	ck_assert_uint_gt(r->st.errors[ERR_CLOSED][0], 0);
	ck_assert_uint_eq(stall_requests(srv), 10);
	assert_balanced(r);
	done(r);
}
END_TEST

/* Reconnects after connections that served nothing back off (no busy
 * loop against a server that refuses or drops us); the schedule itself,
 * not a count of attempts in some time window. */
START_TEST(test_reconnect_backoff)
{
	ck_assert_uint_eq(conn_backoff_ns(0), 0);
	ck_assert_uint_eq(conn_backoff_ns(1), 1000000);
	ck_assert_uint_eq(conn_backoff_ns(2), 2000000);
	ck_assert_uint_eq(conn_backoff_ns(8), 128000000);
	ck_assert_uint_eq(conn_backoff_ns(9), 250000000);
	ck_assert_uint_eq(conn_backoff_ns(16), 250000000);
	ck_assert_uint_eq(conn_backoff_ns(60000), 250000000);
}
END_TEST

/* A server that never answers: each of the 4 requests (2 connections x
 * pipeline 2) times out once, and the run ends when all have. */
START_TEST(test_timeouts)
{
	struct stall_opts o = {.mode = STALL_SILENT};
	const char *args[] = {"-t1", "-c2", "--pipeline", "2", "-n", "4", "--timeout", "200ms",
			      NULL};
	struct run_result *r = run(&o, args);
	ck_assert_uint_eq(r->st.responses, 0);
	ck_assert_uint_eq(r->st.issued, 4);
	ck_assert_uint_eq(r->st.errors[ERR_TIMEOUT][0], 4);
	ck_assert_uint_eq(stats_errors_total(&r->st), 4);
	ck_assert_uint_eq(stall_requests(srv), 4);
	assert_balanced(r);
	done(r);
}
END_TEST

START_TEST(test_nobody_listening)
{
	int port = unused_port();
	ck_assert_int_gt(port, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	ck_assert_int_eq(probe_connect((struct sockaddr *)&a, sizeof a, 1000000000), ECONNREFUSED);
	const char *args[] = {"-t1", "-c3", "-d", "300ms", NULL};
	struct run_result *r = run_blast("http://127.0.0.1:%d/", port, args);
	ck_assert_ptr_nonnull(r);
	uint64_t refused = r->st.errors[ERR_CONNECT][ECONNREFUSED];
	ck_assert_uint_ge(refused, 3); /* each connection tried at least once */
	ck_assert_uint_eq(refused, stats_errors_total(&r->st));
	ck_assert_uint_eq(r->st.responses, 0);
	ck_assert_uint_eq(r->st.issued, 0);
	free(r);
}
END_TEST

/* -n without -d against a dead server ends after --timeout, not never.
 * The only guard against a hang is the test case's 30 s limit, 100 times
 * the 300 ms --timeout. */
START_TEST(test_gives_up_without_server)
{
	int port = unused_port();
	const char *args[] = {"-t1", "-c2", "-n", "10", "--timeout", "300ms", NULL};
	struct run_result *r = run_blast("http://127.0.0.1:%d/", port, args);
	ck_assert_ptr_nonnull(r);
	ck_assert_uint_eq(r->st.gave_up, 1);
	ck_assert_uint_eq(r->st.issued, 0);
	ck_assert_uint_gt(r->st.errors[ERR_CONNECT][ECONNREFUSED], 0);
	free(r);
}
END_TEST

/* A timed run reports exactly its window as elapsed, however late the
 * threads noticed the end (rates are computed over it), and accounts
 * for every request. */
START_TEST(test_duration_and_balance)
{
	struct stall_opts o = {0};
	const char *args[] = {"-t2", "-c4", "--pipeline", "4", "-d", "500ms", "--warmup", "100ms",
			      NULL};
	struct run_result *r = run(&o, args);
	ck_assert_uint_eq(r->elapsed_ns, 500000000);
	ck_assert_uint_gt(r->st.responses, 0);
	ck_assert_uint_eq(stats_errors_total(&r->st), 0);
	assert_balanced(r);
	done(r);
}
END_TEST

/* Open loop with --warmup: requests intended before the window opens are
 * sent and answered but not counted; -n counts the measured ones. */
START_TEST(test_warmup_discarded)
{
	struct stall_opts o = {0};
	const char *args[] = {"-t1", "-c2", "-R", "1000", "--warmup", "300ms", "-n", "300", NULL};
	struct run_result *r = run(&o, args);
	ck_assert_uint_eq(r->st.issued, 300);
	ck_assert_uint_eq(r->st.responses, 300);
	ck_assert_uint_eq(r->st.lat.total, 300);
	ck_assert_uint_eq(r->st.lat_raw.total, 300);
	/* request 0 is intended at the start, inside the warmup */
	ck_assert_uint_gt(stall_requests(srv), 300);
	done(r);
}
END_TEST

/* Regression: a -d run of whole seconds ended on a boundary and printed
 * an extra, empty second (a phantom progress line and CSV row). */
START_TEST(test_series_has_no_phantom_second)
{
	struct stall_opts o = {0};
	char *text = NULL;
	size_t len = 0;
	FILE *csv = open_memstream(&text, &len);
	struct series ser;
	ck_assert_int_eq(series_init(&ser, 2, csv, "u"), 0);
	srv = stall_start(&o);
	ck_assert_ptr_nonnull(srv);
	const char *args[] = {"-t2", "-c2", "-d", "1s", NULL};
	struct run_result *r = run_blast_series("http://127.0.0.1:%d/", stall_port(srv), args, &ser);
	stall_stop(srv);
	ck_assert_ptr_nonnull(r);
	series_destroy(&ser);
	fclose(csv);
	unsigned rows = 0;
	for (size_t i = 0; i < len; i++)
		rows += text[i] == '\n';
	ck_assert_msg(rows == 1, "%u CSV rows for a 1 s run: %s", rows, text);
	unsigned long long sec, req;
	ck_assert_int_eq(sscanf(text, "u,%llu,%llu,", &sec, &req), 2);
	ck_assert_uint_eq(sec, 1);
	ck_assert_uint_eq(req, r->st.responses);
	free(text);
	done(r);
}
END_TEST

/* -n counts measured requests: those sent during --warmup come on top. */
START_TEST(test_count_after_warmup)
{
	struct stall_opts o = {0};
	const char *args[] = {"-t1", "-c2", "-n", "300", "--warmup", "200ms", NULL};
	struct run_result *r = run(&o, args);
	ck_assert_uint_eq(r->st.issued, 300);
	ck_assert_uint_eq(r->st.responses, 300);
	ck_assert_uint_eq(r->st.lat.total, 300);
	ck_assert_uint_gt(stall_requests(srv), 300 + 10);
	done(r);
}
END_TEST

/* --ids in turn: thread blocks tile the range, so -n equal to its size
 * sends every id exactly once, whatever the threads and connections. */
START_TEST(test_ids_each_once)
{
	struct stall_opts o = {.record = 1};
	const char *args[] = {"-t2", "-c4", "--pipeline", "3", "-n", "101", "--ids", "1000-1100",
			      "-m", "POST", "--data", "{\"id\":{id}}", NULL};
	srv = stall_start(&o);
	ck_assert_ptr_nonnull(srv);
	struct run_result *r = run_blast("http://127.0.0.1:%d/item/{id}", stall_port(srv), args);
	stall_stop(srv);
	ck_assert_ptr_nonnull(r);
	ck_assert_uint_eq(r->st.responses, 101);
	ck_assert_uint_eq(stall_requests(srv), 101);
	unsigned seen[101] = {0};
	for (uint64_t i = 0; i < 101; i++) {
		unsigned id, body_id;
		const char *t = stall_request_text(srv, i);
		ck_assert_int_eq(sscanf(t, "POST /item/%u HTTP/1.1", &id), 1);
		ck_assert(id >= 1000 && id <= 1100);
		const char *body = strstr(t, "\r\n\r\n");
		ck_assert_ptr_nonnull(body);
		ck_assert_int_eq(sscanf(body + 4, "{\"id\":%u}", &body_id), 1);
		ck_assert_uint_eq(body_id, id);
		ck_assert_ptr_nonnull(strstr(t, "Content-Length: 11\r\n"));
		seen[id - 1000]++;
	}
	for (unsigned k = 0; k < 101; k++)
		ck_assert_msg(seen[k] == 1, "id %u sent %u times", 1000 + k, seen[k]);
	done(r);
}
END_TEST

/* --urls: one connection goes round the list in order. */
START_TEST(test_url_list_round_robin)
{
	char list[] = "/tmp/blast-list-XXXXXX", line[128];
	int fd = mkstemp(list);
	ck_assert_int_ge(fd, 0);
	struct stall_opts o = {.record = 1};
	srv = stall_start(&o);
	ck_assert_ptr_nonnull(srv);
	FILE *f = fdopen(fd, "w");
	for (int i = 0; i < 3; i++)
		fprintf(f, "http://127.0.0.1:%d/%c\n", stall_port(srv), 'a' + i);
	fclose(f);
	const char *args[] = {"-t1", "-c1", "--pipeline", "2", "-n", "30", "--urls", list, NULL};
	struct run_result *r = run_blast("unused", 0, args);
	stall_stop(srv);
	ck_assert_ptr_nonnull(r);
	ck_assert_uint_eq(r->st.responses, 30);
	for (uint64_t i = 0; i < 30; i++) {
		snprintf(line, sizeof line, "GET /%c HTTP/1.1\r\n", (int)('a' + i % 3));
		ck_assert_msg(strncmp(stall_request_text(srv, i), line, strlen(line)) == 0,
			      "request %llu: %s", (unsigned long long)i, stall_request_text(srv, i));
	}
	unlink(list);
	done(r);
}
END_TEST

/* --random with pipelining: requests leave gathered (sendmsg), every one
 * whole.  All 4 ids turn up in 400 draws (a miss has probability ~1e-50). */
START_TEST(test_random_ids)
{
	struct stall_opts o = {.record = 1};
	const char *args[] = {"-t1", "-c2", "--pipeline", "8", "-n", "400", "--ids", "1-4",
			      "--random", NULL};
	srv = stall_start(&o);
	ck_assert_ptr_nonnull(srv);
	struct run_result *r = run_blast("http://127.0.0.1:%d/r/{id}", stall_port(srv), args);
	stall_stop(srv);
	ck_assert_ptr_nonnull(r);
	ck_assert_uint_eq(r->st.responses, 400);
	ck_assert_uint_eq(stall_requests(srv), 400);
	unsigned seen[5] = {0};
	for (uint64_t i = 0; i < 400; i++) {
		unsigned id;
		ck_assert_int_eq(sscanf(stall_request_text(srv, i), "GET /r/%u HTTP/1.1", &id), 1);
		ck_assert(id >= 1 && id <= 4);
		seen[id]++;
	}
	for (unsigned k = 1; k <= 4; k++)
		ck_assert_uint_gt(seen[k], 0);
	done(r);
}
END_TEST

static Suite *engine_suite(void)
{
	Suite *s = suite_create("engine");
	TCase *tc = tcase_create("stallserver");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_exact_request_count);
	tcase_add_test(tc, test_pipelining_counts_every_response);
	tcase_add_test(tc, test_status_404_counted);
	tcase_add_test(tc, test_head_requests);
	tcase_add_test(tc, test_post_body);
	tcase_add_test(tc, test_ipv6);
	tcase_add_test(tc, test_connection_close);
	tcase_add_test(tc, test_pipelining_into_close);
	tcase_add_test(tc, test_http10_with_length);
	tcase_add_test(tc, test_http10_body_until_close);
	tcase_add_test(tc, test_server_drops);
	tcase_add_test(tc, test_reconnect_backoff);
	tcase_add_test(tc, test_timeouts);
	tcase_add_test(tc, test_nobody_listening);
	tcase_add_test(tc, test_gives_up_without_server);
	tcase_add_test(tc, test_duration_and_balance);
	tcase_add_test(tc, test_warmup_discarded);
	tcase_add_test(tc, test_count_after_warmup);
	tcase_add_test(tc, test_series_has_no_phantom_second);
	tcase_add_test(tc, test_ids_each_once);
	tcase_add_test(tc, test_url_list_round_robin);
	tcase_add_test(tc, test_random_ids);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(engine_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
