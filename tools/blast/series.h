/* Per-second aggregation for the progress line and --csv-series.
 *
 * Each worker keeps an interval histogram for the current second and, once
 * the second is over, adds it into a small ring of slots under a mutex
 * (once per second per thread: nothing on the per-request path).  The main
 * thread emits second s as soon as every live thread has published it.
 */
#ifndef BLAST_SERIES_H
#define BLAST_SERIES_H

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

#include "tools/blast/hist.h"

#define SERIES_RING 8

struct series_slot {
	struct hist h;
	uint64_t req, err;
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
	int progress;         /* print the live line on stdout */
	int line_shown;
};

int series_init(struct series *s, unsigned nthreads, FILE *csv, const char *url, int progress);
void series_destroy(struct series *s);
/* Worker: second `sec` is complete for thread `tid`.  `final` marks the
 * thread's last publication (its partial last second); with h == NULL it
 * only says the thread is done and publishes no second. */
void series_publish(struct series *s, unsigned tid, uint64_t sec, const struct hist *h,
		    uint64_t req, uint64_t err, int final);
/* Main: emit every second all threads have published; with `all_done`
 * emit whatever is left. */
void series_poll(struct series *s, int all_done);
/* Erase the progress line before the final report. */
void series_clear_line(struct series *s);
void series_csv_header(FILE *csv);
/* "1.23ms": latency with a unit picked for 3-4 significant digits. */
void format_latency(double ns, char *buf, size_t len);

#endif
