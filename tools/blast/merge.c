/* SPDX-License-Identifier: BSD-2-Clause */
/* `blast merge A.json B.json ...`: add up results of runs that happened
 * at the same time (e.g. several load generators against one server).
 * Results are matched by URL.  Counters and histogram buckets add, so the
 * merged percentiles are exactly what one generator recording everything
 * would have reported; throughput is total responses over the longest
 * elapsed time. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "tools/blast/json.h"
#include "tools/blast/merge.h"
#include "tools/blast/output.h"
#include "tools/blast/parse.h"

#define MERGE_FILE_MAX (1u << 30)

static int hist_from_json(const struct json *j, struct hist *h, char *err, size_t errlen)
{
	hist_init(h);
	if (!j)
		return 0;
	if (strcmp(json_get_str(j, "unit", ""), "ns") != 0 ||
	    json_get_u64(j, "sub_bucket_bits", 0) != HIST_SUB_BITS ||
	    json_get_u64(j, "max_bits", 0) != HIST_MAX_BITS) {
		snprintf(err, errlen, "histogram layout differs from this blast's");
		return -1;
	}
	const struct json *b = json_get(j, "buckets");
	uint64_t seen = 0;
	for (size_t i = 0; b && b->type == JSON_ARR && i < b->n; i++) {
		const struct json *pair = &b->items[i];
		if (pair->type != JSON_ARR || pair->n != 2 || !pair->items[0].is_uint ||
		    !pair->items[1].is_uint ||
		    hist_set_bucket(h, (uint32_t)pair->items[0].u, pair->items[1].u) < 0) {
			snprintf(err, errlen, "bad histogram bucket");
			return -1;
		}
		seen += pair->items[1].u;
	}
	h->total = json_get_u64(j, "total", 0);
	h->sum = json_get_u64(j, "sum", 0);
	h->clamped = json_get_u64(j, "clamped", 0);
	h->max = json_get_u64(j, "max", 0);
	h->min = h->total ? json_get_u64(j, "min", 0) : UINT64_MAX;
	if (seen != h->total) {
		snprintf(err, errlen, "histogram buckets do not add up to its total");
		return -1;
	}
	return 0;
}

static int counts_from_json(const struct json *r, struct stats *st, char *err, size_t errlen)
{
	const struct json *status = json_get(r, "status");
	for (size_t i = 0; status && status->type == JSON_OBJ && i < status->n; i++) {
		unsigned long code = strtoul(status->keys[i], NULL, 10);
		if (code >= STATUS_SLOTS || !status->items[i].is_uint) {
			snprintf(err, errlen, "bad status entry '%s'", status->keys[i]);
			return -1;
		}
		st->status[code] += status->items[i].u;
	}
	st->status_other = json_get_u64(r, "status_other", 0);
	const struct json *errs = json_get(r, "errors");
	for (size_t i = 0; errs && errs->type == JSON_ARR && i < errs->n; i++) {
		const struct json *e = &errs->items[i];
		int kind = err_kind_from_name(json_get_str(e, "kind", ""));
		uint64_t no = json_get_u64(e, "errno", ERRNO_SLOTS);
		if (kind < 0 || no >= ERRNO_SLOTS) {
			snprintf(err, errlen, "bad error entry");
			return -1;
		}
		st->errors[kind][no] += json_get_u64(e, "count", 0);
	}
	return 0;
}

int result_from_json(const struct json *r, struct run_result *out, char *err, size_t errlen)
{
	struct stats *st = &out->st;
	memset(out, 0, sizeof *out);
	stats_init(st);
	snprintf(out->url, sizeof out->url, "%s", json_get_str(r, "url", "?"));
	out->interrupted = json_get_num(r, "interrupted", 0) != 0;
	out->merged = (unsigned)json_get_u64(r, "merged", 1);
	out->elapsed_ns = json_get_u64(r, "elapsed_ns", 0);
	out->target_rate = json_get_num(r, "target_rate", 0);
	st->issued = json_get_u64(r, "requests", 0);
	st->responses = json_get_u64(r, "responses", 0);
	st->bytes_in = json_get_u64(r, "bytes_read", 0);
	st->connects = json_get_u64(r, "connects", 0);
	st->reconnects = json_get_u64(r, "reconnects", 0);
	st->retried = json_get_u64(r, "retried", 0);
	st->unfinished = json_get_u64(r, "unfinished", 0);
	st->gave_up = json_get_u64(r, "gave_up", 0);
	st->tls_handshakes = json_get_u64(r, "tls_handshakes", 0);
	st->tls_resumed = json_get_u64(r, "tls_resumed", 0);
	st->late = json_get_u64(r, "late_sends", 0);
	st->backlog = json_get_u64(r, "backlog", 0);
	st->lag_sum_ns = json_get_u64(r, "send_lag_sum_ns", 0);
	st->lag_max_ns = json_get_u64(r, "send_lag_max_ns", 0);
	if (counts_from_json(r, st, err, errlen) < 0)
		return -1;
	if (!json_get(r, "histogram")) {
		snprintf(err, errlen, "result without histogram");
		return -1;
	}
	if (hist_from_json(json_get(r, "histogram"), &st->lat, err, errlen) < 0 ||
	    hist_from_json(json_get(r, "histogram_uncorrected"), &st->lat_raw, err, errlen) < 0)
		return -1;
	return 0;
}

void result_merge(struct run_result *dst, const struct run_result *src)
{
	stats_merge(&dst->st, &src->st);
	if (src->elapsed_ns > dst->elapsed_ns)
		dst->elapsed_ns = src->elapsed_ns;
	dst->target_rate += src->target_rate;
	dst->interrupted |= src->interrupted;
	dst->merged += src->merged;
}

static void settings_from_json(const struct json *s, struct merge_set *set, int first)
{
	struct blast_config *cfg = &set->cfg;
	unsigned threads = (unsigned)json_get_u64(s, "threads", 0);
	unsigned conns = (unsigned)json_get_u64(s, "connections", 0);
	double rate = json_get_num(s, "rate", 0);
	if (!first) {
		/* generators running side by side add up */
		cfg->threads += threads;
		cfg->connections += conns;
		cfg->rate += rate;
		return;
	}
	cfg->threads = threads;
	cfg->connections = conns;
	cfg->rate = rate;
	cfg->pipeline = (unsigned)json_get_u64(s, "pipeline", 1);
	cfg->duration_ns = (uint64_t)(json_get_num(s, "duration_s", 0) * 1e9 + 0.5);
	cfg->warmup_ns = (uint64_t)(json_get_num(s, "warmup_s", 0) * 1e9 + 0.5);
	cfg->timeout_ns = (uint64_t)(json_get_num(s, "timeout_s", 0) * 1e9 + 0.5);
	cfg->requests = json_get_u64(s, "requests", 0);
	snprintf(set->method, sizeof set->method, "%s", json_get_str(s, "method", "GET"));
	cfg->method = set->method;
	const struct json *p = json_get(s, "percentiles");
	if (p && p->type == JSON_ARR && p->n > 0 && p->n <= BLAST_MAX_PCT) {
		cfg->npct = (unsigned)p->n;
		for (size_t i = 0; i < p->n; i++)
			cfg->pct[i] = p->items[i].num;
	}
}

