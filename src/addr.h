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
