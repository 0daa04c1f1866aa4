/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"

#include <string.h>

#include "tools/blast/resp.h"

void resp_reset(struct resp_parser *p, int is_head)
{
	p->remaining = 0;
	p->content_length = 0;
	p->head_bytes = 0;
	p->status = 0;
	p->carry_len = 0;
	p->state = RESP_STATUS;
	p->is_head = (uint8_t)(is_head != 0);
	p->minor = 1;
	p->keepalive = 1;
	p->has_len = p->chunked = p->te_other = 0;
	p->conn_close = p->conn_keepalive = 0;
	p->carry_trunc = 0;
	p->error = NULL;
}

static int fail(struct resp_parser *p, const char *why)
{
	p->error = why;
	return -1;
}

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int is_ows(char c)
{
	return c == ' ' || c == '\t';
}

/* Case-insensitive compare against a lower-case name made of letters and
 * '-'.  OR-ing 0x20 folds 'A'-'Z' onto 'a'-'z'; it also maps CR onto '-',
 * but CR cannot occur inside a line.  Inline: it runs for every header. */
static inline int name_is(const char *s, const char *lower, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((s[i] | 0x20) != lower[i])
			return 0;
	return 1;
}

/* Find the next line.  A line wholly inside buf is returned in place (the
 * common case: one memchr, no copy).  Otherwise the bytes are appended to
 * the carry array, keeping only its first RESP_CARRY bytes: every field
 * we interpret is short, and an over-long one is reported by *trunc.
 * Returns 1 when a line is complete, 0 when all of buf went to carry;
 * *used is the number of bytes consumed either way. */
static int take_line(struct resp_parser *p, const char *buf, size_t len,
		     const char **line, size_t *llen, size_t *used, int *trunc)
{
	const char *nl = memchr(buf, '\n', len);
	size_t n = nl ? (size_t)(nl - buf) : len;

	*trunc = 0;
	if (nl && p->carry_len == 0) {
		*line = buf;
		*llen = n;
	} else {
		size_t room = RESP_CARRY - p->carry_len;
		size_t c = n < room ? n : room;
		memcpy(p->carry + p->carry_len, buf, c);
		p->carry_len = (uint16_t)(p->carry_len + c);
		if (c < n)
			p->carry_trunc = 1;
		if (!nl) {
			*used = len;
			return 0;
		}
		*line = p->carry;
		*llen = p->carry_len;
		*trunc = p->carry_trunc;
		p->carry_len = 0;
		p->carry_trunc = 0;
	}
	*used = n + 1;
	if (*llen && (*line)[*llen - 1] == '\r')
		(*llen)--;
	return 1;
}

