/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"

#include <string.h>

#include "tools/blast/chart.h"
#include "tools/blast/view.h"

#define BAR_WIDTH 30

void view_start(struct view *v, FILE *out, enum view_mode mode, const char *label,
		uint64_t duration_ns, uint64_t requests)
{
	memset(v, 0, sizeof *v);
	v->out = out;
	v->mode = mode;
	v->label = label;
	v->duration_ns = duration_ns;
	v->requests = requests;
	if (mode == VIEW_LIVE) {
		fprintf(out, "blast: %s\n  starting...\n", label);
		v->drawn = 2;
		fflush(out);
	}
}

/* "[=========>          ]  3s of 10s" or "... 52% of 1000000 requests" */
static void progress(const struct view *v, const struct series_sec *sec, char *buf, size_t len)
{
	double done;
	uint64_t secs = sec->index + 1;
	if (v->duration_ns)
		done = (double)(sec->index * SERIES_SEC_NS + sec->len_ns) / (double)v->duration_ns;
	else
		done = (double)(sec->sofar_req + sec->sofar_err) / (double)v->requests;
	done = done > 1 ? 1 : done;
	unsigned fill = (unsigned)(done * BAR_WIDTH);
	char bar[BAR_WIDTH + 1];
	for (unsigned i = 0; i < BAR_WIDTH; i++)
		bar[i] = i < fill ? '=' : i == fill ? '>' : ' ';
	bar[BAR_WIDTH] = 0;
	if (v->duration_ns)
		snprintf(buf, len, "[%s] %llus of %gs", bar, (unsigned long long)secs,
			 (double)v->duration_ns / 1e9);
	else
		snprintf(buf, len, "[%s] %.0f%% of %llu requests", bar, done * 100,
			 (unsigned long long)v->requests);
}

static double rate(const struct series_sec *sec)
{
	return (double)sec->req * 1e9 / (double)sec->len_ns;
}

static void live(struct view *v, const struct series_sec *sec)
{
	char bar[128], p50[32], p99[32], max[32];
	FILE *o = v->out;
	if (v->drawn)
		fprintf(o, "\033[%uA\r\033[J", v->drawn); /* back to the top, erase below */
	progress(v, sec, bar, sizeof bar);
	format_latency((double)hist_percentile(sec->sofar, 50), p50, sizeof p50);
	format_latency((double)hist_percentile(sec->sofar, 99), p99, sizeof p99);
	format_latency((double)sec->sofar->max, max, sizeof max);
	fprintf(o, "blast: %s\n  %s\n", v->label, bar);
	fprintf(o, "  %.0f req/s   errors %llu (total %llu)   in flight %llu   responses %llu\n",
		rate(sec), (unsigned long long)sec->err, (unsigned long long)sec->sofar_err,
		(unsigned long long)sec->inflight, (unsigned long long)sec->sofar_req);
	fprintf(o, "  latency so far: p50 %s  p99 %s  max %s\n", p50, p99, max);
	struct chart_bin bins[CHART_MAX_ROWS];
	unsigned rows = chart_bins(sec->sofar, VIEW_CHART_ROWS, bins);
	chart_print(o, sec->sofar, VIEW_CHART_ROWS, BAR_WIDTH, "  ");
	v->drawn = 4 + (rows ? rows : 1);
	fflush(o);
}

static void line(struct view *v, const struct series_sec *sec)
{
	char p99[32];
	format_latency((double)hist_percentile(sec->sofar, 99), p99, sizeof p99);
	fprintf(v->out, "blast: %4llus %10.0f req/s  errors %llu  in flight %llu  p99 so far %s\n",
		(unsigned long long)sec->index + 1, rate(sec), (unsigned long long)sec->err,
		(unsigned long long)sec->inflight, p99);
	fflush(v->out);
}

void view_second(struct view *v, const struct series_sec *sec)
{
	if (v->mode == VIEW_LIVE)
		live(v, sec);
	else if (v->mode == VIEW_LINES)
		line(v, sec);
}

void view_end(struct view *v)
{
	if (v->mode == VIEW_LIVE && v->drawn) {
		fprintf(v->out, "\033[%uA\r\033[J", v->drawn);
		fflush(v->out);
	}
	v->drawn = 0;
}
