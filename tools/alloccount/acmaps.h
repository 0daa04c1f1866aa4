/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * acmaps.h - find the module and offset of an address in the text of a
 * /proc/PID/maps file.  Header-only, allocation-free (used inside the
 * malloc interposer as well as by the reader library).
 */
#ifndef METRICD_ACMAPS_H
#define METRICD_ACMAPS_H

#include <stddef.h>
#include <stdint.h>

struct ac_maps_line {
	uint64_t start, end, offset;
	const char *path; /* not NUL-terminated; path_len bytes */
	size_t path_len;
};

struct ac_maps_hit {
	uint64_t start, end, offset;
	/* Load base of the module: start of the mapping of the same file
	 * with file offset 0 (for PIE executables and shared objects,
	 * addr - base is the address addr2line expects), or start - offset
	 * when there is none. */
	uint64_t base;
	const char *path;
	size_t path_len;
};

static inline int ac_maps_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static inline const char *ac_maps_hex(const char *p, const char *end, uint64_t *out)
{
	uint64_t v = 0;
	int d;

	while (p < end && (d = ac_maps_hexval(*p)) >= 0) {
		v = (v << 4) | (uint64_t)d;
		p++;
	}
	*out = v;
	return p;
}

static inline const char *ac_maps_skip_field(const char *p, const char *end)
{
	while (p < end && *p != ' ' && *p != '\n')
		p++;
	while (p < end && *p == ' ')
		p++;
	return p;
}

/* Parse the line at p; returns the start of the next line (or end).
 * l->path_len is 0 for anonymous mappings.  Returns NULL at end. */
static inline const char *ac_maps_next(const char *p, const char *end,
				       struct ac_maps_line *l)
{
	const char *eol;

	if (p >= end)
		return NULL;
	eol = p;
	while (eol < end && *eol != '\n')
		eol++;
	p = ac_maps_hex(p, eol, &l->start);
	if (p < eol && *p == '-')
		p++;
	p = ac_maps_hex(p, eol, &l->end);
	while (p < eol && *p == ' ')
		p++;
	p = ac_maps_skip_field(p, eol); /* perms */
	p = ac_maps_hex(p, eol, &l->offset);
	while (p < eol && *p == ' ')
		p++;
	p = ac_maps_skip_field(p, eol); /* dev */
	p = ac_maps_skip_field(p, eol); /* inode */
	l->path = p;
	l->path_len = (size_t)(eol - p);
	return eol < end ? eol + 1 : end;
}

static inline int ac_maps_same_path(const struct ac_maps_line *a, const char *path,
				    size_t len)
{
	size_t i;

	if (a->path_len != len)
		return 0;
	for (i = 0; i < len; i++)
		if (a->path[i] != path[i])
			return 0;
	return 1;
}

/* Find addr in the maps text; 0 when found, -1 otherwise. */
static inline int ac_maps_find(const char *maps, size_t len, uint64_t addr,
			       struct ac_maps_hit *hit)
{
	const char *end = maps + len, *p = maps;
	struct ac_maps_line l;
	int found = 0;

	while ((p = ac_maps_next(p, end, &l)) != NULL) {
		if (addr >= l.start && addr < l.end) {
			found = 1;
			break;
		}
	}
	if (!found)
		return -1;
	hit->start = l.start;
	hit->end = l.end;
	hit->offset = l.offset;
	hit->path = l.path;
	hit->path_len = l.path_len;
	hit->base = l.start - l.offset;
	if (l.path_len > 0 && l.path[0] == '/') {
		uint64_t best = 0;
		int have = 0;
		struct ac_maps_line m;

		p = maps;
		while ((p = ac_maps_next(p, end, &m)) != NULL) {
			if (m.offset == 0 && m.start <= l.start &&
			    ac_maps_same_path(&m, l.path, l.path_len) &&
			    (!have || m.start > best)) {
				best = m.start;
				have = 1;
			}
		}
		if (have)
			hit->base = best;
	}
	return 0;
}

#endif /* METRICD_ACMAPS_H */
