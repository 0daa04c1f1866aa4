/* SPDX-License-Identifier: BSD-2-Clause */
/* Reports: the human table (output.c) and the JSON document (jsonout.c). */
#ifndef BLAST_OUTPUT_H
#define BLAST_OUTPUT_H

#include <stdio.h>

#include "tools/blast/cli.h"
#include "tools/blast/engine.h"

/* Side by side, with ratios of every URL to the first. */
void output_human(FILE *out, const struct blast_config *cfg, struct run_result *const *res,
		  unsigned n);
/* One document: settings, then per URL totals, status counts, errors,
 * percentiles and the raw histogram buckets (enough for `blast merge`). */
void output_json(FILE *out, const struct blast_config *cfg, struct run_result *const *res,
		 unsigned n);

/* Did an open-loop run send at the requested rate (within 2 %)? */
int rate_achieved(const struct run_result *r);
double result_rps(const struct run_result *r);

#endif
