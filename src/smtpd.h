/* SPDX-License-Identifier: ISC */
/*
 * sendmail -bs: an SMTP server dialogue (RFC 5321) on standard input and
 * output, as Symfony Mailer and SwiftMailer use it. EHLO/HELO, MAIL,
 * RCPT, DATA, RSET, NOOP, QUIT, HELP; VRFY and EXPN refused; PIPELINING
 * tolerated (replies are flushed when the input runs dry), 8BITMIME,
 * SMTPUTF8, SIZE and ENHANCEDSTATUSCODES advertised. Every line is
 * bounded. The message content is un-dot-stuffed into a scratch file and
 * handed to the caller, which queues and delivers it as the command line
 * does; its answer becomes the reply to the end of data.
 */
#ifndef SENDRELAY_SMTPD_H
#define SENDRELAY_SMTPD_H

#include <stddef.h>

#include "addr.h"
#include "err.h"

#define SMTPD_LINE_MAX		4096	/* a command line, CRLF included */
#define SMTPD_RCPT_MAX		1000

struct smtpd_hooks {
	/* An empty, seekable file for one message's content, or -1 (err). */
	int	(*scratch)(void *ctx, struct err *);
	/*
	 * The end of data: content in data_fd (from offset 0, CRLF lines as
	 * received, dots unstuffed; smtpd closes it afterwards). sender is
	 * "" for the null sender; sender and recipients may lack a domain
	 * ("postmaster"), for the caller to qualify. Returns 0 when the
	 * message is delivered or safely queued (queue_id names it), or -1
	 * with err: ERR_TEMP, ERR_OSERR, ERR_IOERR, ERR_SOFTWARE,
	 * ERR_CONFIG and ERR_NOPERM give 451 4.3.0, ERR_DATA 554 5.6.0
	 * (a bad message), others 554 5.0.0; err_format's text follows.
	 */
	int	(*accept)(void *ctx, const char *sender,
		    const struct addr_list *recipients, int data_fd,
		    char *queue_id, size_t queue_id_len, struct err *);
	void	*ctx;
};

/*
 * Runs the dialogue until QUIT, end of input or too many errors (421).
 * size_limit (bytes, 0: none) is advertised and enforced (552 after the
 * data). -1 only with ERR_IOERR when reading the commands or writing the
 * replies fails (the client went away), or with the hook's error when the
 * scratch file fails (the client has been told 451).
 */
int	 smtpd_session(int in_fd, int out_fd, const char *hostname,
	    long size_limit, const struct smtpd_hooks *, struct err *);

#endif
