/* SPDX-License-Identifier: ISC */
/*
 * Pure SMTP reply parsing (RFC 5321 4.2): multi-line replies fed one line
 * at a time, the code, the RFC 3463 enhanced status of the first line, the
 * text, and EHLO keywords. Replies are bounded in lines and total size.
 */
#ifndef SENDRELAY_REPLY_H
#define SENDRELAY_REPLY_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "err.h"

#define REPLY_MAX_LINES	100
#define REPLY_MAX_TEXT	(64 * 1024)

struct reply {
	int		 code;		/* 0 until the first line */
	char		 enhanced[16];	/* "2.0.0", or "" */
	struct buf	 text;		/* lines' texts (enhanced status removed), '\n'-joined */
	size_t		 lines;
	bool		 complete;
};

void	 reply_init(struct reply *);
void	 reply_reset(struct reply *);
void	 reply_free(struct reply *);
/*
 * Feeds one line (without CRLF). Returns 1 when the reply is complete, 0
 * when more lines follow, -1 with ERR_PROTOCOL for a malformed line, a code
 * that changes between lines, or a reply over the bounds. A line fed after
 * a complete reply starts a new one (the old one is reset). Control
 * characters in the text are stored as '?' (a tab as a space).
 */
int	 reply_feed(struct reply *, const char *line, size_t len, struct err *);

struct ehlo_caps {
	bool		 pipelining;
	bool		 starttls;
	bool		 eightbitmime;
	bool		 smtputf8;
	bool		 enhancedstatuscodes;
	bool		 dsn;
	bool		 size;
	unsigned long	 size_limit;	/* 0: none declared */
	bool		 auth;
	char		 auth_mechs[512];	/* upper-case, space separated */
};

/*
 * Reads the keywords of a complete 250 EHLO reply (first line is the
 * greeting); anything else gives empty caps. AUTH mechanisms come from
 * both "AUTH a b" and the old "AUTH=a b" lines, deduplicated; invalid
 * names (RFC 4422 3.1) and those that do not fit auth_mechs are dropped.
 */
void	 reply_ehlo_caps(const struct reply *, struct ehlo_caps *);

#endif
