/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"

#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/base/clock.h"
#include "http/framing.h"
#include "http/route.h"

/* ---- strict head scanner (RFC 9112 section 2-5) ------------------------ */

/* Character classes, one table lookup per byte (built at compile time):
 *   tchar    = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." /
 *              "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA   (RFC 9110 5.6.2)
 *   reg-name = unreserved / sub-delims, and "%" for pct-encoded (RFC 3986)
 *   hex      = HEXDIG */
enum { C_TCHAR = 1, C_REGNAME = 2, C_HEX = 4 };

#define IS_DIGIT(c) ((c) >= '0' && (c) <= '9')
#define IS_ALPHA(c) (((c) >= 'a' && (c) <= 'z') || ((c) >= 'A' && (c) <= 'Z'))
#define CLASS(c) ( \
	((IS_DIGIT(c) || IS_ALPHA(c) || (c) == '!' || (c) == '#' || (c) == '$' || \
	  (c) == '%' || (c) == '&' || (c) == '\'' || (c) == '*' || (c) == '+' || \
	  (c) == '-' || (c) == '.' || (c) == '^' || (c) == '_' || (c) == '`' || \
	  (c) == '|' || (c) == '~') ? C_TCHAR : 0) | \
	((IS_DIGIT(c) || IS_ALPHA(c) || (c) == '-' || (c) == '.' || (c) == '_' || \
	  (c) == '~' || (c) == '!' || (c) == '$' || (c) == '&' || (c) == '\'' || \
	  (c) == '(' || (c) == ')' || (c) == '*' || (c) == '+' || (c) == ',' || \
	  (c) == ';' || (c) == '=') ? C_REGNAME : 0) | \
	((IS_DIGIT(c) || ((c) >= 'a' && (c) <= 'f') || ((c) >= 'A' && (c) <= 'F')) ? C_HEX : 0))
#define C4(b) CLASS(b), CLASS(b + 1), CLASS(b + 2), CLASS(b + 3)
#define C16(b) C4(b), C4(b + 4), C4(b + 8), C4(b + 12)
#define C64(b) C16(b), C16(b + 16), C16(b + 32), C16(b + 48)
static const unsigned char char_class[256] = {
	C64(0), C64(64), C64(128), C64(192)
};
#undef C64
#undef C16
#undef C4
#undef CLASS
#undef IS_ALPHA
#undef IS_DIGIT

static inline bool is_tchar(unsigned char c)
{
	return char_class[c] & C_TCHAR;
}

static inline bool is_reg_name(unsigned char c)
{
	return char_class[c] & C_REGNAME;
}

static inline bool is_hex(unsigned char c)
{
	return char_class[c] & C_HEX;
}

/* Eight bytes at a time (a head's lines are mostly plain text): whether a
 * word holds a byte below b (b <= 0x80; bytes from 0x80 up never count)
 * or a byte equal to b.  Exact as a yes/no for the whole word; the caller
 * then finds the byte one at a time. */
#define ONES 0x0101010101010101ull
#define HIGHS 0x8080808080808080ull

static inline uint64_t word_at(const char *p)
{
	uint64_t w;

	memcpy(&w, p, sizeof(w));
	return w;
}

static inline bool has_below(uint64_t w, unsigned char b)
{
	return ((w - ONES * b) & ~w & HIGHS) != 0;
}

static inline bool has_byte(uint64_t w, unsigned char b)
{
	return has_below(w ^ (ONES * b), 1);
}

/* How many of p[0..n) are visible ASCII (VCHAR, 0x21-0x7e) before the
 * first that is not: a request target's bytes. */
static size_t span_vchar(const char *p, size_t n)
{
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		uint64_t w = word_at(p + i);

		/* below 0x21, or from 0x7f up (0x7f itself, or a high bit) */
		if (has_below(w, 0x21) || has_byte(w, 0x7f) || (w & HIGHS))
			break;
	}
	while (i < n && (unsigned char)p[i] > 0x20 && (unsigned char)p[i] < 0x7f)
		i++;
	return i;
}

/* Whether p[0..n) holds a control byte other than HTAB, or DEL: what a
 * field value may not (RFC 9110 5.5; this also refuses bare CR and NUL). */
static bool has_ctl(const char *p, size_t n)
{
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		uint64_t w = word_at(p + i);

		if (has_below(w, 0x20) || has_byte(w, 0x7f))
			break;                   /* this word: byte by byte */
	}
	for (; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return true;
	}
	return false;
}

