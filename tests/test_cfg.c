/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests for core/cfg.c: command-line flags. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/cfg.h"

#define MAXARGS 40

static struct cfg c;
static char err[512];

/* Runs cfg_parse on "metricd" + the NULL-terminated args. */
static int parse_v(const char *const *args)
{
	char *argv[MAXARGS + 2];
	int argc = 0;

	argv[argc++] = (char *)(uintptr_t)"metricd";
	for (; *args; args++) {
		ck_assert_int_lt(argc, MAXARGS);
		argv[argc++] = (char *)(uintptr_t)*args;
	}
	argv[argc] = NULL;
	cfg_defaults(&c);
	memset(err, 0, sizeof(err));
	return cfg_parse(&c, argc, argv, err, sizeof(err));
}

#define PARSE(...) parse_v((const char *const[]){ __VA_ARGS__, NULL })

/* Asserts a rejection whose message mentions `needle`. */
#define REJECT(needle, ...) do { \
	int rc_ = PARSE(__VA_ARGS__); \
	ck_assert_msg(rc_ == -EINVAL, "accepted (rc %d), want -EINVAL for %s", \
		      rc_, needle); \
	ck_assert_msg(strstr(err, needle) != NULL, \
		      "message \"%s\" does not mention \"%s\"", err, needle); \
} while (0)

/* Runs a parse with stdout captured; returns the captured text. */
static const char *parse_captured(const char *const *args, int *rc)
{
	static char out[8192];
	FILE *tmp = tmpfile();
	int saved;
	ssize_t n;

	ck_assert_ptr_nonnull(tmp);
	fflush(stdout);
	saved = dup(STDOUT_FILENO);
	ck_assert_int_ge(saved, 0);
	ck_assert_int_eq(dup2(fileno(tmp), STDOUT_FILENO), STDOUT_FILENO);
	*rc = parse_v(args);
	fflush(stdout);
	ck_assert_int_eq(dup2(saved, STDOUT_FILENO), STDOUT_FILENO);
	close(saved);
	n = pread(fileno(tmp), out, sizeof(out) - 1, 0);
	ck_assert_int_ge(n, 0);
	out[n] = '\0';
	fclose(tmp);
	return out;
}

START_TEST(defaults)
{
	cfg_defaults(&c);
	ck_assert_str_eq(c.listen.addr[0].host, "127.0.0.1");
	ck_assert_uint_eq(c.listen.addr[0].port, 8080);
	ck_assert_uint_eq(c.workers, 0);
	ck_assert(!c.cpus.given);
	ck_assert(!c.no_pin);
	ck_assert_uint_eq(c.ring_size, 1024);
	ck_assert_uint_eq(c.max_conns, 10240);
	ck_assert_int_eq(c.spin_us, 50);          /* a bound: placement decides who */
	ck_assert_uint_eq(c.listen.n, 1);
	ck_assert_uint_eq(c.acceptors, 0);        /* core/placement.h decides */
	ck_assert(!c.acceptor_cpu.given);
	ck_assert(!c.reuseport);
	ck_assert_uint_eq(c.max_header_bytes, 8192);
	ck_assert_uint_eq(c.max_pipeline, 64);
	ck_assert_uint_eq(c.shutdown_timeout_ms, 10000);
	ck_assert_uint_eq(c.drain_delay_ms, 0);   /* drain at once, as before */
	ck_assert_int_eq(c.log_level, LOG_LVL_INFO);
	/* No flags: the defaults stand. */
	ck_assert_int_eq(parse_v((const char *const[]){ NULL }), CFG_OK);
	ck_assert_uint_eq(c.listen.addr[0].port, 8080);
	ck_assert_uint_eq(c.ring_size, 1024);
}
END_TEST

