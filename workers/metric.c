/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"

#include <time.h>

#include "workers/metric.h"

double metric_value(uint64_t id, uint64_t work)
{
	/* Seed in (0,1) from a multiplicative hash of id; the logistic map at
	 * r = 3.9 is chaotic, so the loop cannot be folded away. */
	double v = (double)((id * 2654435761u) % 999983u + 1) / 999985.0;

	for (uint64_t k = 0; k < work; k++)
		v = 3.9 * v * (1.0 - v);
	return v;
}

int64_t metric_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}
