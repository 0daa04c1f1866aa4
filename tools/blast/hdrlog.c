/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#include "tools/blast/hdrlog.h"

static void put_be32(unsigned char *p, uint32_t v)
{
	for (int i = 3; i >= 0; i--, v >>= 8)
		p[i] = (unsigned char)v;
}

static void put_be64(unsigned char *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (unsigned char)v;
}

/* ZigZag, then LEB128 of at most 9 bytes: the ninth carries 8 bits. */
static size_t put_zigzag(unsigned char *p, int64_t value)
{
	uint64_t v = ((uint64_t)value << 1) ^ (uint64_t)(value >> 63);
	size_t n = 0;
	while (n < 8 && v >> 7) {
		p[n++] = (unsigned char)((v & 0x7f) | 0x80);
		v >>= 7;
	}
	p[n++] = (unsigned char)v;
	return n;
}

int hdr_encode(const struct hist *h, unsigned char **out, size_t *len)
{
	uint64_t max = h->max < HIST_MAX_VALUE ? h->max : HIST_MAX_VALUE;
	uint32_t relevant = h->total ? hist_index(max) + 1 : 1;
	size_t cap = HDR_HEADER_LEN + (size_t)relevant * 9;
	unsigned char *raw = malloc(cap), *z = NULL;
	if (!raw)
		return -1;
	put_be32(raw, HDR_COOKIE_V2);
	put_be32(raw + 8, 0);                       /* normalizing index offset */
	put_be32(raw + 12, HDR_SIGNIFICANT_DIGITS);
	put_be64(raw + 16, 1);                      /* lowest discernible value */
	put_be64(raw + 24, HIST_MAX_VALUE);         /* highest trackable value */
	put_be64(raw + 32, 0x3ff0000000000000ull);  /* 1.0: integer to double ratio */
	size_t n = HDR_HEADER_LEN;
	for (uint32_t i = 0; i < relevant;) {
		uint64_t c = h->counts[i++];
		if (c == 0) {
			int64_t zeros = 1;
			while (i < relevant && h->counts[i] == 0)
				zeros++, i++;
			n += put_zigzag(raw + n, zeros > 1 ? -zeros : 0);
		} else {
			n += put_zigzag(raw + n, (int64_t)c);
		}
	}
	put_be32(raw + 4, (uint32_t)(n - HDR_HEADER_LEN)); /* payload length */
	uLongf zlen = compressBound((uLong)n);
	z = malloc(8 + zlen);
	if (!z || compress2(z + 8, &zlen, raw, (uLong)n, Z_BEST_COMPRESSION) != Z_OK) {
		free(raw);
		free(z);
		return -1;
	}
	put_be32(z, HDR_COOKIE_V2_COMPRESSED);
	put_be32(z + 4, (uint32_t)zlen);
	free(raw);
	*out = z;
	*len = 8 + zlen;
	return 0;
}

void base64_encode(const unsigned char *in, size_t n, char *out)
{
	static const char tab[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < n)
			v |= in[i + 2];
		out[o++] = tab[v >> 18];
		out[o++] = tab[(v >> 12) & 63];
		out[o++] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < n ? tab[v & 63] : '=';
	}
	out[o] = 0;
}

int hdrlog_open(struct hdrlog *hl, const char *path, char *err, size_t errlen)
{
	memset(hl, 0, sizeof *hl);
	hl->f = fopen(path, "w");
	if (!hl->f) {
		snprintf(err, errlen, "cannot write '%s': %s", path, strerror(errno));
		return -1;
	}
	fprintf(hl->f, "#[Logged with blast %s]\n#[Histogram log format version 1.3]\n",
		PACKAGE_VERSION);
	return 0;
}

void hdrlog_run(struct hdrlog *hl, unsigned index, const char *label, uint64_t start_wall_ns)
{
	if (!hl->base_wall_ns) {
		char when[64];
		time_t t = (time_t)(start_wall_ns / 1000000000u);
		struct tm tm;
		strftime(when, sizeof when, "%a %b %d %H:%M:%S %Z %Y", localtime_r(&t, &tm));
		hl->base_wall_ns = start_wall_ns;
		fprintf(hl->f, "#[StartTime: %.3f (seconds since epoch), %s]\n",
			(double)start_wall_ns / 1e9, when);
		fprintf(hl->f, "#[BaseTime: %.3f (seconds since epoch)]\n",
			(double)start_wall_ns / 1e9);
		fputs("\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\","
		      "\"Interval_Compressed_Histogram\"\n", hl->f);
	}
	snprintf(hl->tag, sizeof hl->tag, "url%u", index + 1);
	fprintf(hl->f, "#[%s: %s]\n", hl->tag, label);
	hl->run_wall_ns = start_wall_ns;
}

void hdrlog_second(struct hdrlog *hl, const struct series_sec *sec)
{
	unsigned char *enc;
	size_t len;
	if (hdr_encode(sec->h, &enc, &len) < 0) {
		fprintf(hl->f, "#[%s: second %llu lost: out of memory]\n", hl->tag,
			(unsigned long long)sec->index + 1);
		return;
	}
	char *b64 = malloc(4 * ((len + 2) / 3) + 1);
	if (b64) {
		base64_encode(enc, len, b64);
		double start = (double)(hl->run_wall_ns - hl->base_wall_ns) / 1e9 +
			       (double)sec->index * (SERIES_SEC_NS / 1e9);
		fprintf(hl->f, "Tag=%s,%.3f,%.3f,%.3f,%s\n", hl->tag, start,
			(double)sec->len_ns / 1e9, (double)(sec->h->total ? sec->h->max : 0) / 1e6,
			b64);
	}
	free(b64);
	free(enc);
}

int hdrlog_close(struct hdrlog *hl)
{
	if (!hl->f)
		return 0;
	int bad = ferror(hl->f);
	bad |= fclose(hl->f) != 0;
	hl->f = NULL;
	return bad ? -1 : 0;
}
