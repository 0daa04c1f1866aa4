/* SPDX-License-Identifier: BSD-2-Clause */
/* A bounded string builder over a caller-owned buffer: no allocation, no
 * stdio.  Writes stop at the capacity and set `full`, so a caller checks
 * once at the end instead of after every append. */
#ifndef METRICD_CORE_BASE_SBUF_H
#define METRICD_CORE_BASE_SBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/base/fmt.h"

struct sbuf {
	char *p;
	size_t len, cap;
	bool full;
};

static inline void sbuf_init(struct sbuf *b, char *p, size_t cap)
{
	b->p = p;
	b->len = 0;
	b->cap = cap;
	b->full = false;
}

static inline void sbuf_putn(struct sbuf *b, const char *s, size_t n)
{
	if (b->full || n > b->cap - b->len) {
		b->full = true;
		return;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

static inline void sbuf_puts(struct sbuf *b, const char *s)
{
	sbuf_putn(b, s, strlen(s));
}

static inline void sbuf_u64(struct sbuf *b, uint64_t v)
{
	char tmp[24];

	sbuf_putn(b, tmp, fmt_u64(tmp, v));
}

/* Non-negative ratio with 3 decimals ("0.000" when den is 0). */
static inline void sbuf_ratio(struct sbuf *b, double num, double den)
{
	char tmp[40];
	double v = den > 0 ? num / den : 0;

	sbuf_putn(b, tmp, fmt_fixed(tmp, v, 3));
}

#endif
