/* SPDX-License-Identifier: ISC */
/*
 * Queue runs and the queue listing; see queue.h.
 *
 * A run walks the queue in ID order and hands each selected message to
 * deliver_queued() with one session cache for the whole run, so every
 * message to the same next hop goes over one connection (one TLS
 * handshake, one AUTH). Bounces a run creates are delivered in the same
 * run. Locks taken by deliver make concurrent runners and submissions
 * skip each other's messages instead of sending them twice.
 *
 * Does not: daemonise or repeat (-q30m is refused; a systemd timer or
 * cron runs `sendrelay -q`).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "deliver.h"
#include "log.h"
#include "queue.h"
#include "spool.h"
#include "xmalloc.h"

/* Stale files in tmp/ and data/ older than this are a crash's leftovers. */
#define QUEUE_STALE_AGE		(24 * 60 * 60)

static bool	 queue_selected(struct spool *, const char *,
		    enum queue_select, const char *, time_t);
static int	 queue_deliver(const struct conf *, struct spool *,
		    const char *, struct deliver_cache *, size_t *,
		    struct err *);
static void	 queue_list_one(FILE *, const struct spool_envelope *,
		    off_t *);

int
queue_parse_select(const char *arg, enum queue_select *sel, const char **id,
    struct err *e)
{
	*id = NULL;
	if (arg == NULL || *arg == '\0')
		*sel = QUEUE_DUE;
	else if (strcmp(arg, "f") == 0)
		*sel = QUEUE_ALL;
	else if (arg[0] == 'I' && arg[1] != '\0') {
		*sel = QUEUE_ONE;
		*id = arg + 1;
	} else
		return err_set(e, ERR_USAGE, "-q%s: not supported; use -q "
		    "(messages due), -qf (all now) or -qI<queue id>", arg);
	return 0;
}

static bool
queue_selected(struct spool *spool, const char *id, enum queue_select sel,
    const char *only, time_t now)
{
	struct spool_envelope	 env;
	struct err		 e;
	bool			 due;

	if (sel == QUEUE_ALL)
		return true;
	if (sel == QUEUE_ONE)
		return strcmp(id, only) == 0;
	memset(&env, 0, sizeof(env));
	err_clear(&e);
	if (spool_read(spool, id, &env, &e) != 1) {
		if (e.kind != ERR_OK)
			log_warn("%s", e.text);
		return false;
	}
	due = env.next_attempt <= now;
	spool_envelope_free(&env);
	return due;
}

/* One message, then the bounce it queued, if any. */
static int
queue_deliver(const struct conf *conf, struct spool *spool, const char *id,
    struct deliver_cache *cache, size_t *tried, struct err *e)
{
	struct deliver_options	 opts;
	struct deliver_result	 res;
	char			 bounce[SPOOL_ID_LEN + 1];

	memset(&opts, 0, sizeof(opts));
	opts.now = time(NULL);
	if (deliver_queued(conf, spool, id, cache, &opts, &res, e) == -1)
		return -1;
	if (!res.busy)
		(*tried)++;
	if (res.bounce_id[0] == '\0')
		return 0;
	(void)snprintf(bounce, sizeof(bounce), "%s", res.bounce_id);
	if (deliver_queued(conf, spool, bounce, cache, &opts, &res, e) == -1)
		return -1;
	(*tried)++;
	return 0;
}

int
queue_run(const struct conf *conf, enum queue_select sel, const char *only,
    struct err *e)
{
	struct spool		 spool;
	struct deliver_cache	*cache;
	char			**ids;
	size_t			 count, i, tried = 0;
	time_t			 now = time(NULL);
	struct err		 one;
	int			 rc = 0;

	if (spool_open(&spool, conf->sendrelay_queue_directory, true, e) == -1)
		return -1;
	(void)spool_cleanup(&spool, now, QUEUE_STALE_AGE);
	if (spool_list(&spool, &ids, &count, e) == -1) {
		spool_close(&spool);
		return -1;
	}
	cache = deliver_cache_new();
	for (i = 0; i < count; i++) {
		if (!queue_selected(&spool, ids[i], sel, only, now))
			continue;
		err_clear(&one);
		if (queue_deliver(conf, &spool, ids[i], cache, &tried,
		    &one) == -1) {
			/* The queue itself failed: later messages would too. */
			err_copy(e, &one);
			rc = -1;
			break;
		}
	}
	deliver_cache_free(cache);
	if (rc == 0 && sel == QUEUE_ONE && tried == 0)
		rc = err_set(e, ERR_NOINPUT, "-qI%s: no such message in the "
		    "queue, or another process is delivering it", only);
	spool_ids_free(ids);
	spool_close(&spool);
	return rc;
}

/*
 * Postfix showq's layout: the message line, then each recipient still
 * waiting, preceded by its last problem in parentheses.
 */
static void
queue_list_one(FILE *out, const struct spool_envelope *env, off_t *total)
{
	struct tm	 tm;
	time_t		 arrival = env->arrival.tv_sec;
	char		 when[32];
	size_t		 i;

	if (localtime_r(&arrival, &tm) == NULL ||
	    strftime(when, sizeof(when), "%a %b %e %H:%M:%S", &tm) == 0)
		(void)snprintf(when, sizeof(when), "%lld", (long long)arrival);
	(void)fprintf(out, "%-17s %8lld %-20s  %s\n", env->id,
	    (long long)env->size, when,
	    *env->sender != '\0' ? env->sender : "MAILER-DAEMON");
	for (i = 0; i < env->rcpt_count; i++) {
		if (env->rcpts[i].state != SPOOL_RCPT_PENDING)
			continue;
		if (env->rcpts[i].reason != NULL)
			(void)fprintf(out, "(%s)\n", env->rcpts[i].reason);
		(void)fprintf(out, "%49s%s\n", "", env->rcpts[i].address);
	}
	(void)fputc('\n', out);
	*total += env->size;
}

int
queue_list(const struct conf *conf, FILE *out, struct err *e)
{
	struct spool		 spool;
	struct spool_envelope	 env;
	char			**ids;
	size_t			 count, i, listed = 0;
	off_t			 total = 0;
	int			 rc;

	if (spool_open(&spool, conf->sendrelay_queue_directory, true, e) == -1)
		return -1;
	if (spool_list(&spool, &ids, &count, e) == -1) {
		spool_close(&spool);
		return -1;
	}
	for (i = 0; i < count; i++) {
		memset(&env, 0, sizeof(env));
		if ((rc = spool_read(&spool, ids[i], &env, e)) != 1) {
			if (rc == -1)
				log_warn("%s", e->text);
			err_clear(e);
			continue;
		}
		if (listed++ == 0)
			(void)fprintf(out, "%-17s %8s %-20s  %s\n", "-Queue ID-",
			    "--Size--", "----Arrival Time----",
			    "-Sender/Recipient-------");
		queue_list_one(out, &env, &total);
		spool_envelope_free(&env);
	}
	if (listed == 0)
		(void)fprintf(out, "Mail queue is empty\n");
	else
		(void)fprintf(out, "-- %lld Kbytes in %zu Request%s.\n",
		    (long long)(total + 1023) / 1024, listed,
		    listed == 1 ? "" : "s");
	spool_ids_free(ids);
	spool_close(&spool);
	return fflush(out) == EOF ? err_set(e, ERR_IOERR, "cannot write the "
	    "queue listing") : 0;
}