/* a (alen bytes) equals the lower-case literal, ignoring case.  ORing
 * 0x20 folds only upper-case letters onto literal characters here: the
 * bytes compared are tchars or field-value bytes (no CTL but HTAB), and the
 * literals hold lower-case letters, digits and '-' only. */
static inline bool ieq(const char *a, size_t alen, const char *lit, size_t n)
{
	if (alen != n)
		return false;
	for (size_t k = 0; k < n; k++)
		if ((a[k] | 0x20) != lit[k] && a[k] != lit[k])
			return false;
	return true;
}

#define IEQ(a, alen, lit) ieq(a, alen, lit, sizeof(lit) - 1)

/* uri-host [ ":" port ] (RFC 9110 7.2): an IP literal in brackets or a
 * reg-name, then digits after a colon.  Empty is invalid too: an "http"
 * URI always has a host, and nginx answers an empty Host with 400. */
static bool host_valid(const char *v, size_t n)
{
	const unsigned char *u = (const unsigned char *)v;
	size_t i = 0;

	if (n == 0)
		return false;
	if (u[0] == '[') {
		for (i = 1; i < n && u[i] != ']'; i++)
			if (!is_reg_name(u[i]) && u[i] != ':')
				return false;
		if (i == n || i == 1)
			return false;
		i++;
	} else {
		for (;;) {
			while (i < n && is_reg_name(u[i]))
				i++;
			if (i == n || u[i] != '%')
				break;
			if (i + 2 >= n || !is_hex(u[i + 1]) || !is_hex(u[i + 2]))
				return false;
			i += 3;
		}
		if (i == 0)
			return false;
	}
	if (i < n && u[i++] != ':')
		return false;
	while (i < n && u[i] >= '0' && u[i] <= '9')
		i++;
	return i == n;
}

/* The request target's forms (RFC 9112 3.2): origin-form "/path?query";
 * asterisk-form "*" (OPTIONS only, checked once the method is known);
 * absolute-form "scheme://authority/path?query", whose path and query are
 * routed like an origin-form target.  nginx takes any scheme there, and so
 * does metricd. */
static enum http_err scan_target(struct http_framer *f, const char *t, size_t n,
				 size_t off)
{
	size_t i = 0, a;

	f->msg_log[HTTP_LOG_TARGET] = (struct http_span){ (uint32_t)(t - f->buf),
							  (uint32_t)n };
	f->url_off = (uint32_t)off;
	f->url_len = (uint32_t)n;
	if (t[0] == '/')
		return HERR_NONE;
	f->sc_slow = true;                   /* only origin-form is plain */
	if (n == 1 && t[0] == '*') {
		f->sc_asterisk = true;
		return HERR_NONE;
	}
	while (i < n && (((t[i] | 0x20) >= 'a' && (t[i] | 0x20) <= 'z') ||
			 (i > 0 && ((t[i] >= '0' && t[i] <= '9') || t[i] == '+' ||
				    t[i] == '-' || t[i] == '.'))))
		i++;
	if (i == 0 || n - i < 3 || memcmp(t + i, "://", 3) != 0)
		return HERR_BAD_REQUEST;
	a = i + 3;
	for (i = a; i < n && t[i] != '/' && t[i] != '?'; i++)
		;
	if (!host_valid(t + a, i - a))        /* also refuses userinfo "@" */
		return HERR_BAD_REQUEST;
	f->url_off = (uint32_t)(off + i);
	f->url_len = (uint32_t)(n - i);
	return HERR_NONE;
}

static enum http_err scan_request_line(struct http_framer *f, const char *l,
				       size_t n, size_t base)
{
	size_t i = 0, t0;
	enum http_err err;

	while (i < n && is_tchar((unsigned char)l[i]))
		i++;
	if (i == 0 || i == n || l[i] != ' ')
		return HERR_BAD_REQUEST;
	f->msg_method = (struct http_span){ (uint32_t)(l - f->buf), (uint32_t)i };
	if (i == 3 && memcmp(l, "GET", 3) == 0)
		f->sc_method = HTTP_GET + 1;
	else if (i == 4 && memcmp(l, "HEAD", 4) == 0)
		f->sc_method = HTTP_HEAD + 1;
	else
		f->sc_slow = true;
	t0 = ++i;
	i += span_vchar(l + i, n - i);
	if (i == t0 || i == n || l[i] != ' ')
		return HERR_BAD_REQUEST;
	if ((err = scan_target(f, l + t0, i - t0, base + t0)))
		return err;
	i++;
	/* HTTP-version = "HTTP/" DIGIT "." DIGIT, and nothing after it */
	if (n - i != 8 || memcmp(l + i, "HTTP/", 5) != 0 ||
	    l[i + 5] < '0' || l[i + 5] > '9' || l[i + 6] != '.' ||
	    l[i + 7] < '0' || l[i + 7] > '9')
		return HERR_BAD_REQUEST;
	if (l[i + 5] != '1' || l[i + 7] > '1')
		return HERR_VERSION;
	f->sc_http10 = l[i + 7] == '0';
	return HERR_NONE;
}

