#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
"      --max-pipeline N       requests in flight per connection before the\n"
"                             server stops reading it (default 64)\n"
"      --spin-us N            microseconds an idle worker polls its queue\n"
"                             before sleeping (0 = sleep at once; default 50\n"
"                             when workers + acceptor fit the CPUs, else 0)\n"
"      --shutdown-timeout MS  on SIGTERM, how long to wait for busy\n"
"                             connections (default 10000)\n"
"      --log-level LEVEL      error, warn, info or debug (default info)\n"
"  -h, --help                 show this help and exit\n"
"  -V, --version              show the version and exit\n"
"\n"
"Signals: SIGINT/SIGTERM stop accepting, answer every request already\n"
"received, then exit 0.\n";

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
	c->max_pipeline = 64;
	c->shutdown_timeout_ms = 10000;
	c->log_level = LOG_LVL_INFO;
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

enum {
	OPT_CPUS = 256, OPT_NO_PIN, OPT_RING_SIZE, OPT_MAX_CONNS, OPT_SPIN_US,
	OPT_LOG_LEVEL, OPT_MAX_HEADER, OPT_MAX_PIPELINE, OPT_SHUTDOWN_TIMEOUT,
};

static const struct option long_opts[] = {
	{ "listen", required_argument, NULL, 'l' },
	{ "workers", required_argument, NULL, 'w' },
	{ "cpus", required_argument, NULL, OPT_CPUS },
	{ "no-pin", no_argument, NULL, OPT_NO_PIN },
	{ "ring-size", required_argument, NULL, OPT_RING_SIZE },
	{ "max-conns", required_argument, NULL, OPT_MAX_CONNS },
	{ "max-header-bytes", required_argument, NULL, OPT_MAX_HEADER },
	{ "max-pipeline", required_argument, NULL, OPT_MAX_PIPELINE },
	{ "spin-us", required_argument, NULL, OPT_SPIN_US },
	{ "shutdown-timeout", required_argument, NULL, OPT_SHUTDOWN_TIMEOUT },
	{ "log-level", required_argument, NULL, OPT_LOG_LEVEL },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

/* Range-checked numeric flag: one place for the message wording. */
static int num_flag(const char *name, const char *arg, unsigned long min,
		    unsigned long max, unsigned *out, char *err, size_t errlen)
{
	unsigned long v;

	if (parse_uint(arg, min, max, &v))
		return fail(err, errlen,
			    "--%s: '%s' is not a whole number from %lu to %lu",
			    name, arg, min, max);
	*out = (unsigned)v;
	return 0;
}

int cfg_parse(struct cfg *c, int argc, char **argv, char *err, size_t errlen)
{
	int opt, rc = 0;
	unsigned v = 0;

	optind = 0;     /* glibc: 0 also forgets a half-read option cluster */
	opterr = 0;
	while (rc == 0 &&
	       (opt = getopt_long(argc, argv, ":l:w:hV", long_opts, NULL)) != -1) {
		switch (opt) {
		case 'l':
			if (cfg_parse_listen(optarg, c->listen_host,
					     sizeof(c->listen_host),
					     &c->listen_port))
				rc = fail(err, errlen,
					  "--listen: '%s' is not HOST:PORT (port 0-65535; "
					  "IPv6 as [::1]:PORT)", optarg);
			break;
		case 'w':
			rc = num_flag("workers", optarg, 1, CFG_MAX_WORKERS,
				      &c->workers, err, errlen);
			break;
		case OPT_CPUS:
			if (cfg_parse_cpus(optarg, &c->cpus))
				rc = fail(err, errlen,
					  "--cpus: '%s' is not a CPU list such as 0-3,6",
					  optarg);
			c->cpus_given = true;
			break;
		case OPT_NO_PIN:
			c->no_pin = true;
			break;
		case OPT_RING_SIZE:
			rc = num_flag("ring-size", optarg, 4, 1u << 20, &v, err,
				      errlen);
			if (rc == 0 && (v & (v - 1)))
				rc = fail(err, errlen,
					  "--ring-size: %u is not a power of two "
					  "(try %u)", v, 1u << (32 - __builtin_clz(v)));
			c->ring_size = v;
			break;
		case OPT_MAX_CONNS:
			rc = num_flag("max-conns", optarg, 1, 1u << 20,
				      &c->max_conns, err, errlen);
			break;
		case OPT_MAX_HEADER:
			rc = num_flag("max-header-bytes", optarg, 256, 1u << 20,
				      &c->max_header_bytes, err, errlen);
			break;
		case OPT_MAX_PIPELINE:
			rc = num_flag("max-pipeline", optarg, 1, 4096,
				      &c->max_pipeline, err, errlen);
			break;
		case OPT_SPIN_US:
			rc = num_flag("spin-us", optarg, 0, 1000000, &v, err,
				      errlen);
			c->spin_us = (int)v;
			break;
		case OPT_SHUTDOWN_TIMEOUT:
			rc = num_flag("shutdown-timeout", optarg, 0, 3600000,
				      &c->shutdown_timeout_ms, err, errlen);
			break;
		case OPT_LOG_LEVEL:
			if (log_level_parse(optarg, &c->log_level))
				rc = fail(err, errlen,
					  "--log-level: '%s' is not one of error, warn, "
					  "info, debug", optarg);
			break;
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
