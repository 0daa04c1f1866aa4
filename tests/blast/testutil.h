/* SPDX-License-Identifier: BSD-2-Clause */
/* Helpers shared by blast's end-to-end tests. */
#ifndef BLAST_TEST_UTIL_H
#define BLAST_TEST_UTIL_H

#include <stdint.h>

#include "tools/blast/engine.h"

/* Runs the engine in-process like `blast ARGS... URL` would, where url is
 * printf(url_fmt, port) (no URL when url_fmt has no "://": args give
 * --urls).  args is a NULL-terminated list.  The server is not probed
 * first.  Returns a malloc'ed result (caller frees), NULL if the options
 * or URL are bad (message on stderr). */
struct run_result *run_blast(const char *url_fmt, int port, const char *const *args);
/* The same with a per-second series (CSV, progress) attached. */
struct run_result *run_blast_series(const char *url_fmt, int port, const char *const *args,
				    struct series *ser);

/* Number of recorded latencies >= ns, to within the histogram bucket. */
uint64_t hist_count_at_least(const struct hist *h, uint64_t ns);

/* A local TCP port on which nobody listens. */
int unused_port(void);

#endif
