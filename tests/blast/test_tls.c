/* SPDX-License-Identifier: BSD-2-Clause */
/* Suite for tools/blast/tls.c, end to end against the stall server
 * speaking TLS with a certificate made when the test starts: exact
 * counts over https, SNI, session resumption across reconnects,
 * certificate verification and --insecure, and handshakes that fail.
 * Skipped (exit 77) when blast was built without OpenSSL. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/blast/stallserver.h"
#include "tests/blast/testutil.h"
#include "tools/blast/target.h"

static struct stallserver *srv;

static struct run_result *run(const struct stall_opts *o, const char *url_fmt,
			      const char *const *args)
{
	srv = stall_start(o);
	ck_assert_ptr_nonnull(srv);
	struct run_result *r = run_blast(url_fmt, stall_port(srv), args);
	stall_stop(srv);
	ck_assert_ptr_nonnull(r);
	return r;
}

static void done(struct run_result *r)
{
	stall_free(srv);
	free(r);
}

START_TEST(test_https_exact_count)
{
	struct stall_opts o = {.tls = 1};
	const char *args[] = {"-t2", "-c4", "--pipeline", "8", "-n", "1001", "-k", NULL};
	struct run_result *r = run(&o, "https://127.0.0.1:%d/t", args);
	ck_assert_uint_eq(r->st.responses, 1001);
	ck_assert_uint_eq(r->st.status[200], 1001);
	ck_assert_uint_eq(stall_requests(srv), 1001);
	ck_assert_uint_eq(stats_errors_total(&r->st), 0);
	ck_assert_uint_eq(r->st.connects, 4);
	ck_assert_uint_eq(r->st.tls_handshakes, 4);
	ck_assert_uint_lt(r->st.tls_resumed, 4); /* the first is a full handshake */
	done(r);
}
END_TEST

/* The host name goes out as SNI; an IP literal does not (RFC 6066). */
START_TEST(test_sni)
{
	struct stall_opts o = {.tls = 1};
	const char *args[] = {"-t1", "-c1", "-n", "3", "-k", NULL};
	struct run_result *r = run(&o, "https://localhost:%d/", args);
	ck_assert_uint_eq(r->st.responses, 3);
	ck_assert_str_eq(stall_sni(srv), "localhost");
	done(r);
	r = run(&o, "https://127.0.0.1:%d/", args);
	ck_assert_uint_eq(r->st.responses, 3);
	ck_assert_str_eq(stall_sni(srv), "");
	done(r);
}
END_TEST

/* A server that closes after every response: each reconnect of the
 * thread offers the session of the one before, so only the first
 * handshake is a full one. */
START_TEST(test_session_resumed_across_reconnects)
{
	struct stall_opts o = {.tls = 1, .mode = STALL_CLOSE};
	const char *args[] = {"-t1", "-c1", "-n", "20", "-k", NULL};
	struct run_result *r = run(&o, "https://127.0.0.1:%d/", args);
	ck_assert_uint_eq(r->st.responses, 20);
	ck_assert_uint_eq(stats_errors_total(&r->st), 0);
	ck_assert_uint_eq(r->st.tls_handshakes, 20);
	ck_assert_uint_eq(r->st.tls_resumed, 19);
	ck_assert_uint_eq(stall_tls_resumed(srv), 19);
	done(r);
}
END_TEST

/* Requests picked at random are gathered into one record per write. */
START_TEST(test_random_requests_gathered)
{
	struct stall_opts o = {.tls = 1, .record = 1};
	const char *args[] = {"-t1", "-c2", "--pipeline", "8", "-n", "800", "--ids", "1-50",
			      "--random", "-k", NULL};
	struct run_result *r = run(&o, "https://127.0.0.1:%d/item/{id}", args);
	ck_assert_uint_eq(r->st.responses, 800);
	ck_assert_uint_eq(stall_requests(srv), 800);
	for (uint64_t i = 0; i < 800; i++) {
		unsigned id;
		char tail[8];
		ck_assert_int_eq(sscanf(stall_request_text(srv, i), "GET /item/%u HTTP/1.%1s", &id, tail), 2);
		ck_assert(id >= 1 && id <= 50);
	}
	done(r);
}
END_TEST

