/* SPDX-License-Identifier: ISC */
/*
 * Fuzz target for addr: the input, as a NUL-terminated string, goes
 * through addr_parse_envelope and addr_parse_header_list; whatever they
 * accept must be free of CR/LF (no SMTP command injection) and within
 * ADDR_MAX, and is then run through addr_to_ascii and the helpers.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "err.h"

int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);
static void	 fuzz_addr_accepted(const char *);

static void
fuzz_addr_accepted(const char *a)
{
	struct err e;
	char	*ascii = NULL, *q;

	if (strpbrk(a, "\r\n") != NULL || strlen(a) > ADDR_MAX)
		abort();
	(void)addr_needs_smtputf8(a);
	q = addr_qualify(a, "origin.example");
	free(q);
	if (addr_to_ascii(a, false, &ascii, &e) == 0) {
		if (ascii == NULL || strpbrk(ascii, "\r\n") != NULL)
			abort();
	} else if (ascii != NULL || e.kind != ERR_DATA)
		abort();
	free(ascii);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct addr_list list = { NULL, 0 };
	struct err e;
	char	*in, *out = NULL;
	size_t	 i;

	in = malloc(size + 1);
	if (in == NULL)
		return 0;
	memcpy(in, data, size);
	in[size] = '\0';
	if (addr_parse_envelope(in, &out, &e) == 0) {
		fuzz_addr_accepted(out);
		free(out);
	} else if (out != NULL || e.kind != ERR_DATA)
		abort();
	if (addr_parse_header_list(in, &list, &e) == 0) {
		for (i = 0; i < list.n; i++)
			fuzz_addr_accepted(list.v[i]);
	} else if (list.n != 0 || e.kind != ERR_DATA)
		abort();
	addr_list_free(&list);
	free(in);
	return 0;
}
