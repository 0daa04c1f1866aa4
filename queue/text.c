/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "core/base/log.h"
#include "queue/text.h"

#define MASK ((uint64_t)QUEUE_TEXT_SIZE - 1)

_Static_assert((QUEUE_TEXT_SIZE & (QUEUE_TEXT_SIZE - 1)) == 0,
	       "the text ring wraps with a mask");
_Static_assert(QUEUE_TEXT_MAX <= UINT16_MAX, "a record's size fits log_len");

int queue_text_init(struct queue_text *t)
{
	memset(t, 0, sizeof(*t));
	/* Reserved, committed only as records are written. */
	void *p = mmap(NULL, QUEUE_TEXT_SIZE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (p == MAP_FAILED)
		return -ENOMEM;
	t->buf = p;
	return 0;
}

void queue_text_destroy(struct queue_text *t)
{
	if (t->buf)
		munmap(t->buf, QUEUE_TEXT_SIZE);
	t->buf = NULL;
}

static void put_bytes(struct queue_text *t, uint64_t at, const void *src, size_t n)
{
	size_t i = (size_t)(at & MASK);
	size_t first = n < QUEUE_TEXT_SIZE - i ? n : QUEUE_TEXT_SIZE - i;

	memcpy(t->buf + i, src, first);
	memcpy(t->buf, (const char *)src + first, n - first);
}

uint16_t queue_text_put(struct queue_text *t, const char *buf,
			const struct http_span span[HTTP_LOG_FIELDS])
{
	uint16_t len[HTTP_LOG_FIELDS];
	size_t total = QUEUE_TEXT_HDR;

	for (unsigned k = 0; k < HTTP_LOG_FIELDS; k++) {
		uint32_t max = http_log_max((enum http_log_field)k);

		len[k] = (uint16_t)(span[k].len < max ? span[k].len : max);
		total += len[k];
	}
	uint64_t head = __atomic_load_n(&t->head, __ATOMIC_ACQUIRE);
	uint64_t tail = t->tail, at = tail + QUEUE_TEXT_HDR;

	if (total > QUEUE_TEXT_SIZE - (tail - head))
		return 0;
	_Static_assert(sizeof(len) == QUEUE_TEXT_HDR, "the header is three u16");
	put_bytes(t, tail, len, QUEUE_TEXT_HDR);
	for (unsigned k = 0; k < HTTP_LOG_FIELDS; k++) {
		bool cut = span[k].len > len[k];
		size_t n = len[k] - (cut ? 3 : 0);

		put_bytes(t, at, buf + span[k].off, n);
		if (cut)
			put_bytes(t, at + n, "...", 3);
		at += len[k];
	}
	__atomic_store_n(&t->tail, tail + total, __ATOMIC_RELEASE);
	return (uint16_t)total;
}

void queue_text_take(struct queue_text *t, char *out, uint16_t len)
{
	uint64_t tail = __atomic_load_n(&t->tail, __ATOMIC_ACQUIRE);
	uint64_t head = t->head;

	if (len > QUEUE_TEXT_MAX || tail - head < len) {
		log_error("text ring: a record of %u bytes is not there (%llu queued)",
			  len, (unsigned long long)(tail - head));
		abort();
	}
	size_t i = (size_t)(head & MASK);
	size_t first = len < QUEUE_TEXT_SIZE - i ? len : QUEUE_TEXT_SIZE - i;

	memcpy(out, t->buf + i, first);
	memcpy(out + first, t->buf, len - first);
	__atomic_store_n(&t->head, head + len, __ATOMIC_RELEASE);
}

bool queue_text_parse(const char *rec, uint16_t len, struct queue_text_rec *out)
{
	size_t at = QUEUE_TEXT_HDR;

	if (len < QUEUE_TEXT_HDR)
		return false;
	memcpy(out->len, rec, QUEUE_TEXT_HDR);
	for (unsigned k = 0; k < HTTP_LOG_FIELDS; k++) {
		if (out->len[k] > http_log_max((enum http_log_field)k))
			return false;
		out->field[k] = rec + at;
		at += out->len[k];
	}
	return at == len;
}