/* Last element of a Transfer-Encoding list must be "chunked". */
static bool te_ends_chunked(const char *v, size_t n)
{
	size_t s = n;

	while (s && v[s - 1] != ',')
		s--;
	while (s < n && (v[s] == ' ' || v[s] == '\t'))
		s++;
	return IEQ(v + s, n - s, "chunked");
}

static void log_field(struct http_framer *f, enum http_log_field k,
		      const char *v, size_t vn)
{
	if (!f->msg_log[k].len && vn)
		f->msg_log[k] = (struct http_span){ (uint32_t)(v - f->buf), (uint32_t)vn };
}

/* An entity-tag's opaque part in metricd's own form: 8 lower-case hex
 * digits (http_write_head's ETag).  Lower case only: entity-tags compare
 * character by character (RFC 9110 8.8.3.2). */
static bool own_etag(const char *p, size_t n, uint32_t *tag)
{
	uint32_t v = 0;

	if (n != 8)
		return false;
	for (size_t k = 0; k < n; k++) {
		unsigned char c = (unsigned char)p[k];

		if (c >= '0' && c <= '9')
			v = v << 4 | (uint32_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v = v << 4 | (uint32_t)(c - 'a' + 10);
		else
			return false;
	}
	*tag = v;
	return true;
}

/* If-None-Match (RFC 9110 13.1.2): "*" or a list of entity-tags, each
 * [W/]"opaque".  Only what a 304 needs is kept: whether the line is "*" or
 * names f->etag, the server's one tagged body (weak or not: this
 * comparison is the weak one).  A line that is not such a list is ignored
 * from where it stops being one: its request gets the whole page, never a
 * wrong 304.  The descriptor carries the answer as one flag
 * (REQF_INM_MATCH): it has no room for a tag. */
static void scan_if_none_match(struct http_framer *f, const char *v, size_t n)
{
	uint32_t t;
	size_t i = 0;

	if (n == 1 && v[0] == '*') {
		f->sc_inm_match = true;
		return;
	}
	while (i < n) {
		if (v[i] == ',' || v[i] == ' ' || v[i] == '\t') {
			i++;
			continue;
		}
		if (n - i >= 2 && v[i] == 'W' && v[i + 1] == '/')
			i += 2;
		if (i == n || v[i] != '"')
			return;
		size_t at = ++i;

		while (i < n && v[i] != '"')
			i++;
		if (i == n)
			return;
		if (f->etag && own_etag(v + at, i - at, &t) && t == *f->etag)
			f->sc_inm_match = true;
		i++;
	}
}

/* Connection, for a plain head: one such line, and its value exactly
 * "close" or "keep-alive" (any case; no whitespace after it: end is where
 * the line ends).  Anything else - a list, "upgrade", a second line - is
 * left to http-parser, which sets the keep-alive rules from it. */
static void scan_connection(struct http_framer *f, const char *v, size_t vn,
			    const char *end)
{
	if (f->sc_conn != SC_CONN_NONE || v + vn != end)
		f->sc_slow = true;
	else if (IEQ(v, vn, "close"))
		f->sc_conn = SC_CONN_CLOSE;
	else if (IEQ(v, vn, "keep-alive"))
		f->sc_conn = SC_CONN_KEEP_ALIVE;
	else
		f->sc_slow = true;
}

/* One field line, in one pass: the name's characters, the colon, the
 * value's (no CTL but HTAB, which also refuses bare CR and NUL).  In a head
 * (not a trailer section) the fields that frame or route the request are
 * counted and checked. */
static enum http_err scan_header_line(struct http_framer *f, const char *l,
				      size_t n, bool head)
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

	if (has_ctl(v, vn))
		return HERR_BAD_REQUEST;
	/* field-value without the optional whitespace around it */
	while (vn && (*v == ' ' || *v == '\t'))
		v++, vn--;
	while (vn && (v[vn - 1] == ' ' || v[vn - 1] == '\t'))
		vn--;
	/* http-parser takes any name that starts with "Transfer-Encoding" for
	 * that field (and refuses the request): such a head is its to read. */
	if (i > 17 && ieq(l, 17, "transfer-encoding", 17))
		f->sc_slow = true;
	switch (i) {           /* the fields that frame or route, by length */
	case 14:
		if (IEQ(l, i, "content-length") && f->sc_cl++)
			return HERR_BAD_REQUEST;     /* duplicate Content-Length */
		break;
	case 17:
		if (IEQ(l, i, "transfer-encoding")) {
			if (f->sc_te++)
				return HERR_BAD_REQUEST;
			f->sc_te_chunked = te_ends_chunked(v, vn);
		}
		break;
	case 16:               /* http-parser takes it for Connection */
		if (head && IEQ(l, i, "proxy-connection"))
			f->sc_slow = true;
		break;
	case 4:
		if (head && IEQ(l, i, "host") &&
		    (f->sc_host++ || !host_valid(v, vn)))
			return HERR_BAD_REQUEST;     /* RFC 9112 3.2 */
		break;
	case 13:
		if (head && IEQ(l, i, "if-none-match"))
			scan_if_none_match(f, v, vn);
		break;
	case 6:
		if (head && IEQ(l, i, "expect")) {
			if (IEQ(v, vn, "100-continue"))
				f->sc_expect_continue = true;
			else
				f->sc_expect_other = true;
		}
		break;
	case 7:                /* for the access log: the first one */
		if (head && IEQ(l, i, "referer"))
			log_field(f, HTTP_LOG_REFERER, v, vn);
		else if (head && IEQ(l, i, "upgrade"))
			f->sc_slow = true;
		break;
	case 10:
		if (head && IEQ(l, i, "user-agent"))
			log_field(f, HTTP_LOG_UA, v, vn);
		else if (head && IEQ(l, i, "connection"))
			scan_connection(f, v, vn, l + n);
		break;
	}
	return HERR_NONE;
}

