/* SPDX-License-Identifier: ISC */
/*
 * conf_parse_text over arbitrary main.cf text. A myhostname line is put
 * first so no input makes the target ask the resolver (an input may still
 * redefine it). Warnings go to stderr through log_warn(); run libFuzzer
 * with -close_fd_mask=2 to drop them while keeping its own reports.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "err.h"
#include "xmalloc.h"

int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define FUZZ_PREFIX	"myhostname = fuzz.example.org\n"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conf	 conf;
	struct err	 e;
	char		*text;
	size_t		 len = sizeof(FUZZ_PREFIX) - 1;

	if (size > CONF_FILE_MAX - len)
		return 0;
	text = xmalloc(len + size);
	memcpy(text, FUZZ_PREFIX, len);
	if (size > 0)
		memcpy(text + len, data, size);
	if (conf_parse_text(&conf, text, len + size, "fuzz.cf", &e) == 0) {
		(void)conf_get(&conf, "relayhost");
		conf_free(&conf);
	}
	free(text);
	return 0;
}
