#include "config.h"

#include <string.h>

#include "core/base/counters.h"

const uint64_t prom_le_ns[PROM_BUCKETS] = {
	10000, 25000, 50000, 100000, 250000, 500000,
	1000000, 2500000, 5000000, 10000000, 25000000, 50000000,
	100000000, 250000000, 500000000,
	1000000000, 2500000000u, 5000000000u, 10000000000u,
};

unsigned lat_bucket(uint64_t ns)
{
	if (ns < (1u << LAT_SUB_BITS))
		return (unsigned)ns;
	unsigned e = 63u - (unsigned)__builtin_clzll(ns);
	unsigned sub = (unsigned)(ns >> (e - LAT_SUB_BITS)) & ((1u << LAT_SUB_BITS) - 1);
	unsigned i = (1u << LAT_SUB_BITS) + (e - LAT_SUB_BITS) * (1u << LAT_SUB_BITS) + sub;

	return i < LAT_BUCKETS ? i : LAT_BUCKETS - 1;
}

uint64_t lat_bucket_low(unsigned i)
{
	if (i < (1u << LAT_SUB_BITS))
		return i;
	unsigned e = (i - (1u << LAT_SUB_BITS)) / (1u << LAT_SUB_BITS) + LAT_SUB_BITS;
	unsigned sub = (i - (1u << LAT_SUB_BITS)) % (1u << LAT_SUB_BITS);

	return (uint64_t)((1u << LAT_SUB_BITS) + sub) << (e - LAT_SUB_BITS);
}

void lat_record(struct route_counters *r, uint64_t ns)
{
	unsigned p = 0;

	CNT_ADD(r->lat[lat_bucket(ns)], 1);
	CNT_ADD(r->lat_sum_ns, ns);
	if (ns > CNT_GET(r->lat_max_ns))
		CNT_SET(r->lat_max_ns, ns);
	while (p < PROM_BUCKETS && ns > prom_le_ns[p])
		p++;
	if (p < PROM_BUCKETS)
		CNT_ADD(r->prom[p], 1);
}

uint64_t lat_quantile(const uint64_t *lat, uint64_t count, double q)
{
	uint64_t want = (uint64_t)(q * (double)count + 0.999999), seen = 0;

	if (count == 0)
		return 0;
	if (want == 0)
		want = 1;
	for (unsigned i = 0; i < LAT_BUCKETS; i++) {
		seen += lat[i];
		if (seen >= want) {
			uint64_t lo = lat_bucket_low(i);
			uint64_t hi = i + 1 < LAT_BUCKETS ? lat_bucket_low(i + 1) : lo;

			return lo + (hi - lo) / 2;
		}
	}
	return lat_bucket_low(LAT_BUCKETS - 1);
}

void counters_init(struct counters *t, const char *name, int cpu,
		       uint16_t index)
{
	memset(t, 0, sizeof(*t));
	strncpy(t->name, name, sizeof(t->name) - 1);
	t->cpu = cpu;
	t->index = index;
}

