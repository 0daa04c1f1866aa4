/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "tools/blast/url.h"

static int url_err(char *err, size_t errlen, const char *msg, const char *s)
{
	snprintf(err, errlen, "bad URL '%s': %s", s, msg);
	return -1;
}

/* Characters allowed in a host name; anything else (space, '@', '%')
 * is a typo or a feature we do not support, better caught here. */
static int host_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '-' || c == '_';
}

static int parse_port(const char *p, size_t n, struct url *u)
{
	unsigned v = 0;
	if (n == 0 || n > 5)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		v = v * 10 + (unsigned)(p[i] - '0');
	}
	if (v == 0 || v > 65535)
		return -1;
	u->port = (uint16_t)v;
	return 0;
}

/* host, [v6] or host:port, [v6]:port */
static int parse_authority(const char *a, size_t n, struct url *u, char *err, size_t errlen,
			   const char *s)
{
	const char *port = NULL;
	size_t hl, pl = 0;

	if (memchr(a, '@', n))
		return url_err(err, errlen, "user information is not supported", s);
	if (n && a[0] == '[') {
		const char *rb = memchr(a, ']', n);
		if (!rb)
			return url_err(err, errlen, "missing ']' after IPv6 address", s);
		hl = (size_t)(rb - a - 1);
		if (hl == 0 || hl >= URL_HOST_MAX)
			return url_err(err, errlen, "bad IPv6 address", s);
		memcpy(u->host, a + 1, hl);
		u->host[hl] = 0;
		struct in6_addr tmp;
		if (inet_pton(AF_INET6, u->host, &tmp) != 1)
			return url_err(err, errlen, "bad IPv6 address", s);
		u->ipv6_literal = 1;
		const char *after = rb + 1;
		if (after < a + n) {
			if (*after != ':')
				return url_err(err, errlen, "junk after IPv6 address", s);
			port = after + 1;
			pl = (size_t)(a + n - port);
		}
	} else {
		const char *colon = memchr(a, ':', n);
		hl = colon ? (size_t)(colon - a) : n;
		if (hl == 0)
			return url_err(err, errlen, "missing host", s);
		if (hl >= URL_HOST_MAX)
			return url_err(err, errlen, "host name too long", s);
		for (size_t i = 0; i < hl; i++)
			if (!host_char_ok(a[i]))
				return url_err(err, errlen, "invalid character in host", s);
		memcpy(u->host, a, hl);
		u->host[hl] = 0;
		if (colon) {
			port = colon + 1;
			pl = n - hl - 1;
		}
	}
	if (port && parse_port(port, pl, u) < 0)
		return url_err(err, errlen, "bad port (1-65535)", s);
	snprintf(u->port_str, sizeof u->port_str, "%u", (unsigned)u->port);
	/* The Host header carries the port only when it is not the scheme's
	 * default. */
	int dflt = u->port == (u->tls ? 443 : 80);
	snprintf(u->authority, sizeof u->authority, "%s%s%s%s%s", u->ipv6_literal ? "[" : "",
		 u->host, u->ipv6_literal ? "]" : "", dflt ? "" : ":", dflt ? "" : u->port_str);
	return 0;
}

int url_parse(const char *s, struct url *u, char *err, size_t errlen)
{
	memset(u, 0, sizeof *u);
	const char *a;
	if (strncasecmp(s, "http://", 7) == 0) {
		a = s + 7;
		u->port = 80;
	} else if (strncasecmp(s, "https://", 8) == 0) {
		a = s + 8;
		u->port = 443;
		u->tls = 1;
	} else {
		return url_err(err, errlen, "must start with http:// or https://", s);
	}
	size_t alen = strcspn(a, "/?#");
	if (parse_authority(a, alen, u, err, errlen, s) < 0)
		return -1;

	const char *path = a + alen;
	size_t plen = strcspn(path, "#"); /* the fragment is never sent */
	for (size_t i = 0; i < plen; i++)
		if ((unsigned char)path[i] <= ' ' || path[i] == 0x7f)
			return url_err(err, errlen, "space or control character in path", s);
	int need_slash = plen == 0 || path[0] != '/';
	if (plen + 2 > URL_PATH_MAX)
		return url_err(err, errlen, "path too long", s);
	snprintf(u->path, sizeof u->path, "%s%.*s", need_slash ? "/" : "", (int)plen, path);
	return 0;
}

int url_same_origin(const struct url *a, const struct url *b)
{
	return a->tls == b->tls && a->port == b->port && strcasecmp(a->host, b->host) == 0;
}

int url_resolve(const struct url *u, struct url_addrs *out, char *err, size_t errlen)
{
	struct addrinfo hints, *res = NULL;
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	int rc = getaddrinfo(u->host, u->port_str, &hints, &res);
	if (rc != 0) {
		snprintf(err, errlen, "cannot resolve '%s': %s", u->host, gai_strerror(rc));
		return -1;
	}
	out->n = 0;
	for (struct addrinfo *ai = res; ai && out->n < 8; ai = ai->ai_next) {
		if (ai->ai_addrlen > sizeof out->addr[0])
			continue;
		memcpy(&out->addr[out->n], ai->ai_addr, ai->ai_addrlen);
		out->len[out->n] = ai->ai_addrlen;
		out->n++;
	}
	freeaddrinfo(res);
	if (out->n == 0) {
		snprintf(err, errlen, "cannot resolve '%s': no usable address", u->host);
		return -1;
	}
	return 0;
}

void sockaddr_format(const struct sockaddr *sa, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN] = "?";
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)(const void *)sa;
		inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof ip);
		snprintf(buf, len, "[%s]:%u", ip, (unsigned)ntohs(s6->sin6_port));
	} else {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)(const void *)sa;
		inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof ip);
		snprintf(buf, len, "%s:%u", ip, (unsigned)ntohs(s4->sin_port));
	}
}
