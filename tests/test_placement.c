/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests for core/placement.c: where the threads run, over made-up
 * machines (placement_plan is a pure function of the machine's shape and
 * of the flags), and the machine's shape read from a made-up sysfs. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/placement.h"

static struct placement_topo topo;
static struct placement p;
static char err[256];

/* n CPUs numbered from 0; the L3 group of CPU i is i / per_l3 (per_l3 0:
 * unknown). */
static void machine(unsigned n, unsigned per_l3)
{
	memset(&topo, 0, sizeof(topo));
	topo.ncpus = n;
	for (unsigned i = 0; i < n; i++) {
		topo.cpu[i] = (int)i;
		topo.l3[i] = per_l3 ? (int)(i / per_l3 * per_l3) : -1;
	}
}

/* The CPUs of a --cpus list taken from the machine (its L3 groups kept). */
static void only(const int *cpus, unsigned n)
{
	struct placement_topo all = topo;

	topo.ncpus = n;
	for (unsigned i = 0; i < n; i++) {
		topo.cpu[i] = cpus[i];
		topo.l3[i] = all.l3[cpus[i]];
	}
}

static int plan(unsigned workers, unsigned acceptors, const int *acc_cpu,
		unsigned nacc_cpu, bool pin)
{
	struct placement_ask ask = { workers, acceptors, acc_cpu, nacc_cpu, pin };

	memset(err, 0, sizeof(err));
	return placement_plan(&topo, &ask, &p, err, sizeof(err));
}

#define PLAN(w, a) ck_assert_int_eq(plan(w, a, NULL, 0, true), 0)

/* Shard s's acceptor CPU and its workers' first number and count. */
static void want_shard(unsigned s, int cpu, unsigned first, unsigned n)
{
	ck_assert_uint_lt(s, p.nshards);
	ck_assert_msg(p.shard[s].cpu == cpu, "shard %u: acceptor cpu %d, want %d",
		      s, p.shard[s].cpu, cpu);
	ck_assert_uint_eq(p.shard[s].first_worker, first);
	ck_assert_uint_eq(p.shard[s].nworkers, n);
}

static void want_worker(unsigned w, int cpu, bool spin)
{
	ck_assert_uint_lt(w, p.nworkers);
	ck_assert_msg(p.worker_cpu[w] == cpu && p.worker_spin[w] == spin,
		      "w%u: cpu %d spin %d, want cpu %d spin %d", w, p.worker_cpu[w],
		      p.worker_spin[w], cpu, spin);
}

/* This VM: two CPUs.  One worker, and the acceptor on its CPU: nobody
 * spins, the other CPU is left to the rest of the machine. */
START_TEST(two_cpus)
{
	machine(2, 0);
	PLAN(0, 0);
	ck_assert_uint_eq(p.nshards, 1);
	ck_assert_uint_eq(p.nworkers, 1);
	want_shard(0, 0, 0, 1);
	want_worker(0, 0, false);

	/* Two workers: no CPU to spare, the acceptor shares worker 0's; the
	 * worker alone on CPU 1 may spin. */
	PLAN(2, 0);
	want_shard(0, 0, 0, 2);
	want_worker(0, 0, false);
	want_worker(1, 1, true);

	/* Two shards of one worker each: a CPU per shard, shared. */
	PLAN(2, 2);
	ck_assert_uint_eq(p.nshards, 2);
	want_shard(0, 0, 0, 1);
	want_shard(1, 1, 1, 1);
	want_worker(0, 0, false);
	want_worker(1, 1, false);

	/* More shards than CPUs: they share the CPUs in turn. */
	PLAN(4, 4);
	for (unsigned s = 0; s < 4; s++) {
		want_shard(s, (int)(s % 2), s, 1);
		want_worker(s, (int)(s % 2), false);
	}
}
END_TEST

START_TEST(one_and_few_cpus)
{
	machine(1, 0);
	PLAN(0, 0);
	want_shard(0, 0, 0, 1);
	want_worker(0, 0, false);
	PLAN(3, 0);                       /* asked for: they share the CPU */
	for (unsigned w = 0; w < 3; w++)
		want_worker(w, 0, false);

	/* Three CPUs: the acceptor gets one, two workers spin on theirs. */
	machine(3, 0);
	PLAN(0, 0);
	want_shard(0, 0, 0, 2);
	want_worker(0, 1, true);
	want_worker(1, 2, true);

	/* Four CPUs, four workers asked for: nothing to spare. */
	machine(4, 4);
	PLAN(4, 0);
	want_shard(0, 0, 0, 4);
	want_worker(0, 0, false);
	want_worker(1, 1, true);
	want_worker(3, 3, true);
}
END_TEST

