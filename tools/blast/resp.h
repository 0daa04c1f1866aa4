/* SPDX-License-Identifier: BSD-2-Clause */
/* Incremental HTTP/1.x response parser.
 *
 * The parser never needs earlier input bytes: the engine reads every
 * socket into one per-thread buffer, so a response may arrive in any
 * number of pieces.  Lines (status, headers, chunk sizes, trailers) are
 * parsed in place when they are whole in the buffer; only a line split
 * across reads is copied into the small `carry` array.  Bodies are skipped
 * by counting, never copied.  No allocation, ever.
 */
#ifndef BLAST_RESP_H
#define BLAST_RESP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define RESP_CARRY 256            /* longest split line we keep in full */
#define RESP_MAX_HEAD (64 * 1024) /* status line + headers (+ trailers) */

enum resp_state {
	RESP_STATUS,
	RESP_HEADERS,
	RESP_BODY,        /* Content-Length bytes left in `remaining` */
	RESP_CHUNK_SIZE,
	RESP_CHUNK_DATA,
	RESP_CHUNK_END,   /* the CRLF after chunk data */
	RESP_TRAILERS,
	RESP_UNTIL_EOF,   /* no length: body ends when the server closes */
};

struct resp_parser {
	uint64_t remaining;
	uint64_t content_length;
	uint32_t head_bytes;
	uint16_t status;
	uint16_t carry_len;
	uint8_t state;
	uint8_t is_head;     /* response to HEAD: never has a body */
	uint8_t minor;       /* HTTP/1.<minor> */
	uint8_t keepalive;   /* valid once the response is complete */
	uint8_t has_len, chunked, te_other, conn_close, conn_keepalive;
	uint8_t carry_trunc; /* carried line was longer than RESP_CARRY */
	const char *error;   /* why parsing failed (static string) */
	char carry[RESP_CARRY];
};

/* Prepare for the next response; is_head says the request was HEAD. */
void resp_reset(struct resp_parser *p, int is_head);

/* Feed bytes.  Returns how many were consumed (it stops right after the
 * last byte of a complete response and sets *done), or -1 on malformed
 * input with p->error set.  After *done the caller reads p->status and
 * p->keepalive and calls resp_reset() before feeding the next response. */
ssize_t resp_feed(struct resp_parser *p, const char *buf, size_t len, int *done);

/* The server closed the connection.  Returns 1 if that completed a
 * response whose body runs until close, 0 if the parser was between
 * responses, -1 if a response was cut short. */
int resp_eof(struct resp_parser *p);

#endif
