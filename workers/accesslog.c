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

#include "core/base/sbuf.h"
#include "http/route.h"
#include "workers/accesslog.h"
#include "core/base/log.h"

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

/* Non-blocking, so a reader that stops reading (a pipe, a FIFO) never
 * blocks the logger - lines wait in the rings, then are dropped and
 * counted - and shutdown never waits for it.  stderr ("-") is shared with
 * the process's own log and stays as it is. */
void alog_date(char out[32], time_t sec)
{
	struct tm tm;

	gmtime_r(&sec, &tm);
	strftime(out, 32, "[%d/%b/%Y:%H:%M:%S +0000]", &tm);
}

void alog_request(struct alog_ring *r, const char *date,
		  const struct sockaddr_in6 *peer, const struct http_req *req,
		  unsigned status, size_t body_bytes, uint64_t latency_ns)
{
	char line[512], host[INET6_ADDRSTRLEN];
	struct sbuf b;

	if (peer->sin6_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)peer)->sin_addr,
			  host, sizeof(host));
	else
		inet_ntop(AF_INET6, &peer->sin6_addr, host, sizeof(host));
	sbuf_init(&b, line, sizeof(line));
	sbuf_puts(&b, host);
	sbuf_puts(&b, " - - ");
	sbuf_puts(&b, date);
	sbuf_puts(&b, req->err == HERR_METHOD ? " \"- " :
		  (req->flags & REQF_HEAD) ? " \"HEAD " : " \"GET ");
	sbuf_puts(&b, req->route ? http_route_name((enum http_route)req->route) : "-");
	sbuf_puts(&b, (req->flags & REQF_HTTP10) ? " HTTP/1.0\" " : " HTTP/1.1\" ");
	sbuf_u64(&b, status);
	sbuf_puts(&b, " ");
	sbuf_u64(&b, body_bytes);
	sbuf_puts(&b, " ");
	sbuf_u64(&b, latency_ns / 1000);
	sbuf_puts(&b, "us\n");
	if (!b.full)
		alog_put(r, line, b.len);
}

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
