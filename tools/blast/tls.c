/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/blast/tls.h"

#ifdef HAVE_OPENSSL

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <sys/time.h>
#include <unistd.h>

struct tls_client {
	SSL_CTX *ctx;
	int insecure;
	int is_ip;
	char host[256];
};

/* A connection: the SSL object and the socket under it, read and written
 * through blast's own BIO (below). */
struct tls_conn {
	SSL *ssl;
	int fd;
	int drained; /* the last recv() came back short or empty */
};

/* The BIO between OpenSSL and the socket.  Unlike OpenSSL's socket BIO
 * it sends with MSG_NOSIGNAL, and it remembers whether the last recv()
 * drained the socket: with edge-triggered epoll, a TLS read can then
 * stop without the extra read() that only returns EAGAIN (tls_drained),
 * as plain reads already do.  Made once, shared by all threads (BIO
 * methods are read-only once made). */
static BIO_METHOD *bio_method;
static pthread_once_t bio_once = PTHREAD_ONCE_INIT;

static int bio_read(BIO *b, char *buf, int len)
{
	struct tls_conn *t = BIO_get_data(b);
	BIO_clear_retry_flags(b);
	ssize_t n = recv(t->fd, buf, (size_t)len, 0);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
			t->drained = errno != EINTR;
			BIO_set_retry_read(b);
		}
		return -1;
	}
	t->drained = n < len;
	return (int)n;
}

static int bio_write(BIO *b, const char *buf, int len)
{
	struct tls_conn *t = BIO_get_data(b);
	BIO_clear_retry_flags(b);
	ssize_t n = send(t->fd, buf, (size_t)len, MSG_NOSIGNAL);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		BIO_set_retry_write(b);
	return (int)n;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	(void)b;
	(void)num;
	(void)ptr;
	return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static int bio_create(BIO *b)
{
	BIO_set_init(b, 1);
	return 1;
}

static void make_bio_method(void)
{
	BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "blast socket");
	if (m && BIO_meth_set_read(m, bio_read) == 1 && BIO_meth_set_write(m, bio_write) == 1 &&
	    BIO_meth_set_ctrl(m, bio_ctrl) == 1 && BIO_meth_set_create(m, bio_create) == 1)
		bio_method = m;
	else
		BIO_meth_free(m);
}

int tls_available(void)
{
	return 1;
}

/* OpenSSL hands every new session (TLS 1.3: every ticket) to this
 * callback; the connection's app data is its thread's cache, which keeps
 * the newest one.  Returning 1 keeps OpenSSL's reference. */
static int on_new_session(SSL *ssl, SSL_SESSION *sess)
{
	struct tls_cache *cache = SSL_get_app_data(ssl);
	if (!cache)
		return 0;
	if (cache->session)
		SSL_SESSION_free(cache->session);
	cache->session = sess;
	return 1;
}

static void ssl_error(char *err, size_t errlen, const char *what)
{
	unsigned long e = ERR_get_error();
	const char *why = e ? ERR_reason_error_string(e) : NULL;
	snprintf(err, errlen, "%s: %s", what, why ? why : "unknown OpenSSL error");
	ERR_clear_error();
}

