/* SPDX-License-Identifier: BSD-2-Clause */
/* The text ring: access-log text that travels beside the request ring.
 *
 * A descriptor (http/request.h) is 48 bytes and holds no pointer into
 * memory the acceptor reuses, so the bytes the access log shows of a
 * request - its target, Referer and User-Agent, which are in the
 * connection's read buffer - cross to the worker in a byte ring of their
 * own, one per worker, single producer (the acceptor) and single consumer
 * (the worker).  A record is
 *
 *     [u16 target_len][u16 referer_len][u16 ua_len][target][referer][ua]
 *
 * (native byte order: both ends are one process), each field at most its
 * http_log_max() bytes; a longer one is cut and ends in "...".  The
 * descriptor says how many bytes its record takes (log_len; 0: none).
 *
 * Order.  Records are consumed one per descriptor with log_len > 0, in ring
 * order, so a record must be in the ring exactly when its descriptor is:
 * the acceptor first makes sure the request ring has a free slot (it is
 * that ring's only producer, so the slot stays free), then writes the
 * record, then pushes the descriptor.  A record that does not fit is not
 * written and the descriptor goes with log_len 0 (the line is still
 * logged, with "-" for these fields, and the acceptor counts it).  The
 * worker takes the record when it pops the descriptor, before deciding to
 * answer, hold or drop it (workers/worker.c).
 *
 * Memory ordering.  The producer copies the record, then publishes the new
 * tail with a release store, then pushes the descriptor; the consumer, who
 * popped the descriptor, loads the tail with acquire (so it sees the
 * record's bytes: the descriptor push came after the tail store), copies
 * the record out, then publishes the new head with a release store; the
 * producer loads the head with acquire before it reuses the space.  Head
 * and tail are on their own cache lines.  The buffer is mmap'd: a worker
 * whose access log is off never touches its pages. */
#ifndef METRICD_QUEUE_TEXT_H
#define METRICD_QUEUE_TEXT_H

#include <stdbool.h>
#include <stdint.h>

#include "http/framing.h"

#define QUEUE_TEXT_SIZE (256u << 10)      /* a power of two */
#define QUEUE_TEXT_HDR 6u
/* The largest record: a worker's copy of one is this big. */
#define QUEUE_TEXT_MAX (QUEUE_TEXT_HDR + HTTP_LOG_TARGET_MAX + \
			HTTP_LOG_REFERER_MAX + HTTP_LOG_UA_MAX)

struct queue_text {
	char *buf;
	uint64_t head __attribute__((aligned(64)));   /* written by the consumer */
	uint64_t tail __attribute__((aligned(64)));   /* written by the producer */
} __attribute__((aligned(64)));

/* A record as the worker reads it, pointing into its copy. */
struct queue_text_rec {
	const char *field[HTTP_LOG_FIELDS];
	uint16_t len[HTTP_LOG_FIELDS];
};

int queue_text_init(struct queue_text *t);
void queue_text_destroy(struct queue_text *t);

/* Producer: one record of the fields (spans of buf; len 0: absent),
 * published.  Returns its size, or 0 when the ring has no room for it
 * (then nothing is written). */
uint16_t queue_text_put(struct queue_text *t, const char *buf,
			const struct http_span span[HTTP_LOG_FIELDS]);

/* Consumer: copies the next record, len bytes (its descriptor's log_len),
 * into out (QUEUE_TEXT_MAX bytes) and gives its room back.  A record that
 * is not there is a broken invariant: it aborts. */
void queue_text_take(struct queue_text *t, char *out, uint16_t len);

/* Reads a record (len bytes); false if it is not one. */
bool queue_text_parse(const char *rec, uint16_t len, struct queue_text_rec *out);

#endif
