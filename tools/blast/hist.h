/* SPDX-License-Identifier: BSD-2-Clause */
/* Log-linear latency histogram (HdrHistogram layout, own implementation).
 *
 * Values are nanoseconds.  Values below 2^8 get one bucket each.  Above
 * that, every power-of-two range [2^k, 2^(k+1)) is split into 128 equal
 * sub-buckets, so a bucket is never wider than 1/128 of its lower bound.
 * Reporting the bucket midpoint bounds the relative error at 1/256
 * (0.39 %), comfortably inside the 1 % promised from 1 us to 60 s.
 *
 * Memory is fixed: 34 * 128 counters cover 0 .. 2^40 ns (18 minutes);
 * larger values are clamped into the top bucket and counted in
 * `clamped`.  min, max and sum are kept exactly, so merging two
 * histograms is exact (counters add).
 */
#ifndef BLAST_HIST_H
#define BLAST_HIST_H

#include <stddef.h>
#include <stdint.h>

#define HIST_SUB_BITS 7                        /* 128 sub-buckets per octave */
#define HIST_SUB_HALF (1u << HIST_SUB_BITS)
#define HIST_MAX_BITS 40                       /* values < 2^40 ns */
#define HIST_BUCKETS ((HIST_MAX_BITS - HIST_SUB_BITS + 1) * HIST_SUB_HALF)
#define HIST_MAX_VALUE ((UINT64_C(1) << HIST_MAX_BITS) - 1)

struct hist {
	uint64_t total;   /* number of recorded values */
	uint64_t min;     /* exact; UINT64_MAX when empty */
	uint64_t max;     /* exact (before clamping) */
	uint64_t sum;     /* exact sum in ns, for the mean */
	uint64_t clamped; /* values above HIST_MAX_VALUE */
	uint64_t counts[HIST_BUCKETS];
};

/* Bucket index of a value: shift is how many low bits the octave drops. */
static inline uint32_t hist_index(uint64_t v)
{
	if (v > HIST_MAX_VALUE)
		v = HIST_MAX_VALUE;
	/* OR-ing in 2^8-1 makes every v < 256 land in octave 7 (shift 0),
	 * which turns the linear range into the same formula. */
	unsigned msb = 63u - (unsigned)__builtin_clzll(v | (2u * HIST_SUB_HALF - 1));
	unsigned shift = msb - HIST_SUB_BITS;
	return (uint32_t)((shift << HIST_SUB_BITS) + (v >> shift));
}

static inline void hist_record(struct hist *h, uint64_t v)
{
	h->counts[hist_index(v)]++;
	h->total++;
	h->sum += v;
	if (v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
	if (v > HIST_MAX_VALUE)
		h->clamped++;
}

void hist_init(struct hist *h);
uint64_t hist_bucket_low(uint32_t idx);
uint64_t hist_bucket_width(uint32_t idx);
/* Representative value of a bucket (its midpoint). */
uint64_t hist_bucket_mid(uint32_t idx);
/* Value at percentile pct (0..100): the smallest recorded value such that
 * at least pct % of all values are <= it, to within the bucket error.
 * Returns 0 for an empty histogram. */
uint64_t hist_percentile(const struct hist *h, double pct);
double hist_mean(const struct hist *h);
double hist_stdev(const struct hist *h);
void hist_merge(struct hist *dst, const struct hist *src);
/* Set one bucket directly (used when reading a histogram back from JSON).
 * Returns -1 if idx is out of range. */
int hist_set_bucket(struct hist *h, uint32_t idx, uint64_t count);

#endif
