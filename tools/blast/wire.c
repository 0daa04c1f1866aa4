/* SPDX-License-Identifier: BSD-2-Clause */
/* Bytes to and from a connection's socket: plain or through TLS, and the
 * unsent requests of a connection gathered into as few writes as
 * possible.
 *
 * Requests whose indices follow each other are adjacent in the request
 * buffer (request.h), so one repeated request, or a sequential --ids run,
 * is one contiguous range and one send() however many requests it
 * carries.  Requests picked at random are gathered with one sendmsg();
 * over TLS they are first copied into one buffer, so that they leave in
 * one record rather than one record (and one header and MAC) each.
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "tools/blast/loop.h"

#define WIRE_IOV 64

/* Ring index of the oldest unsent request. */
static unsigned first_unsent(const struct worker *w, const struct conn *c)
{
	unsigned i = c->head + c->inflight - c->unsent;
	return i >= w->cap ? i - w->cap : i;
}

/* The unsent bytes as at most `max` ranges; returns how many. */
static int gather(const struct worker *w, const struct conn *c, struct iovec *iov, int max)
{
	const struct request *rq = &w->tg->req;
	uint32_t entries = rq->n + rq->wrap;
	unsigned i = first_unsent(w, c);
	uint32_t pos = c->ridx[i]; /* buffer entry of the range's last request */
	size_t start = rq->off[pos] + c->wr_off;
	int k = 0;

	for (unsigned left = c->unsent - 1; left; left--) {
		if (++i == w->cap)
			i = 0;
		uint32_t r = c->ridx[i];
		uint32_t e = pos + 1;
		if (e < entries && (rq->n == 1 || (e < rq->n ? e : e % rq->n) == r)) {
			pos = e; /* the next entry is this very request: extend */
			continue;
		}
		iov[k].iov_base = rq->buf + start;
		iov[k].iov_len = rq->off[pos + 1] - start;
		if (++k == max)
			return k;
		pos = r;
		start = rq->off[pos];
	}
	iov[k].iov_base = rq->buf + start;
	iov[k].iov_len = rq->off[pos + 1] - start;
	return k + 1;
}

/* `n` bytes went out: retire the requests they complete. */
static void advance(const struct worker *w, struct conn *c, size_t n)
{
	const struct request *rq = &w->tg->req;
	unsigned i = first_unsent(w, c);
	while (n) {
		size_t left = request_len(rq, c->ridx[i]) - c->wr_off;
		if (n < left) {
			c->wr_off += n;
			return;
		}
		n -= left;
		c->wr_off = 0;
		c->unsent--;
		if (++i == w->cap)
			i = 0;
	}
}

static ssize_t send_plain(struct conn *c, struct iovec *iov, int n)
{
	ssize_t r;
	do {
		if (n == 1) {
			r = send(c->fd, iov[0].iov_base, iov[0].iov_len, MSG_NOSIGNAL);
		} else {
			struct msghdr m = {.msg_iov = iov, .msg_iovlen = (size_t)n};
			r = sendmsg(c->fd, &m, MSG_NOSIGNAL);
		}
	} while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : r;
}

/* Several ranges go into one TLS record through the gather buffer; a
 * range larger than the buffer goes alone. */
static ssize_t send_tls(struct worker *w, struct conn *c, struct iovec *iov, int n)
{
	if (n == 1 || iov[0].iov_len >= GATHER_SIZE)
		return tls_write(c->tls, iov[0].iov_base, iov[0].iov_len);
	size_t len = 0;
	for (int k = 0; k < n && len < GATHER_SIZE; k++) {
		size_t take = iov[k].iov_len < GATHER_SIZE - len ? iov[k].iov_len : GATHER_SIZE - len;
		memcpy(w->gather + len, iov[k].iov_base, take);
		len += take;
	}
	return tls_write(c->tls, w->gather, len);
}

int wire_flush(struct worker *w, struct conn *c)
{
	struct iovec iov[WIRE_IOV];
	while (c->unsent) {
		int n = gather(w, c, iov, WIRE_IOV);
		ssize_t r = c->tls ? send_tls(w, c, iov, n) : send_plain(c, iov, n);
		if (r == -EAGAIN || r == -EWOULDBLOCK)
			return 0; /* the EPOLLOUT edge calls us again */
		if (r < 0)
			return (int)r;
		advance(w, c, (size_t)r);
	}
	return 0;
}

ssize_t wire_recv(struct conn *c, char *buf, size_t len)
{
	if (c->tls)
		return tls_read(c->tls, buf, len);
	ssize_t r;
	do
		r = recv(c->fd, buf, len, 0);
	while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : r;
}