/* Add one file's results into the merged set.  Returns -1 on error. */
int merge_document(const struct json *doc, struct merge_set *set, char *err, size_t errlen)
{
	const struct json *results = json_get(doc, "results");
	if (!results || results->type != JSON_ARR) {
		snprintf(err, errlen, "not a blast --json document (no results)");
		return -1;
	}
	settings_from_json(json_get(doc, "settings"), set, set->files == 0);
	set->files++;
	for (size_t i = 0; i < results->n; i++) {
		struct run_result *r = malloc(sizeof *r);
		if (!r || result_from_json(&results->items[i], r, err, errlen) < 0) {
			if (!r)
				snprintf(err, errlen, "out of memory");
			free(r);
			return -1;
		}
		unsigned k = 0;
		while (k < set->n && strcmp(set->res[k]->url, r->url) != 0)
			k++;
		if (k < set->n) {
			result_merge(set->res[k], r);
			free(r);
		} else if (set->n < MERGE_MAX) {
			set->res[set->n++] = r;
		} else {
			free(r);
			snprintf(err, errlen, "more than %d distinct URLs", MERGE_MAX);
			return -1;
		}
	}
	return 0;
}

void merge_set_free(struct merge_set *set)
{
	for (unsigned i = 0; i < set->n; i++)
		free(set->res[i]);
	set->n = 0;
}

static void merge_usage(FILE *f)
{
	fputs("Usage: blast merge [--json] [--percentiles LIST] RESULT.json...\n"
	      "Adds up the results of blast --json runs made at the same time, by URL.\n",
	      f);
}

int merge_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'j'}, {"percentiles", required_argument, NULL, 'p'},
		{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0},
	};
	struct merge_set set;
	double pct[BLAST_MAX_PCT];
	unsigned npct = 0;
	int json = 0, c, rc = 0;
	char err[256];

	memset(&set, 0, sizeof set);
	set.cfg.method = "GET";
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'j') {
			json = 1;
		} else if (c == 'p' && parse_percentiles(optarg, pct, &npct, BLAST_MAX_PCT) == 0) {
			continue;
		} else if (c == 'h') {
			merge_usage(stdout);
			return 0;
		} else {
			if (c == 'p')
				fprintf(stderr, "blast merge: invalid --percentiles '%s'\n", optarg);
			merge_usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		merge_usage(stderr);
		return 2;
	}
	for (int i = optind; i < argc && rc == 0; i++) {
		char *text;
		size_t len;
		struct json *doc = NULL;
		if (read_whole_file(argv[i], MERGE_FILE_MAX, &text, &len, err, sizeof err) == 0) {
			doc = json_parse(text, len, err, sizeof err);
			free(text);
		}
		if (!doc || merge_document(doc, &set, err, sizeof err) < 0) {
			fprintf(stderr, "blast merge: %s: %s\n", argv[i], err);
			rc = 2;
		}
		json_free(doc);
	}
	if (rc == 0) {
		if (npct) {
			memcpy(set.cfg.pct, pct, sizeof pct);
			set.cfg.npct = npct;
		}
		if (json)
			output_json(stdout, &set.cfg, set.res, set.n);
		else
			output_human(stdout, &set.cfg, set.res, set.n);
	}
	merge_set_free(&set);
	return rc;
}
