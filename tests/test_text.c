/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests for queue/text.c: the access-log text that travels beside
 * the request ring - records cut to their caps, a full ring that takes
 * nothing, wrap-around, and the order the acceptor and a worker keep
 * across threads (text first, then the descriptor; one record per
 * descriptor with log_len, in ring order). */
#include "config.h"

#include <check.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "queue/queue.h"
#include "queue/text.h"

/* Fields as spans of one buffer, as the framer's are of its read buffer. */
struct fields {
	char buf[4096];
	struct http_span span[HTTP_LOG_FIELDS];
};

static void fields_set(struct fields *f, const char *target, const char *referer,
		       const char *ua)
{
	const char *v[HTTP_LOG_FIELDS] = { target, referer, ua };
	size_t at = 0;

	for (unsigned k = 0; k < HTTP_LOG_FIELDS; k++) {
		size_t n = v[k] ? strlen(v[k]) : 0;

		ck_assert_uint_le(at + n, sizeof(f->buf));
		memcpy(f->buf + at, v[k] ? v[k] : "", n);
		f->span[k] = (struct http_span){ (uint32_t)at, (uint32_t)n };
		at += n;
	}
}

static void take_and_parse(struct queue_text *t, uint16_t len, char *rec,
			   struct queue_text_rec *out)
{
	queue_text_take(t, rec, len);
	ck_assert(queue_text_parse(rec, len, out));
}

static void assert_field(const struct queue_text_rec *r, enum http_log_field k,
			 const char *want)
{
	ck_assert_msg(r->len[k] == strlen(want) && memcmp(r->field[k], want, r->len[k]) == 0,
		      "field %d: '%.*s', want '%s'", (int)k, (int)r->len[k], r->field[k], want);
}

START_TEST(record_round_trip)
{
	static struct queue_text t;
	static struct fields f;
	static char rec[QUEUE_TEXT_MAX];
	struct queue_text_rec r;
	uint16_t len;

	ck_assert_int_eq(queue_text_init(&t), 0);
	fields_set(&f, "/metric-stack?id=1", NULL, "curl/8.0 \"x\"");
	len = queue_text_put(&t, f.buf, f.span);
	ck_assert_uint_eq(len, QUEUE_TEXT_HDR + 18 + 0 + 12);
	ck_assert_uint_eq(t.tail, len);
	take_and_parse(&t, len, rec, &r);
	assert_field(&r, HTTP_LOG_TARGET, "/metric-stack?id=1");
	assert_field(&r, HTTP_LOG_REFERER, "");
	assert_field(&r, HTTP_LOG_UA, "curl/8.0 \"x\"");
	ck_assert_uint_eq(t.head, t.tail);
	/* No field at all: a header alone. */
	fields_set(&f, NULL, NULL, NULL);
	ck_assert_uint_eq(queue_text_put(&t, f.buf, f.span), QUEUE_TEXT_HDR);
	take_and_parse(&t, QUEUE_TEXT_HDR, rec, &r);
	assert_field(&r, HTTP_LOG_TARGET, "");
	queue_text_destroy(&t);
}
END_TEST

/* Fields longer than their caps are cut there and end in "...". */
START_TEST(long_fields_cut_and_marked)
{
	static struct queue_text t;
	static struct fields f;
	static char rec[QUEUE_TEXT_MAX], target[1500], ua[513], want[HTTP_LOG_TARGET_MAX + 1];
	struct queue_text_rec r;

	ck_assert_int_eq(queue_text_init(&t), 0);
	memset(target, 't', sizeof(target) - 1);
	memset(ua, 'u', sizeof(ua) - 1);          /* 512: exactly the cap */
	fields_set(&f, target, "http://r/", ua);
	uint16_t len = queue_text_put(&t, f.buf, f.span);

	ck_assert_uint_eq(len, QUEUE_TEXT_HDR + HTTP_LOG_TARGET_MAX + 9 + HTTP_LOG_UA_MAX);
	take_and_parse(&t, len, rec, &r);
	memset(want, 't', HTTP_LOG_TARGET_MAX - 3);
	memcpy(want + HTTP_LOG_TARGET_MAX - 3, "...", 4);
	assert_field(&r, HTTP_LOG_TARGET, want);
	assert_field(&r, HTTP_LOG_REFERER, "http://r/");
	assert_field(&r, HTTP_LOG_UA, ua);       /* at the cap: whole */
	/* The largest record is QUEUE_TEXT_MAX. */
	static char big[HTTP_LOG_REFERER_MAX + 100];
	memset(big, 'r', sizeof(big) - 1);
	fields_set(&f, target, big, target);
	ck_assert_uint_eq(queue_text_put(&t, f.buf, f.span), QUEUE_TEXT_MAX);
	queue_text_destroy(&t);
}
END_TEST

