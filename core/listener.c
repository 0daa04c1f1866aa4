/* Listening and accepting, on the acceptor thread: the listening socket,
 * accept4 in bounded bursts (a connect/close flood gets a bounded share of
 * each loop turn), the pause and retry when the process is out of file
 * descriptors, and the hand-over of a new connection to the state machine
 * (core/connection.c).  The listening socket is the acceptor thread's
 * alone; closing it on SIGTERM is core/lifecycle.c's. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/acceptor.h"
#include "core/base/log.h"
#include "core/notify.h"

/* Connections accepted per loop turn: a connect/close flood gets a bounded
 * share of each turn, the connections already open get the rest. */
#define ACCEPT_BURST 16
#define ACCEPT_RETRY_MS 100

int acceptor_listen(struct acceptor *a, struct cfg *cfg)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
	struct addrinfo *res = NULL;
	char port[8];
	int one = 1, rc;

	memset(a, 0, sizeof(*a));
	reclaim_init(&a->reclaim);
	a->cfg = cfg;
	a->lfd = -1;
	/* Socket activation: systemd bound the socket (metricd.socket). */
	a->lfd = notify_listen_fd();
	if (a->lfd >= 0) {
		log_info("using the listening socket passed by the service manager");
		return 0;
	}
	snprintf(port, sizeof(port), "%u", cfg->listen.port);
	rc = getaddrinfo(cfg->listen.host, port, &hints, &res);
	if (rc) {
		log_error("cannot resolve listen address '%s': %s", cfg->listen.host,
			  gai_strerror(rc));
		return -EINVAL;
	}
	a->lfd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (a->lfd < 0)
		goto Error;
	setsockopt(a->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(a->lfd, res->ai_addr, res->ai_addrlen) ||
	    listen(a->lfd, SOMAXCONN))
		goto Error;
	freeaddrinfo(res);
	return 0;
Error:
	rc = -errno;
	log_error("cannot listen on %s:%u: %s", cfg->listen.host, cfg->listen.port,
		  strerror(errno));
	freeaddrinfo(res);
	if (a->lfd >= 0)
		close(a->lfd);
	a->lfd = -1;
	return rc;
}

int acceptor_local_addr(const struct acceptor *a, char *out, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char host[INET6_ADDRSTRLEN];

	if (getsockname(a->lfd, (struct sockaddr *)&ss, &sl))
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

				event_del(&a->lev);
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
		uint32_t slot = conn_table_get(&a->conns);

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
		event_add(&a->lev, NULL);
}

