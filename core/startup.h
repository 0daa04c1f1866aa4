/* Between parsing the settings and binding: the configuration test
 * (metricd -t) and the file-descriptor limit. */
#ifndef METRICD_CORE_STARTUP_H
#define METRICD_CORE_STARTUP_H

#include <stdbool.h>
#include <sys/resource.h>

#include "core/cfg.h"

/* What startup_raise_nofile found and did. */
struct startup_nofile {
	rlim_t soft_before;    /* the soft limit metricd was started with */
	rlim_t soft;           /* the soft limit now */
	rlim_t hard;
	unsigned long need;    /* max-conns plus startup_nofile_reserve() */
};

/* Descriptors metricd holds besides its connections: the listening socket,
 * stdio, the access log, each worker's event loop and wake-up fd, and
 * room for what libraries open.  An estimate on the generous side. */
unsigned long startup_nofile_reserve(unsigned workers);

/* Raises the soft RLIMIT_NOFILE to the hard limit (an unprivileged
 * process may; nginx does the same with worker_rlimit_nofile).  Returns
 * true when max-conns and the reserve fit in the limit now in force. */
bool startup_raise_nofile(const struct cfg *c, struct startup_nofile *out);

/* The same, logging one warning with the numbers when they do not fit. */
void startup_check_nofile(const struct cfg *c);

/* metricd -t: the settings in *c were parsed (flags and config file);
 * runs the checks that need the system and prints the verdict.  Binds
 * nothing, starts no thread.  Returns the process's exit status: 0 when
 * the configuration is usable, 2 when it is not. */
int startup_config_test(const struct cfg *c);

#endif
