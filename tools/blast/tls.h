/* SPDX-License-Identifier: BSD-2-Clause */
/* https:// through OpenSSL: one client context per run, one TLS session
 * per connection, driven by the engine's non-blocking sockets.
 *
 * Verification is on by default (system trust store, or SSL_CERT_FILE /
 * SSL_CERT_DIR, with the URL's host name or IP address checked against
 * the certificate); --insecure turns it off.  SNI carries the host name
 * (never an IP literal, RFC 6066).  ALPN offers http/1.1 only.
 *
 * Session resumption: each worker thread keeps the newest session (TLS
 * 1.3 ticket or TLS 1.2 session) its connections were given, and every
 * reconnect of that thread offers it.  Cached per thread, so no lock.
 *
 * Built without OpenSSL (configure found no libssl-dev) every function
 * fails with -ENOTSUP and tls_available() says so.
 */
#ifndef BLAST_TLS_H
#define BLAST_TLS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

struct tls_client; /* shared by all threads, read-only once made */
struct tls_conn;   /* one connection (an SSL object) */

/* The newest session of one worker thread. */
struct tls_cache {
	void *session; /* SSL_SESSION, owned */
};

/* Returns 1 when blast was built with OpenSSL. */
int tls_available(void);

/* A client context for `host` (a name or an IP literal).  Returns 0, or
 * -errno with a message in err. */
int tls_client_new(struct tls_client **out, const char *host, int insecure, char *err,
		   size_t errlen);
void tls_client_free(struct tls_client *tc);

/* Start TLS on a connected non-blocking socket, offering the cached
 * session.  Returns 0 or -errno. */
int tls_conn_new(struct tls_client *tc, int fd, struct tls_cache *cache, struct tls_conn **out);
/* Drive the handshake: 0 done, -EAGAIN call again on the next socket
 * event, -EPROTO failed (tls_last_error() says why), other -errno. */
int tls_handshake(struct tls_conn *t);
/* 1 if the finished handshake resumed a session. */
int tls_resumed(const struct tls_conn *t);
/* 1 if the socket was empty at the last read and OpenSSL holds nothing:
 * the next data will bring a new epoll edge, so reading can stop. */
int tls_drained(const struct tls_conn *t);
/* Like recv()/send(): bytes, 0 at a clean or bare close (read only), or
 * -EAGAIN / -errno. */
ssize_t tls_read(struct tls_conn *t, void *buf, size_t len);
ssize_t tls_write(struct tls_conn *t, const void *buf, size_t len);
/* Send close_notify if the socket takes it at once, then free. */
void tls_conn_free(struct tls_conn *t);
void tls_cache_clear(struct tls_cache *cache);

/* Blocking connect and handshake with a timeout, before a run starts, so
 * that a bad certificate is one clear error.  Returns 0 or -errno with a
 * message in err. */
int tls_probe(struct tls_client *tc, const struct sockaddr *sa, socklen_t salen,
	      uint64_t timeout_ns, char *err, size_t errlen);

#endif
