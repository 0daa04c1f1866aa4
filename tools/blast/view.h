/* SPDX-License-Identifier: BSD-2-Clause */
/* What a run shows while it runs.
 *
 * On a terminal (VIEW_LIVE): a block of lines redrawn in place every
 * second -- progress, this second's rate, errors, requests in flight,
 * latency percentiles so far and a latency histogram -- and erased
 * before the report.  Otherwise (VIEW_LINES): one plain line per second,
 * on stderr so that stdout stays the report (and valid --json).  -q:
 * VIEW_OFF, nothing at all.
 */
#ifndef BLAST_VIEW_H
#define BLAST_VIEW_H

#include <stdint.h>
#include <stdio.h>

#include "tools/blast/series.h"

enum view_mode { VIEW_OFF, VIEW_LINES, VIEW_LIVE };

#define VIEW_CHART_ROWS 8

struct view {
	FILE *out;
	enum view_mode mode;
	const char *label;
	uint64_t duration_ns; /* 0: -n only */
	uint64_t requests;    /* -n, 0 if none */
	unsigned drawn;       /* lines on screen from the last redraw */
};

void view_start(struct view *v, FILE *out, enum view_mode mode, const char *label,
		uint64_t duration_ns, uint64_t requests);
void view_second(struct view *v, const struct series_sec *sec);
/* Erase the live view (before the report). */
void view_end(struct view *v);

#endif