START_TEST(every_flag)
{
	ck_assert_int_eq(PARSE("--listen", "10.1.2.3:81", "--workers", "3",
			       "--cpus", "1,2", "--no-pin", "--ring-size", "64",
			       "--max-conns", "100", "--max-header-bytes", "4096",
			       "--max-pipeline", "8", "--spin-us", "0",
			       "--shutdown-timeout", "250", "--log-level", "debug"),
			 CFG_OK);
	ck_assert_str_eq(c.listen.addr[0].host, "10.1.2.3");
	ck_assert_uint_eq(c.listen.addr[0].port, 81);
	ck_assert_uint_eq(c.workers, 3);
	ck_assert(c.cpus.given);
	ck_assert_int_eq(CPU_COUNT(&c.cpus.set), 2);
	ck_assert(CPU_ISSET(1, &c.cpus.set) && CPU_ISSET(2, &c.cpus.set));
	ck_assert(c.no_pin);
	ck_assert_uint_eq(c.ring_size, 64);
	ck_assert_uint_eq(c.max_conns, 100);
	ck_assert_uint_eq(c.max_header_bytes, 4096);
	ck_assert_uint_eq(c.max_pipeline, 8);
	ck_assert_int_eq(c.spin_us, 0);
	ck_assert_uint_eq(c.shutdown_timeout_ms, 250);
	ck_assert_int_eq(c.log_level, LOG_LVL_DEBUG);

	/* short forms and --flag=value */
	ck_assert_int_eq(PARSE("-l", ":9000", "-w", "2"), CFG_OK);
	ck_assert_str_eq(c.listen.addr[0].host, "0.0.0.0");
	ck_assert_uint_eq(c.listen.addr[0].port, 9000);
	ck_assert_uint_eq(c.workers, 2);
	ck_assert_int_eq(PARSE("--workers=5", "--listen=[::1]:8081", "-w7"), CFG_OK);
	ck_assert_uint_eq(c.workers, 7);           /* the last one wins */
	ck_assert_str_eq(c.listen.addr[0].host, "::1");
	ck_assert_uint_eq(c.listen.addr[0].port, 8081);

	/* each log level */
	ck_assert_int_eq(PARSE("--log-level", "error"), CFG_OK);
	ck_assert_int_eq(c.log_level, LOG_LVL_ERROR);
	ck_assert_int_eq(PARSE("--log-level", "warn"), CFG_OK);
	ck_assert_int_eq(c.log_level, LOG_LVL_WARN);
	ck_assert_int_eq(PARSE("--log-level", "info"), CFG_OK);
	ck_assert_int_eq(c.log_level, LOG_LVL_INFO);
	REJECT("--log-level", "--log-level", "verbose");
	REJECT("verbose", "--log-level", "verbose");
}
END_TEST

START_TEST(numeric_ranges)
{
	REJECT("--workers", "--workers", "0");
	ck_assert_int_eq(PARSE("--workers", "1"), CFG_OK);
	ck_assert_int_eq(PARSE("--workers", "256"), CFG_OK);
	ck_assert_uint_eq(c.workers, CFG_MAX_WORKERS);
	REJECT("--workers", "--workers", "257");
	REJECT("--workers", "--workers", "-1");
	REJECT("--workers", "--workers", "+2");
	REJECT("--workers", "--workers", "4x");
	REJECT("--workers", "--workers", "");
	REJECT("--workers", "--workers", " 4");
	REJECT("--workers", "--workers", "99999999999999999999999");
	REJECT("'abc'", "--workers", "abc");

	REJECT("--max-conns", "--max-conns", "0");
	ck_assert_int_eq(PARSE("--max-conns", "1048576"), CFG_OK);
	REJECT("--max-conns", "--max-conns", "1048577");
	REJECT("--max-header-bytes", "--max-header-bytes", "255");
	ck_assert_int_eq(PARSE("--max-header-bytes", "256"), CFG_OK);
	ck_assert_uint_eq(c.max_header_bytes, 256);
	REJECT("--max-header-bytes", "--max-header-bytes", "1048577");
	REJECT("--max-pipeline", "--max-pipeline", "0");
	REJECT("--max-pipeline", "--max-pipeline", "4097");
	ck_assert_int_eq(PARSE("--spin-us", "1000000"), CFG_OK);
	ck_assert_int_eq(c.spin_us, 1000000);
	REJECT("--spin-us", "--spin-us", "1000001");
	REJECT("--spin-us", "--spin-us", "-1");   /* auto is the default only */
	ck_assert_int_eq(PARSE("--shutdown-timeout", "0"), CFG_OK);
	ck_assert_uint_eq(c.shutdown_timeout_ms, 0);
	REJECT("--shutdown-timeout", "--shutdown-timeout", "3600001");
	ck_assert_int_eq(PARSE("--drain-delay", "1500"), CFG_OK);
	ck_assert_uint_eq(c.drain_delay_ms, 1500);
	ck_assert_int_eq(PARSE("--drain-delay", "3600000"), CFG_OK);
	REJECT("--drain-delay", "--drain-delay", "3600001");
	REJECT("--drain-delay", "--drain-delay", "-1");
}
END_TEST

