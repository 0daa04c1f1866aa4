/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"

#include <string.h>

#include "core/base/counters.h"

#define LAT_NS(ns, text, a) ns,
const uint64_t lat_bound_ns[LAT_BUCKETS] = { LAT_BOUNDS_LIST(LAT_NS, _) UINT64_MAX };
#undef LAT_NS

#define LAT_ONE(ns, text, a) + 1
_Static_assert((0 LAT_BOUNDS_LIST(LAT_ONE, _)) == LAT_BOUNDS, "LAT_BOUNDS is the list's length");
#undef LAT_ONE

/* For each power of two 2^o, the number of bounds below it: the first
 * bucket a latency of o + 1 significant bits can fall in.  Worked out by
 * the compiler from the list of bounds. */
#define LAT_BELOW(ns, text, o) + ((ns) < (1ull << (o)))
#define LAT_FIRST(o) (0 LAT_BOUNDS_LIST(LAT_BELOW, o))
#define LAT_FIRST8(o) LAT_FIRST(o), LAT_FIRST(o + 1), LAT_FIRST(o + 2), \
	LAT_FIRST(o + 3), LAT_FIRST(o + 4), LAT_FIRST(o + 5), LAT_FIRST(o + 6), \
	LAT_FIRST(o + 7)
static const uint8_t lat_first[64] = {
	LAT_FIRST8(0), LAT_FIRST8(8), LAT_FIRST8(16), LAT_FIRST8(24),
	LAT_FIRST8(32), LAT_FIRST8(40), LAT_FIRST8(48), LAT_FIRST8(56),
};
#undef LAT_FIRST8
#undef LAT_FIRST
#undef LAT_BELOW

/* At most two bounds lie in [2^o, ns) (counters.h), and the sentinel
 * UINT64_MAX stops the second step at the last bucket. */
static inline unsigned lat_index(uint64_t ns)
{
	unsigned i = lat_first[63 - __builtin_clzll(ns | 1)];

	i += ns > lat_bound_ns[i];
	i += ns > lat_bound_ns[i];
	return i;
}

unsigned lat_bucket(uint64_t ns)
{
	return lat_index(ns);
}

void lat_record(struct route_counters *r, uint64_t ns)
{
	CNT_ADD(r->lat[lat_index(ns)], 1);
	CNT_ADD(r->lat_sum_ns, ns);
	if (ns > CNT_GET(r->lat_max_ns))
		CNT_SET(r->lat_max_ns, ns);
	if (ns < CNT_GET(r->lat_min_ns))
		CNT_SET(r->lat_min_ns, ns);
}

double lat_quantile(const uint64_t lat[LAT_BUCKETS], uint64_t min, uint64_t max,
		    double q)
{
	uint64_t n = 0, below = 0;
	unsigned i;

	for (i = 0; i < LAT_BUCKETS; i++)
		n += lat[i];
	if (n == 0)
		return 0;
	/* The first bucket whose running count reaches the rank; one that is
	 * empty can be first only for rank 0, and then the next one holds the
	 * fastest latency. */
	double rank = q * (double)n, v;
	for (i = 0; i < LAT_BUCKETS - 1; i++) {
		if (lat[i] && (double)(below + lat[i]) >= rank)
			break;
		below += lat[i];
	}
	if (i == LAT_BUCKETS - 1) {
		v = (double)max;        /* past the last bound: only max is known */
	} else {
		double lo = i ? (double)lat_bound_ns[i - 1] : 0, hi = (double)lat_bound_ns[i];

		v = lo + (hi - lo) * (rank - (double)below) / (double)lat[i];
	}
	if (v > (double)max)
		v = (double)max;
	if (v < (double)min)
		v = (double)min;
	return v;
}

void counters_init(struct counters *t, const char *name, int cpu,
		       uint16_t index)
{
	memset(t, 0, sizeof(*t));
	strncpy(t->name, name, sizeof(t->name) - 1);
	t->cpu = cpu;
	t->index = index;
	for (unsigned r = 0; r < COUNTERS_ROUTES; r++)
		t->route[r].lat_min_ns = UINT64_MAX;
}
