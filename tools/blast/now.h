/* SPDX-License-Identifier: BSD-2-Clause */
/* Monotonic nanoseconds.  clock_gettime(CLOCK_MONOTONIC) is served by the
 * vDSO (no system call) on a TSC clocksource, ~20 ns, cheap enough to read
 * once per socket event for accurate latencies. */
#ifndef BLAST_NOW_H
#define BLAST_NOW_H

#include <stdint.h>
#include <time.h>

static inline uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Wall-clock nanoseconds since the epoch, for logs that need dates. */
static inline uint64_t wall_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#endif