/* Sixteen CPUs in two L3 groups of eight: two shards per group, four CPUs
 * each (PLACEMENT_SHARD_CPUS), the acceptor on the shard's first CPU,
 * three workers on the others. */
START_TEST(sixteen_cpus_two_l3)
{
	machine(16, 8);
	PLAN(0, 0);
	ck_assert_uint_eq(p.nshards, 4);
	ck_assert_uint_eq(p.nworkers, 12);
	for (unsigned s = 0; s < 4; s++) {
		want_shard(s, (int)(4 * s), 3 * s, 3);
		for (unsigned w = 0; w < 3; w++)
			want_worker(3 * s + w, (int)(4 * s + w + 1), true);
	}

	/* Two shards asked for: one per group, seven workers each. */
	PLAN(0, 2);
	ck_assert_uint_eq(p.nshards, 2);
	want_shard(0, 0, 0, 7);
	want_shard(1, 8, 7, 7);
	for (unsigned w = 0; w < 7; w++) {
		want_worker(w, (int)w + 1, true);
		want_worker(w + 7, (int)w + 9, true);
	}

	/* Four workers: one per shard, each shard keeps its acceptor. */
	PLAN(4, 0);
	ck_assert_uint_eq(p.nshards, 4);
	want_shard(0, 0, 0, 1);
	want_shard(1, 4, 1, 1);
	want_shard(3, 12, 3, 1);
	want_worker(1, 5, true);
	want_worker(3, 13, true);

	/* One worker: one shard. */
	PLAN(1, 0);
	ck_assert_uint_eq(p.nshards, 1);
	want_shard(0, 0, 0, 1);
	want_worker(0, 1, true);

	/* One shard asked for: the acceptor on CPU 0, fifteen workers. */
	PLAN(0, 1);
	want_shard(0, 0, 0, 15);
	want_worker(14, 15, true);

	/* Groups interleaved (even and odd CPUs): no shard spans both. */
	for (unsigned i = 0; i < 16; i++)
		topo.l3[i] = (int)(i % 2);
	PLAN(0, 0);
	ck_assert_uint_eq(p.nshards, 4);
	want_shard(0, 0, 0, 3);           /* CPUs 0 2 4 6 */
	want_shard(1, 8, 3, 3);           /* CPUs 8 10 12 14 */
	want_shard(2, 1, 6, 3);           /* CPUs 1 3 5 7 */
	want_shard(3, 9, 9, 3);
	want_worker(0, 2, true);
	want_worker(6, 3, true);
}
END_TEST

/* Groups of four or fewer CPUs: a shard each; one group of several times
 * PLACEMENT_SHARD_CPUS: split in equal runs; fewer: one shard. */
START_TEST(shards_per_group)
{
	machine(8, 4);
	PLAN(0, 0);
	ck_assert_uint_eq(p.nshards, 2);
	want_shard(0, 0, 0, 3);
	want_shard(1, 4, 3, 3);
	/* Three shards asked for over two groups: consecutive runs. */
	PLAN(0, 3);
	ck_assert_uint_eq(p.nshards, 3);
	want_shard(0, 0, 0, 2);           /* CPUs 0-2 */
	want_shard(1, 3, 2, 2);           /* CPUs 3-5 */
	want_shard(2, 6, 4, 1);           /* CPUs 6-7: shared, too small */
	want_worker(0, 1, true);
	want_worker(3, 5, true);
	want_worker(4, 6, false);

	/* One group (no cache described) of 8, 6 and 11 CPUs. */
	machine(8, 0);
	PLAN(0, 0);
	ck_assert_uint_eq(p.nshards, 2);
	want_shard(1, 4, 3, 3);
	machine(6, 0);
	PLAN(0, 0);
	ck_assert_uint_eq(p.nshards, 1);
	want_shard(0, 0, 0, 5);
	machine(11, 0);
	PLAN(0, 0);
	ck_assert_uint_eq(p.nshards, 2);
	want_shard(0, 0, 0, 5);           /* CPUs 0-5 */
	want_shard(1, 6, 5, 4);           /* CPUs 6-10 */
}
END_TEST

