/* SPDX-License-Identifier: ISC */
/*
 * SMTP AUTH client mechanisms through libgsasl.
 *
 * Does: choose the strongest mechanism both sides allow (SCRAM-SHA-256,
 * SCRAM-SHA-1, CRAM-MD5, PLAIN, LOGIN, further restricted by
 * smtp_sasl_mechanism_filter), hand libgsasl the credentials as session
 * properties, run its steps on base64 text, and wipe the secrets that pass
 * through our hands or sit in the session.
 * Does not: talk to the network (smtp.c does), channel binding (the -PLUS
 * variants are never chosen), security layers, or any mechanism outside
 * the list above (GSSAPI, NTLM, XOAUTH2...).
 * Limits: the filter understands mechanism names, "!name" and "static:"
 * as Postfix match lists do; other lookup tables are refused, since this
 * module may not call map.c.
 *
 * Each struct sasl has its own Gsasl context: gsasl_init costs little next
 * to a TCP and TLS handshake, happens once per connection at most, and a
 * process-wide context would be global mutable state with no owner to
 * call gsasl_done.
 */
#include "config.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <gsasl.h>

#include "err.h"
#include "sasl.h"
#include "xmalloc.h"

/* Longest text we quote from the server's list in an error. */
#define SASL_QUOTE_MAX		200
/* Separators of the server's list and of the filter (Postfix: ", \t"). */
#define SASL_SERVER_SEPS	" \t"
#define SASL_FILTER_SEPS	", \t\r\n"

struct sasl {
	Gsasl		*ctx;
	Gsasl_session	*session;
	const char	*mechanism;	/* points into sasl_preference */
	bool		 done;		/* libgsasl returned GSASL_OK */
};

/* Strongest first; no -PLUS variant since we pass no channel binding. */
static const char *const sasl_preference[] = {
	"SCRAM-SHA-256",
	"SCRAM-SHA-1",
	"CRAM-MD5",
	"PLAIN",
	"LOGIN",
};
#define SASL_PREFERENCE_COUNT \
	(sizeof(sasl_preference) / sizeof(sasl_preference[0]))

static bool	 sasl_list_has(const char *, const char *, const char *);
static int	 sasl_filter_allows(const char *, const char *, struct err *);
static int	 sasl_choose(Gsasl *, const char *, const char *,
		    const char **, struct err *);
static void	 sasl_quote(const char *, char *, size_t);
static int	 sasl_set_properties(struct sasl *, const char *,
		    const char *, const char *, struct err *);
static int	 sasl_step_error(const struct sasl *, int, struct err *);
static void	 sasl_free_raw(char *, size_t);
static void	 sasl_wipe_property(Gsasl_session *, Gsasl_property);

/* Is name one of the words of list (case-insensitive, RFC 4422 3.1)? */
static bool
sasl_list_has(const char *list, const char *seps, const char *name)
{
	size_t	 len, namelen = strlen(name);

	if (list == NULL)
		return false;
	for (list += strspn(list, seps); *list != '\0';
	    list += strspn(list, seps)) {
		len = strcspn(list, seps);
		if (len == namelen && strncasecmp(list, name, len) == 0)
			return true;
		list += len;
	}
	return false;
}

/*
 * Postfix match-list semantics: the first entry that matches decides,
 * "!" turns a match into a refusal, no match refuses, an empty filter
 * allows everything. Returns 1 allowed, 0 refused, -1 bad filter.
 */
static int
sasl_filter_allows(const char *filter, const char *mech, struct err *e)
{
	const char *word;
	size_t	 len, mechlen = strlen(mech);
	bool	 negate, any = false;

	if (filter == NULL)
		return 1;
	for (word = filter + strspn(filter, SASL_FILTER_SEPS); *word != '\0';
	    word += strspn(word, SASL_FILTER_SEPS)) {
		len = strcspn(word, SASL_FILTER_SEPS);
		any = true;
		negate = word[0] == '!';
		if (negate) {
			word++;
			len--;
		}
		if (len >= 7 && strncasecmp(word, "static:", 7) == 0)
			return negate ? 0 : 1;
		if (memchr(word, ':', len) != NULL ||
		    memchr(word, '/', len) != NULL)
			return err_set(e, ERR_CONFIG,
			    "smtp_sasl_mechanism_filter: \"%.*s\" is not "
			    "supported here; list mechanism names", (int)len,
			    word);
		if (len == mechlen && strncasecmp(word, mech, len) == 0)
			return negate ? 0 : 1;
		word += len;
	}
	return any ? 0 : 1;
}

