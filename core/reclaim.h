/* SPDX-License-Identifier: BSD-2-Clause */
/* Frees runtime snapshots replaced by a reload once no worker can still be
 * reading them, on a thread of its own ("metricd-rcu"), so the acceptor
 * never waits for a grace period: a worker deep in a long batch must not
 * stall every connection (docs/ROBUSTNESS.md).
 *
 * Threads: the acceptor retires snapshots (reclaim_retire); the reclaim
 * thread takes the retired list under the mutex, waits for a QSBR grace
 * period (urcu_qsbr_synchronize_rcu: every worker announced a quiescent
 * state or went offline since), then frees them.  It is not an RCU reader
 * itself.  liburcu's own call_rcu would do the same, but its internal
 * ordering is invisible to ThreadSanitizer; here the hand-off is a mutex
 * and the grace period is stated with an annotation (core/base/tsan.h). */
#ifndef METRICD_CORE_RECLAIM_H
#define METRICD_CORE_RECLAIM_H

#include <pthread.h>
#include <stdbool.h>

#include "queue/runtime.h"

struct reclaim {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct runtime *retired;     /* under lock; linked through ->retired_next */
	bool stop;                   /* under lock */
	bool started;                /* acceptor only */
	pthread_t thread;
};

void reclaim_init(struct reclaim *r);
/* Hands over a snapshot no longer published; starts the thread the first
 * time.  Returns 0 or -errno (the snapshot is then freed after a grace
 * period waited for here: the rare fallback). */
int reclaim_retire(struct reclaim *r, struct runtime *old);
/* Frees what is still retired (after a grace period) and ends the thread. */
void reclaim_destroy(struct reclaim *r);

#endif
