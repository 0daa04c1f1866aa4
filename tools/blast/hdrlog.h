/* SPDX-License-Identifier: BSD-2-Clause */
/* --hdr-log FILE: HdrHistogram's interval log, one histogram per second,
 * readable by HdrHistogram's HistogramLogReader / HistogramLogProcessor
 * and the tools built on them.
 *
 * The log (format version 1.3):
 *
 *   #[Histogram log format version 1.3]
 *   #[StartTime: 1700000000.123 (seconds since epoch), Tue Nov 14 22:13:20 2023]
 *   #[BaseTime: 1700000000.123 (seconds since epoch)]
 *   "StartTimestamp","Interval_Length","Interval_Max","Interval_Compressed_Histogram"
 *   Tag=url1,0.000,1.000,3.146,HISTFAAAAC...
 *
 * Timestamps are seconds after BaseTime (the first run's start); each URL
 * of a run is tagged url1, url2, ... (a comment line names it).  Values
 * are nanoseconds; the Interval_Max column is in milliseconds (the
 * writer's customary ratio of 1e6, which HistogramLogProcessor expects).
 *
 * The histogram is HdrHistogram's V2 compressed encoding: blast's own
 * histogram has exactly HdrHistogram's layout for a lowest discernible
 * value of 1 and 2 significant digits (hist.h), so its counts array is
 * written as is: big-endian header, counts as ZigZag LEB128 (a run of
 * zeros as its negated length), deflated with zlib, then base64.
 */
#ifndef BLAST_HDRLOG_H
#define BLAST_HDRLOG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "tools/blast/hist.h"
#include "tools/blast/series.h"

#define HDR_COOKIE_V2 0x1c849313u            /* 0x1c849303 | 0x10 word size bits */
#define HDR_COOKIE_V2_COMPRESSED 0x1c849314u /* 0x1c849304 | 0x10 */
#define HDR_SIGNIFICANT_DIGITS 2
#define HDR_HEADER_LEN 40

struct hdrlog {
	FILE *f;
	char tag[16];
	uint64_t base_wall_ns; /* BaseTime, 0 until the first run starts */
	uint64_t run_wall_ns;  /* this run's measured window opened */
};

/* Returns 0, or -1 with a message in err. */
int hdrlog_open(struct hdrlog *hl, const char *path, char *err, size_t errlen);
/* Run `index` (0-based) of `label` opened its window at wall-clock
 * `start_wall_ns` (CLOCK_REALTIME). */
void hdrlog_run(struct hdrlog *hl, unsigned index, const char *label, uint64_t start_wall_ns);
void hdrlog_second(struct hdrlog *hl, const struct series_sec *sec);
/* Returns 0, or -1 if anything failed to reach the file. */
int hdrlog_close(struct hdrlog *hl);

/* The compressed encoding of h: malloc'ed bytes in *out (caller frees).
 * Returns 0 or -1. */
int hdr_encode(const struct hist *h, unsigned char **out, size_t *len);
/* Standard base64 with padding; out needs 4 * ((n + 2) / 3) + 1 bytes. */
void base64_encode(const unsigned char *in, size_t n, char *out);

#endif
