/*
 * replay.c: a main() for the fuzz targets in builds without libFuzzer.
 * It feeds every file of the target's corpus (fuzz/corpus/<target>/, or
 * the files and folders named on the command line) to
 * LLVMFuzzerTestOneInput() once, each in a buffer of exactly its size so
 * that AddressSanitizer or valgrind sees a read past the end. This is how
 * `make check` replays the seeds and every regression input a fuzzer
 * found, without clang; and how tools/torture.sh learns how many
 * allocations one input makes. The corpus is our own and trusted to be small;
 * a file over FUZZ_REPLAY_MAX bytes is an error.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/alloc.h"
#include "fuzz/fuzz.h"

#define FUZZ_REPLAY_MAX (16u * 1024 * 1024)

/* Targets that need no set-up do not define LLVMFuzzerInitialize. */
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static int
replay_file(const char *path, unsigned long *n)
{
	FILE *f = NULL;
	uint8_t *data = NULL;
	struct stat st;
	size_t len;
	int rc = -1;

	if ((f = fopen(path, "rb")) == NULL || fstat(fileno(f), &st) == -1) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		goto out;
	}
	if (st.st_size < 0 || (uintmax_t)st.st_size > FUZZ_REPLAY_MAX) {
		fprintf(stderr, "%s: larger than %u bytes\n", path,
		    FUZZ_REPLAY_MAX);
		goto out;
	}
	len = (size_t)st.st_size;
	/* malloc(0) may return NULL; keep a distinct, empty buffer. */
	if ((data = malloc(len == 0 ? 1 : len)) == NULL) {
		fprintf(stderr, "%s: out of memory\n", path);
		goto out;
	}
	if (len > 0 && fread(data, 1, len, f) != len) {
		fprintf(stderr, "%s: short read\n", path);
		goto out;
	}
	LLVMFuzzerTestOneInput(data, len);
	(*n)++;
	rc = 0;
out:
	free(data);
	if (f != NULL)
		fclose(f);
	return rc;
}

static int
replay_path(const char *path, unsigned long *n)
{
	struct dirent **names = NULL;
	struct stat st;
	char sub[PATH_MAX];
	int i, count, rc = 0;

	if (stat(path, &st) == -1) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode))
		return replay_file(path, n);
	/* Sorted, so a run is repeatable and its log comparable. */
	if ((count = scandir(path, &names, NULL, alphasort)) == -1) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	for (i = 0; i < count; i++) {
		if (names[i]->d_name[0] != '.') {
			if ((size_t)snprintf(sub, sizeof(sub), "%s/%s", path,
			    names[i]->d_name) >= sizeof(sub)) {
				fprintf(stderr, "%s: path too long\n", path);
				rc = -1;
			} else if (replay_path(sub, n) == -1)
				rc = -1;
		}
		free(names[i]);
	}
	free(names);
	return rc;
}

int
main(int argc, char *argv[])
{
	char corpus[PATH_MAX];
	const char *name;
	unsigned long n = 0;
	int i, rc = 0;

	if (LLVMFuzzerInitialize != NULL)
		LLVMFuzzerInitialize(&argc, &argv);
	if (argc > 1) {
		for (i = 1; i < argc; i++)
			if (replay_path(argv[i], &n) == -1)
				rc = 1;
	} else {
		/* fuzz/fuzz_NAME replays fuzz/corpus/NAME. */
		name = strrchr(argv[0], '/');
		name = name == NULL ? argv[0] : name + 1;
		if (strncmp(name, "lt-", 3) == 0)
			name += 3;
		if (strncmp(name, "fuzz_", 5) == 0)
			name += 5;
		if ((size_t)snprintf(corpus, sizeof(corpus), "%s/fuzz/corpus/%s",
		    TOP_SRCDIR, name) >= sizeof(corpus)) {
			fprintf(stderr, "%s: path too long\n", name);
			return 1;
		}
		if (replay_path(corpus, &n) == -1)
			rc = 1;
	}
	/* tools/torture.sh reads the count (0 unless --enable-torture). */
	printf("%s: replayed %lu input(s)%s; our allocations: %lu\n", argv[0],
	    n, rc == 0 ? "" : ", with errors", mc_alloc_count());
	if (n == 0) {
		fprintf(stderr, "%s: no input replayed\n", argv[0]);
		rc = 1;
	}
	return rc;
}
