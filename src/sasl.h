/* SPDX-License-Identifier: ISC */
/*
 * SMTP AUTH client mechanisms through libgsasl, behind two calls. The
 * strongest mechanism both sides offer is chosen, in this order:
 * SCRAM-SHA-256, SCRAM-SHA-1, CRAM-MD5, PLAIN, LOGIN; a non-empty filter
 * (smtp_sasl_mechanism_filter) restricts the choice. Passwords are wiped
 * when the session ends.
 */
#ifndef SENDRELAY_SASL_H
#define SENDRELAY_SASL_H

#include "err.h"

struct sasl;

/*
 * Chooses a mechanism from the server's list (space separated) and starts
 * it. ERR_PERM when no mechanism fits, naming both lists.
 */
int	 sasl_start(struct sasl **, const char *server_mechs,
	    const char *filter, const char *user, const char *password,
	    const char *hostname, struct err *);
const char *sasl_mechanism(const struct sasl *);
/*
 * One step: input is the server's base64 challenge ("" for the initial
 * response). *output gets a base64 response (free it). Returns 1 when the
 * client side is done, 0 when it expects another challenge, -1 on error.
 */
int	 sasl_step(struct sasl *, const char *input, char **output,
	    struct err *);
void	 sasl_free(struct sasl *);

#endif
