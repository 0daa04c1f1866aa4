/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/base/log.h"
#include "core/cfg.h"
#include "workers/accesslog.h"

void cfg_defaults(struct cfg *c)
{
	memset(c, 0, sizeof(*c));
	strcpy(c->listen.addr[0].host, "127.0.0.1");
	c->listen.addr[0].port = 8080;
	c->listen.n = 1;
	c->listen.fresh = true;
	c->ring_size = 1024;
	c->max_conns = 10240;
	c->spin_us = 50;
	c->max_header_bytes = 8192;
	c->max_body_bytes = 1u << 20;
	c->max_pipeline = 64;
	c->shutdown_timeout_ms = 10000;
	c->header_timeout_ms = 10000;
	c->idle_timeout_ms = 60000;
	c->send_timeout_ms = 60000;
	c->max_unsent_bytes = 256u << 10;
	c->log_level = LOG_LVL_INFO;
	strcpy(c->server_header, "metricd/" PACKAGE_VERSION);
}


/* Strict unsigned parse: digits only, no sign, no trailing junk. */
static int parse_uint(const char *s, unsigned long min, unsigned long max,
		      unsigned long *out)
{
	char *end;
	unsigned long v;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end != '\0' || v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

int cfg_parse_listen(const char *s, char *host, size_t hostlen, uint16_t *port)
{
	const char *colon;
	size_t hl;
	unsigned long p;

	if (s[0] == '[') {
		const char *rb = strchr(s, ']');

		if (!rb || rb[1] != ':')
			return -EINVAL;
		hl = (size_t)(rb - s - 1);
		s++;
		colon = rb + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return -EINVAL;
		hl = (size_t)(colon - s);
	}
	if (hl >= hostlen)
		return -EINVAL;
	if (parse_uint(colon + 1, 0, 65535, &p))
		return -EINVAL;
	if (hl == 0) {
		strcpy(host, "0.0.0.0");
	} else {
		memcpy(host, s, hl);
		host[hl] = '\0';
	}
	*port = (uint16_t)p;
	return 0;
}

int cfg_parse_cpus(const char *s, cpu_set_t *set)
{
	CPU_ZERO(set);
	while (*s) {
		char *end;
		unsigned long a, b;

		if (*s < '0' || *s > '9')
			return -EINVAL;
		a = strtoul(s, &end, 10);
		b = a;
		if (*end == '-') {
			if (end[1] < '0' || end[1] > '9')
				return -EINVAL;
			b = strtoul(end + 1, &end, 10);
		}
		if (a > b || b >= CPU_SETSIZE)
			return -EINVAL;
		for (unsigned long i = a; i <= b; i++)
			CPU_SET(i, set);
		if (*end == ',')
			end++;
		else if (*end != '\0')
			return -EINVAL;
		s = end;
	}
	return CPU_COUNT(set) > 0 ? 0 : -EINVAL;
}

/* Every CPU of a given list is one this process may run on. */
static int check_cpus(const char *flag, const struct cfg_cpus *cpus, char *err,
		      size_t errlen)
{
	cpu_set_t allowed;

	if (!cpus->given || sched_getaffinity(0, sizeof(allowed), &allowed))
		return 0;
	for (int i = 0; i < CPU_SETSIZE; i++)
		if (CPU_ISSET(i, &cpus->set) && !CPU_ISSET(i, &allowed))
			return log_to_buf(err, errlen, "--%s: CPU %d does not exist "
				    "or this process may not run on it (%d allowed)",
				    flag, i, CPU_COUNT(&allowed));
	return 0;
}

int cfg_check_system(const struct cfg *c, char *err, size_t errlen)
{
	if (!c->no_pin && (check_cpus("cpus", &c->cpus, err, errlen) ||
			   check_cpus("acceptor-cpu", &c->acceptor_cpu, err, errlen)))
		return -EINVAL;
	if (c->access_log[0] && strcmp(c->access_log, "-") != 0) {
		int fd = open(c->access_log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
			      0640);

		if (fd < 0)
			return log_to_buf(err, errlen, "--access-log: cannot open '%s': %s",
				    c->access_log, strerror(errno));
		close(fd);
	}
	return 0;
}

/* ---- options by name ------------------------------------------------------
 *
 * One table drives the command line, the config file (keys are the long
 * flag names), --help, and reload: each row names the one field it sets,
 * whether a reload applies it live, and its help text.  Adding a flag is
 * adding a row (and its field in struct cfg). */

enum opt_kind { O_UINT, O_FLAG, O_FUNC };

struct cfg_option {
	const char *name;
	int short_name;
	enum opt_kind kind;
	bool runtime;              /* a reload (SIGHUP) applies it at once */
	size_t off, size;          /* the field it sets */
	unsigned long min, max;    /* O_UINT */
	int (*set)(void *field, const char *v);   /* O_FUNC */
	const char *what;          /* O_FUNC: what a good value looks like */
	const char *arg;           /* --help: the value's name */
	const char *help;          /* --help: lines separated by '\n' */
};

#define FIELD(f) offsetof(struct cfg, f), sizeof(((struct cfg *)0)->f)

static int set_listen(void *f, const char *v)
{
	struct cfg_listens *l = f;
	struct cfg_listen one = { .port = 0 };   /* every byte: compared on reload */

	if (cfg_parse_listen(v, one.host, sizeof(one.host), &one.port))
		return -EINVAL;
	if (l->fresh) {
		/* Cleared whole: a reload compares the field byte for byte. */
		memset(l->addr, 0, sizeof(l->addr));
		l->n = 0;
		l->fresh = false;
	}
	if (l->n == CFG_MAX_LISTEN)
		return -E2BIG;
	l->addr[l->n++] = one;
	return 0;
}

static int set_cpus(void *f, const char *v)
{
	struct cfg_cpus *c = f;

	c->given = true;
	return cfg_parse_cpus(v, &c->set);
}

static int set_ring_size(void *f, const char *v)
{
	unsigned long n;

	if (parse_uint(v, 4, 1u << 20, &n) || (n & (n - 1)))
		return -EINVAL;
	*(unsigned *)f = (unsigned)n;
	return 0;
}

static int set_spin_us(void *f, const char *v)
{
	unsigned long n;

	if (parse_uint(v, 0, 1000000, &n))
		return -EINVAL;
	*(int *)f = (int)n;
	return 0;
}

static int set_log_level(void *f, const char *v)
{
	return log_level_parse(v, f);
}

/* A string field of cap bytes: no control characters (nothing can put a
 * CR or LF into a header or a path); empty only where allowed. */
static int set_string(char *dst, size_t cap, const char *v, bool allow_empty)
{
	size_t n = strlen(v);

	if (n >= cap || (!allow_empty && n == 0))
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
			return -EINVAL;
	memcpy(dst, v, n + 1);
	return 0;
}

static int set_access_log_format(void *f, const char *v)
{
	if (strcmp(v, "combined") == 0)
		*(int *)f = ALOG_COMBINED;
	else if (strcmp(v, "json") == 0)
		*(int *)f = ALOG_JSON;
	else
		return -EINVAL;
	return 0;
}

static int set_path_or_empty(void *f, const char *v)
{
	return set_string(f, PATH_MAX, v, true);
}

static int set_path(void *f, const char *v)
{
	return set_string(f, PATH_MAX, v, false);
}

static int set_server_header(void *f, const char *v)
{
	return set_string(f, sizeof(((struct cfg *)0)->server_header), v, false);
}

#define UINT(name, field, min, max, rt, arg, help) \
	{ name, 0, O_UINT, rt, FIELD(field), min, max, NULL, NULL, arg, help }
#define FUNC(name, sh, field, set, what, rt, arg, help) \
	{ name, sh, O_FUNC, rt, FIELD(field), 0, 0, set, what, arg, help }

static const struct cfg_option options[] = {
	FUNC("listen", 'l', listen, set_listen,
	     "HOST:PORT (port 0-65535; IPv6 as [::1]:PORT), at most 16 of them",
	     false, "HOST:PORT",
	     "address to listen on; give it again for more\n"
	     "(default 127.0.0.1:8080; port 0 picks a free\n"
	     "port; [::1]:PORT for IPv6)"),
	{ "reuseport", 0, O_FLAG, false, FIELD(reuseport), 0, 0, NULL, NULL, NULL,
	  "SO_REUSEPORT on the listening sockets: another\n"
	  "process (a second instance, an upgrade) may\n"
	  "listen on the same port" },
	{ "workers", 'w', O_UINT, false, FIELD(workers), 1, CFG_MAX_WORKERS, NULL, NULL, "N",
	  "worker threads, spread over the acceptors\n"
	  "(default: one per allowed CPU less one per\n"
	  "acceptor)" },
	{ "acceptors", 0, O_UINT, false, FIELD(acceptors), 1, CFG_MAX_ACCEPTORS, NULL,
	  NULL, "N", "acceptor threads (shards), each with its own\n"
	  "workers and listening sockets (default: one per\n"
	  "4 CPUs of each L3 cache, at least one per cache)" },
	FUNC("cpus", 0, cpus, set_cpus, "a CPU list such as 0-3,6", false, "LIST",
	     "CPUs to run on, in order, e.g. 0-3,6\n"
	     "(default: the process's affinity mask)"),
	FUNC("acceptor-cpu", 0, acceptor_cpu, set_cpus, "a CPU list such as 0 or 0,8",
	     false, "LIST", "the acceptors' CPUs, one per acceptor (default:\n"
	     "its own CPU when one is spare, else its\n"
	     "first worker's)"),
	{ "no-pin", 0, O_FLAG, false, FIELD(no_pin), 0, 0, NULL, NULL, NULL,
	  "do not pin threads to CPUs" },
	FUNC("ring-size", 0, ring_size, set_ring_size, "a power of two from 4 to 1048576",
	     false, "N", "requests queued per worker, a power of two\n"
	     "from 4 to 1048576 (default 1024)"),
	UINT("max-conns", max_conns, 1, 1u << 20, false, "N",
	     "open connections at most (default 10240); more\n"
	     "are accepted and closed at once"),
	UINT("max-header-bytes", max_header_bytes, 256, 1u << 20, false, "N",
	     "request head limit; larger heads get 431\n(default 8192)"),
	UINT("max-body-bytes", max_body_bytes, 0, 1u << 30, false, "N",
	     "request body limit (bodies are read and\n"
	     "discarded); larger ones get 413 (default 1048576)"),
	UINT("max-pipeline", max_pipeline, 1, 4096, false, "N",
	     "requests in flight per connection before the\n"
	     "server stops reading it (default 64)"),
	UINT("max-unsent-bytes", max_unsent_bytes, 16384, 1u << 30, false, "N",
	     "unsent answer bytes per connection before its\n"
	     "next requests wait, uncomputed, until the client\n"
	     "reads (default 262144)"),
	FUNC("spin-us", 0, spin_us, set_spin_us, "a whole number from 0 to 1000000",
	     true, "N", "most microseconds an idle worker polls its\n"
	     "queue before sleeping; only alone on its CPU,\n"
	     "only while it catches work (0 = never; 50)"),
	UINT("header-timeout", header_timeout_ms, 0, 3600000, true, "MS",
	     "a request must arrive within MS of its first\n"
	     "byte, else 408 and close (default 10000; 0 = none)"),
	UINT("idle-timeout", idle_timeout_ms, 0, 86400000, true, "MS",
	     "close keep-alive connections idle this long\n"
	     "(default 60000; 0 = never)"),
	UINT("send-timeout", send_timeout_ms, 0, 3600000, true, "MS",
	     "close a connection whose unsent answers make\n"
	     "no progress this long (default 60000; 0 = never)"),
	UINT("shutdown-timeout", shutdown_timeout_ms, 0, 3600000, true, "MS",
	     "on SIGTERM, how long to wait for busy\n"
	     "connections; then their queued requests get 503\n"
	     "(default 10000)"),
	UINT("drain-delay", drain_delay_ms, 0, 3600000, true, "MS",
	     "on SIGTERM, keep serving for MS but answer\n"
	     "/healthz 503, so a load balancer stops sending\n"
	     "requests before the listener closes (default 0)"),
	FUNC("log-level", 0, log_level, set_log_level, "one of error, warn, info, debug",
	     true, "LEVEL", "error, warn, info or debug (default info)"),
	FUNC("access-log", 0, access_log, set_path_or_empty,
	     "a file path, '-' for stderr, or empty for none", true, "FILE",
	     "one line per request to FILE ('-' = stderr);\n"
	     "reopened on SIGHUP (default: none)"),
	FUNC("access-log-format", 0, access_log_format, set_access_log_format,
	     "combined or json", true, "FORMAT",
	     "combined (nginx's and Apache's combined\n"
	     "format, then the request time in seconds) or\n"
	     "json (an object per line) (default combined)"),
	FUNC("server-header", 0, server_header, set_server_header,
	     "1 to 63 printable characters", true, "TEXT",
	     "the Server header (default metricd/VERSION)"),
	FUNC("config", 0, config_path, set_path, "a file path", false, "FILE",
	     "key = value lines, keys are these long flag\n"
	     "names; flags given here override the file\n"
	     "(default " CFG_DEFAULT_FILE " if it exists)"),
};

#undef UINT
#undef FUNC

#define NOPTIONS (sizeof(options) / sizeof(options[0]))

static const struct cfg_option *find(const char *name)
{
	for (size_t i = 0; i < NOPTIONS; i++)
		if (strcmp(options[i].name, name) == 0)
			return &options[i];
	return NULL;
}

static void *field_of(struct cfg *c, const struct cfg_option *o)
{
	return (char *)c + o->off;
}

unsigned cfg_reload(struct cfg *run, const struct cfg *next,
		    void (*restart)(const char *name))
{
	unsigned applied = 0;

	for (size_t i = 0; i < NOPTIONS; i++) {
		const struct cfg_option *o = &options[i];
		const char *now = (const char *)next + o->off;

		if (memcmp(field_of(run, o), now, o->size) == 0 ||
		    strcmp(o->name, "config") == 0)
			continue;
		if (o->runtime) {
			memcpy(field_of(run, o), now, o->size);
			applied++;
		} else if (restart) {
			restart(o->name);
		}
	}
	return applied;
}

/* Writes --help from the table: the flags, then which ones a reload
 * applies.  Plain write(2)s: nothing here allocates. */
static void put(int fd, const char *s)
{
	size_t n = strlen(s);

	while (n) {
		ssize_t w = write(fd, s, n);

		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

/* One endpoint of the table in --help, lines wrapped at 72 columns. */
static void put_endpoint(int fd, const char *path, bool id, size_t *col)
{
	size_t n = strlen(path) + (id ? 5 : 0) + 2;

	if (path[0] != '/')
		return;                       /* "*": OPTIONS' target, not a path */
	if (*col + n > 72) {
		put(fd, "\n");
		*col = 0;
	}
	put(fd, "  ");
	put(fd, path);
	if (id)
		put(fd, "?id=N");
	*col += n;
}

void cfg_print_usage(int fd)
{
	char line[128];

	size_t col = 0;

	put(fd, "Usage: metricd [OPTION]...\n"
		"An HTTP/1.1 worker-pool server that makes the cost of the heap visible.\n\n"
		"Endpoints (optional &work=K after an id):\n");
#define ID true
#define NO_ID false
#define ROUTE(name, path, id, kind, size, step, handler) \
	put_endpoint(fd, path, id, &col);
#include "http/routes.def"
#undef ROUTE
#undef ID
#undef NO_ID
	put(fd, "\n\n");
	for (size_t i = 0; i < NOPTIONS; i++) {
		const struct cfg_option *o = &options[i];
		const char *h = o->help;
		int n;

		if (o->short_name)
			n = snprintf(line, sizeof(line), "  -%c, --%s%s%s", o->short_name,
				     o->name, o->arg ? " " : "", o->arg ? o->arg : "");
		else
			n = snprintf(line, sizeof(line), "      --%s%s%s", o->name,
				     o->arg ? " " : "", o->arg ? o->arg : "");
		put(fd, line);
		for (bool first = true; *h; first = false) {
			const char *nl = strchr(h, '\n');
			size_t len = nl ? (size_t)(nl - h) : strlen(h);
			int pad = first ? 29 - n : 29;

			if (pad < 1) {
				put(fd, "\n");
				pad = 29;
			}
			snprintf(line, sizeof(line), "%*s%.*s\n", pad, "", (int)len, h);
			put(fd, line);
			h += len + (nl ? 1 : 0);
		}
	}
	put(fd, "  -t, --check-config         check the flags, the config file and what they\n"
		"                             name (CPUs, access log), print the result,\n"
		"                             exit 0 (ok) or 2; starts nothing\n"
		"  -h, --help                 show this help and exit\n"
		"  -V, --version              show the version and exit\n\n"
		"Signals: SIGINT/SIGTERM stop accepting (after --drain-delay), answer\n"
		"every request already received (past --shutdown-timeout the rest\n"
		"get 503), then exit 0.\n"
		"SIGHUP re-reads the config file; these change live, the others\n"
		"need a restart:\n ");
	col = 1;
	for (size_t i = 0; i < NOPTIONS; i++) {
		if (!options[i].runtime)
			continue;
		if (col + strlen(options[i].name) + 2 > 72) {
			put(fd, "\n ");
			col = 1;
		}
		put(fd, " ");
		put(fd, options[i].name);
		col += strlen(options[i].name) + 1;
	}
	put(fd, "\n");
}

/* A boolean in a config file: true/false, yes/no, on/off, 1/0. */
static int parse_bool(const char *v, bool *out)
{
	static const char *const yes[] = { "true", "yes", "on", "1" };
	static const char *const no[] = { "false", "no", "off", "0" };

	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(v, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(v, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -EINVAL;
}

int cfg_set(struct cfg *c, const char *name, const char *value, char *err,
	    size_t errlen)
{
	const struct cfg_option *o = find(name);
	unsigned long n;

	if (!o)
		return log_to_buf(err, errlen, "unknown key '%s'", name);
	switch (o->kind) {
	case O_FLAG: {
		bool b = true;

		if (value && parse_bool(value, &b))
			return log_to_buf(err, errlen, "%s: '%s' is not true or false", name, value);
		*(bool *)field_of(c, o) = b;
		return 0;
	}
	case O_UINT:
		if (!value || parse_uint(value, o->min, o->max, &n))
			return log_to_buf(err, errlen, "%s: '%s' is not a whole number from %lu to %lu",
				    name, value ? value : "", o->min, o->max);
		*(unsigned *)field_of(c, o) = (unsigned)n;
		return 0;
	case O_FUNC:
		if (value && o->set(field_of(c, o), value) == 0)
			return 0;
		if (value && o->set == set_ring_size &&
		    parse_uint(value, 5, 1u << 20, &n) == 0)
			return log_to_buf(err, errlen, "%s: %lu is not a power of two (try %u)",
				    name, n, 1u << (64 - __builtin_clzl(n)));
		return log_to_buf(err, errlen, "%s: '%s' is not %s", name,
			    value ? value : "", o->what);
	}
	return -EINVAL;
}

int cfg_parse(struct cfg *c, int argc, char **argv, char *err, size_t errlen)
{
	struct option longs[NOPTIONS + 4];
	char shorts[64] = ":hVt";
	size_t ns = 4;
	int opt, idx, rc = 0;
	bool check = false;

	for (size_t i = 0; i < NOPTIONS; i++) {
		longs[i] = (struct option){ options[i].name,
			options[i].kind == O_FLAG ? no_argument : required_argument,
			NULL, options[i].short_name ? options[i].short_name : 256 + (int)i };
		if (options[i].short_name) {
			shorts[ns++] = (char)options[i].short_name;
			shorts[ns++] = ':';
		}
	}
	shorts[ns] = '\0';
	longs[NOPTIONS] = (struct option){ "help", no_argument, NULL, 'h' };
	longs[NOPTIONS + 1] = (struct option){ "version", no_argument, NULL, 'V' };
	longs[NOPTIONS + 2] = (struct option){ "check-config", no_argument, NULL, 't' };
	longs[NOPTIONS + 3] = (struct option){ NULL, 0, NULL, 0 };

	optind = 0;     /* glibc: 0 also forgets a half-read option cluster */
	opterr = 0;
	while (rc == 0 && (opt = getopt_long(argc, argv, shorts, longs, &idx)) != -1) {
		const struct cfg_option *o = NULL;

		if (opt >= 256)
			o = &options[opt - 256];
		for (size_t i = 0; !o && opt != '?' && opt != ':' && i < NOPTIONS; i++)
			if (options[i].short_name == opt)
				o = &options[i];
		if (o) {
			char msg[240];

			if (cfg_set(c, o->name, optarg, msg, sizeof(msg)))
				rc = log_to_buf(err, errlen, "--%s", msg);
			continue;
		}
		switch (opt) {
		case 'h':
			cfg_print_usage(STDOUT_FILENO);
			return CFG_EXIT;
		case 'V':
			printf("metricd %s\n", PACKAGE_VERSION);
			return CFG_EXIT;
		case 't':
			check = true;
			break;
		case ':':
			rc = log_to_buf(err, errlen, "option '%s' needs a value",
				  argv[optind - 1]);
			break;
		default:
			if (optopt && strncmp(argv[optind - 1], "--", 2) != 0)
				rc = log_to_buf(err, errlen, "unknown option '-%c'", optopt);
			else
				rc = log_to_buf(err, errlen, "unknown option '%s'",
					  argv[optind - 1]);
			break;
		}
	}
	if (rc == 0 && optind < argc)
		rc = log_to_buf(err, errlen, "unexpected argument '%s'", argv[optind]);
	return rc == 0 && check ? CFG_CHECK : rc;
}
