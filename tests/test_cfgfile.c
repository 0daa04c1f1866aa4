/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests for core/cfgfile.c: the config file (key = value lines whose
 * keys are the long flag names) and how it combines with the command line. */
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

static struct cfg c;
static char err[512];
static char path[64];

/* Writes text to a fresh temporary file (its name in `path`). */
static void write_file(const char *text, size_t len)
{
	int fd;

	snprintf(path, sizeof(path), "/tmp/metricd-cfgfile-XXXXXX");
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, len), (ssize_t)len);
	close(fd);
}

/* Loads text as a config file over the defaults. */
static int load(const char *text)
{
	int rc;

	write_file(text, strlen(text));
	cfg_defaults(&c);
	memset(err, 0, sizeof(err));
	rc = cfg_load_file(&c, path, err, sizeof(err));
	unlink(path);
	return rc;
}

/* The error names the file and the line, then what is wrong. */
#define REJECT_AT(text, line, needle) do { \
	char where_[80]; \
	ck_assert_int_eq(load(text), -EINVAL); \
	snprintf(where_, sizeof(where_), "%s:%d: ", path, line); \
	ck_assert_msg(strncmp(err, where_, strlen(where_)) == 0, \
		      "'%s' does not start with '%s'", err, where_); \
	ck_assert_msg(strstr(err, needle) != NULL, "'%s' lacks '%s'", err, needle); \
} while (0)

START_TEST(keys_values_and_blank_lines)
{
	ck_assert_int_eq(load("\n"
			      "workers = 3\n"
			      "   \t\n"
			      "listen=[::1]:9000\n"
			      "\tmax-pipeline\t=\t7 \t\r\n"
			      "server-header = my server/1.0\n"
			      "log-level = debug"), 0);       /* no final newline */
	ck_assert_uint_eq(c.workers, 3);
	ck_assert_str_eq(c.listen.addr[0].host, "::1");
	ck_assert_uint_eq(c.listen.addr[0].port, 9000);
	ck_assert_uint_eq(c.max_pipeline, 7);
	ck_assert_str_eq(c.server_header, "my server/1.0");
	ck_assert_int_eq(c.log_level, LOG_LVL_DEBUG);
}
END_TEST

START_TEST(comments)
{
	ck_assert_int_eq(load("# a whole line\n"
			      "  # indented\n"
			      "workers = 2 # after whitespace\n"
			      "server-header = a#b\n"            /* no space: kept */
			      "access-log = /tmp/x\t# after a tab\n"), 0);
	ck_assert_uint_eq(c.workers, 2);
	ck_assert_str_eq(c.server_header, "a#b");
	ck_assert_str_eq(c.access_log, "/tmp/x");
}
END_TEST

START_TEST(quotes)
{
	ck_assert_int_eq(load("server-header = \"  padded  \"\n"), 0);
	ck_assert_str_eq(c.server_header, "  padded  ");
	ck_assert_int_eq(load("server-header = \"x # not a comment\" # one\n"), 0);
	ck_assert_str_eq(c.server_header, "x # not a comment");
	/* An empty quoted value: the access log turned off. */
	ck_assert_int_eq(load("access-log = /tmp/a\naccess-log = \"\"\n"), 0);
	ck_assert_str_eq(c.access_log, "");
	/* A lone quote is kept as it is. */
	ck_assert_int_eq(load("server-header = \"\n"), 0);
	ck_assert_str_eq(c.server_header, "\"");
}
END_TEST

START_TEST(flags_take_booleans)
{
	static const char *const yes[] = { "true", "YES", "on", "1" };
	static const char *const no[] = { "false", "No", "OFF", "0" };
	char text[64];

	for (int i = 0; i < 4; i++) {
		snprintf(text, sizeof(text), "no-pin = %s\n", yes[i]);
		ck_assert_int_eq(load(text), 0);
		ck_assert_msg(c.no_pin, "%s", yes[i]);
		snprintf(text, sizeof(text), "no-pin = %s\n", no[i]);
		ck_assert_int_eq(load(text), 0);
		ck_assert_msg(!c.no_pin, "%s", no[i]);
	}
	REJECT_AT("workers = 1\nno-pin = maybe\n", 2, "no-pin: 'maybe' is not true or false");
}
END_TEST

START_TEST(errors_name_file_and_line)
{
	REJECT_AT("workers = 2\n\n# c\nbogus-key = 1\n", 4, "unknown key 'bogus-key'");
	REJECT_AT("workers\n", 1, "expected 'key = value', got 'workers'");
	REJECT_AT("workers = 0\n", 1, "workers: '0' is not a whole number from 1 to 256");
	REJECT_AT("a = 1 # unknown\n", 1, "unknown key 'a'");
	REJECT_AT("ring-size = 1000\n", 1, "ring-size: 1000 is not a power of two (try 1024)");
	REJECT_AT("listen = nowhere\n", 1, "listen: 'nowhere' is not HOST:PORT");
	REJECT_AT("config = /etc/other.conf\n", 1, "config: a config file cannot name another");
	REJECT_AT("log-level = loud\n", 1, "log-level: 'loud' is not one of error, warn, info, debug");
	/* No control bytes into a header. */
	REJECT_AT("server-header = a\tb\n", 1, "server-header: 'a\tb' is not 1 to 63 printable characters");
	/* Processing stops at the first error: the line after it is not read. */
	REJECT_AT("bogus = 1\nworkers = 9\n", 1, "unknown key");
	ck_assert_uint_eq(c.workers, 0);
}
END_TEST

