/* SPDX-License-Identifier: BSD-2-Clause */
/* The service manager's side: sd_notify(3) and socket activation
 * (sd_listen_fds(3)).
 *
 * With libsystemd (configure --with-systemd, HAVE_LIBSYSTEMD) the messages go
 * through sd_notify() and the fds through sd_listen_fds(); without it, a
 * small built-in implementation speaks the same protocol:
 *   - notify: one AF_UNIX SOCK_DGRAM datagram per message, "KEY=VALUE" lines,
 *     sent to $NOTIFY_SOCKET (a path, or "@name" for the abstract namespace;
 *     the kernel attaches our credentials, which is how systemd knows the
 *     sender is the main process);
 *   - activation: LISTEN_PID must be our pid, LISTEN_FDS the count of fds
 *     passed from fd 3 (SD_LISTEN_FDS_START) upwards.
 * NOTIFY_NO_LIBSYSTEMD forces the built-in one (tests build both).
 *
 * Threads: notify_init() and notify_listen_fd() run on the main thread
 * before any other thread starts; they are the only writers of the state
 * below.  After that the state is read-only and any thread may send (each
 * message opens, sends on and closes its own socket, as libsystemd does), so
 * no lock is needed.  Nothing here is on the request path. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#if defined(HAVE_LIBSYSTEMD) && !defined(NOTIFY_NO_LIBSYSTEMD)
#define NOTIFY_USE_LIBSYSTEMD 1
#include <systemd/sd-daemon.h>
#endif

#include "core/base/clock.h"
#include "core/base/log.h"
#include "core/notify.h"

#define LISTEN_FDS_START 3

/* Process-wide facts learnt from the environment at start. */
static struct {
	bool enabled;                  /* NOTIFY_SOCKET was set and usable */
	uint64_t watchdog_usec;
#ifndef NOTIFY_USE_LIBSYSTEMD
	struct sockaddr_un addr;
	socklen_t addrlen;
#endif
} notify_state;

#ifndef NOTIFY_USE_LIBSYSTEMD
/* Strict decimal: digits only, no sign, no junk, no overflow. */
static bool parse_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0;

	if (!s || !*s)
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return false;
		if (v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return false;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return true;
}
#endif

/* WATCHDOG_USEC applies to us when WATCHDOG_PID is unset or is our pid. */
static uint64_t watchdog_from_env(void)
{
#ifdef NOTIFY_USE_LIBSYSTEMD
	uint64_t usec = 0;

	return sd_watchdog_enabled(0, &usec) > 0 ? usec : 0;
#else
	const char *pid_s = getenv("WATCHDOG_PID");
	uint64_t usec, pid;

	if (!parse_u64(getenv("WATCHDOG_USEC"), &usec) || usec == 0)
		return 0;
	if (pid_s && (!parse_u64(pid_s, &pid) || pid != (uint64_t)getpid()))
		return 0;
	return usec;
#endif
}

#ifdef NOTIFY_USE_LIBSYSTEMD

static void notify_send(const char *msg)
{
	if (notify_state.enabled)
		sd_notify(0, msg);
}

#else

/* "/run/systemd/notify" or "@abstract" -> sockaddr; false if unusable
 * (too long, empty, or a kind we do not speak such as "vsock:"). */
static bool notify_addr(const char *path, struct sockaddr_un *sa, socklen_t *len)
{
	size_t n = strlen(path);

	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (path[0] == '@') {
		if (n < 2 || n > sizeof(sa->sun_path))
			return false;
		/* abstract: a leading NUL, then the name; the length says where
		 * it ends (no trailing NUL belongs to the name) */
		memcpy(sa->sun_path + 1, path + 1, n - 1);
		*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
		return true;
	}
	if (path[0] != '/' || n >= sizeof(sa->sun_path))
		return false;
	memcpy(sa->sun_path, path, n + 1);
	*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
	return true;
}

static void notify_send(const char *msg)
{
	int fd;

	if (!notify_state.enabled)
		return;
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	/* MSG_NOSIGNAL: a vanished manager must not kill us with SIGPIPE. */
	if (sendto(fd, msg, strlen(msg), MSG_NOSIGNAL,
		   (const struct sockaddr *)&notify_state.addr,
		   notify_state.addrlen) < 0)
		log_debug("sd_notify: %s", strerror(errno));
	close(fd);
}

#endif

