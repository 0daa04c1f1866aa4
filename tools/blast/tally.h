/* SPDX-License-Identifier: BSD-2-Clause */
/* Counters of one run: per thread while running, merged at the end. */
#ifndef BLAST_TALLY_H
#define BLAST_TALLY_H

#include <stdint.h>

#include "tools/blast/hist.h"

enum err_kind {
	ERR_CONNECT,  /* socket()/connect() failed or timed out */
	ERR_READ,     /* recv() failed (e.g. ECONNRESET) */
	ERR_WRITE,    /* send() failed (e.g. EPIPE) */
	ERR_TIMEOUT,  /* no complete response within --timeout */
	ERR_PARSE,    /* malformed response or unsolicited bytes */
	ERR_CLOSED,   /* peer closed with requests outstanding */
	ERR_TLS,      /* TLS handshake failed (certificate, protocol) */
	ERR_KINDS
};

#define ERRNO_SLOTS 256 /* errno values >= this share the last slot */
#define STATUS_SLOTS 600

struct stats {
	struct hist lat;     /* corrected: from intended send time */
	struct hist lat_raw; /* uncorrected: from actual send (open loop only) */
	uint64_t status[STATUS_SLOTS];
	uint64_t status_other;
	uint64_t errors[ERR_KINDS][ERRNO_SLOTS];
	uint64_t issued;     /* requests handed to the socket */
	uint64_t responses;  /* complete responses parsed */
	uint64_t bytes_in;
	uint64_t connects;   /* connections established */
	uint64_t reconnects; /* connections re-opened after a close */
	uint64_t retried;    /* re-sent after the server announced a close */
	uint64_t unfinished; /* still in flight when a timed run ended */
	uint64_t backlog;    /* open loop: due but never sent by the end */
	uint64_t late;       /* open loop: sent > 1 ms after its intended time */
	uint64_t lag_sum_ns; /* open loop: sum of (actual - intended) send time */
	uint64_t lag_max_ns;
	uint64_t gave_up;    /* threads that stopped: server unreachable (-n) */
	uint64_t tls_handshakes; /* completed TLS handshakes */
	uint64_t tls_resumed;    /* ... that resumed a session */
};

void stats_init(struct stats *s);
void stats_merge(struct stats *dst, const struct stats *src);

static inline void stats_error(struct stats *s, enum err_kind kind, int err, uint64_t n)
{
	unsigned slot = err < 0 ? 0 : (unsigned)err;
	if (slot >= ERRNO_SLOTS)
		slot = ERRNO_SLOTS - 1;
	s->errors[kind][slot] += n;
}

static inline void stats_status(struct stats *s, unsigned code)
{
	if (code < STATUS_SLOTS)
		s->status[code]++;
	else
		s->status_other++;
}

uint64_t stats_errors_total(const struct stats *s);
/* Errors that lost a request (everything but connect and TLS handshake
 * failures). */
uint64_t stats_request_errors(const struct stats *s);
const char *err_kind_name(enum err_kind k);
int err_kind_from_name(const char *name);
/* "ECONNREFUSED", or "" for errno 0. */
const char *errno_name(int err);

#endif