/* --cpus: only the CPUs it names, in their L3 groups. */
START_TEST(cpus_subsets)
{
	static const int low[] = { 0, 1, 2, 3 };
	static const int across[] = { 4, 5, 6, 7, 8, 9, 10, 11 };
	static const int two[] = { 6, 14 };

	machine(16, 8);
	only(low, 4);
	PLAN(0, 0);
	ck_assert_uint_eq(p.nshards, 1);
	want_shard(0, 0, 0, 3);
	want_worker(2, 3, true);

	machine(16, 8);
	only(across, 8);                  /* two groups of four: a shard each */
	PLAN(0, 0);
	ck_assert_uint_eq(p.nshards, 2);
	want_shard(0, 4, 0, 3);
	want_shard(1, 8, 3, 3);
	want_worker(0, 5, true);
	want_worker(5, 11, true);

	machine(16, 8);
	only(two, 2);
	PLAN(0, 0);
	want_shard(0, 6, 0, 1);
	want_worker(0, 6, false);
	PLAN(2, 2);                       /* a shard per CPU, per group */
	want_shard(0, 6, 0, 1);
	want_shard(1, 14, 1, 1);
}
END_TEST

START_TEST(acceptor_cpu)
{
	static const int one[] = { 1 }, zero[] = { 0 }, five[] = { 5 };
	static const int two[] = { 0, 8 };

	/* The acceptor where it is told; the workers take the other CPUs. */
	machine(2, 0);
	ck_assert_int_eq(plan(0, 0, one, 1, true), 0);
	want_shard(0, 1, 0, 1);
	want_worker(0, 0, true);
	ck_assert_int_eq(plan(0, 0, zero, 1, true), 0);
	want_shard(0, 0, 0, 1);
	want_worker(0, 1, true);
	/* Two workers asked for on the one CPU left. */
	ck_assert_int_eq(plan(2, 0, zero, 1, true), 0);
	want_worker(0, 1, false);
	want_worker(1, 1, false);

	/* A CPU outside the shard's: every CPU of the shard gets a worker. */
	machine(4, 0);
	ck_assert_int_eq(plan(0, 0, five, 1, true), 0);
	want_shard(0, 5, 0, 4);
	for (unsigned w = 0; w < 4; w++)
		want_worker(w, (int)w, true);

	/* One per shard. */
	machine(16, 8);
	ck_assert_int_eq(plan(0, 2, two, 2, true), 0);
	want_shard(0, 0, 0, 7);
	want_shard(1, 8, 7, 7);
	ck_assert_int_eq(plan(0, 2, zero, 1, true), -EINVAL);
	ck_assert_msg(strstr(err, "--acceptor-cpu names 1 CPU(s) for 2 acceptor(s)"), "%s", err);
	ck_assert_int_eq(plan(0, 0, two, 2, true), -EINVAL);   /* 4 by default */
	ck_assert_msg(strstr(err, "--acceptor-cpu names 2 CPU(s) for 4 acceptor(s)"), "%s", err);
}
END_TEST

/* --no-pin: nobody is pinned; workers spin only when every thread could
 * have a CPU of its own. */
START_TEST(no_pin)
{
	static const int zero[] = { 0 };

	machine(2, 0);
	ck_assert_int_eq(plan(0, 0, NULL, 0, false), 0);
	want_shard(0, -1, 0, 1);
	want_worker(0, -1, true);         /* two threads, two CPUs */
	ck_assert_int_eq(plan(2, 0, NULL, 0, false), 0);
	want_worker(0, -1, false);
	want_worker(1, -1, false);
	/* --acceptor-cpu has nothing to say then, whatever its count. */
	machine(16, 8);
	ck_assert_int_eq(plan(0, 0, zero, 1, false), 0);
	ck_assert_uint_eq(p.nshards, 4);
	want_shard(0, -1, 0, 3);
	want_shard(3, -1, 9, 3);
	want_worker(11, -1, true);        /* 16 threads, 16 CPUs */
}
END_TEST

START_TEST(limits_and_errors)
{
	machine(2, 0);
	ck_assert_int_eq(plan(1, 2, NULL, 0, true), -EINVAL);
	ck_assert_msg(strstr(err, "--workers 1 is fewer than --acceptors 2"), "%s", err);
	/* At most PLACEMENT_MAX_SHARDS shards (of 16 CPUs here) and
	 * PLACEMENT_MAX_WORKERS workers. */
	machine(1024, 0);
	PLAN(0, 0);
	ck_assert_uint_eq(p.nshards, PLACEMENT_MAX_SHARDS);
	ck_assert_uint_eq(p.nworkers, PLACEMENT_MAX_WORKERS);
	want_shard(0, 0, 0, 4);
	want_shard(63, 1008, 252, 4);
	want_worker(PLACEMENT_MAX_WORKERS - 1, 1012, true);
	/* One shard asked for: its workers, up to the limit. */
	PLAN(0, 1);
	want_shard(0, 0, 0, PLACEMENT_MAX_WORKERS);
	want_worker(PLACEMENT_MAX_WORKERS - 1, PLACEMENT_MAX_WORKERS, true);
	/* Nothing known about the machine: one CPU. */
	memset(&topo, 0, sizeof(topo));
	PLAN(0, 0);
	want_shard(0, 0, 0, 1);
	want_worker(0, 0, false);
}
END_TEST

