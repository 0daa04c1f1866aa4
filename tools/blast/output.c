/* SPDX-License-Identifier: BSD-2-Clause */
/* The human-readable report: one column per URL, ratios to the first. */
#include "config.h"

#include <string.h>

#include "tools/blast/chart.h"
#include "tools/blast/output.h"

#define LABEL_W 26
#define CELL_W 14
#define RATIO_W 9
#define CELL_LEN 40
#define OUTPUT_CHART_ROWS 20
#define OUTPUT_CHART_WIDTH 40

double result_rps(const struct run_result *r)
{
	return r->elapsed_ns ? (double)r->st.responses * 1e9 / (double)r->elapsed_ns : 0.0;
}

/* Open loop: were the requests sent at the target rate?  Late sends alone
 * do not fail this (their latency is charged from the intended time); a
 * send rate 2 % short of the target or requests never sent do. */
int rate_achieved(const struct run_result *r)
{
	if (r->target_rate <= 0 || r->elapsed_ns == 0)
		return 1;
	double sent = (double)r->st.issued * 1e9 / (double)r->elapsed_ns;
	uint64_t slack = r->st.issued / 100;
	return sent >= 0.98 * r->target_rate && r->st.backlog <= (slack > 1 ? slack : 1);
}

/* One table row: a label, a cell per result and, when vals is given, the
 * ratio of each later result to the first. */
static void row(FILE *out, const char *label, char cells[][CELL_LEN], const double *vals,
		unsigned n)
{
	fprintf(out, "%-*s", LABEL_W, label);
	for (unsigned i = 0; i < n; i++)
		fprintf(out, " %*s", CELL_W, cells[i]);
	for (unsigned i = 1; vals && i < n; i++) {
		if (vals[0] > 0)
			fprintf(out, " %*.2fx", RATIO_W - 1, vals[i] / vals[0]);
		else
			fprintf(out, " %*s", RATIO_W, "-");
	}
	fputc('\n', out);
}

static void count_row(FILE *out, const char *label, const uint64_t *v, unsigned n, int ratio)
{
	char cells[BLAST_MAX_URLS][CELL_LEN];
	double vals[BLAST_MAX_URLS] = {0};
	for (unsigned i = 0; i < n; i++) {
		snprintf(cells[i], CELL_LEN, "%llu", (unsigned long long)v[i]);
		vals[i] = (double)v[i];
	}
	row(out, label, cells, ratio ? vals : NULL, n);
}

#define EACH_COUNT(label, expr, ratio)                             \
	do {                                                       \
		uint64_t v_[BLAST_MAX_URLS] = {0};                                    \
		for (unsigned i = 0; i < n; i++)                   \
			v_[i] = (expr);                            \
		count_row(out, label, v_, n, ratio);               \
	} while (0)

static void latency_rows(FILE *out, const struct blast_config *cfg, struct run_result *const *res,
			 unsigned n, int raw)
{
	char cells[BLAST_MAX_URLS][CELL_LEN], label[32];
	double vals[BLAST_MAX_URLS] = {0};
	const char *names[] = {"min", "mean", "stdev"};

	for (int k = 0; k < 3 + (int)cfg->npct + 1; k++) {
		for (unsigned i = 0; i < n; i++) {
			const struct hist *h = raw ? &res[i]->st.lat_raw : &res[i]->st.lat;
			double v;
			if (k == 0)
				v = (double)(h->total ? h->min : 0);
			else if (k == 1)
				v = hist_mean(h);
			else if (k == 2)
				v = hist_stdev(h);
			else if (k < 3 + (int)cfg->npct)
				v = (double)hist_percentile(h, cfg->pct[k - 3]);
			else
				v = (double)h->max;
			vals[i] = v;
			format_latency(v, cells[i], CELL_LEN);
		}
		if (k < 3)
			snprintf(label, sizeof label, "  %s", names[k]);
		else if (k < 3 + (int)cfg->npct)
			snprintf(label, sizeof label, "  p%g", cfg->pct[k - 3]);
		else
			snprintf(label, sizeof label, "  max");
		row(out, label, cells, vals, n);
	}
}

