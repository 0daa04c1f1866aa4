/* SPDX-License-Identifier: BSD-2-Clause */
/* Values given on the command line or in files: durations, counts,
 * percentile lists, id ranges, and whole files read into memory. */
#ifndef BLAST_PARSE_H
#define BLAST_PARSE_H

#include <stddef.h>
#include <stdint.h>

/* "500ms", "10s", "1.5m", "2h", "250us", "100ns"; a bare number is
 * seconds.  Returns -1 when malformed, zero or longer than a day. */
int parse_duration(const char *s, uint64_t *ns);
/* "50,90,99.9": values in (0, 100], at most max of them, sorted. */
int parse_percentiles(const char *s, double *out, unsigned *n, unsigned max);
/* Positive integer with an optional k/m suffix (x1000, x1000000). */
int parse_count(const char *s, uint64_t *out);
/* "A-B" with 0 <= A <= B < 10^18.  Returns -1 when malformed. */
int parse_range(const char *s, uint64_t *lo, uint64_t *hi);
/* A whole file, at most max bytes, NUL-terminated (not counted in *len).
 * Returns 0, or -1 with a message naming the file in err. */
int read_whole_file(const char *path, size_t max, char **out, size_t *len, char *err,
		    size_t errlen);

#endif
