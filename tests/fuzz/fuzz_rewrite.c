/* SPDX-License-Identifier: ISC */
/*
 * Fuzz target for addr_rewrite_header_list: the input is a raw (possibly
 * folded) header value. An identity rewrite must give 0 and the input back
 * byte for byte, or -1 with ERR_DATA and nothing written. A rewrite of
 * every address to FUZZ_NEW must agree on validity, and its output must
 * parse to as many addresses as the input, all of them FUZZ_NEW.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "buf.h"
#include "err.h"
#include "xmalloc.h"

#define FUZZ_NEW	"x@y.example"
#define FUZZ_OUT_MAX	(16 * 1024 * 1024)

int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);
static char	*fuzz_identity(void *, const char *);
static char	*fuzz_map_all(void *, const char *);
static char	*fuzz_unfold(const char *, size_t);
static size_t	 fuzz_parse(const char *, size_t, struct addr_list *);

/* Counts its calls in *(size_t *)ctx. */
static char *
fuzz_identity(void *ctx, const char *addr)
{
	(*(size_t *)ctx)++;
	return xstrdup(addr);
}

static char *
fuzz_map_all(void *ctx, const char *addr)
{
	(void)ctx;
	(void)addr;
	return xstrdup(FUZZ_NEW);
}

/*
 * The oracle's own unfolding (RFC 5322 2.2.3, LF alone too), written
 * apart from addr.c's so that a shared mistake is less likely.
 */
static char *
fuzz_unfold(const char *s, size_t len)
{
	char	*u = xmalloc(len + 1), *p = u;
	size_t	 i;

	for (i = 0; i < len; i++) {
		if (s[i] == '\r' && i + 2 < len && s[i + 1] == '\n' &&
		    (s[i + 2] == ' ' || s[i + 2] == '\t'))
			i += 2;
		else if (s[i] == '\n' && i + 1 < len &&
		    (s[i + 1] == ' ' || s[i + 1] == '\t'))
			i++;
		*p++ = s[i];
	}
	*p = '\0';
	return u;
}

/* Parses the unfolded text into list; aborts when it is refused. */
static size_t
fuzz_parse(const char *s, size_t len, struct addr_list *list)
{
	struct err e;
	char	*u;

	if (len > 0 && memchr(s, '\0', len) != NULL)
		abort();	/* an accepted value never holds a NUL */
	u = fuzz_unfold(s, len);
	if (addr_parse_header_list(u, list, &e) == -1)
		abort();
	free(u);
	return list->n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct addr_list before = { NULL, 0 }, after = { NULL, 0 };
	struct buf out;
	struct err e;
	const char *in = (const char *)data;
	size_t	 calls = 0, i;
	int	 rc_id, rc_map;

	buf_init(&out, FUZZ_OUT_MAX);
	rc_id = addr_rewrite_header_list(in, size, fuzz_identity, &calls,
	    &out, &e);
	if (rc_id == 0) {
		if (out.len != size || (size > 0 &&
		    memcmp(out.data, in, size) != 0))
			abort();
		if (fuzz_parse(in, size, &before) != calls)
			abort();
	} else if (rc_id != -1 || e.kind != ERR_DATA || out.len != 0 ||
	    calls != 0)
		abort();
	buf_reset(&out);
	rc_map = addr_rewrite_header_list(in, size, fuzz_map_all, NULL, &out,
	    &e);
	if ((rc_map == -1) != (rc_id == -1))
		abort();
	if (rc_map == -1 && (e.kind != ERR_DATA || out.len != 0))
		abort();
	if (rc_map == 0 && (out.len != size || (size > 0 &&
	    memcmp(out.data, in, size) != 0)))
		abort();
	if (rc_map >= 0) {
		if (fuzz_parse(out.data != NULL ? out.data : "", out.len,
		    &after) != before.n)
			abort();
		for (i = 0; i < after.n; i++)
			if (strcmp(after.v[i], FUZZ_NEW) != 0)
				abort();
	}
	addr_list_free(&before);
	addr_list_free(&after);
	buf_free(&out);
	return 0;
}
