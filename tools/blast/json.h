/* SPDX-License-Identifier: BSD-2-Clause */
/* Minimal JSON: string escaping for the writer, and a small DOM reader
 * for `blast merge`.  Not on any hot path; allocation is fine here. */
#ifndef BLAST_JSON_H
#define BLAST_JSON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum json_type { JSON_NULL, JSON_BOOL, JSON_NUM, JSON_STR, JSON_ARR, JSON_OBJ };

struct json {
	enum json_type type;
	double num;         /* JSON_NUM, JSON_BOOL (0/1) */
	uint64_t u;         /* JSON_NUM: exact value of a non-negative integer */
	int is_uint;        /* ... when the literal was one */
	char *str;          /* JSON_STR */
	size_t n;           /* JSON_ARR / JSON_OBJ: number of items */
	struct json *items;
	char **keys;        /* JSON_OBJ */
};

/* Write s as a quoted JSON string. */
void json_put_str(FILE *f, const char *s);

/* Parse a whole document.  Returns NULL with a message in err. */
struct json *json_parse(const char *text, size_t len, char *err, size_t errlen);
void json_free(struct json *v);

/* Object member, or NULL if absent or v is not an object. */
const struct json *json_get(const struct json *v, const char *key);
/* Convenience: member as an unsigned integer / double / string, or the
 * default when absent or of the wrong type. */
uint64_t json_get_u64(const struct json *v, const char *key, uint64_t dflt);
double json_get_num(const struct json *v, const char *key, double dflt);
const char *json_get_str(const struct json *v, const char *key, const char *dflt);

#endif