START_TEST(ring_size)
{
	ck_assert_int_eq(PARSE("--ring-size", "4"), CFG_OK);
	ck_assert_uint_eq(c.ring_size, 4);
	ck_assert_int_eq(PARSE("--ring-size", "1048576"), CFG_OK);
	ck_assert_uint_eq(c.ring_size, 1048576);
	REJECT("power of two", "--ring-size", "1000");
	ck_assert_ptr_nonnull(strstr(err, "--ring-size"));
	ck_assert_ptr_nonnull(strstr(err, "1024"));      /* the suggestion */
	REJECT("power of two", "--ring-size", "6");
	REJECT("--ring-size", "--ring-size", "2");
	REJECT("--ring-size", "--ring-size", "0");
	REJECT("--ring-size", "--ring-size", "2097152");
}
END_TEST

START_TEST(listen_forms)
{
	char host[64];
	uint16_t port = 1;

	ck_assert_int_eq(cfg_parse_listen("127.0.0.1:0", host, sizeof(host), &port), 0);
	ck_assert_str_eq(host, "127.0.0.1");
	ck_assert_uint_eq(port, 0);
	ck_assert_int_eq(cfg_parse_listen("[::1]:8080", host, sizeof(host), &port), 0);
	ck_assert_str_eq(host, "::1");
	ck_assert_uint_eq(port, 8080);
	ck_assert_int_eq(cfg_parse_listen(":9000", host, sizeof(host), &port), 0);
	ck_assert_str_eq(host, "0.0.0.0");
	ck_assert_uint_eq(port, 9000);
	ck_assert_int_eq(cfg_parse_listen("localhost:65535", host, sizeof(host), &port), 0);
	ck_assert_str_eq(host, "localhost");
	ck_assert_uint_eq(port, 65535);
	ck_assert_int_eq(cfg_parse_listen("[fe80::1%eth0]:1", host, sizeof(host), &port), 0);
	ck_assert_str_eq(host, "fe80::1%eth0");

	static const char *const bad[] = {
		"127.0.0.1", "127.0.0.1:", "127.0.0.1:70000", "127.0.0.1:65536",
		"127.0.0.1:-1", "127.0.0.1:+80", "127.0.0.1:80x", "127.0.0.1: 80",
		"[::1]8080", "[::1]", "[::1:8080", "[::1]:", "", ":", "8080",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		port = 4242;
		strcpy(host, "unchanged");
		ck_assert_msg(cfg_parse_listen(bad[i], host, sizeof(host), &port) == -EINVAL,
			      "'%s' accepted", bad[i]);
		ck_assert_uint_eq(port, 4242);
		ck_assert_str_eq(host, "unchanged");
	}
	/* host longer than the buffer */
	ck_assert_int_eq(cfg_parse_listen("abcdefghij:80", host, 10, &port), -EINVAL);
	ck_assert_int_eq(cfg_parse_listen("abcdefghi:80", host, 10, &port), 0);
	ck_assert_str_eq(host, "abcdefghi");

	/* through cfg_parse */
	ck_assert_int_eq(PARSE("--listen", "127.0.0.1:0"), CFG_OK);
	ck_assert_uint_eq(c.listen.addr[0].port, 0);
	REJECT("--listen", "--listen", "127.0.0.1");
	REJECT("'127.0.0.1:70000'", "--listen", "127.0.0.1:70000");
	REJECT("--listen", "--listen", "[::1]8080");
}
END_TEST

