/* SPDX-License-Identifier: ISC */
/*
 * Addresses: envelope addresses from the command line (RFC 5321 forms),
 * address lists from headers (RFC 5322 address-list with display names,
 * comments, quoted strings and groups), CR/LF/NUL rejection, IDN domains
 * to A-labels (IDNA2008, libidn2), and whether SMTPUTF8 is needed.
 */
#ifndef SENDRELAY_ADDR_H
#define SENDRELAY_ADDR_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

struct buf;

#define ADDR_MAX	1024	/* longer than any valid path (RFC 5321 4.5.3.1) */

struct addr_list {
	char	**v;	/* addr-spec strings, "local@domain" or "local" */
	size_t	  n;
};

/*
 * Parses one envelope address as given on the command line: "a@b",
 * "<a@b>", "Name <a@b>" is refused. "<>" and "" give "" (null sender).
 * Fails with ERR_DATA naming the input on syntax errors or CR/LF/NUL.
 */
int	 addr_parse_envelope(const char *in, char **out, struct err *);
/*
 * Appends the addr-specs of an RFC 5322 address-list (an unfolded header
 * value) to list. Group names are dropped, members kept. Returns -1 with
 * ERR_DATA on malformed input (nothing appended then).
 */
int	 addr_parse_header_list(const char *value, struct addr_list *,
	    struct err *);
/*
 * Rewrites the addr-specs of an RFC 5322 address-list header value (raw:
 * possibly folded with CRLF or LF + WSP) through fn, which gets each
 * addr-spec ("local@domain", unfolded, comments/CFWS removed, as
 * addr_parse_header_list would return it) and returns a new addr-spec
 * (malloc'd, caller of fn frees it) or NULL to keep it. Everything else
 * (display names, comments, groups, folding, encoded words, spacing) is
 * copied byte for byte. Returns 1 when something changed, 0 when not
 * (out then holds a copy of value), -1 with ERR_DATA when value is not an
 * address list (out unchanged; the caller keeps the header as it was).
 * The result is appended to out; when it does not fit within out's max,
 * -1 with ERR_DATA "rewritten header too long", out unchanged. value is
 * at most 1 MiB. An addr-spec returned unchanged by fn counts as kept.
 * When an addr-spec's source has CFWS inside ("a @ b", "a(x)@b", folding
 * in a quoted local part), the whole text from its first to its last byte
 * is replaced, so comments and folding inside it are lost.
 */
int	 addr_rewrite_header_list(const char *value, size_t len,
	    char *(*fn)(void *, const char *), void *ctx, struct buf *out,
	    struct err *);
void	 addr_list_add(struct addr_list *, const char *);
void	 addr_list_free(struct addr_list *);

/*
 * The part after the last '@' outside a quoted local part, or NULL when
 * there is none ("\"a@b\"" has no domain).
 */
const char *addr_domain(const char *);
/*
 * addr with "@origin" appended when it has no domain (new string). The
 * null sender "" is returned unchanged.
 */
char	*addr_qualify(const char *addr, const char *origin);
/* True when the local part holds non-ASCII bytes (needs SMTPUTF8). */
bool	 addr_needs_smtputf8(const char *);
/*
 * Converts the domain of addr (or a bare domain when is_domain) to its
 * A-label form; ASCII input is returned lower-cased unchanged. An invalid
 * IDN fails with ERR_DATA naming it.
 */
int	 addr_to_ascii(const char *addr, bool is_domain, char **out,
	    struct err *);

#endif
