/* SPDX-License-Identifier: BSD-2-Clause */
/* The --json document.  Latency summaries are in microseconds for people;
 * the histograms are raw nanosecond buckets so `blast merge` can add them
 * exactly. */
#include "config.h"

#include "tools/blast/json.h"
#include "tools/blast/output.h"

#define U(x) ((unsigned long long)(x))

/* A percentile's key, as metricd's /stats names them too: "p", the
 * percentile, its decimal point an underscore (p50, p99_9, p99_99): a plain
 * identifier, so no reader mistakes it for a number or a path. */
static void put_pct_key(FILE *f, double pct)
{
	char num[32];

	snprintf(num, sizeof(num), "%g", pct);
	for (char *c = num; *c; c++)
		if (*c == '.')
			*c = '_';
	fprintf(f, "\"p%s\"", num);
}

static void put_summary(FILE *f, const struct blast_config *cfg, const struct hist *h)
{
	fprintf(f, "{\"count\": %llu, \"min_us\": %.3f, \"mean_us\": %.3f, \"stdev_us\": %.3f, "
		   "\"max_us\": %.3f, \"percentiles_us\": {",
		U(h->total), h->total ? (double)h->min / 1e3 : 0.0, hist_mean(h) / 1e3,
		hist_stdev(h) / 1e3, (double)h->max / 1e3);
	for (unsigned i = 0; i < cfg->npct; i++) {
		fputs(i ? ", " : "", f);
		put_pct_key(f, cfg->pct[i]);
		fprintf(f, ": %.3f", (double)hist_percentile(h, cfg->pct[i]) / 1e3);
	}
	fputs("}}", f);
}

static void put_hist(FILE *f, const struct hist *h)
{
	fprintf(f, "{\"unit\": \"ns\", \"sub_bucket_bits\": %u, \"max_bits\": %u, "
		   "\"total\": %llu, \"min\": %llu, \"max\": %llu, \"sum\": %llu, "
		   "\"clamped\": %llu, \"buckets\": [",
		HIST_SUB_BITS, HIST_MAX_BITS, U(h->total), U(h->total ? h->min : 0), U(h->max),
		U(h->sum), U(h->clamped));
	int first = 1;
	for (uint32_t i = 0; i < HIST_BUCKETS; i++) {
		if (!h->counts[i])
			continue;
		fprintf(f, "%s[%u, %llu]", first ? "" : ", ", i, U(h->counts[i]));
		first = 0;
	}
	fputs("]}", f);
}

static void put_settings(FILE *f, const struct blast_config *cfg)
{
	fprintf(f, "  \"settings\": {\"threads\": %u, \"connections\": %u, \"pipeline\": %u, "
		   "\"duration_s\": %.9g, \"requests\": %llu, \"warmup_s\": %.9g, "
		   "\"timeout_s\": %.9g, \"rate\": %.9g, \"method\": ",
		cfg->threads, cfg->connections, cfg->pipeline, (double)cfg->duration_ns / 1e9,
		U(cfg->requests), (double)cfg->warmup_ns / 1e9, (double)cfg->timeout_ns / 1e9,
		cfg->rate);
	json_put_str(f, cfg->method);
	fputs(", \"percentiles\": [", f);
	for (unsigned i = 0; i < cfg->npct; i++)
		fprintf(f, "%s%g", i ? ", " : "", cfg->pct[i]);
	fputs("]},\n", f);
}

static void put_status_and_errors(FILE *f, const struct stats *st)
{
	fputs("     \"status\": {", f);
	int first = 1;
	for (unsigned c = 0; c < STATUS_SLOTS; c++) {
		if (!st->status[c])
			continue;
		fprintf(f, "%s\"%u\": %llu", first ? "" : ", ", c, U(st->status[c]));
		first = 0;
	}
	fprintf(f, "},\n     \"status_other\": %llu,\n     \"errors_total\": %llu,\n"
		   "     \"errors\": [",
		U(st->status_other), U(stats_errors_total(st)));
	first = 1;
	for (unsigned k = 0; k < ERR_KINDS; k++)
		for (unsigned e = 0; e < ERRNO_SLOTS; e++) {
			if (!st->errors[k][e])
				continue;
			fprintf(f, "%s{\"kind\": \"%s\", \"errno\": %u, \"name\": \"%s\", "
				   "\"count\": %llu}",
				first ? "" : ", ", err_kind_name((enum err_kind)k), e,
				errno_name((int)e), U(st->errors[k][e]));
			first = 0;
		}
	fputs("],\n", f);
}

static void put_result(FILE *f, const struct blast_config *cfg, const struct run_result *r)
{
	const struct stats *st = &r->st;
	fputs("    {\"url\": ", f);
	json_put_str(f, r->url);
	fprintf(f, ",\n     \"interrupted\": %s, \"merged\": %u, \"elapsed_ns\": %llu, "
		   "\"elapsed_s\": %.6f,\n"
		   "     \"requests\": %llu, \"responses\": %llu, \"rps\": %.3f, "
		   "\"bytes_read\": %llu,\n"
		   "     \"connects\": %llu, \"reconnects\": %llu, \"retried\": %llu, "
		   "\"unfinished\": %llu, \"gave_up\": %llu,\n"
		   "     \"tls_handshakes\": %llu, \"tls_resumed\": %llu,\n",
		r->interrupted ? "true" : "false", r->merged, U(r->elapsed_ns),
		(double)r->elapsed_ns / 1e9, U(st->issued), U(st->responses), result_rps(r),
		U(st->bytes_in), U(st->connects), U(st->reconnects), U(st->retried),
		U(st->unfinished), U(st->gave_up), U(st->tls_handshakes), U(st->tls_resumed));
	fprintf(f, "     \"target_rate\": %.9g, \"rate_achieved\": %s, \"late_sends\": %llu, "
		   "\"backlog\": %llu, \"send_lag_sum_ns\": %llu, \"send_lag_max_ns\": %llu,\n",
		r->target_rate, rate_achieved(r) ? "true" : "false", U(st->late), U(st->backlog),
		U(st->lag_sum_ns), U(st->lag_max_ns));
	put_status_and_errors(f, st);
	fputs("     \"latency\": ", f);
	put_summary(f, cfg, &st->lat);
	if (r->target_rate > 0) {
		fputs(",\n     \"latency_uncorrected\": ", f);
		put_summary(f, cfg, &st->lat_raw);
	}
	fputs(",\n     \"histogram\": ", f);
	put_hist(f, &st->lat);
	if (r->target_rate > 0) {
		fputs(",\n     \"histogram_uncorrected\": ", f);
		put_hist(f, &st->lat_raw);
	}
	fputs("}", f);
}

void output_json(FILE *out, const struct blast_config *cfg, struct run_result *const *res,
		 unsigned n)
{
	fprintf(out, "{\n  \"blast_version\": \"%s\",\n", PACKAGE_VERSION);
	put_settings(out, cfg);
	fputs("  \"results\": [\n", out);
	for (unsigned i = 0; i < n; i++) {
		put_result(out, cfg, res[i]);
		fputs(i + 1 < n ? ",\n" : "\n", out);
	}
	fputs("  ]\n}\n", out);
}