/* A full ring takes no record and writes nothing; room comes back as the
 * consumer takes records, and a record that crosses the end of the buffer
 * comes out whole. */
START_TEST(full_ring_takes_nothing_then_wraps)
{
	static struct queue_text t;
	static struct fields f;
	static char rec[QUEUE_TEXT_MAX], ua[501];
	const uint16_t big = QUEUE_TEXT_HDR + 2 + 500, small = QUEUE_TEXT_HDR + 2;
	struct queue_text_rec r;
	unsigned put = 0;

	ck_assert_int_eq(queue_text_init(&t), 0);
	memset(ua, 'a', 500);
	fields_set(&f, "/x", NULL, ua);
	while (queue_text_put(&t, f.buf, f.span) == big)
		put++;
	ck_assert_uint_eq(put, QUEUE_TEXT_SIZE / big);
	uint64_t tail = t.tail;

	ck_assert_uint_eq(queue_text_put(&t, f.buf, f.span), 0);
	ck_assert_uint_eq(t.tail, tail);                 /* nothing written */
	_Static_assert(QUEUE_TEXT_SIZE % (QUEUE_TEXT_HDR + 2 + 500) >= QUEUE_TEXT_HDR + 2,
		       "a small record fits what the big ones leave");
	fields_set(&f, "/y", NULL, NULL);
	ck_assert_uint_eq(queue_text_put(&t, f.buf, f.span), small);
	/* One record out: room for one more big one, which wraps. */
	take_and_parse(&t, big, rec, &r);
	memset(ua, 'b', 500);
	fields_set(&f, "/z", "http://r/", ua);
	ck_assert_uint_eq(queue_text_put(&t, f.buf, f.span), 0);   /* 9 bytes short */
	fields_set(&f, "/z", NULL, ua);
	ck_assert_uint_eq(queue_text_put(&t, f.buf, f.span), big);
	ck_assert_uint_gt(t.tail & (QUEUE_TEXT_SIZE - 1), 0);
	ck_assert_uint_lt(t.tail & (QUEUE_TEXT_SIZE - 1), big);    /* it wrapped */
	for (unsigned i = 1; i < put; i++) {
		take_and_parse(&t, big, rec, &r);
		assert_field(&r, HTTP_LOG_TARGET, "/x");
	}
	take_and_parse(&t, small, rec, &r);
	assert_field(&r, HTTP_LOG_TARGET, "/y");
	take_and_parse(&t, big, rec, &r);
	assert_field(&r, HTTP_LOG_TARGET, "/z");
	assert_field(&r, HTTP_LOG_UA, ua);
	ck_assert_uint_eq(t.head, t.tail);
	queue_text_destroy(&t);
}
END_TEST

/* A record that is not one. */
START_TEST(parse_refuses_what_is_not_a_record)
{
	char rec[QUEUE_TEXT_MAX] = { 0 };
	struct queue_text_rec r;
	uint16_t len[3] = { 2, 0, 0 };

	memcpy(rec, len, sizeof(len));
	ck_assert(!queue_text_parse(rec, 5, &r));                  /* no header */
	ck_assert(!queue_text_parse(rec, QUEUE_TEXT_HDR + 1, &r)); /* short */
	ck_assert(!queue_text_parse(rec, QUEUE_TEXT_HDR + 3, &r)); /* long */
	ck_assert(queue_text_parse(rec, QUEUE_TEXT_HDR + 2, &r));
	len[0] = HTTP_LOG_TARGET_MAX + 1;                          /* over its cap */
	memcpy(rec, len, sizeof(len));
	ck_assert(!queue_text_parse(rec, QUEUE_TEXT_HDR + HTTP_LOG_TARGET_MAX + 1, &r));
}
END_TEST

