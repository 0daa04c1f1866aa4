/* SPDX-License-Identifier: BSD-2-Clause */
/* Numbers as text into a caller's buffer: no locale, no stdio, no
 * allocation.  Each returns the length written; out must have room (20
 * bytes for an integer, 32 for a fixed-point number). */
#ifndef METRICD_CORE_BASE_FMT_H
#define METRICD_CORE_BASE_FMT_H

#include <stddef.h>
#include <stdint.h>

size_t fmt_u64(char *out, uint64_t v);
size_t fmt_i64(char *out, int64_t v);
/* Fixed-point with 6 decimals; NaN prints as 0, values are clamped to
 * +-1e9 (the output then fits 32 bytes). */
size_t fmt_fixed6(char *out, double v);
/* The same with 0..9 decimals. */
size_t fmt_fixed(char *out, double v, unsigned decimals);

#endif
