// SPDX-License-Identifier: MIT
/*
 * Corpus replay without libFuzzer: runs every file of CORPUS_DIR (or of the
 * files/directories given as arguments) through LLVMFuzzerTestOneInput and
 * reports one "ok - NAME" line for tests/run. A crash is a failed test.
 */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz/fuzz.h"

#ifndef CORPUS_DIR
#error "define CORPUS_DIR"
#endif
#ifndef HARNESS
#error "define HARNESS"
#endif
#ifndef TARGET
#define TARGET "fuzz"
#endif

static int replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long n;

	if (!f)
		return -1;
	if (fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET)) {
		fclose(f);
		return -1;
	}
	buf = malloc(n ? (size_t)n : 1);
	if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		fclose(f);
		return -1;
	}
	fclose(f);
	LLVMFuzzerTestOneInput(buf, (size_t)n);
	free(buf);
	return 0;
}

static int replay_path(const char *path, unsigned *count)
{
	struct stat st;
	struct dirent *e;
	DIR *d;

	if (stat(path, &st))
		return -1;
	if (!S_ISDIR(st.st_mode)) {
		if (replay_file(path))
			return -1;
		(*count)++;
		return 0;
	}
	d = opendir(path);
	if (!d)
		return -1;
	while ((e = readdir(d))) {
		char p[4096];

		if (e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", path, e->d_name);
		if (replay_path(p, count)) {
			closedir(d);
			return -1;
		}
	}
	closedir(d);
	return 0;
}

int main(int argc, char **argv)
{
	unsigned count = 0;
	int i, r = 0;

	/* An empty input first: the smallest edge case every harness must take. */
	LLVMFuzzerTestOneInput((const uint8_t *)"", 0);
	if (argc > 1) {
		for (i = 1; i < argc && !r; i++)
			r = replay_path(argv[i], &count);
	} else {
		r = replay_path(CORPUS_DIR, &count);
	}
	if (r) {
		printf("not ok - replay_%s: cannot read the corpus\n", TARGET);
		return 1;
	}
	printf("ok - replay_%s: %u inputs\n", TARGET, count);
	return 0;
}

/* The harness, in this same translation unit. */
#include HARNESS
