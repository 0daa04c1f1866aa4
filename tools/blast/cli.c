#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tools/blast/cli.h"

#define BODY_MAX (64u << 20)

void cli_usage(FILE *out)
{
	fputs("Usage: blast [options] URL [URL...]\n"
	      "       blast merge [--json] [--percentiles LIST] RESULT.json...\n"
	      "\n"
	      "HTTP/1.1 load generator.  Each URL is run in turn with the same settings\n"
	      "and the results are printed side by side, with ratios to the first URL.\n"
	      "\n"
	      "Load:\n"
	      "  -t, --threads N         threads, each with its own epoll loop (default 2)\n"
	      "  -c, --connections N     keep-alive connections over all threads (default 10)\n"
	      "      --pipeline D        requests in flight per connection (default 1)\n"
	      "  -d, --duration T        measure for T: 500ms, 10s, 1m (default 10s)\n"
	      "  -n, --requests N        send exactly N requests over all connections\n"
	      "      --warmup T          run for T first and discard those results\n"
	      "      --timeout T         per request and per connect (default 5s)\n"
	      "      --busy-poll T       poll up to T before sleeping (default 50us, 0: off)\n"
	      "  -R, --rate RPS          open loop: constant arrival rate over all\n"
	      "                          connections; latency is measured from each\n"
	      "                          request's intended send time\n"
	      "Request:\n"
	      "      --method M          request method (default GET)\n"
	      "  -H, --header 'N: V'     add a header (repeatable)\n"
	      "      --body STRING       request body (adds Content-Length)\n"
	      "      --body-file FILE    request body from a file\n"
	      "Output:\n"
	      "      --percentiles LIST  e.g. 50,90,99,99.9 (default 50,90,99,99.9,99.99)\n"
	      "      --json              one JSON document instead of the table\n"
	      "      --csv-series FILE   one row per second: requests, errors, p50, p99\n"
	      "  -q, --quiet             no progress line\n"
	      "  -h, --help              this text\n"
	      "  -V, --version           print the version\n"
	      "\n"
	      "Exit status: 0 done, 1 internal failure, 2 bad usage or unreachable\n"
	      "target, 130 interrupted (results so far are still printed).\n",
	      out);
}

int parse_duration(const char *s, uint64_t *ns)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (end == s || errno || !isfinite(v) || v <= 0 || *s == '-' || *s == '+')
		return -1;
	double mult;
	if (*end == 0 || strcmp(end, "s") == 0)
		mult = 1e9;
	else if (strcmp(end, "ms") == 0)
		mult = 1e6;
	else if (strcmp(end, "us") == 0)
		mult = 1e3;
	else if (strcmp(end, "ns") == 0)
		mult = 1;
	else if (strcmp(end, "m") == 0 || strcmp(end, "min") == 0)
		mult = 60e9;
	else if (strcmp(end, "h") == 0)
		mult = 3600e9;
	else
		return -1;
	double r = v * mult;
	if (r < 1 || r > 86400e9)
		return -1;
	*ns = (uint64_t)(r + 0.5);
	return 0;
}

int parse_count(const char *s, uint64_t *out)
{
	char *end;
	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno)
		return -1;
	uint64_t mult = 1;
	if (*end == 'k' || *end == 'K')
		mult = 1000, end++;
	else if (*end == 'm' || *end == 'M')
		mult = 1000000, end++;
	if (*end || v == 0 || v > UINT64_MAX / mult)
		return -1;
	*out = (uint64_t)v * mult;
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int parse_percentiles(const char *s, double *out, unsigned *n, unsigned max)
{
	unsigned k = 0;
	const char *p = s;
	while (*p) {
		char *end;
		errno = 0;
		double v = strtod(p, &end);
		if (end == p || errno || !(v > 0 && v <= 100) || k == max)
			return -1;
		out[k++] = v;
		if (*end == ',' && end[1])
			end++;
		else if (*end)
			return -1;
		p = end;
	}
	if (k == 0)
		return -1;
	qsort(out, k, sizeof *out, cmp_double);
	*n = k;
	return 0;
}

static int is_tchar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

static int valid_token(const char *s, size_t n)
{
	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!is_tchar(s[i]))
			return 0;
	return 1;
}

/* "Name: value" with a token name and no line breaks anywhere. */
static int valid_header(const char *h)
{
	const char *colon = strchr(h, ':');
	return colon && valid_token(h, (size_t)(colon - h)) && !strpbrk(h, "\r\n");
}

