/* SPDX-License-Identifier: BSD-2-Clause */
/* When an idle worker spins: a policy that keeps spinning only while it
 * pays (docs/ARCHITECTURE.md, "Spinning").
 *
 * Spinning trades CPU for latency: a worker that polls its ring for a few
 * microseconds after it ran dry catches the next request without a sleep
 * and a wake-up (a syscall on each side, tens of microseconds across CPUs
 * on a VM).  When requests come further apart than the spin budget, every
 * spin ends in a sleep anyway and its CPU time is lost - on a machine the
 * worker shares, lost to the threads that would produce work.
 *
 * So the worker keeps score: of the last SPIN_WINDOW idle periods that
 * spun, how many were ended by work arriving during the spin ("caught")
 * rather than by a sleep ("slept").  When fewer than SPIN_PAY_PERCENT
 * caught work, spinning stops; after `backoff` idle periods without it,
 * the worker tries again for one window.  A retry that fails doubles the
 * backoff (up to SPIN_BACKOFF_MAX), one that pays resets it.  Idle
 * periods are counted, not time: a server with no requests has no idle
 * periods to count and never spins at all.
 *
 * Pure and single-threaded: the state belongs to one worker, the unit
 * tests (tests/test_spin.c) drive it directly. */
#ifndef METRICD_WORKERS_SPIN_H
#define METRICD_WORKERS_SPIN_H

#include <stdbool.h>
#include <stdint.h>

#define SPIN_WINDOW 16
#define SPIN_PAY_PERCENT 50
#define SPIN_BACKOFF_MIN 64
#define SPIN_BACKOFF_MAX 8192

struct spin_policy {
	uint32_t spun;        /* spun idle periods in this window */
	uint32_t caught;      /* of them, ended by work */
	uint32_t off_left;    /* idle periods to sit out; 0: spinning is on */
	uint32_t backoff;     /* the next time spinning stops, for this long */
};

void spin_init(struct spin_policy *p);
/* An idle period begins: true if it may spin. */
bool spin_begin(struct spin_policy *p);
/* A spun idle period ended: caught = work came during the spin. */
void spin_end(struct spin_policy *p, bool caught);

#endif
