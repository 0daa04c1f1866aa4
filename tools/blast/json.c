/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tools/blast/json.h"

#define MAX_DEPTH 64

void json_put_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p < 0x20)
			fprintf(f, "\\u%04x", *p);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

struct reader {
	const char *p, *end;
	char *err;
	size_t errlen;
	int failed;
};

static int rfail(struct reader *r, const char *msg)
{
	if (!r->failed)
		snprintf(r->err, r->errlen, "%s at byte %ld", msg, (long)(r->end - r->p));
	r->failed = 1;
	return -1;
}

static void skip_ws(struct reader *r)
{
	while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r'))
		r->p++;
}

static int parse_value(struct reader *r, struct json *v, int depth);

static int hex4(struct reader *r, unsigned *out)
{
	unsigned x = 0;
	if (r->end - r->p < 4)
		return rfail(r, "short \\u escape");
	for (int i = 0; i < 4; i++) {
		char c = *r->p++;
		x <<= 4;
		if (c >= '0' && c <= '9')
			x |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			x |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			x |= (unsigned)(c - 'A' + 10);
		else
			return rfail(r, "bad \\u escape");
	}
	*out = x;
	return 0;
}

static size_t put_utf8(char *o, unsigned cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | (cp >> 6));
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | (cp >> 12));
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | (cp >> 18));
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

static int parse_escape(struct reader *r, char *o, size_t *k)
{
	if (r->p >= r->end)
		return rfail(r, "unterminated string");
	char c = *r->p++;
	char simple = 0;
	switch (c) {
	case '"': case '\\': case '/': simple = c; break;
	case 'b': simple = '\b'; break;
	case 'f': simple = '\f'; break;
	case 'n': simple = '\n'; break;
	case 'r': simple = '\r'; break;
	case 't': simple = '\t'; break;
	}
	if (simple) {
		o[(*k)++] = simple;
		return 0;
	}
	if (c != 'u')
		return rfail(r, "bad escape");
	unsigned cp, lo;
	if (hex4(r, &cp) < 0)
		return -1;
	if (cp >= 0xd800 && cp < 0xdc00) {
		if (r->end - r->p < 6 || r->p[0] != '\\' || r->p[1] != 'u')
			return rfail(r, "lone surrogate");
		r->p += 2;
		if (hex4(r, &lo) < 0 || lo < 0xdc00 || lo > 0xdfff)
			return rfail(r, "bad surrogate pair");
		cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
	}
	*k += put_utf8(o + *k, cp);
	return 0;
}

/* The decoded string is never longer than its source, so one allocation
 * of the source length suffices. */
static int parse_string(struct reader *r, char **out)
{
	const char *start = ++r->p;
	const char *q = start;
	while (q < r->end && *q != '"') {
		if (*q == '\\')
			q++;
		q++;
	}
	if (q >= r->end)
		return rfail(r, "unterminated string");
	char *s = malloc((size_t)(q - start) + 1);
	size_t k = 0;
	if (!s)
		return rfail(r, "out of memory");
	while (*r->p != '"') {
		unsigned char c = (unsigned char)*r->p++;
		if (c < 0x20) {
			free(s);
			return rfail(r, "control character in string");
		}
		if (c != '\\') {
			s[k++] = (char)c;
		} else if (parse_escape(r, s, &k) < 0) {
			free(s);
			return -1;
		}
	}
	r->p++;
	s[k] = 0;
	*out = s;
	return 0;
}

static int parse_number(struct reader *r, struct json *v)
{
	const char *s = r->p;
	char buf[64];
	size_t n = 0;
	while (s + n < r->end && n < sizeof buf - 1 && strchr("+-0123456789.eE", s[n]))
		n++;
	if (n == 0 || n == sizeof buf - 1)
		return rfail(r, "bad number");
	memcpy(buf, s, n);
	buf[n] = 0;
	char *end;
	v->type = JSON_NUM;
	v->num = strtod(buf, &end);
	if (end != buf + n)
		return rfail(r, "bad number");
	if (strspn(buf, "0123456789") == n) {
		errno = 0;
		v->u = strtoull(buf, NULL, 10);
		v->is_uint = errno == 0;
	}
	r->p += n;
	return 0;
}

static int grow(struct json *v, size_t *cap, int with_keys)
{
	if (v->n < *cap)
		return 0;
	size_t nc = *cap ? *cap * 2 : 8;
	struct json *ni = realloc(v->items, nc * sizeof *ni);
	if (!ni)
		return -1;
	v->items = ni;
	if (with_keys) {
		char **nk = realloc(v->keys, nc * sizeof *nk);
		if (!nk)
			return -1;
		v->keys = nk;
	}
	*cap = nc;
	return 0;
}

