/* SPDX-License-Identifier: BSD-2-Clause */
/* A tiny, deliberately misbehaving HTTP/1.1 server for blast's tests.
 *
 * It listens on 127.0.0.1 (or ::1) port 0, answers in one thread, counts
 * every request it processes, and can stall on purpose (sleeping with
 * everything blocked, like a GC pause), answer Connection: close, speak
 * HTTP/1.0, send chunked bodies, return any status, drop connections or
 * never answer at all.  It can also listen on a Unix socket, speak TLS
 * with a throwaway certificate (recording the SNI name and resumptions),
 * and keep the bytes of each request for the tests to read.
 */
#ifndef BLAST_TEST_STALLSERVER_H
#define BLAST_TEST_STALLSERVER_H

#include <stdint.h>

enum stall_mode {
	STALL_KEEPALIVE,   /* HTTP/1.1, persistent */
	STALL_CLOSE,       /* HTTP/1.1 with Connection: close, then close */
	STALL_HTTP10,      /* HTTP/1.0 with Content-Length, then close */
	STALL_HTTP10_EOF,  /* HTTP/1.0 without length: body ends at close */
	STALL_DROP,        /* read the request, close without answering */
	STALL_SILENT,      /* read the request, never answer */
};

struct stall_opts {
	int ipv6;            /* listen on ::1 instead of 127.0.0.1 */
	enum stall_mode mode;
	unsigned status;     /* default 200 */
	int chunked;         /* chunked body (HTTP/1.1 modes) */
	unsigned body_len;   /* default 16 */
	uint64_t stall_at;   /* stall before answering request #stall_at (1-based) */
	unsigned stall_ms;
	int tls;             /* https, with a certificate made at start */
	const char *unix_path; /* listen on this Unix socket instead of TCP */
	int record;          /* keep the first STALL_RECORD bytes of each request */
};

#define STALL_RECORD 256
#define STALL_MAX_RECORDS 20000

struct stallserver;

struct stallserver *stall_start(const struct stall_opts *o);
int stall_port(const struct stallserver *s);
/* Requests processed (answered, or dropped/ignored by mode). */
uint64_t stall_requests(const struct stallserver *s);
uint64_t stall_connections(const struct stallserver *s);
/* Monotonic arrival time of request i (0-based, first 100000 only);
 * read it after stall_stop(), which joins the server thread. */
uint64_t stall_arrival(const struct stallserver *s, uint64_t i);
/* Request i (0-based, with o.record): its first STALL_RECORD - 1 bytes
 * as a string; read it after stall_stop(). */
const char *stall_request_text(const struct stallserver *s, uint64_t i);
/* TLS: the SNI name of the last handshake ("" if none was sent), the
 * handshakes that resumed a session, and the certificate as PEM. */
const char *stall_sni(const struct stallserver *s);
uint64_t stall_tls_resumed(const struct stallserver *s);
int stall_write_cert(const struct stallserver *s, const char *path);
/* Stop serving (counters stay readable), then release everything. */
void stall_stop(struct stallserver *s);
void stall_free(struct stallserver *s);

#endif