static void header(FILE *out, const struct blast_config *cfg, struct run_result *const *res,
		   unsigned n)
{
	char dur[64] = "";
	if (cfg->duration_ns)
		snprintf(dur, sizeof dur, ", %gs", (double)cfg->duration_ns / 1e9);
	if (cfg->requests)
		snprintf(dur + strlen(dur), sizeof dur - strlen(dur), ", %llu requests",
			 (unsigned long long)cfg->requests);
	fprintf(out, "blast %s: %u threads, %u connections, pipeline %u%s", PACKAGE_VERSION,
		cfg->threads, cfg->connections, cfg->pipeline, dur);
	if (cfg->warmup_ns)
		fprintf(out, ", warmup %gs", (double)cfg->warmup_ns / 1e9);
	if (cfg->rate > 0)
		fprintf(out, ", open loop at %g req/s\n", cfg->rate);
	else
		fputs(", closed loop\n", out);
	for (unsigned i = 0; i < n; i++)
		fprintf(out, "  #%u %s%s\n", i + 1, res[i]->url,
			res[i]->merged > 1 ? " (merged)" : "");
	fprintf(out, "\n%-*s", LABEL_W, "");
	for (unsigned i = 0; i < n; i++) {
		char h[16];
		snprintf(h, sizeof h, "#%u", i + 1);
		fprintf(out, " %*s", CELL_W, h);
	}
	for (unsigned i = 1; i < n; i++) {
		char h[16];
		snprintf(h, sizeof h, "#%u/#1", i + 1);
		fprintf(out, " %*s", RATIO_W, h);
	}
	fputc('\n', out);
}

static void throughput_rows(FILE *out, struct run_result *const *res, unsigned n)
{
	char cells[BLAST_MAX_URLS][CELL_LEN];
	double vals[BLAST_MAX_URLS] = {0};
	for (unsigned i = 0; i < n; i++) {
		vals[i] = result_rps(res[i]);
		snprintf(cells[i], CELL_LEN, "%.1f", vals[i]);
	}
	row(out, "responses/s", cells, vals, n);
	for (unsigned i = 0; i < n; i++) {
		double s = (double)res[i]->elapsed_ns / 1e9;
		vals[i] = s > 0 ? (double)res[i]->st.bytes_in / s / 1e6 : 0;
		snprintf(cells[i], CELL_LEN, "%.2f", vals[i]);
	}
	row(out, "read MB/s", cells, vals, n);
	for (unsigned i = 0; i < n; i++) {
		vals[i] = (double)res[i]->elapsed_ns / 1e9;
		snprintf(cells[i], CELL_LEN, "%.3fs", vals[i]);
	}
	row(out, "elapsed", cells, NULL, n);
}

static void open_loop_rows(FILE *out, struct run_result *const *res, unsigned n)
{
	char cells[BLAST_MAX_URLS][CELL_LEN];
	double vals[BLAST_MAX_URLS] = {0};
	for (unsigned i = 0; i < n; i++) {
		double s = (double)res[i]->elapsed_ns / 1e9;
		vals[i] = s > 0 ? (double)res[i]->st.issued / s : 0;
		snprintf(cells[i], CELL_LEN, "%.1f", vals[i]);
	}
	row(out, "sent/s (target rate)", cells, vals, n);
	EACH_COUNT("sent > 1ms late", res[i]->st.late, 0);
	for (unsigned i = 0; i < n; i++) {
		const struct stats *st = &res[i]->st;
		format_latency(st->issued ? (double)st->lag_sum_ns / (double)st->issued : 0,
			       cells[i], CELL_LEN);
	}
	row(out, "mean send lag", cells, NULL, n);
	for (unsigned i = 0; i < n; i++)
		format_latency((double)res[i]->st.lag_max_ns, cells[i], CELL_LEN);
	row(out, "max send lag", cells, NULL, n);
	EACH_COUNT("due but never sent", res[i]->st.backlog, 0);
}

/* Status codes that occur in any result. */
static void status_rows(FILE *out, struct run_result *const *res, unsigned n)
{
	char label[64];
	for (unsigned code = 0; code < STATUS_SLOTS; code++) {
		int any = 0;
		for (unsigned i = 0; i < n; i++)
			any |= res[i]->st.status[code] != 0;
		if (!any)
			continue;
		snprintf(label, sizeof label, "  %u", code);
		EACH_COUNT(label, res[i]->st.status[code], 0);
	}
	int other = 0;
	for (unsigned i = 0; i < n; i++)
		other |= res[i]->st.status_other != 0;
	if (other)
		EACH_COUNT("  other (>= 600)", res[i]->st.status_other, 0);
}

