/* SPDX-License-Identifier: BSD-2-Clause */
/* A latency histogram drawn in plain ASCII: for the live view and for
 * --histogram after the table. */
#ifndef BLAST_CHART_H
#define BLAST_CHART_H

#include <stdint.h>
#include <stdio.h>

#include "tools/blast/hist.h"

#define CHART_MAX_ROWS 40

struct chart_bin {
	uint64_t lo, hi; /* latencies in [lo, hi] ns */
	uint64_t count;
};

/* Cuts [min, max] of h into at most `rows` ranges of equal ratio (log
 * scale) and counts each recorded value into its range (by the bucket's
 * representative value).  Returns the number of ranges, 0 when empty;
 * their counts add up to h->total. */
unsigned chart_bins(const struct hist *h, unsigned rows, struct chart_bin *out);

/* One line per range: "  1.02ms - 1.50ms |#########     1234  12.3%". */
void chart_print(FILE *out, const struct hist *h, unsigned rows, unsigned width,
		 const char *indent);

#endif
