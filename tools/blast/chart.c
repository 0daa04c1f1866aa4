/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"

#include <math.h>
#include <string.h>

#include "tools/blast/chart.h"
#include "tools/blast/series.h"

unsigned chart_bins(const struct hist *h, unsigned rows, struct chart_bin *out)
{
	if (!h->total || rows == 0)
		return 0;
	if (rows > CHART_MAX_ROWS)
		rows = CHART_MAX_ROWS;
	double lo = h->min > 0 ? (double)h->min : 1.0, hi = (double)h->max;
	if (hi <= lo)
		rows = 1;
	double step = rows > 1 ? pow(hi / lo, 1.0 / rows) : 2.0;
	for (unsigned b = 0; b < rows; b++) {
		out[b].lo = b ? out[b - 1].hi + 1 : h->min;
		out[b].hi = b + 1 == rows ? h->max : (uint64_t)(lo * pow(step, b + 1));
		if (out[b].hi < out[b].lo)
			out[b].hi = out[b].lo;
		out[b].count = 0;
	}
	for (uint32_t i = 0; i < HIST_BUCKETS; i++) {
		if (!h->counts[i])
			continue;
		uint64_t v = hist_bucket_mid(i);
		v = v < h->min ? h->min : v > h->max ? h->max : v;
		unsigned b = 0;
		while (b + 1 < rows && v > out[b].hi)
			b++;
		out[b].count += h->counts[i];
	}
	return rows;
}

void chart_print(FILE *out, const struct hist *h, unsigned rows, unsigned width,
		 const char *indent)
{
	struct chart_bin bins[CHART_MAX_ROWS];
	unsigned n = chart_bins(h, rows, bins);
	uint64_t top = 0;
	char bar[256], lo[32], hi[32];
	if (n == 0) {
		fprintf(out, "%s(no responses)\n", indent);
		return;
	}
	if (width >= sizeof bar)
		width = sizeof bar - 1;
	for (unsigned b = 0; b < n; b++)
		top = bins[b].count > top ? bins[b].count : top;
	for (unsigned b = 0; b < n; b++) {
		unsigned len = (unsigned)((double)bins[b].count * width / (double)top + 0.5);
		if (bins[b].count && !len)
			len = 1; /* a non-empty range always shows */
		memset(bar, '#', len);
		bar[len] = 0;
		format_latency((double)bins[b].lo, lo, sizeof lo);
		format_latency((double)bins[b].hi, hi, sizeof hi);
		fprintf(out, "%s%9s - %-9s |%-*s %10llu %5.1f%%\n", indent, lo, hi, (int)width, bar,
			(unsigned long long)bins[b].count,
			100.0 * (double)bins[b].count / (double)h->total);
	}
}
