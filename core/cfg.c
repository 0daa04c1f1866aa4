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

#include "core/cfg.h"

static const char usage_text[] =
"Usage: metricd [OPTION]...\n"
"An HTTP/1.1 worker-pool server that makes the cost of the heap visible.\n"
"\n"
"Endpoints: /metric-stack?id=N  /metric-heap?id=N  (optional &work=K)\n"
"           /stats-value?id=N   /stats-pointer?id=N  /healthz\n"
"\n"
"  -l, --listen HOST:PORT     address to listen on (default 127.0.0.1:8080;\n"
"                             port 0 picks a free port; [::1]:PORT for IPv6)\n"
"  -w, --workers N            worker threads (default: one per allowed CPU,\n"
"                             less one for the acceptor thread)\n"
"      --cpus LIST            CPUs to pin workers to, in order, e.g. 0-3,6\n"
"                             (default: the process's affinity mask)\n"
"      --no-pin               do not pin workers to CPUs\n"
"      --ring-size N          requests queued per worker, a power of two\n"
"                             from 4 to 1048576 (default 1024)\n"
"      --max-conns N          open connections at most (default 10240)\n"
"      --max-header-bytes N   request head limit; larger heads get 431\n"
"                             (default 8192, 256..1048576)\n"
"      --max-body-bytes N     request body limit (bodies are read and\n"
"                             discarded); larger ones get 413 (default\n"
"                             1048576, 0..1073741824)\n"
"      --max-pipeline N       requests in flight per connection before the\n"
"                             server stops reading it (default 64)\n"
"      --spin-us N            microseconds an idle worker polls its queue\n"
"                             before sleeping (0 = sleep at once; default 50\n"
"                             when workers + acceptor fit the CPUs, else 0)\n"
"      --header-timeout MS    a request head must arrive within MS of its\n"
"                             first byte, else 408 and close (default 10000;\n"
"                             0 = no limit)\n"
"      --idle-timeout MS      close keep-alive connections idle this long\n"
"                             (default 60000; 0 = never)\n"
"      --send-timeout MS      close a connection whose unsent answers make\n"
"                             no progress this long (default 60000; 0 = never)\n"
"      --max-unsent-bytes N   unsent answer bytes per connection before the\n"
"                             server stops working on its requests until the\n"
"                             client reads (default 262144)\n"
"      --shutdown-timeout MS  on SIGTERM, how long to wait for busy\n"
"                             connections (default 10000)\n"
"      --log-level LEVEL      error, warn, info or debug (default info)\n"
"      --access-log FILE      one line per request to FILE ('-' = stderr);\n"
"                             reopened on SIGHUP (default: none)\n"
"      --server-header TEXT   the Server header (default metricd/VERSION)\n"
"      --config FILE          key = value lines, keys are these long flag\n"
"                             names; flags given here override the file\n"
"                             (default /etc/metricd/metricd.conf if it exists)\n"
"  -h, --help                 show this help and exit\n"
"  -V, --version              show the version and exit\n"
"\n"
"Signals: SIGINT/SIGTERM stop accepting, answer every request already\n"
"received (past --shutdown-timeout the rest get 503), then exit 0.  SIGHUP\n"
"re-reads the config file; log-level, spin-us, header-timeout,\n"
"idle-timeout, send-timeout, shutdown-timeout, access-log and\n"
"server-header change live, the others need a restart.\n";

void cfg_print_usage(int fd)
{
	ssize_t w = write(fd, usage_text, sizeof(usage_text) - 1);
	(void)w;
}