static char *prepare_error(const char *url_fmt, int port, int insecure, const char *unix_path)
{
	static char err[1024];
	char url[256];
	struct blast_config cfg;
	struct target tg;
	memset(&cfg, 0, sizeof cfg);
	cfg.method = "GET";
	cfg.pipeline = 1;
	cfg.timeout_ns = 5000000000ull;
	cfg.insecure = insecure;
	cfg.unix_socket = unix_path;
	snprintf(url, sizeof url, url_fmt, port);
	char *urls[] = {url};
	err[0] = 0;
	int rc = target_prepare(&cfg, urls, 1, url, 1, &tg, err, sizeof err);
	target_free(&tg);
	return rc == 0 ? NULL : err;
}

/* Verification is on unless --insecure: a self-signed certificate is
 * refused before the run, trusted through SSL_CERT_FILE it is accepted,
 * and a name it does not carry is refused. */
START_TEST(test_certificate_verification)
{
	char pem[] = "/tmp/blast-cert-XXXXXX", sock[64];
	int fd = mkstemp(pem);
	ck_assert_int_ge(fd, 0);
	close(fd);
	struct stall_opts o = {.tls = 1};
	srv = stall_start(&o);
	ck_assert_ptr_nonnull(srv);
	int port = stall_port(srv);
	const char *e = prepare_error("https://localhost:%d/", port, 0, NULL);
	ck_assert_ptr_nonnull(e);
	ck_assert_msg(strstr(e, "certificate verify failed") && strstr(e, "--insecure"), "%s", e);
	ck_assert_ptr_null(prepare_error("https://localhost:%d/", port, 1, NULL));
	ck_assert_int_eq(stall_write_cert(srv, pem), 0);
	setenv("SSL_CERT_FILE", pem, 1);
	e = prepare_error("https://localhost:%d/", port, 0, NULL);
	ck_assert_msg(e == NULL, "%s", e);
	ck_assert_ptr_null(prepare_error("https://127.0.0.1:%d/", port, 0, NULL));
	stall_free(srv);

	/* over a Unix socket the URL's host is only a name: a wrong one */
	snprintf(sock, sizeof sock, "/tmp/blast-tls-%d.sock", (int)getpid());
	struct stall_opts u = {.tls = 1, .unix_path = sock};
	srv = stall_start(&u);
	ck_assert_ptr_nonnull(srv);
	ck_assert_int_eq(stall_write_cert(srv, pem), 0); /* a new certificate */
	e = prepare_error("https://wrong.example/", 0, 0, sock);
	ck_assert_ptr_nonnull(e);
	ck_assert_msg(strstr(e, "certificate verify failed"), "%s", e);
	ck_assert_ptr_null(prepare_error("https://localhost/", 0, 0, sock));
	stall_free(srv);
	unsetenv("SSL_CERT_FILE");
	unlink(pem);
}
END_TEST

/* https:// to a server that does not speak TLS: the handshake times
 * out, counted as a TLS error; -n without -d gives up after --timeout. */
START_TEST(test_handshake_fails)
{
	struct stall_opts o = {0};
	const char *args[] = {"-t1", "-c1", "-n", "5", "--timeout", "300ms", "-k", NULL};
	struct run_result *r = run(&o, "https://127.0.0.1:%d/", args);
	ck_assert_uint_eq(r->st.responses, 0);
	ck_assert_uint_eq(r->st.issued, 0);
	ck_assert_uint_ge(r->st.errors[ERR_TLS][ETIMEDOUT], 1);
	ck_assert_uint_eq(r->st.gave_up, 1);
	ck_assert_uint_eq(stats_request_errors(&r->st), 0);
	done(r);
}
END_TEST

static Suite *tls_suite(void)
{
	Suite *s = suite_create("tls");
	TCase *tc = tcase_create("stallserver");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_https_exact_count);
	tcase_add_test(tc, test_sni);
	tcase_add_test(tc, test_session_resumed_across_reconnects);
	tcase_add_test(tc, test_random_requests_gathered);
	tcase_add_test(tc, test_certificate_verification);
	tcase_add_test(tc, test_handshake_fails);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	if (!tls_available()) {
		puts("SKIP: blast was built without OpenSSL");
		return 77;
	}
	/* The stall server's OpenSSL writes with write(), not
	 * send(MSG_NOSIGNAL): a client that hung up must be an error for it,
	 * not a signal that ends the test. */
	signal(SIGPIPE, SIG_IGN);
	SRunner *sr = srunner_create(tls_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
