/* blast: run each URL in turn with the same settings, then report. */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "tools/blast/engine.h"
#include "tools/blast/merge.h"
#include "tools/blast/output.h"

/* First Ctrl-C: stop and report.  SA_RESETHAND makes a second one kill
 * blast the usual way, in case the report itself hangs. */
static void on_signal(int sig)
{
	(void)sig;
	atomic_store(&blast_stop, 1);
}

static void install_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESETHAND;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* Every connection is a descriptor: lift the soft limit to the hard one
 * rather than fail with EMFILE at the usual 1024. */
static void raise_nofile(unsigned connections)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)connections + 64 &&
	    rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* Parse, resolve and test-connect one URL, so that a typo or a dead
 * server is reported before any load is generated.  Exit status 2. */
static int prepare_target(const struct blast_config *cfg, const char *s, struct target *tg)
{
	char err[512], where[80] = "";
	struct url_addrs addrs;
	int e = 0;

	memset(tg, 0, sizeof *tg);
	tg->url_str = s;
	if (url_parse(s, &tg->url, err, sizeof err) < 0 ||
	    url_resolve(&tg->url, &addrs, err, sizeof err) < 0) {
		fprintf(stderr, "blast: %s\n", err);
		return -1;
	}
	uint64_t probe = cfg->timeout_ns < 5000000000ull ? cfg->timeout_ns : 5000000000ull;
	for (unsigned i = 0; i < addrs.n; i++) {
		sockaddr_format((const struct sockaddr *)&addrs.addr[i], where, sizeof where);
		e = probe_connect((const struct sockaddr *)&addrs.addr[i], addrs.len[i], probe);
		if (e == 0) {
			memcpy(&tg->addr, &addrs.addr[i], addrs.len[i]);
			tg->addrlen = addrs.len[i];
			break;
		}
	}
	if (e) {
		fprintf(stderr, "blast: cannot connect to %s (%s): %s\n", s, where, strerror(e));
		return -1;
	}
	if (request_build(cfg, &tg->url, cfg->pipeline, &tg->req) < 0) {
		fprintf(stderr, "blast: out of memory\n");
		return -1;
	}
	return 0;
}

static int run_one(const struct blast_config *cfg, const struct target *tg, FILE *csv,
		   int progress, struct run_result *res)
{
	struct series ser, *sp = NULL;
	if (csv || progress) {
		if (series_init(&ser, cfg->threads, csv, tg->url_str, progress) < 0)
			return -1;
		sp = &ser;
	}
	if (progress)
		printf("blast: %s\n", tg->url_str);
	int rc = engine_run(cfg, tg, sp, res);
	if (sp) {
		series_clear_line(sp);
		series_destroy(sp);
	}
	return rc;
}

static int run_all(struct blast_config *cfg, struct target *tgs)
{
	struct run_result *res[cfg->nurls];
	unsigned done = 0;
	int progress = !cfg->quiet && isatty(STDOUT_FILENO), rc = 0;
	FILE *csv = NULL;

	if (cfg->csv_path) {
		csv = fopen(cfg->csv_path, "w");
		if (!csv) {
			fprintf(stderr, "blast: cannot write '%s': %s\n", cfg->csv_path,
				strerror(errno));
			return 2;
		}
		series_csv_header(csv);
	}
	for (unsigned i = 0; i < cfg->nurls && !atomic_load(&blast_stop); i++) {
		res[i] = malloc(sizeof *res[i]);
		if (!res[i] || run_one(cfg, &tgs[i], csv, progress, res[i]) < 0) {
			free(res[i]);
			rc = 1;
			break;
		}
		done++;
	}
	if (done) {
		if (cfg->json)
			output_json(stdout, cfg, res, done);
		else
			output_human(stdout, cfg, res, done);
	}
	if (csv && fclose(csv) != 0)
		rc = 1;
	if (fflush(stdout) != 0)
		rc = 1;
	if (rc == 0 && atomic_load(&blast_stop))
		rc = 130;
	for (unsigned i = 0; i < done; i++)
		free(res[i]);
	return rc;
}

int main(int argc, char **argv)
{
	struct blast_config cfg;

	if (argc > 1 && strcmp(argv[1], "merge") == 0)
		return merge_main(argc - 1, argv + 1);
	int r = cli_parse(argc, argv, &cfg, stderr);
	if (r != CLI_OK) {
		cli_free(&cfg);
		return r == CLI_EXIT ? 0 : 2;
	}
	struct target *tgs = calloc(cfg.nurls, sizeof *tgs);
	if (!tgs)
		return 1;
	int rc = 0;
	unsigned ready = 0;
	for (; ready < cfg.nurls; ready++)
		if (prepare_target(&cfg, cfg.urls[ready], &tgs[ready]) < 0) {
			rc = 2;
			break;
		}
	if (rc == 0) {
		raise_nofile(cfg.connections);
		install_signals();
		rc = run_all(&cfg, tgs);
	}
	for (unsigned i = 0; i < ready; i++)
		request_free(&tgs[i].req);
	free(tgs);
	cli_free(&cfg);
	return rc;
}