void notify_init(void)
{
	const char *path = getenv("NOTIFY_SOCKET");

	memset(&notify_state, 0, sizeof(notify_state));
	notify_state.watchdog_usec = watchdog_from_env();
	if (!path || !*path)
		return;
#ifdef NOTIFY_USE_LIBSYSTEMD
	notify_state.enabled = true;
#else
	notify_state.enabled = notify_addr(path, &notify_state.addr,
					   &notify_state.addrlen);
	if (!notify_state.enabled)
		log_warn("NOTIFY_SOCKET=%s is not a socket path this build can use", path);
#endif
}

void notify_ready(const char *status)
{
	char msg[512] = "READY=1";

	if (status) {
		snprintf(msg, sizeof(msg), "READY=1\nSTATUS=%s", status);
		/* A newline in the status would start a new assignment. */
		for (char *p = msg + 8; (p = strchr(p, '\n')); p++)
			*p = ' ';
	}
	notify_send(msg);
}

void notify_reloading(void)
{
	char msg[64];

	snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu",
		 (unsigned long long)(clock_mono_ns() / 1000));
	notify_send(msg);
}

void notify_stopping(void)
{
	notify_send("STOPPING=1");
}

void notify_status(const char *fmt, ...)
{
	char msg[512] = "STATUS=";
	va_list ap;

	if (!notify_state.enabled)
		return;
	va_start(ap, fmt);
	vsnprintf(msg + 7, sizeof(msg) - 7, fmt, ap);
	va_end(ap);
	for (char *p = msg; (p = strchr(p, '\n')); p++)
		*p = ' ';
	notify_send(msg);
}

uint64_t notify_watchdog_usec(void)
{
	return notify_state.watchdog_usec;
}

void notify_watchdog(void)
{
	notify_send("WATCHDOG=1");
}

/* ---- socket activation -------------------------------------------------- */

/* How many fds were passed to this process; 0 when none (or not to us). */
static int listen_fds_count(void)
{
#ifdef NOTIFY_USE_LIBSYSTEMD
	/* 0: leave the environment alone; another thread may be reading it. */
	int n = sd_listen_fds(0);

	return n > 0 ? n : 0;
#else
	uint64_t pid, n;

	if (!parse_u64(getenv("LISTEN_PID"), &pid) || pid != (uint64_t)getpid())
		return 0;
	if (!parse_u64(getenv("LISTEN_FDS"), &n) || n == 0 || n > 64)
		return 0;
	return (int)n;
#endif
}

static bool is_listening_stream(int fd)
{
	int type = 0, acc = 0;
	socklen_t l1 = sizeof(type), l2 = sizeof(acc);

	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &l1) ||
	    getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &l2))
		return false;
	return type == SOCK_STREAM && acc;
}

/* -1: not looked up yet; then how many fds were passed and usable. */
static int listen_fds_cached = -1;
static int listen_fds_list[NOTIFY_MAX_LISTEN_FDS];

/* Each passed fd must be a listening stream socket; made non-blocking. */
static int take_listen_fds(int n)
{
	for (int i = 0; i < n; i++) {
		int fd = LISTEN_FDS_START + i, fl;

		if (!is_listening_stream(fd)) {
			log_error("socket activation: fd %d is not a listening stream socket "
				  "(the .socket unit needs ListenStream=)", fd);
			return 0;
		}
		fl = fcntl(fd, F_GETFL);
		if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
			log_error("socket activation: fd %d: %s", fd, strerror(errno));
			return 0;
		}
		listen_fds_list[i] = fd;
	}
	return n;
}

int notify_listen_fds(int *fds, int max)
{
	int n;

	if (listen_fds_cached < 0) {
		n = listen_fds_count();
		/* Passed fds arrive without FD_CLOEXEC; none of them may leak. */
		for (int i = 0; i < n; i++)
			fcntl(LISTEN_FDS_START + i, F_SETFD, FD_CLOEXEC);
		if (n > NOTIFY_MAX_LISTEN_FDS) {
			log_warn("socket activation passed %d fds; using the first %d",
				 n, NOTIFY_MAX_LISTEN_FDS);
			n = NOTIFY_MAX_LISTEN_FDS;
		}
		listen_fds_cached = take_listen_fds(n);
	}
	n = listen_fds_cached < max ? listen_fds_cached : max;
	memcpy(fds, listen_fds_list, (size_t)n * sizeof(*fds));
	return n;
}
