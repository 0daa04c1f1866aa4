/* SPDX-License-Identifier: BSD-2-Clause */
/* The request bytes of a run, all formatted before it starts.
 *
 * A run sends one request over and over or, with an {id} template and
 * --ids, or with --urls, a fixed set of distinct requests.  Every one of
 * them is formatted here, once, into one buffer, back to back in the
 * order a thread walks through them; then the first `wrap` (= pipeline -
 * 1) are repeated after the last.  So any run of up to `pipeline`
 * consecutive requests, across the end too, is one contiguous range of
 * bytes: one send() for a pipelined window, exactly as when the request
 * never changes.  On the hot path a request is only an index; nothing is
 * formatted per request.
 */
#ifndef BLAST_REQUEST_H
#define BLAST_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#include "tools/blast/cli.h"
#include "tools/blast/url.h"

#define REQUEST_MAX_COUNT (1u << 24)     /* distinct requests */
#define REQUEST_MAX_BYTES (256u << 20)   /* all of them, pre-built */
#define REQUEST_ID_TOKEN "{id}"

struct request {
	char *buf;      /* entry e (0 <= e < n + wrap) holds request e % n */
	size_t *off;    /* n + wrap + 1 offsets into buf */
	uint32_t n;     /* distinct requests */
	uint32_t wrap;  /* entries repeated after the last */
	int is_head;    /* HEAD: responses carry no body */
};

static inline size_t request_len(const struct request *r, uint32_t i)
{
	return r->off[i + 1] - r->off[i];
}

/* Formats "METHOD path HTTP/1.1", Host (unless given with -H), the
 * user's headers, Content-Length when there is a body (unless given),
 * then the body -- for each of the nurls URLs and, with cfg->ids, each id
 * in turn, {id} replaced in the path, the headers and the body.  Request
 * i is id (i / nurls), URL (i % nurls): consecutive requests go round the
 * URLs.  Returns 0, or -1 with a message in err. */
int request_build(const struct blast_config *cfg, const struct url *urls, unsigned nurls,
		  unsigned pipeline, struct request *r, char *err, size_t errlen);
void request_free(struct request *r);

/* Where thread t of nthreads starts in the set: the set cut into equal
 * blocks, so that `-n` equal to the set's size sends each request once. */
uint32_t request_first(uint32_t n, unsigned t, unsigned nthreads);

#endif