/* "HTTP/1.x NNN[ reason]" */
static int parse_status(struct resp_parser *p, const char *s, size_t n)
{
	if (n < 12 || memcmp(s, "HTTP/1.", 7) != 0 || !is_digit(s[7]) || s[8] != ' ')
		return fail(p, "bad status line");
	if (!is_digit(s[9]) || !is_digit(s[10]) || !is_digit(s[11]) || (n > 12 && s[12] != ' '))
		return fail(p, "bad status code");
	p->minor = (uint8_t)(s[7] - '0');
	p->status = (uint16_t)((s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0'));
	if (p->status < 100)
		return fail(p, "bad status code");
	p->state = RESP_HEADERS;
	return 0;
}

static int parse_content_length(struct resp_parser *p, const char *v, size_t n)
{
	uint64_t x = 0;
	if (n == 0 || n > 18)
		return fail(p, "bad Content-Length");
	for (size_t i = 0; i < n; i++) {
		if (!is_digit(v[i]))
			return fail(p, "bad Content-Length");
		x = x * 10 + (uint64_t)(v[i] - '0');
	}
	if (p->has_len && x != p->content_length)
		return fail(p, "conflicting Content-Length");
	p->has_len = 1;
	p->content_length = x;
	return 0;
}

/* Calls fn on each comma-separated, trimmed token of a header value. */
static void for_each_token(struct resp_parser *p, const char *v, size_t n,
			   void (*fn)(struct resp_parser *, const char *, size_t))
{
	size_t i = 0;
	while (i < n) {
		size_t j = i;
		while (j < n && v[j] != ',')
			j++;
		size_t a = i, b = j;
		while (a < b && is_ows(v[a]))
			a++;
		while (b > a && is_ows(v[b - 1]))
			b--;
		if (b > a)
			fn(p, v + a, b - a);
		i = j + 1;
	}
}

/* The last transfer coding decides: only "chunked" last frames the body. */
static void te_token(struct resp_parser *p, const char *t, size_t n)
{
	int chunked = n == 7 && name_is(t, "chunked", 7);
	p->chunked = (uint8_t)chunked;
	p->te_other = (uint8_t)!chunked;
}

static void conn_token(struct resp_parser *p, const char *t, size_t n)
{
	if (n == 5 && name_is(t, "close", 5))
		p->conn_close = 1;
	else if (n == 10 && name_is(t, "keep-alive", 10))
		p->conn_keepalive = 1;
}

static int parse_header(struct resp_parser *p, const char *s, size_t n, int trunc)
{
	if (is_ows(s[0]))
		return 0; /* obsolete line folding: continuation, ignored */
	const char *colon = memchr(s, ':', n);
	if (!colon || colon == s || is_ows(colon[-1]))
		return fail(p, "bad header line");
	size_t nl = (size_t)(colon - s);
	const char *v = colon + 1, *end = s + n;
	while (v < end && is_ows(*v))
		v++;
	while (end > v && is_ows(end[-1]))
		end--;
	size_t vl = (size_t)(end - v);

	/* Dispatch on length first: most headers are rejected by one compare. */
	if (nl == 14 && name_is(s, "content-length", 14)) {
		if (trunc)
			return fail(p, "header line too long");
		return parse_content_length(p, v, vl);
	}
	if (nl == 17 && name_is(s, "transfer-encoding", 17)) {
		if (trunc)
			return fail(p, "header line too long");
		for_each_token(p, v, vl, te_token);
	} else if (nl == 10 && name_is(s, "connection", 10)) {
		if (trunc)
			return fail(p, "header line too long");
		for_each_token(p, v, vl, conn_token);
	}
	return 0;
}

/* Decide how the body is framed (RFC 9112 section 6.3).  Returns 1 when
 * the response is already complete, 0 to go on, -1 on error. */
static int end_of_headers(struct resp_parser *p)
{
	if (p->status < 200) {
		if (p->status == 101)
			return fail(p, "protocol upgrade not supported");
		/* Interim response (100 Continue, 103 Early Hints): the final
		 * response follows on the same request. */
		resp_reset(p, p->is_head);
		return 0;
	}
	p->keepalive = p->conn_close ? 0 : (p->minor >= 1 ? 1 : p->conn_keepalive);
	if (p->is_head || p->status == 204 || p->status == 304)
		return 1;
	if (p->chunked) {
		p->state = RESP_CHUNK_SIZE;
	} else if (p->te_other || !p->has_len) {
		p->keepalive = 0;
		p->state = RESP_UNTIL_EOF;
	} else {
		if (p->content_length == 0)
			return 1;
		p->remaining = p->content_length;
		p->state = RESP_BODY;
	}
	return 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* "1a[;ext=val]" */
static int parse_chunk_size(struct resp_parser *p, const char *s, size_t n)
{
	uint64_t x = 0;
	size_t i = 0;
	for (; i < n && hexval(s[i]) >= 0; i++) {
		if (i == 15)
			return fail(p, "chunk size too large");
		x = x * 16 + (uint64_t)hexval(s[i]);
	}
	if (i == 0)
		return fail(p, "bad chunk size");
	while (i < n && is_ows(s[i]))
		i++;
	if (i < n && s[i] != ';')
		return fail(p, "bad chunk size");
	if (x == 0) {
		p->state = RESP_TRAILERS;
	} else {
		p->remaining = x;
		p->state = RESP_CHUNK_DATA;
	}
	return 0;
}

/* Returns 1 when the line completed the response, 0 to go on, -1 error. */
static int handle_line(struct resp_parser *p, const char *s, size_t n, int trunc)
{
	switch (p->state) {
	case RESP_STATUS:
		if (n == 0)
			return 0; /* stray CRLF between responses: tolerated */
		return parse_status(p, s, n);
	case RESP_HEADERS:
		if (n == 0)
			return end_of_headers(p);
		return parse_header(p, s, n, trunc);
	case RESP_CHUNK_SIZE:
		return parse_chunk_size(p, s, n);
	case RESP_CHUNK_END:
		if (n != 0)
			return fail(p, "missing CRLF after chunk");
		p->state = RESP_CHUNK_SIZE;
		return 0;
	case RESP_TRAILERS:
		if (n == 0)
			return 1;
		if (!is_ows(s[0]) && !memchr(s, ':', n))
			return fail(p, "bad trailer line");
		return 0;
	default:
		return fail(p, "internal parser state");
	}
}

/* Skip up to `remaining` body bytes; returns how many were taken. */
static size_t skip_body(struct resp_parser *p, size_t avail)
{
	size_t n = p->remaining < avail ? (size_t)p->remaining : avail;
	p->remaining -= n;
	return n;
}

ssize_t resp_feed(struct resp_parser *p, const char *buf, size_t len, int *done)
{
	size_t off = 0;

	*done = 0;
	while (off < len) {
		switch (p->state) {
		case RESP_BODY:
			off += skip_body(p, len - off);
			if (p->remaining == 0) {
				*done = 1;
				return (ssize_t)off;
			}
			break;
		case RESP_CHUNK_DATA:
			off += skip_body(p, len - off);
			if (p->remaining == 0)
				p->state = RESP_CHUNK_END;
			break;
		case RESP_UNTIL_EOF:
			off = len;
			break;
		default: {
			const char *line;
			size_t llen, used;
			int trunc, whole;
			int in_head = p->state == RESP_STATUS || p->state == RESP_HEADERS ||
				      p->state == RESP_TRAILERS;

			whole = take_line(p, buf + off, len - off, &line, &llen, &used, &trunc);
			off += used;
			if (in_head) {
				p->head_bytes += (uint32_t)used;
				if (p->head_bytes > RESP_MAX_HEAD)
					return fail(p, "response header too large");
			}
			if (!whole)
				break;
			int r = handle_line(p, line, llen, trunc);
			if (r < 0)
				return -1;
			if (r == 1) {
				*done = 1;
				return (ssize_t)off;
			}
		}
		}
	}
	return (ssize_t)off;
}

int resp_eof(struct resp_parser *p)
{
	if (p->state == RESP_UNTIL_EOF) {
		p->keepalive = 0;
		return 1;
	}
	if (p->state == RESP_STATUS && p->carry_len == 0)
		return 0;
	p->error = "connection closed inside a response";
	return -1;
}
