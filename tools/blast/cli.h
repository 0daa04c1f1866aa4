/* SPDX-License-Identifier: BSD-2-Clause */
/* Command line: options into a blast_config, and --help. */
#ifndef BLAST_CLI_H
#define BLAST_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "tools/blast/parse.h"

#define BLAST_MAX_PCT 32
#define BLAST_MAX_PIPELINE 1024
#define BLAST_MAX_HEADERS 64
#define BLAST_MAX_URLS 64
#define BLAST_MAX_URL_LINES 65536

struct blast_config {
	unsigned threads;
	unsigned connections;
	unsigned pipeline;
	uint64_t duration_ns;   /* 0: no time limit (only with -n) */
	uint64_t requests;      /* 0: no count limit */
	uint64_t warmup_ns;
	uint64_t timeout_ns;
	uint64_t busy_poll_ns;  /* longest poll before sleeping; 0: never poll */
	double rate;            /* requests/s over all connections; 0 = closed loop */
	double pct[BLAST_MAX_PCT];
	unsigned npct;
	/* the request */
	const char *method;
	const char *headers[BLAST_MAX_HEADERS];
	unsigned nheaders;
	char *body;             /* owned: from --data or --data-file */
	size_t body_len;
	int has_ids;            /* --ids A-B: {id} takes each value */
	uint64_t id_lo, id_hi;
	int random;             /* pick requests at random, not in turn */
	/* where to */
	const char *unix_socket;
	int insecure;           /* https: no certificate verification */
	/* output */
	int json;
	int quiet;
	int histogram;          /* --histogram: a latency chart after the table */
	const char *csv_path;
	const char *hdr_log;
	/* URLs: on the command line (side by side), or --urls FILE (one run
	 * going round them) */
	char **urls;
	unsigned nurls;
	const char *urls_file;
	char *list_text;        /* owned: the file, split into lines in place */
	char **list;            /* owned: its URLs */
	unsigned nlist;
};

enum { CLI_OK = 0, CLI_EXIT = 1, CLI_ERROR = 2 };

/* Parses argv into cfg.  Returns CLI_OK, CLI_EXIT after --help/--version
 * (already printed), or CLI_ERROR after printing a message to err. */
int cli_parse(int argc, char **argv, struct blast_config *cfg, FILE *err);
void cli_free(struct blast_config *cfg);
void cli_usage(FILE *out);

#endif
