#include "config.h"

#include <string.h>
#include <strings.h>
#include <time.h>

#include "http/framing.h"
#include "http/route.h"

/* ---- strict head scanner (RFC 9112 section 2-5) ------------------------ */

/* tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." /
 *         "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA */
static bool is_tchar(unsigned char c)
{
	static const char extra[] = "!#$%&'*+-.^_`|~";

	if ((c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z'))
		return true;
	return c != 0 && memchr(extra, c, sizeof(extra) - 1) != NULL;
}

struct head_info {
	uint32_t target_off, target_len;  /* relative to the scanned start */
	bool http10;
	bool chunked;                     /* Transfer-Encoding ends in chunked */
};

static bool ieq(const char *a, size_t alen, const char *lit)
{
	size_t n = strlen(lit);

	return alen == n && strncasecmp(a, lit, n) == 0;
}

static enum http_err scan_request_line(const char *l, size_t n,
				       struct head_info *hi, size_t base)
{
	size_t i = 0, t0;

	while (i < n && is_tchar((unsigned char)l[i]))
		i++;
	if (i == 0 || i == n || l[i] != ' ')
		return HERR_BAD_REQUEST;
	t0 = ++i;
	while (i < n && (unsigned char)l[i] > 0x20 && (unsigned char)l[i] < 0x7f)
		i++;
	if (i == t0 || i == n || l[i] != ' ')
		return HERR_BAD_REQUEST;
	hi->target_off = (uint32_t)(base + t0);
	hi->target_len = (uint32_t)(i - t0);
	i++;
	/* HTTP-version = "HTTP/" DIGIT "." DIGIT, and nothing after it */
	if (n - i != 8 || memcmp(l + i, "HTTP/", 5) != 0 ||
	    l[i + 5] < '0' || l[i + 5] > '9' || l[i + 6] != '.' ||
	    l[i + 7] < '0' || l[i + 7] > '9')
		return HERR_BAD_REQUEST;
	if (l[i + 5] != '1' || l[i + 7] > '1')
		return HERR_VERSION;
	hi->http10 = l[i + 7] == '0';
	return HERR_NONE;
}

/* Last element of a Transfer-Encoding list must be "chunked". */
static bool te_ends_chunked(const char *v, size_t n)
{
	while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
		n--;
	size_t s = n;
	while (s && v[s - 1] != ',')
		s--;
	while (s < n && (v[s] == ' ' || v[s] == '\t'))
		s++;
	return ieq(v + s, n - s, "chunked");
}

struct hdr_counts {
	unsigned cl, te;
	bool te_chunked;
};

static enum http_err scan_header_line(const char *l, size_t n,
				      struct hdr_counts *hc)
{
	size_t i = 0;

	if (l[0] == ' ' || l[0] == '\t')
		return HERR_BAD_REQUEST;             /* obs-fold */
	while (i < n && is_tchar((unsigned char)l[i]))
		i++;
	if (i == 0 || i == n || l[i] != ':')
		return HERR_BAD_REQUEST;             /* incl. space before ':' */
	const char *v = l + i + 1;
	size_t vn = n - i - 1;
	for (size_t k = 0; k < vn; k++) {
		unsigned char c = (unsigned char)v[k];

		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return HERR_BAD_REQUEST;
	}
	if (ieq(l, i, "content-length")) {
		if (hc->cl++)
			return HERR_BAD_REQUEST;     /* duplicate Content-Length */
	} else if (ieq(l, i, "transfer-encoding")) {
		if (hc->te++)
			return HERR_BAD_REQUEST;
		hc->te_chunked = te_ends_chunked(v, vn);
	}
	return HERR_NONE;
}

/* Walks CRLF-terminated lines from offset i through the blank line that
 * ends them.  With hi, the first line is a request line and the framing
 * headers are checked at the end (a request head); without, every line is
 * a header line (the trailer section of a chunked body).  Returns the
 * length through the blank line, 0 when more bytes are needed, or sets
 * *err and returns 0. */
static size_t scan_lines(const char *p, size_t n, size_t i, struct head_info *hi,
			 enum http_err *err)
{
	struct hdr_counts hc = { 0, 0, false };
	bool first = hi != NULL;

	*err = HERR_NONE;
	for (;;) {
		const char *nl = memchr(p + i, '\n', n - i);

		if (!nl)
			return 0;
		size_t eol = (size_t)(nl - p);
		if (eol == i || p[eol - 1] != '\r') {
			*err = HERR_BAD_REQUEST;     /* bare LF */
			return 0;
		}
		size_t len = eol - 1 - i;
		const char *line = p + i;
		if (memchr(line, '\r', len) || memchr(line, '\0', len)) {
			*err = HERR_BAD_REQUEST;     /* bare CR, NUL */
			return 0;
		}
		if (len == 0) {
			if (first)
				*err = HERR_BAD_REQUEST;   /* no request line */
			else if (hi && hc.cl && hc.te)
				*err = HERR_BAD_REQUEST;
			else if (hi && hc.te && !hc.te_chunked)
				*err = HERR_BAD_REQUEST;
			else if (hi && hc.te && hi->http10)
				*err = HERR_BAD_REQUEST;   /* RFC 9112 6.1 */
			if (hi)
				hi->chunked = hc.te && hc.te_chunked;
			return *err ? 0 : eol + 1;
		}
		*err = first ? scan_request_line(line, len, hi, i)
			     : scan_header_line(line, len, &hc);
		if (*err)
			return 0;
		first = false;
		i = eol + 1;
	}
}

/* One request head starting at p (see scan_lines). */
static size_t head_scan(const char *p, size_t n, struct head_info *hi,
			enum http_err *err)
{
	size_t i = 0;

	/* A server SHOULD ignore at least one empty line before the request. */
	while (i + 1 < n && p[i] == '\r' && p[i + 1] == '\n')
		i += 2;
	return scan_lines(p, n, i, hi, err);
}

/* The trailer section after the last chunk, by the same line rules. */
static size_t trailer_scan(const char *p, size_t n, enum http_err *err)
{
	return scan_lines(p, n, 0, NULL, err);
}

/* ---- chunked bodies, strictly (RFC 9112 section 7.1) ----------------------
 *
 * Debian's non-strict http-parser accepts chunk data not followed by CRLF,
 * bare CR or LF in chunk lines and control bytes in extensions, so it could
 * frame a body differently from a strict peer (request smuggling).  Every
 * chunked body byte is checked here before http-parser consumes it; this
 * stops after the last-chunk line, where the trailer scan takes over. */

enum { CK_SIZE0, CK_SIZE, CK_EXT, CK_SIZE_LF, CK_DATA, CK_DATA_CR, CK_DATA_LF, CK_DONE };

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static enum http_err chunk_scan(struct http_framer *f)
{
	while (f->ck_pos < f->len && f->ck_state != CK_DONE) {
		unsigned char c = (unsigned char)f->buf[f->ck_pos];
		int h = hexval(c);

		switch (f->ck_state) {
		case CK_SIZE0:
			if (h < 0)
				return HERR_BAD_REQUEST;
			f->ck_left = (uint64_t)h;
			f->ck_state = CK_SIZE;
			break;
		case CK_SIZE:
			if (h >= 0) {
				if (f->ck_left > (HTTP_BODY_MAX >> 4))
					return HERR_BODY_TOO_LARGE;
				f->ck_left = f->ck_left * 16 + (uint64_t)h;
			} else if (c == ';' || c == ' ') {
				/* ";" chunk-ext, or SP as BWS; HTAB is refused as
				 * http-parser refuses it, so both judge alike. */
				f->ck_state = CK_EXT;
			} else if (c == '\r') {
				f->ck_state = CK_SIZE_LF;
			} else {
				return HERR_BAD_REQUEST;
			}
			break;
		case CK_EXT:
			if (c == '\r')
				f->ck_state = CK_SIZE_LF;
			else if ((c < 0x20 && c != '\t') || c == 0x7f)
				return HERR_BAD_REQUEST;
			break;
		case CK_SIZE_LF:
			if (c != '\n')
				return HERR_BAD_REQUEST;
			f->ck_total += f->ck_left;
			if (f->ck_total > HTTP_BODY_MAX)
				return HERR_BODY_TOO_LARGE;
			f->ck_state = f->ck_left ? CK_DATA : CK_DONE;
			break;
		case CK_DATA: {
			uint64_t take = f->len - f->ck_pos;

			if (take > f->ck_left)
				take = f->ck_left;
			f->ck_pos += (uint32_t)take;
			f->ck_left -= take;
			if (!f->ck_left)
				f->ck_state = CK_DATA_CR;
			continue;
		}
		case CK_DATA_CR:
			if (c != '\r')
				return HERR_BAD_REQUEST;
			f->ck_state = CK_DATA_LF;
			break;
		case CK_DATA_LF:
			if (c != '\n')
				return HERR_BAD_REQUEST;
			f->ck_state = CK_SIZE0;
			break;
		}
		f->ck_pos++;
	}
	return HERR_NONE;
}

/* ---- http-parser glue --------------------------------------------------- */

static int on_chunk_header(http_parser *p)
{
	struct http_framer *f = p->data;

	if (p->content_length == 0) {     /* last-chunk: trailers follow */
		f->in_trailers = true;
		http_parser_pause(p, 1);
	}
	return 0;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int on_message_begin(http_parser *p)
{
	struct http_framer *f = p->data;

	f->in_message = true;
	f->err = HERR_NONE;
	return 0;
}

static int on_headers_complete(http_parser *p)
{
	struct http_framer *f = p->data;
	struct http_req *r = &f->cur;
	int get_or_head = p->method == HTTP_GET || p->method == HTTP_HEAD;

	if ((p->flags & F_CONTENTLENGTH) && p->content_length > HTTP_BODY_MAX) {
		f->err = HERR_BODY_TOO_LARGE;
		return -1;
	}
	r->flags = 0;
	if (p->method == HTTP_HEAD)
		r->flags |= REQF_HEAD;
	if (p->http_minor == 0)
		r->flags |= REQF_HTTP10;
	if (!http_should_keep_alive(p))
		r->flags |= REQF_CLOSE;
	/* No tunnels and no protocol switches: what follows a CONNECT or an
	 * Upgrade request is not HTTP/1.1 to a peer that honours them.  A
	 * CONNECT is a framing error (400, close); an Upgrade request is
	 * answered, then the connection closes. */
	if (p->method == HTTP_CONNECT) {
		f->err = HERR_BAD_REQUEST;
		return -1;
	}
	http_route(f->buf + f->url_off, f->url_len, get_or_head, r);
	if (p->upgrade)
		r->flags |= REQF_CLOSE;
	return 0;
}

static int on_message_complete(http_parser *p)
{
	struct http_framer *f = p->data;

	f->complete = true;
	http_parser_pause(p, 1);     /* frame pipelined requests one by one */
	return 0;
}

static const http_parser_settings parser_settings = {
	.on_message_begin = on_message_begin,
	.on_headers_complete = on_headers_complete,
	.on_message_complete = on_message_complete,
	.on_chunk_header = on_chunk_header,
};

void http_framer_global_init(uint32_t max_head)
{
	http_parser_set_max_header_size(max_head);
}

void http_framer_init(struct http_framer *f, char *buf, uint32_t cap,
		      uint32_t max_head)
{
	memset(f, 0, sizeof(*f));
	f->buf = buf;
	f->cap = cap;
	f->max_head = max_head;
	http_parser_init(&f->parser, HTTP_REQUEST);
	f->parser.data = f;
}

char *http_framer_space(struct http_framer *f, size_t *avail)
{
	if (f->pos > 0) {
		memmove(f->buf, f->buf + f->pos, f->len - f->pos);
		f->len -= f->pos;
		if (f->chunked && f->ck_state != CK_DONE)
			f->ck_pos -= f->pos;     /* never behind pos while scanning */
		f->pos = 0;
	}
	*avail = f->cap - f->len;
	return f->buf + f->len;
}

void http_framer_commit(struct http_framer *f, size_t n)
{
	f->len += (uint32_t)n;
}

bool http_framer_has_partial(const struct http_framer *f)
{
	return f->pos < f->len || f->in_message;
}

static enum http_frame_rc fail(struct http_framer *f, enum http_err e,
			       struct http_req *out)
{
	memset(out, 0, sizeof(*out));
	out->kind = REQ_HTTP;
	out->err = (uint8_t)e;
	out->flags = REQF_CLOSE;
	out->t_parsed_ns = now_ns();
	f->done = true;
	return HTTP_FRAME_ERROR;
}

enum http_frame_rc http_framer_next(struct http_framer *f, struct http_req *out)
{
	size_t limit;
again:
	limit = f->len - f->pos;
	if (f->done || f->pos == f->len)
		return HTTP_FRAME_NEED_MORE;
	if (f->in_trailers) {
		enum http_err err;
		size_t t = trailer_scan(f->buf + f->pos, f->len - f->pos, &err);

		if (err)
			return fail(f, err, out);
		if (t == 0) {
			if (f->len - f->pos >= f->max_head)
				return fail(f, HERR_HEAD_TOO_LARGE, out);
			return HTTP_FRAME_NEED_MORE;
		}
		f->in_trailers = false;
		http_parser_pause(&f->parser, 0);
	}
	if (!f->in_message) {
		struct head_info hi = { 0, 0, false, false };
		enum http_err err;
		size_t head = head_scan(f->buf + f->pos, f->len - f->pos, &hi, &err);

		if (err)
			return fail(f, err, out);
		if (head == 0) {
			if (f->len - f->pos >= f->max_head)
				return fail(f, HERR_HEAD_TOO_LARGE, out);
			return HTTP_FRAME_NEED_MORE;
		}
		if (head > f->max_head)
			return fail(f, HERR_HEAD_TOO_LARGE, out);
		f->url_off = f->pos + hi.target_off;
		f->url_len = hi.target_len;
		f->chunked = hi.chunked;
		if (f->chunked) {
			f->ck_state = CK_SIZE0;
			f->ck_pos = f->pos + (uint32_t)head;
			f->ck_left = f->ck_total = 0;
			f->ck_err = HERR_NONE;
			/* The head goes to http-parser first, so its verdict on
			 * the head comes before ours on the body however the
			 * bytes were split. */
			limit = head;
		}
	} else if (f->chunked) {
		/* Both checkers judge the body; the first bad byte decides,
		 * whoever sees it, so any split of the input gives the same
		 * answer: http-parser reads only up to our first bad byte. */
		if (!f->ck_err)
			f->ck_err = (uint8_t)chunk_scan(f);
		if (f->ck_err) {
			if (f->ck_pos == f->pos)
				return fail(f, (enum http_err)f->ck_err, out);
			limit = f->ck_pos - f->pos;
		}
	}
	size_t n = http_parser_execute(&f->parser, &parser_settings,
				       f->buf + f->pos, limit);
	enum http_errno pe = HTTP_PARSER_ERRNO(&f->parser);

	f->pos += (uint32_t)n;
	if (f->complete) {
		f->complete = false;
		f->in_message = false;
		f->chunked = false;
		if (pe == HPE_PAUSED)
			http_parser_pause(&f->parser, 0);
		*out = f->cur;
		out->kind = REQ_HTTP;
		out->t_parsed_ns = now_ns();
		if (out->flags & REQF_CLOSE)
			f->done = true;    /* nothing after Connection: close */
		return HTTP_FRAME_REQ;
	}
	if (pe == HPE_PAUSED && f->in_trailers)
		goto again;
	if (pe == HPE_OK && f->chunked && f->pos < f->len)
		goto again;                      /* the body, now checked first */
	if (pe != HPE_OK)
		return fail(f, f->err ? (enum http_err)f->err : HERR_BAD_REQUEST, out);
	return HTTP_FRAME_NEED_MORE;
}
