/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#ifdef HAVE_OPENSSL
#include <openssl/ssl.h>
#endif

#include "tests/blast/stallserver.h"
#include "tests/blast/testcert.h"

#define MAX_CLIENTS 512
#define INBUF 65536
#define MAX_ARRIVALS 100000

struct client {
	int fd;
	void *ssl;
	size_t len;
	char buf[INBUF];
};

struct outbuf {
	char *p;
	size_t len, cap;
};

struct stallserver {
	struct stall_opts o;
	int lfd, port;
	int wake[2];
	pthread_t tid;
	atomic_uint_fast64_t requests, conns;
	uint64_t *arrivals;
	char (*records)[STALL_RECORD];
	void *tls_ctx;
	char sni[256];
	uint64_t resumed;
	struct client *cl[MAX_CLIENTS];
	unsigned ncl;
	struct outbuf out;
};

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void put(struct outbuf *b, const char *s, size_t n)
{
	if (b->len + n > b->cap) {
		size_t nc = (b->len + n) * 2;
		char *np = realloc(b->p, nc);
		if (!np)
			abort();
		b->p = np;
		b->cap = nc;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

static void puts_(struct outbuf *b, const char *s)
{
	put(b, s, strlen(s));
}

static void putf(struct outbuf *b, const char *fmt, unsigned a)
{
	char tmp[128];
	int n = snprintf(tmp, sizeof tmp, fmt, a);
	put(b, tmp, (size_t)n);
}

static void put_body(struct outbuf *b, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		puts_(b, "x");
}

/* The response for one request, appended to the output buffer. */
static void respond(struct stallserver *s, int head)
{
	const struct stall_opts *o = &s->o;
	struct outbuf *b = &s->out;
	int v10 = o->mode == STALL_HTTP10 || o->mode == STALL_HTTP10_EOF;
	putf(b, v10 ? "HTTP/1.0 %u Test\r\n" : "HTTP/1.1 %u Test\r\n", o->status);
	puts_(b, "Server: stallserver\r\n");
	if (o->mode == STALL_CLOSE)
		puts_(b, "Connection: close\r\n");
	if (o->chunked && !v10) {
		puts_(b, "Transfer-Encoding: chunked\r\n\r\n");
		if (head)
			return;
		unsigned first = o->body_len / 2, second = o->body_len - first;
		if (first) {
			putf(b, "%x;ext=1\r\n", first);
			put_body(b, first);
			puts_(b, "\r\n");
		}
		if (second) {
			putf(b, "%X\r\n", second);
			put_body(b, second);
			puts_(b, "\r\n");
		}
		puts_(b, "0\r\nX-Trailer: yes\r\n\r\n");
		return;
	}
	if (o->mode != STALL_HTTP10_EOF)
		putf(b, "Content-Length: %u\r\n", o->body_len);
	puts_(b, "\r\n");
	if (!head)
		put_body(b, o->body_len);
}

static size_t content_length(const char *h, size_t n)
{
	for (size_t i = 0; i + 16 < n; i++)
		if ((i == 0 || h[i - 1] == '\n') && strncasecmp(h + i, "content-length:", 15) == 0)
			return strtoul(h + i + 15, NULL, 10);
	return 0;
}

static int send_all(struct client *c, const char *p, size_t n)
{
	while (n) {
		ssize_t w;
#ifdef HAVE_OPENSSL
		if (c->ssl)
			w = SSL_write(c->ssl, p, (int)n);
		else
#endif
			w = send(c->fd, p, n, MSG_NOSIGNAL);
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static ssize_t client_recv(struct client *c, char *buf, size_t len)
{
#ifdef HAVE_OPENSSL
	if (c->ssl)
		return SSL_read(c->ssl, buf, (int)len);
#endif
	return recv(c->fd, buf, len, 0);
}

static int client_pending(struct client *c)
{
#ifdef HAVE_OPENSSL
	return c->ssl && SSL_pending(c->ssl) > 0;
#else
	(void)c;
	return 0;
#endif
}

/* Handle every complete request in the client's buffer.  Returns -1 when
 * the connection must be closed. */
static int process(struct stallserver *s, struct client *c)
{
	size_t off = 0;
	int keep = 1;
	s->out.len = 0;
	while (keep) {
		char *end = memmem(c->buf + off, c->len - off, "\r\n\r\n", 4);
		if (!end)
			break;
		size_t head = (size_t)(end - (c->buf + off)) + 4;
		size_t total = head + content_length(c->buf + off, head);
		if (c->len - off < total)
			break;
		int is_head = strncmp(c->buf + off, "HEAD ", 5) == 0;
		off += total;
		uint64_t n = atomic_fetch_add(&s->requests, 1);
		if (n < MAX_ARRIVALS)
			s->arrivals[n] = mono_ns();
		if (s->records && n < STALL_MAX_RECORDS) {
			size_t k = total < STALL_RECORD - 1 ? total : STALL_RECORD - 1;
			memcpy(s->records[n], c->buf + off - total, k);
			s->records[n][k] = 0;
		}
		if (s->o.stall_at && n + 1 == s->o.stall_at) {
			struct timespec ts = {s->o.stall_ms / 1000, (long)(s->o.stall_ms % 1000) * 1000000};
			nanosleep(&ts, NULL);
		}
		switch (s->o.mode) {
		case STALL_DROP:
			return -1;
		case STALL_SILENT:
			continue;
		case STALL_KEEPALIVE:
			respond(s, is_head);
			break;
		default: /* one response, then close */
			respond(s, is_head);
			keep = 0;
		}
	}
	memmove(c->buf, c->buf + off, c->len - off);
	c->len -= off;
	if (s->out.len && send_all(c, s->out.p, s->out.len) < 0)
		return -1;
	return keep ? 0 : -1;
}

static void drop_client(struct stallserver *s, unsigned i)
{
#ifdef HAVE_OPENSSL
	if (s->cl[i]->ssl) {
		SSL_shutdown(s->cl[i]->ssl);
		SSL_free(s->cl[i]->ssl);
	}
#endif
	close(s->cl[i]->fd);
	free(s->cl[i]);
	s->cl[i] = s->cl[--s->ncl];
}

/* A blocking handshake, bounded so that a client that never finishes it
 * cannot hang the test. */
static int tls_accept(struct stallserver *s, struct client *c)
{
#ifdef HAVE_OPENSSL
	struct timeval tv = {5, 0};
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	SSL *ssl = SSL_new(s->tls_ctx);
	if (!ssl || SSL_set_fd(ssl, c->fd) != 1 || SSL_accept(ssl) != 1) {
		SSL_free(ssl);
		return -1;
	}
	s->resumed += SSL_session_reused(ssl) == 1;
	c->ssl = ssl;
	return 0;
#else
	(void)s;
	(void)c;
	return -1;
#endif
}

static void accept_all(struct stallserver *s)
{
	for (;;) {
		int fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			return;
		struct client *c = malloc(sizeof *c);
		if (!c || s->ncl == MAX_CLIENTS) {
			free(c);
			close(fd);
			continue;
		}
		c->fd = fd;
		c->len = 0;
		c->ssl = NULL;
		if (s->tls_ctx && tls_accept(s, c) < 0) {
			free(c);
			close(fd);
			continue;
		}
		s->cl[s->ncl++] = c;
		atomic_fetch_add(&s->conns, 1);
	}
}

static void *serve(void *arg)
{
	struct stallserver *s = arg;
	struct pollfd pfd[MAX_CLIENTS + 2];
	for (;;) {
		unsigned n = s->ncl;
		pfd[0] = (struct pollfd){.fd = s->wake[0], .events = POLLIN};
		pfd[1] = (struct pollfd){.fd = s->lfd, .events = POLLIN};
		for (unsigned i = 0; i < n; i++)
			pfd[i + 2] = (struct pollfd){.fd = s->cl[i]->fd, .events = POLLIN};
		if (poll(pfd, n + 2, -1) < 0)
			continue;
		if (pfd[0].revents)
			break;
		/* Walk backwards: drop_client moves the last client into i. */
		for (unsigned i = n; i-- > 0;) {
			if (!pfd[i + 2].revents)
				continue;
			struct client *c = s->cl[i];
			int gone = 0;
			do { /* TLS: records OpenSSL already holds are not in poll's view */
				ssize_t r = client_recv(c, c->buf + c->len, INBUF - c->len);
				c->len += r > 0 ? (size_t)r : 0;
				gone = r <= 0 || process(s, c) < 0 || c->len == INBUF;
			} while (!gone && client_pending(c));
			if (gone)
				drop_client(s, i);
		}
		if (pfd[1].revents)
			accept_all(s);
	}
	return NULL;
}

static int listen_on(struct stallserver *s)
{
	struct sockaddr_storage ss;
	socklen_t len;
	memset(&ss, 0, sizeof ss);
	if (s->o.unix_path) {
		struct sockaddr_un *a = (struct sockaddr_un *)&ss;
		a->sun_family = AF_UNIX;
		snprintf(a->sun_path, sizeof a->sun_path, "%s", s->o.unix_path);
		unlink(s->o.unix_path);
		s->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		return s->lfd < 0 || bind(s->lfd, (struct sockaddr *)a, sizeof *a) < 0 ||
		       listen(s->lfd, 512) < 0 ? -1 : 0;
	}
	if (s->o.ipv6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
		a->sin6_family = AF_INET6;
		a->sin6_addr = in6addr_loopback;
		len = sizeof *a;
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		a->sin_family = AF_INET;
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof *a;
	}
	s->lfd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->lfd < 0 || bind(s->lfd, (struct sockaddr *)&ss, len) < 0 || listen(s->lfd, 512) < 0 ||
	    getsockname(s->lfd, (struct sockaddr *)&ss, &len) < 0)
		return -1;
	s->port = ntohs(s->o.ipv6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
				  : ((struct sockaddr_in *)&ss)->sin_port);
	return 0;
}

struct stallserver *stall_start(const struct stall_opts *o)
{
	struct stallserver *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	s->o = *o;
	if (!s->o.status)
		s->o.status = 200;
	if (!s->o.body_len)
		s->o.body_len = 16;
	s->lfd = s->wake[0] = s->wake[1] = -1;
	s->arrivals = calloc(MAX_ARRIVALS, sizeof *s->arrivals);
	if (o->record)
		s->records = calloc(STALL_MAX_RECORDS, sizeof *s->records);
	if (o->tls)
		s->tls_ctx = testcert_server_ctx(s->sni, sizeof s->sni);
	if (!s->arrivals || (o->record && !s->records) || (o->tls && !s->tls_ctx) ||
	    listen_on(s) < 0 || pipe(s->wake) < 0 || pthread_create(&s->tid, NULL, serve, s) != 0) {
		if (s->lfd >= 0)
			close(s->lfd);
		testcert_ctx_free(s->tls_ctx);
		free(s->records);
		free(s->arrivals);
		free(s);
		return NULL;
	}
	return s;
}

int stall_port(const struct stallserver *s)
{
	return s->port;
}

uint64_t stall_requests(const struct stallserver *s)
{
	return atomic_load(&s->requests);
}

uint64_t stall_connections(const struct stallserver *s)
{
	return atomic_load(&s->conns);
}

uint64_t stall_arrival(const struct stallserver *s, uint64_t i)
{
	return i < MAX_ARRIVALS ? s->arrivals[i] : 0;
}

const char *stall_request_text(const struct stallserver *s, uint64_t i)
{
	return s->records && i < STALL_MAX_RECORDS ? s->records[i] : "";
}

const char *stall_sni(const struct stallserver *s)
{
	return s->sni;
}

uint64_t stall_tls_resumed(const struct stallserver *s)
{
	return s->resumed;
}

int stall_write_cert(const struct stallserver *s, const char *path)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	int rc = testcert_write_pem(s->tls_ctx, f);
	return fclose(f) == 0 ? rc : -1;
}

void stall_stop(struct stallserver *s)
{
	if (s->lfd < 0)
		return;
	if (write(s->wake[1], "x", 1) != 1)
		abort();
	pthread_join(s->tid, NULL);
	while (s->ncl)
		drop_client(s, s->ncl - 1);
	close(s->lfd);
	close(s->wake[0]);
	close(s->wake[1]);
	s->lfd = -1;
}

void stall_free(struct stallserver *s)
{
	stall_stop(s);
	if (s->o.unix_path)
		unlink(s->o.unix_path);
	testcert_ctx_free(s->tls_ctx);
	free(s->records);
	free(s->arrivals);
	free(s->out.p);
	free(s);
}
