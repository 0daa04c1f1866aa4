/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/blast/parse.h"

int parse_duration(const char *s, uint64_t *ns)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (end == s || errno || !isfinite(v) || v <= 0 || *s == '-' || *s == '+')
		return -1;
	double mult;
	if (*end == 0 || strcmp(end, "s") == 0)
		mult = 1e9;
	else if (strcmp(end, "ms") == 0)
		mult = 1e6;
	else if (strcmp(end, "us") == 0)
		mult = 1e3;
	else if (strcmp(end, "ns") == 0)
		mult = 1;
	else if (strcmp(end, "m") == 0 || strcmp(end, "min") == 0)
		mult = 60e9;
	else if (strcmp(end, "h") == 0)
		mult = 3600e9;
	else
		return -1;
	double r = v * mult;
	if (r < 1 || r > 86400e9)
		return -1;
	*ns = (uint64_t)(r + 0.5);
	return 0;
}

int parse_count(const char *s, uint64_t *out)
{
	char *end;
	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno)
		return -1;
	uint64_t mult = 1;
	if (*end == 'k' || *end == 'K')
		mult = 1000, end++;
	else if (*end == 'm' || *end == 'M')
		mult = 1000000, end++;
	if (*end || v == 0 || v > UINT64_MAX / mult)
		return -1;
	*out = (uint64_t)v * mult;
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int parse_percentiles(const char *s, double *out, unsigned *n, unsigned max)
{
	unsigned k = 0;
	const char *p = s;
	while (*p) {
		char *end;
		errno = 0;
		double v = strtod(p, &end);
		if (end == p || errno || !(v > 0 && v <= 100) || k == max)
			return -1;
		out[k++] = v;
		if (*end == ',' && end[1])
			end++;
		else if (*end)
			return -1;
		p = end;
	}
	if (k == 0)
		return -1;
	qsort(out, k, sizeof *out, cmp_double);
	*n = k;
	return 0;
}

/* Decimal digits only (no sign, no space, no suffix), below 10^18. */
static const char *parse_decimal(const char *s, uint64_t *v)
{
	uint64_t x = 0;
	const char *p = s;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (p - s == 18)
			return NULL;
		x = x * 10 + (uint64_t)(*p - '0');
	}
	if (p == s)
		return NULL;
	*v = x;
	return p;
}

int parse_range(const char *s, uint64_t *lo, uint64_t *hi)
{
	uint64_t a, b;
	const char *p = parse_decimal(s, &a);
	if (!p || *p != '-')
		return -1;
	p = parse_decimal(p + 1, &b);
	if (!p || *p || a > b)
		return -1;
	*lo = a;
	*hi = b;
	return 0;
}

int read_whole_file(const char *path, size_t max, char **out, size_t *len, char *err,
		    size_t errlen)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		snprintf(err, errlen, "cannot open '%s': %s", path, strerror(errno));
		return -1;
	}
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);
	errno = 0;
	int too_big = 0;
	while (buf) {
		if (n + 1 >= cap) {
			char *nb = cap <= max ? realloc(buf, cap * 2) : NULL;
			if (!nb) {
				too_big = cap > max;
				free(buf);
				buf = NULL;
				break;
			}
			buf = nb;
			cap *= 2;
		}
		size_t r = fread(buf + n, 1, cap - n - 1, f);
		n += r;
		if (r == 0)
			break;
	}
	int bad = ferror(f) ? (errno ? errno : EIO) : 0;
	fclose(f);
	if (buf && !bad && n > max)
		too_big = 1;
	if (!buf || bad || too_big) {
		free(buf);
		snprintf(err, errlen, "cannot read '%s': %s", path,
			 too_big ? "file too large" : bad ? strerror(bad) : "out of memory");
		return -1;
	}
	buf[n] = 0;
	*out = buf;
	*len = n;
	return 0;
}
