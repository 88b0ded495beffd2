/* SPDX-License-Identifier: ISC */
/*
 * SMTP client (RFC 5321) for one next hop: connect, greeting, EHLO (HELO
 * fallback), STARTTLS (RFC 3207) or implicit TLS, EHLO again, AUTH (RFC
 * 4954), then transactions: MAIL/RCPT/DATA pipelined when offered (RFC
 * 2920), SIZE, BODY=8BITMIME, SMTPUTF8, DSN; the body is streamed from a
 * file with dot-stuffing. Results are per recipient. Takes a filled
 * struct smtp_params and never reads the configuration.
 */
#ifndef SENDRELAY_SMTP_H
#define SENDRELAY_SMTP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "err.h"
#include "net.h"
#include "reply.h"
#include "tls.h"

struct smtp_timeouts {
	long	 connect, helo, starttls, mail, rcpt;
	long	 data_init, data_xfer, data_done, quit;
	long	 attempt;	/* whole session cap; 0 = none */
};

struct smtp_params {
	const char		*host;		/* connect to (name or address) */
	int			 port;
	int			 families;	/* NET_IPV4 | NET_IPV6 */
	const char		*helo_name;
	bool			 implicit_tls;	/* TLS before the greeting */
	struct tls_params	 tls;		/* level NONE: never STARTTLS */
	const char		*sasl_user;	/* NULL: no AUTH */
	const char		*sasl_password;
	const char		*sasl_filter;	/* "" or NULL: any */
	struct smtp_timeouts	 timeouts;
};

enum smtp_rcpt_status {
	SMTP_RCPT_PENDING,
	SMTP_RCPT_SENT,		/* the server took responsibility */
	SMTP_RCPT_TEMP,
	SMTP_RCPT_PERM,
};

struct smtp_rcpt {
	const char		*addr;
	enum smtp_rcpt_status	 status;
	struct err		 err;	/* why, when not SENT; the 250 when SENT */
};

struct smtp_envelope {
	const char		*sender;	/* "" for <> */
	struct smtp_rcpt	*rcpts;
	size_t			 rcpt_count;
	int			 body_fd;	/* canonical message, read from 0 */
	off_t			 size;
	bool			 eightbit;
	bool			 smtputf8;
	const char		*dsn_notify;	/* NULL when not asked */
	const char		*dsn_ret;
	const char		*dsn_envid;
};

struct smtp_session;

/*
 * Connects and gets the session ready for transactions (greeting, EHLO,
 * TLS, AUTH). Failures: ERR_TEMP (connection, 4xx, TLS), ERR_NOPERM (535
 * authentication failed, naming user and host), ERR_PERM (5xx greeting or
 * EHLO/HELO, required STARTTLS missing is ERR_TEMP as Postfix defers it),
 * ERR_PROTOCOL (malformed replies).
 * On failure *session is NULL when no connection was made; once connected
 * it is left set even on failure, so that the caller can name the peer
 * (smtp_peer) in its logs, and the caller must smtp_close() it (QUIT is
 * sent only when the dialogue is still in sync); smtp_send on such a
 * session fails at once with the same error.
 */
int	 smtp_open(struct smtp_session **, const struct smtp_params *,
	    struct err *);
/*
 * One transaction. Sets each recipient's status; returns -1 only for a
 * failure of the whole transaction (every PENDING recipient then carries
 * the same error and status). The session stays usable after a
 * transaction failure that left the connection in sync (RSET is sent).
 */
int	 smtp_send(struct smtp_session *, struct smtp_envelope *, struct err *);
/* True while the session can take another transaction. */
bool	 smtp_usable(const struct smtp_session *);
/*
 * Readies a kept session for another message, as a queue run does:
 * re-arms the whole-attempt deadline (seconds from now, 0: none) and
 * sends RSET, which also proves that the connection still works (Postfix
 * does the same with a cached connection). -1 leaves the session dead.
 */
int	 smtp_reuse(struct smtp_session *, long, struct err *);
/* QUIT (best effort) and free. NULL is fine. */
void	 smtp_close(struct smtp_session *);
const struct net_peer *smtp_peer(const struct smtp_session *);
const struct ehlo_caps *smtp_caps(const struct smtp_session *);
/* NULL when the session is not encrypted. */
const struct tls_info *smtp_tls_info(const struct smtp_session *);

#endif
