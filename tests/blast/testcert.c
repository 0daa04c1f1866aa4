/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"

#include <stddef.h>
#include <stdio.h>

#include "tests/blast/testcert.h"

#ifdef HAVE_OPENSSL

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <string.h>

static int add_ext(X509 *x, int nid, const char *value)
{
	X509V3_CTX v3;
	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
	if (!ext)
		return -1;
	int ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok ? 0 : -1;
}

static X509 *self_signed(EVP_PKEY *key)
{
	X509 *x = X509_new();
	if (!x)
		return NULL;
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 24 * 3600);
	X509_set_pubkey(x, key);
	X509_NAME *name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"localhost", -1,
				   -1, 0);
	X509_set_issuer_name(x, name);
	if (add_ext(x, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1,IP:::1") < 0 ||
	    add_ext(x, NID_basic_constraints, "critical,CA:TRUE") < 0 ||
	    !X509_sign(x, key, EVP_sha256())) {
		X509_free(x);
		return NULL;
	}
	return x;
}

static int on_servername(SSL *ssl, int *alert, void *arg)
{
	(void)alert;
	char *sni = arg;
	const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	/* the first 255 bytes; the owner knows the size it passed */
	snprintf(sni, 256, "%s", name ? name : "");
	return SSL_TLSEXT_ERR_OK;
}

void *testcert_server_ctx(char *sni, size_t sni_len)
{
	if (sni_len < 256)
		return NULL;
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = key ? self_signed(key) : NULL;
	SSL_CTX *ctx = x ? SSL_CTX_new(TLS_server_method()) : NULL;
	if (!ctx || SSL_CTX_use_certificate(ctx, x) != 1 || SSL_CTX_use_PrivateKey(ctx, key) != 1) {
		SSL_CTX_free(ctx);
		ctx = NULL;
	} else {
		SSL_CTX_set_tlsext_servername_callback(ctx, on_servername);
		SSL_CTX_set_tlsext_servername_arg(ctx, sni);
	}
	X509_free(x);
	EVP_PKEY_free(key);
	return ctx;
}

void testcert_ctx_free(void *ctx)
{
	SSL_CTX_free(ctx);
}

int testcert_write_pem(void *ctx, FILE *out)
{
	X509 *x = SSL_CTX_get0_certificate(ctx);
	return x && PEM_write_X509(out, x) == 1 ? 0 : -1;
}

#else

void *testcert_server_ctx(char *sni, size_t sni_len)
{
	(void)sni;
	(void)sni_len;
	return NULL;
}

void testcert_ctx_free(void *ctx)
{
	(void)ctx;
}

int testcert_write_pem(void *ctx, FILE *out)
{
	(void)ctx;
	(void)out;
	return -1;
}

#endif
