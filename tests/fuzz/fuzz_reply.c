/* SPDX-License-Identifier: ISC */
/*
 * reply: the input is split at '\n' into reply lines (a CR stays, as a
 * misbehaving server might send it); each complete reply is also read as
 * an EHLO reply. Checks the bounds the parser promises.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "reply.h"

int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size, *nl;
	struct reply r;
	struct ehlo_caps caps;
	struct err e;
	int	 rc;

	reply_init(&r);
	while (p < end) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		rc = reply_feed(&r, p, (size_t)(nl - p), &e);
		if (r.lines > REPLY_MAX_LINES || r.text.len > REPLY_MAX_TEXT ||
		    strlen(r.enhanced) >= sizeof(r.enhanced))
			abort();
		if (rc == 1) {
			if (r.code < 200 || r.code > 599)
				abort();
			reply_ehlo_caps(&r, &caps);
			if (strlen(caps.auth_mechs) >= sizeof(caps.auth_mechs))
				abort();
		} else if (rc == -1)
			reply_reset(&r);
		p = nl + 1;
	}
	reply_free(&r);
	return 0;
}
