/* SPDX-License-Identifier: BSD-2-Clause */
/* Adaptive busy polling: poll for responses before sleeping only when it
 * helps and only when it takes nothing from anyone else.
 *
 * Sleeping in epoll_wait makes the next event pay for a wake-up (an
 * inter-processor interrupt; in a VM, an exit to the hypervisor), so
 * polling for a few tens of microseconds first raises throughput and
 * cuts blast's own latency -- when a CPU would otherwise sit idle.  When
 * a server shares the machine and needs every CPU, the same polling
 * takes CPU from it (measured against metricd on 2 CPUs: blast 0.79x
 * wrk with a fixed 50 us poll, 1.23x without).  Two rules:
 *
 * Per thread (bp_thread, no sharing): a poll window that catches nothing
 * makes the next 1, 2, 4 ... 32 waits sleep at once; a window that
 * catches an event (one not there when polling began) resets that.
 *
 * Per process (bp_policy, run by the main thread, read by the workers
 * through one atomic flag): every second, polling is off for a 100 ms
 * probe while /proc/stat measures the idle CPU that blast's own sleeping
 * leaves.  Polling is allowed for the rest of the second only if at least
 * half a CPU was idle.  Where the kernel reports CPU pressure
 * (/proc/pressure/cpu), polling also stops as soon as tasks spend more
 * than 10 % of a 100 ms window waiting for a CPU.
 */
#ifndef BLAST_BUSYPOLL_H
#define BLAST_BUSYPOLL_H

#include <stdint.h>

#define BP_MAX_SKIP 32
#define BP_PERIOD_NS 1000000000ull
#define BP_PROBE_NS 100000000ull
#define BP_STEP_NS 100000000ull
#define BP_MIN_IDLE_CPUS 0.5
#define BP_MAX_PRESSURE 0.10

struct bp_thread {
	unsigned skip;    /* waits left that sleep without polling */
	unsigned backoff; /* length of the next skip after a fruitless poll */
};

enum bp_outcome { BP_READY, BP_CAUGHT, BP_MISSED };

/* Poll before this wait? */
static inline int bp_thread_poll(struct bp_thread *t)
{
	if (t->skip) {
		t->skip--;
		return 0;
	}
	return 1;
}

/* How the poll went: events already there (no verdict), caught while
 * polling, or nothing before the window closed. */
static inline void bp_thread_outcome(struct bp_thread *t, enum bp_outcome o)
{
	if (o == BP_CAUGHT) {
		t->backoff = 0;
	} else if (o == BP_MISSED) {
		t->backoff = t->backoff ? (t->backoff < BP_MAX_SKIP ? t->backoff * 2 : BP_MAX_SKIP) : 1;
		t->skip = t->backoff;
	}
}

/* /proc/stat's first line, and /proc/pressure/cpu's "some total=". */
struct cpu_sample {
	uint64_t total;      /* jiffies, all CPUs */
	uint64_t idle;       /* idle + iowait jiffies */
	unsigned ncpu;
	int has_pressure;
	uint64_t pressure_us;
};

int cpu_sample_parse(const char *stat, const char *pressure, struct cpu_sample *out);
/* Idle CPUs (0 .. ncpu) between two samples. */
double cpu_idle(const struct cpu_sample *a, const struct cpu_sample *b);

struct bp_policy {
	int allow;            /* the decision the workers read */
	int probing;          /* in the probe window: polling is off */
	uint64_t period_at;   /* when the current second began */
	uint64_t step_at;     /* when the current 100 ms step began */
	struct cpu_sample probe_from, step_from;
};

/* Feed the policy a sample taken at `now` (call at least every 100 ms).
 * Returns whether the workers may poll. */
int bp_policy_step(struct bp_policy *p, uint64_t now, const struct cpu_sample *s);
void bp_policy_init(struct bp_policy *p, uint64_t now, const struct cpu_sample *s);

/* Read /proc/stat and /proc/pressure/cpu; -1 if /proc/stat is missing. */
int cpu_sample_read(struct cpu_sample *out);

#endif
