/* SPDX-License-Identifier: BSD-2-Clause */
/* refserver: the cheapest possible HTTP/1.1 "server", to benchmark load
 * generators rather than servers.  Two threads (or -t N), each with its
 * own SO_REUSEPORT listening socket and epoll loop, answer every
 * "\r\n\r\n" they read with the same fixed response.  Nothing is parsed:
 * no method, no headers, no body (so requests must not have one).
 * Pipelined requests get their responses in one write.
 *
 *   refserver [-t THREADS] [-p PORT]   prints "port N", serves until
 *                                      SIGTERM/SIGINT
 * Loopback only (127.0.0.1).
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

/* The body nginx returns in the blast benchmarks, so both servers send
 * the same bytes. */
#define BODY "{\"id\":1,\"timestamp\":1700000000000000000,\"value\":0.123456}"
#define STR_(x) #x
#define STR(x) STR_(x)
#define BODY_LEN 57
static const char RESPONSE[] = "HTTP/1.1 200 OK\r\nContent-Length: " STR(BODY_LEN) "\r\n\r\n" BODY;
_Static_assert(sizeof BODY - 1 == BODY_LEN, "Content-Length must match the body");
#define RESP_LEN (sizeof RESPONSE - 1)
#define MAX_FD 65536
#define OUT_MAX 1024 /* responses written at once */

struct conn {
	unsigned char match; /* bytes of "\r\n\r\n" matched so far */
	unsigned pending;    /* responses owed but not yet written */
	size_t partial;      /* bytes of the first owed response already written */
};

struct loop {
	int lfd, epfd;
	struct conn *conns;
	char *out; /* OUT_MAX responses back to back */
};

static int port;

/* Count request ends in buf, carrying a partial match between reads. */
static unsigned count_ends(struct conn *c, const char *buf, size_t n)
{
	static const char end[] = "\r\n\r\n";
	unsigned found = 0;
	unsigned char m = c->match;
	for (size_t i = 0; i < n; i++) {
		if (buf[i] == end[m]) {
			if (++m == 4) {
				found++;
				m = 0;
			}
		} else {
			m = buf[i] == '\r';
		}
	}
	c->match = m;
	return found;
}

/* Write what is owed; 0, or -1 to close. */
static int flush(struct loop *l, int fd, struct conn *c)
{
	while (c->pending) {
		unsigned k = c->pending < OUT_MAX ? c->pending : OUT_MAX;
		size_t len = (size_t)k * RESP_LEN - c->partial;
		ssize_t w = send(fd, l->out + c->partial, len, MSG_NOSIGNAL);
		if (w < 0)
			return errno == EAGAIN ? 0 : -1;
		size_t done = c->partial + (size_t)w;
		c->pending -= (unsigned)(done / RESP_LEN);
		c->partial = done % RESP_LEN;
	}
	return 0;
}

static void drop(struct loop *l, int fd)
{
	memset(&l->conns[fd], 0, sizeof l->conns[fd]);
	close(fd);
}

static void on_readable(struct loop *l, int fd)
{
	char buf[65536];
	struct conn *c = &l->conns[fd];
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof buf, 0);
		if (n > 0) {
			c->pending += count_ends(c, buf, (size_t)n);
			if ((size_t)n < sizeof buf)
				break;
			continue;
		}
		if (n < 0 && errno == EAGAIN)
			break;
		drop(l, fd);
		return;
	}
	if (flush(l, fd, c) < 0)
		drop(l, fd);
}

static void accept_all(struct loop *l)
{
	for (;;) {
		int fd = accept4(l->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		if (fd >= MAX_FD) {
			close(fd);
			continue;
		}
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
					 .data.fd = fd};
		if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
			close(fd);
	}
}

static void *serve(void *arg)
{
	struct loop *l = arg;
	struct epoll_event ev[256];
	for (;;) {
		int n = epoll_wait(l->epfd, ev, 256, -1);
		for (int i = 0; i < n; i++) {
			int fd = ev[i].data.fd;
			if (fd == l->lfd)
				accept_all(l);
			else if (ev[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
				on_readable(l, fd);
			else if (flush(l, fd, &l->conns[fd]) < 0)
				drop(l, fd);
		}
	}
	return NULL;
}

static int listen_socket(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof a;
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0 ||
	    bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, 4096) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) < 0)
		return -1;
	port = ntohs(a.sin_port); /* the first socket picks the port, the others share it */
	return fd;
}

static int start_loop(struct loop *l)
{
	l->lfd = listen_socket();
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	l->conns = calloc(MAX_FD, sizeof *l->conns);
	l->out = malloc(OUT_MAX * RESP_LEN);
	if (l->lfd < 0 || l->epfd < 0 || !l->conns || !l->out)
		return -1;
	for (unsigned i = 0; i < OUT_MAX; i++)
		memcpy(l->out + i * RESP_LEN, RESPONSE, RESP_LEN);
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = l->lfd};
	pthread_t tid;
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->lfd, &ev) < 0 ||
	    pthread_create(&tid, NULL, serve, l) != 0)
		return -1;
	return 0;
}

int main(int argc, char **argv)
{
	int threads = 2, opt;
	while ((opt = getopt(argc, argv, "t:p:")) != -1) {
		if (opt == 't' && atoi(optarg) > 0 && atoi(optarg) <= 64)
			threads = atoi(optarg);
		else if (opt == 'p' && atoi(optarg) >= 0 && atoi(optarg) < 65536)
			port = atoi(optarg);
		else {
			fputs("usage: refserver [-t THREADS] [-p PORT]\n", stderr);
			return 2;
		}
	}
	sigset_t set;
	int sig;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	struct loop *loops = calloc((size_t)threads, sizeof *loops);
	for (int i = 0; i < threads; i++)
		if (!loops || start_loop(&loops[i]) < 0) {
			perror("refserver");
			return 1;
		}
	printf("port %d\n", port);
	fflush(stdout);
	sigwait(&set, &sig);
	return 0;
}
