#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tools/blast/request.h"

static int user_has_header(const struct blast_config *cfg, const char *name)
{
	size_t n = strlen(name);
	for (unsigned i = 0; i < cfg->nheaders; i++)
		if (strncasecmp(cfg->headers[i], name, n) == 0 && cfg->headers[i][n] == ':')
			return 1;
	return 0;
}

/* Writes the head into buf (or only measures it when buf is NULL). */
static size_t format_head(const struct blast_config *cfg, const struct url *u, char *buf,
			  size_t cap)
{
	size_t n = 0;
#define PUT(...) n += (size_t)snprintf(buf ? buf + n : NULL, buf ? cap - n : 0, __VA_ARGS__)
	PUT("%s %s HTTP/1.1\r\n", cfg->method, u->path);
	if (!user_has_header(cfg, "host"))
		PUT("Host: %s\r\n", u->authority);
	for (unsigned i = 0; i < cfg->nheaders; i++)
		PUT("%s\r\n", cfg->headers[i]);
	if (cfg->body && !user_has_header(cfg, "content-length"))
		PUT("Content-Length: %zu\r\n", cfg->body_len);
	PUT("\r\n");
#undef PUT
	return n;
}

int request_build(const struct blast_config *cfg, const struct url *u, unsigned copies,
		  struct request *r)
{
	size_t head = format_head(cfg, u, NULL, 0);
	size_t one = head + cfg->body_len;

	memset(r, 0, sizeof *r);
	r->blob = malloc(one * copies + 1); /* +1: snprintf's terminator */
	if (!r->blob)
		return -1;
	format_head(cfg, u, r->blob, head + 1);
	if (cfg->body_len)
		memcpy(r->blob + head, cfg->body, cfg->body_len);
	for (unsigned i = 1; i < copies; i++)
		memcpy(r->blob + i * one, r->blob, one);
	r->len = one;
	r->copies = copies;
	r->is_head = strcasecmp(cfg->method, "HEAD") == 0;
	return 0;
}

void request_free(struct request *r)
{
	free(r->blob);
	r->blob = NULL;
}
