/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "tools/blast/cli.h"
#include "tools/blast/tls.h"

#define BODY_MAX (64u << 20)
#define URL_LIST_MAX (64u << 20)
#define UNIX_PATH_MAX sizeof(((struct sockaddr_un *)0)->sun_path)

void cli_usage(FILE *out)
{
	fputs("Usage: blast [options] URL [URL...]\n"
	      "       blast [options] --urls FILE\n"
	      "       blast merge [--json] [--percentiles LIST] RESULT.json...\n"
	      "\n"
	      "HTTP/1.1 load generator for http:// and https:// URLs.  Each URL is run in\n"
	      "turn with the same settings and the results are printed side by side, with\n"
	      "ratios to the first URL.\n"
	      "\n"
	      "Load:\n"
	      "  -t, --threads N         threads, each with its own epoll loop (default 2)\n"
	      "  -c, --connections N     keep-alive connections over all threads (default 10)\n"
	      "      --pipeline D        requests in flight per connection (default 1)\n"
	      "  -d, --duration T        measure for T: 500ms, 10s, 1m (default 10s)\n"
	      "  -n, --requests N        send exactly N requests over all connections\n"
	      "      --warmup T          run for T first and discard those results\n"
	      "      --timeout T         per request, per connect and TLS handshake (default 5s)\n"
	      "  -R, --rate RPS          open loop: constant arrival rate over all\n"
	      "                          connections; latency is measured from each\n"
	      "                          request's intended send time\n"
	      "      --busy-poll T       poll up to T for responses before sleeping, but only\n"
	      "                          while polls catch them and the machine has idle\n"
	      "                          CPU (default 50us, 0: never poll)\n"
	      "Request:\n"
	      "  -m, --method M          request method (default GET)\n"
	      "  -H, --header 'N: V'     add a header (repeatable)\n"
	      "      --data STRING       request body, with Content-Length (alias --body)\n"
	      "  -D, --data-file FILE    request body from a file (alias --body-file)\n"
	      "      --ids A-B           replace {id} in the URL, headers and body with A..B,\n"
	      "                          in turn; each thread starts on its own block\n"
	      "      --random            pick the requests at random instead of in turn\n"
	      "      --urls FILE         one URL per line (one server), sent in turn; instead\n"
	      "                          of URLs on the command line\n"
	      "Connection:\n"
	      "      --unix-socket PATH  connect to this Unix socket (the URL still gives\n"
	      "                          Host and path)\n"
	      "  -k, --insecure          https: do not verify the server's certificate\n"
	      "Output:\n"
	      "      --percentiles LIST  e.g. 50,90,99,99.9 (default 50,90,99,99.9,99.99)\n"
	      "      --json              one JSON document instead of the table\n"
	      "      --histogram         a latency histogram after the table\n"
	      "      --csv-series FILE   one row per second: requests, errors, p50, p99\n"
	      "      --hdr-log FILE      HdrHistogram interval log, one histogram per second\n"
	      "  -q, --quiet             no live view and no progress lines\n"
	      "  -h, --help              this text\n"
	      "  -V, --version           print the version\n"
	      "\n"
	      "While it runs: on a terminal a live view (rate, errors, in flight, latency\n"
	      "histogram) refreshed every second; otherwise one progress line per second\n"
	      "on stderr.  Every distinct request is formatted once, before the run.\n"
	      "-d is the duration, as in wrk; the body is --data.\n"
	      "\n"
	      "Exit status: 0 done, 1 internal failure, 2 bad usage, bad input or\n"
	      "unreachable target, 130 interrupted (results so far are still printed).\n",
	      out);
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
	char msg[512], *buf;
	size_t len;
	if (read_whole_file(path, BODY_MAX, &buf, &len, msg, sizeof msg) < 0) {
		fprintf(err, "blast: --data-file: %s\n", msg);
		return -1;
	}
	free(cfg->body);
	cfg->body = buf;
	cfg->body_len = len;
	return 0;
}

