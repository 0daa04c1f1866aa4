/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests for core/notify.c: the sd_notify messages as they arrive on a
 * datagram socket of our own (a path and an abstract '@' name), watchdog
 * settings from the environment, and socket activation on fd 3 in a forked
 * child.  Built twice: against the configured notify.c (libsystemd when
 * found) and as test_notify_builtin, with the built-in protocol forced. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/notify.h"
#include "tests/covdump.h"

static char tmpdir[64];
static char sock_path[128];

/* A datagram socket bound at `name` (a path, or '@' + abstract name) that
 * receives the sender's credentials with each message. */
static int manager_socket(const char *name)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	socklen_t len;
	size_t n = strlen(name);
	int one = 1, fd;

	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_uint_lt(n, sizeof(sa.sun_path));
	memcpy(sa.sun_path, name, n);
	if (name[0] == '@') {
		sa.sun_path[0] = '\0';
		len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	} else {
		len = (socklen_t)sizeof(sa);
	}
	ck_assert_msg(bind(fd, (struct sockaddr *)&sa, len) == 0, "bind %s: %s",
		      name, strerror(errno));
	ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)), 0);
	return fd;
}

/* One message within timeout_ms, NUL-terminated; returns its length or -1.
 * Checks the kernel-attached credentials name this process, which is what
 * systemd's NotifyAccess=main relies on. */
static ssize_t recv_msg(int fd, char *buf, size_t cap, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(struct ucred))];
	} ctl;
	struct iovec iov = { .iov_base = buf, .iov_len = cap - 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = ctl.b, .msg_controllen = sizeof(ctl.b) };
	struct cmsghdr *c;
	bool creds = false;
	ssize_t n;

	if (poll(&p, 1, timeout_ms) != 1)
		return -1;
	n = recvmsg(fd, &mh, MSG_DONTWAIT);
	if (n < 0)
		return -1;
	ck_assert_msg(!(mh.msg_flags & MSG_TRUNC), "message truncated");
	buf[n] = '\0';
	for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
			struct ucred u;

			memcpy(&u, CMSG_DATA(c), sizeof(u));
			ck_assert_int_eq(u.pid, getpid());
			creds = true;
		}
	}
	ck_assert_msg(creds, "no sender credentials on the message");
	return n;
}

/* The message is queued already (see expect_nothing); 2 s guards a hang. */
static void expect_msg(int fd, const char *want)
{
	char buf[1024];

	ck_assert_int_ge(recv_msg(fd, buf, sizeof(buf), 2000), 0);
	ck_assert_str_eq(buf, want);
}

/* A datagram to a local socket is queued before sendmsg() returns, so
 * "nothing queued now" is exact: no waiting for one that might come. */
static void expect_nothing(int fd)
{
	char buf[1024];

	ck_assert_int_eq(recv_msg(fd, buf, sizeof(buf), 0), -1);
}

static void setup_dir(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/metricd-notify-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	snprintf(sock_path, sizeof(sock_path), "%s/notify", tmpdir);
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_PID");
}

static void teardown_dir(void)
{
	unlink(sock_path);
	rmdir(tmpdir);
}

/* ---- notify messages --------------------------------------------------- */

static void all_messages(int fd)
{
	char buf[1024], *end;
	struct timespec t0, t1;
	unsigned long long usec, lo, hi;

	notify_ready(NULL);
	expect_msg(fd, "READY=1");
	notify_ready("listening on 127.0.0.1:8080 workers=2");
	expect_msg(fd, "READY=1\nSTATUS=listening on 127.0.0.1:8080 workers=2");

	clock_gettime(CLOCK_MONOTONIC, &t0);
	notify_reloading();
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ck_assert_int_ge(recv_msg(fd, buf, sizeof(buf), 2000), 0);
	ck_assert_msg(strncmp(buf, "RELOADING=1\nMONOTONIC_USEC=", 27) == 0,
		      "got '%s'", buf);
	ck_assert(buf[27] >= '0' && buf[27] <= '9');
	usec = strtoull(buf + 27, &end, 10);
	ck_assert_int_eq(*end, '\0');
	lo = (unsigned long long)t0.tv_sec * 1000000ULL + (unsigned long long)t0.tv_nsec / 1000;
	hi = (unsigned long long)t1.tv_sec * 1000000ULL + (unsigned long long)t1.tv_nsec / 1000;
	ck_assert_msg(usec >= lo && usec <= hi, "MONOTONIC_USEC=%llu not in [%llu, %llu]",
		      usec, lo, hi);

	notify_ready(NULL);
	expect_msg(fd, "READY=1");
	notify_status("draining %d connection(s)", 3);
	expect_msg(fd, "STATUS=draining 3 connection(s)");
	notify_watchdog();
	expect_msg(fd, "WATCHDOG=1");
	notify_stopping();
	expect_msg(fd, "STOPPING=1");
	expect_nothing(fd);
}