START_TEST(describe)
{
	char line[128], tiny[24];

	machine(2, 0);
	PLAN(2, 0);
	placement_describe(&p, 0, line, sizeof(line));
	ck_assert_str_eq(line, "shard 0: acceptor cpu 0; w0 cpu 0 spin off, w1 cpu 1 spin on");
	ck_assert_int_eq(plan(0, 0, NULL, 0, false), 0);
	placement_describe(&p, 0, line, sizeof(line));
	ck_assert_str_eq(line, "shard 0: acceptor cpu any; w0 cpu any spin on");
	machine(16, 8);
	PLAN(0, 0);
	placement_describe(&p, 1, tiny, sizeof(tiny));
	ck_assert_str_eq(tiny, "shard 1: acceptor cp...");
}
END_TEST

/* ---- the machine's shape from sysfs ---------------------------------------- */

static char root[64];

static void put(const char *rel, const char *text)
{
	char path[256], dir[256];

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	snprintf(dir, sizeof(dir), "%s", path);
	for (char *s = dir + strlen(root) + 1; (s = strchr(s, '/')); s++) {
		*s = '\0';
		mkdir(dir, 0755);
		*s = '/';
	}
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

/* cpu's caches: L1, L2, then an L3 shared by `l3`. */
static void caches(int cpu, const char *l3)
{
	char rel[128];

	snprintf(rel, sizeof(rel), "devices/system/cpu/cpu%d/cache/index0/level", cpu);
	put(rel, "1\n");
	snprintf(rel, sizeof(rel), "devices/system/cpu/cpu%d/cache/index1/level", cpu);
	put(rel, "2\n");
	snprintf(rel, sizeof(rel), "devices/system/cpu/cpu%d/cache/index2/level", cpu);
	put(rel, "3\n");
	snprintf(rel, sizeof(rel), "devices/system/cpu/cpu%d/cache/index2/shared_cpu_list", cpu);
	put(rel, l3);
}

START_TEST(read_topology)
{
	cpu_set_t set;

	snprintf(root, sizeof(root), "/tmp/metricd-topo-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(root));
	caches(0, "0-1,4\n");
	caches(1, "0-1,4\n");
	caches(2, "2-3\n");
	caches(3, "2-3\n");
	caches(4, "0-1,4\n");
	put("devices/system/cpu/cpu6/cache/index0/level", "1\n");   /* no L3 */
	CPU_ZERO(&set);
	for (int i = 0; i <= 7; i++)
		CPU_SET(i, &set);
	CPU_CLR(5, &set);
	placement_read_topo(root, &set, &topo);
	ck_assert_uint_eq(topo.ncpus, 7);
	static const int cpu[] = { 0, 1, 2, 3, 4, 6, 7 }, l3[] = { 0, 0, 2, 2, 0, -1, -1 };
	for (unsigned i = 0; i < 7; i++) {
		ck_assert_int_eq(topo.cpu[i], cpu[i]);
		ck_assert_msg(topo.l3[i] == l3[i], "cpu %d: l3 %d, want %d", cpu[i],
			      topo.l3[i], l3[i]);
	}
	/* A root with nothing: one group of unknowns. */
	placement_read_topo("/nonexistent", &set, &topo);
	ck_assert_uint_eq(topo.ncpus, 7);
	ck_assert_int_eq(topo.l3[0], -1);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

static Suite *placement_suite(void)
{
	Suite *s = suite_create("placement");
	TCase *tc = tcase_create("placement");

	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, two_cpus);
	tcase_add_test(tc, one_and_few_cpus);
	tcase_add_test(tc, sixteen_cpus_two_l3);
	tcase_add_test(tc, shards_per_group);
	tcase_add_test(tc, cpus_subsets);
	tcase_add_test(tc, acceptor_cpu);
	tcase_add_test(tc, no_pin);
	tcase_add_test(tc, limits_and_errors);
	tcase_add_test(tc, describe);
	tcase_add_test(tc, read_topology);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(placement_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
