/* SPDX-License-Identifier: BSD-2-Clause */
/* Settings that change while the server runs (SIGHUP), as one immutable
 * snapshot published with RCU (liburcu, QSBR flavour).
 *
 * Writer: the acceptor thread, on reload: builds a new snapshot, swaps the
 * pointer with rcu_xchg_pointer and retires the old one to the reclaim
 * thread (core/reclaim.h), which frees it after a grace period - the
 * acceptor never waits for one, so a worker busy with a long batch delays
 * nobody's requests.
 * Readers: the workers.  Each reads the pointer once at the start of a
 * batch and uses it only until the batch is flushed, then announces a
 * quiescent state; before sleeping it goes offline, so a sleeping worker
 * never delays a reload.  Readers take no lock and write nothing shared. */
#ifndef METRICD_QUEUE_RUNTIME_H
#define METRICD_QUEUE_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

struct runtime {
	uint64_t spin_ns;
	uint64_t send_timeout_ms;     /* 0: none */
	size_t server_len;
	char server[64];
	uint64_t generation;      /* 1 at start, +1 per reload */
	int access_log;           /* workers write access-log lines */
	int access_log_format;    /* enum alog_format (workers/accesslog.h) */
	struct runtime *retired_next;   /* core/reclaim.c's list */
	const void *readers;      /* where readers publish they are done
				   * (the TSan annotations in worker.c) */
};

#endif
