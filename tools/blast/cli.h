/* Command line: options, durations, percentile lists. */
#ifndef BLAST_CLI_H
#define BLAST_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define BLAST_MAX_PCT 32
#define BLAST_MAX_PIPELINE 1024
#define BLAST_MAX_HEADERS 64
#define BLAST_MAX_URLS 64

struct blast_config {
	unsigned threads;
	unsigned connections;
	unsigned pipeline;
	uint64_t duration_ns;   /* 0: no time limit (only with -n) */
	uint64_t requests;      /* 0: no count limit */
	uint64_t warmup_ns;
	uint64_t timeout_ns;
	uint64_t busy_poll_ns;  /* 0: always sleep in epoll_wait */
	double rate;            /* requests/s over all connections; 0 = closed loop */
	double pct[BLAST_MAX_PCT];
	unsigned npct;
	const char *method;
	const char *headers[BLAST_MAX_HEADERS];
	unsigned nheaders;
	char *body;             /* owned: from --body or --body-file */
	size_t body_len;
	int json;
	int quiet;
	const char *csv_path;
	char **urls;
	unsigned nurls;
};

enum { CLI_OK = 0, CLI_EXIT = 1, CLI_ERROR = 2 };

/* Parses argv into cfg.  Returns CLI_OK, CLI_EXIT after --help/--version
 * (already printed), or CLI_ERROR after printing a message to err. */
int cli_parse(int argc, char **argv, struct blast_config *cfg, FILE *err);
void cli_free(struct blast_config *cfg);
void cli_usage(FILE *out);

/* "500ms", "10s", "1.5m", "2h", "250us", "100ns"; a bare number is
 * seconds.  Returns -1 when malformed, zero or longer than a day. */
int parse_duration(const char *s, uint64_t *ns);
/* "50,90,99.9": values in (0, 100], at most max of them. */
int parse_percentiles(const char *s, double *out, unsigned *n, unsigned max);
/* Positive integer with an optional k/m suffix (x1000, x1000000). */
int parse_count(const char *s, uint64_t *out);

#endif
