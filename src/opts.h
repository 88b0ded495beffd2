/* SPDX-License-Identifier: ISC */
/*
 * sendmail(8) command line -> struct opts. Pure: no I/O, no config. Flags
 * that are meaningless for a send-only relay are accepted and ignored; the
 * list of them is explicit in opts.c. argv[0]'s basename "mailq" or
 * "newaliases" selects the mode, nothing else in the name does.
 */
#ifndef SENDRELAY_OPTS_H
#define SENDRELAY_OPTS_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

enum opts_mode {
	OPTS_MODE_SEND,		/* -bm, the default */
	OPTS_MODE_QUEUE_LIST,	/* -bp, mailq */
	OPTS_MODE_QUEUE_RUN,	/* -q[...] */
	OPTS_MODE_SMTP_STDIO,	/* -bs */
	OPTS_MODE_ALIASES,	/* -bi, newaliases */
	OPTS_MODE_VERIFY,	/* -bv */
};

struct opts {
	enum opts_mode	 mode;
	bool		 extract_recipients;	/* -t */
	bool		 dot_ends_input;	/* cleared by -i, -oi */
	bool		 verbose;		/* -v */
	char		*sender;		/* -f, -r: as given; NULL if absent */
	char		*full_name;		/* -F */
	char		*config_path;		/* -C */
	char		*dsn_notify;		/* -N */
	char		*dsn_ret;		/* -R */
	char		*dsn_envid;		/* -V */
	char		*body_type;		/* -B: "7BIT" or "8BITMIME" */
	char		*queue_arg;		/* what followed -q ("" for bare -q) */
	char		*delivery_mode;		/* -od?: "i", "b", "q"... */
	char	       **recipients;		/* comma lists split, trimmed */
	size_t		 recipient_count;
};

/* Fills opts (which it initialises); on error leaves nothing to free. */
int	 opts_parse(struct opts *, int argc, char *const argv[], struct err *);
void	 opts_free(struct opts *);

#endif