/* Copies at most SASL_QUOTE_MAX bytes of s, control characters as '?'. */
static void
sasl_quote(const char *s, char *out, size_t outlen)
{
	size_t	 i;

	if (s == NULL)
		s = "";
	for (i = 0; s[i] != '\0' && i + 1 < outlen && i < SASL_QUOTE_MAX;
	    i++)
		out[i] = isprint((unsigned char)s[i]) ? s[i] : '?';
	out[i] = '\0';
}

static int
sasl_choose(Gsasl *ctx, const char *server_mechs, const char *filter,
    const char **mech, struct err *e)
{
	char	 allowed[128], offered[SASL_QUOTE_MAX + 1];
	size_t	 i, used = 0;
	int	 rc;

	*mech = NULL;
	allowed[0] = '\0';
	for (i = 0; i < SASL_PREFERENCE_COUNT; i++) {
		if ((rc = sasl_filter_allows(filter, sasl_preference[i],
		    e)) == -1)
			return -1;
		if (rc == 0 || !gsasl_client_support_p(ctx, sasl_preference[i]))
			continue;
		if (*mech == NULL && sasl_list_has(server_mechs,
		    SASL_SERVER_SEPS, sasl_preference[i]))
			*mech = sasl_preference[i];
		used += snprintf(allowed + used, sizeof(allowed) - used, "%s%s",
		    used > 0 ? " " : "", sasl_preference[i]);
	}
	if (*mech != NULL)
		return 0;
	sasl_quote(server_mechs, offered, sizeof(offered));
	return err_set(e, ERR_PERM, "no common SASL mechanism: server offers "
	    "\"%s\", we allow \"%s\"%s%s%s", offered,
	    used > 0 ? allowed : "(none)",
	    filter != NULL && filter[0] != '\0' ?
	    " (smtp_sasl_mechanism_filter = " : "",
	    filter != NULL && filter[0] != '\0' ? filter : "",
	    filter != NULL && filter[0] != '\0' ? ")" : "");
}

/*
 * Properties rather than a callback: libgsasl copies them into the
 * session, so no static data is needed to answer its questions. AUTHZID
 * stays unset: we act as ourselves.
 */
static int
sasl_set_properties(struct sasl *s, const char *user, const char *password,
    const char *hostname, struct err *e)
{
	int	 rc;

	/* Postfix: "user" without ":password" means an empty password. */
	if ((rc = gsasl_property_set(s->session, GSASL_AUTHID, user)) !=
	    GSASL_OK ||
	    (rc = gsasl_property_set(s->session, GSASL_PASSWORD,
	    password != NULL ? password : "")) != GSASL_OK ||
	    (rc = gsasl_property_set(s->session, GSASL_SERVICE, "smtp")) !=
	    GSASL_OK ||
	    (hostname != NULL && (rc = gsasl_property_set(s->session,
	    GSASL_HOSTNAME, hostname)) != GSASL_OK))
		return err_set(e, ERR_SOFTWARE, "SASL %s: cannot set "
		    "credentials: %s", s->mechanism, gsasl_strerror(rc));
	return 0;
}

int
sasl_start(struct sasl **sp, const char *server_mechs, const char *filter,
    const char *user, const char *password, const char *hostname,
    struct err *e)
{
	struct sasl *s;
	Gsasl	*ctx = NULL;
	int	 rc;

	*sp = NULL;
	if (user == NULL)
		return err_set(e, ERR_SOFTWARE, "SASL: no user name given");
	/* On failure gsasl_init may leave ctx pointing at freed memory. */
	if ((rc = gsasl_init(&ctx)) != GSASL_OK)
		return err_set(e, ERR_SOFTWARE, "cannot initialise libgsasl: "
		    "%s", gsasl_strerror(rc));
	s = xcalloc(1, sizeof(*s));
	s->ctx = ctx;
	if (sasl_choose(s->ctx, server_mechs, filter, &s->mechanism, e) == -1)
		goto fail;
	if ((rc = gsasl_client_start(s->ctx, s->mechanism, &s->session)) !=
	    GSASL_OK) {
		s->session = NULL;
		(void)err_set(e, ERR_SOFTWARE, "cannot start SASL %s: %s",
		    s->mechanism, gsasl_strerror(rc));
		goto fail;
	}
	if (sasl_set_properties(s, user, password, hostname, e) == -1)
		goto fail;
	*sp = s;
	return 0;
fail:
	sasl_free(s);
	return -1;
}

