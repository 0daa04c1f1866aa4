/* SPDX-License-Identifier: BSD-2-Clause */
/* Open-loop request schedule.
 *
 * Request k of a thread is *intended* to go out at t0 + k * period, no
 * matter how the server behaves.  The engine sends it when that time has
 * come and a connection has room; latency is then measured from the
 * intended time, so a stalled server is charged for every request that
 * should have been sent during the stall (no coordinated omission).
 */
#ifndef BLAST_SCHED_H
#define BLAST_SCHED_H

#include <stdint.h>

struct sched {
	uint64_t t0;      /* intended time of request 0 (ns, monotonic) */
	double period_ns; /* 1e9 / rate */
	uint64_t next;    /* index of the next request to hand out */
};

/* Thread `idx` of a run gets a share of `rate` proportional to its
 * connections, and its schedule is phase-shifted by idx global periods so
 * that threads do not all fire at the same instant. */
void sched_init(struct sched *s, uint64_t start, double rate, unsigned conns,
		unsigned total_conns, unsigned idx);

static inline uint64_t sched_at(const struct sched *s, uint64_t k)
{
	return s->t0 + (uint64_t)((double)k * s->period_ns);
}

/* Intended time of the next request, and handing it out. */
static inline uint64_t sched_peek(const struct sched *s)
{
	return sched_at(s, s->next);
}

static inline uint64_t sched_take(struct sched *s)
{
	return sched_at(s, s->next++);
}

/* Requests already due at `now` but not yet handed out. */
uint64_t sched_backlog(const struct sched *s, uint64_t now);

#endif
