/* SPDX-License-Identifier: BSD-2-Clause */
/* Stand-alone stall server for the shell tests: prints its port on
 * stdout (0 on a Unix socket), serves until SIGTERM/SIGINT, then prints
 * "requests N".  --tls serves https with a certificate made at start;
 * --cert-out FILE writes that certificate (no key) for SSL_CERT_FILE. */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/blast/stallserver.h"

static int parse_mode(const char *s, enum stall_mode *m)
{
	static const char *const names[] = {"keepalive", "close", "http10", "http10-eof",
					    "drop", "silent"};
	for (unsigned i = 0; i < sizeof names / sizeof names[0]; i++)
		if (strcmp(s, names[i]) == 0) {
			*m = (enum stall_mode)i;
			return 0;
		}
	return -1;
}

int main(int argc, char **argv)
{
	struct stall_opts o;
	const char *cert_out = NULL;
	memset(&o, 0, sizeof o);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--ipv6") == 0) {
			o.ipv6 = 1;
		} else if (strcmp(a, "--chunked") == 0) {
			o.chunked = 1;
		} else if (strcmp(a, "--tls") == 0) {
			o.tls = 1;
		} else if (v && strcmp(a, "--cert-out") == 0) {
			cert_out = v, i++;
		} else if (v && strcmp(a, "--unix") == 0) {
			o.unix_path = v, i++;
		} else if (v && strcmp(a, "--status") == 0) {
			o.status = (unsigned)atoi(v), i++;
		} else if (v && strcmp(a, "--stall-at") == 0) {
			o.stall_at = strtoull(v, NULL, 10), i++;
		} else if (v && strcmp(a, "--stall-ms") == 0) {
			o.stall_ms = (unsigned)atoi(v), i++;
		} else if (v && strcmp(a, "--mode") == 0 && parse_mode(v, &o.mode) == 0) {
			i++;
		} else {
			fprintf(stderr, "usage: stallserver [--ipv6] [--chunked] [--status N] "
					"[--mode keepalive|close|http10|http10-eof|drop|silent] "
					"[--stall-at N --stall-ms MS] [--tls [--cert-out FILE]] "
					"[--unix PATH]\n");
			return 2;
		}
	}
	/* OpenSSL writes with write(): a client that hung up is an error, not
	 * a reason to die. */
	signal(SIGPIPE, SIG_IGN);
	/* Block the signals before the server thread exists, then wait. */
	sigset_t set;
	int sig;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	struct stallserver *s = stall_start(&o);
	if (!s) {
		perror("stallserver");
		return 1;
	}
	if (cert_out && stall_write_cert(s, cert_out) < 0) {
		perror("stallserver: --cert-out");
		return 1;
	}
	printf("%d\n", stall_port(s));
	fflush(stdout);
	sigwait(&set, &sig);
	stall_stop(s);
	printf("requests %llu\n", (unsigned long long)stall_requests(s));
	stall_free(s);
	return 0;
}
