/* SPDX-License-Identifier: ISC */
/*
 * Fuzz target for map_parse_text: the postmap(1) text syntax (comments,
 * continuation lines, CRLF, NUL bytes). Each entry is checked to have a
 * non-empty lower-case key without blanks and a non-empty one-line value.
 * Inputs starting "inline:" or "static:" also go through map_open, for the
 * brace syntax (these types never touch files).
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "map.h"

int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);
static void	 fuzz_map_add(void *, const char *, const char *);
static void	 fuzz_map_spec(const uint8_t *, size_t);

static void
fuzz_map_add(void *ctx, const char *key, const char *value)
{
	size_t	*count = ctx;

	if (*key == '\0' || *value == '\0' || strpbrk(key, " \t\n") != NULL ||
	    strchr(value, '\n') != NULL)
		abort();
	for (; *key != '\0'; key++)
		if (*key >= 'A' && *key <= 'Z')
			abort();
	(*count)++;
}

static void
fuzz_map_spec(const uint8_t *data, size_t size)
{
	struct map *m;
	struct err e;
	const char *value;
	char	*spec;

	if (size < 7 || (memcmp(data, "inline:", 7) != 0 &&
	    memcmp(data, "static:", 7) != 0) || memchr(data, '\0', size))
		return;
	if ((spec = malloc(size + 1)) == NULL)
		return;
	memcpy(spec, data, size);
	spec[size] = '\0';
	if ((m = map_open(spec, 0, &e)) != NULL) {
		(void)map_lookup(m, "key", &value);
		map_free(m);
	} else if (e.kind != ERR_CONFIG)
		abort();
	free(spec);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct err e;
	size_t	 count = 0;

	err_clear(&e);
	if (map_parse_text((const char *)data, size, "fuzz", fuzz_map_add,
	    &count, &e) == -1 && (e.kind != ERR_CONFIG || e.text[0] == '\0'))
		abort();
	fuzz_map_spec(data, size);
	return 0;
}
