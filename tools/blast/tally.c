/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"

#include <string.h>

#include "tools/blast/tally.h"

static const char *const kind_names[ERR_KINDS] = {
	[ERR_CONNECT] = "connect", [ERR_READ] = "read",   [ERR_WRITE] = "write",
	[ERR_TIMEOUT] = "timeout", [ERR_PARSE] = "parse", [ERR_CLOSED] = "closed",
	[ERR_TLS] = "tls",
};

void stats_init(struct stats *s)
{
	memset(s, 0, sizeof *s);
	hist_init(&s->lat);
	hist_init(&s->lat_raw);
}

void stats_merge(struct stats *dst, const struct stats *src)
{
	hist_merge(&dst->lat, &src->lat);
	hist_merge(&dst->lat_raw, &src->lat_raw);
	for (unsigned i = 0; i < STATUS_SLOTS; i++)
		dst->status[i] += src->status[i];
	dst->status_other += src->status_other;
	for (unsigned k = 0; k < ERR_KINDS; k++)
		for (unsigned e = 0; e < ERRNO_SLOTS; e++)
			dst->errors[k][e] += src->errors[k][e];
	dst->issued += src->issued;
	dst->responses += src->responses;
	dst->bytes_in += src->bytes_in;
	dst->connects += src->connects;
	dst->reconnects += src->reconnects;
	dst->retried += src->retried;
	dst->unfinished += src->unfinished;
	dst->backlog += src->backlog;
	dst->late += src->late;
	dst->lag_sum_ns += src->lag_sum_ns;
	dst->gave_up += src->gave_up;
	dst->tls_handshakes += src->tls_handshakes;
	dst->tls_resumed += src->tls_resumed;
	if (src->lag_max_ns > dst->lag_max_ns)
		dst->lag_max_ns = src->lag_max_ns;
}

uint64_t stats_errors_total(const struct stats *s)
{
	uint64_t n = 0;
	for (unsigned k = 0; k < ERR_KINDS; k++)
		for (unsigned e = 0; e < ERRNO_SLOTS; e++)
			n += s->errors[k][e];
	return n;
}

uint64_t stats_request_errors(const struct stats *s)
{
	uint64_t n = stats_errors_total(s);
	for (unsigned e = 0; e < ERRNO_SLOTS; e++)
		n -= s->errors[ERR_CONNECT][e] + s->errors[ERR_TLS][e];
	return n;
}

const char *err_kind_name(enum err_kind k)
{
	return (unsigned)k < ERR_KINDS ? kind_names[k] : "?";
}

int err_kind_from_name(const char *name)
{
	for (int k = 0; k < ERR_KINDS; k++)
		if (strcmp(kind_names[k], name) == 0)
			return k;
	return -1;
}

const char *errno_name(int err)
{
	if (err == 0)
		return "";
	const char *n = strerrorname_np(err); /* glibc >= 2.32 */
	return n ? n : "E?";
}
