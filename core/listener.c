/* SPDX-License-Identifier: BSD-2-Clause */
/* Listening and accepting, on a shard's acceptor thread: the listening
 * sockets, accept4 in bounded bursts (a connect/close flood gets a bounded
 * share of each loop turn), the pause and retry when the process is out
 * of file descriptors, the --max-conns count every shard shares, and the
 * hand-over of a new connection to the state machine (core/connection.c).
 *
 * Each shard has a listening socket of its own for every --listen
 * address, all bound to the same port with SO_REUSEPORT, so the kernel
 * spreads new connections over the shards (by a hash of the addresses)
 * and a shard never wakes for another's connection
 * (docs/ARCHITECTURE.md, "Shards").  Without --reuseport the first
 * shard's socket is bound without it, so a port another process holds is
 * still an error, and gets it only before listen(), for the other shards
 * to join.  A shard's sockets are its own; closing them on SIGTERM is
 * core/lifecycle.c's.  The service manager's sockets (socket activation)
 * are shared by every shard and closed by none of them (core/server.h). */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/base/log.h"
#include "core/notify.h"
#include "core/server.h"

/* Connections accepted per loop turn: a connect/close flood gets a bounded
 * share of each turn, the connections already open get the rest. */
#define ACCEPT_BURST 16
#define ACCEPT_RETRY_MS 100

static int resolve(const struct cfg_listen *l, uint16_t port, struct addrinfo **res)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
	char ps[8];
	int rc;

	snprintf(ps, sizeof(ps), "%u", port);
	rc = getaddrinfo(l->host, ps, &hints, res);
	if (rc)
		log_error("cannot resolve listen address '%s': %s", l->host, gai_strerror(rc));
	return rc ? -EINVAL : 0;
}

static void set_flag(int fd, int level, int name)
{
	int one = 1;

	setsockopt(fd, level, name, &one, sizeof(one));
}

/* One listening socket on l.  port: l's, or the first shard's when l
 * asked for 0.  join: SO_REUSEPORT before bind (a later shard, or
 * --reuseport); share: after bind, for the shards to come. */
static int listen_one(const struct cfg *cfg, const struct cfg_listen *l, uint16_t port,
		      bool join, bool share)
{
	struct addrinfo *res = NULL;
	int fd = -1, rc;

	if ((rc = resolve(l, port, &res)))
		return rc;
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto Error;
	set_flag(fd, SOL_SOCKET, SO_REUSEADDR);
	/* With several addresses, [::]:80 beside 0.0.0.0:80 is IPv6 only. */
	if (res->ai_family == AF_INET6 && cfg->listen.n > 1)
		set_flag(fd, IPPROTO_IPV6, IPV6_V6ONLY);
	if (join)
		set_flag(fd, SOL_SOCKET, SO_REUSEPORT);
	if (bind(fd, res->ai_addr, res->ai_addrlen))
		goto Error;
	if (share)
		set_flag(fd, SOL_SOCKET, SO_REUSEPORT);
	if (listen(fd, SOMAXCONN))
		goto Error;
	freeaddrinfo(res);
	return fd;
Error:
	rc = -errno;
	log_error("cannot listen on %s%s%s:%u: %s%s", strchr(l->host, ':') ? "[" : "",
		  l->host, strchr(l->host, ':') ? "]" : "", port, strerror(errno),
		  errno == EADDRINUSE && !cfg->reuseport
		  ? " (another process listens there; --reuseport lets two share it)" : "");
	freeaddrinfo(res);
	if (fd >= 0)
		close(fd);
	return rc;
}

static uint16_t bound_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &sl))
		return 0;
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

int acceptor_listen(struct acceptor *a, const struct cfg *cfg, const struct acceptor *first)
{
	bool share = first == a && a->srv->nshards > 1 && !cfg->reuseport;

	for (unsigned i = 0; i < cfg->listen.n; i++) {
		const struct cfg_listen *l = &cfg->listen.addr[i];
		uint16_t port = first == a ? l->port : bound_port(first->listeners[i].fd);
		int fd = listen_one(cfg, l, port, cfg->reuseport || first != a, share);

		if (fd < 0)
			return fd;
		a->listeners[a->nlisteners++] = (struct listener){ .fd = fd };
	}
	return 0;
}

/* Socket activation: the service manager bound the sockets
 * (metricd.socket); every shard watches every one of them. */
static void listen_inherited(struct server *s)
{
	for (unsigned i = 0; i < s->nshards; i++) {
		struct acceptor *a = &s->shards[i];

		for (unsigned k = 0; k < s->ninherited; k++)
			a->listeners[a->nlisteners++] =
				(struct listener){ .fd = s->inherited[k], .shared = true };
	}
	log_info("using the %u listening socket(s) passed by the service manager%s",
		 s->ninherited, s->nshards > 1 ? ", shared by every acceptor" : "");
}

