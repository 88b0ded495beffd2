/* SPDX-License-Identifier: ISC */
/*
 * SMTP client protocol (RFC 5321) for one next hop; see smtp.h.
 *
 * Does: greeting, EHLO with HELO fallback, STARTTLS (RFC 3207) or implicit
 * TLS, AUTH (RFC 4954), then transactions: MAIL/RCPT/DATA in pipelined
 * groups (RFC 2920) or in lock step, the body streamed from a file with
 * dot-stuffing (RFC 5321 4.5.2), a result per recipient, lazy RSET, QUIT.
 * Does not: read the configuration, choose TLS or SASL details (tls.c and
 * sasl.c do), convert 8-bit bodies for servers without 8BITMIME (the body
 * is sent as is, without BODY=8BITMIME), or retry anything.
 * Limits: replies are bounded by reply.c, lines by SMTP_LINE_MAX, commands
 * by SMTP_COMMAND_MAX; the body is held SMTP_BODY_CHUNK bytes at a time,
 * whatever its size. Every phase has its own deadline, the session as a
 * whole the attempt deadline (stream.c).
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "err.h"
#include "log.h"
#include "net.h"
#include "reply.h"
#include "sasl.h"
#include "smtp.h"
#include "stream.h"
#include "tls.h"
#include "xmalloc.h"

/* Longest reply line we accept: far above what real servers send. */
#define SMTP_LINE_MAX		4096
/* Longest command we build (RFC 5321 4.5.3.1.4 allows 512 + extensions). */
#define SMTP_COMMAND_MAX	4096
/* RFC 4954 4 and Postfix smtp_sasl_glue.c: an AUTH line fits 512 octets. */
#define SMTP_AUTH_LINE_MAX	512
/* A server asking for more rounds than any mechanism needs is broken. */
#define SMTP_AUTH_ROUNDS_MAX	8
/* Commands sent before reading their replies, so neither side can block
 * on a full socket buffer however many recipients there are. */
#define SMTP_PIPELINE_WINDOW	100
#define SMTP_BODY_CHUNK		(64 * 1024)
/* QUIT is a courtesy; it must not hold the caller. */
#define SMTP_QUIT_WAIT_MAX	5

struct smtp_session {
	struct stream		 stream;
	struct net_peer		 peer;
	struct smtp_timeouts	 timeouts;
	struct ehlo_caps	 caps;
	struct tls		*tls;
	struct tls_info		 tls_info;
	struct reply		 reply;
	struct buf		 line;		/* last line read */
	struct buf		 cmd;		/* command being built */
	bool			 cmd_overflow;
	bool			 need_rset;	/* RSET before the next MAIL */
	bool			 dead;		/* no more transactions */
	bool			 quit_ok;	/* still in sync: QUIT may be sent */
	bool			 in_auth;	/* 334 challenges are redacted */
	struct err		 dead_err;	/* why dead */
};

/* One MAIL/RCPT.../DATA exchange; commands are numbered in that order. */
struct smtp_txn {
	struct smtp_envelope	*env;
	size_t			 total;		/* MAIL + RCPTs + DATA */
	size_t			 queued;	/* commands sent */
	size_t			 answered;	/* replies read */
	size_t			 accepted;	/* recipients taken */
	bool			 stop;		/* queue nothing more */
	bool			 failed;	/* err holds the whole failure */
	bool			 send_body;	/* DATA got 354, someone to send to */
	struct err		 err;
};

