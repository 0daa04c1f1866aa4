/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/blast/testutil.h"

struct run_result *run_blast_series(const char *url_fmt, int port, const char *const *args,
				    struct series *ser)
{
	char url[256], err[1024];
	char *argv[64];
	int argc = 0;
	struct blast_config cfg;
	struct target tg;

	snprintf(url, sizeof url, url_fmt, port);
	argv[argc++] = (char *)"blast";
	while (*args && argc < 62)
		argv[argc++] = (char *)*args++;
	if (strstr(url_fmt, "://"))
		argv[argc++] = url; /* else the URLs come from --urls */
	argv[argc] = NULL;
	FILE *null = fopen("/dev/null", "w");
	int r = cli_parse(argc, argv, &cfg, null ? null : stderr);
	if (null)
		fclose(null);
	if (r != CLI_OK) {
		cli_free(&cfg);
		return NULL;
	}
	char **urls = cfg.nlist ? cfg.list : cfg.urls;
	unsigned nurls = cfg.nlist ? cfg.nlist : 1;
	struct run_result *res = NULL;
	if (target_prepare(&cfg, urls, nurls, urls[0], 0, &tg, err, sizeof err) < 0) {
		fprintf(stderr, "run_blast: %s\n", err);
		goto Error;
	}
	res = malloc(sizeof *res);
	if (res && engine_run(&cfg, &tg, ser, res) < 0) {
		free(res);
		res = NULL;
	}
Error:
	target_free(&tg);
	cli_free(&cfg);
	return res;
}

struct run_result *run_blast(const char *url_fmt, int port, const char *const *args)
{
	return run_blast_series(url_fmt, port, args, NULL);
}

uint64_t hist_count_at_least(const struct hist *h, uint64_t ns)
{
	uint64_t n = 0;
	for (uint32_t i = hist_index(ns); i < HIST_BUCKETS; i++)
		n += h->counts[i];
	return n;
}

int unused_port(void)
{
	struct sockaddr_in a;
	socklen_t len = sizeof a;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) < 0)
		return -1;
	close(fd); /* nobody listens on it now; reuse within the test is unlikely */
	return ntohs(a.sin_port);
}
