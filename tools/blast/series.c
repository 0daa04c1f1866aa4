/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "tools/blast/hdrlog.h"
#include "tools/blast/series.h"
#include "tools/blast/view.h"

int series_init(struct series *s, unsigned nthreads, FILE *csv, const char *url)
{
	memset(s, 0, sizeof *s);
	s->marker = calloc(nthreads, sizeof *s->marker);
	if (!s->marker)
		return -1;
	pthread_mutex_init(&s->mu, NULL);
	s->nthreads = nthreads;
	for (unsigned i = 0; i < SERIES_RING; i++)
		hist_init(&s->slot[i].h);
	hist_init(&s->sofar);
	s->csv = csv;
	s->url = url;
	return 0;
}

void series_destroy(struct series *s)
{
	pthread_mutex_destroy(&s->mu);
	free(s->marker);
	s->marker = NULL;
}

void series_started(struct series *s, uint64_t wall_ns)
{
	if (s->hdr)
		hdrlog_run(s->hdr, s->run_index, s->url, wall_ns);
}

void series_publish(struct series *s, unsigned tid, uint64_t sec, const struct series_part *p,
		    int final)
{
	pthread_mutex_lock(&s->mu);
	if (!p->h) {
		/* final, with nothing in second `sec`: only "this thread is done" */
	} else if (sec >= s->next_sec && sec < s->next_sec + SERIES_RING) {
		struct series_slot *sl = &s->slot[sec % SERIES_RING];
		if (p->h->total)
			hist_merge(&sl->h, p->h);
		sl->req += p->req;
		sl->err += p->err;
		sl->inflight += p->inflight;
		if (p->len_ns > sl->len_ns)
			sl->len_ns = p->len_ns;
		if (sec + 1 > s->published)
			s->published = sec + 1;
	} else {
		s->dropped++;
	}
	s->marker[tid] = final ? UINT64_MAX : sec + 1;
	pthread_mutex_unlock(&s->mu);
}

void format_latency(double ns, char *buf, size_t len)
{
	if (ns < 1e3)
		snprintf(buf, len, "%.0fns", ns);
	else if (ns < 1e6)
		snprintf(buf, len, "%.2fus", ns / 1e3);
	else if (ns < 1e9)
		snprintf(buf, len, "%.2fms", ns / 1e6);
	else
		snprintf(buf, len, "%.2fs", ns / 1e9);
}

void series_csv_header(FILE *csv)
{
	fputs("url,second,requests,errors,p50_ms,p99_ms\n", csv);
}

/* One finished second to every output.  Called with mu held. */
static void emit(struct series *s, uint64_t sec)
{
	struct series_slot *sl = &s->slot[sec % SERIES_RING];
	if (s->csv)
		fprintf(s->csv, "%s,%llu,%llu,%llu,%.3f,%.3f\n", s->url, (unsigned long long)sec + 1,
			(unsigned long long)sl->req, (unsigned long long)sl->err,
			hist_percentile(&sl->h, 50) / 1e6, hist_percentile(&sl->h, 99) / 1e6);
	hist_merge(&s->sofar, &sl->h);
	s->sofar_req += sl->req;
	s->sofar_err += sl->err;
	struct series_sec out = {
		.index = sec, .len_ns = sl->len_ns ? sl->len_ns : SERIES_SEC_NS, .h = &sl->h,
		.req = sl->req, .err = sl->err, .inflight = sl->inflight, .sofar = &s->sofar,
		.sofar_req = s->sofar_req, .sofar_err = s->sofar_err,
	};
	if (s->view)
		view_second(s->view, &out);
	if (s->hdr)
		hdrlog_second(s->hdr, &out);
	hist_init(&sl->h);
	sl->req = sl->err = sl->inflight = sl->len_ns = 0;
}

void series_poll(struct series *s, int all_done)
{
	pthread_mutex_lock(&s->mu);
	uint64_t ready = UINT64_MAX;
	for (unsigned i = 0; i < s->nthreads; i++)
		if (s->marker[i] < ready)
			ready = s->marker[i];
	if (all_done || ready > s->published)
		ready = s->published;
	while (s->next_sec < ready) {
		emit(s, s->next_sec);
		s->next_sec++;
	}
	pthread_mutex_unlock(&s->mu);
	if (s->csv)
		fflush(s->csv);
}
