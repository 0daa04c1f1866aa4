/* SPDX-License-Identifier: BSD-2-Clause */
/* Reading --json results back and merging them (`blast merge`). */
#ifndef BLAST_MERGE_H
#define BLAST_MERGE_H

#include "tools/blast/cli.h"
#include "tools/blast/engine.h"
#include "tools/blast/json.h"

#define MERGE_MAX BLAST_MAX_URLS

struct merge_set {
	struct blast_config cfg; /* from the first file; load settings add up */
	struct run_result *res[MERGE_MAX];
	unsigned n;
	unsigned files;
	char method[32];
};

int result_from_json(const struct json *r, struct run_result *out, char *err, size_t errlen);
void result_merge(struct run_result *dst, const struct run_result *src);
int merge_document(const struct json *doc, struct merge_set *set, char *err, size_t errlen);
void merge_set_free(struct merge_set *set);
/* argv[0] is "merge".  Returns the process exit status. */
int merge_main(int argc, char **argv);

#endif
