/* SPDX-License-Identifier: ISC */
/*
 * One delivery attempt of a queued message: its pending recipients are
 * grouped by next hop, each group gets one SMTP transaction, every
 * recipient gets a Postfix-format log line, and the outcome is recorded
 * in the queue: delivered recipients are never tried again, permanently
 * failed ones are bounced to the sender, the rest wait for the next
 * attempt (backoff) until maximal_queue_lifetime, then bounce.
 */
#ifndef SENDRELAY_DELIVER_H
#define SENDRELAY_DELIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "conf.h"
#include "err.h"
#include "spool.h"

/* SMTP sessions kept open between messages of one queue run. */
struct deliver_cache;

struct deliver_cache *deliver_cache_new(void);
/* QUITs and frees every kept session. NULL is fine. */
void	 deliver_cache_free(struct deliver_cache *);

struct deliver_result {
	bool		 busy;		/* locked by another process, or gone */
	size_t		 sent;		/* this attempt */
	size_t		 deferred;	/* still queued */
	size_t		 failed;	/* failed this attempt (bounced or not) */
	size_t		 unreported;	/* failed with nobody to tell (<>) */
	struct err	 worst;		/* first unreported failure */
	char		 bounce_id[SPOOL_ID_LEN + 1];	/* queued DSN, or "" */
	time_t		 next_attempt;	/* when deferred */
};

struct deliver_options {
	time_t	 now;
	bool	 tell_caller;	/* also report failures on stderr */
};

/*
 * One attempt for the queued message id. cache may be NULL (sessions are
 * closed after the message). Returns -1 only when the queue could not be
 * read or updated (err); what happened to the recipients is in res.
 */
int	 deliver_queued(const struct conf *, struct spool *, const char *id,
	    struct deliver_cache *, const struct deliver_options *,
	    struct deliver_result *, struct err *);

#endif
