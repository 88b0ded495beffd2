/* SPDX-License-Identifier: ISC */
/*
 * Message intake: reads the message from an fd (stdin) and writes its
 * canonical form to another fd: CRLF line endings, lines longer than 998
 * octets folded with CRLF SP (as Postfix's smtp_line_length_limit does),
 * NUL bytes removed, no dot-stuffing (that happens on the wire). The body
 * is streamed; only the header section is held in memory, bounded by
 * MESSAGE_HEADER_MAX. Adds Date, Message-ID and From when missing, removes
 * Bcc, and with -t collects recipients from To/Cc/Bcc (Resent-* when any
 * Resent- header is present).
 */
#ifndef SENDRELAY_MESSAGE_H
#define SENDRELAY_MESSAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include "addr.h"
#include "buf.h"
#include "err.h"

#define MESSAGE_HEADER_MAX	(1024 * 1024)
#define MESSAGE_LINE_MAX	998

struct message_params {
	const char	*myhostname;	/* Message-ID right-hand side */
	const char	*myorigin;	/* qualifies bare names */
	bool		 bare_recipients;	/* leave domainless recipients
						   for the caller's aliases */
	/*
	 * smtp_generic_maps for the address headers (From, Sender,
	 * Reply-To, To, Cc and their Resent- forms) and the From we add:
	 * returns a new addr-spec or NULL to keep it. NULL: no rewriting.
	 */
	char		*(*rewrite)(void *, const char *);
	void		*rewrite_ctx;
	const char	*login;		/* the caller's login name */
	const char	*sender;	/* -f as given, or NULL */
	const char	*full_name;	/* -F, or NULL */
	bool		 extract_recipients;	/* -t */
	bool		 dot_ends_input;	/* no -i */
	long		 size_limit;	/* bytes of input; 0 = none */
	char *const	*recipients;	/* from argv, already split */
	size_t		 recipient_count;
	time_t		 now;
};

struct message {
	off_t		 size;		/* bytes written to the output fd */
	bool		 eightbit;	/* a byte >= 0x80 anywhere */
	bool		 smtputf8;	/* an address needs SMTPUTF8 */
	char		*sender;	/* envelope sender, "" for <> */
	struct addr_list recipients;	/* qualified, argv first, then -t */
	char		*message_id;	/* as sent, without <> */
};

/*
 * Reads in_fd to EOF (or a lone "." line when dot_ends_input) and writes
 * the canonical message to out_fd. Errors: ERR_DATA (too big: the limit is
 * named; malformed header; bad address; no recipients), ERR_NOINPUT/IOERR
 * (reading the input), ERR_TEMP (writing out_fd: a full disk).
 */
int	 message_intake(struct message *, int in_fd, int out_fd,
	    const struct message_params *, struct err *);
void	 message_free(struct message *);

/*
 * Header-section helpers, exposed for the unit tests and the fuzz target.
 * A parsed header: name and value point into the caller's text; value is
 * the raw (folded) value without the trailing line break.
 */
struct message_header {
	const char	*name;
	size_t		 name_len;
	const char	*value;
	size_t		 value_len;
};

/*
 * Splits a header section (LF or CRLF line ends, no blank line) into
 * headers; calls fn for each. Returns -1 with ERR_DATA on a line that is
 * neither a header nor a continuation. fn returns 0 to go on, or -1 to
 * stop: message_parse_headers then returns -1 and leaves the error to fn
 * (which reports it through its ctx). A field name is RFC 5322 ftext,
 * optionally followed by WSP before the colon (obsolete syntax, 4.5.3);
 * value starts right after the colon.
 */
int	 message_parse_headers(const char *text, size_t len,
	    int (*fn)(void *, const struct message_header *), void *ctx,
	    struct err *);
/* Unfolds a header value into out (CRLF/LF + WSP -> the WSP). */
int	 message_unfold(const char *value, size_t len, struct buf *out);

#endif
