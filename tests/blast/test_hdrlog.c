/* SPDX-License-Identifier: BSD-2-Clause */
/* Suite for tools/blast/hdrlog.c.  A reader written here from
 * HdrHistogram's specification (base64, the compressed wrapper, zlib, the
 * V2 header, ZigZag LEB128 counts with zero runs) decodes what blast
 * wrote, and the counts must come back exactly.  The reader shares no
 * code with the writer. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "tools/blast/hdrlog.h"

/* ---- the reader --------------------------------------------------- */

static int b64_value(char c)
{
	const char *tab = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const char *p = c ? strchr(tab, c) : NULL;
	return p ? (int)(p - tab) : -1;
}

static size_t b64_decode(const char *s, unsigned char *out)
{
	size_t n = 0;
	uint32_t acc = 0;
	int bits = 0;
	for (; *s && *s != '='; s++) {
		int v = b64_value(*s);
		ck_assert_int_ge(v, 0);
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[n++] = (unsigned char)(acc >> bits);
		}
	}
	return n;
}

static uint64_t be(const unsigned char *p, int bytes)
{
	uint64_t v = 0;
	for (int i = 0; i < bytes; i++)
		v = v << 8 | p[i];
	return v;
}

static int64_t zigzag(const unsigned char *p, size_t *pos)
{
	uint64_t v = 0;
	int shift = 0;
	for (int i = 0; i < 9; i++) {
		unsigned char b = p[(*pos)++];
		if (i == 8) {
			v |= (uint64_t)b << 56;
			break;
		}
		v |= (uint64_t)(b & 0x7f) << shift;
		shift += 7;
		if (!(b & 0x80))
			break;
	}
	return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

struct decoded {
	uint32_t sig_digits;
	uint64_t lowest, highest;
	double ratio;
	uint64_t counts[HIST_BUCKETS];
	uint64_t total;
};

static void decode(const char *b64, struct decoded *d)
{
	size_t cap = strlen(b64);
	unsigned char *z = malloc(cap), *raw = malloc(HDR_HEADER_LEN + HIST_BUCKETS * 9);
	size_t zlen = b64_decode(b64, z);
	ck_assert_uint_eq(be(z, 4), 0x1c849314);
	ck_assert_uint_eq(be(z + 4, 4), zlen - 8);
	uLongf rawlen = HDR_HEADER_LEN + HIST_BUCKETS * 9;
	ck_assert_int_eq(uncompress(raw, &rawlen, z + 8, (uLong)(zlen - 8)), Z_OK);
	ck_assert_uint_eq(be(raw, 4), 0x1c849313);
	uint64_t payload = be(raw + 4, 4);
	ck_assert_uint_eq(payload, rawlen - HDR_HEADER_LEN);
	ck_assert_uint_eq(be(raw + 8, 4), 0); /* normalizing index offset */
	d->sig_digits = (uint32_t)be(raw + 12, 4);
	d->lowest = be(raw + 16, 8);
	d->highest = be(raw + 24, 8);
	uint64_t bits = be(raw + 32, 8);
	memcpy(&d->ratio, &bits, sizeof d->ratio);
	memset(d->counts, 0, sizeof d->counts);
	d->total = 0;
	size_t pos = HDR_HEADER_LEN, idx = 0;
	while (pos < HDR_HEADER_LEN + payload) {
		int64_t c = zigzag(raw, &pos);
		if (c < 0) {
			idx += (size_t)-c;
		} else {
			ck_assert_uint_lt(idx, HIST_BUCKETS);
			d->counts[idx++] = (uint64_t)c;
			d->total += (uint64_t)c;
		}
	}
	ck_assert_uint_eq(pos, HDR_HEADER_LEN + payload);
	free(z);
	free(raw);
}

/* ---- the tests ---------------------------------------------------- */

static uint64_t seed = 12345;

static uint64_t rnd(void)
{
	seed ^= seed << 13;
	seed ^= seed >> 7;
	seed ^= seed << 17;
	return seed;
}

static char *encode_b64(const struct hist *h)
{
	unsigned char *enc;
	size_t len;
	ck_assert_int_eq(hdr_encode(h, &enc, &len), 0);
	char *b64 = malloc(4 * ((len + 2) / 3) + 1);
	base64_encode(enc, len, b64);
	free(enc);
	return b64;
}

START_TEST(test_counts_round_trip)
{
	struct hist *h = malloc(sizeof *h);
	struct decoded *d = malloc(sizeof *d);
	hist_init(h);
	/* log-uniform from 1 ns to ~1 s, plus exact small values and repeats */
	for (int i = 0; i < 100000; i++)
		hist_record(h, (uint64_t)1 << (rnd() % 30) | (rnd() & 0xff));
	for (int i = 0; i < 300; i++)
		hist_record(h, 7);
	hist_record(h, 0);
	char *b64 = encode_b64(h);
	decode(b64, d);
	ck_assert_uint_eq(d->sig_digits, 2);
	ck_assert_uint_eq(d->lowest, 1);
	ck_assert_uint_eq(d->highest, HIST_MAX_VALUE);
	ck_assert_double_eq(d->ratio, 1.0);
	ck_assert_uint_eq(d->total, h->total);
	ck_assert_int_eq(memcmp(d->counts, h->counts, sizeof h->counts), 0);
	free(b64);
	free(h);
	free(d);
}
END_TEST

/* Single zeros are a count of 0, runs of zeros one negative number; an
 * empty histogram is one zero count; the largest value still decodes. */
START_TEST(test_zero_runs_and_edges)
{
	struct hist *h = malloc(sizeof *h);
	struct decoded *d = malloc(sizeof *d);
	hist_init(h);
	char *b64 = encode_b64(h);
	decode(b64, d);
	ck_assert_uint_eq(d->total, 0);
	free(b64);
	hist_record(h, 1);
	hist_record(h, 3); /* index 2 stays a single zero */
	hist_record(h, HIST_MAX_VALUE);
	hist_record(h, HIST_MAX_VALUE + 12345); /* clamped into the top bucket */
	for (int i = 0; i < 70000; i++)
		hist_record(h, 1000000); /* a count needing 3 LEB128 bytes */
	b64 = encode_b64(h);
	decode(b64, d);
	ck_assert_int_eq(memcmp(d->counts, h->counts, sizeof h->counts), 0);
	ck_assert_uint_eq(d->counts[hist_index(HIST_MAX_VALUE)], 2);
	free(b64);
	free(h);
	free(d);
}
END_TEST

/* The log: header lines, then one line per second with tag, start,
 * length, max in ms and the histogram, which decodes to that second. */
START_TEST(test_log_lines)
{
	char path[] = "/tmp/blast-hlog-XXXXXX", err[256], line[65536];
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	close(fd);
	struct hdrlog hl;
	struct hist *h = malloc(sizeof *h), *sofar = malloc(sizeof *sofar);
	struct decoded *d = malloc(sizeof *d);
	hist_init(h);
	hist_init(sofar);
	ck_assert_int_eq(hdrlog_open(&hl, path, err, sizeof err), 0);
	hdrlog_run(&hl, 0, "http://a/", 1700000000123000000ull);
	for (uint64_t s = 0; s < 3; s++) {
		hist_init(h);
		for (uint64_t k = 0; k <= s; k++)
			hist_record(h, 2000000 * (k + 1));
		struct series_sec sec = {.index = s, .len_ns = s == 2 ? 500000000 : SERIES_SEC_NS,
					 .h = h, .req = s + 1, .sofar = sofar};
		hdrlog_second(&hl, &sec);
	}
	hdrlog_run(&hl, 1, "http://b/", 1700000005123000000ull);
	struct series_sec sec = {.index = 0, .len_ns = SERIES_SEC_NS, .h = h, .sofar = sofar};
	hdrlog_second(&hl, &sec);
	ck_assert_int_eq(hdrlog_close(&hl), 0);

	FILE *f = fopen(path, "r");
	int n = 0, intervals = 0;
	while (fgets(line, sizeof line, f)) {
		line[strcspn(line, "\n")] = 0;
		if (n == 2)
			ck_assert_msg(strncmp(line, "#[StartTime: 1700000000.123 (seconds since epoch), ",
					      51) == 0, "%s", line);
		if (n == 3)
			ck_assert_str_eq(line, "#[BaseTime: 1700000000.123 (seconds since epoch)]");
		n++;
		if (strncmp(line, "Tag=", 4) != 0)
			continue;
		char tag[16], b64[65536];
		double start, len, max;
		ck_assert_int_eq(sscanf(line, "Tag=%15[^,],%lf,%lf,%lf,%65535s", tag, &start, &len,
					&max, b64), 5);
		decode(b64, d);
		if (intervals < 3) {
			ck_assert_str_eq(tag, "url1");
			ck_assert_double_eq_tol(start, intervals, 1e-9);
			ck_assert_double_eq_tol(len, intervals == 2 ? 0.5 : 1.0, 1e-9);
			ck_assert_double_eq_tol(max, 2.0 * (intervals + 1), 0.01);
			ck_assert_uint_eq(d->total, (uint64_t)intervals + 1);
		} else {
			ck_assert_str_eq(tag, "url2");
			ck_assert_double_eq_tol(start, 5.0, 1e-9);
		}
		intervals++;
	}
	fclose(f);
	ck_assert_int_eq(intervals, 4);
	unlink(path);
	free(h);
	free(sofar);
	free(d);
}
END_TEST

static Suite *hdrlog_suite(void)
{
	Suite *s = suite_create("hdrlog");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, test_counts_round_trip);
	tcase_add_test(tc, test_zero_runs_and_edges);
	tcase_add_test(tc, test_log_lines);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(hdrlog_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