/* The framing rules that need the whole head. */
static enum http_err head_complete(const struct http_framer *f)
{
	if (f->sc_cl && f->sc_te)
		return HERR_BAD_REQUEST;
	if (f->sc_te && !f->sc_te_chunked)
		return HERR_BAD_REQUEST;
	if (f->sc_te && f->sc_http10)
		return HERR_BAD_REQUEST;             /* RFC 9112 6.1 */
	if (!f->sc_http10 && f->sc_host == 0)
		return HERR_BAD_REQUEST;             /* RFC 9112 3.2 */
	if (!f->sc_http10 && f->sc_expect_other)
		return HERR_EXPECT;                  /* RFC 9110 10.1.1 */
	return HERR_NONE;
}

static void scan_reset(struct http_framer *f)
{
	f->sc_at = f->sc_nl = 0;
	f->sc_started = f->sc_http10 = f->sc_te_chunked = f->sc_asterisk = false;
	f->sc_expect_continue = f->sc_expect_other = false;
	f->sc_inm_match = false;
	f->sc_cl = f->sc_te = f->sc_host = 0;
	f->sc_slow = false;
	f->sc_method = HTTP_METHOD_NONE;
	f->sc_conn = SC_CONN_NONE;
}

/* Checks the lines of a request head (head) or of a trailer section that
 * arrived since the last call.  It resumes at the first unchecked line and
 * looks for its LF only past the bytes already searched, so a head sent
 * one byte at a time costs time linear in its length (each byte is looked
 * at twice: once for the LF, once by its line's check).  Returns the
 * section's length through its blank line; 0 when more bytes are needed
 * or on error (*err). */
static size_t scan_section(struct http_framer *f, bool head, enum http_err *err)
{
	const char *p = f->buf + f->pos;
	size_t n = f->len - f->pos;

	*err = HERR_NONE;
	for (;;) {
		size_t from = f->sc_nl, i = f->sc_at;
		const char *nl = memchr(p + from, '\n', n - from);

		if (!nl) {
			f->examined += n - from;
			f->sc_nl = (uint32_t)n;
			return 0;
		}
		size_t eol = (size_t)(nl - p);

		f->examined += eol + 1 - from;
		if (eol == i || p[eol - 1] != '\r') {
			*err = HERR_BAD_REQUEST;     /* bare LF */
			return 0;
		}
		size_t len = eol - 1 - i;

		f->examined += len;
		f->sc_at = f->sc_nl = (uint32_t)(eol + 1);
		if (len == 0) {
			/* A server SHOULD ignore empty lines before the request
			 * line (RFC 9112 2.2); after it, the head ends here. */
			if (head && !f->sc_started)
				continue;
			if (head)
				*err = head_complete(f);
			return *err ? 0 : eol + 1;
		}
		if (head && !f->sc_started)
			*err = scan_request_line(f, p + i, len, i);
		else
			*err = scan_header_line(f, p + i, len, head);
		if (*err)
			return 0;
		f->sc_started = true;
	}
}

