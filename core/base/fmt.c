/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"

#include "core/base/fmt.h"

size_t fmt_u64(char *out, uint64_t v)
{
	char tmp[20];
	size_t n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (size_t i = 0; i < n; i++)
		out[i] = tmp[n - 1 - i];
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