START_TEST(test_path_socket)
{
	int fd = manager_socket(sock_path);

	setenv("NOTIFY_SOCKET", sock_path, 1);
	notify_init();
	all_messages(fd);
	close(fd);
}
END_TEST

START_TEST(test_abstract_socket)
{
	char name[64];
	int fd;

	snprintf(name, sizeof(name), "@metricd-test-notify-%d-%ld", (int)getpid(),
		 (long)time(NULL));
	fd = manager_socket(name);
	setenv("NOTIFY_SOCKET", name, 1);
	notify_init();
	all_messages(fd);
	close(fd);
}
END_TEST

/* A newline in a status would start a new KEY= assignment: it is blanked. */
START_TEST(test_status_newline_blanked)
{
	int fd = manager_socket(sock_path);

	setenv("NOTIFY_SOCKET", sock_path, 1);
	notify_init();
	notify_status("a\nREADY=1");
	expect_msg(fd, "STATUS=a READY=1");
	notify_ready("x\nSTOPPING=1");
	expect_msg(fd, "READY=1\nSTATUS=x STOPPING=1");
	close(fd);
}
END_TEST

/* Not started by systemd: every call is a no-op, and the environment is
 * read by notify_init() only. */
START_TEST(test_no_notify_socket)
{
	int fd = manager_socket(sock_path);

	notify_init();                   /* NOTIFY_SOCKET unset */
	setenv("NOTIFY_SOCKET", sock_path, 1);
	notify_ready("x");
	notify_reloading();
	notify_status("y");
	notify_watchdog();
	notify_stopping();
	expect_nothing(fd);
	ck_assert_uint_eq(notify_watchdog_usec(), 0);
	close(fd);
}
END_TEST

/* A manager that went away: sends fail quietly, no SIGPIPE, no crash. */
START_TEST(test_manager_gone)
{
	setenv("NOTIFY_SOCKET", sock_path, 1);     /* nothing bound there */
	notify_init();
	notify_ready(NULL);
	notify_stopping();
	setenv("NOTIFY_SOCKET", "@", 1);           /* empty abstract name */
	notify_init();
	notify_ready(NULL);
}
END_TEST

/* ---- watchdog ------------------------------------------------------------ */

static uint64_t watchdog_with(const char *usec, const char *pid)
{
	if (usec)
		setenv("WATCHDOG_USEC", usec, 1);
	else
		unsetenv("WATCHDOG_USEC");
	if (pid)
		setenv("WATCHDOG_PID", pid, 1);
	else
		unsetenv("WATCHDOG_PID");
	notify_init();
	return notify_watchdog_usec();
}

START_TEST(test_watchdog_usec)
{
	char me[32], other[32];

	snprintf(me, sizeof(me), "%d", (int)getpid());
	snprintf(other, sizeof(other), "%d", (int)getpid() + 1);
	ck_assert_uint_eq(watchdog_with(NULL, NULL), 0);
	ck_assert_uint_eq(watchdog_with("5000000", NULL), 5000000);
	ck_assert_uint_eq(watchdog_with("30000000", me), 30000000);
	ck_assert_uint_eq(watchdog_with("30000000", other), 0);
	ck_assert_uint_eq(watchdog_with("0", NULL), 0);
	ck_assert_uint_eq(watchdog_with("abc", NULL), 0);
	ck_assert_uint_eq(watchdog_with("12x", NULL), 0);
	ck_assert_uint_eq(watchdog_with("-5", NULL), 0);
	ck_assert_uint_eq(watchdog_with("", NULL), 0);
	ck_assert_uint_eq(watchdog_with("99999999999999999999999", NULL), 0);
}
END_TEST