static int	 smtp_kill(struct smtp_session *, bool, struct err *);
static void	 smtp_cmd_add(struct smtp_session *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static void	 smtp_cmd_add_xtext(struct smtp_session *, const char *);
static int	 smtp_cmd_queue(struct smtp_session *, const char *,
		    struct err *);
static int	 smtp_flush(struct smtp_session *, struct err *);
static int	 smtp_read_reply(struct smtp_session *, struct err *);
static enum err_kind smtp_reply_kind(int);
static int	 smtp_reply_err(const struct smtp_session *, struct err *,
		    enum err_kind, const char *);
static int	 smtp_command(struct smtp_session *, struct err *,
		    const char *, ...) __attribute__((format(printf, 3, 4)));
static int	 smtp_connect(const struct smtp_params *, long, long *,
		    struct net_peer *, struct err *);
static int	 smtp_greeting(struct smtp_session *, struct err *);
static int	 smtp_hello(struct smtp_session *, const char *, struct err *);
static int	 smtp_tls_handshake(struct smtp_session *,
		    const struct tls_params *, struct err *);
static int	 smtp_starttls(struct smtp_session *, const struct smtp_params *,
		    struct err *);
static bool	 smtp_sasl_client_first(const char *);
static int	 smtp_auth(struct smtp_session *, const struct smtp_params *,
		    struct err *);
static int	 smtp_auth_command(struct smtp_session *, struct sasl *,
		    char **, struct err *);
static int	 smtp_auth_dialogue(struct smtp_session *, struct sasl *,
		    const struct smtp_params *, struct err *);
static void	 smtp_auth_cancel(struct smtp_session *);
static int	 smtp_auth_result(struct smtp_session *,
		    const struct smtp_params *, struct err *);
static int	 smtp_check(const struct smtp_session *,
		    const struct smtp_envelope *, struct err *);
static int	 smtp_rset(struct smtp_session *, struct err *);
static int	 smtp_queue_envelope(struct smtp_session *, struct smtp_txn *,
		    size_t, struct err *);
static void	 smtp_phase(struct smtp_session *, const struct smtp_txn *,
		    size_t);
static void	 smtp_account(struct smtp_session *, struct smtp_txn *,
		    size_t);
static void	 smtp_account_data(struct smtp_session *, struct smtp_txn *);
static int	 smtp_envelope(struct smtp_session *, struct smtp_txn *,
		    struct err *);
static int	 smtp_stuff(struct smtp_session *, const char *, size_t,
		    bool *, struct err *);
static int	 smtp_body(struct smtp_session *, const struct smtp_envelope *,
		    struct err *);
static int	 smtp_data_done(struct smtp_session *, struct smtp_txn *,
		    struct err *);
static int	 smtp_transaction(struct smtp_session *, struct smtp_envelope *,
		    struct err *);
static void	 smtp_fail_pending(struct smtp_envelope *, const struct err *);

/*
 * Ends the usefulness of the session: later smtp_send calls fail with e.
 * in_sync tells whether a QUIT may still be sent (a reply was refused)
 * or not (I/O error, timeout, 421, aborted TLS). Returns -1.
 */
static int
smtp_kill(struct smtp_session *s, bool in_sync, struct err *e)
{
	if (!s->dead)
		err_copy(&s->dead_err, e);
	s->dead = true;
	if (!in_sync)
		s->quit_ok = false;
	return -1;
}

static void
smtp_cmd_add(struct smtp_session *s, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	if (buf_vprintf(&s->cmd, fmt, ap) == -1)
		s->cmd_overflow = true;
	va_end(ap);
}

/* RFC 3461 4: xtext keeps "!".."~" but "+" and "="; the rest is "+XX". */
static void
smtp_cmd_add_xtext(struct smtp_session *s, const char *text)
{
	const unsigned char *p;

	for (p = (const unsigned char *)text; *p != '\0'; p++) {
		if (*p >= '!' && *p <= '~' && *p != '+' && *p != '=')
			smtp_cmd_add(s, "%c", *p);
		else
			smtp_cmd_add(s, "+%02X", *p);
	}
}

/*
 * Queues the command built in s->cmd with its CRLF. redacted != NULL: the
 * line carries a secret; the transcript shows only that prefix, and the
 * buffer is wiped. A line break inside the command would let an address
 * smuggle in commands of its own, so it is refused whatever its origin.
 */
static int
smtp_cmd_queue(struct smtp_session *s, const char *redacted, struct err *e)
{
	int	 rc = -1;

	if (s->cmd_overflow)
		(void)err_set(e, ERR_DATA, "SMTP command for %s would exceed "
		    "%d bytes", s->peer.host, SMTP_COMMAND_MAX);
	else if (strpbrk(buf_cstr(&s->cmd), "\r\n") != NULL)
		(void)err_set(e, ERR_DATA, "refusing to send an SMTP command "
		    "that contains a line break");
	else {
		if (redacted != NULL)
			log_transcript_redacted('>', redacted);
		else
			log_transcript('>', buf_cstr(&s->cmd), s->cmd.len);
		rc = stream_write(&s->stream, buf_cstr(&s->cmd), s->cmd.len,
		    e);
		if (rc == 0)
			rc = stream_write(&s->stream, "\r\n", 2, e);
	}
	/* I/O failed, or commands queued before this one cannot be unsent. */
	if (rc == -1 && (e->kind != ERR_DATA || s->stream.out.len > 0))
		(void)smtp_kill(s, false, e);
	if (redacted != NULL)
		buf_wipe(&s->cmd);
	buf_reset(&s->cmd);
	s->cmd_overflow = false;
	return rc;
}

static int
smtp_flush(struct smtp_session *s, struct err *e)
{
	if (stream_flush(&s->stream, e) == -1)
		return smtp_kill(s, false, e);
	return 0;
}

/*
 * Reads one whole reply into s->reply. Any failure here leaves the
 * dialogue out of step, so the session dies; so does 421, the server
 * closing the channel (RFC 5321 3.8).
 */
static int
smtp_read_reply(struct smtp_session *s, struct err *e)
{
	int	 rc;

	reply_reset(&s->reply);
	do {
		buf_reset(&s->line);
		if (stream_read_line(&s->stream, &s->line, e) == -1)
			return smtp_kill(s, false, e);
		/*
		 * A SCRAM challenge carries the salt and nonces: with the
		 * server signature they allow an offline password search.
		 */
		if (s->in_auth && strncmp(buf_cstr(&s->line), "334", 3) == 0)
			log_transcript_redacted('<', "334");
		else
			log_transcript('<', buf_cstr(&s->line), s->line.len);
		rc = reply_feed(&s->reply, buf_cstr(&s->line), s->line.len, e);
		if (rc == -1) {
			(void)snprintf(e->text + strlen(e->text),
			    sizeof(e->text) - strlen(e->text), " (%s)",
			    s->peer.label);
			return smtp_kill(s, false, e);
		}
	} while (rc == 0);
	if (s->reply.code == 421) {
		(void)err_set_reply(e, ERR_TEMP, 421, s->reply.enhanced,
		    buf_cstr(&s->reply.text), "%s is closing the connection",
		    s->peer.host);
		return smtp_kill(s, false, e);
	}
	return 0;
}

static enum err_kind
smtp_reply_kind(int code)
{
	if (code / 100 == 4)
		return ERR_TEMP;
	if (code / 100 == 5)
		return ERR_PERM;
	return ERR_PROTOCOL;
}

/* "<what> deferred by <host>" with the server's words kept apart. */
static int
smtp_reply_err(const struct smtp_session *s, struct err *e,
    enum err_kind kind, const char *what)
{
	const struct reply *r = &s->reply;
	const char *verb;

	if (r->code / 100 == 4)
		verb = "deferred";
	else if (r->code / 100 == 5)
		verb = "rejected";
	else
		verb = "answered unexpectedly";
	return err_set_reply(e, kind, r->code, r->enhanced,
	    buf_cstr(&r->text), "%s%s%s by %s", what, *what != '\0' ? " " : "",
	    verb, s->peer.host);
}

/* Sends one command alone and reads its reply. */
static int
smtp_command(struct smtp_session *s, struct err *e, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	if (buf_vprintf(&s->cmd, fmt, ap) == -1)
		s->cmd_overflow = true;
	va_end(ap);
	if (smtp_cmd_queue(s, NULL, e) == -1 || smtp_flush(s, e) == -1)
		return -1;
	return smtp_read_reply(s, e);
}

static int
smtp_greeting(struct smtp_session *s, struct err *e)
{
	stream_set_timeout(&s->stream, s->timeouts.helo,
	    "while receiving the initial server greeting");
	if (smtp_read_reply(s, e) == -1)
		return -1;
	if (s->reply.code == 220)
		return 0;
	/* RFC 5321 3.1: after a 554 greeting the client sends QUIT. */
	(void)smtp_reply_err(s, e, smtp_reply_kind(s->reply.code), "greeting");
	return smtp_kill(s, s->reply.code / 100 == 5, e);
}

/*
 * EHLO, or HELO when the server does not know EHLO (RFC 5321 3.2: 500,
 * 502 or 504); HELO means no extensions at all.
 */
static int
smtp_hello(struct smtp_session *s, const char *helo_name, struct err *e)
{
	int	 code;
	bool	 helo = false;

	memset(&s->caps, 0, sizeof(s->caps));
	stream_set_timeout(&s->stream, s->timeouts.helo,
	    "while performing the EHLO handshake");
	if (smtp_command(s, e, "EHLO %s", helo_name) == -1)
		return -1;
	if (s->reply.code == 250) {
		reply_ehlo_caps(&s->reply, &s->caps);
		return 0;
	}
	code = s->reply.code;
	if (code == 500 || code == 502 || code == 504) {
		helo = true;
		stream_set_timeout(&s->stream, s->timeouts.helo,
		    "while performing the HELO handshake");
		if (smtp_command(s, e, "HELO %s", helo_name) == -1)
			return -1;
		if (s->reply.code == 250)
			return 0;
	}
	(void)smtp_reply_err(s, e, smtp_reply_kind(s->reply.code),
	    helo ? "HELO" : "EHLO");
	return smtp_kill(s, s->reply.code / 100 == 4 ||
	    s->reply.code / 100 == 5, e);
}

/* On failure nothing more may be said on this connection. */
static int
smtp_tls_handshake(struct smtp_session *s, const struct tls_params *tp,
    struct err *e)
{
	stream_set_timeout(&s->stream, s->timeouts.starttls,
	    "while performing the TLS handshake");
	if (tls_start(&s->stream, tp, &s->tls, &s->tls_info, e) == -1) {
		s->tls = NULL;
		return smtp_kill(s, false, e);
	}
	return 0;
}

static int
smtp_starttls(struct smtp_session *s, const struct smtp_params *p,
    struct err *e)
{
	enum tls_level level = p->tls.level;
	bool	 required = level != TLS_LEVEL_NONE && level != TLS_LEVEL_MAY;

	if (s->tls != NULL || level == TLS_LEVEL_NONE)
		return 0;
	if (!s->caps.starttls) {
		if (!required)
			return 0;
		(void)err_set(e, ERR_TEMP, "TLS is required "
		    "(smtp_tls_security_level = %s) but %s does not offer "
		    "STARTTLS", tls_level_name(level), s->peer.label);
		return smtp_kill(s, true, e);
	}
	stream_set_timeout(&s->stream, s->timeouts.starttls,
	    "while sending STARTTLS");
	if (smtp_command(s, e, "STARTTLS") == -1)
		return -1;
	if (s->reply.code != 220) {
		if (!required) {
			/* Level may: a refused STARTTLS leaves us in clear. */
			log_info("%s refused STARTTLS (%d %s); continuing "
			    "without TLS", s->peer.label, s->reply.code,
			    buf_cstr(&s->reply.text));
			return 0;
		}
		(void)smtp_reply_err(s, e, ERR_TEMP, "STARTTLS");
		return smtp_kill(s, true, e);
	}
	/* Anything already here was sent before TLS and could be forged. */
	if (stream_pending_input(&s->stream) > 0) {
		(void)err_set(e, ERR_PROTOCOL, "%s sent data after its STARTTLS "
		    "reply (possible response injection, RFC 3207 section 6); "
		    "aborting", s->peer.label);
		return smtp_kill(s, false, e);
	}
	if (smtp_tls_handshake(s, &p->tls, e) == -1)
		return -1;
	/* RFC 3207 4.2: forget what was learnt in clear, ask again. */
	return smtp_hello(s, p->helo_name, e);
}

/* Mechanisms whose client speaks first may send an initial response. */
static bool
smtp_sasl_client_first(const char *mech)
{
	return strcmp(mech, "PLAIN") == 0 || strncmp(mech, "SCRAM-", 6) == 0;
}

static int
smtp_auth(struct smtp_session *s, const struct smtp_params *p, struct err *e)
{
	struct sasl *sasl = NULL;
	int	 rc;

	if (p->sasl_user == NULL)
		return 0;
	if (s->tls == NULL) {
		(void)err_set(e, ERR_NOPERM, "refusing to send the password "
		    "for %s to %s without TLS", p->sasl_user, s->peer.label);
		return smtp_kill(s, true, e);
	}
	if (!s->caps.auth || s->caps.auth_mechs[0] == '\0') {
		/* As Postfix does: the server may relay for us anyway. */
		log_warn("%s offers no AUTH; sending without authentication",
		    s->peer.label);
		return 0;
	}
	if (sasl_start(&sasl, s->caps.auth_mechs, p->sasl_filter, p->sasl_user,
	    p->sasl_password, p->host, e) == -1)
		return smtp_kill(s, true, e);
	stream_set_timeout(&s->stream, s->timeouts.helo,
	    "while authenticating");
	s->in_auth = true;
	rc = smtp_auth_dialogue(s, sasl, p, e);
	s->in_auth = false;
	sasl_free(sasl);
	return rc;
}

/*
 * Queues "AUTH MECH [initial-response]". RFC 4954 4: the initial response
 * goes on the command line ("=" when empty) only if the line stays within
 * SMTP_AUTH_LINE_MAX; otherwise *initial keeps it for the first 334.
 */
static int
smtp_auth_command(struct smtp_session *s, struct sasl *sasl, char **initial,
    struct err *e)
{
	const char *mech = sasl_mechanism(sasl);
	char	 redacted[64];
	size_t	 len;

	*initial = NULL;
	(void)snprintf(redacted, sizeof(redacted), "AUTH %s", mech);
	if (smtp_sasl_client_first(mech)) {
		if (sasl_step(sasl, "", initial, e) == -1)
			return smtp_kill(s, true, e);
		len = strlen("AUTH  \r\n") + strlen(mech) +
		    (**initial != '\0' ? strlen(*initial) : 1);
		if (len <= SMTP_AUTH_LINE_MAX) {
			smtp_cmd_add(s, "AUTH %s %s", mech,
			    **initial != '\0' ? *initial : "=");
			xfree_secret(*initial);
			*initial = NULL;
			return smtp_cmd_queue(s, redacted, e);
		}
	}
	smtp_cmd_add(s, "AUTH %s", mech);
	return smtp_cmd_queue(s, NULL, e);
}

static int
smtp_auth_dialogue(struct smtp_session *s, struct sasl *sasl,
    const struct smtp_params *p, struct err *e)
{
	char	*initial = NULL, *out = NULL;
	int	 rounds, rc = -1;

	if (smtp_auth_command(s, sasl, &initial, e) == -1 ||
	    smtp_flush(s, e) == -1)
		goto done;
	for (rounds = 0;; rounds++) {
		if (smtp_read_reply(s, e) == -1)
			goto done;
		if (s->reply.code != 334)
			break;
		if (rounds == SMTP_AUTH_ROUNDS_MAX) {
			smtp_auth_cancel(s);
			(void)err_set(e, ERR_PROTOCOL, "too many AUTH "
			    "challenges from %s", s->peer.label);
			goto done;
		}
		if (initial != NULL) {
			out = initial;
			initial = NULL;
		} else if (sasl_step(sasl, buf_cstr(&s->reply.text), &out,
		    e) == -1) {
			/* RFC 4954 4: "*" cancels the exchange. */
			smtp_auth_cancel(s);
			goto done;
		}
		smtp_cmd_add(s, "%s", out);
		xfree_secret(out);
		out = NULL;
		if (smtp_cmd_queue(s, "", e) == -1 || smtp_flush(s, e) == -1)
			goto done;
	}
	rc = smtp_auth_result(s, p, e);
done:
	xfree_secret(initial);
	if (rc == -1)
		(void)smtp_kill(s, true, e);
	return rc;
}

/* Best effort: the error reported is the one that made us cancel. */
static void
smtp_auth_cancel(struct smtp_session *s)
{
	struct err ignored;

	err_clear(&ignored);
	(void)smtp_command(s, &ignored, "*");
}

static int
smtp_auth_result(struct smtp_session *s, const struct smtp_params *p,
    struct err *e)
{
	const struct reply *r = &s->reply;

	if (r->code == 235)
		return 0;
	if (r->code == 535)
		return err_set_reply(e, ERR_NOPERM, r->code, r->enhanced,
		    buf_cstr(&r->text), "authentication failed for user %s at "
		    "%s", p->sasl_user, p->host);
	if (r->code / 100 == 4)
		return smtp_reply_err(s, e, ERR_TEMP, "authentication");
	if (r->code / 100 == 5)
		return smtp_reply_err(s, e, ERR_NOPERM, "authentication");
	return smtp_reply_err(s, e, ERR_PROTOCOL, "authentication");
}

/*
 * Connects, and reduces *remaining (whole-attempt seconds, 0: none) by
 * the time it took; a host with several dead addresses may use it all.
 */
static int
smtp_connect(const struct smtp_params *p, long timeout, long *remaining,
    struct net_peer *peer, struct err *e)
{
	struct timespec start, end;
	long	 elapsed;
	int	 fd;

	(void)clock_gettime(CLOCK_MONOTONIC, &start);
	if ((fd = net_connect(p->host, p->port, p->families, timeout, peer,
	    e)) == -1)
		return -1;
	if (*remaining <= 0)
		return fd;
	(void)clock_gettime(CLOCK_MONOTONIC, &end);
	elapsed = (long)(end.tv_sec - start.tv_sec);
	if (elapsed >= *remaining) {
		(void)close(fd);
		return err_set(e, ERR_TEMP, "timed out connecting to %s "
		    "(sendrelay_submit_deadline of %ld s used up)", peer->label,
		    p->timeouts.attempt);
	}
	*remaining -= elapsed;
	return fd;
}

int
smtp_open(struct smtp_session **sp, const struct smtp_params *p,
    struct err *e)
{
	struct smtp_session *s;
	struct net_peer peer;
	struct tls_params implicit;
	long	 connect_timeout = p->timeouts.connect, remaining;
	int	 fd;

	*sp = NULL;
	/* The whole-attempt deadline also bounds connecting. */
	if (p->timeouts.attempt > 0 && (connect_timeout <= 0 ||
	    connect_timeout > p->timeouts.attempt))
		connect_timeout = p->timeouts.attempt;
	remaining = p->timeouts.attempt;
	if ((fd = smtp_connect(p, connect_timeout, &remaining, &peer, e)) == -1)
		return -1;
	s = xcalloc(1, sizeof(*s));
	s->peer = peer;
	s->timeouts = p->timeouts;
	s->quit_ok = true;
	stream_init(&s->stream, fd, SMTP_LINE_MAX);
	s->stream.peer = s->peer.label;
	stream_set_attempt_deadline(&s->stream, remaining);
	reply_init(&s->reply);
	buf_init(&s->line, SMTP_LINE_MAX);
	buf_init(&s->cmd, SMTP_COMMAND_MAX);
	err_clear(&s->dead_err);
	*sp = s;
	if (p->implicit_tls) {
		/* TLS on connect: level none cannot mean plaintext here. */
		implicit = p->tls;
		if (implicit.level == TLS_LEVEL_NONE)
			implicit.level = TLS_LEVEL_ENCRYPT;
		if (smtp_tls_handshake(s, &implicit, e) == -1)
			return -1;
	}
	if (smtp_greeting(s, e) == -1 || smtp_hello(s, p->helo_name, e) == -1 ||
	    smtp_starttls(s, p, e) == -1 || smtp_auth(s, p, e) == -1)
		return -1;
	return 0;
}

/* What the server announced that this message cannot do without. */
static int
smtp_check(const struct smtp_session *s, const struct smtp_envelope *env,
    struct err *e)
{
	if (env->smtputf8 && !s->caps.smtputf8)
		return err_set(e, ERR_PERM, "SMTPUTF8 is required for this "
		    "message (non-ASCII address) but %s does not offer it",
		    s->peer.label);
	if (s->caps.size_limit > 0 && env->size > 0 &&
	    (unsigned long long)env->size > s->caps.size_limit)
		return err_set(e, ERR_PERM, "message size %lld exceeds the "
		    "limit of %lu bytes announced by %s", (long long)env->size,
		    s->caps.size_limit, s->peer.label);
	return 0;
}

/* Only after a failed transaction: a server may keep its state. */
static int
smtp_rset(struct smtp_session *s, struct err *e)
{
	if (!s->need_rset)
		return 0;
	stream_set_timeout(&s->stream, s->timeouts.mail,
	    "while sending RSET");
	if (smtp_command(s, e, "RSET") == -1)
		return -1;
	if (s->reply.code / 100 != 2) {
		(void)smtp_reply_err(s, e, ERR_TEMP, "RSET");
		return smtp_kill(s, true, e);
	}
	s->need_rset = false;
	return 0;
}

/* Queues command i of the transaction: 0 MAIL, 1..n RCPT, n+1 DATA. */
static int
smtp_queue_envelope(struct smtp_session *s, struct smtp_txn *t, size_t i,
    struct err *e)
{
	const struct smtp_envelope *env = t->env;

	if (i == 0) {
		smtp_cmd_add(s, "MAIL FROM:<%s>", env->sender);
		if (s->caps.size)
			smtp_cmd_add(s, " SIZE=%lld", (long long)env->size);
		if (env->eightbit && s->caps.eightbitmime)
			smtp_cmd_add(s, " BODY=8BITMIME");
		if (env->smtputf8)
			smtp_cmd_add(s, " SMTPUTF8");
		if (s->caps.dsn && env->dsn_ret != NULL)
			smtp_cmd_add(s, " RET=%s", env->dsn_ret);
		if (s->caps.dsn && env->dsn_envid != NULL) {
			smtp_cmd_add(s, " ENVID=");
			smtp_cmd_add_xtext(s, env->dsn_envid);
		}
	} else if (i <= env->rcpt_count) {
		smtp_cmd_add(s, "RCPT TO:<%s>", env->rcpts[i - 1].addr);
		if (s->caps.dsn && env->dsn_notify != NULL)
			smtp_cmd_add(s, " NOTIFY=%s", env->dsn_notify);
	} else
		smtp_cmd_add(s, "DATA");
	return smtp_cmd_queue(s, NULL, e);
}

/* The deadline and its words for command i's write and reply. */
static void
smtp_phase(struct smtp_session *s, const struct smtp_txn *t, size_t i)
{
	if (i == 0)
		stream_set_timeout(&s->stream, s->timeouts.mail,
		    "while sending MAIL FROM");
	else if (i <= t->env->rcpt_count)
		stream_set_timeout(&s->stream, s->timeouts.rcpt,
		    "while sending RCPT TO");
	else
		stream_set_timeout(&s->stream, s->timeouts.data_init,
		    "while sending DATA command");
}

/*
 * Accounts the reply just read to command i (Postfix smtp_proto.c: each
 * reply belongs to one command, in order). After a refused MAIL the
 * replies to what was already pipelined are read and ignored.
 */
static void
smtp_account(struct smtp_session *s, struct smtp_txn *t, size_t i)
{
	struct smtp_rcpt *rcpt;
	int	 code = s->reply.code;

	if (i == 0) {
		if (code / 100 != 2) {
			(void)smtp_reply_err(s, &t->err, smtp_reply_kind(code),
			    "sender");
			t->failed = t->stop = true;
		}
	} else if (i <= t->env->rcpt_count) {
		rcpt = &t->env->rcpts[i - 1];
		if (t->failed)
			return;
		if (code / 100 == 2) {
			t->accepted++;
			return;
		}
		rcpt->status = code / 100 == 5 ? SMTP_RCPT_PERM :
		    SMTP_RCPT_TEMP;
		(void)smtp_reply_err(s, &rcpt->err,
		    err_kind_from_reply(code, s->reply.enhanced), "");
	} else
		smtp_account_data(s, t);
}

static void
smtp_account_data(struct smtp_session *s, struct smtp_txn *t)
{
	int	 code = s->reply.code;

	if (code == 354) {
		/* Pipelined DATA went out blind; see smtp_transaction. */
		t->send_body = true;
		return;
	}
	if (t->failed || t->accepted == 0)
		return;
	(void)smtp_reply_err(s, &t->err, smtp_reply_kind(code), "DATA");
	t->failed = true;
	/* A 2xx or 3xx here means we no longer know where we are. */
	if (code / 100 != 4 && code / 100 != 5)
		(void)smtp_kill(s, false, &t->err);
}

/*
 * MAIL, RCPTs and DATA in groups of up to SMTP_PIPELINE_WINDOW commands
 * (one when the server does not pipeline): queue a group, flush once,
 * read its replies (RFC 2920 3.1: DATA ends a group). DATA is left out
 * when a group starts with it and no recipient was accepted.
 */
static int
smtp_envelope(struct smtp_session *s, struct smtp_txn *t, struct err *e)
{
	size_t	 window = s->caps.pipelining ? SMTP_PIPELINE_WINDOW : 1;
	size_t	 end;

	while (!t->stop && t->queued < t->total) {
		end = t->queued + window;
		if (end > t->total)
			end = t->total;
		if (t->queued == t->total - 1 && t->accepted == 0)
			break;
		smtp_phase(s, t, t->queued);
		for (; t->queued < end; t->queued++)
			if (smtp_queue_envelope(s, t, t->queued, e) == -1)
				return -1;
		if (smtp_flush(s, e) == -1)
			return -1;
		for (; t->answered < t->queued; t->answered++) {
			smtp_phase(s, t, t->answered);
			if (smtp_read_reply(s, e) == -1)
				return -1;
			smtp_account(s, t, t->answered);
		}
	}
	return 0;
}

/*
 * Copies chunk to the stream, doubling a "." that starts a line (RFC 5321
 * 4.5.2). A line starts after LF, and also after a bare CR: the file has
 * neither, but some servers end lines there (SMTP smuggling), so a dot
 * after one is stuffed too.
 */
static int
smtp_stuff(struct smtp_session *s, const char *p, size_t n, bool *line_start,
    struct err *e)
{
	size_t	 i, from = 0;

	for (i = 0; i < n; i++) {
		if (*line_start && p[i] == '.') {
			if (stream_write(&s->stream, p + from, i - from, e) ==
			    -1 || stream_write(&s->stream, ".", 1, e) == -1)
				return -1;
			from = i;
		}
		*line_start = p[i] == '\n' || p[i] == '\r';
	}
	return stream_write(&s->stream, p + from, n - from, e);
}

/*
 * Streams env->size bytes of the body, then the final ".". A short or
 * unreadable file must not end in "." (that would deliver a truncated
 * message): the connection is dropped instead.
 */
static int
smtp_body(struct smtp_session *s, const struct smtp_envelope *env,
    struct err *e)
{
	char	*chunk = xmalloc(SMTP_BODY_CHUNK);
	off_t	 off = 0;
	ssize_t	 n;
	size_t	 want;
	bool	 line_start = true, crlf_end = false;
	char	 last = '\0';
	int	 rc = -1;

	while (off < env->size) {
		/*
		 * Per chunk, as Postfix applies smtp_data_xfer_timeout per
		 * write: a big message on a slow link is not a stalled one.
		 * The attempt deadline still bounds the whole.
		 */
		stream_set_timeout(&s->stream, s->timeouts.data_xfer,
		    "while sending message body");
		want = env->size - off > SMTP_BODY_CHUNK ? SMTP_BODY_CHUNK :
		    (size_t)(env->size - off);
		if ((n = pread(env->body_fd, chunk, want, off)) == -1 &&
		    errno == EINTR)
			continue;
		if (n <= 0) {
			(void)err_set(e, ERR_IOERR, "cannot read the message "
			    "body at byte %lld of %lld: %s", (long long)off,
			    (long long)env->size, n == 0 ? "file too short" :
			    strerror(errno));
			goto done;
		}
		if (smtp_stuff(s, chunk, (size_t)n, &line_start, e) == -1)
			goto done;
		crlf_end = chunk[n - 1] == '\n' &&
		    (n > 1 ? chunk[n - 2] : last) == '\r';
		last = chunk[n - 1];
		off += n;
	}
	/* RFC 5321 4.1.1.4: the terminator is CRLF "." CRLF. */
	stream_set_timeout(&s->stream, s->timeouts.data_xfer,
	    "while sending message body");
	if ((env->size > 0 && !crlf_end &&
	    stream_write(&s->stream, "\r\n", 2, e) == -1) ||
	    stream_write(&s->stream, ".\r\n", 3, e) == -1)
		goto done;
	log_transcript('>', ".", 1);
	rc = smtp_flush(s, e);
done:
	free(chunk);
	if (rc == -1)
		(void)smtp_kill(s, false, e);
	return rc;
}

/* The reply to the final ".", which decides for every accepted recipient. */
static int
smtp_data_done(struct smtp_session *s, struct smtp_txn *t, struct err *e)
{
	size_t	 i;
	struct smtp_rcpt *rcpt;

	stream_set_timeout(&s->stream, s->timeouts.data_done,
	    "while sending end of data -- message may be sent more than once");
	if (smtp_read_reply(s, e) == -1)
		return -1;
	if (s->reply.code / 100 != 2) {
		(void)smtp_reply_err(s, e, smtp_reply_kind(s->reply.code),
		    "message");
		if (s->reply.code / 100 != 4 && s->reply.code / 100 != 5)
			(void)smtp_kill(s, false, e);
		return -1;
	}
	for (i = 0; i < t->env->rcpt_count; i++) {
		rcpt = &t->env->rcpts[i];
		if (rcpt->status != SMTP_RCPT_PENDING)
			continue;
		rcpt->status = SMTP_RCPT_SENT;
		(void)err_set_reply(&rcpt->err, ERR_OK, s->reply.code,
		    s->reply.enhanced, buf_cstr(&s->reply.text),
		    "accepted by %s", s->peer.host);
	}
	return 0;
}

/*
 * One transaction. Recipients refused one by one keep their own status;
 * a failure of the whole (MAIL, DATA, end of data, I/O) returns -1 and
 * the caller gives every recipient still pending that error.
 */
static int
smtp_transaction(struct smtp_session *s, struct smtp_envelope *env,
    struct err *e)
{
	struct smtp_txn t;

	memset(&t, 0, sizeof(t));
	t.env = env;
	t.total = env->rcpt_count + 2;
	if (smtp_envelope(s, &t, e) == -1)
		return -1;
	if (t.send_body && t.accepted == 0) {
		/*
		 * A pipelined DATA answered 354 with no recipient: an empty
		 * message ends it (Postfix does the same), then it is reset.
		 */
		stream_set_timeout(&s->stream, s->timeouts.data_done,
		    "while sending end of data");
		if (smtp_command(s, e, ".") == -1)
			return -1;
		t.send_body = false;
	}
	if (!t.send_body) {
		s->need_rset = true;
		if (!t.failed)
			return 0;
		err_copy(e, &t.err);
		return -1;
	}
	if (smtp_body(s, env, e) == -1)
		return -1;
	return smtp_data_done(s, &t, e);
}

static void
smtp_fail_pending(struct smtp_envelope *env, const struct err *e)
{
	size_t	 i;
	enum smtp_rcpt_status status;

	status = e->kind == ERR_TEMP || e->kind == ERR_PROTOCOL ||
	    e->kind == ERR_IOERR || e->kind == ERR_OSERR ? SMTP_RCPT_TEMP :
	    SMTP_RCPT_PERM;
	for (i = 0; i < env->rcpt_count; i++) {
		if (env->rcpts[i].status != SMTP_RCPT_PENDING)
			continue;
		env->rcpts[i].status = status;
		err_copy(&env->rcpts[i].err, e);
	}
}

int
smtp_send(struct smtp_session *s, struct smtp_envelope *env, struct err *e)
{
	size_t	 i;
	int	 rc;

	for (i = 0; i < env->rcpt_count; i++) {
		env->rcpts[i].status = SMTP_RCPT_PENDING;
		err_clear(&env->rcpts[i].err);
	}
	if (s->dead) {
		err_copy(e, &s->dead_err);
		rc = -1;
	} else if (smtp_check(s, env, e) == -1 || smtp_rset(s, e) == -1)
		rc = -1;
	else
		rc = smtp_transaction(s, env, e);
	if (rc == -1)
		smtp_fail_pending(env, e);
	return rc;
}

bool
smtp_usable(const struct smtp_session *s)
{
	return !s->dead;
}

int
smtp_reuse(struct smtp_session *s, long seconds, struct err *e)
{
	if (s->dead) {
		err_copy(e, &s->dead_err);
		return -1;
	}
	stream_set_attempt_deadline(&s->stream, seconds);
	s->need_rset = true;
	return smtp_rset(s, e);
}

void
smtp_close(struct smtp_session *s)
{
	struct err ignored;
	long	 wait;

	if (s == NULL)
		return;
	if (s->quit_ok) {
		wait = s->timeouts.quit;
		if (wait <= 0 || wait > SMTP_QUIT_WAIT_MAX)
			wait = SMTP_QUIT_WAIT_MAX;
		err_clear(&ignored);
		stream_set_timeout(&s->stream, wait, "while sending QUIT");
		(void)smtp_command(s, &ignored, "QUIT");
	}
	if (s->tls != NULL)
		tls_end(s->tls, &s->stream);
	stream_close(&s->stream);
	reply_free(&s->reply);
	buf_free(&s->line);
	buf_wipe(&s->cmd);
	free(s);
}

const struct net_peer *
smtp_peer(const struct smtp_session *s)
{
	return &s->peer;
}

const struct ehlo_caps *
smtp_caps(const struct smtp_session *s)
{
	return &s->caps;
}

const struct tls_info *
smtp_tls_info(const struct smtp_session *s)
{
	return s->tls != NULL ? &s->tls_info : NULL;
}
