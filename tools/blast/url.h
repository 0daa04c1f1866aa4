/* SPDX-License-Identifier: BSD-2-Clause */
/* http:// and https:// URL parsing and one-time name resolution. */
#ifndef BLAST_URL_H
#define BLAST_URL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define URL_HOST_MAX 256
#define URL_PATH_MAX 8192

struct url {
	int tls;                     /* https:// */
	char host[URL_HOST_MAX];     /* without the [] of an IPv6 literal */
	char port_str[8];
	uint16_t port;
	int ipv6_literal;
	char authority[URL_HOST_MAX + 16]; /* Host header: host[:port], [] kept */
	char path[URL_PATH_MAX];     /* path and query, at least "/" */
};

/* Parse an absolute http:// or https:// URL (default port 80 or 443).
 * On error returns -1 with a message. */
int url_parse(const char *s, struct url *u, char *err, size_t errlen);

/* All addresses of the host, resolved once with getaddrinfo. */
struct url_addrs {
	unsigned n;
	struct sockaddr_storage addr[8];
	socklen_t len[8];
};
int url_resolve(const struct url *u, struct url_addrs *out, char *err, size_t errlen);

/* Same scheme, host and port: one server, one pool of connections. */
int url_same_origin(const struct url *a, const struct url *b);

/* "127.0.0.1:8080" or "[::1]:8080" for messages. */
void sockaddr_format(const struct sockaddr *sa, char *buf, size_t len);

#endif
