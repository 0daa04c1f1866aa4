/* SPDX-License-Identifier: BSD-2-Clause */
/* Request framing: bytes in, request descriptors out.
 *
 * One framer per connection, owned by the acceptor thread.  The caller reads
 * socket data into the framer's fixed buffer (http_framer_space/commit) and
 * pulls descriptors out one at a time (http_framer_next); pipelined requests
 * come out in order.  No I/O and no allocation here, so the same code is
 * unit-tested and fuzzed byte for byte.
 *
 * Each request head is checked by a strict scanner (RFC 9112) before
 * http-parser sees it, because Debian's http-parser is built non-strict and
 * would accept what a server must reject: whitespace before a header colon,
 * obs-fold, bare LF or CR, control bytes.  http-parser then does the framing
 * proper (methods, Content-Length and chunked bodies, keep-alive rules). */
#ifndef METRICD_HTTP_FRAMING_H
#define METRICD_HTTP_FRAMING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <http_parser.h>

#include "http/request.h"

#define HTTP_BODY_MAX (1u << 20)    /* default body limit (413 above it) */

/* What the access log shows of a request besides the descriptor: the
 * request target as received, the Referer and the User-Agent.  The framer
 * records where they are in its buffer; the acceptor copies them into the
 * worker's text ring when it dispatches the descriptor (queue/text.h).  At
 * most HTTP_LOG_*_MAX bytes of each are kept and logged; a longer field is
 * cut there (and marked). */
enum http_log_field {
	HTTP_LOG_TARGET,
	HTTP_LOG_REFERER,
	HTTP_LOG_UA,
	HTTP_LOG_FIELDS,
};

#define HTTP_LOG_TARGET_MAX 1024u
#define HTTP_LOG_REFERER_MAX 256u
#define HTTP_LOG_UA_MAX 512u

static inline uint32_t http_log_max(enum http_log_field k)
{
	return k == HTTP_LOG_TARGET ? HTTP_LOG_TARGET_MAX
	     : k == HTTP_LOG_REFERER ? HTTP_LOG_REFERER_MAX : HTTP_LOG_UA_MAX;
}

/* Bytes of the framer's buffer.  len is the field's whole length, of which
 * only the first http_log_max() bytes are sure to be there; len 0: the
 * request had no such field (or it is not known). */
struct http_span {
	uint32_t off, len;
};

enum http_frame_rc {
	HTTP_FRAME_NEED_MORE = 0,  /* no complete request buffered */
	HTTP_FRAME_REQ,            /* *out is a request to answer */
	HTTP_FRAME_CONTINUE,       /* *out is REQ_CONTINUE: the head asked for
				    * 100 Continue and its body is still to
				    * come (RFC 9110 10.1.1) */
	HTTP_FRAME_ERROR,          /* *out is an error answer with REQF_CLOSE;
				    * the framer accepts nothing more */
};