/* ---- chunked bodies, strictly (RFC 9112 section 7.1) ----------------------
 *
 * Debian's non-strict http-parser accepts chunk data not followed by CRLF,
 * bare CR or LF in chunk lines and control bytes in extensions, so it could
 * frame a body differently from a strict peer (request smuggling).  Every
 * chunked body byte is checked here before http-parser consumes it; this
 * stops after the last-chunk line, where the trailer scan takes over. */

enum {
	CHUNK_SIZE0, CHUNK_SIZE, CHUNK_EXT, CHUNK_SIZE_LF, CHUNK_DATA,
	CHUNK_DATA_CR, CHUNK_DATA_LF, CHUNK_DONE
};

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static enum http_err chunk_scan(struct http_framer *f)
{
	uint32_t start = f->chunk_pos;
	enum http_err err = HERR_NONE;

	while (f->chunk_pos < f->len && f->chunk_state != CHUNK_DONE) {
		unsigned char c = (unsigned char)f->buf[f->chunk_pos];
		int h = hexval(c);

		switch (f->chunk_state) {
		case CHUNK_SIZE0:
			if (h < 0)
				err = HERR_BAD_REQUEST;
			f->chunk_left = (uint64_t)h;
			f->chunk_state = CHUNK_SIZE;
			break;
		case CHUNK_SIZE:
			if (h >= 0) {
				if (f->chunk_left > (f->max_body >> 4))
					err = HERR_BODY_TOO_LARGE;
				f->chunk_left = f->chunk_left * 16 + (uint64_t)h;
			} else if (c == ';' || c == ' ') {
				/* ";" chunk-ext, or SP as BWS; HTAB is refused as
				 * http-parser refuses it, so both judge alike. */
				f->chunk_state = CHUNK_EXT;
			} else if (c == '\r') {
				f->chunk_state = CHUNK_SIZE_LF;
			} else {
				err = HERR_BAD_REQUEST;
			}
			break;
		case CHUNK_EXT:
			if (c == '\r')
				f->chunk_state = CHUNK_SIZE_LF;
			else if ((c < 0x20 && c != '\t') || c == 0x7f)
				err = HERR_BAD_REQUEST;
			break;
		case CHUNK_SIZE_LF:
			if (c != '\n') {
				err = HERR_BAD_REQUEST;
				break;
			}
			f->chunk_total += f->chunk_left;
			if (f->chunk_total > f->max_body)
				err = HERR_BODY_TOO_LARGE;
			f->chunk_state = f->chunk_left ? CHUNK_DATA : CHUNK_DONE;
			break;
		case CHUNK_DATA: {
			uint64_t take = f->len - f->chunk_pos;

			if (take > f->chunk_left)
				take = f->chunk_left;
			f->chunk_pos += (uint32_t)take;
			f->chunk_left -= take;
			if (!f->chunk_left)
				f->chunk_state = CHUNK_DATA_CR;
			continue;
		}
		case CHUNK_DATA_CR:
			if (c != '\r')
				err = HERR_BAD_REQUEST;
			f->chunk_state = CHUNK_DATA_LF;
			break;
		case CHUNK_DATA_LF:
			if (c != '\n')
				err = HERR_BAD_REQUEST;
			f->chunk_state = CHUNK_SIZE0;
			break;
		}
		if (err)
			break;
		f->chunk_pos++;
	}
	f->examined += f->chunk_pos - start;
	return err;
}

/* ---- http-parser glue --------------------------------------------------- */

static int on_chunk_header(http_parser *p)
{
	struct http_framer *f = p->data;

	if (p->content_length == 0) {     /* last-chunk: trailers follow */
		f->in_trailers = true;
		scan_reset(f);
		http_parser_pause(p, 1);
	}
	return 0;
}

static int on_message_begin(http_parser *p)
{
	struct http_framer *f = p->data;

	f->in_message = true;
	f->err = HERR_NONE;
	return 0;
}

/* The descriptor's flags from a head, read by http-parser or (a plain
 * head) by the scanner alone. */
