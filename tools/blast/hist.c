/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"

#include <math.h>
#include <string.h>

#include "tools/blast/hist.h"

void hist_init(struct hist *h)
{
	memset(h, 0, sizeof *h);
	h->min = UINT64_MAX;
}

/* Inverse of hist_index(): buckets 0..255 are one value wide; after that
 * each group of 128 buckets is one octave, twice as wide as the last. */
uint64_t hist_bucket_low(uint32_t idx)
{
	if (idx < 2 * HIST_SUB_HALF)
		return idx;
	unsigned shift = (idx >> HIST_SUB_BITS) - 1;
	uint64_t sub = idx - ((uint64_t)shift << HIST_SUB_BITS);
	return sub << shift;
}

uint64_t hist_bucket_width(uint32_t idx)
{
	if (idx < 2 * HIST_SUB_HALF)
		return 1;
	return UINT64_C(1) << ((idx >> HIST_SUB_BITS) - 1);
}

uint64_t hist_bucket_mid(uint32_t idx)
{
	return hist_bucket_low(idx) + (hist_bucket_width(idx) - 1) / 2;
}

/* Clamp a bucket's representative value into [min, max], so p0 and p100
 * and any single-bucket histogram report exact values. */
static uint64_t clamp_to_range(const struct hist *h, uint64_t v)
{
	if (v < h->min)
		return h->min;
	if (v > h->max)
		return h->max;
	return v;
}

uint64_t hist_percentile(const struct hist *h, double pct)
{
	if (h->total == 0)
		return 0;
	if (pct <= 0)
		return h->min;
	if (pct >= 100)
		return h->max;
	/* rank = ceil(pct/100 * N): the same definition as indexing a sorted
	 * array at rank-1, which is what the tests compare against. */
	double r = ceil(pct / 100.0 * (double)h->total);
	uint64_t rank = r < 1 ? 1 : (uint64_t)r;
	if (rank > h->total)
		rank = h->total;
	uint64_t seen = 0;
	for (uint32_t i = 0; i < HIST_BUCKETS; i++) {
		seen += h->counts[i];
		if (seen >= rank)
			return clamp_to_range(h, hist_bucket_mid(i));
	}
	return h->max;
}

double hist_mean(const struct hist *h)
{
	return h->total ? (double)h->sum / (double)h->total : 0.0;
}

/* The standard deviation comes from bucket midpoints (each within 0.4 % of
 * its true value); keeping an exact sum of squares would overflow. */
double hist_stdev(const struct hist *h)
{
	if (h->total < 2)
		return 0.0;
	double mean = hist_mean(h), acc = 0;
	for (uint32_t i = 0; i < HIST_BUCKETS; i++) {
		if (!h->counts[i])
			continue;
		double d = (double)clamp_to_range(h, hist_bucket_mid(i)) - mean;
		acc += d * d * (double)h->counts[i];
	}
	return sqrt(acc / (double)h->total);
}

void hist_merge(struct hist *dst, const struct hist *src)
{
	for (uint32_t i = 0; i < HIST_BUCKETS; i++)
		dst->counts[i] += src->counts[i];
	dst->total += src->total;
	dst->sum += src->sum;
	dst->clamped += src->clamped;
	if (src->min < dst->min)
		dst->min = src->min;
	if (src->max > dst->max)
		dst->max = src->max;
}

int hist_set_bucket(struct hist *h, uint32_t idx, uint64_t count)
{
	if (idx >= HIST_BUCKETS)
		return -1;
	h->counts[idx] = count;
	return 0;
}
