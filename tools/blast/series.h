/* SPDX-License-Identifier: BSD-2-Clause */
/* Per-second aggregation for the live view, --csv-series and --hdr-log.
 *
 * Each worker keeps an interval histogram for the current second and, once
 * the second is over, adds it into a small ring of slots under a mutex
 * (once per second per thread: nothing on the per-request path).  The main
 * thread emits second s as soon as every live thread has published it:
 * a CSV row, the view's refresh, an HdrHistogram log line.
 */
#ifndef BLAST_SERIES_H
#define BLAST_SERIES_H

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

#include "tools/blast/hist.h"

#define SERIES_RING 8
#define SERIES_SEC_NS 1000000000ull

struct view;
struct hdrlog;

/* One thread's share of one second. */
struct series_part {
	const struct hist *h; /* NULL: nothing, only "this thread is done" */
	uint64_t req, err;
	uint64_t inflight;    /* the thread's requests in flight at the end of it */
	uint64_t len_ns;      /* SERIES_SEC_NS, or less for a last, partial second */
};

/* One finished second, as the outputs see it. */
struct series_sec {
	uint64_t index;        /* 0-based second of the measured window */
	uint64_t len_ns;
	const struct hist *h;  /* this second's latencies */
	uint64_t req, err, inflight;
	const struct hist *sofar; /* every second up to this one */
	uint64_t sofar_req, sofar_err;
};

struct series_slot {
	struct hist h;
	uint64_t req, err, inflight, len_ns;
};

struct series {
	pthread_mutex_t mu;
	unsigned nthreads;
	uint64_t *marker;     /* per thread: seconds < marker are published */
	uint64_t published;   /* 1 + highest second any thread published */
	uint64_t next_sec;    /* next second the main thread emits */
	uint64_t dropped;     /* publications lost because main fell behind */
	struct series_slot slot[SERIES_RING];
	struct hist sofar;    /* everything emitted so far: "p99 so far" */
	uint64_t sofar_req, sofar_err;
	FILE *csv;            /* NULL: no CSV */
	const char *url;
	struct view *view;    /* NULL: no view */
	struct hdrlog *hdr;   /* NULL: no --hdr-log */
	unsigned run_index;   /* which URL of the command line, for --hdr-log */
};

int series_init(struct series *s, unsigned nthreads, FILE *csv, const char *url);
void series_destroy(struct series *s);
/* Main: the measured window opened at wall-clock time wall_ns. */
void series_started(struct series *s, uint64_t wall_ns);
/* Worker: thread `tid`'s share of second `sec`.  `final` marks the
 * thread's last publication. */
void series_publish(struct series *s, unsigned tid, uint64_t sec, const struct series_part *p,
		    int final);
/* Main: emit every second all threads have published; with `all_done`
 * emit whatever is left. */
void series_poll(struct series *s, int all_done);
void series_csv_header(FILE *csv);
/* "1.23ms": latency with a unit picked for 3-4 significant digits. */
void format_latency(double ns, char *buf, size_t len);

#endif
