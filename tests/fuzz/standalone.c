/* SPDX-License-Identifier: ISC */
/*
 * Replays files (or every file in the directories) given as arguments
 * through LLVMFuzzerTestOneInput, so that builds without libFuzzer still
 * run every fuzz target over its seed corpus.
 */
#include "config.h"

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);
static int	 standalone_run_file(const char *);

static int
standalone_run_file(const char *path)
{
	FILE	*fp;
	uint8_t	*data = NULL;
	size_t	 len = 0, cap = 0, n;

	if ((fp = fopen(path, "rb")) == NULL) {
		perror(path);
		return -1;
	}
	for (;;) {
		if (len == cap) {
			cap = cap ? cap * 2 : 4096;
			if ((data = realloc(data, cap)) == NULL)
				abort();
		}
		n = fread(data + len, 1, cap - len, fp);
		if (n == 0)
			break;
		len += n;
	}
	fclose(fp);
	(void)LLVMFuzzerTestOneInput(data, len);
	free(data);
	return 0;
}

int
main(int argc, char *argv[])
{
	struct stat st;
	DIR	*dir;
	struct dirent *de;
	char	 path[4096];
	int	 i, files = 0;

	for (i = 1; i < argc; i++) {
		if (stat(argv[i], &st) == -1) {
			perror(argv[i]);
			return 1;
		}
		if (!S_ISDIR(st.st_mode)) {
			if (standalone_run_file(argv[i]) == -1)
				return 1;
			files++;
			continue;
		}
		if ((dir = opendir(argv[i])) == NULL)
			return 1;
		while ((de = readdir(dir)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			(void)snprintf(path, sizeof(path), "%s/%s", argv[i],
			    de->d_name);
			if (standalone_run_file(path) == -1)
				return 1;
			files++;
		}
		closedir(dir);
	}
	printf("%d inputs replayed\n", files);
	return 0;
}
