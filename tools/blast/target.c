/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "tools/blast/target.h"

#define PROBE_MAX_NS 5000000000ull

int probe_connect(const struct sockaddr *sa, socklen_t len, uint64_t timeout_ns)
{
	int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return errno;
	int err = 0;
	if (connect(fd, sa, len) < 0) {
		err = errno;
		if (err == EINPROGRESS) {
			struct pollfd pfd = {.fd = fd, .events = POLLOUT};
			int r = poll(&pfd, 1, (int)(timeout_ns / 1000000));
			socklen_t l = sizeof err;
			if (r == 0)
				err = ETIMEDOUT;
			else if (r < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l) < 0)
				err = errno;
		}
	}
	close(fd);
	return err;
}

static int parse_all(char *const *urls, unsigned nurls, struct url *out, char *err,
		     size_t errlen, int listed)
{
	for (unsigned i = 0; i < nurls; i++) {
		char e[512];
		if (url_parse(urls[i], &out[i], e, sizeof e) < 0) {
			if (listed)
				snprintf(err, errlen, "--urls, URL %u: %s", i + 1, e);
			else
				snprintf(err, errlen, "%s", e);
			return -1;
		}
		if (i && !url_same_origin(&out[0], &out[i])) {
			snprintf(err, errlen, "--urls, URL %u: '%s' is not on the server of the first "
				 "(%s); one run loads one server", i + 1, urls[i], urls[0]);
			return -1;
		}
	}
	return 0;
}

static int unix_address(const char *path, struct target *tg, char *err, size_t errlen)
{
	struct sockaddr_un *un = (struct sockaddr_un *)&tg->addr;
	if (strlen(path) >= sizeof un->sun_path) {
		snprintf(err, errlen, "--unix-socket path too long: '%s'", path);
		return -1;
	}
	un->sun_family = AF_UNIX;
	memcpy(un->sun_path, path, strlen(path) + 1);
	tg->addrlen = (socklen_t)sizeof *un;
	return 0;
}

/* Resolve, and with `probe` keep the first address that accepts a
 * connection, so a typo or a dead server is reported before any load. */
static int tcp_address(const struct blast_config *cfg, const char *s, struct target *tg,
		       int probe, char *err, size_t errlen)
{
	struct url_addrs addrs;
	char where[80] = "";
	int e = 0;
	if (url_resolve(&tg->url, &addrs, err, errlen) < 0)
		return -1;
	uint64_t t = cfg->timeout_ns < PROBE_MAX_NS ? cfg->timeout_ns : PROBE_MAX_NS;
	for (unsigned i = 0; i < addrs.n; i++) {
		sockaddr_format((const struct sockaddr *)&addrs.addr[i], where, sizeof where);
		e = probe ? probe_connect((const struct sockaddr *)&addrs.addr[i], addrs.len[i], t) : 0;
		if (e == 0) {
			memcpy(&tg->addr, &addrs.addr[i], addrs.len[i]);
			tg->addrlen = addrs.len[i];
			return 0;
		}
	}
	snprintf(err, errlen, "cannot connect to %s (%s): %s", s, where, strerror(e));
	return -1;
}

int target_prepare(const struct blast_config *cfg, char *const *urls, unsigned nurls,
		   const char *label, int probe, struct target *tg, char *err, size_t errlen)
{
	struct url *parsed = calloc(nurls, sizeof *parsed);
	uint64_t t = cfg->timeout_ns < PROBE_MAX_NS ? cfg->timeout_ns : PROBE_MAX_NS;
	int rc = -1;

	memset(tg, 0, sizeof *tg);
	snprintf(tg->label, sizeof tg->label, "%s", label);
	if (!parsed) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (parse_all(urls, nurls, parsed, err, errlen, cfg->nlist > 0) < 0)
		goto Error;
	tg->url = parsed[0];
	if (cfg->unix_socket) {
		if (unix_address(cfg->unix_socket, tg, err, errlen) < 0)
			goto Error;
		int e = probe ? probe_connect((struct sockaddr *)&tg->addr, tg->addrlen, t) : 0;
		if (e) {
			snprintf(err, errlen, "cannot connect to unix:%s: %s", cfg->unix_socket,
				 strerror(e));
			goto Error;
		}
	} else if (tcp_address(cfg, urls[0], tg, probe, err, errlen) < 0) {
		goto Error;
	}
	if (tg->url.tls) {
		char e[400];
		if (tls_client_new(&tg->tls, tg->url.host, cfg->insecure, e, sizeof e) < 0) {
			snprintf(err, errlen, "%s: %s", urls[0], e);
			goto Error;
		}
		if (probe && tls_probe(tg->tls, (struct sockaddr *)&tg->addr, tg->addrlen, t, e,
				       sizeof e) < 0) {
			snprintf(err, errlen, "%s: %s", urls[0], e);
			goto Error;
		}
	}
	char e[512];
	if (request_build(cfg, parsed, nurls, cfg->pipeline, &tg->req, e, sizeof e) < 0) {
		snprintf(err, errlen, "%s", e);
		goto Error;
	}
	rc = 0;
Error:
	free(parsed);
	return rc;
}

void target_free(struct target *tg)
{
	request_free(&tg->req);
	tls_client_free(tg->tls);
	tg->tls = NULL;
}
