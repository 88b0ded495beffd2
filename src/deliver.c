/* SPDX-License-Identifier: ISC */
/*
 * One delivery attempt of a queued message. Pending recipients are
 * routed, grouped by next hop (one SMTP transaction per group, over a
 * session kept from an earlier message of the same queue run when there
 * is one), and each gets one Postfix-format log line:
 *   QUEUEID: to=<a@b>, relay=host[ip]:port, delay=0.42,
 *       delays=0.01/0/0.3/0.11, dsn=2.0.0, status=sent (250 2.0.0 Ok)
 * delays are Postfix's a/b/c/d: in the queue before this attempt, waiting
 * for it (always 0 here), connection setup (greeting, TLS, AUTH),
 * transmission.
 *
 * Then the outcome goes to the queue: sent recipients are marked so a
 * retry never sends to them again; rejected ones are bounced (an RFC 3464
 * report queued to the sender, never for the null sender); the others
 * wait, with a backoff doubling from minimal_backoff_time up to
 * maximal_backoff_time, until maximal_queue_lifetime (bounce_queue_lifetime
 * for bounces) ends and they bounce as expired. Like Postfix with its
 * default smtp_sasl_auth_soft_bounce, a failed login, a TLS failure or a
 * configuration problem defers: the message waits until it is fixed.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "bounce.h"
#include "deliver.h"
#include "log.h"
#include "net.h"
#include "route.h"
#include "smtp.h"
#include "tls.h"
#include "xmalloc.h"

struct deliver_group {
	struct route		 route;
	struct smtp_rcpt	*rcpts;		/* addr: ASCII form, owned */
	size_t			*index;		/* into the envelope's rcpts */
	size_t			 count;
	char			*relay;		/* who answered, for reports */
};

struct deliver_kept {
	struct route		 route;
	struct smtp_session	*session;
};

struct deliver_cache {
	struct deliver_kept	*kept;
	size_t			 count;
};

/* What one attempt works with. */
struct deliver_attempt {
	const struct conf		*conf;
	struct spool			*spool;
	struct spool_envelope		*env;
	int				 data_fd;
	struct deliver_cache		*cache;
	const struct deliver_options	*opts;
	double				 arrival, start;
	char				*sender;	/* ASCII form */
	size_t				*failed;	/* rcpts failed now */
	size_t				 failed_count;
};

struct deliver_clock {
	double	 arrival, start, connected, done;
};

static double	 deliver_now(void);
static int	 deliver_params(const struct conf *, const struct route *,
		    struct smtp_params *, struct err *);
static struct smtp_session *deliver_session(struct deliver_attempt *,
		    struct deliver_group *, struct err *);
static void	 deliver_release(struct deliver_attempt *,
		    struct deliver_group *, struct smtp_session *);
static void	 deliver_group(struct deliver_attempt *,
		    struct deliver_group *);
static void	 deliver_report(const struct deliver_attempt *,
		    const struct smtp_rcpt *, const char *relay,
		    const struct deliver_clock *);
static bool	 deliver_is_permanent(const struct err *);
static void	 deliver_fail_group(struct deliver_group *, const struct err *);
static void	 deliver_route(struct deliver_attempt *,
		    struct deliver_group **, size_t *);
static void	 deliver_record(struct deliver_attempt *,
		    const struct deliver_group *, struct deliver_result *);
static void	 deliver_expire(struct deliver_attempt *);
static int	 deliver_notify(struct deliver_attempt *, enum bounce_kind,
		    const size_t *, size_t, char *, struct err *);
static const char *deliver_notice_recipient(const struct conf *,
		    const char *);
static void	 deliver_bounce(struct deliver_attempt *,
		    struct deliver_result *);
static void	 deliver_warn_delay(struct deliver_attempt *);
static time_t	 deliver_backoff(const struct conf *, unsigned);
static void	 deliver_groups_free(struct deliver_group *, size_t);

