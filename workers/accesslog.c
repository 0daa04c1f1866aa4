/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <http_parser.h>

#include "core/base/log.h"
#include "core/base/sbuf.h"
#include "queue/text.h"
#include "workers/accesslog.h"

int alog_init(struct alog *l, unsigned nrings)
{
	memset(l, 0, sizeof(*l));
	l->fd = -1;
	pthread_mutex_init(&l->path_lock, NULL);
	l->nrings = nrings;
	l->rings = calloc(nrings, sizeof(*l->rings));
	if (!l->rings)
		return -ENOMEM;
	for (unsigned i = 0; i < nrings; i++) {
		/* Reserved, touched only when lines are written. */
		void *p = mmap(NULL, ALOG_RING_SIZE, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

		if (p == MAP_FAILED)
			return -ENOMEM;
		l->rings[i].buf = p;
	}
	return 0;
}

bool alog_put(struct alog_ring *r, const char *line, size_t len)
{
	uint64_t head = __atomic_load_n(&r->head, __ATOMIC_ACQUIRE);
	uint64_t tail = r->tail;

	if (len > ALOG_RING_SIZE - (tail - head)) {
		__atomic_store_n(&r->dropped, r->dropped + 1, __ATOMIC_RELAXED);
		return false;
	}
	size_t at = (size_t)(tail & (ALOG_RING_SIZE - 1));
	size_t first = len < ALOG_RING_SIZE - at ? len : ALOG_RING_SIZE - at;

	memcpy(r->buf + at, line, first);
	memcpy(r->buf, line + first, len - first);
	__atomic_store_n(&r->tail, tail + len, __ATOMIC_RELEASE);
	return true;
}

/* ---- the line ------------------------------------------------------------ */

void alog_date(char out[32], time_t sec, enum alog_format fmt)
{
	struct tm tm;

	gmtime_r(&sec, &tm);
	strftime(out, 32, fmt == ALOG_JSON ? "%Y-%m-%dT%H:%M:%S+00:00"
					   : "[%d/%b/%Y:%H:%M:%S +0000]", &tm);
}

static const char hex[] = "0123456789ABCDEF";

/* As nginx escapes its log's variables: '"', '\' and bytes below 0x20 or
 * from 0x7f up as \xHH, so a line is one line of printable ASCII and its
 * quoted fields end at the first '"' (what log tools split on). */
static void put_escaped(struct sbuf *b, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c == '"' || c == '\\' || c < 0x20 || c >= 0x7f) {
			char e[4] = { '\\', 'x', hex[c >> 4], hex[c & 15] };

			sbuf_putn(b, e, 4);
		} else {
			sbuf_putn(b, p + i, 1);
		}
	}
}

/* Length of the well-formed UTF-8 sequence at p (RFC 3629: no overlong
 * forms, no surrogates, nothing above U+10FFFF); 0 if there is none. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
	unsigned char c = p[0], lo = 0x80, hi = 0xbf;
	size_t k;

	if (c >= 0xc2 && c <= 0xdf)
		k = 2;
	else if (c >= 0xe0 && c <= 0xef)
		k = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		k = 4;
	else
		return 0;
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (n < k || p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < k; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return k;
}

/* A JSON string's contents (RFC 8259): '"' and '\' escaped, control
 * bytes and DEL as \u00XX, well-formed UTF-8 as it is; a byte that is not
 * part of any is written as \u00XX too (its Latin-1 reading), so the line
 * stays valid JSON whatever a client sent. */
static void put_json_escaped(struct sbuf *b, const char *p, size_t n)
{
	const unsigned char *u = (const unsigned char *)p;

	for (size_t i = 0; i < n; ) {
		unsigned char c = u[i];
		size_t k = c >= 0x80 ? utf8_len(u + i, n - i) : 1;

		if (c == '"' || c == '\\') {
			char e[2] = { '\\', (char)c };

			sbuf_putn(b, e, 2);
		} else if (c < 0x20 || c == 0x7f || k == 0) {
			char e[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };

			sbuf_putn(b, e, 6);
		} else {
			sbuf_putn(b, p + i, k);
			i += k;
			continue;
		}
		i++;
	}
}

/* Seconds with microseconds, as "0.000107". */
static void put_seconds(struct sbuf *b, uint64_t ns)
{
	uint64_t us = ns / 1000;
	char frac[7];

	sbuf_u64(b, us / 1000000);
	for (int i = 5; i >= 0; i--, us /= 10)
		frac[i + 1] = (char)('0' + us % 10);
	frac[0] = '.';
	sbuf_putn(b, frac, sizeof(frac));
}

/* What a line shows of the request, "-" / null where it is not known. */
struct alog_req_view {
	const char *method;                       /* NULL: not known */
	const char *protocol;                     /* NULL: not known */
	struct queue_text_rec text;               /* len 0: absent */
	bool line_known;                          /* any of method, target */
};

