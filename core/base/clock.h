/* SPDX-License-Identifier: BSD-2-Clause */
/* Clocks: the monotonic clock (ns), its coarse variant (ms, read once per
 * loop turn), and the TSC rate, calibrated once at start, for the
 * allocator's cycle counts. */
#ifndef METRICD_CORE_BASE_CLOCK_H
#define METRICD_CORE_BASE_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t clock_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline uint64_t clock_coarse_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* TSC cycles to nanoseconds: calibrate once, before threads start. */
void clock_calibrate(void);
double clock_ns_per_cycle(void);

#endif