const char *
sasl_mechanism(const struct sasl *s)
{
	return s->mechanism;
}

/*
 * The server's words or ours turned into nonsense are a protocol error
 * (deferred, as Postfix does); a SCRAM server signature that does not
 * verify is one too: the server does not know the password, or is not the
 * server. Anything else is local.
 */
static int
sasl_step_error(const struct sasl *s, int rc, struct err *e)
{
	enum err_kind kind;

	switch (rc) {
	case GSASL_BASE64_ERROR:
	case GSASL_MECHANISM_PARSE_ERROR:
	case GSASL_MECHANISM_CALLED_TOO_MANY_TIMES:
	case GSASL_AUTHENTICATION_ERROR:
	case GSASL_INTEGRITY_ERROR:
		kind = ERR_PROTOCOL;
		break;
	default:
		kind = ERR_PERM;
		break;
	}
	return err_set(e, kind, "SASL %s step failed: %s%s", s->mechanism,
	    gsasl_strerror(rc), rc == GSASL_AUTHENTICATION_ERROR &&
	    strncmp(s->mechanism, "SCRAM-", 6) == 0 ?
	    " (the server's signature does not match our password)" : "");
}

/* Decoded challenges and raw responses may hold the password. */
static void
sasl_free_raw(char *raw, size_t len)
{
	if (raw == NULL)
		return;
	xwipe(raw, len);
	gsasl_free(raw);
}

/*
 * gsasl_step64 would be shorter, but it frees the decoded challenge and
 * the raw response (for PLAIN and LOGIN, the password) without wiping
 * them; decoding and encoding here lets us wipe both.
 */
int
sasl_step(struct sasl *s, const char *input, char **output, struct err *e)
{
	char	*raw_in = NULL, *raw_out = NULL, *b64 = NULL;
	size_t	 in_len = 0, out_len = 0, len;
	int	 rc;

	*output = NULL;
	if (s->done)
		return err_set(e, ERR_PROTOCOL, "SASL %s: the server sent "
		    "another challenge after the exchange completed",
		    s->mechanism);
	/* Tolerate blanks around the base64 text; the decoder does not. */
	input += strspn(input, " \t");
	for (len = strlen(input); len > 0 && (input[len - 1] == ' ' ||
	    input[len - 1] == '\t'); len--)
		;
	if (len > 0 && gsasl_base64_from(input, len, &raw_in, &in_len) !=
	    GSASL_OK)
		return sasl_step_error(s, GSASL_BASE64_ERROR, e);
	rc = gsasl_step(s->session, raw_in, in_len, &raw_out, &out_len);
	sasl_free_raw(raw_in, in_len);
	if (rc != GSASL_OK && rc != GSASL_NEEDS_MORE) {
		sasl_free_raw(raw_out, out_len);
		return sasl_step_error(s, rc, e);
	}
	if (out_len > 0 && gsasl_base64_to(raw_out, out_len, &b64, NULL) !=
	    GSASL_OK) {
		sasl_free_raw(raw_out, out_len);
		return sasl_step_error(s, GSASL_BASE64_ERROR, e);
	}
	sasl_free_raw(raw_out, out_len);
	*output = xstrdup(b64 != NULL ? b64 : "");
	if (b64 != NULL)
		sasl_free_raw(b64, strlen(b64));
	if (rc == GSASL_OK) {
		s->done = true;
		return 1;
	}
	return 0;
}

/*
 * libgsasl frees properties without wiping them. The strings are its own
 * heap copies (gsasl_property_set duplicates), so overwriting them in
 * place before gsasl_finish is safe.
 */
static void
sasl_wipe_property(Gsasl_session *session, Gsasl_property prop)
{
	const char *value;

	if ((value = gsasl_property_fast(session, prop)) != NULL)
		xwipe((char *)(uintptr_t)value, strlen(value));
}

void
sasl_free(struct sasl *s)
{
	if (s == NULL)
		return;
	if (s->session != NULL) {
		sasl_wipe_property(s->session, GSASL_PASSWORD);
		/* SCRAM clients store this password equivalent after use. */
		sasl_wipe_property(s->session, GSASL_SCRAM_SALTED_PASSWORD);
		gsasl_finish(s->session);
	}
	if (s->ctx != NULL)
		gsasl_done(s->ctx);
	free(s);
}