void cfg_defaults(struct cfg *c)
{
	memset(c, 0, sizeof(*c));
	strcpy(c->listen_host, "127.0.0.1");
	c->listen_port = 8080;
	c->ring_size = 1024;
	c->max_conns = 10240;
	c->spin_us = -1;
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

static int fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
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

int cfg_check_system(const struct cfg *c, char *err, size_t errlen)
{
	cpu_set_t allowed;

	if (c->cpus_given && !c->no_pin &&
	    sched_getaffinity(0, sizeof(allowed), &allowed) == 0) {
		for (int i = 0; i < CPU_SETSIZE; i++)
			if (CPU_ISSET(i, &c->cpus) && !CPU_ISSET(i, &allowed))
				return fail(err, errlen, "--cpus: CPU %d does not exist "
					    "or this process may not run on it (%d allowed)",
					    i, CPU_COUNT(&allowed));
	}
	if (c->access_log[0] && strcmp(c->access_log, "-") != 0) {
		int fd = open(c->access_log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
			      0640);

		if (fd < 0)
			return fail(err, errlen, "--access-log: cannot open '%s': %s",
				    c->access_log, strerror(errno));
		close(fd);
	}
	return 0;
}

void cfg_resolve(struct cfg *c, unsigned ncpus)
{
	if (ncpus == 0)
		ncpus = 1;
	if (c->workers == 0)
		c->workers = ncpus > 1 ? ncpus - 1 : 1;
	if (c->workers > CFG_MAX_WORKERS)
		c->workers = CFG_MAX_WORKERS;
	if (c->spin_us < 0)
		c->spin_us = c->workers + 1 <= ncpus ? 50 : 0;
}

/* ---- options by name ------------------------------------------------------
 *
 * One table drives the command line, the config file (keys are the long
 * flag names) and reload: each entry parses its value into struct cfg. */

enum opt_kind { O_UINT, O_FLAG, O_FUNC };

struct cfg_option {
	const char *name;
	int short_name;
	enum opt_kind kind;
	bool runtime;              /* may change on SIGHUP */
	size_t off;                /* O_UINT: the unsigned field */
	unsigned long min, max;
	const char *what;          /* O_FUNC: what a good value looks like */
	int (*set)(struct cfg *c, const char *v);
};

#define FIELD(f) offsetof(struct cfg, f)

static int set_listen(struct cfg *c, const char *v)
{
	return cfg_parse_listen(v, c->listen_host, sizeof(c->listen_host),
				&c->listen_port);
}

static int set_cpus(struct cfg *c, const char *v)
{
	c->cpus_given = true;
	return cfg_parse_cpus(v, &c->cpus);
}

static int set_ring_size(struct cfg *c, const char *v)
{
	unsigned long n;

	if (parse_uint(v, 4, 1u << 20, &n) || (n & (n - 1)))
		return -EINVAL;
	c->ring_size = (unsigned)n;
	return 0;
}

static int set_spin_us(struct cfg *c, const char *v)
{
	unsigned long n;

	if (parse_uint(v, 0, 1000000, &n))
		return -EINVAL;
	c->spin_us = (int)n;
	return 0;
}

static int set_log_level(struct cfg *c, const char *v)
{
	return log_level_parse(v, &c->log_level);
}

static int set_string(char *dst, size_t cap, const char *v, bool allow_empty)
{
	size_t n = strlen(v);

	if (n >= cap || (!allow_empty && n == 0))
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
			return -EINVAL;          /* no CR/LF into headers or paths */
	memcpy(dst, v, n + 1);
	return 0;
}

static int set_access_log(struct cfg *c, const char *v)
{
	return set_string(c->access_log, sizeof(c->access_log), v, true);
}

static int set_server_header(struct cfg *c, const char *v)
{
	return set_string(c->server_header, sizeof(c->server_header), v, false);
}

static int set_config(struct cfg *c, const char *v)
{
	return set_string(c->config_path, sizeof(c->config_path), v, false);
}

static const struct cfg_option options[] = {
	{ "listen", 'l', O_FUNC, false, 0, 0, 0,
	  "HOST:PORT (port 0-65535; IPv6 as [::1]:PORT)", set_listen },
	{ "workers", 'w', O_UINT, false, FIELD(workers), 1, CFG_MAX_WORKERS, NULL, NULL },
	{ "cpus", 0, O_FUNC, false, 0, 0, 0, "a CPU list such as 0-3,6", set_cpus },
	{ "no-pin", 0, O_FLAG, false, FIELD(no_pin), 0, 0, NULL, NULL },
	{ "ring-size", 0, O_FUNC, false, 0, 0, 0,
	  "a power of two from 4 to 1048576", set_ring_size },
	{ "max-conns", 0, O_UINT, false, FIELD(max_conns), 1, 1u << 20, NULL, NULL },
	{ "max-header-bytes", 0, O_UINT, false, FIELD(max_header_bytes), 256, 1u << 20, NULL, NULL },
	{ "max-body-bytes", 0, O_UINT, false, FIELD(max_body_bytes), 0, 1u << 30, NULL, NULL },
	{ "max-pipeline", 0, O_UINT, false, FIELD(max_pipeline), 1, 4096, NULL, NULL },
	{ "max-unsent-bytes", 0, O_UINT, false, FIELD(max_unsent_bytes), 16384, 1u << 30, NULL, NULL },
	{ "spin-us", 0, O_FUNC, true, 0, 0, 0, "a whole number from 0 to 1000000",
	  set_spin_us },
	{ "header-timeout", 0, O_UINT, true, FIELD(header_timeout_ms), 0, 3600000, NULL, NULL },
	{ "idle-timeout", 0, O_UINT, true, FIELD(idle_timeout_ms), 0, 86400000, NULL, NULL },
	{ "send-timeout", 0, O_UINT, true, FIELD(send_timeout_ms), 0, 3600000, NULL, NULL },
	{ "shutdown-timeout", 0, O_UINT, true, FIELD(shutdown_timeout_ms), 0, 3600000, NULL, NULL },
	{ "log-level", 0, O_FUNC, true, 0, 0, 0, "one of error, warn, info, debug",
	  set_log_level },
	{ "access-log", 0, O_FUNC, true, 0, 0, 0,
	  "a file path, '-' for stderr, or empty for none", set_access_log },
	{ "server-header", 0, O_FUNC, true, 0, 0, 0,
	  "1 to 63 printable characters", set_server_header },
	{ "config", 0, O_FUNC, false, 0, 0, 0, "a file path", set_config },
};

#define NOPTIONS (sizeof(options) / sizeof(options[0]))

static const struct cfg_option *find(const char *name)
{
	for (size_t i = 0; i < NOPTIONS; i++)
		if (strcmp(options[i].name, name) == 0)
			return &options[i];
	return NULL;
}

bool cfg_is_key(const char *name)
{
	return find(name) != NULL;
}

bool cfg_is_runtime(const char *name)
{
	const struct cfg_option *o = find(name);

	return o && o->runtime;
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
		return fail(err, errlen, "unknown key '%s'", name);
	switch (o->kind) {
	case O_FLAG: {
		bool b = true;

		if (value && parse_bool(value, &b))
			return fail(err, errlen, "%s: '%s' is not true or false", name, value);
		*(bool *)((char *)c + o->off) = b;
		return 0;
	}
	case O_UINT:
		if (!value || parse_uint(value, o->min, o->max, &n))
			return fail(err, errlen, "%s: '%s' is not a whole number from %lu to %lu",
				    name, value ? value : "", o->min, o->max);
		*(unsigned *)((char *)c + o->off) = (unsigned)n;
		return 0;
	case O_FUNC:
		if (value && o->set(c, value) == 0)
			return 0;
		if (value && o->set == set_ring_size &&
		    parse_uint(value, 5, 1u << 20, &n) == 0)
			return fail(err, errlen, "%s: %lu is not a power of two (try %u)",
				    name, n, 1u << (64 - __builtin_clzl(n)));
		return fail(err, errlen, "%s: '%s' is not %s", name,
			    value ? value : "", o->what);
	}
	return -EINVAL;
}

int cfg_parse(struct cfg *c, int argc, char **argv, char *err, size_t errlen)
{
	struct option longs[NOPTIONS + 3];
	char shorts[64] = ":hV";
	size_t ns = 3;
	int opt, idx, rc = 0;

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
	longs[NOPTIONS + 2] = (struct option){ NULL, 0, NULL, 0 };

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
				rc = fail(err, errlen, "--%s", msg);
			continue;
		}
		switch (opt) {
		case 'h':
			cfg_print_usage(STDOUT_FILENO);
			return CFG_EXIT;
		case 'V':
			printf("metricd %s\n", PACKAGE_VERSION);
			return CFG_EXIT;
		case ':':
			rc = fail(err, errlen, "option '%s' needs a value",
				  argv[optind - 1]);
			break;
		default:
			if (optopt && strncmp(argv[optind - 1], "--", 2) != 0)
				rc = fail(err, errlen, "unknown option '-%c'", optopt);
			else
				rc = fail(err, errlen, "unknown option '%s'",
					  argv[optind - 1]);
			break;
		}
	}
	if (rc == 0 && optind < argc)
		rc = fail(err, errlen, "unexpected argument '%s'", argv[optind]);
	return rc;
}
