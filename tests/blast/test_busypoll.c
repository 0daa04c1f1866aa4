/* SPDX-License-Identifier: BSD-2-Clause */
/* Suite for tools/blast/busypoll.c: the per-thread backoff, /proc/stat
 * and /proc/pressure/cpu parsing, and the machine-wide rule driven by
 * made-up samples on a virtual clock. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#include "tools/blast/busypoll.h"

#define MS 1000000ull

START_TEST(test_thread_backoff)
{
	struct bp_thread t = {0};
	ck_assert_int_eq(bp_thread_poll(&t), 1);
	bp_thread_outcome(&t, BP_MISSED); /* skip 1 */
	ck_assert_int_eq(bp_thread_poll(&t), 0);
	ck_assert_int_eq(bp_thread_poll(&t), 1);
	bp_thread_outcome(&t, BP_MISSED); /* skip 2 */
	ck_assert_int_eq(bp_thread_poll(&t), 0);
	ck_assert_int_eq(bp_thread_poll(&t), 0);
	ck_assert_int_eq(bp_thread_poll(&t), 1);
	bp_thread_outcome(&t, BP_READY); /* no verdict: backoff unchanged */
	ck_assert_uint_eq(t.backoff, 2);
	for (int i = 0; i < 10; i++)
		bp_thread_outcome(&t, BP_MISSED);
	ck_assert_uint_eq(t.backoff, BP_MAX_SKIP);
	ck_assert_uint_eq(t.skip, BP_MAX_SKIP);
	bp_thread_outcome(&t, BP_CAUGHT);
	ck_assert_uint_eq(t.backoff, 0);
	t.skip = 0;
	ck_assert_int_eq(bp_thread_poll(&t), 1);
}
END_TEST

static const char STAT[] = "cpu  100 5 50 800 20 0 10 15 7 0\n"
			   "cpu0 50 2 25 400 10 0 5 7 3 0\n"
			   "cpu1 50 3 25 400 10 0 5 8 4 0\n"
			   "intr 12345\n";
static const char PSI[] = "some avg10=1.00 avg60=2.00 avg300=3.00 total=4242\n"
			  "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n";

START_TEST(test_parse)
{
	struct cpu_sample s;
	ck_assert_int_eq(cpu_sample_parse(STAT, PSI, &s), 0);
	ck_assert_uint_eq(s.total, 100 + 5 + 50 + 800 + 20 + 0 + 10 + 15);
	ck_assert_uint_eq(s.idle, 820);
	ck_assert_uint_eq(s.ncpu, 2);
	ck_assert_int_eq(s.has_pressure, 1);
	ck_assert_uint_eq(s.pressure_us, 4242);
	ck_assert_int_eq(cpu_sample_parse(STAT, NULL, &s), 0);
	ck_assert_int_eq(s.has_pressure, 0);
	ck_assert_int_eq(cpu_sample_parse("intr 1\n", NULL, &s), -1);
}
END_TEST

/* A sample after `busy` of `total` jiffies were not idle (2 CPUs). */
static struct cpu_sample at(uint64_t total, uint64_t idle, uint64_t pressure_us)
{
	struct cpu_sample s = {.total = total, .idle = idle, .ncpu = 2, .has_pressure = 1,
			       .pressure_us = pressure_us};
	return s;
}

START_TEST(test_idle_cpus)
{
	struct cpu_sample a = at(1000, 500, 0), b = at(1200, 650, 0);
	ck_assert_double_eq_tol(cpu_idle(&a, &b), 1.5, 1e-9);
	ck_assert_double_eq_tol(cpu_idle(&b, &b), 0, 1e-9);
}
END_TEST

/* Each second: 100 ms with polling off to measure, then polling only if
 * half a CPU was idle, and off again as soon as others wait for a CPU. */
START_TEST(test_policy)
{
	struct bp_policy p;
	struct cpu_sample s = at(0, 0, 0);
	bp_policy_init(&p, 0, &s);
	/* probe: 20 jiffies over 2 CPUs, 12 idle: 1.2 idle CPUs */
	s = at(10, 6, 0);
	ck_assert_int_eq(bp_policy_step(&p, 50 * MS, &s), 0);
	s = at(20, 12, 0);
	ck_assert_int_eq(bp_policy_step(&p, 100 * MS, &s), 1);
	/* 100 ms later, 5 ms of CPU pressure (5 %): still on */
	s = at(40, 20, 5000);
	ck_assert_int_eq(bp_policy_step(&p, 200 * MS, &s), 1);
	/* then 30 ms (30 %): off until the next probe */
	s = at(60, 20, 35000);
	ck_assert_int_eq(bp_policy_step(&p, 300 * MS, &s), 0);
	s = at(80, 40, 35000);
	ck_assert_int_eq(bp_policy_step(&p, 500 * MS, &s), 0);
	/* the next second probes again: 0.2 idle CPUs is not enough */
	s = at(200, 100, 35000);
	ck_assert_int_eq(bp_policy_step(&p, 1000 * MS, &s), 0);
	s = at(220, 102, 36000);
	ck_assert_int_eq(bp_policy_step(&p, 1100 * MS, &s), 0);
	s = at(240, 104, 37000);
	ck_assert_int_eq(bp_policy_step(&p, 1200 * MS, &s), 0);
	/* a second with a whole CPU idle during its probe: on */
	s = at(400, 200, 37000);
	ck_assert_int_eq(bp_policy_step(&p, 2000 * MS, &s), 0);
	s = at(420, 210, 37000);
	ck_assert_int_eq(bp_policy_step(&p, 2100 * MS, &s), 1);
}
END_TEST

/* Without pressure figures the idle rule alone decides. */
START_TEST(test_policy_without_pressure)
{
	struct bp_policy p;
	struct cpu_sample s = {.total = 0, .ncpu = 2};
	bp_policy_init(&p, 0, &s);
	s.total = 20;
	s.idle = 12;
	ck_assert_int_eq(bp_policy_step(&p, 100 * MS, &s), 1);
	s.total = 40;
	ck_assert_int_eq(bp_policy_step(&p, 200 * MS, &s), 1);
}
END_TEST

START_TEST(test_reads_this_machine)
{
	struct cpu_sample s;
	ck_assert_int_eq(cpu_sample_read(&s), 0);
	ck_assert_uint_gt(s.total, 0);
	ck_assert_uint_ge(s.ncpu, 1);
}
END_TEST

static Suite *busypoll_suite(void)
{
	Suite *s = suite_create("busypoll");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_thread_backoff);
	tcase_add_test(tc, test_parse);
	tcase_add_test(tc, test_idle_cpus);
	tcase_add_test(tc, test_policy);
	tcase_add_test(tc, test_policy_without_pressure);
	tcase_add_test(tc, test_reads_this_machine);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(busypoll_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