static void head_flags(struct http_framer *f, bool head, bool keep_alive)
{
	struct http_req *r = &f->cur;

	r->flags = 0;
	if (head)
		r->flags |= REQF_HEAD;
	if (f->sc_http10)
		r->flags |= REQF_HTTP10;
	if (!keep_alive)
		r->flags |= REQF_CLOSE;
	if (f->sc_inm_match)
		r->flags |= REQF_INM_MATCH;
}

static int on_headers_complete(http_parser *p)
{
	struct http_framer *f = p->data;
	struct http_req *r = &f->cur;
	int get_or_head = p->method == HTTP_GET || p->method == HTTP_HEAD;

	f->method = (uint8_t)(p->method + 1);
	head_flags(f, p->method == HTTP_HEAD, http_should_keep_alive(p));
	if ((p->flags & F_CONTENTLENGTH) && p->content_length > f->max_body) {
		f->err = HERR_BODY_TOO_LARGE;
		return -1;
	}
	/* No tunnels and no protocol switches: what follows a CONNECT or an
	 * Upgrade request is not HTTP/1.1 to a peer that honours them.  A
	 * CONNECT is a framing error (400, close); an Upgrade request is
	 * answered, then the connection closes.  "*" is a target for OPTIONS
	 * only (RFC 9112 3.2.4). */
	if (p->method == HTTP_CONNECT ||
	    (f->sc_asterisk && p->method != HTTP_OPTIONS)) {
		f->err = HERR_BAD_REQUEST;
		return -1;
	}
	if (f->sc_asterisk) {
		r->flags |= REQF_OPTIONS;
		r->route = ROUTE_OPTIONS;
		r->id = r->work = 0;
		r->err = HERR_NONE;
	} else {
		http_route(f->buf + f->pos + f->url_off, f->url_len, get_or_head, r);
	}
	if (p->upgrade)
		r->flags |= REQF_CLOSE;
	/* 100 Continue only when a body will be read (RFC 9110 10.1.1: not
	 * for HTTP/1.0, not when the framing says there is no content). */
	f->want_continue = f->sc_expect_continue && !f->sc_http10 &&
			   ((p->flags & F_CHUNKED) ||
			    ((p->flags & F_CONTENTLENGTH) && p->content_length > 0));
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
	f->max_body = HTTP_BODY_MAX;
	http_parser_init(&f->parser, HTTP_REQUEST);
	f->parser.data = f;
}

/* The access-log fields of the message being read that lie in consumed
 * bytes move to the front of the buffer, at most what is logged of each,
 * in the order they were in (so no move overwrites a field not yet moved);
 * returns the bytes they take.  That happens only while a message's body
 * spans reads: its head went to http-parser, the message is not yet
 * handed out.  At most the three caps together (1792 bytes) stay: the
 * connection's buffer has 4096 bytes beyond the head limit
 * (core/lifecycle.c), so a trailer section up to the limit still fits. */
static uint32_t keep_log_fields(struct http_framer *f)
{
	struct http_span *order[HTTP_LOG_FIELDS];
	unsigned n = 0;
	uint32_t kept = 0;

	for (unsigned k = 0; k < HTTP_LOG_FIELDS; k++) {
		struct http_span *s = &f->msg_log[k];
		uint32_t want = s->len < http_log_max(k) ? s->len : http_log_max(k);

		if (!s->len || s->off >= f->pos)
			continue;
		if (s->off + want > f->pos) {
			s->len = 0;              /* not whole in what was consumed */
			continue;
		}
		unsigned j = n++;

		for (; j > 0 && order[j - 1]->off > s->off; j--)
			order[j] = order[j - 1];
		order[j] = s;
	}
	for (unsigned j = 0; j < n; j++) {
		struct http_span *s = order[j];
		enum http_log_field k = (enum http_log_field)(s - f->msg_log);
		uint32_t want = s->len < http_log_max(k) ? s->len : http_log_max(k);

		memmove(f->buf + kept, f->buf + s->off, want);
		s->off = kept;
		kept += want;
	}
	return kept;
}

/* The fields still ahead of pos (a head being scanned) move with the
 * unconsumed bytes; the method's token is needed only until the head has
 * gone to http-parser, so it is not kept. */
static void shift_log_fields(struct http_framer *f, uint32_t old_pos,
			     uint32_t shift)
{
	for (unsigned k = 0; k < HTTP_LOG_FIELDS; k++)
		if (f->msg_log[k].len && f->msg_log[k].off >= old_pos)
			f->msg_log[k].off -= shift;
	if (f->msg_method.off >= old_pos)
		f->msg_method.off -= shift;
	else
		f->msg_method.len = 0;
}