static void view_of(const struct alog_entry *e, struct alog_req_view *v)
{
	const struct http_req *r = e->req;

	memset(v, 0, sizeof(*v));
	if (!e->text || !queue_text_parse(e->text, e->text_len, &v->text))
		memset(&v->text, 0, sizeof(v->text));
	if (r->method != HTTP_METHOD_NONE)
		v->method = http_method_str((enum http_method)(r->method - 1));
	v->line_known = v->method || v->text.len[HTTP_LOG_TARGET];
	if (v->line_known && r->err != HERR_VERSION)
		v->protocol = (r->flags & REQF_HTTP10) ? "HTTP/1.0" : "HTTP/1.1";
}

static void peer_text(const struct sockaddr_in6 *peer, char host[INET6_ADDRSTRLEN])
{
	if (peer->sin6_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)peer)->sin_addr,
			  host, INET6_ADDRSTRLEN);
	else
		inet_ntop(AF_INET6, &peer->sin6_addr, host, INET6_ADDRSTRLEN);
}

/* A quoted field of the combined format: "-" when absent. */
static void put_quoted(struct sbuf *b, const char *p, size_t n)
{
	sbuf_putn(b, "\"", 1);
	if (n)
		put_escaped(b, p, n);
	else
		sbuf_putn(b, "-", 1);
	sbuf_putn(b, "\"", 1);
}

/* PEER - - [DATE] "METHOD TARGET PROTOCOL" STATUS BYTES "REFERER" "UA" TIME
 * (a request line that was never read is "-", as Apache writes it). */
static void line_combined(struct sbuf *b, const char *host, const char *date,
			  const struct alog_entry *e, const struct alog_req_view *v)
{
	const struct queue_text_rec *t = &v->text;

	sbuf_puts(b, host);
	sbuf_puts(b, " - - ");
	sbuf_puts(b, date);
	if (v->line_known) {
		sbuf_puts(b, " \"");
		sbuf_puts(b, v->method ? v->method : "-");
		sbuf_putn(b, " ", 1);
		if (t->len[HTTP_LOG_TARGET])
			put_escaped(b, t->field[HTTP_LOG_TARGET], t->len[HTTP_LOG_TARGET]);
		else
			sbuf_putn(b, "-", 1);
		sbuf_putn(b, " ", 1);
		sbuf_puts(b, v->protocol ? v->protocol : "-");
		sbuf_puts(b, "\" ");
	} else {
		sbuf_puts(b, " \"-\" ");
	}
	sbuf_u64(b, e->status);
	sbuf_putn(b, " ", 1);
	sbuf_u64(b, e->body_bytes);
	sbuf_putn(b, " ", 1);
	put_quoted(b, t->field[HTTP_LOG_REFERER], t->len[HTTP_LOG_REFERER]);
	sbuf_putn(b, " ", 1);
	put_quoted(b, t->field[HTTP_LOG_UA], t->len[HTTP_LOG_UA]);
	sbuf_putn(b, " ", 1);
	put_seconds(b, e->latency_ns);
}

/* ,"key":"value" - or null when absent. */
static void json_str(struct sbuf *b, const char *key, const char *p, size_t n)
{
	sbuf_puts(b, key);
	if (!p || !n) {
		sbuf_puts(b, "null");
		return;
	}
	sbuf_putn(b, "\"", 1);
	put_json_escaped(b, p, n);
	sbuf_putn(b, "\"", 1);
}

static void line_json(struct sbuf *b, const char *host, const char *date,
		      const struct alog_entry *e, const struct alog_req_view *v)
{
	const struct queue_text_rec *t = &v->text;

	json_str(b, "{\"time\":", date, strlen(date));
	json_str(b, ",\"remote_addr\":", host, strlen(host));
	json_str(b, ",\"method\":", v->method, v->method ? strlen(v->method) : 0);
	json_str(b, ",\"target\":", t->field[HTTP_LOG_TARGET], t->len[HTTP_LOG_TARGET]);
	json_str(b, ",\"protocol\":", v->protocol, v->protocol ? 8 : 0);
	sbuf_puts(b, ",\"status\":");
	sbuf_u64(b, e->status);
	sbuf_puts(b, ",\"body_bytes\":");
	sbuf_u64(b, e->body_bytes);
	json_str(b, ",\"referer\":", t->field[HTTP_LOG_REFERER], t->len[HTTP_LOG_REFERER]);
	json_str(b, ",\"user_agent\":", t->field[HTTP_LOG_UA], t->len[HTTP_LOG_UA]);
	sbuf_puts(b, ",\"request_time\":");
	put_seconds(b, e->latency_ns);
	sbuf_putn(b, "}", 1);
}

_Static_assert(ALOG_LINE_MAX >= 6 * (HTTP_LOG_TARGET_MAX + HTTP_LOG_REFERER_MAX +
				     HTTP_LOG_UA_MAX) + 512,
	       "a line holds every text byte escaped");