int server_listen(struct server *s, struct cfg *cfg, const struct placement *place)
{
	int rc, n;

	memset(s, 0, sizeof(*s));
	s->done_fd = -1;
	reclaim_init(&s->reclaim);
	s->cfg = cfg;
	s->place = *place;
	s->nshards = place->nshards;
	if (posix_memalign((void **)&s->shards, 64, s->nshards * sizeof(*s->shards))) {
		s->shards = NULL;
		rc = -ENOMEM;
		goto Error;
	}
	memset(s->shards, 0, s->nshards * sizeof(*s->shards));
	for (unsigned i = 0; i < s->nshards; i++) {
		struct acceptor *a = &s->shards[i];

		a->id = i;
		a->srv = s;
		a->cfg = cfg;
		a->cpu = place->shard[i].cpu;
		a->ctl_fd = a->bell.fd = -1;
		a->open_total = &s->open_conns;
	}
	n = notify_listen_fds(s->inherited, CFG_MAX_LISTEN);
	if (n > 0) {
		s->ninherited = (unsigned)n;
		listen_inherited(s);
		return 0;
	}
	for (unsigned i = 0; i < s->nshards; i++)
		if ((rc = acceptor_listen(&s->shards[i], cfg, &s->shards[0])))
			goto Error;
	return 0;
Error:
	server_destroy(s);
	return rc;
}

int server_local_addrs(const struct server *s, char *out, size_t len)
{
	const struct acceptor *a = &s->shards[0];
	size_t at = 0;
	int rc;

	out[0] = '\0';
	for (unsigned i = 0; i < a->nlisteners && at + 2 < len; i++) {
		if (i) {
			memcpy(out + at, ", ", 3);
			at += 2;
		}
		if ((rc = acceptor_addr_text(a->listeners[i].fd, out + at, len - at)))
			return rc;
		at += strlen(out + at);
	}
	return 0;
}

int acceptor_addr_text(int fd, char *out, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char host[INET6_ADDRSTRLEN];

	if (getsockname(fd, (struct sockaddr *)&ss, &sl))
		return -errno;
	if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
		snprintf(out, len, "[%s]:%u", host, ntohs(s6->sin6_port));
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
		snprintf(out, len, "%s:%u", host, ntohs(s4->sin_port));
	}
	return 0;
}

int server_check_listen(const struct cfg *cfg, char *err, size_t errlen)
{
	for (unsigned i = 0; i < cfg->listen.n; i++) {
		const struct cfg_listen *l = &cfg->listen.addr[i];
		struct addrinfo *res;

		if (resolve(l, l->port, &res)) {
			snprintf(err, errlen, "--listen: cannot resolve '%s'", l->host);
			return -EINVAL;
		}
		freeaddrinfo(res);
		for (unsigned j = 0; j < i; j++)
			if (l->port && l->port == cfg->listen.addr[j].port &&
			    strcmp(l->host, cfg->listen.addr[j].host) == 0) {
				snprintf(err, errlen, "--listen: %s:%u is given twice",
					 l->host, l->port);
				return -EINVAL;
			}
	}
	return 0;
}

void acc__listen_events(struct acceptor *a, bool on)
{
	for (unsigned i = 0; i < a->nlisteners; i++)
		if (on)
			event_add(&a->listeners[i].ev, NULL);
		else
			event_del(&a->listeners[i].ev);
}

void acc__listen_close(struct acceptor *a)
{
	acc__listen_events(a, false);
	event_del(&a->retry_ev);
	for (unsigned i = 0; i < a->nlisteners; i++) {
		if (!a->listeners[i].shared && a->listeners[i].fd >= 0)
			close(a->listeners[i].fd);
		a->listeners[i].fd = -1;
	}
}

/* --max-conns counts every shard's connections. */
static bool conn_reserve(struct acceptor *a)
{
	if (__atomic_add_fetch(a->open_total, 1, __ATOMIC_RELAXED) <= a->cfg->max_conns)
		return true;
	__atomic_sub_fetch(a->open_total, 1, __ATOMIC_RELAXED);
	return false;
}

/* ---- accepting ----------------------------------------------------------- */

void acc__on_accept(evutil_socket_t lfd, short what, void *arg)
{
	struct acceptor *a = arg;
	int one = 1;

	for (int i = 0; i < ACCEPT_BURST; i++) {
		struct sockaddr_in6 peer;
		socklen_t plen = sizeof(peer);
		int fd = accept4(lfd, (struct sockaddr *)&peer, &plen,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE) {
				/* Out of fds: the listener would fire forever.
				 * Stop it and retry on a timer; open
				 * connections are served meanwhile. */
				struct timeval tv = { 0, ACCEPT_RETRY_MS * 1000 };

				acc__listen_events(a, false);
				evtimer_add(&a->retry_ev, &tv);
				CNT_ADD(a->ctr.accept_paused, 1);
				log_warn("accept: %s; pausing for %d ms",
					 strerror(errno), ACCEPT_RETRY_MS);
			} else if (errno == ECONNABORTED || errno == EINTR) {
				continue;
			} else if (errno != EAGAIN) {
				log_warn("accept: %s", strerror(errno));
			}
			return;
		}
		uint32_t slot = conn_reserve(a) ? conn_table_get(&a->conns) : UINT32_MAX;

		if (slot == UINT32_MAX) {
			CNT_ADD(a->ctr.rejected_full, 1);
			close(fd);
			continue;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		CNT_ADD(a->ctr.accepted, 1);
		acc__conn_open(a, fd, slot, &peer);
	}
}

void acc__on_accept_retry(evutil_socket_t fd, short what, void *arg)
{
	struct acceptor *a = arg;

	if (!a->draining)
		acc__listen_events(a, true);
}

