/* SPDX-License-Identifier: ISC */
/*
 * One delivery attempt of a message. Recipients are routed, grouped by
 * next hop (one SMTP session and transaction per group), and each gets one
 * Postfix-format log line:
 *   QUEUEID: to=<a@b>, relay=host[ip]:port, delay=0.42,
 *       delays=0.01/0/0.3/0.11, dsn=2.0.0, status=sent (250 2.0.0 Ok)
 * delays are Postfix's a/b/c/d: before the attempt, waiting for it (always
 * 0 here), connection setup (DNS, greeting, TLS, AUTH), transmission.
 * Rejected and deferred recipients are also reported on stderr.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "addr.h"
#include "deliver.h"
#include "log.h"
#include "net.h"
#include "route.h"
#include "smtp.h"
#include "tls.h"
#include "xmalloc.h"

struct deliver_group {
	struct route		 route;
	struct smtp_rcpt	*rcpts;
	size_t			 count;
};

struct deliver_clock {
	double	 arrival, start, connected, done;
};

static double	 deliver_now(void);
static int	 deliver_params(const struct conf *, const struct route *,
		    struct smtp_params *, struct err *);
static void	 deliver_group(const struct deliver_request *,
		    struct deliver_group *, const char *sender, double start);
static void	 deliver_report(const struct deliver_request *,
		    const struct smtp_rcpt *, const char *relay,
		    const struct deliver_clock *);
static void	 deliver_fail_group(struct deliver_group *, const struct err *);
static void	 deliver_count(const struct deliver_group *,
		    struct deliver_result *, struct err *worst);
static int	 deliver_summary(const struct deliver_result *,
		    const struct err *worst, struct err *);

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

static void
deliver_report(const struct deliver_request *req, const struct smtp_rcpt *rc,
    const char *relay, const struct deliver_clock *clk)
{
	char		 words[2 * ERR_TEXT_MAX + 64];
	const char	*status, *dsn;

	err_format(&rc->err, words, sizeof(words));
	switch (rc->status) {
	case SMTP_RCPT_SENT:
		status = "sent";
		dsn = rc->err.enhanced[0] ? rc->err.enhanced : "2.0.0";
		break;
	case SMTP_RCPT_PERM:
		status = "bounced";
		dsn = rc->err.enhanced[0] ? rc->err.enhanced : "5.0.0";
		break;
	default:
		status = "deferred";
		dsn = rc->err.enhanced[0] ? rc->err.enhanced : "4.0.0";
		break;
	}
	log_info("%s: to=<%s>, relay=%s, delay=%.2g, delays=%.2g/0/%.2g/%.2g, "
	    "dsn=%s, status=%s (%s)", req->queue_id, rc->addr, relay,
	    clk->done - clk->arrival, clk->start - clk->arrival,
	    clk->connected - clk->start, clk->done - clk->connected, dsn,
	    status, words);
	if (rc->status != SMTP_RCPT_SENT)
		(void)fprintf(stderr, "sendrelay: to=<%s>: %s%s\n", rc->addr,
		    words, rc->status == SMTP_RCPT_TEMP ?
		    " [deferred: not delivered]" : "");
}

static void
deliver_fail_group(struct deliver_group *g, const struct err *e)
{
	size_t	 i;
	enum smtp_rcpt_status status = e->kind == ERR_TEMP ||
	    e->kind == ERR_PROTOCOL || e->kind == ERR_IOERR ||
	    e->kind == ERR_OSERR ? SMTP_RCPT_TEMP : SMTP_RCPT_PERM;

	for (i = 0; i < g->count; i++) {
		if (g->rcpts[i].status != SMTP_RCPT_PENDING)
			continue;
		g->rcpts[i].status = status;
		err_copy(&g->rcpts[i].err, e);
	}
}

static void
deliver_group(const struct deliver_request *req, struct deliver_group *g,
    const char *sender, double start)
{
	const struct message	*msg = req->message;
	struct smtp_params	 params;
	struct smtp_session	*session = NULL;
	struct smtp_envelope	 env;
	struct deliver_clock	 clk;
	struct err		 e;
	char			 relay[sizeof(((struct net_peer *)0)->label)];
	size_t			 i;

	err_clear(&e);
	clk.arrival = (double)req->arrival.tv_sec +
	    (double)req->arrival.tv_nsec / 1e9;
	clk.start = start;
	(void)snprintf(relay, sizeof(relay), "%s", g->route.host);
	if (deliver_params(req->conf, &g->route, &params, &e) == -1 ||
	    smtp_open(&session, &params, &e) == -1) {
		if (session != NULL)
			(void)snprintf(relay, sizeof(relay), "%s",
			    smtp_peer(session)->label);
		deliver_fail_group(g, &e);
		clk.connected = clk.done = deliver_now();
		goto report;
	}
	(void)snprintf(relay, sizeof(relay), "%s", smtp_peer(session)->label);
	clk.connected = deliver_now();
	memset(&env, 0, sizeof(env));
	env.sender = sender;
	env.rcpts = g->rcpts;
	env.rcpt_count = g->count;
	env.body_fd = req->body_fd;
	env.size = msg->size;
	env.eightbit = msg->eightbit;
	env.smtputf8 = msg->smtputf8;
	env.dsn_notify = req->dsn_notify;
	env.dsn_ret = req->dsn_ret;
	env.dsn_envid = req->dsn_envid;
	if (smtp_send(session, &env, &e) == -1)
		deliver_fail_group(g, &e);
	clk.done = deliver_now();
report:
	smtp_close(session);
	for (i = 0; i < g->count; i++)
		deliver_report(req, &g->rcpts[i], relay, &clk);
}

static void
deliver_count(const struct deliver_group *g, struct deliver_result *res,
    struct err *worst)
{
	size_t	 i;

	for (i = 0; i < g->count; i++) {
		if (g->rcpts[i].status == SMTP_RCPT_SENT)
			res->sent++;
		else if (g->rcpts[i].status == SMTP_RCPT_PERM) {
			if (res->rejected++ == 0)
				err_copy(worst, &g->rcpts[i].err);
		} else
			res->deferred++;
	}
}

static int
deliver_summary(const struct deliver_result *res, const struct err *worst,
    struct err *e)
{
	if (res->deferred == 0 && res->rejected == 0)
		return 0;
	if (res->deferred > 0)
		/* The caller must keep the message: nothing is queued yet. */
		return err_set(e, ERR_TEMP, "message not delivered to %zu of "
		    "%zu recipient(s) because of a temporary failure; it was "
		    "not queued, try again later", res->deferred,
		    res->sent + res->deferred + res->rejected);
	err_copy(e, worst);
	(void)snprintf(e->text, sizeof(e->text), "message rejected for %zu of "
	    "%zu recipient(s)", res->rejected, res->sent + res->rejected);
	e->smtp_code = 0;
	return -1;
}