/* Arrays and objects share this loop; objects read "key": first. */
static int parse_container(struct reader *r, struct json *v, int depth, int obj)
{
	size_t cap = 0;
	char close = obj ? '}' : ']';
	v->type = obj ? JSON_OBJ : JSON_ARR;
	r->p++;
	skip_ws(r);
	if (r->p < r->end && *r->p == close) {
		r->p++;
		return 0;
	}
	for (;;) {
		if (grow(v, &cap, obj) < 0)
			return rfail(r, "out of memory");
		struct json *item = &v->items[v->n];
		memset(item, 0, sizeof *item);
		skip_ws(r);
		if (obj) {
			if (r->p >= r->end || *r->p != '"')
				return rfail(r, "expected a key");
			if (parse_string(r, &v->keys[v->n]) < 0)
				return -1;
			skip_ws(r);
			if (r->p >= r->end || *r->p++ != ':') {
				v->n++; /* so the key is freed */
				return rfail(r, "expected ':'");
			}
		}
		v->n++;
		if (parse_value(r, item, depth + 1) < 0)
			return -1;
		skip_ws(r);
		if (r->p < r->end && *r->p == ',') {
			r->p++;
			continue;
		}
		if (r->p < r->end && *r->p == close) {
			r->p++;
			return 0;
		}
		return rfail(r, obj ? "expected ',' or '}'" : "expected ',' or ']'");
	}
}

static int literal(struct reader *r, const char *word, struct json *v, enum json_type t, int b)
{
	size_t n = strlen(word);
	if ((size_t)(r->end - r->p) < n || memcmp(r->p, word, n) != 0)
		return rfail(r, "unexpected character");
	r->p += n;
	v->type = t;
	v->num = b;
	return 0;
}

static int parse_value(struct reader *r, struct json *v, int depth)
{
	if (depth > MAX_DEPTH)
		return rfail(r, "nested too deeply");
	skip_ws(r);
	if (r->p >= r->end)
		return rfail(r, "unexpected end");
	switch (*r->p) {
	case '{':
		return parse_container(r, v, depth, 1);
	case '[':
		return parse_container(r, v, depth, 0);
	case '"':
		v->type = JSON_STR;
		return parse_string(r, &v->str);
	case 't':
		return literal(r, "true", v, JSON_BOOL, 1);
	case 'f':
		return literal(r, "false", v, JSON_BOOL, 0);
	case 'n':
		return literal(r, "null", v, JSON_NULL, 0);
	default:
		return parse_number(r, v);
	}
}

static void free_inner(struct json *v)
{
	for (size_t i = 0; i < v->n; i++) {
		free_inner(&v->items[i]);
		if (v->keys)
			free(v->keys[i]);
	}
	free(v->items);
	free(v->keys);
	free(v->str);
}

void json_free(struct json *v)
{
	if (!v)
		return;
	free_inner(v);
	free(v);
}

struct json *json_parse(const char *text, size_t len, char *err, size_t errlen)
{
	struct reader r = {.p = text, .end = text + len, .err = err, .errlen = errlen};
	struct json *v = calloc(1, sizeof *v);
	if (!v) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (parse_value(&r, v, 0) == 0) {
		skip_ws(&r);
		if (r.p == r.end)
			return v;
		rfail(&r, "trailing data");
	}
	json_free(v);
	return NULL;
}

const struct json *json_get(const struct json *v, const char *key)
{
	if (!v || v->type != JSON_OBJ)
		return NULL;
	for (size_t i = 0; i < v->n; i++)
		if (strcmp(v->keys[i], key) == 0)
			return &v->items[i];
	return NULL;
}

uint64_t json_get_u64(const struct json *v, const char *key, uint64_t dflt)
{
	const struct json *m = json_get(v, key);
	return m && m->type == JSON_NUM && m->is_uint ? m->u : dflt;
}

double json_get_num(const struct json *v, const char *key, double dflt)
{
	const struct json *m = json_get(v, key);
	return m && (m->type == JSON_NUM || m->type == JSON_BOOL) ? m->num : dflt;
}

const char *json_get_str(const struct json *v, const char *key, const char *dflt)
{
	const struct json *m = json_get(v, key);
	return m && m->type == JSON_STR ? m->str : dflt;
}
