/* SPDX-License-Identifier: BSD-2-Clause */
/* The fuzz harness without libFuzzer: every file of the committed corpus
 * (or of the files and directories named on the command line) through
 * LLVMFuzzerTestOneInput once, so each build's `make check` runs the
 * harness's invariants - the real worker's answers included - on the
 * inputs the fuzzer found interesting. */
#include "config.h"

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long n;

	if (!f) {
		perror(path);
		exit(1);
	}
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc(n > 0 ? (size_t)n : 1);
	if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
		fprintf(stderr, "%s: cannot read\n", path);
		exit(1);
	}
	fclose(f);
	LLVMFuzzerTestOneInput(buf, (size_t)n);
	free(buf);
	return 1;
}

static unsigned run_path(const char *path)
{
	struct stat st;
	unsigned n = 0;

	if (stat(path, &st)) {
		perror(path);
		exit(1);
	}
	if (!S_ISDIR(st.st_mode))
		return run_file(path);
	struct dirent **names;
	int k = scandir(path, &names, NULL, alphasort);

	for (int i = 0; i < k; i++) {
		char full[4096];

		if (names[i]->d_name[0] != '.') {
			snprintf(full, sizeof(full), "%s/%s", path, names[i]->d_name);
			n += run_file(full);
		}
		free(names[i]);
	}
	free(names);
	return n;
}

int main(int argc, char **argv)
{
	static const char *const corpus[] = { FUZZ_CORPUS };
	unsigned n = 0;

	LLVMFuzzerInitialize(&argc, &argv);
	if (argc > 1)
		for (int i = 1; i < argc; i++)
			n += run_path(argv[i]);
	else
		n = run_path(corpus[0]);
	printf("%u inputs, every invariant held\n", n);
	return n ? 0 : 1;
}
