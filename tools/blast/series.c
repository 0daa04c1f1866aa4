#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "tools/blast/series.h"

int series_init(struct series *s, unsigned nthreads, FILE *csv, const char *url, int progress)
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
	s->progress = progress;
	return 0;
}

void series_destroy(struct series *s)
{
	pthread_mutex_destroy(&s->mu);
	free(s->marker);
	s->marker = NULL;
}

void series_publish(struct series *s, unsigned tid, uint64_t sec, const struct hist *h,
		    uint64_t req, uint64_t err, int final)
{
	pthread_mutex_lock(&s->mu);
	if (!h) {
		/* final, with nothing in second `sec`: only "this thread is done" */
	} else if (sec >= s->next_sec && sec < s->next_sec + SERIES_RING) {
		struct series_slot *sl = &s->slot[sec % SERIES_RING];
		if (h->total)
			hist_merge(&sl->h, h);
		sl->req += req;
		sl->err += err;
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

/* One finished second: CSV row, then the live line.  Called with mu held. */
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
	if (s->progress) {
		char p99[32];
		format_latency((double)hist_percentile(&s->sofar, 99), p99, sizeof p99);
		printf("\r%4llus  %10llu req/s  p99 so far %-9s  errors %llu\033[K",
		       (unsigned long long)sec + 1, (unsigned long long)sl->req, p99,
		       (unsigned long long)s->sofar_err);
		fflush(stdout);
		s->line_shown = 1;
	}
	hist_init(&sl->h);
	sl->req = sl->err = 0;
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

void series_clear_line(struct series *s)
{
	if (s->line_shown) {
		fputs("\r\033[K", stdout);
		fflush(stdout);
		s->line_shown = 0;
	}
}
