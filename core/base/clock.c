/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"

#include <unistd.h>
#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#endif

#include "core/base/clock.h"

/* Process-wide fact, set once before threads start. */
static double ns_per_cycle = 1.0;

void clock_calibrate(void)
{
#if defined(__x86_64__) || defined(__i386__)
	uint64_t t0 = clock_mono_ns(), c0 = __rdtsc();

	usleep(20000);
	uint64_t t1 = clock_mono_ns(), c1 = __rdtsc();

	if (c1 > c0)
		ns_per_cycle = (double)(t1 - t0) / (double)(c1 - c0);
#endif
}

double clock_ns_per_cycle(void)
{
	return ns_per_cycle;
}
