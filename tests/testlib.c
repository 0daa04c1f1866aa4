/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/testlib.h"

#ifndef METRICD_BIN
#error "METRICD_BIN must name the built metricd"
#endif

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int tl_server_start(struct tl_server *s, const char *const *argv_extra,
		    const char *const *env_extra)
{
	int pfd[2];
	const char *argv[64];
	int argc = 0;
	char line[4096];
	size_t len = 0;
	long deadline;

	memset(s, 0, sizeof(*s));
	if (pipe2(pfd, O_CLOEXEC))
		return -1;
	argv[argc++] = METRICD_BIN;
	argv[argc++] = "--listen";
	argv[argc++] = "127.0.0.1:0";
	for (; argv_extra && *argv_extra && argc < 62; argv_extra++)
		argv[argc++] = *argv_extra;
	argv[argc] = NULL;
	s->pid = fork();
	if (s->pid < 0)
		return -1;
	if (s->pid == 0) {
		dup2(pfd[1], STDERR_FILENO);
		for (; env_extra && *env_extra; env_extra++)
			putenv((char *)*env_extra);
		execv(METRICD_BIN, (char *const *)argv);
		_exit(127);
	}
	close(pfd[1]);
	s->err_fd = pfd[0];
	deadline = now_ms() + 10000;
	while (now_ms() < deadline && len < sizeof(line) - 1) {
		struct pollfd p = { s->err_fd, POLLIN, 0 };

		if (poll(&p, 1, 100) <= 0)
			continue;
		ssize_t n = read(s->err_fd, line + len, sizeof(line) - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
		line[len] = '\0';
		const char *at = strstr(line, "listening on 127.0.0.1:");
		if (at && strchr(at, '\n')) {
			s->port = atoi(at + strlen("listening on 127.0.0.1:"));
			fcntl(s->err_fd, F_SETFL, O_NONBLOCK);
			return 0;
		}
	}
	fprintf(stderr, "server did not start; it said:\n%.*s\n", (int)len, line);
	kill(s->pid, SIGKILL);
	waitpid(s->pid, NULL, 0);
	return -1;
}

int tl_server_stop(struct tl_server *s, int sig, int timeout_ms)
{
	long deadline = now_ms() + timeout_ms;
	int status;

	kill(s->pid, sig);
	while (now_ms() < deadline) {
		pid_t r = waitpid(s->pid, &status, WNOHANG);

		if (r == s->pid) {
			close(s->err_fd);
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		}
		usleep(10000);
	}
	kill(s->pid, SIGKILL);
	waitpid(s->pid, &status, 0);
	close(s->err_fd);
	return -1;
}

size_t tl_server_log(struct tl_server *s, char *buf, size_t len)
{
	ssize_t n = read(s->err_fd, buf, len - 1);

	buf[n > 0 ? n : 0] = '\0';
	return n > 0 ? (size_t)n : 0;
}

int tl_connect(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		close(fd);
		return -1;
	}
	return fd;
}

int tl_send_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;

	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

void tl_reader_init(struct tl_reader *r, int fd)
{
	r->fd = fd;
	r->len = r->off = 0;
}

/* Makes at least `need` unread bytes available. */
static int fill(struct tl_reader *r, size_t need, long deadline)
{
	while (r->len - r->off < need) {
		if (r->len == sizeof(r->buf))
			return -1;
		struct pollfd p = { r->fd, POLLIN, 0 };
		long left = deadline - now_ms();

		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			return -1;
		ssize_t n = recv(r->fd, r->buf + r->len, sizeof(r->buf) - r->len, 0);
		if (n <= 0)
			return -1;
		r->len += (size_t)n;
	}
	return 0;
}

const char *tl_header(const struct tl_resp *r, const char *name, char *val,
		      size_t len)
{
	size_t nl = strlen(name);

	for (const char *l = strstr(r->head, "\r\n"); l; l = strstr(l + 2, "\r\n")) {
		const char *h = l + 2;

		if (strncasecmp(h, name, nl) == 0 && h[nl] == ':') {
			const char *v = h + nl + 1, *e = strstr(v, "\r\n");

			while (*v == ' ')
				v++;
			size_t vl = e ? (size_t)(e - v) : strlen(v);
			if (vl >= len)
				vl = len - 1;
			memcpy(val, v, vl);
			val[vl] = '\0';
			return val;
		}
	}
	return NULL;
}

int tl_read_resp(struct tl_reader *r, struct tl_resp *out, bool head_only,
		 int timeout_ms)
{
	long deadline = now_ms() + timeout_ms;
	char *end;
	char v[64];

	memset(out, 0, sizeof(*out));
	out->content_length = -1;
	if (r->off) {
		memmove(r->buf, r->buf + r->off, r->len - r->off);
		r->len -= r->off;
		r->off = 0;
	}
	for (;;) {
		end = memmem(r->buf + r->off, r->len - r->off, "\r\n\r\n", 4);
		if (end)
			break;
		if (fill(r, r->len - r->off + 1, deadline))
			return -1;
	}
	size_t hl = (size_t)(end - (r->buf + r->off)) + 4;
	if (hl >= sizeof(out->head))
		return -1;
	memcpy(out->head, r->buf + r->off, hl);
	out->head[hl] = '\0';
	r->off += hl;
	if (sscanf(out->head, "HTTP/1.%*d %d", &out->status) != 1)
		return -1;
	if (tl_header(out, "Content-Length", v, sizeof(v)))
		out->content_length = atol(v);
	if (tl_header(out, "Connection", v, sizeof(v)) && strcasecmp(v, "close") == 0)
		out->conn_close = true;
	if (head_only || out->content_length <= 0)
		return 0;
	if ((size_t)out->content_length >= sizeof(out->body) ||
	    fill(r, (size_t)out->content_length, deadline))
		return -1;
	memcpy(out->body, r->buf + r->off, (size_t)out->content_length);
	out->body[out->content_length] = '\0';
	out->body_len = (size_t)out->content_length;
	r->off += out->body_len;
	return 0;
}

bool tl_wait_eof(struct tl_reader *r, int timeout_ms)
{
	long deadline = now_ms() + timeout_ms;

	for (;;) {
		struct pollfd p = { r->fd, POLLIN, 0 };
		long left = deadline - now_ms();
		char b[512];

		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			return false;
		ssize_t n = recv(r->fd, b, sizeof(b), 0);
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			return true;
		if (n < 0)
			return false;
	}
}

int tl_get(int port, const char *raw_request, struct tl_resp *out)
{
	struct tl_reader *r = malloc(sizeof(*r));
	int fd = tl_connect(port), rc = -1;

	if (fd >= 0 && r && tl_send_all(fd, raw_request, strlen(raw_request)) == 0) {
		tl_reader_init(r, fd);
		rc = tl_read_resp(r, out, strncmp(raw_request, "HEAD ", 5) == 0, 5000);
	}
	if (fd >= 0)
		close(fd);
	free(r);
	return rc;
}
