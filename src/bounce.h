/* SPDX-License-Identifier: ISC */
/*
 * Delivery status notifications (RFC 3464, RFC 3461 6): a
 * multipart/report message telling the sender which recipients failed
 * (or are delayed) and why, with the original message's headers (or the
 * whole message with RET=FULL) attached. The result is a complete
 * canonical message (CRLF) ready to be queued with the null sender.
 */
#ifndef SENDRELAY_BOUNCE_H
#define SENDRELAY_BOUNCE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include "err.h"

enum bounce_kind {
	BOUNCE_FAILED,		/* permanent failure or expiry */
	BOUNCE_DELAYED,		/* delay warning: still trying */
};

/*
 * status: the enhanced status code. BOUNCE_DELAYED keeps a 4.x.x,
 * BOUNCE_FAILED a 5.x.x or a 4.x.x (a message that expired after
 * transient errors, 4.4.7); anything else, NULL or "" reports 5.0.0 or
 * 4.0.0. remote is NULL when no server replied; diagnostic is typed
 * "smtp" when remote is set (the server's words), "X-Sendrelay" when it
 * is our own reason. A non-ASCII address makes the human-readable part
 * UTF-8 (8bit) and is reported with the RFC 6533 utf-8 address type;
 * diagnostics are shown in ASCII.
 */
struct bounce_rcpt {
	const char	*address;
	const char	*status;	/* "5.1.1"; see above */
	const char	*diagnostic;	/* the server's words or our reason */
	const char	*remote;	/* "host[ip]:port" that said it */
};

struct bounce_params {
	enum bounce_kind	 kind;
	const char		*myhostname;	/* From, Message-ID, DSN */
	const char		*to;		/* recipient of the report */
	const char		*queue_id;	/* of the original message */
	const char		*envid;		/* -V of the original, NULL */
	struct timespec		 arrival;	/* of the original */
	time_t			 now;
	bool			 full;		/* attach the whole message */
	const struct bounce_rcpt *rcpts;
	size_t			 rcpt_count;
};

/*
 * Writes the report to out_fd, reading the original canonical message
 * from original_fd with pread (from offset 0, the fd's offset is left
 * alone; only its header section, at most 1 MiB, unless full). *size
 * gets the bytes written, also on failure. Errors: ERR_TEMP when out_fd
 * cannot be written (the reason named: ENOSPC...), ERR_IOERR when the
 * original cannot be read, ERR_CONFIG for an unusable myhostname,
 * ERR_SOFTWARE for missing parameters. The report is 8-bit when an
 * address is, or when the original is and full is set: the caller sends
 * it with the original's BODY and SMTPUTF8 parameters.
 */
int	 bounce_write(int out_fd, int original_fd, const struct bounce_params *,
	    off_t *size, struct err *);

#endif
