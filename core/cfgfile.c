/* SPDX-License-Identifier: BSD-2-Clause */
/* The config file: "key = value" lines whose keys are the long flag names.
 * '#' starts a comment (at the start of a line or after whitespace); blank
 * lines are ignored; a flag such as no-pin takes true/false.  Values are
 * taken verbatim after trimming surrounding whitespace; a value may be
 * wrapped in double quotes to keep leading or trailing spaces.  A key given
 * twice: the last value wins, except `listen`, where each line adds an
 * address (core/cfg.h, struct cfg_listens). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/cfg.h"

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

/* Cuts a comment: '#' at the start or after whitespace, outside quotes. */
static void cut_comment(char *s)
{
	bool quoted = false;

	for (char *p = s; *p; p++) {
		if (*p == '"')
			quoted = !quoted;
		else if (*p == '#' && !quoted && (p == s || p[-1] == ' ' || p[-1] == '\t')) {
			*p = '\0';
			return;
		}
	}
}

int cfg_load_file(struct cfg *c, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	char line[4096], msg[300];
	unsigned lineno = 0;
	int rc = 0;

	if (!f) {
		int e = errno;

		snprintf(err, errlen, "%s: %s", path, strerror(e));
		return -e;
	}
	while (rc == 0 && fgets(line, sizeof(line), f)) {
		char *key, *value, *eq;

		lineno++;
		if (!strchr(line, '\n') && !feof(f)) {
			snprintf(err, errlen, "%s:%u: line is longer than %zu bytes",
				 path, lineno, sizeof(line) - 2);
			rc = -EINVAL;
			break;
		}
		cut_comment(line);
		key = trim(line);
		if (*key == '\0')
			continue;
		eq = strchr(key, '=');
		if (!eq) {
			snprintf(err, errlen, "%s:%u: expected 'key = value', got '%s'",
				 path, lineno, key);
			rc = -EINVAL;
			break;
		}
		*eq = '\0';
		value = trim(eq + 1);
		key = trim(key);
		size_t vl = strlen(value);
		if (vl >= 2 && value[0] == '"' && value[vl - 1] == '"') {
			value[vl - 1] = '\0';
			value++;
		}
		if (strcmp(key, "config") == 0) {
			snprintf(err, errlen, "%s:%u: config: a config file cannot name another",
				 path, lineno);
			rc = -EINVAL;
		} else if (cfg_set(c, key, value, msg, sizeof(msg))) {
			snprintf(err, errlen, "%s:%u: %s", path, lineno, msg);
			rc = -EINVAL;
		}
	}
	if (rc == 0 && ferror(f)) {
		snprintf(err, errlen, "%s: read error", path);
		rc = -EIO;
	}
	fclose(f);
	return rc;
}

int cfg_build(struct cfg *c, int argc, char **argv, char *err, size_t errlen)
{
	static struct cfg probe;     /* large (paths); main thread only */
	const char *path = NULL;
	int rc;

	/* First pass: validate the flags and learn --config. */
	cfg_defaults(&probe);
	rc = cfg_parse(&probe, argc, argv, err, errlen);
	if (rc != CFG_OK && rc != CFG_CHECK)
		return rc;
	cfg_defaults(c);
	if (probe.config_path[0])
		path = probe.config_path;
	else if (access(CFG_DEFAULT_FILE, F_OK) == 0)
		path = CFG_DEFAULT_FILE;
	if (path) {
		if (cfg_load_file(c, path, err, errlen))
			return -EINVAL;
		snprintf(c->config_path, sizeof(c->config_path), "%s", path);
	}
	/* Flags on the command line win over the file: a --listen replaces
	 * the file's addresses instead of adding to them. */
	c->listen.fresh = true;
	return cfg_parse(c, argc, argv, err, errlen);
}
