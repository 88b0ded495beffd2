/* SPDX-License-Identifier: ISC */
/*
 * The queue seen as a whole: `sendrelay -q` runs (every message whose
 * retry time has come, all of them, or one), and the `-bp` / mailq
 * listing in Postfix's format.
 */
#ifndef SENDRELAY_QUEUE_H
#define SENDRELAY_QUEUE_H

#include <stdbool.h>
#include <stdio.h>

#include "conf.h"
#include "err.h"

enum queue_select {
	QUEUE_DUE,		/* -q: retry time has come */
	QUEUE_ALL,		/* -qf: everything, now */
	QUEUE_ONE,		/* -qI<id> */
};

/*
 * Parses what followed -q: "" (due), "f" (all), "I<id>" (one).
 * ERR_USAGE for anything else, naming it.
 */
int	 queue_parse_select(const char *arg, enum queue_select *,
	    const char **id, struct err *);
/*
 * Delivers the selected messages, reusing one SMTP session per next hop
 * for the whole run, and the bounces they cause. Messages another process
 * is delivering are skipped. -1 only when the queue cannot be read.
 */
int	 queue_run(const struct conf *, enum queue_select, const char *id,
	    struct err *);
/* Writes the mailq listing. */
int	 queue_list(const struct conf *, FILE *, struct err *);

#endif
