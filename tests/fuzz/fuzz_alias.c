/* SPDX-License-Identifier: ISC */
/*
 * Fuzz target for alias_check_text: the aliases(5) syntax (continuation
 * lines, comments, quoted names and targets, CRLF, NUL bytes) and every
 * target through addr_parse_envelope. Each report must be one non-empty
 * line starting "fuzz:LINE: " with LINE within the input, and the error
 * count can never exceed the number of reports.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alias.h"

struct fuzz_alias {
	size_t	 reports;
	size_t	 lines;
};

int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);
static void	 fuzz_alias_report(void *, const char *);

static void
fuzz_alias_report(void *ctx, const char *text)
{
	struct fuzz_alias *f = ctx;
	char	*end;
	unsigned long line;

	if (strncmp(text, "fuzz:", 5) != 0 || strchr(text, '\n') != NULL)
		abort();
	line = strtoul(text + 5, &end, 10);
	if (end == text + 5 || line == 0 || line > f->lines ||
	    strncmp(end, ": ", 2) != 0 || end[2] == '\0')
		abort();
	f->reports++;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_alias f = { 0, 1 };
	size_t	 i, errors;

	for (i = 0; i < size; i++)
		if (data[i] == '\n')
			f.lines++;
	errors = alias_check_text((const char *)data, size, "fuzz",
	    fuzz_alias_report, &f);
	if (errors > f.reports)
		abort();
	return 0;
}