/* The acceptor and a worker, as two threads: descriptors through a request
 * ring, records through the text ring, written only once the descriptor's
 * slot is sure (queue_req_has_room), published before it.  The ring of
 * 1024 descriptors can promise more text than the text ring holds, so
 * some descriptors go without (log_len 0); every record must still come
 * out with its own descriptor. */
#define ORDER_N 200000u
#define ORDER_RING 1024u

struct order {
	struct queue_req q;
	struct queue_text t;
	uint64_t received, bad, with_text;
	bool done;
};

static size_t ua_len(uint64_t i)
{
	return (size_t)(i * 131 % 700);
}

static void *order_consumer(void *arg)
{
	struct order *o = arg;
	static char rec[QUEUE_TEXT_MAX];
	struct http_req batch[64];

	while (o->received < ORDER_N) {
		unsigned n = queue_req_pop_batch(&o->q, batch, 64);

		queue_req_take_producer_wait(&o->q);
		for (unsigned i = 0; i < n; i++, o->received++) {
			struct queue_text_rec r;
			char want[32];

			if (batch[i].id != o->received)
				o->bad++;
			if (!batch[i].log_len)
				continue;
			o->with_text++;
			queue_text_take(&o->t, rec, batch[i].log_len);
			int wl = snprintf(want, sizeof(want), "/r/%llu",
					  (unsigned long long)batch[i].id);
			size_t ul = ua_len(batch[i].id);

			if (!queue_text_parse(rec, batch[i].log_len, &r) ||
			    r.len[HTTP_LOG_TARGET] != wl ||
			    memcmp(r.field[HTTP_LOG_TARGET], want, (size_t)wl) != 0 ||
			    r.len[HTTP_LOG_UA] != (ul < HTTP_LOG_UA_MAX ? ul : HTTP_LOG_UA_MAX))
				o->bad++;
		}
		if (!n && (o->received & 7) == 0)
			sched_yield();
	}
	return NULL;
}

START_TEST(order_across_threads)
{
	struct order *o = calloc(1, sizeof(*o));
	static char buf[64 + 700];
	uint64_t dropped = 0;
	pthread_t th;

	ck_assert_ptr_nonnull(o);
	memset(buf + 64, 'u', 700);
	ck_assert_int_eq(queue_req_init(&o->q, ORDER_RING), 0);
	ck_assert_int_eq(queue_text_init(&o->t), 0);
	ck_assert_int_eq(pthread_create(&th, NULL, order_consumer, o), 0);
	for (uint64_t i = 0; i < ORDER_N; i++) {
		struct http_req d = { .kind = REQ_HTTP, .id = i };
		struct http_span span[HTTP_LOG_FIELDS] = {
			{ 0, (uint32_t)snprintf(buf, 64, "/r/%llu", (unsigned long long)i) },
			{ 0, 0 },
			{ 64, (uint32_t)ua_len(i) },
		};

		while (!queue_req_has_room(&o->q) && !queue_req_room_or_wait(&o->q))
			sched_yield();
		d.log_len = queue_text_put(&o->t, buf, span);
		dropped += !d.log_len;
		ck_assert(queue_req_push(&o->q, &d));
	}
	ck_assert_int_eq(pthread_join(th, NULL), 0);
	ck_assert_uint_eq(o->bad, 0);
	ck_assert_uint_eq(o->received, ORDER_N);
	ck_assert_uint_eq(o->with_text + dropped, ORDER_N);
	ck_assert_uint_eq(o->t.head, o->t.tail);
	printf("order_across_threads: %llu of %u descriptors went without text "
	       "(the text ring was full)\n", (unsigned long long)dropped, ORDER_N);
	queue_text_destroy(&o->t);
	queue_req_destroy(&o->q);
	free(o);
}
END_TEST

static Suite *text_suite(void)
{
	Suite *s = suite_create("text");
	TCase *tc = tcase_create("ring");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, record_round_trip);
	tcase_add_test(tc, long_fields_cut_and_marked);
	tcase_add_test(tc, full_ring_takes_nothing_then_wraps);
	tcase_add_test(tc, parse_refuses_what_is_not_a_record);
	suite_add_tcase(s, tc);

	/* The timeout guards against a hang; the run takes about a second. */
	TCase *th = tcase_create("threads");
	tcase_set_timeout(th, 120);
	tcase_add_test(th, order_across_threads);
	suite_add_tcase(s, th);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(text_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