char *http_framer_space(struct http_framer *f, size_t *avail)
{
	uint32_t keep = f->pos ? keep_log_fields(f) : 0;
	uint32_t shift = f->pos - keep;

	if (shift) {
		memmove(f->buf + keep, f->buf + f->pos, f->len - f->pos);
		f->len -= shift;
		if (f->chunked && f->chunk_state != CHUNK_DONE)
			f->chunk_pos -= shift;   /* never behind pos while scanning */
		shift_log_fields(f, f->pos, shift);
		f->pos = keep;
	}
	*avail = f->cap - f->len;
	return f->buf + f->len;
}

void http_framer_commit(struct http_framer *f, size_t n)
{
	f->len += (uint32_t)n;
	f->read_ns = clock_mono_ns();
}

bool http_framer_has_partial(const struct http_framer *f)
{
	return f->pos < f->len || f->in_message;
}

/* The names http-parser knows, by its numbers. */
static const char *const method_names[] = {
#define XX(num, name, string) [num] = #string,
	HTTP_METHOD_MAP(XX)
#undef XX
};

/* The method of a request refused before http-parser read its head: its
 * token, if it is one http-parser knows. */
static uint8_t method_by_name(const struct http_framer *f)
{
	const struct http_span *m = &f->msg_method;

	for (size_t i = 0; m->len && i < sizeof(method_names) / sizeof(method_names[0]); i++)
		if (method_names[i] && strlen(method_names[i]) == m->len &&
		    memcmp(method_names[i], f->buf + m->off, m->len) == 0)
			return (uint8_t)(i + 1);
	return HTTP_METHOD_NONE;
}

/* What the access log may show of the message ends here (deliver, fail):
 * the next head starts with none. */
static void log_fields_out(struct http_framer *f)
{
	memcpy(f->log, f->msg_log, sizeof(f->log));
	memset(f->msg_log, 0, sizeof(f->msg_log));
	f->msg_method.len = 0;
	f->method = HTTP_METHOD_NONE;
}

static enum http_frame_rc fail(struct http_framer *f, enum http_err e,
			       struct http_req *out)
{
	memset(out, 0, sizeof(*out));
	out->kind = REQ_HTTP;
	out->err = (uint8_t)e;
	out->flags = REQF_CLOSE;
	/* For the access log: as much of the request line as was read. */
	if (f->method) {
		out->method = f->method;
		out->flags |= f->cur.flags & REQF_HTTP10;
	} else {
		out->method = method_by_name(f);
		if (f->sc_started && f->sc_http10)
			out->flags |= REQF_HTTP10;
	}
	out->t_parsed_ns = f->read_ns;
	log_fields_out(f);
	f->done = true;
	return HTTP_FRAME_ERROR;
}

/* A head or trailer section that is not complete: 431 once it can no
 * longer fit, else wait for more bytes. */
static enum http_frame_rc section_incomplete(struct http_framer *f,
					     struct http_req *out)
{
	if (f->len - f->pos >= f->max_head)
		return fail(f, HERR_HEAD_TOO_LARGE, out);
	return HTTP_FRAME_NEED_MORE;
}

/* A whole message: hand it out and get ready for the next head. */
static enum http_frame_rc deliver(struct http_framer *f, enum http_errno pe,
				  struct http_req *out)
{
	f->complete = false;
	f->in_message = false;
	f->chunked = false;
	f->want_continue = false;
	scan_reset(f);                     /* the next head starts at pos */
	if (pe == HPE_PAUSED)
		http_parser_pause(&f->parser, 0);
	*out = f->cur;
	out->kind = REQ_HTTP;
	out->method = f->method;
	out->t_parsed_ns = f->read_ns;
	log_fields_out(f);
	if (out->flags & REQF_CLOSE)
		f->done = true;            /* nothing after Connection: close */
	return HTTP_FRAME_REQ;
}

/* A plain head: GET or HEAD of an origin-form target, no Content-Length,
 * Transfer-Encoding, Expect, Upgrade or Proxy-Connection, and Connection
 * absent or exactly "close" or "keep-alive".  The scanner has checked every
 * byte of it more strictly than http-parser would, and http-parser would
 * find nothing more in it: a message without a body whose keep-alive rule
 * is the version's and Connection's.  So it is framed here without
 * http-parser (which stays between messages, as after any other), saving
 * a second pass over every byte (docs/ARCHITECTURE.md, "Plain heads").
 * tests/test_framing.c and tests/fuzz frame their inputs both ways
 * (always_parse) and require the same descriptors. */