static double
deliver_now(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
deliver_params(const struct conf *conf, const struct route *r,
    struct smtp_params *p, struct err *e)
{
	memset(p, 0, sizeof(*p));
	p->host = r->host;
	p->port = r->port;
	if (net_parse_families(conf->inet_protocols, &p->families) == -1)
		return err_set(e, ERR_CONFIG, "inet_protocols: expected all, "
		    "ipv4 or ipv6, got '%s'", conf->inet_protocols);
	p->helo_name = conf->smtp_helo_name;
	p->implicit_tls = r->implicit_tls;
	if (tls_level_parse(r->tls_level, &p->tls.level) == -1)
		return err_set(e, ERR_CONFIG, "smtp_tls_security_level = %s "
		    "needs DNSSEC, which relayhost delivery does not use; use "
		    "verify or secure", r->tls_level);
	p->tls.servername = r->host;
	p->tls.ca_file = *conf->smtp_tls_CAfile ? conf->smtp_tls_CAfile : NULL;
	p->tls.ca_path = *conf->smtp_tls_CApath ? conf->smtp_tls_CApath : NULL;
	p->tls.cert_file = *conf->smtp_tls_cert_file ?
	    conf->smtp_tls_cert_file : NULL;
	p->tls.key_file = *conf->smtp_tls_key_file ?
	    conf->smtp_tls_key_file : NULL;
	p->tls.fingerprint_digest = conf->smtp_tls_fingerprint_digest;
	p->tls.fingerprints = conf->smtp_tls_fingerprint_cert_match;
	p->tls.protocols = conf->smtp_tls_mandatory_protocols;
	p->tls.timeout = conf->smtp_starttls_timeout;
	p->sasl_user = r->sasl_user;
	p->sasl_password = r->sasl_password;
	p->sasl_filter = conf->smtp_sasl_mechanism_filter;
	p->timeouts.connect = conf->smtp_connect_timeout;
	p->timeouts.helo = conf->smtp_helo_timeout;
	p->timeouts.starttls = conf->smtp_starttls_timeout;
	p->timeouts.mail = conf->smtp_mail_timeout;
	p->timeouts.rcpt = conf->smtp_rcpt_timeout;
	p->timeouts.data_init = conf->smtp_data_init_timeout;
	p->timeouts.data_xfer = conf->smtp_data_xfer_timeout;
	p->timeouts.data_done = conf->smtp_data_done_timeout;
	p->timeouts.quit = conf->smtp_quit_timeout;
	p->timeouts.attempt = conf->sendrelay_submit_deadline;
	return 0;
}

struct deliver_cache *
deliver_cache_new(void)
{
	return xcalloc(1, sizeof(struct deliver_cache));
}

void
deliver_cache_free(struct deliver_cache *c)
{
	size_t	 i;

	if (c == NULL)
		return;
	for (i = 0; i < c->count; i++) {
		smtp_close(c->kept[i].session);
		route_free(&c->kept[i].route);
	}
	free(c->kept);
	free(c);
}

/* A kept session to this next hop, or a new one. */
static struct smtp_session *
deliver_session(struct deliver_attempt *a, struct deliver_group *g,
    struct err *e)
{
	struct smtp_params	 params;
	struct smtp_session	*session = NULL;
	size_t			 i;

	for (i = 0; a->cache != NULL && i < a->cache->count; i++) {
		if (!route_same_nexthop(&a->cache->kept[i].route, &g->route))
			continue;
		session = a->cache->kept[i].session;
		if (smtp_reuse(session, a->conf->sendrelay_submit_deadline,
		    e) == 0)
			return session;
		/* Timed out while idle, most likely: connect again. */
		err_clear(e);
		deliver_release(a, g, session);
		break;
	}
	session = NULL;
	if (deliver_params(a->conf, &g->route, &params, e) == -1)
		return NULL;
	/* A failed session is still returned to name the peer. */
	(void)smtp_open(&session, &params, e);
	return session;
}

/* Keeps a usable session for the next message of a run, or closes it. */
static void
deliver_release(struct deliver_attempt *a, struct deliver_group *g,
    struct smtp_session *session)
{
	struct deliver_cache	*c = a->cache;
	size_t			 i;

	for (i = 0; c != NULL && i < c->count; i++)
		if (c->kept[i].session == session)
			break;
	if (c != NULL && i < c->count) {
		if (smtp_usable(session))
			return;
		smtp_close(session);
		route_free(&c->kept[i].route);
		c->kept[i] = c->kept[--c->count];
		return;
	}
	if (c == NULL || session == NULL || !smtp_usable(session)) {
		smtp_close(session);
		return;
	}
	c->kept = xreallocarray(c->kept, c->count + 1, sizeof(*c->kept));
	c->kept[c->count].route = g->route;
	c->kept[c->count++].session = session;
	memset(&g->route, 0, sizeof(g->route));
}

static void
deliver_report(const struct deliver_attempt *a, const struct smtp_rcpt *rc,
    const char *relay, const struct deliver_clock *clk)
{
	char		 words[2 * ERR_TEXT_MAX + 64];
	const char	*status, *dsn, *fate;

	err_format(&rc->err, words, sizeof(words));
	switch (rc->status) {
	case SMTP_RCPT_SENT:
		status = "sent";
		dsn = rc->err.enhanced[0] ? rc->err.enhanced : "2.0.0";
		fate = "";
		break;
	case SMTP_RCPT_PERM:
		status = "bounced";
		dsn = rc->err.enhanced[0] ? rc->err.enhanced : "5.0.0";
		fate = *a->env->sender != '\0' ? " [returned to sender]" : "";
		break;
	default:
		status = "deferred";
		dsn = rc->err.enhanced[0] ? rc->err.enhanced : "4.0.0";
		fate = " [deferred: kept in the queue]";
		break;
	}
	log_info("%s: to=<%s>, relay=%s, delay=%.2g, delays=%.2g/0/%.2g/%.2g, "
	    "dsn=%s, status=%s (%s)", a->env->id, rc->addr, relay,
	    clk->done - clk->arrival, clk->start - clk->arrival,
	    clk->connected - clk->start, clk->done - clk->connected, dsn,
	    status, words);
	if (rc->status != SMTP_RCPT_SENT && a->opts->tell_caller)
		(void)fprintf(stderr, "sendrelay: %s: to=<%s>: %s%s\n",
		    a->env->id, rc->addr, words, fate);
}

/* Only a 5xx for this message or a bad address bounces; the rest can heal. */
static bool
deliver_is_permanent(const struct err *e)
{
	return e->kind == ERR_PERM || e->kind == ERR_NOUSER ||
	    e->kind == ERR_DATA;
}

static void
deliver_fail_group(struct deliver_group *g, const struct err *e)
{
	size_t	 i;
	enum smtp_rcpt_status status = deliver_is_permanent(e) ?
	    SMTP_RCPT_PERM : SMTP_RCPT_TEMP;

	for (i = 0; i < g->count; i++) {
		if (g->rcpts[i].status != SMTP_RCPT_PENDING)
			continue;
		g->rcpts[i].status = status;
		err_copy(&g->rcpts[i].err, e);
	}
}

static void
deliver_group(struct deliver_attempt *a, struct deliver_group *g)
{
	struct smtp_session	*session;
	struct smtp_envelope	 env;
	struct deliver_clock	 clk;
	struct err		 e;
	char			 relay[sizeof(((struct net_peer *)0)->label)];
	size_t			 i;

	err_clear(&e);
	clk.arrival = a->arrival;
	clk.start = a->start;
	(void)snprintf(relay, sizeof(relay), "%s", g->route.host);
	session = deliver_session(a, g, &e);
	if (session != NULL)
		(void)snprintf(relay, sizeof(relay), "%s",
		    smtp_peer(session)->label);
	if (session == NULL || !smtp_usable(session)) {
		deliver_fail_group(g, &e);
		clk.connected = clk.done = deliver_now();
		goto report;
	}
	clk.connected = deliver_now();
	memset(&env, 0, sizeof(env));
	env.sender = a->sender;
	env.rcpts = g->rcpts;
	env.rcpt_count = g->count;
	env.body_fd = a->data_fd;
	env.size = a->env->size;
	env.eightbit = a->env->eightbit;
	env.smtputf8 = a->env->smtputf8;
	env.dsn_notify = a->env->dsn_notify;
	env.dsn_ret = a->env->dsn_ret;
	env.dsn_envid = a->env->dsn_envid;
	if (smtp_send(session, &env, &e) == -1)
		deliver_fail_group(g, &e);
	clk.done = deliver_now();
report:
	g->relay = xstrdup(relay);
	deliver_release(a, g, session);
	for (i = 0; i < g->count; i++)
		deliver_report(a, &g->rcpts[i], relay, &clk);
}

/*
 * Groups the pending recipients by next hop. One that cannot be routed
 * fails alone: permanently for a bad address, temporarily otherwise
 * (a configuration problem the admin can fix while it waits).
 */
static void
deliver_route(struct deliver_attempt *a, struct deliver_group **groupsp,
    size_t *ngroupsp)
{
	struct spool_envelope	*env = a->env;
	struct deliver_group	*groups, *g;
	struct route		 r;
	struct err		 e;
	char			*rcpt;
	size_t			 i, j, ngroups = 0;

	groups = xcalloc(env->rcpt_count, sizeof(*groups));
	for (i = 0; i < env->rcpt_count; i++) {
		if (env->rcpts[i].state != SPOOL_RCPT_PENDING)
			continue;
		err_clear(&e);
		rcpt = NULL;
		if (addr_to_ascii(env->rcpts[i].address, false, &rcpt,
		    &e) == -1 || route_recipient(a->conf, rcpt, a->sender, &r,
		    &e) == -1) {
			env->rcpts[i].state = deliver_is_permanent(&e) ?
			    SPOOL_RCPT_FAILED : SPOOL_RCPT_PENDING;
			if (env->rcpts[i].state == SPOOL_RCPT_FAILED)
				a->failed[a->failed_count++] = i;
			free(env->rcpts[i].reason);
			env->rcpts[i].reason = xstrdup(e.text);
			log_info("%s: to=<%s>, relay=none, status=%s (%s)",
			    env->id, env->rcpts[i].address,
			    env->rcpts[i].state == SPOOL_RCPT_FAILED ?
			    "bounced" : "deferred", e.text);
			if (a->opts->tell_caller)
				(void)fprintf(stderr, "sendrelay: %s: to=<%s>: "
				    "%s\n", env->id, env->rcpts[i].address,
				    e.text);
			free(rcpt);
			continue;
		}
		for (j = 0; j < ngroups; j++)
			if (route_same_nexthop(&groups[j].route, &r))
				break;
		g = &groups[j];
		if (j == ngroups) {
			ngroups++;
			g->route = r;
			g->rcpts = xcalloc(env->rcpt_count, sizeof(*g->rcpts));
			g->index = xcalloc(env->rcpt_count, sizeof(*g->index));
		} else
			route_free(&r);
		g->rcpts[g->count].status = SMTP_RCPT_PENDING;
		g->index[g->count] = i;
		g->rcpts[g->count++].addr = rcpt;
	}
	*groupsp = groups;
	*ngroupsp = ngroups;
}

static void
deliver_record(struct deliver_attempt *a, const struct deliver_group *g,
    struct deliver_result *res)
{
	struct spool_rcpt	*sr;
	const struct smtp_rcpt	*rc;
	char			 words[2 * ERR_TEXT_MAX + 64];
	size_t			 i;

	for (i = 0; i < g->count; i++) {
		rc = &g->rcpts[i];
		sr = &a->env->rcpts[g->index[i]];
		err_format(&rc->err, words, sizeof(words));
		free(sr->reason);
		sr->reason = xstrdup(words);
		(void)snprintf(sr->status, sizeof(sr->status), "%s",
		    rc->err.enhanced);
		if (rc->status == SMTP_RCPT_SENT) {
			sr->state = SPOOL_RCPT_SENT;
			res->sent++;
		} else if (rc->status == SMTP_RCPT_PERM) {
			sr->state = SPOOL_RCPT_FAILED;
			a->failed[a->failed_count++] = g->index[i];
			free(sr->remote);
			sr->remote = rc->err.smtp_code != 0 ?
			    xstrdup(g->relay) : NULL;
		}
	}
}

/* Past the queue lifetime, what is still pending fails as expired. */
static void
deliver_expire(struct deliver_attempt *a)
{
	struct spool_envelope	*env = a->env;
	const struct conf	*conf = a->conf;
	long			 lifetime = *env->sender != '\0' ?
	    conf->maximal_queue_lifetime : conf->bounce_queue_lifetime;
	char			*reason;
	size_t			 i;

	if (a->opts->now - env->arrival.tv_sec < lifetime)
		return;
	for (i = 0; i < env->rcpt_count; i++) {
		if (env->rcpts[i].state != SPOOL_RCPT_PENDING)
			continue;
		env->rcpts[i].state = SPOOL_RCPT_FAILED;
		reason = xasprintf("message expired after %ld days in the "
		    "queue; last problem: %s", lifetime / 86400,
		    env->rcpts[i].reason != NULL ? env->rcpts[i].reason :
		    "none recorded");
		free(env->rcpts[i].reason);
		env->rcpts[i].reason = reason;
		if (env->rcpts[i].status[0] != '5')
			(void)snprintf(env->rcpts[i].status,
			    sizeof(env->rcpts[i].status), "4.4.7");
		a->failed[a->failed_count++] = i;
		log_info("%s: to=<%s>, relay=none, delay=%.0f, dsn=%s, "
		    "status=expired, returned to sender (%s)", env->id,
		    env->rcpts[i].address, deliver_now() - a->arrival,
		    env->rcpts[i].status, reason);
	}
}

/*
 * Mail to root@$myhostname or root@localhost reaches nobody through a
 * provider, so a bounce for such a local sender goes where the admin
 * said; anything else goes to the sender.
 */
static const char *
deliver_notice_recipient(const struct conf *conf, const char *sender)
{
	const char	*domain = addr_domain(sender);
	const char	*local = conf->sendrelay_local_bounce_recipient;

	if (local == NULL || *local == '\0' || domain == NULL)
		return sender;
	if (strcasecmp(domain, conf->myhostname) == 0 ||
	    strcasecmp(domain, "localhost") == 0 ||
	    (strncasecmp(domain, "localhost.", 10) == 0 &&
	    strcasecmp(domain + 10, conf->mydomain) == 0))
		return local;
	return sender;
}

/* Queues a report about these recipients to the sender. */
static int
deliver_notify(struct deliver_attempt *a, enum bounce_kind kind,
    const size_t *which, size_t count, char *id_out, struct err *e)
{
	struct spool_envelope	*env = a->env, notice;
	struct spool_new	 new;
	struct bounce_rcpt	*br;
	struct bounce_params	 bp;
	off_t			 size;
	size_t			 i;
	int			 rc = -1;

	if (spool_create(a->spool, &new, e) == -1)
		return -1;
	br = xcalloc(count, sizeof(*br));
	for (i = 0; i < count; i++) {
		br[i].address = env->rcpts[which[i]].address;
		br[i].status = env->rcpts[which[i]].status;
		br[i].diagnostic = env->rcpts[which[i]].reason;
		br[i].remote = env->rcpts[which[i]].remote;
	}
	memset(&bp, 0, sizeof(bp));
	bp.kind = kind;
	bp.myhostname = a->conf->myhostname;
	bp.to = deliver_notice_recipient(a->conf, env->sender);
	bp.queue_id = env->id;
	bp.envid = env->dsn_envid;
	bp.arrival = env->arrival;
	bp.now = a->opts->now;
	bp.full = env->dsn_ret != NULL && strcasecmp(env->dsn_ret, "full") == 0;
	bp.rcpts = br;
	bp.rcpt_count = count;
	memset(&notice, 0, sizeof(notice));
	if (bounce_write(new.fd, a->data_fd, &bp, &size, e) == -1) {
		spool_abort(a->spool, &new);
		goto out;
	}
	notice.sender = xstrdup("");
	(void)clock_gettime(CLOCK_REALTIME, &notice.arrival);
	notice.size = size;
	notice.eightbit = env->eightbit;
	notice.smtputf8 = env->smtputf8;
	notice.uid = (unsigned long)getuid();
	spool_envelope_add_rcpt(&notice, bp.to);
	if (spool_commit(a->spool, &new, &notice, e) == -1) {
		(void)close(new.fd);
		goto out;
	}
	(void)close(new.fd);
	log_info("%s: sender %s notification: %s (to <%s>)", env->id,
	    kind == BOUNCE_FAILED ? "non-delivery" : "delay", new.id, bp.to);
	(void)snprintf(id_out, SPOOL_ID_LEN + 1, "%s", new.id);
	rc = 0;
out:
	spool_envelope_free(&notice);
	free(br);
	return rc;
}

/*
 * Tells the sender about the recipients that failed in this attempt. If
 * the report cannot be queued they stay pending, so nothing is lost.
 */
static void
deliver_bounce(struct deliver_attempt *a, struct deliver_result *res)
{
	struct spool_envelope	*env = a->env;
	struct err		 e;
	size_t			 i;

	res->failed = a->failed_count;
	if (a->failed_count == 0)
		return;
	if (*env->sender == '\0') {
		res->unreported = a->failed_count;
		err_clear(&res->worst);
		(void)err_set(&res->worst, ERR_PERM, "%s: to=<%s>: %s",
		    env->id, env->rcpts[a->failed[0]].address,
		    env->rcpts[a->failed[0]].reason != NULL ?
		    env->rcpts[a->failed[0]].reason : "failed");
		return;
	}
	err_clear(&e);
	if (deliver_notify(a, BOUNCE_FAILED, a->failed, a->failed_count,
	    res->bounce_id, &e) == 0)
		return;
	log_warn("%s: cannot queue the bounce to <%s>: %s; the failed "
	    "recipients stay queued", env->id, env->sender, e.text);
	for (i = 0; i < a->failed_count; i++)
		env->rcpts[a->failed[i]].state = SPOOL_RCPT_PENDING;
	res->failed = 0;
}

static void
deliver_warn_delay(struct deliver_attempt *a)
{
	struct spool_envelope	*env = a->env;
	size_t			*pending, n = 0, i;
	char			 id[SPOOL_ID_LEN + 1];
	struct err		 e;

	if (a->conf->delay_warning_time <= 0 || env->delay_warned ||
	    *env->sender == '\0' ||
	    a->opts->now - env->arrival.tv_sec < a->conf->delay_warning_time)
		return;
	pending = xcalloc(env->rcpt_count, sizeof(*pending));
	for (i = 0; i < env->rcpt_count; i++)
		if (env->rcpts[i].state == SPOOL_RCPT_PENDING)
			pending[n++] = i;
	err_clear(&e);
	if (n > 0 && deliver_notify(a, BOUNCE_DELAYED, pending, n, id,
	    &e) == 0)
		env->delay_warned = true;
	else if (n > 0)
		log_warn("%s: cannot queue the delay notice: %s", env->id,
		    e.text);
	free(pending);
}

/* minimal_backoff_time doubled per attempt, at most maximal_backoff_time. */
static time_t
deliver_backoff(const struct conf *conf, unsigned attempts)
{
	long	 delay = conf->minimal_backoff_time > 0 ?
	    conf->minimal_backoff_time : 1;

	while (attempts-- > 1 && delay < conf->maximal_backoff_time)
		delay *= 2;
	if (delay > conf->maximal_backoff_time && conf->maximal_backoff_time > 0)
		delay = conf->maximal_backoff_time;
	return delay;
}

static void
deliver_groups_free(struct deliver_group *groups, size_t ngroups)
{
	size_t	 i, j;

	for (j = 0; j < ngroups; j++) {
		for (i = 0; i < groups[j].count; i++)
			free((char *)groups[j].rcpts[i].addr);
		free(groups[j].rcpts);
		free(groups[j].index);
		free(groups[j].relay);
		route_free(&groups[j].route);
	}
	free(groups);
}

int
deliver_queued(const struct conf *conf, struct spool *spool, const char *id,
    struct deliver_cache *cache, const struct deliver_options *opts,
    struct deliver_result *res, struct err *e)
{
	struct deliver_attempt	 a;
	struct spool_envelope	 env;
	struct deliver_group	*groups = NULL;
	size_t			 ngroups = 0, j;
	int			 rc;

	memset(res, 0, sizeof(*res));
	memset(&env, 0, sizeof(env));
	memset(&a, 0, sizeof(a));
	if ((rc = spool_lock(spool, id, &a.data_fd, &env, e)) != 1) {
		res->busy = rc == 0;
		return rc == 0 ? 0 : -1;
	}
	a.conf = conf;
	a.spool = spool;
	a.env = &env;
	a.cache = cache;
	a.opts = opts;
	a.arrival = (double)env.arrival.tv_sec +
	    (double)env.arrival.tv_nsec / 1e9;
	a.start = deliver_now();
	a.failed = xcalloc(env.rcpt_count + 1, sizeof(*a.failed));
	rc = -1;
	if (addr_to_ascii(env.sender, false, &a.sender, e) == -1)
		goto out;
	deliver_route(&a, &groups, &ngroups);
	for (j = 0; j < ngroups; j++) {
		deliver_group(&a, &groups[j]);
		deliver_record(&a, &groups[j], res);
	}
	env.attempts++;
	env.last_attempt = opts->now;
	deliver_expire(&a);
	deliver_bounce(&a, res);
	deliver_warn_delay(&a);
	if (spool_envelope_done(&env)) {
		if (spool_remove(spool, env.id, e) == -1)
			goto out;
		log_info("%s: removed", env.id);
	} else {
		for (j = 0; j < env.rcpt_count; j++)
			if (env.rcpts[j].state == SPOOL_RCPT_PENDING)
				res->deferred++;
		env.next_attempt = opts->now +
		    deliver_backoff(conf, env.attempts);
		res->next_attempt = env.next_attempt;
		if (spool_update(spool, &env, e) == -1)
			goto out;
	}
	rc = 0;
out:
	deliver_groups_free(groups, ngroups);
	(void)close(a.data_fd);
	free(a.failed);
	free(a.sender);
	spool_envelope_free(&env);
	return rc;
}
