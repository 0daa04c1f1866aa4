/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"

#include "tools/blast/sched.h"

void sched_init(struct sched *s, uint64_t start, double rate, unsigned conns,
		unsigned total_conns, unsigned idx)
{
	double share = rate * (double)conns / (double)total_conns;
	s->period_ns = 1e9 / share;
	s->t0 = start + (uint64_t)(1e9 / rate * idx);
	s->next = 0;
}

uint64_t sched_backlog(const struct sched *s, uint64_t now)
{
	if (now < s->t0)
		return 0;
	/* Division gives an estimate; step it so that it agrees exactly with
	 * sched_at(), which is what decides when a request is sent. */
	uint64_t due = (uint64_t)((double)(now - s->t0) / s->period_ns) + 1;
	while (due > 0 && sched_at(s, due - 1) > now)
		due--;
	while (sched_at(s, due) <= now)
		due++;
	return due > s->next ? due - s->next : 0;
}
