/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests for the acceptor (core/listener.c, core/connection.c,
 * core/lifecycle.c): the acceptor and its workers in this process
 * (acceptor_listen/start/run in a thread, on an ephemeral port), driven
 * over real sockets; lifecycle by signals to this process.
 *
 * acc__pause_pipeline() is also called directly: its race branch (the
 * worker drained between dispatch()'s check and the pause) cannot be
 * reached on purpose from outside - the worker would have to answer
 * between two adjacent loads. */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/acceptor.h"
#include "core/base/log.h"
#include "core/placement.h"
#include "core/server.h"

#include <check.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>

#include "tests/testlib.h"

#define WAIT_MS 20000      /* hang guards, never timing assertions */

struct srv {
	struct cfg cfg;
	struct placement place;
	struct server s;
	pthread_t th;
	bool running;
	int port;                     /* the first address's */
	char addr[256];               /* every address */
	char addr0[128];
	char conf[64];
	char *argv[32];
	int argc;
	FILE *log;                    /* what the server wrote to stderr */
};

static struct srv *S;
static struct tl_reader rd;
static struct tl_resp resp;

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void *run(void *arg)
{
	server_run(arg);
	return NULL;
}

/* The first shard: the only one unless --acceptors says otherwise. */
#define A0 (&S->s.shards[0])

static void write_conf(const char *text)
{
	FILE *f = fopen(S->conf, "w");

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

/* Everything logged so far. */
static const char *log_text(void)
{
	static char buf[1 << 16];
	ssize_t n = pread(fileno(S->log), buf, sizeof(buf) - 1, 0);

	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

static bool wait_log(const char *needle)
{
	long deadline = now_ms() + WAIT_MS;

	while (!strstr(log_text(), needle))
		if (now_ms() > deadline)
			return false;
		else
			usleep(5000);
	return true;
}

static uint64_t wait_ctr(const uint64_t *field, uint64_t v)
{
	long deadline = now_ms() + WAIT_MS;
	uint64_t cur;

	while ((cur = CNT_GET(*field)) < v && now_ms() < deadline)
		usleep(2000);
	return cur;
}

/* Listens and starts; returns acceptor_listen's error, else 0.  The
 * server reads a config file of its own (`conf`), empty to start with. */
static int srv_try_start(const char *const *args, const char *conf_text)
{
	char err[512];
	int rc;

	S = aligned_alloc(64, sizeof(*S));
	memset(S, 0, sizeof(*S));
	snprintf(S->conf, sizeof(S->conf), "/tmp/metricd-acc-XXXXXX");
	close(mkstemp(S->conf));
	write_conf(conf_text ? conf_text : "");
	S->log = tmpfile();
	ck_assert_ptr_nonnull(S->log);
	dup2(fileno(S->log), STDERR_FILENO);
	S->argv[S->argc++] = (char *)(uintptr_t)"metricd";
	S->argv[S->argc++] = (char *)(uintptr_t)"--config";
	S->argv[S->argc++] = S->conf;
	for (; *args; args++)
		S->argv[S->argc++] = (char *)(uintptr_t)*args;
	ck_assert_int_eq(cfg_build(&S->cfg, S->argc, S->argv, err, sizeof(err)), CFG_OK);
	/* Two CPUs, not pinned: the threads of a test share the machine. */
	struct placement_topo topo = { .ncpus = 2, .cpu = { 0, 1 }, .l3 = { 0, 0 } };
	struct placement_ask ask = { .workers = S->cfg.workers, .acceptors = S->cfg.acceptors };

	ck_assert_int_eq(placement_plan(&topo, &ask, &S->place, err, sizeof(err)), 0);
	http_framer_global_init(S->cfg.max_header_bytes);
	if ((rc = server_listen(&S->s, &S->cfg, &S->place)))
		return rc;
	ck_assert_int_eq(server_start(&S->s, S->argc, S->argv), 0);
	ck_assert_int_eq(server_local_addrs(&S->s, S->addr, sizeof(S->addr)), 0);
	ck_assert_int_eq(acceptor_addr_text(A0->listeners[0].fd, S->addr0,
					    sizeof(S->addr0)), 0);
	S->port = atoi(strrchr(S->addr0, ':') + 1);
	ck_assert_int_eq(pthread_create(&S->th, NULL, run, &S->s), 0);
	S->running = true;
	return 0;
}

#define SRV_START(...) \
	ck_assert_int_eq(srv_try_start((const char *const[]){ "--listen", "127.0.0.1:0", \
			 __VA_ARGS__, NULL }, NULL), 0)

/* SIGTERM; the acceptor drains and returns; everything is freed. */
static void srv_stop(void)
{
	if (S->running) {
		kill(getpid(), SIGTERM);
		pthread_join(S->th, NULL);
		S->running = false;
	}
	server_destroy(&S->s);
	unlink(S->conf);
}

static int conn(void)
{
	int fd = tl_connect(S->port);

	ck_assert_int_ge(fd, 0);
	return fd;
}

static void send_str(int fd, const char *s)
{
	ck_assert_int_eq(tl_send_all(fd, s, strlen(s)), 0);
}

static void read_resp(int fd)
{
	if (rd.fd != fd)
		tl_reader_init(&rd, fd);
	ck_assert_msg(tl_read_resp(&rd, &resp, false, WAIT_MS) == 0, "no answer");
}

static uint64_t body_id(void)
{
	unsigned long long id;

	ck_assert_msg(sscanf(resp.body, "{\"id\":%llu,", &id) == 1, "body '%s'", resp.body);
	return id;
}

/* n pipelined GET /metric-stack?id=from.. in one send. */
static void send_pipelined(int fd, unsigned from, unsigned n)
{
	char *buf = malloc((size_t)n * 80), *p = buf;

	for (unsigned i = 0; i < n; i++)
		p += sprintf(p, "GET /metric-stack?id=%u HTTP/1.1\r\nHost: t\r\n\r\n", from + i);
	ck_assert_int_eq(tl_send_all(fd, buf, (size_t)(p - buf)), 0);
	free(buf);
}

static void read_in_order(int fd, unsigned from, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		read_resp(fd);
		ck_assert_int_eq(resp.status, 200);
		ck_assert_uint_eq(body_id(), from + i);
	}
}

/* True when the peer closed, with no bytes before the close. */
static bool closed_silently(int fd)
{
	struct pollfd p = { fd, POLLIN, 0 };
	char b[64];

	if (poll(&p, 1, WAIT_MS) != 1)
		return false;
	ssize_t n = recv(fd, b, sizeof(b), 0);
	return n == 0 || (n < 0 && errno == ECONNRESET);
}

/* ---- lifecycle ------------------------------------------------------------ */

START_TEST(serves_and_stops_on_sigterm)
{
	char want[64];

	SRV_START("--workers", "2");
	snprintf(want, sizeof(want), "127.0.0.1:%d", S->port);
	ck_assert_str_eq(S->addr, want);
	ck_assert_int_eq(tl_get(S->port, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n", &resp), 0);
	ck_assert_int_eq(resp.status, 200);
	srv_stop();
	ck_assert_ptr_nonnull(strstr(log_text(), "SIGTERM: draining "));
}
END_TEST

/* SIGTERM with idle connections open: one that never sent a byte, one
 * that was answered and sits idle, one that sent half a request.  All
 * three are closed - the first and the last by the acceptor itself (no
 * worker ever saw them), without a byte - and the server stops. */
START_TEST(sigterm_with_idle_connections)
{
	SRV_START("--workers", "2");
	int never = conn(), idle = conn(), half = conn();

	send_str(idle, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
	read_resp(idle);
	ck_assert_int_eq(resp.status, 200);
	send_str(half, "GET /heal");
	ck_assert_uint_eq(wait_ctr(&A0->ctr.accepted, 3), 3);
	ck_assert_uint_ge(wait_ctr(&A0->ctr.bytes_read, 34 + 9), 34 + 9);
	kill(getpid(), SIGTERM);
	pthread_join(S->th, NULL);
	S->running = false;
	ck_assert(closed_silently(never));
	ck_assert(closed_silently(half));
	ck_assert(tl_wait_eof(&rd, WAIT_MS));
	ck_assert_uint_eq(CNT_GET(A0->ctr.closed_unused), 2);
	ck_assert_uint_eq(CNT_GET(A0->ctr.open), 0);
	ck_assert_ptr_nonnull(strstr(log_text(), "SIGTERM: draining 3 connection(s)"));
	close(never);
	close(idle);
	close(half);
	srv_stop();
}
END_TEST

#define HEALTHZ "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n"

/* --drain-delay: after SIGTERM the server goes on serving and accepting,
 * but /healthz answers 503 - on a keep-alive connection and on a new one -
 * so a load balancer's check takes it out before anything is refused.  A
 * second SIGTERM ends the delay (600 s here: only the signal can) and the
 * drain closes the rest. */
START_TEST(drain_delay_healthz_503)
{
	SRV_START("--workers", "2", "--drain-delay", "600000");
	int kept = conn();

	send_str(kept, HEALTHZ);
	read_resp(kept);
	ck_assert_int_eq(resp.status, 200);
	kill(getpid(), SIGTERM);
	/* The control thread sets the flag; once it is seen here, a worker
	 * answering the next /healthz reads it too (it reads after that). */
	ck_assert_uint_eq(wait_ctr(&S->s.draining_gauge, 1), 1);
	ck_assert(wait_log("SIGTERM: /healthz answers 503 for 600000 ms, then draining"));
	send_str(kept, HEALTHZ);
	read_resp(kept);
	ck_assert_int_eq(resp.status, 503);
	ck_assert_str_eq(resp.body, "draining\n");
	ck_assert(!resp.conn_close);
	send_str(kept, "GET /metric-stack?id=5 HTTP/1.1\r\nHost: t\r\n\r\n");
	read_resp(kept);
	ck_assert_int_eq(resp.status, 200);
	ck_assert_uint_eq(body_id(), 5);
	/* The listener is still open. */
	ck_assert_int_eq(tl_get(S->port, "GET /metric-stack?id=6 HTTP/1.1\r\nHost: t\r\n\r\n",
				&resp), 0);
	ck_assert_int_eq(resp.status, 200);
	ck_assert_int_eq(tl_get(S->port, HEALTHZ, &resp), 0);
	ck_assert_int_eq(resp.status, 503);
	ck_assert_ptr_null(strstr(log_text(), "SIGTERM: draining"));
	kill(getpid(), SIGTERM);
	pthread_join(S->th, NULL);
	S->running = false;
	ck_assert_ptr_nonnull(strstr(log_text(), "SIGTERM: draining "));
	ck_assert(tl_wait_eof(&rd, WAIT_MS));
	close(kept);
	srv_stop();
}
END_TEST

/* The delay runs out by itself: the drain follows, once. */
START_TEST(drain_delay_runs_out)
{
	SRV_START("--workers", "1", "--drain-delay", "50");
	kill(getpid(), SIGTERM);
	pthread_join(S->th, NULL);
	S->running = false;
	const char *log = log_text();
	const char *delay = strstr(log, "SIGTERM: /healthz answers 503 for 50 ms");
	static const char once[] = "SIGTERM: draining 0 connection(s)";
	const char *drain = strstr(log, once);

	ck_assert_ptr_nonnull(delay);
	ck_assert_ptr_nonnull(drain);
	ck_assert(delay < drain);
	ck_assert_ptr_null(strstr(drain + sizeof(once) - 1, "draining"));
	srv_stop();
}
END_TEST

/* A connection that closes before a whole request is closed by the
 * acceptor: the slot comes back without a trip through a worker. */
START_TEST(close_before_a_request)
{
	SRV_START("--workers", "1");
	int a = conn(), b = conn();

	send_str(b, "GET /metric-st");
	ck_assert_uint_eq(wait_ctr(&A0->ctr.bytes_read, 14), 14);
	close(a);
	close(b);
	ck_assert_uint_eq(wait_ctr(&A0->ctr.closed_unused, 2), 2);
	ck_assert_uint_eq(CNT_GET(A0->ctr.open), 0);
	srv_stop();
}
END_TEST

START_TEST(ipv6_listen)
{
	struct sockaddr_in6 sa = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	char want[64], alog[64], line[512];
	int fd, rc;

	snprintf(alog, sizeof(alog), "/tmp/metricd-acc-v6-%d.log", (int)getpid());
	rc = srv_try_start((const char *const[]){ "--listen", "[::1]:0", "--workers", "1",
			   "--access-log", alog, NULL }, NULL);
	if (rc == -EADDRNOTAVAIL || rc == -EAFNOSUPPORT || rc == -EINVAL) {
		fprintf(stdout, "ipv6_listen: ::1 is not available here (%s): not run\n",
			strerror(-rc));
		return;
	}
	ck_assert_int_eq(rc, 0);
	snprintf(want, sizeof(want), "[::1]:%d", S->port);
	ck_assert_str_eq(S->addr, want);
	sa.sin6_port = htons((uint16_t)S->port);
	fd = socket(AF_INET6, SOCK_STREAM, 0);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	send_str(fd, "GET /metric-stack?id=6 HTTP/1.1\r\nHost: [::1]\r\nConnection: close\r\n\r\n");
	read_resp(fd);
	ck_assert_uint_eq(body_id(), 6);
	ck_assert(resp.conn_close);
	close(fd);
	srv_stop();                          /* the logger writes its last lines */
	FILE *f = fopen(alog, "r");
	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_nonnull(fgets(line, sizeof(line), f));
	fclose(f);
	unlink(alog);
	ck_assert_msg(strncmp(line, "::1 - - [", 9) == 0, "%s", line);
	ck_assert_msg(strstr(line, "\"GET /metric-stack?id=6 HTTP/1.1\" 200 "), "%s", line);
}
END_TEST

START_TEST(listen_errors)
{
	struct srv *first;
	char port[16];
	int rc;

	SRV_START("--workers", "1");
	first = S;
	snprintf(port, sizeof(port), "127.0.0.1:%d", first->port);
	/* The port is taken. */
	rc = srv_try_start((const char *const[]){ "--listen", port, NULL }, NULL);
	ck_assert_int_eq(rc, -EADDRINUSE);
	ck_assert_ptr_nonnull(strstr(log_text(), "cannot listen on 127.0.0.1:"));
	free(S);
	S = first;
	srv_stop();
}
END_TEST

/* ---- the connection state machine ---------------------------------------- */

/* More requests in one read than a connection may frame in one turn: it
 * yields and comes back; every answer arrives, in order. */
START_TEST(frame_budget_yields)
{
	SRV_START("--workers", "1", "--max-pipeline", "4096");
	int fd = conn(), other = conn();

	send_pipelined(fd, 0, 250);
	send_str(other, "GET /metric-stack?id=999 HTTP/1.1\r\nHost: t\r\n\r\n");
	read_in_order(fd, 0, 250);
	read_resp(other);
	ck_assert_uint_eq(body_id(), 999);
	ck_assert_uint_ge(CNT_GET(A0->ctr.read_budget_yields), 1);
	close(fd);
	close(other);
	srv_stop();
}
END_TEST

/* A ring of 4 under 8 pipelining connections: the connections that find
 * it full wait in line and resume; nothing is lost or reordered. */
START_TEST(ring_full_waits_in_line)
{
	enum { NC = 8, NR = 150 };
	int fd[NC];

	SRV_START("--workers", "1", "--ring-size", "4", "--spin-us", "0");
	for (int i = 0; i < NC; i++)
		fd[i] = conn();
	for (int i = 0; i < NC; i++)
		send_pipelined(fd[i], (unsigned)i * 1000, NR);
	for (int i = 0; i < NC; i++) {
		read_in_order(fd[i], (unsigned)i * 1000, NR);
		close(fd[i]);
	}
	ck_assert_uint_ge(CNT_GET(A0->ctr.ring_full), 1);
	srv_stop();
}
END_TEST

/* --max-pipeline 2: the acceptor stops reading at two in flight and
 * resumes on the worker's NOTE_RESUME. */
START_TEST(pipeline_pauses_and_resumes)
{
	SRV_START("--workers", "1", "--max-pipeline", "2");
	int fd = conn();

	send_pipelined(fd, 0, 300);
	read_in_order(fd, 0, 300);
	ck_assert_uint_ge(CNT_GET(A0->ctr.pipeline_pauses), 1);
	close(fd);
	srv_stop();
}
END_TEST

/* pause_pipeline() itself: at the limit it arms want_resume and waits for
 * NOTE_RESUME; if the worker already drained below the limit (the race
 * dispatch() cannot see), it takes want_resume back and goes on. */
START_TEST(pause_pipeline_race)
{
	static struct acceptor a;
	static struct cfg cfg;
	static struct conn c;

	cfg.max_pipeline = 4;
	a.cfg = &cfg;
	c.inflight = 3;          /* dispatch() saw 4; one was answered since */
	ck_assert(acc__pause_pipeline(&a, &c));
	ck_assert_uint_eq(c.want_resume, 0);
	ck_assert(!c.wait_resume);
	ck_assert_uint_eq(a.ctr.pipeline_pauses, 0);
	c.inflight = 4;          /* still at the limit: wait for the worker */
	ck_assert(!acc__pause_pipeline(&a, &c));
	ck_assert_uint_eq(c.want_resume, 1);
	ck_assert(c.wait_resume);
	ck_assert_uint_eq(a.ctr.pipeline_pauses, 1);
}
END_TEST

/* Notes that name a connection which is not theirs - an old generation of
 * an open slot, a slot that is free, a NOTE_RESUME nobody waits for - are
 * ignored: the connection stays open and served. */
START_TEST(stale_notes_ignored)
{
	SRV_START("--workers", "2");
	int x = conn();
	struct queue_notes *q = &A0->workers[1].notes;  /* worker 1: no connections,
							    * its note ring is idle */
	struct queue_note stale[3] = {
		{ .slot = 0, .gen = 7, .kind = NOTE_CLOSED },
		{ .slot = 5, .gen = 1, .kind = NOTE_CLOSED },
		{ .slot = 0, .gen = 1, .kind = NOTE_RESUME },
	};

	send_str(x, "GET /metric-stack?id=1 HTTP/1.1\r\nHost: t\r\n\r\n");
	read_resp(x);                            /* x: slot 0, generation 1 */
	ck_assert_uint_eq(CNT_GET(A0->ctr.open), 1);
	for (int i = 0; i < 3; i++)
		ck_assert(queue_note_push(q, &stale[i]));
	queue_doorbell_ring(&A0->bell);
	long deadline = now_ms() + WAIT_MS;
	while (ck_ring_size(&q->ring) != 0 && now_ms() < deadline)
		usleep(1000);
	ck_assert_uint_eq(ck_ring_size(&q->ring), 0);
	ck_assert_uint_eq(CNT_GET(A0->ctr.open), 1);
	send_str(x, "GET /metric-stack?id=2 HTTP/1.1\r\nHost: t\r\n\r\n");
	read_resp(x);
	ck_assert_uint_eq(body_id(), 2);
	close(x);
	srv_stop();
}
END_TEST

/* ---- reload --------------------------------------------------------------- */

START_TEST(reload_runtime_and_restart_settings)
{
	char alog[64], line[512];

	snprintf(alog, sizeof(alog), "/tmp/metricd-acc-reload-%d.log", (int)getpid());
	ck_assert_int_eq(srv_try_start((const char *const[]){ "--listen", "127.0.0.1:0",
			 "--max-pipeline", "10", NULL }, "server-header = one\nworkers = 2\n"), 0);
	ck_assert_int_eq(tl_get(S->port, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n", &resp), 0);
	ck_assert_str_eq(tl_header(&resp, "Server", line, sizeof(line)), "one");

	/* Runtime settings change; the others are reported and kept.  What
	 * the command line says wins over the file, on reload too. */
	char text[512];
	snprintf(text, sizeof(text), "server-header = two\nworkers = 3\nmax-conns = 99\n"
		 "ring-size = 8\nlisten = 127.0.0.1:1\nmax-pipeline = 20\n"
		 "access-log = %s\naccess-log-format = json\nidle-timeout = 5000\n", alog);
	write_conf(text);
	kill(getpid(), SIGHUP);
	ck_assert(wait_log("(generation 2)"));
	const char *log = log_text();
	static const char *const keys[] = { "workers", "max-conns", "ring-size" };
	for (int i = 0; i < 3; i++) {
		char want[128];

		snprintf(want, sizeof(want), "reload: %s changed: restart required "
			 "(keeping the running value)", keys[i]);
		ck_assert_msg(strstr(log, want), "no '%s' in:\n%s", want, log);
	}
	ck_assert_ptr_null(strstr(log, "reload: server-header changed"));
	ck_assert_ptr_null(strstr(log, "reload: listen changed"));
	ck_assert_ptr_null(strstr(log, "reload: max-pipeline changed"));
	ck_assert_ptr_nonnull(strstr(log, "idle-timeout=5000 send-timeout=60000 "
				       "server-header='two'"));
	ck_assert_uint_eq(S->s.nworkers, 2);
	ck_assert_int_eq(tl_get(S->port, "GET /metric-stack?id=3 HTTP/1.1\r\nHost: t\r\n\r\n",
				&resp), 0);
	ck_assert_str_eq(tl_header(&resp, "Server", line, sizeof(line)), "two");

	/* A bad file keeps everything as it runs. */
	write_conf("server-header = three\nworkers = many\n");
	kill(getpid(), SIGHUP);
	ck_assert(wait_log("reload failed, keeping the running configuration"));
	ck_assert_int_eq(tl_get(S->port, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n", &resp), 0);
	ck_assert_str_eq(tl_header(&resp, "Server", line, sizeof(line)), "two");
	srv_stop();
	/* The access log, off at start, was turned on by the reload, in JSON,
	 * with each request's target (each worker has its own ring: lines of
	 * different workers may come in any order). */
	FILE *f = fopen(alog, "r");
	bool found = false;

	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f))
		found |= strstr(line, "\"method\":\"GET\",\"target\":\"/metric-stack?id=3\","
				"\"protocol\":\"HTTP/1.1\",\"status\":200,") != NULL;
	ck_assert(found);
	fclose(f);
	unlink(alog);
}
END_TEST

static Suite *acceptor_suite(void)
{
	Suite *s = suite_create("acceptor");
	TCase *life = tcase_create("lifecycle");
	TCase *sm = tcase_create("connections");
	TCase *rl = tcase_create("reload");

	tcase_set_timeout(life, 30);
	tcase_add_test(life, serves_and_stops_on_sigterm);
	tcase_add_test(life, sigterm_with_idle_connections);
	tcase_add_test(life, drain_delay_healthz_503);
	tcase_add_test(life, drain_delay_runs_out);
	tcase_add_test(life, close_before_a_request);
	tcase_add_test(life, ipv6_listen);
	tcase_add_test(life, listen_errors);
	suite_add_tcase(s, life);
	tcase_set_timeout(sm, 30);
	tcase_add_test(sm, frame_budget_yields);
	tcase_add_test(sm, ring_full_waits_in_line);
	tcase_add_test(sm, pipeline_pauses_and_resumes);
	tcase_add_test(sm, pause_pipeline_race);
	tcase_add_test(sm, stale_notes_ignored);
	suite_add_tcase(s, sm);
	tcase_set_timeout(rl, 30);
	tcase_add_test(rl, reload_runtime_and_restart_settings);
	suite_add_tcase(s, rl);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(acceptor_suite());
	int failed;

	signal(SIGPIPE, SIG_IGN);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
