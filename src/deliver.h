/* SPDX-License-Identifier: ISC */
/*
 * One delivery attempt of a message: recipients are grouped by next hop,
 * each group gets one SMTP transaction, and every recipient gets a
 * Postfix-format log line and, when rejected, a line on stderr.
 */
#ifndef SENDRELAY_DELIVER_H
#define SENDRELAY_DELIVER_H

#include <stdbool.h>
#include <sys/types.h>
#include <time.h>

#include "conf.h"
#include "err.h"
#include "message.h"

struct deliver_request {
	const struct conf	*conf;
	const struct message	*message;
	int			 body_fd;
	const char		*queue_id;	/* for log lines */
	struct timespec		 arrival;	/* CLOCK_REALTIME, intake start */
	const char		*dsn_notify;
	const char		*dsn_ret;
	const char		*dsn_envid;
};

struct deliver_result {
	size_t		 sent;
	size_t		 deferred;
	size_t		 rejected;
};

/*
 * Returns 0 when every recipient was delivered; otherwise -1 with err
 * describing the worst outcome (temporary beats permanent for the exit
 * code: the caller must keep the message).
 */
int	 deliver_message(const struct deliver_request *,
	    struct deliver_result *, struct err *);

#endif