static enum http_frame_rc deliver_plain(struct http_framer *f, size_t head,
					struct http_req *out)
{
	bool keep_alive = f->sc_http10 ? f->sc_conn == SC_CONN_KEEP_ALIVE
				       : f->sc_conn != SC_CONN_CLOSE;

	f->method = f->sc_method;
	head_flags(f, f->sc_method == HTTP_HEAD + 1, keep_alive);
	http_route(f->buf + f->pos + f->url_off, f->url_len, 1, &f->cur);
	f->pos += (uint32_t)head;
	f->heads_plain++;
	return deliver(f, HPE_OK, out);
}

/* How far http-parser may read now, in *limit; false with *rc set when
 * this call ends here instead (an error, a section not yet whole, or a
 * plain head, framed without http-parser). */
static bool read_limit(struct http_framer *f, struct http_req *out,
		       size_t *limit, enum http_frame_rc *rc)
{
	enum http_err err;

	*limit = f->len - f->pos;
	if (f->in_trailers) {
		size_t t = scan_section(f, false, &err);

		if (err || t == 0) {
			*rc = err ? fail(f, err, out) : section_incomplete(f, out);
			return false;
		}
		f->in_trailers = false;
		http_parser_pause(&f->parser, 0);
	}
	if (!f->in_message) {
		size_t head = scan_section(f, true, &err);

		if (err || head == 0 || head > f->max_head) {
			*rc = err ? fail(f, err, out)
			    : head ? fail(f, HERR_HEAD_TOO_LARGE, out)
				   : section_incomplete(f, out);
			return false;
		}
		if (!f->sc_slow && !f->sc_cl && !f->sc_te && !f->sc_expect_continue &&
		    !f->sc_expect_other && !f->always_parse) {
			*rc = deliver_plain(f, head, out);
			return false;
		}
		f->chunked = f->sc_te && f->sc_te_chunked;
		if (f->chunked) {
			f->chunk_state = CHUNK_SIZE0;
			f->chunk_pos = f->pos + (uint32_t)head;
			f->chunk_left = f->chunk_total = 0;
			f->chunk_err = HERR_NONE;
		}
		/* The head goes to http-parser on its own when a body must be
		 * judged by us first (chunked: http-parser's verdict on the
		 * head comes before ours on the body however the bytes were
		 * split) or when 100 Continue may have to go out before it. */
		if (f->chunked || f->sc_expect_continue)
			*limit = head;
	} else if (f->chunked) {
		/* Both checkers judge the body; the first bad byte decides,
		 * whoever sees it, so any split of the input gives the same
		 * answer: http-parser reads only up to our first bad byte. */
		if (!f->chunk_err)
			f->chunk_err = (uint8_t)chunk_scan(f);
		if (f->chunk_err) {
			if (f->chunk_pos == f->pos) {
				*rc = fail(f, (enum http_err)f->chunk_err, out);
				return false;
			}
			*limit = f->chunk_pos - f->pos;
		}
	}
	return true;
}

enum http_frame_rc http_framer_next(struct http_framer *f, struct http_req *out)
{
	enum http_frame_rc rc;
	enum http_errno pe;
	size_t limit, n;
again:
	if (f->done || f->pos == f->len)
		return HTTP_FRAME_NEED_MORE;
	if (!read_limit(f, out, &limit, &rc))
		return rc;
	n = http_parser_execute(&f->parser, &parser_settings, f->buf + f->pos,
				limit);
	pe = HTTP_PARSER_ERRNO(&f->parser);
	f->pos += (uint32_t)n;
	f->examined += n;
	if (f->complete)
		return deliver(f, pe, out);
	if (pe == HPE_OK && f->want_continue) {
		f->want_continue = false;
		memset(out, 0, sizeof(*out));
		memset(f->log, 0, sizeof(f->log));
		out->kind = REQ_CONTINUE;
		out->t_parsed_ns = f->read_ns;
		return HTTP_FRAME_CONTINUE;
	}
	if (pe == HPE_PAUSED && f->in_trailers)
		goto again;
	if (pe == HPE_OK && f->pos < f->len && (f->chunked || f->in_message))
		goto again;                      /* the body, now checked first */
	if (pe != HPE_OK)
		return fail(f, f->err ? (enum http_err)f->err : HERR_BAD_REQUEST, out);
	return HTTP_FRAME_NEED_MORE;
}

void http_framer_stop(struct http_framer *f)
{
	f->done = true;
}
