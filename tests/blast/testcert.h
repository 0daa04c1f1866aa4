/* SPDX-License-Identifier: BSD-2-Clause */
/* A throwaway self-signed certificate made in memory when a test starts
 * (EC P-256, for localhost, 127.0.0.1 and ::1): no key is ever stored in
 * the tree.  Only with OpenSSL. */
#ifndef BLAST_TEST_CERT_H
#define BLAST_TEST_CERT_H

#include <stdio.h>

/* A server SSL_CTX (as void *, so callers need no OpenSSL headers) that
 * records the SNI name it is sent into sni[sni_len].  NULL on failure. */
void *testcert_server_ctx(char *sni, size_t sni_len);
void testcert_ctx_free(void *ctx);
/* The certificate (public part only) as PEM, to trust it through
 * SSL_CERT_FILE.  Returns 0 or -1. */
int testcert_write_pem(void *ctx, FILE *out);

#endif
