/* SPDX-License-Identifier: ISC */
/*
 * Recipient -> next hop: where to connect, the TLS policy and the SASL
 * credentials for it. No I/O but map reads (and, later, dns). Now: every
 * recipient goes to relayhost; without one there is no route (MX delivery
 * is not built yet).
 */
#ifndef SENDRELAY_ROUTE_H
#define SENDRELAY_ROUTE_H

#include <stdbool.h>

#include "conf.h"
#include "err.h"

struct route {
	char	*nexthop;	/* as configured, e.g. "[smtp.provider.net]:587" */
	char	*host;		/* without brackets and port */
	int	 port;
	bool	 mx_lookup;	/* unbracketed: Postfix would look up MX */
	bool	 implicit_tls;	/* smtp_tls_wrappermode, or port 465 when unset */
	char	*tls_level;	/* a tls_level_parse() name */
	char	*sasl_user;	/* NULL when no credentials apply */
	char	*sasl_password;	/* wiped by route_free */
	char	*sasl_key;	/* the sasl_passwd key that matched */
};

/* Parses "[host]:port", "[host]", "host:port", "host" (port default 25). */
int	 route_parse_nexthop(const char *, struct route *, struct err *);
/*
 * Fills the route for rcpt (sender is for sender-dependent lookups).
 * Credentials are looked up in smtp_sasl_password_maps in Postfix order:
 * "[host]:port", "[host]", "host:port", "host", then the domain.
 */
int	 route_recipient(const struct conf *, const char *rcpt,
	    const char *sender, struct route *, struct err *);
/*
 * Checks, before a message is accepted, what every route will need: the
 * credential maps open and are safe (ERR_NOPERM for a secrets file
 * writable by others). A problem found only at delivery time would keep
 * the message queued without the caller hearing of it.
 */
int	 route_check(const struct conf *, struct err *);
/* True when both go to the same next hop with the same policy. */
bool	 route_same_nexthop(const struct route *, const struct route *);
void	 route_free(struct route *);

#endif