START_TEST(cpu_lists)
{
	cpu_set_t set;

	ck_assert_int_eq(cfg_parse_cpus("0-3,6", &set), 0);
	ck_assert_int_eq(CPU_COUNT(&set), 5);
	for (int i = 0; i < 8; i++)
		ck_assert_int_eq(CPU_ISSET(i, &set) != 0, i <= 3 || i == 6);
	ck_assert_int_eq(cfg_parse_cpus("5", &set), 0);
	ck_assert_int_eq(CPU_COUNT(&set), 1);
	ck_assert(CPU_ISSET(5, &set));
	ck_assert_int_eq(cfg_parse_cpus("2-2,0", &set), 0);
	ck_assert_int_eq(CPU_COUNT(&set), 2);
	ck_assert_int_eq(cfg_parse_cpus("1,1,1", &set), 0);
	ck_assert_int_eq(CPU_COUNT(&set), 1);
	ck_assert_int_eq(cfg_parse_cpus("1023", &set), 0);
	ck_assert(CPU_ISSET(1023, &set));

	static const char *const bad[] = {
		"", ",", "a", "-1", "1-", "3-1", "0,,1", ",0", "1-2-3", "0 1",
		"0;1", "1024", "0-1024", "99999999999999999999999", "0x1", "1,a",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(cfg_parse_cpus(bad[i], &set) == -EINVAL,
			      "'%s' accepted", bad[i]);

	ck_assert_int_eq(PARSE("--cpus", "0-3,6"), CFG_OK);
	ck_assert(c.cpus.given);
	ck_assert_int_eq(CPU_COUNT(&c.cpus.set), 5);
	REJECT("--cpus", "--cpus", "3-1");
	REJECT("'x'", "--cpus", "x");
}
END_TEST

START_TEST(unknown_and_missing)
{
	REJECT("--bogus", "--bogus");
	REJECT("--bogus=1", "--bogus=1");
	REJECT("-x", "-x");
	REJECT("-x", "-w", "2", "-x");
	REJECT("--listen", "--listen");
	REJECT("--workers", "--workers");
	REJECT("-w", "-w");
	REJECT("-l", "-l");
	REJECT("--cpus", "--no-pin", "--cpus");
	REJECT("--ring-size", "--ring-size");
	REJECT("--log-level", "--log-level");
	/* a flag that takes no value refuses one */
	REJECT("--no-pin", "--no-pin=1");
}
END_TEST

/* The flag in an unknown-option message must be the one typed, even inside
 * a cluster of short options ("-zq" used to report 'metricd', argv[0]). */
START_TEST(regression_unknown_short_option_in_cluster)
{
	REJECT("-z", "-zq");
	ck_assert_ptr_null(strstr(err, "'metricd'"));
}
END_TEST

START_TEST(positional_rejected)
{
	REJECT("extra", "extra");
	/* getopt_long permutes: the stray word is still found */
	REJECT("stray", "-w", "2", "stray", "--no-pin");
	REJECT("'-'", "-");
	/* after "--" everything is positional */
	REJECT("--workers", "--", "--workers");
}
END_TEST

START_TEST(help_and_version)
{
	int rc;
	const char *out;

	out = parse_captured((const char *const[]){ "--help", NULL }, &rc);
	ck_assert_int_eq(rc, CFG_EXIT);
	ck_assert_ptr_nonnull(strstr(out, "Usage: metricd"));
	ck_assert_ptr_nonnull(strstr(out, "--ring-size"));
	out = parse_captured((const char *const[]){ "-h", NULL }, &rc);
	ck_assert_int_eq(rc, CFG_EXIT);
	ck_assert_ptr_nonnull(strstr(out, "Usage: metricd"));
	out = parse_captured((const char *const[]){ "--version", NULL }, &rc);
	ck_assert_int_eq(rc, CFG_EXIT);
	ck_assert_str_eq(out, "metricd " PACKAGE_VERSION "\n");
	out = parse_captured((const char *const[]){ "-V", NULL }, &rc);
	ck_assert_int_eq(rc, CFG_EXIT);
	ck_assert_str_eq(out, "metricd " PACKAGE_VERSION "\n");
	/* --help wins over a later bad flag: it is handled as it is seen */
	out = parse_captured((const char *const[]){ "--help", "--bogus", NULL }, &rc);
	ck_assert_int_eq(rc, CFG_EXIT);
	/* a bad flag before --help is reported instead */
	out = parse_captured((const char *const[]){ "--bogus", "--help", NULL }, &rc);
	ck_assert_int_eq(rc, -EINVAL);
	ck_assert_str_eq(out, "");
}
END_TEST

/* --listen given again adds an address (the first one given replaces the
 * default); the shard options. */
START_TEST(several_listens_and_shards)
{
	ck_assert_int_eq(PARSE("--listen", "127.0.0.1:81", "-l", "[::1]:82",
			       "--listen=:83", "--reuseport", "--acceptors", "2",
			       "--acceptor-cpu", "0,4"), CFG_OK);
	ck_assert_uint_eq(c.listen.n, 3);
	ck_assert_str_eq(c.listen.addr[0].host, "127.0.0.1");
	ck_assert_uint_eq(c.listen.addr[0].port, 81);
	ck_assert_str_eq(c.listen.addr[1].host, "::1");
	ck_assert_uint_eq(c.listen.addr[1].port, 82);
	ck_assert_str_eq(c.listen.addr[2].host, "0.0.0.0");
	ck_assert_uint_eq(c.listen.addr[2].port, 83);
	ck_assert(c.reuseport);
	ck_assert_uint_eq(c.acceptors, 2);
	ck_assert(c.acceptor_cpu.given);
	ck_assert_int_eq(CPU_COUNT(&c.acceptor_cpu.set), 2);
	ck_assert(CPU_ISSET(0, &c.acceptor_cpu.set) && CPU_ISSET(4, &c.acceptor_cpu.set));
	/* at most CFG_MAX_LISTEN */
	const char *args[2 * CFG_MAX_LISTEN + 3];
	char addrs[CFG_MAX_LISTEN + 1][24];
	unsigned n = 0;

	for (unsigned i = 0; i <= CFG_MAX_LISTEN; i++) {
		snprintf(addrs[i], sizeof(addrs[i]), "127.0.0.1:%u", 1000 + i);
		args[n++] = "--listen";
		args[n++] = addrs[i];
	}
	args[n] = NULL;
	ck_assert_int_eq(parse_v(args), -EINVAL);
	ck_assert_msg(strstr(err, "at most 16") != NULL, "%s", err);
	REJECT("--acceptors", "--acceptors", "0");
	REJECT("--acceptors", "--acceptors", "65");
	REJECT("--acceptor-cpu", "--acceptor-cpu", "x");
}
END_TEST

START_TEST(usage_to_fd)
{
	int fds[2];
	char buf[8192];
	ssize_t n;

	ck_assert_int_eq(pipe(fds), 0);
	cfg_print_usage(fds[1]);
	close(fds[1]);
	n = read(fds[0], buf, sizeof(buf) - 1);
	close(fds[0]);
	ck_assert_int_gt(n, 0);
	buf[n] = '\0';
	ck_assert_ptr_nonnull(strstr(buf, "--listen"));
	ck_assert_ptr_nonnull(strstr(buf, "--cpus"));
}
END_TEST

/* cfg_parse resets getopt itself, so it can run again (tests, a reload).
 * glibc keeps its position inside a cluster of short options across calls
 * unless optind is set to 0; optind = 1 leaves that state behind, and the
 * next parse continues inside the OLD argv. */
START_TEST(regression_parse_twice_after_cluster)
{
	ck_assert_int_eq(PARSE("-zq"), -EINVAL);
	ck_assert_int_eq(PARSE("-w", "3"), CFG_OK);
	ck_assert_uint_eq(c.workers, 3);
}
END_TEST

START_TEST(parse_twice)
{
	REJECT("--bogus", "--bogus");
	ck_assert_int_eq(PARSE("--workers", "3"), CFG_OK);
	ck_assert_uint_eq(c.workers, 3);
	REJECT("--workers", "-w", "0");
	ck_assert_int_eq(PARSE("-w", "4", "--no-pin"), CFG_OK);
	ck_assert_uint_eq(c.workers, 4);
	ck_assert(c.no_pin);
}
END_TEST

START_TEST(check_config)
{
	ck_assert_int_eq(PARSE("-t"), CFG_CHECK);
	ck_assert_int_eq(PARSE("--check-config", "-w", "2"), CFG_CHECK);
	ck_assert_uint_eq(c.workers, 2);
	ck_assert_int_eq(PARSE("-tw", "3"), CFG_CHECK);
	ck_assert_uint_eq(c.workers, 3);
	/* a bad flag is the test's answer, whichever comes first */
	REJECT("--bogus", "-t", "--bogus");
	REJECT("--workers", "--workers", "0", "-t");
	REJECT("check-config", "--check-config=yes");
}
END_TEST

static Suite *cfg_suite(void)
{
	Suite *s = suite_create("cfg");
	TCase *tc = tcase_create("cfg");

	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, defaults);
	tcase_add_test(tc, every_flag);
	tcase_add_test(tc, numeric_ranges);
	tcase_add_test(tc, ring_size);
	tcase_add_test(tc, listen_forms);
	tcase_add_test(tc, cpu_lists);
	tcase_add_test(tc, unknown_and_missing);
	tcase_add_test(tc, regression_unknown_short_option_in_cluster);
	tcase_add_test(tc, positional_rejected);
	tcase_add_test(tc, help_and_version);
	tcase_add_test(tc, several_listens_and_shards);
	tcase_add_test(tc, usage_to_fd);
	tcase_add_test(tc, parse_twice);
	tcase_add_test(tc, regression_parse_twice_after_cluster);
	tcase_add_test(tc, check_config);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(cfg_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