int tls_client_new(struct tls_client **out, const char *host, int insecure, char *err,
		   size_t errlen)
{
	static const unsigned char alpn[] = "\x08http/1.1";
	struct tls_client *tc = calloc(1, sizeof *tc);
	unsigned char addr[16];
	if (!tc) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	snprintf(tc->host, sizeof tc->host, "%s", host);
	tc->insecure = insecure;
	tc->is_ip = inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1;
	tc->ctx = SSL_CTX_new(TLS_client_method());
	if (!tc->ctx) {
		ssl_error(err, errlen, "cannot create a TLS context");
		goto Error;
	}
	SSL_CTX_set_min_proto_version(tc->ctx, TLS1_2_VERSION);
	/* The engine resends the rest of a partly written range from a
	 * buffer that may have moved (a gathered copy). */
	SSL_CTX_set_mode(tc->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
					  SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	/* Read whole socket buffers, not a record header and then its body:
	 * half the recv() calls. */
	SSL_CTX_set_read_ahead(tc->ctx, 1);
#ifdef SSL_OP_IGNORE_UNEXPECTED_EOF
	/* A server closing without close_notify is an ordinary close here;
	 * as a fatal error it would also spoil the cached session. */
	SSL_CTX_set_options(tc->ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
#endif
	SSL_CTX_set_session_cache_mode(tc->ctx,
				       SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(tc->ctx, on_new_session);
	if (SSL_CTX_set_alpn_protos(tc->ctx, alpn, sizeof alpn - 1) != 0) {
		ssl_error(err, errlen, "cannot set ALPN");
		goto Error;
	}
	if (insecure) {
		SSL_CTX_set_verify(tc->ctx, SSL_VERIFY_NONE, NULL);
	} else {
		SSL_CTX_set_verify(tc->ctx, SSL_VERIFY_PEER, NULL);
		if (SSL_CTX_set_default_verify_paths(tc->ctx) != 1) {
			ssl_error(err, errlen, "cannot load the trusted certificates");
			goto Error;
		}
	}
	*out = tc;
	return 0;
Error:
	tls_client_free(tc);
	return -EPROTO;
}

void tls_client_free(struct tls_client *tc)
{
	if (!tc)
		return;
	SSL_CTX_free(tc->ctx);
	free(tc);
}

int tls_conn_new(struct tls_client *tc, int fd, struct tls_cache *cache, struct tls_conn **out)
{
	pthread_once(&bio_once, make_bio_method);
	struct tls_conn *t = calloc(1, sizeof *t);
	SSL *ssl = t && bio_method ? SSL_new(tc->ctx) : NULL;
	BIO *bio = ssl ? BIO_new(bio_method) : NULL;
	if (!bio)
		goto Error;
	t->ssl = ssl;
	t->fd = fd;
	BIO_set_data(bio, t);
	SSL_set_bio(ssl, bio, bio); /* the SSL object owns it now */
	SSL_set_app_data(ssl, cache);
	if (!tc->is_ip && SSL_set_tlsext_host_name(ssl, tc->host) != 1)
		goto Error;
	if (!tc->insecure) {
		int ok = tc->is_ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), tc->host)
				   : SSL_set1_host(ssl, tc->host);
		if (ok != 1)
			goto Error;
	}
	if (cache && cache->session && SSL_SESSION_is_resumable(cache->session))
		SSL_set_session(ssl, cache->session);
	SSL_set_connect_state(ssl);
	*out = t;
	return 0;
Error:
	SSL_free(ssl);
	free(t);
	ERR_clear_error();
	return -ENOMEM;
}

/* The error queue must be empty before each call for SSL_get_error() to
 * be right; it is cleared after every failure instead of before every
 * call, which keeps the per-request path free of it. */
static int io_error(SSL *ssl, int r)
{
	int e = SSL_get_error(ssl, r), err = errno;
	ERR_clear_error();
	switch (e) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		return -EAGAIN;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	case SSL_ERROR_SYSCALL:
		return err ? -err : -ECONNRESET;
	default:
		return -EPROTO;
	}
}

int tls_handshake(struct tls_conn *t)
{
	SSL *ssl = t->ssl;
	int r = SSL_do_handshake(ssl);
	if (r == 1)
		return 0;
	r = io_error(ssl, r);
	return r == 0 ? -ECONNRESET : r;
}

int tls_resumed(const struct tls_conn *t)
{
	return SSL_session_reused(t->ssl) == 1;
}

int tls_drained(const struct tls_conn *t)
{
	return t->drained && !SSL_has_pending(t->ssl);
}

ssize_t tls_read(struct tls_conn *t, void *buf, size_t len)
{
	SSL *ssl = t->ssl;
	int r = SSL_read(ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len);
	return r > 0 ? r : io_error(ssl, r);
}

ssize_t tls_write(struct tls_conn *t, const void *buf, size_t len)
{
	SSL *ssl = t->ssl;
	int r = SSL_write(ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len);
	if (r > 0)
		return r;
	r = io_error(ssl, r);
	return r == 0 ? -EPIPE : r;
}