size_t alog_format_line(char *out, enum alog_format fmt, const char *date,
			const struct alog_entry *e)
{
	char host[INET6_ADDRSTRLEN];
	struct alog_req_view v;
	struct sbuf b;

	peer_text(e->peer, host);
	view_of(e, &v);
	sbuf_init(&b, out, ALOG_LINE_MAX - 1);
	if (fmt == ALOG_JSON)
		line_json(&b, host, date, e, &v);
	else
		line_combined(&b, host, date, e, &v);
	out[b.len] = '\n';               /* the room for it was kept */
	return b.len + 1;
}

void alog_request(struct alog_ring *r, enum alog_format fmt, const char *date,
		  const struct alog_entry *e)
{
	char line[ALOG_LINE_MAX];

	alog_put(r, line, alog_format_line(line, fmt, date, e));
}

/* Non-blocking, so a reader that stops reading (a pipe, a FIFO) never
 * blocks the logger - lines wait in the rings, then are dropped and
 * counted - and shutdown never waits for it.  stderr ("-") is shared with
 * the process's own log and stays as it is. */
static int open_path(const char *path)
{
	if (strcmp(path, "-") == 0)
		return dup(STDERR_FILENO);
	return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NONBLOCK, 0640);
}

/* Bytes written; stops early when the file takes no more now (EAGAIN).
 * On a real error (disk full...) the bytes count as written: lost. */
static size_t write_some(struct alog *l, const char *p, size_t n)
{
	size_t done = 0;

	while (done < n) {
		ssize_t w = write(l->fd, p + done, n - done);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN)
			break;
		if (w <= 0)
			return n;
		done += (size_t)w;
		l->written += (uint64_t)w;
	}
	return done;
}

static void drain(struct alog *l)
{
	for (unsigned i = 0; i < l->nrings; i++) {
		struct alog_ring *r = &l->rings[i];
		uint64_t tail = __atomic_load_n(&r->tail, __ATOMIC_ACQUIRE);
		uint64_t head = r->head;

		if (tail == head)
			continue;
		size_t at = (size_t)(head & (ALOG_RING_SIZE - 1));
		size_t len = (size_t)(tail - head);
		size_t first = len < ALOG_RING_SIZE - at ? len : ALOG_RING_SIZE - at;
		size_t done = len;

		if (l->fd >= 0) {
			done = write_some(l, r->buf + at, first);
			if (done == first)
				done += write_some(l, r->buf, len - first);
		}
		__atomic_store_n(&r->head, head + done, __ATOMIC_RELEASE);
	}
}

static void *logger_main(void *arg)
{
	struct alog *l = arg;
	struct timespec tick = { 0, 100 * 1000 * 1000 };

	pthread_setname_np(pthread_self(), "metricd-log");
	for (;;) {
		bool stop = __atomic_load_n(&l->stop, __ATOMIC_ACQUIRE);

		if (__atomic_exchange_n(&l->reopen, 0, __ATOMIC_ACQ_REL)) {
			char path[sizeof(l->path)];

			pthread_mutex_lock(&l->path_lock);
			memcpy(path, l->path, sizeof(path));
			pthread_mutex_unlock(&l->path_lock);
			int fd = open_path(path);

			if (fd < 0) {
				log_error("access log: cannot open '%s': %s; keeping the old file",
					  path, strerror(errno));
			} else {
				if (l->fd >= 0)
					close(l->fd);
				l->fd = fd;
			}
		}
		drain(l);
		if (stop)
			break;
		nanosleep(&tick, NULL);
	}
	if (l->fd >= 0)
		close(l->fd);
	l->fd = -1;
	return NULL;
}

int alog_open(struct alog *l, const char *path)
{
	pthread_mutex_lock(&l->path_lock);
	snprintf(l->path, sizeof(l->path), "%s", path);
	pthread_mutex_unlock(&l->path_lock);
	if (l->started) {
		__atomic_store_n(&l->reopen, 1, __ATOMIC_RELEASE);
		return 0;
	}
	/* The first open happens here, so a path that cannot be opened is
	 * an error at start, not a silent loss of every line. */
	l->fd = open_path(path);
	if (l->fd < 0)
		return -errno;
	int rc = pthread_create(&l->thread, NULL, logger_main, l);

	if (rc) {
		close(l->fd);
		l->fd = -1;
		return -rc;
	}
	l->started = true;
	return 0;
}

uint64_t alog_dropped(const struct alog *l)
{
	uint64_t n = 0;

	for (unsigned i = 0; i < l->nrings; i++)
		n += __atomic_load_n(&l->rings[i].dropped, __ATOMIC_RELAXED);
	return n;
}

void alog_destroy(struct alog *l)
{
	if (l->started) {
		__atomic_store_n(&l->stop, 1, __ATOMIC_RELEASE);
		pthread_join(l->thread, NULL);
		l->started = false;
	}
	for (unsigned i = 0; l->rings && i < l->nrings; i++)
		if (l->rings[i].buf)
			munmap(l->rings[i].buf, ALOG_RING_SIZE);
	free(l->rings);
	l->rings = NULL;
	pthread_mutex_destroy(&l->path_lock);
}
