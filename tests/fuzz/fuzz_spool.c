/* SPDX-License-Identifier: ISC */
/*
 * Fuzz target for the envelope file format: arbitrary bytes are parsed;
 * an error must be ERR_DATA naming a line. What parses must format (the
 * formatted text is never longer than its source, so the size bound
 * holds), parse again, and format to the same text: the format is a
 * fixed point after one round.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "spool.h"

int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct spool_envelope env, again;
	struct buf first, second;
	struct err e;

	err_clear(&e);
	if (spool_parse_envelope((const char *)data, size, &env, &e) == -1) {
		if (e.kind != ERR_DATA || strncmp(e.text, "line ", 5) != 0 ||
		    env.rcpts != NULL || env.sender != NULL)
			abort();
		return 0;
	}
	if (env.rcpt_count == 0 || env.sender == NULL ||
	    strlen(env.id) != SPOOL_ID_LEN)
		abort();
	buf_init(&first, SPOOL_ENVELOPE_MAX);
	buf_init(&second, SPOOL_ENVELOPE_MAX);
	if (spool_format_envelope(&env, &first) == -1 || first.len > size)
		abort();
	if (spool_parse_envelope(first.data, first.len, &again, &e) == -1)
		abort();
	if (spool_format_envelope(&again, &second) == -1 ||
	    first.len != second.len ||
	    memcmp(first.data, second.data, first.len) != 0)
		abort();
	if (spool_envelope_done(&env) != spool_envelope_done(&again))
		abort();
	spool_envelope_free(&again);
	spool_envelope_free(&env);
	buf_free(&first);
	buf_free(&second);
	return 0;
}