void tls_conn_free(struct tls_conn *t)
{
	if (!t)
		return;
	if (SSL_is_init_finished(t->ssl))
		SSL_shutdown(t->ssl);
	ERR_clear_error();
	SSL_free(t->ssl);
	free(t);
}

void tls_cache_clear(struct tls_cache *cache)
{
	if (cache->session)
		SSL_SESSION_free(cache->session);
	cache->session = NULL;
}

static void probe_error(SSL *ssl, int r, char *err, size_t errlen)
{
	long v = SSL_get_verify_result(ssl);
	int e = SSL_get_error(ssl, r), sys = errno;
	if (v != X509_V_OK) {
		snprintf(err, errlen, "certificate verify failed: %s (--insecure skips verification)",
			 X509_verify_cert_error_string(v));
		ERR_clear_error();
	} else if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		snprintf(err, errlen, "TLS handshake failed: timed out");
		ERR_clear_error();
	} else if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
		snprintf(err, errlen, "TLS handshake failed: %s",
			 sys == EAGAIN || sys == EWOULDBLOCK ? "timed out"
			 : sys ? strerror(sys) : "connection closed");
	} else {
		ssl_error(err, errlen, "TLS handshake failed");
	}
}

int tls_probe(struct tls_client *tc, const struct sockaddr *sa, socklen_t salen,
	      uint64_t timeout_ns, char *err, size_t errlen)
{
	struct timeval tv = {.tv_sec = (time_t)(timeout_ns / 1000000000u),
			     .tv_usec = (suseconds_t)(timeout_ns % 1000000000u / 1000)};
	struct tls_conn *t = NULL;
	int rc = -EPROTO;
	int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -errno;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	if (connect(fd, sa, salen) < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s", strerror(errno));
		goto Error;
	}
	if (tls_conn_new(tc, fd, NULL, &t) < 0) {
		snprintf(err, errlen, "out of memory");
		goto Error;
	}
	int r = SSL_connect(t->ssl);
	if (r != 1) {
		probe_error(t->ssl, r, err, errlen);
		goto Error;
	}
	rc = 0;
Error:
	tls_conn_free(t);
	close(fd);
	return rc;
}

#else /* !HAVE_OPENSSL */

int tls_available(void)
{
	return 0;
}

int tls_client_new(struct tls_client **out, const char *host, int insecure, char *err,
		   size_t errlen)
{
	(void)host;
	(void)insecure;
	*out = NULL;
	snprintf(err, errlen, "this blast was built without OpenSSL, so no https:// "
			      "(apt-get install libssl-dev, then configure again)");
	return -ENOTSUP;
}

void tls_client_free(struct tls_client *tc)
{
	(void)tc;
}

int tls_conn_new(struct tls_client *tc, int fd, struct tls_cache *cache, struct tls_conn **out)
{
	(void)tc;
	(void)fd;
	(void)cache;
	*out = NULL;
	return -ENOTSUP;
}

int tls_handshake(struct tls_conn *t)
{
	(void)t;
	return -ENOTSUP;
}

int tls_resumed(const struct tls_conn *t)
{
	(void)t;
	return 0;
}

int tls_drained(const struct tls_conn *t)
{
	(void)t;
	return 0;
}

ssize_t tls_read(struct tls_conn *t, void *buf, size_t len)
{
	(void)t;
	(void)buf;
	(void)len;
	return -ENOTSUP;
}

ssize_t tls_write(struct tls_conn *t, const void *buf, size_t len)
{
	(void)t;
	(void)buf;
	(void)len;
	return -ENOTSUP;
}

void tls_conn_free(struct tls_conn *t)
{
	(void)t;
}

void tls_cache_clear(struct tls_cache *cache)
{
	cache->session = NULL;
}

int tls_probe(struct tls_client *tc, const struct sockaddr *sa, socklen_t salen,
	      uint64_t timeout_ns, char *err, size_t errlen)
{
	(void)tc;
	(void)sa;
	(void)salen;
	(void)timeout_ns;
	snprintf(err, errlen, "built without OpenSSL");
	return -ENOTSUP;
}

#endif
