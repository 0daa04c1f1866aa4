/* SPDX-License-Identifier: BSD-2-Clause */
/* Where the server's threads run: how many shards (an acceptor and the
 * workers it feeds), how many workers, which CPU each thread is pinned
 * to, and which workers may spin (docs/ARCHITECTURE.md, "Placement").
 *
 * placement_plan() is a pure function of the machine's shape (the CPUs
 * the process may use and their L3 cache groups) and of what was asked
 * (--workers, --acceptors, --acceptor-cpu, --no-pin); the unit tests
 * (tests/test_placement.c) run it over made-up machines.
 * placement_read_topo() reads the shape from sysfs.
 *
 * The rules, per shard of C CPUs:
 *   - the acceptor gets a CPU of its own (the shard's first) when the
 *     shard has at least PLACEMENT_OWN_MIN CPUs and one is left over by
 *     its workers; otherwise it shares worker 0's CPU.  A hand-off to a
 *     worker on another CPU is a cross-CPU wake-up (tens of microseconds
 *     on a VM); on a small machine a shared CPU costs less than that.
 *   - workers default to C - 1 (at least 1): with its own CPU the
 *     acceptor takes the remaining one; sharing, it leaves one CPU to the
 *     rest of the machine (the kernel's network stack, a load generator).
 *   - a worker may spin only on a CPU no other metricd thread runs on:
 *     spinning beside its acceptor would take the CPU from the thread
 *     that produces its work.
 * Shards default to one per PLACEMENT_SHARD_CPUS CPUs of each L3 group
 * (at least one per group; a shard never spans two groups): one acceptor
 * keeps about that many CPUs busy (docs/BENCHMARKS.md, "Scaling model"). */
#ifndef METRICD_CORE_PLACEMENT_H
#define METRICD_CORE_PLACEMENT_H

#include <sched.h>
#include <stdbool.h>
#include <stddef.h>

#define PLACEMENT_MAX_SHARDS 64
#define PLACEMENT_MAX_WORKERS 256
/* A shard's acceptor gets a CPU of its own from this many CPUs up. */
#define PLACEMENT_OWN_MIN 3
/* Automatic shards: one per this many CPUs of an L3 group.  Measured
 * here, an acceptor frames a request in 0.4-0.8x the CPU time a worker
 * takes to answer it, so one acceptor feeds 1.5-2.5 workers' CPUs; four
 * CPUs (the acceptor's and three workers') leave room for heavier
 * requests. */
#define PLACEMENT_SHARD_CPUS 4

/* The machine as far as placement cares: the CPUs the process may use, in
 * order, and the L3 group of each (the lowest CPU sharing its L3; -1 when
 * unknown, which counts as one group). */
struct placement_topo {
	unsigned ncpus;
	int cpu[CPU_SETSIZE];
	int l3[CPU_SETSIZE];
};

/* What was asked for. */
struct placement_ask {
	unsigned workers;             /* 0: the default */
	unsigned acceptors;           /* 0: the default */
	const int *acceptor_cpu;      /* --acceptor-cpu, one per shard */
	unsigned nacceptor_cpu;       /* 0: not given */
	bool pin;                     /* false: --no-pin */
};

struct placement_shard {
	int cpu;                      /* the acceptor's; -1: not pinned */
	unsigned first_worker;
	unsigned nworkers;
};

struct placement {
	unsigned nshards;
	unsigned nworkers;
	struct placement_shard shard[PLACEMENT_MAX_SHARDS];
	int worker_cpu[PLACEMENT_MAX_WORKERS];     /* -1: not pinned */
	bool worker_spin[PLACEMENT_MAX_WORKERS];   /* may spin when idle */
};

/* Plans the threads.  Returns 0, or -EINVAL with what is wrong in err
 * (fewer workers than acceptors, --acceptor-cpu not one per shard). */
int placement_plan(const struct placement_topo *t, const struct placement_ask *ask,
		   struct placement *out, char *err, size_t errlen);

/* The CPUs of `cpus` in order, with their L3 groups read under sysfs
 * (normally "/sys"; a missing cache description means one group). */
void placement_read_topo(const char *sysfs, const cpu_set_t *cpus,
			 struct placement_topo *t);

/* "shard 0: acceptor cpu 0; w0 cpu 0 spin off, ..." into out (truncated
 * with "..." when it does not fit). */
void placement_describe(const struct placement *p, unsigned shard, char *out,
			size_t len);

#endif