struct http_framer {
	http_parser parser;
	char *buf;
	uint32_t cap;        /* buffer size */
	uint32_t max_head;   /* request head limit (431 above it) */
	uint64_t max_body;   /* request body limit (413 above it) */
	uint32_t len;        /* bytes in buf */
	uint32_t pos;        /* bytes handed to http-parser; those before it
			      * are consumed and may be discarded */
	bool in_message;     /* http-parser is inside a message (head or body) */
	bool complete;       /* on_message_complete fired */
	bool done;           /* error or Connection: close seen: no more */
	bool in_trailers;    /* paused after the last chunk: trailers unscanned */
	bool chunked;        /* the current body is chunked: see chunk_scan */
	bool want_continue;  /* on_headers_complete: send 100 Continue */
	/* The head (or trailer section) being checked, line by line.  Offsets
	 * are from pos, which does not move until the section is complete, so
	 * each call resumes where the last one stopped. */
	uint32_t sc_at;      /* start of the first unchecked line */
	uint32_t sc_nl;      /* no LF in [sc_at, sc_nl) */
	bool sc_started;     /* the request line was checked */
	bool sc_http10;
	bool sc_te_chunked;  /* Transfer-Encoding ends in chunked */
	bool sc_asterisk;    /* request target "*" (OPTIONS only) */
	bool sc_expect_continue;   /* Expect: 100-continue */
	bool sc_expect_other;      /* any other expectation */
	bool sc_inm_match;         /* If-None-Match is "*" or names *etag */
	uint8_t sc_cl, sc_te, sc_host;   /* header field lines seen */
	bool sc_slow;        /* the head needs http-parser (not plain: see
			      * deliver_plain in http/framing.c) */
	uint8_t sc_method;   /* HTTP_GET + 1, HTTP_HEAD + 1, or 0: another */
	uint8_t sc_conn;     /* enum sc_conn: the Connection line */
	/* The chunked body, checked strictly ahead of http-parser. */
	uint8_t chunk_state;
	uint8_t chunk_err;   /* found at chunk_pos, reported once pos gets there */
	uint8_t err;         /* enum http_err found by a callback */
	uint32_t chunk_pos;  /* next body byte to check */
	uint64_t chunk_left; /* chunk size being read, then data left */
	uint64_t chunk_total;  /* body bytes so far (max_body) */
	uint32_t url_off, url_len;  /* the target's path and query (from pos) */
	/* The access-log fields of the message being framed, from its request
	 * line on until it is handed out (offsets in buf, not from pos; see
	 * http_framer_space for why they stay valid), and the method's token
	 * for an error found before http-parser named the method. */
	struct http_span msg_log[HTTP_LOG_FIELDS];
	struct http_span msg_method;
	uint8_t method;      /* http-parser's method + 1, from its head */
	/* Bytes looked at by the line scanner and http-parser together: a
	 * counter the tests (and /stats) use to prove framing is linear. */
	uint64_t examined;
	struct http_req cur;
	/* The access-log fields of the descriptor http_framer_next returned
	 * last (REQ or ERROR; all len 0 for CONTINUE).  Valid until the next
	 * call of http_framer_space or http_framer_next: the acceptor
	 * dispatches a descriptor before either (core/connection.c). */
	struct http_span log[HTTP_LOG_FIELDS];
	/* The entity-tag If-None-Match is compared with: the server's one
	 * tagged body (the live page's, set by core/connection.c); NULL after
	 * init: only "*" matches. */
	const uint32_t *etag;
	/* CLOCK_MONOTONIC at the last http_framer_commit: the descriptors
	 * framed from those bytes carry it (t_parsed_ns), one clock read per
	 * read instead of one per request. */
	uint64_t read_ns;
	/* Heads framed by the scanner alone (plain), of all handed out. */
	uint64_t heads_plain;
	/* Every head goes through http-parser: the tests frame their inputs
	 * both ways and compare.  false after init. */
	bool always_parse;
};

enum sc_conn { SC_CONN_NONE, SC_CONN_CLOSE, SC_CONN_KEEP_ALIVE };

/* buf must hold cap bytes; cap > max_head.  max_body starts at
 * HTTP_BODY_MAX; the caller may set it after init. */
void http_framer_init(struct http_framer *f, char *buf, uint32_t cap,
		      uint32_t max_head);
/* Where to read the next bytes; compacts consumed bytes first.  The only
 * function that moves bytes in buf: the access-log fields of a message whose
 * head was consumed but whose body is still coming move to the front. */
char *http_framer_space(struct http_framer *f, size_t *avail);
void http_framer_commit(struct http_framer *f, size_t n);
/* True when unconsumed bytes remain (a partial request). */
bool http_framer_has_partial(const struct http_framer *f);
enum http_frame_rc http_framer_next(struct http_framer *f, struct http_req *out);
/* Frames nothing more (the peer is gone). */
void http_framer_stop(struct http_framer *f);
/* Called once at startup, before any thread starts (process-wide setting). */
void http_framer_global_init(uint32_t max_head);

#endif