/* --urls FILE: one URL per line; blank lines and lines starting with '#'
 * are skipped, surrounding blanks and a CR are trimmed.  The URLs are
 * checked later, with the others (target.c). */
static int read_url_list(const char *path, struct blast_config *cfg, FILE *err)
{
	char msg[512];
	size_t len;
	free(cfg->list_text);
	free(cfg->list);
	cfg->list = NULL;
	cfg->nlist = 0;
	if (read_whole_file(path, URL_LIST_MAX, &cfg->list_text, &len, msg, sizeof msg) < 0) {
		cfg->list_text = NULL;
		fprintf(err, "blast: --urls: %s\n", msg);
		return -1;
	}
	cfg->urls_file = path;
	unsigned cap = 0;
	for (char *line = cfg->list_text, *next; line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = 0;
		line += strspn(line, " \t");
		size_t n = strlen(line);
		while (n && strchr(" \t\r", line[n - 1]))
			line[--n] = 0;
		if (n == 0 || line[0] == '#')
			continue;
		if (cfg->nlist == BLAST_MAX_URL_LINES) {
			fprintf(err, "blast: --urls '%s': more than %d URLs\n", path,
				BLAST_MAX_URL_LINES);
			return -1;
		}
		if (cfg->nlist == cap) {
			cap = cap ? cap * 2 : 64;
			char **nl = realloc(cfg->list, cap * sizeof *nl);
			if (!nl)
				return -1;
			cfg->list = nl;
		}
		cfg->list[cfg->nlist++] = line;
	}
	if (cfg->nlist == 0) {
		fprintf(err, "blast: --urls '%s': no URL in the file\n", path);
		return -1;
	}
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
	OPT_PIPELINE = 256, OPT_WARMUP, OPT_TIMEOUT, OPT_PCT, OPT_DATA, OPT_JSON, OPT_CSV,
	OPT_BUSY_POLL, OPT_IDS, OPT_RANDOM, OPT_URLS, OPT_UNIX, OPT_HISTOGRAM, OPT_HDR_LOG,
};

static const struct option long_opts[] = {
	{"threads", required_argument, NULL, 't'},
	{"connections", required_argument, NULL, 'c'},
	{"duration", required_argument, NULL, 'd'},
	{"requests", required_argument, NULL, 'n'},
	{"rate", required_argument, NULL, 'R'},
	{"header", required_argument, NULL, 'H'},
	{"method", required_argument, NULL, 'm'},
	{"data-file", required_argument, NULL, 'D'},
	{"body-file", required_argument, NULL, 'D'},
	{"insecure", no_argument, NULL, 'k'},
	{"quiet", no_argument, NULL, 'q'},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, 'V'},
	{"pipeline", required_argument, NULL, OPT_PIPELINE},
	{"warmup", required_argument, NULL, OPT_WARMUP},
	{"timeout", required_argument, NULL, OPT_TIMEOUT},
	{"percentiles", required_argument, NULL, OPT_PCT},
	{"data", required_argument, NULL, OPT_DATA},
	{"body", required_argument, NULL, OPT_DATA},
	{"json", no_argument, NULL, OPT_JSON},
	{"csv-series", required_argument, NULL, OPT_CSV},
	{"busy-poll", required_argument, NULL, OPT_BUSY_POLL},
	{"ids", required_argument, NULL, OPT_IDS},
	{"random", no_argument, NULL, OPT_RANDOM},
	{"urls", required_argument, NULL, OPT_URLS},
	{"unix-socket", required_argument, NULL, OPT_UNIX},
	{"histogram", no_argument, NULL, OPT_HISTOGRAM},
	{"hdr-log", required_argument, NULL, OPT_HDR_LOG},
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

/* Options shaping the request and where it goes.  Returns CLI_OK,
 * CLI_ERROR or NOT_MINE. */
