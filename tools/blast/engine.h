/* SPDX-License-Identifier: BSD-2-Clause */
/* The load engine: worker threads, each with its own epoll loop. */
#ifndef BLAST_ENGINE_H
#define BLAST_ENGINE_H

#include <stdatomic.h>
#include <stdint.h>
#include <sys/socket.h>

#include "tools/blast/cli.h"
#include "tools/blast/series.h"
#include "tools/blast/tally.h"
#include "tools/blast/target.h"

struct run_result {
	char url[TARGET_LABEL_MAX];
	struct stats st;
	uint64_t elapsed_ns; /* measured window (warmup excluded) */
	double target_rate;  /* --rate, 0 for closed loop */
	int interrupted;     /* stopped by Ctrl-C */
	unsigned merged;     /* number of runs merged into this one (>= 1) */
};

/* Set from the SIGINT handler; workers poll it at every tick (10 ms). */
extern atomic_int blast_stop;

/* Runs one target with cfg's settings.  `ser` may be NULL (no progress
 * line, no CSV).  Returns 0, or -1 when threads or memory could not be
 * had (message printed). */
int engine_run(const struct blast_config *cfg, const struct target *tg, struct series *ser,
	       struct run_result *res);

#endif
