/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"

#include "core/base/fmt.h"

/* "00" to "99": two digits per division, the number written in place from
 * its last digit (its length is known first).  Every answer of the stack
 * path carries a 19-digit timestamp: one digit per division was 6% of
 * the server's CPU with pipelining (docs/BENCHMARKS.md). */
static const char digit_pairs[201] =
	"00010203040506070809101112131415161718192021222324252627282930313233343536373839"
	"40414243444546474849505152535455565758596061626364656667686970717273747576777879"
	"8081828384858687888990919293949596979899";

static size_t digits_u64(uint64_t v)
{
	size_t n = 1;

	while (v >= 10000) {
		v /= 10000;
		n += 4;
	}
	return n + (v >= 10) + (v >= 100) + (v >= 1000);
}

size_t fmt_u64(char *out, uint64_t v)
{
	size_t n = digits_u64(v), i = n;

	while (v >= 100) {
		unsigned pair = (unsigned)(v % 100) * 2;

		v /= 100;
		out[--i] = digit_pairs[pair + 1];
		out[--i] = digit_pairs[pair];
	}
	if (v >= 10) {
		out[--i] = digit_pairs[v * 2 + 1];
		out[--i] = digit_pairs[v * 2];
	} else {
		out[--i] = (char)('0' + v);
	}
	return n;
}

size_t fmt_i64(char *out, int64_t v)
{
	if (v < 0) {
		out[0] = '-';
		return 1 + fmt_u64(out + 1, (uint64_t)0 - (uint64_t)v);
	}
	return fmt_u64(out, (uint64_t)v);
}

size_t fmt_fixed(char *out, double v, unsigned decimals)
{
	static const uint64_t pow10[] = { 1, 10, 100, 1000, 10000, 100000,
					  1000000, 10000000, 100000000,
					  1000000000 };
	size_t n = 0;

	if (decimals > 9)
		decimals = 9;
	if (!(v == v))
		v = 0;               /* NaN never leaves as JSON */
	if (v < 0) {
		out[n++] = '-';
		v = -v;
	}
	if (v > 1e9)
		v = 1e9;
	uint64_t scale = pow10[decimals];
	uint64_t scaled = (uint64_t)(v * (double)scale + 0.5);
	uint64_t frac = scaled % scale;

	n += fmt_u64(out + n, scaled / scale);
	if (decimals == 0)
		return n;
	out[n++] = '.';
	for (int d = (int)decimals - 1; d >= 0; d--) {
		out[n + (size_t)d] = (char)('0' + frac % 10);
		frac /= 10;
	}
	return n + decimals;
}

size_t fmt_fixed6(char *out, double v)
{
	return fmt_fixed(out, v, 6);
}
