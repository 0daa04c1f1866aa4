/* SPDX-License-Identifier: BSD-2-Clause */
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
#include "tools/blast/hdrlog.h"
#include "tools/blast/merge.h"
#include "tools/blast/output.h"
#include "tools/blast/view.h"

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

/* Target i: URL i of the command line, or the whole --urls list.  A
 * typo, a dead server or a bad certificate is reported before any load
 * is generated (exit status 2). */
static int prepare(const struct blast_config *cfg, unsigned i, struct target *tg)
{
	char err[1024], label[TARGET_LABEL_MAX];
	int rc;
	if (cfg->nlist) {
		snprintf(label, sizeof label, "%s (%u URL%s)", cfg->urls_file, cfg->nlist,
			 cfg->nlist == 1 ? "" : "s");
		rc = target_prepare(cfg, cfg->list, cfg->nlist, label, 1, tg, err, sizeof err);
	} else {
		rc = target_prepare(cfg, &cfg->urls[i], 1, cfg->urls[i], 1, tg, err, sizeof err);
	}
	if (rc < 0)
		fprintf(stderr, "blast: %s\n", err);
	return rc;
}

/* The run's outputs besides the report. */
struct sinks {
	FILE *csv;
	struct hdrlog hdr;
	int has_hdr;
	enum view_mode view;
};

static int run_one(const struct blast_config *cfg, const struct target *tg, unsigned index,
		   struct sinks *out, struct run_result *res)
{
	struct series ser, *sp = NULL;
	struct view view;
	if (out->csv || out->has_hdr || out->view != VIEW_OFF) {
		if (series_init(&ser, cfg->threads, out->csv, tg->label) < 0)
			return -1;
		sp = &ser;
		ser.run_index = index;
		ser.hdr = out->has_hdr ? &out->hdr : NULL;
		if (out->view != VIEW_OFF) {
			view_start(&view, out->view == VIEW_LIVE ? stdout : stderr, out->view,
				   tg->label, cfg->duration_ns, cfg->requests);
			ser.view = &view;
		}
	}
	int rc = engine_run(cfg, tg, sp, res);
	if (sp) {
		if (sp->view)
			view_end(sp->view);
		series_destroy(sp);
	}
	return rc;
}

static int open_sinks(const struct blast_config *cfg, struct sinks *out)
{
	char err[512];
	memset(out, 0, sizeof *out);
	out->view = cfg->quiet ? VIEW_OFF : isatty(STDOUT_FILENO) ? VIEW_LIVE : VIEW_LINES;
	if (cfg->csv_path) {
		out->csv = fopen(cfg->csv_path, "w");
		if (!out->csv) {
			fprintf(stderr, "blast: cannot write '%s': %s\n", cfg->csv_path,
				strerror(errno));
			return -1;
		}
		series_csv_header(out->csv);
	}
	if (cfg->hdr_log) {
		if (hdrlog_open(&out->hdr, cfg->hdr_log, err, sizeof err) < 0) {
			fprintf(stderr, "blast: --hdr-log: %s\n", err);
			if (out->csv)
				fclose(out->csv);
			return -1;
		}
		out->has_hdr = 1;
	}
	return 0;
}

/* Returns 0, or -1 if an output file could not be written in full. */
static int close_sinks(struct sinks *out)
{
	int rc = 0;
	if (out->csv && fclose(out->csv) != 0)
		rc = -1;
	if (out->has_hdr && hdrlog_close(&out->hdr) < 0)
		rc = -1;
	return rc;
}

static int run_all(struct blast_config *cfg, struct target *tgs, unsigned ntargets)
{
	struct run_result *res[ntargets];
	unsigned done = 0;
	int rc = 0;
	struct sinks out;

	if (open_sinks(cfg, &out) < 0)
		return 2;
	for (unsigned i = 0; i < ntargets && !atomic_load(&blast_stop); i++) {
		res[i] = malloc(sizeof *res[i]);
		if (!res[i] || run_one(cfg, &tgs[i], i, &out, res[i]) < 0) {
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
	if (close_sinks(&out) < 0)
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
	unsigned ntargets = cfg.nlist ? 1 : cfg.nurls;
	struct target *tgs = calloc(ntargets, sizeof *tgs);
	if (!tgs)
		return 1;
	int rc = 0;
	unsigned ready = 0;
	for (; ready < ntargets; ready++)
		if (prepare(&cfg, ready, &tgs[ready]) < 0) {
			target_free(&tgs[ready]);
			rc = 2;
			break;
		}
	if (rc == 0) {
		raise_nofile(cfg.connections);
		install_signals();
		rc = run_all(&cfg, tgs, ntargets);
	}
	for (unsigned i = 0; i < ready; i++)
		target_free(&tgs[i]);
	free(tgs);
	cli_free(&cfg);
	return rc;
}