static int read_body_file(const char *path, struct blast_config *cfg, FILE *err)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(err, "blast: cannot open body file '%s': %s\n", path, strerror(errno));
		return -1;
	}
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);
	while (buf) {
		if (len == cap) {
			char *nb = cap < BODY_MAX ? realloc(buf, cap * 2) : NULL;
			if (!nb) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = nb;
			cap *= 2;
		}
		size_t r = fread(buf + len, 1, cap - len, f);
		len += r;
		if (r == 0)
			break;
	}
	int bad = ferror(f);
	fclose(f);
	if (!buf || bad) {
		fprintf(err, "blast: cannot read body file '%s' (too large or I/O error)\n", path);
		free(buf);
		return -1;
	}
	free(cfg->body);
	cfg->body = buf;
	cfg->body_len = len;
	return 0;
}

static void set_defaults(struct blast_config *cfg)
{
	static const double pct[] = {50, 90, 99, 99.9, 99.99};
	memset(cfg, 0, sizeof *cfg);
	cfg->threads = 2;
	cfg->connections = 10;
	cfg->pipeline = 1;
	cfg->timeout_ns = 5000000000ull;
	cfg->busy_poll_ns = 50000;
	cfg->method = "GET";
	memcpy(cfg->pct, pct, sizeof pct);
	cfg->npct = 5;
}

static int bad(FILE *err, const char *opt, const char *val, const char *what)
{
	fprintf(err, "blast: invalid %s '%s': %s\nTry 'blast --help'.\n", opt, val, what);
	return CLI_ERROR;
}

static int parse_uint_opt(const char *opt, const char *val, unsigned lo, unsigned hi,
			  unsigned *out, FILE *err)
{
	uint64_t v;
	if (parse_count(val, &v) < 0 || v < lo || v > hi) {
		char what[64];
		snprintf(what, sizeof what, "expected an integer from %u to %u", lo, hi);
		return bad(err, opt, val, what);
	}
	*out = (unsigned)v;
	return CLI_OK;
}

enum {
	OPT_PIPELINE = 256, OPT_WARMUP, OPT_TIMEOUT, OPT_PCT, OPT_METHOD, OPT_BODY,
	OPT_BODY_FILE, OPT_JSON, OPT_CSV, OPT_BUSY_POLL,
};

static const struct option long_opts[] = {
	{"threads", required_argument, NULL, 't'},
	{"connections", required_argument, NULL, 'c'},
	{"duration", required_argument, NULL, 'd'},
	{"requests", required_argument, NULL, 'n'},
	{"rate", required_argument, NULL, 'R'},
	{"header", required_argument, NULL, 'H'},
	{"quiet", no_argument, NULL, 'q'},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, 'V'},
	{"pipeline", required_argument, NULL, OPT_PIPELINE},
	{"warmup", required_argument, NULL, OPT_WARMUP},
	{"timeout", required_argument, NULL, OPT_TIMEOUT},
	{"percentiles", required_argument, NULL, OPT_PCT},
	{"method", required_argument, NULL, OPT_METHOD},
	{"body", required_argument, NULL, OPT_BODY},
	{"body-file", required_argument, NULL, OPT_BODY_FILE},
	{"json", no_argument, NULL, OPT_JSON},
	{"csv-series", required_argument, NULL, OPT_CSV},
	{"busy-poll", required_argument, NULL, OPT_BUSY_POLL},
	{NULL, 0, NULL, 0},
};

#define NOT_MINE (-1)

/* Options shaping the load.  Returns CLI_OK, CLI_ERROR or NOT_MINE. */
static int apply_load_opt(int c, const char *arg, struct blast_config *cfg, int *have_dur,
			  FILE *err)
{
	uint64_t v;
	char *end;
	switch (c) {
	case 't':
		return parse_uint_opt("--threads", arg, 1, 256, &cfg->threads, err);
	case 'c':
		return parse_uint_opt("--connections", arg, 1, 1000000, &cfg->connections, err);
	case OPT_PIPELINE:
		return parse_uint_opt("--pipeline", arg, 1, BLAST_MAX_PIPELINE, &cfg->pipeline, err);
	case 'd':
		*have_dur = 1;
		if (parse_duration(arg, &cfg->duration_ns) < 0)
			return bad(err, "--duration", arg, "expected e.g. 500ms, 10s, 1m");
		return CLI_OK;
	case OPT_WARMUP:
		if (parse_duration(arg, &cfg->warmup_ns) < 0)
			return bad(err, "--warmup", arg, "expected e.g. 500ms, 10s, 1m");
		return CLI_OK;
	case OPT_BUSY_POLL:
		if (strcmp(arg, "0") == 0)
			cfg->busy_poll_ns = 0;
		else if (parse_duration(arg, &cfg->busy_poll_ns) < 0 || cfg->busy_poll_ns > 10000000)
			return bad(err, "--busy-poll", arg, "expected 0 or up to 10ms, e.g. 50us");
		return CLI_OK;
	case OPT_TIMEOUT:
		if (parse_duration(arg, &cfg->timeout_ns) < 0)
			return bad(err, "--timeout", arg, "expected e.g. 500ms, 10s, 1m");
		return CLI_OK;
	case 'n':
		if (parse_count(arg, &v) < 0)
			return bad(err, "--requests", arg, "expected a positive integer");
		cfg->requests = v;
		return CLI_OK;
	case 'R':
		errno = 0;
		cfg->rate = strtod(arg, &end);
		if (*end == 'k' || *end == 'K')
			cfg->rate *= 1000, end++;
		if (end == arg || *end || errno || !(cfg->rate > 0 && cfg->rate <= 1e9))
			return bad(err, "--rate", arg, "expected requests per second, e.g. 5000");
		return CLI_OK;
	default:
		return NOT_MINE;
	}
}