START_TEST(long_lines)
{
	/* The longest line there is room for (4094 bytes and its newline),
	 * then one byte more. */
	size_t max = 4094;
	char *text = malloc(max + 64);
	int n = snprintf(text, max + 64, "server-header = x");

	memset(text + n, ' ', max - (size_t)n);         /* trailing blanks: trimmed */
	strcpy(text + max, "\nworkers = 5\n");
	ck_assert_int_eq(load(text), 0);
	ck_assert_str_eq(c.server_header, "x");
	ck_assert_uint_eq(c.workers, 5);

	memset(text + n, ' ', max + 1 - (size_t)n);
	strcpy(text + max + 1, "\nworkers = 5\n");
	REJECT_AT(text, 1, "line is longer than 4094 bytes");
	free(text);
}
END_TEST

START_TEST(file_errors)
{
	cfg_defaults(&c);
	ck_assert_int_eq(cfg_load_file(&c, "/nonexistent/metricd.conf", err, sizeof(err)),
			 -ENOENT);
	ck_assert_str_eq(err, "/nonexistent/metricd.conf: No such file or directory");
	/* A directory opens but cannot be read. */
	ck_assert_int_eq(cfg_load_file(&c, "/tmp", err, sizeof(err)), -EIO);
	ck_assert_str_eq(err, "/tmp: read error");
}
END_TEST

/* Runs cfg_build on "metricd" + args. */
static int build_v(const char *const *args)
{
	char *argv[16];
	int argc = 0;

	argv[argc++] = (char *)(uintptr_t)"metricd";
	for (; *args; args++)
		argv[argc++] = (char *)(uintptr_t)*args;
	argv[argc] = NULL;
	memset(err, 0, sizeof(err));
	return cfg_build(&c, argc, argv, err, sizeof(err));
}

#define BUILD(...) build_v((const char *const[]){ __VA_ARGS__, NULL })

START_TEST(command_line_wins_over_the_file)
{
	static const char text[] = "workers = 3\nmax-pipeline = 9\nserver-header = file\n";

	write_file(text, sizeof(text) - 1);
	ck_assert_int_eq(BUILD("--config", path, "--workers", "5"), CFG_OK);
	ck_assert_uint_eq(c.workers, 5);                  /* the flag */
	ck_assert_uint_eq(c.max_pipeline, 9);             /* the file */
	ck_assert_str_eq(c.server_header, "file");
	ck_assert_str_eq(c.config_path, path);
	/* Flags are checked before the file is read. */
	ck_assert_int_eq(BUILD("--config", path, "--workers", "x"), -EINVAL);
	ck_assert_msg(strstr(err, "--workers") != NULL, "%s", err);
	unlink(path);
	/* A file that cannot be read fails the build with its message. */
	ck_assert_int_eq(BUILD("--config", path), -EINVAL);
	ck_assert_msg(strstr(err, "No such file") != NULL, "%s", err);
	/* --help needs no file. */
	int saved = dup(STDOUT_FILENO), null = open("/dev/null", O_WRONLY);

	dup2(null, STDOUT_FILENO);
	int rc = BUILD("--config", "/nonexistent", "--help");
	dup2(saved, STDOUT_FILENO);
	close(null);
	close(saved);
	ck_assert_int_eq(rc, CFG_EXIT);
}
END_TEST

/* listen = lines add up; the command line's --listen replaces them all. */
START_TEST(listen_lines_add_up)
{
	static const char text[] = "listen = 127.0.0.1:81\nlisten = [::1]:82\n";

	write_file(text, sizeof(text) - 1);
	ck_assert_int_eq(BUILD("--config", path), CFG_OK);
	ck_assert_uint_eq(c.listen.n, 2);
	ck_assert_uint_eq(c.listen.addr[0].port, 81);
	ck_assert_str_eq(c.listen.addr[1].host, "::1");
	ck_assert_uint_eq(c.listen.addr[1].port, 82);
	ck_assert_int_eq(BUILD("--config", path, "--listen", "127.0.0.1:90",
			       "--listen", "127.0.0.2:91"), CFG_OK);
	ck_assert_uint_eq(c.listen.n, 2);
	ck_assert_uint_eq(c.listen.addr[0].port, 90);
	ck_assert_str_eq(c.listen.addr[1].host, "127.0.0.2");
	/* The same file and flags build the same field (a reload compares it
	 * byte for byte). */
	static struct cfg again;

	again = c;
	ck_assert_int_eq(BUILD("--config", path, "--listen", "127.0.0.1:90",
			       "--listen", "127.0.0.2:91"), CFG_OK);
	ck_assert_int_eq(memcmp(&again.listen, &c.listen, sizeof(c.listen)), 0);
	unlink(path);
}
END_TEST

START_TEST(without_config_the_default_file_if_any)
{
	int rc = BUILD("--workers", "2");

	if (access(CFG_DEFAULT_FILE, F_OK) == 0)
		return;         /* this machine has one; what it says is not ours */
	ck_assert_int_eq(rc, CFG_OK);
	ck_assert_str_eq(c.config_path, "");
	ck_assert_uint_eq(c.workers, 2);
	ck_assert_uint_eq(c.max_pipeline, 64);
}
END_TEST

static Suite *cfgfile_suite(void)
{
	Suite *s = suite_create("cfgfile");
	TCase *tc = tcase_create("file");

	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, keys_values_and_blank_lines);
	tcase_add_test(tc, comments);
	tcase_add_test(tc, quotes);
	tcase_add_test(tc, flags_take_booleans);
	tcase_add_test(tc, errors_name_file_and_line);
	tcase_add_test(tc, long_lines);
	tcase_add_test(tc, file_errors);
	tcase_add_test(tc, command_line_wins_over_the_file);
	tcase_add_test(tc, listen_lines_add_up);
	tcase_add_test(tc, without_config_the_default_file_if_any);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(cfgfile_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
