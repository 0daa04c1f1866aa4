/* SPDX-License-Identifier: BSD-2-Clause */
/* A run's destination, made ready before any load is generated: URLs
 * parsed, the address resolved (or the Unix socket named), the server
 * tried once (connect, and the TLS handshake with certificate checks for
 * https), and every distinct request formatted. */
#ifndef BLAST_TARGET_H
#define BLAST_TARGET_H

#include <sys/socket.h>

#include "tools/blast/cli.h"
#include "tools/blast/request.h"
#include "tools/blast/tls.h"
#include "tools/blast/url.h"

#define TARGET_LABEL_MAX (URL_PATH_MAX + URL_HOST_MAX + 16)

struct target {
	char label[TARGET_LABEL_MAX]; /* the URL, or "FILE (N URLs)" */
	struct url url;               /* the first URL: scheme, host, port */
	struct sockaddr_storage addr;
	socklen_t addrlen;
	struct request req;
	struct tls_client *tls;       /* NULL for http:// */
};

/* urls: one URL, or the lines of --urls (all on one server).  `probe`
 * tries a connection (and handshake) first.  Returns 0, or -1 with a
 * message in err; the target needs target_free() either way. */
int target_prepare(const struct blast_config *cfg, char *const *urls, unsigned nurls,
		   const char *label, int probe, struct target *tg, char *err, size_t errlen);
void target_free(struct target *tg);

/* Blocking connect with a timeout: 0 or an errno value. */
int probe_connect(const struct sockaddr *sa, socklen_t len, uint64_t timeout_ns);

#endif