/* Options shaping the request and the output.  Returns CLI_OK, CLI_EXIT
 * or CLI_ERROR. */
static int apply_other_opt(int c, const char *arg, struct blast_config *cfg, FILE *err)
{
	switch (c) {
	case 'H':
		if (!valid_header(arg))
			return bad(err, "--header", arg, "expected 'Name: value'");
		if (cfg->nheaders == BLAST_MAX_HEADERS)
			return bad(err, "--header", arg, "too many headers");
		cfg->headers[cfg->nheaders++] = arg;
		return CLI_OK;
	case OPT_METHOD:
		if (!valid_token(arg, strlen(arg)))
			return bad(err, "--method", arg, "not an HTTP method token");
		cfg->method = arg;
		return CLI_OK;
	case OPT_BODY:
		free(cfg->body);
		cfg->body_len = strlen(arg);
		cfg->body = malloc(cfg->body_len + 1);
		if (!cfg->body)
			return CLI_ERROR;
		memcpy(cfg->body, arg, cfg->body_len + 1);
		return CLI_OK;
	case OPT_BODY_FILE:
		return read_body_file(arg, cfg, err) < 0 ? CLI_ERROR : CLI_OK;
	case OPT_PCT:
		if (parse_percentiles(arg, cfg->pct, &cfg->npct, BLAST_MAX_PCT) < 0)
			return bad(err, "--percentiles", arg, "expected e.g. 50,99,99.9");
		return CLI_OK;
	case OPT_JSON:
		cfg->json = 1;
		return CLI_OK;
	case OPT_CSV:
		cfg->csv_path = arg;
		return CLI_OK;
	case 'q':
		cfg->quiet = 1;
		return CLI_OK;
	case 'h':
		cli_usage(stdout);
		return CLI_EXIT;
	case 'V':
		printf("blast %s\n", PACKAGE_VERSION);
		return CLI_EXIT;
	default:
		fputs("Try 'blast --help'.\n", err);
		return CLI_ERROR;
	}
}

static int apply_opt(int c, const char *arg, struct blast_config *cfg, int *have_dur, FILE *err)
{
	int r = apply_load_opt(c, arg, cfg, have_dur, err);
	return r == NOT_MINE ? apply_other_opt(c, arg, cfg, err) : r;
}

/* Cross-option rules that single options cannot check. */
static int check_config(struct blast_config *cfg, int have_dur, FILE *err)
{
	if (cfg->nurls == 0) {
		fputs("blast: no URL given\nTry 'blast --help'.\n", err);
		return CLI_ERROR;
	}
	if (cfg->nurls > BLAST_MAX_URLS) {
		fprintf(err, "blast: at most %d URLs per run\n", BLAST_MAX_URLS);
		return CLI_ERROR;
	}
	if (cfg->threads > cfg->connections) {
		fprintf(err, "blast: --threads (%u) must not exceed --connections (%u)\n",
			cfg->threads, cfg->connections);
		return CLI_ERROR;
	}
	if (!have_dur && !cfg->requests)
		cfg->duration_ns = 10000000000ull;
	if (cfg->rate > 0 && cfg->rate < cfg->threads) {
		fprintf(err, "blast: --rate %.3g is below one request per second per thread\n",
			cfg->rate);
		return CLI_ERROR;
	}
	return CLI_OK;
}

int cli_parse(int argc, char **argv, struct blast_config *cfg, FILE *err)
{
	int c, have_dur = 0;
	set_defaults(cfg);
	opterr = 1;
	optind = 1;
	while ((c = getopt_long(argc, argv, "t:c:d:n:R:H:qhV", long_opts, NULL)) != -1) {
		int r = apply_opt(c, optarg, cfg, &have_dur, err);
		if (r != CLI_OK)
			return r;
	}
	cfg->urls = argv + optind;
	cfg->nurls = (unsigned)(argc - optind);
	return check_config(cfg, have_dur, err);
}

void cli_free(struct blast_config *cfg)
{
	free(cfg->body);
	cfg->body = NULL;
}