/* (kind, errno) pairs that occur in any result. */
static void error_rows(FILE *out, struct run_result *const *res, unsigned n)
{
	char label[64];
	EACH_COUNT("errors", stats_errors_total(&res[i]->st), 0);
	for (unsigned k = 0; k < ERR_KINDS; k++)
		for (unsigned e = 0; e < ERRNO_SLOTS; e++) {
			int any = 0;
			for (unsigned i = 0; i < n; i++)
				any |= res[i]->st.errors[k][e] != 0;
			if (!any)
				continue;
			snprintf(label, sizeof label, "  %s %s", err_kind_name((enum err_kind)k),
				 errno_name((int)e));
			EACH_COUNT(label, res[i]->st.errors[k][e], 0);
		}
}

/* Things a reader must not miss, after the table. */
static void notes(FILE *out, struct run_result *const *res, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		const struct run_result *r = res[i];
		if (r->interrupted)
			fprintf(out, "#%u: interrupted after %.3fs; results so far.\n", i + 1,
				(double)r->elapsed_ns / 1e9);
		if (!rate_achieved(r))
			fprintf(out,
				"#%u: target rate of %g req/s NOT achieved: sent %.1f req/s, "
				"%llu sent late, %llu never sent.\n",
				i + 1, r->target_rate,
				r->elapsed_ns ? (double)r->st.issued * 1e9 / (double)r->elapsed_ns : 0,
				(unsigned long long)r->st.late, (unsigned long long)r->st.backlog);
		if (r->target_rate > 0 && r->st.late > r->st.issued / 100) {
			char mean[32], max[32];
			format_latency((double)r->st.lag_sum_ns / (double)r->st.issued, mean,
				       sizeof mean);
			format_latency((double)r->st.lag_max_ns, max, sizeof max);
			fprintf(out,
				"#%u: %llu requests (%.1f%%) went out more than 1 ms after their "
				"intended time (mean lag %s, max %s): the server was busy or this "
				"machine woke blast late; corrected latency includes it.\n",
				i + 1, (unsigned long long)r->st.late,
				100.0 * (double)r->st.late / (double)r->st.issued, mean, max);
		}
		if (r->st.gave_up)
			fprintf(out, "#%u: gave up: no connection to the server for --timeout; "
				"%llu of the requested requests were sent.\n", i + 1,
				(unsigned long long)r->st.issued);
		if (r->st.lat.clamped)
			fprintf(out, "#%u: %llu latencies above the histogram range were clamped.\n",
				i + 1, (unsigned long long)r->st.lat.clamped);
	}
}

void output_human(FILE *out, const struct blast_config *cfg, struct run_result *const *res,
		  unsigned n)
{
	int open_loop = cfg->rate > 0;
	header(out, cfg, res, n);
	EACH_COUNT("requests sent", res[i]->st.issued, 1);
	EACH_COUNT("responses", res[i]->st.responses, 1);
	throughput_rows(out, res, n);
	if (open_loop)
		open_loop_rows(out, res, n);
	fputs(open_loop ? "latency, corrected (from intended send time)\n"
			: "latency (from send)\n", out);
	latency_rows(out, cfg, res, n, 0);
	if (open_loop) {
		fputs("latency, uncorrected (from actual send; hides stalls)\n", out);
		latency_rows(out, cfg, res, n, 1);
	}
	fputs("status\n", out);
	status_rows(out, res, n);
	error_rows(out, res, n);
	EACH_COUNT("connects", res[i]->st.connects, 0);
	int tls = 0;
	for (unsigned i = 0; i < n; i++)
		tls |= res[i]->st.tls_handshakes != 0;
	if (tls) {
		EACH_COUNT("TLS handshakes", res[i]->st.tls_handshakes, 0);
		EACH_COUNT("  resumed", res[i]->st.tls_resumed, 0);
	}
	EACH_COUNT("reconnects", res[i]->st.reconnects, 0);
	EACH_COUNT("retried after close", res[i]->st.retried, 0);
	EACH_COUNT("unfinished at end", res[i]->st.unfinished, 0);
	notes(out, res, n);
	for (unsigned i = 0; cfg->histogram && i < n; i++) {
		fprintf(out, "\nlatency histogram #%u%s\n", i + 1,
			open_loop ? " (corrected)" : "");
		chart_print(out, &res[i]->st.lat, OUTPUT_CHART_ROWS, OUTPUT_CHART_WIDTH, "  ");
	}
}