/* ---- socket activation ------------------------------------------------- */

enum listen_case { LC_OK, LC_OTHER_PID, LC_NO_FDS, LC_NOT_LISTENING, LC_DGRAM };

/* In a child: put a socket on fd 3 the way systemd does, set LISTEN_*,
 * and check what notify_listen_fd() makes of it.  Exit status 0 = as
 * expected, else the number of the failed check. */
static int listen_child(enum listen_case lc)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);
	char pid[32];
	int s, c, fd, fl;

	s = socket(AF_INET, lc == LC_DGRAM ? SOCK_DGRAM : SOCK_STREAM, 0);
	if (s < 0 || bind(s, (struct sockaddr *)&sa, sizeof(sa)))
		return 10;
	if (lc != LC_NOT_LISTENING && lc != LC_DGRAM && listen(s, 8))
		return 11;
	if (s != 3 && (dup2(s, 3) != 3 || close(s)))
		return 12;
	/* as passed by systemd: blocking, inherited across exec */
	fcntl(3, F_SETFD, 0);
	fcntl(3, F_SETFL, fcntl(3, F_GETFL) & ~O_NONBLOCK);
	snprintf(pid, sizeof(pid), "%d", lc == LC_OTHER_PID ? (int)getppid() : (int)getpid());
	setenv("LISTEN_PID", pid, 1);
	if (lc != LC_NO_FDS)
		setenv("LISTEN_FDS", "1", 1);

	int fds[4] = { -1, -1, -1, -1 }, n = notify_listen_fds(fds, 4);

	if (lc != LC_OK)
		return n == 0 ? 0 : 20;
	fd = fds[0];
	if (n != 1 || fd != 3)
		return 21;
	fds[0] = -1;                           /* same answer the second time */
	if (notify_listen_fds(fds, 4) != 1 || fds[0] != 3)
		return 22;
	fl = fcntl(3, F_GETFL);
	if (fl < 0 || !(fl & O_NONBLOCK))
		return 23;
	if (!(fcntl(3, F_GETFD) & FD_CLOEXEC))
		return 24;
	/* and it is the socket we passed: a client gets through */
	if (getsockname(3, (struct sockaddr *)&sa, &sl))
		return 25;
	c = socket(AF_INET, SOCK_STREAM, 0);
	if (c < 0 || connect(c, (struct sockaddr *)&sa, sizeof(sa)))
		return 26;
	for (int i = 0; i < 200; i++) {
		int a = accept(3, NULL, NULL);

		if (a >= 0) {
			close(a);
			close(c);
			return 0;
		}
		usleep(10000);
	}
	return 27;
}

static void run_listen_case(enum listen_case lc)
{
	int st;
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int rc = listen_child(lc);

		COVERAGE_DUMP();          /* _exit runs no exit handlers */
		_exit(rc);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st), "child died by signal %d", WTERMSIG(st));
	ck_assert_msg(WEXITSTATUS(st) == 0, "case %d: check %d failed", (int)lc,
		      WEXITSTATUS(st));
}

START_TEST(test_listen_fd)
{
	run_listen_case(LC_OK);
}
END_TEST

START_TEST(test_listen_fd_other_pid)
{
	run_listen_case(LC_OTHER_PID);
}
END_TEST

START_TEST(test_listen_fd_none)
{
	run_listen_case(LC_NO_FDS);
}
END_TEST

START_TEST(test_listen_fd_not_listening)
{
	run_listen_case(LC_NOT_LISTENING);
	run_listen_case(LC_DGRAM);
}
END_TEST

static Suite *notify_suite(void)
{
	Suite *s = suite_create("notify");
	TCase *tc = tcase_create("notify");

	tcase_add_checked_fixture(tc, setup_dir, teardown_dir);
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, test_path_socket);
	tcase_add_test(tc, test_abstract_socket);
	tcase_add_test(tc, test_status_newline_blanked);
	tcase_add_test(tc, test_no_notify_socket);
	tcase_add_test(tc, test_manager_gone);
	tcase_add_test(tc, test_watchdog_usec);
	tcase_add_test(tc, test_listen_fd);
	tcase_add_test(tc, test_listen_fd_other_pid);
	tcase_add_test(tc, test_listen_fd_none);
	tcase_add_test(tc, test_listen_fd_not_listening);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(notify_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
