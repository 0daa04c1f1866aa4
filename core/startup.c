/* SPDX-License-Identifier: BSD-2-Clause */
/* The configuration test and the file-descriptor limit, done once by the
 * main thread before anything is bound or started. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/base/log.h"
#include "core/server.h"
#include "core/startup.h"

unsigned long startup_nofile_reserve(const struct cfg *c, const struct placement *p)
{
	return 64ul + 4ul * p->nworkers + (4ul + c->listen.n) * p->nshards;
}

bool startup_raise_nofile(const struct cfg *c, const struct placement *p,
			  struct startup_nofile *out)
{
	struct rlimit rl;

	memset(out, 0, sizeof(*out));
	out->need = (unsigned long)c->max_conns + startup_nofile_reserve(c, p);
	if (getrlimit(RLIMIT_NOFILE, &rl))
		return true;            /* nothing known, nothing to say */
	out->soft_before = rl.rlim_cur;
	out->hard = rl.rlim_max;
	if (rl.rlim_cur < rl.rlim_max) {
		struct rlimit raised = { rl.rlim_max, rl.rlim_max };

		/* Linux caps the soft limit at fs.nr_open even when the hard
		 * one is higher (or unlimited): keep what we had then. */
		if (setrlimit(RLIMIT_NOFILE, &raised) == 0)
			rl.rlim_cur = rl.rlim_max;
	}
	out->soft = rl.rlim_cur;
	return rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= out->need;
}

void startup_check_nofile(const struct cfg *c, const struct placement *p)
{
	struct startup_nofile n;
	unsigned long reserve = startup_nofile_reserve(c, p);

	if (startup_raise_nofile(c, p, &n))
		return;
	/* Past the limit, accept() fails with EMFILE and the listener pauses
	 * (accept_pauses_out_of_fds in /stats) until a connection closes. */
	log_warn("max-conns %u needs about %lu file descriptors (%lu reserved), "
		 "but the limit is %llu (soft %llu at start, hard %llu): "
		 "raise the hard limit (LimitNOFILE= in the unit, ulimit -Hn) "
		 "or lower max-conns to %llu",
		 c->max_conns, n.need, reserve,
		 (unsigned long long)n.soft, (unsigned long long)n.soft_before,
		 (unsigned long long)n.hard,
		 n.soft > reserve ? (unsigned long long)(n.soft - reserve) : 1ull);
}

int startup_config_test(const struct cfg *c, const struct placement *p,
			const char *place_err)
{
	char err[512];

	if (cfg_check_system(c, err, sizeof(err)) ||
	    server_check_listen(c, err, sizeof(err)) ||
	    (place_err && snprintf(err, sizeof(err), "%s", place_err) >= 0)) {
		fprintf(stderr, "metricd: %s\n", err);
		fprintf(stderr, "metricd: configuration test failed\n");
		return 2;
	}
	for (unsigned i = 0; i < p->nshards; i++) {
		char line[900];

		placement_describe(p, i, line, sizeof(line));
		log_info("%s", line);
	}
	/* A warning, not a failure: metricd runs, it just cannot reach
	 * max-conns.  Checked with the limits this process has, which are
	 * the service's when the unit runs -t (ExecStartPre=). */
	startup_check_nofile(c, p);
	if (c->config_path[0])
		printf("metricd: configuration %s ok\n", c->config_path);
	else
		printf("metricd: configuration ok (no config file: defaults and flags; "
		       "%s does not exist)\n", CFG_DEFAULT_FILE);
	return 0;
}