int
deliver_message(const struct deliver_request *req, struct deliver_result *res,
    struct err *e)
{
	const struct message	*msg = req->message;
	struct deliver_group	*groups;
	size_t			 ngroups = 0, i, j;
	struct route		 r;
	struct err		 worst;
	char			*sender = NULL, *rcpt;
	double			 start = deliver_now();
	int			 rc = -1;

	memset(res, 0, sizeof(*res));
	err_clear(&worst);
	groups = xcalloc(msg->recipients.n, sizeof(*groups));
	if (addr_to_ascii(msg->sender, false, &sender, e) == -1)
		goto out;
	for (i = 0; i < msg->recipients.n; i++) {
		if (addr_to_ascii(msg->recipients.v[i], false, &rcpt, e) == -1)
			goto out;
		if (route_recipient(req->conf, rcpt, sender, &r, e) == -1) {
			free(rcpt);
			goto out;
		}
		for (j = 0; j < ngroups; j++)
			if (route_same_nexthop(&groups[j].route, &r))
				break;
		if (j == ngroups) {
			groups[ngroups++].route = r;
			groups[j].rcpts = xcalloc(msg->recipients.n,
			    sizeof(*groups[j].rcpts));
		} else
			route_free(&r);
		groups[j].rcpts[groups[j].count].status = SMTP_RCPT_PENDING;
		groups[j].rcpts[groups[j].count++].addr = rcpt;
	}
	log_info("%s: from=<%s>, size=%lld, nrcpt=%zu", req->queue_id, sender,
	    (long long)msg->size, msg->recipients.n);
	for (j = 0; j < ngroups; j++) {
		deliver_group(req, &groups[j], sender, start);
		deliver_count(&groups[j], res, &worst);
	}
	rc = deliver_summary(res, &worst, e);
out:
	for (j = 0; j < ngroups; j++) {
		for (i = 0; i < groups[j].count; i++)
			free((char *)groups[j].rcpts[i].addr);
		free(groups[j].rcpts);
		route_free(&groups[j].route);
	}
	free(groups);
	free(sender);
	return rc;
}
