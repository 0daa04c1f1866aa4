/* SPDX-License-Identifier: BSD-2-Clause */
/* Between parsing the settings and binding: the configuration test
 * (metricd -t) and the file-descriptor limit. */
#ifndef METRICD_CORE_STARTUP_H
#define METRICD_CORE_STARTUP_H

#include <stdbool.h>
#include <sys/resource.h>

#include "core/cfg.h"
#include "core/placement.h"

/* What startup_raise_nofile found and did. */
struct startup_nofile {
	rlim_t soft_before;    /* the soft limit metricd was started with */
	rlim_t soft;           /* the soft limit now */
	rlim_t hard;
	unsigned long need;    /* max-conns plus startup_nofile_reserve() */
};

/* Descriptors metricd holds besides its connections: stdio, the access
 * log, each shard's listening sockets, event loop and eventfds, each
 * worker's epoll set and wake-up fd, and room for what libraries open.
 * An estimate on the generous side. */
unsigned long startup_nofile_reserve(const struct cfg *c, const struct placement *p);

/* Raises the soft RLIMIT_NOFILE to the hard limit (an unprivileged
 * process may; nginx does the same with worker_rlimit_nofile).  Returns
 * true when max-conns and the reserve fit in the limit now in force. */
bool startup_raise_nofile(const struct cfg *c, const struct placement *p,
			  struct startup_nofile *out);

/* The same, logging one warning with the numbers when they do not fit. */
void startup_check_nofile(const struct cfg *c, const struct placement *p);

/* metricd -t: the settings in *c were parsed (flags and config file) and
 * placed (*p, or place_err saying why they cannot be); runs the checks
 * that need the system (CPUs, access log, listen addresses), logs where
 * the threads would run, and prints the verdict.  Binds nothing, starts
 * no thread.  Returns the process's exit status: 0 when the configuration
 * is usable, 2 when it is not. */
int startup_config_test(const struct cfg *c, const struct placement *p,
			const char *place_err);

#endif