static int apply_request_opt(int c, const char *arg, struct blast_config *cfg, FILE *err)
{
	switch (c) {
	case 'H':
		if (!valid_header(arg))
			return bad(err, "--header", arg, "expected 'Name: value'");
		if (cfg->nheaders == BLAST_MAX_HEADERS)
			return bad(err, "--header", arg, "too many headers");
		cfg->headers[cfg->nheaders++] = arg;
		return CLI_OK;
	case 'm':
		if (!valid_token(arg, strlen(arg)))
			return bad(err, "--method", arg, "not an HTTP method token");
		cfg->method = arg;
		return CLI_OK;
	case OPT_DATA:
		free(cfg->body);
		cfg->body_len = strlen(arg);
		cfg->body = malloc(cfg->body_len + 1);
		if (!cfg->body)
			return CLI_ERROR;
		memcpy(cfg->body, arg, cfg->body_len + 1);
		return CLI_OK;
	case 'D':
		return read_body_file(arg, cfg, err) < 0 ? CLI_ERROR : CLI_OK;
	case OPT_IDS:
		if (parse_range(arg, &cfg->id_lo, &cfg->id_hi) < 0)
			return bad(err, "--ids", arg, "expected a range like 1-1000 (first <= last)");
		cfg->has_ids = 1;
		return CLI_OK;
	case OPT_RANDOM:
		cfg->random = 1;
		return CLI_OK;
	case OPT_URLS:
		return read_url_list(arg, cfg, err) < 0 ? CLI_ERROR : CLI_OK;
	case OPT_UNIX:
		if (!*arg || strlen(arg) >= UNIX_PATH_MAX)
			return bad(err, "--unix-socket", arg, "empty or too long for a socket path");
		cfg->unix_socket = arg;
		return CLI_OK;
	case 'k':
		cfg->insecure = 1;
		return CLI_OK;
	default:
		return NOT_MINE;
	}
}

/* Options shaping the output.  Returns CLI_OK, CLI_EXIT or CLI_ERROR. */
static int apply_output_opt(int c, const char *arg, struct blast_config *cfg, FILE *err)
{
	switch (c) {
	case OPT_PCT:
		if (parse_percentiles(arg, cfg->pct, &cfg->npct, BLAST_MAX_PCT) < 0)
			return bad(err, "--percentiles", arg, "expected e.g. 50,99,99.9");
		return CLI_OK;
	case OPT_JSON:
		cfg->json = 1;
		return CLI_OK;
	case OPT_HISTOGRAM:
		cfg->histogram = 1;
		return CLI_OK;
	case OPT_CSV:
		cfg->csv_path = arg;
		return CLI_OK;
	case OPT_HDR_LOG:
		cfg->hdr_log = arg;
		return CLI_OK;
	case 'q':
		cfg->quiet = 1;
		return CLI_OK;
	case 'h':
		cli_usage(stdout);
		return CLI_EXIT;
	case 'V':
		printf("blast %s (%s)\n", PACKAGE_VERSION,
		       tls_available() ? "https through OpenSSL" : "no https: built without OpenSSL");
		return CLI_EXIT;
	default:
		fputs("Try 'blast --help'.\n", err);
		return CLI_ERROR;
	}
}

static int apply_opt(int c, const char *arg, struct blast_config *cfg, int *have_dur, FILE *err)
{
	int r = apply_load_opt(c, arg, cfg, have_dur, err);
	if (r == NOT_MINE)
		r = apply_request_opt(c, arg, cfg, err);
	return r == NOT_MINE ? apply_output_opt(c, arg, cfg, err) : r;
}

/* Cross-option rules that single options cannot check. */
static int check_config(struct blast_config *cfg, int have_dur, FILE *err)
{
	if (cfg->nurls == 0 && !cfg->nlist) {
		fputs("blast: no URL given\nTry 'blast --help'.\n", err);
		return CLI_ERROR;
	}
	if (cfg->nurls && cfg->nlist) {
		fputs("blast: give either --urls FILE or URLs on the command line, not both\n", err);
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
	while ((c = getopt_long(argc, argv, "t:c:d:n:R:H:m:D:kqhV", long_opts, NULL)) != -1) {
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
	free(cfg->list_text);
	free(cfg->list);
	cfg->body = NULL;
	cfg->list_text = NULL;
	cfg->list = NULL;
	cfg->nlist = 0;
}
