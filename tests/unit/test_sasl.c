/* SPDX-License-Identifier: ISC */
/*
 * sasl: mechanism choice (preference, -PLUS, case, filter, refusals),
 * PLAIN / LOGIN / CRAM-MD5 responses against fixed vectors (RFC 4616,
 * draft-murchison-sasl-login, RFC 2195 section 2), and full SCRAM-SHA-1 /
 * SCRAM-SHA-256 exchanges against libgsasl's server side: success, a wrong
 * password, a forged server signature, a server error. Error texts are
 * checked never to carry the password or the challenge.
 */
#include "config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsasl.h>

#include "check.h"
#include "err.h"
#include "sasl.h"
#include "xmalloc.h"

#define TEST_USER	"user"
#define TEST_PASSWORD	"pencil"	/* RFC 5802 section 5 */
#define TEST_HOST	"mx.example.org"

enum scram_fault {
	SCRAM_NONE,
	SCRAM_FORGED_SIGNATURE,	/* one character of v= changed */
	SCRAM_SERVER_ERROR,	/* server-final "e=..." */
};

static void	 test_choice(void);
static void	 test_filter_errors(void);
static void	 test_plain(void);
static void	 test_login(void);
static void	 test_cram_md5(void);
static void	 test_bad_challenges(void);
static int	 server_callback(Gsasl *, Gsasl_session *, Gsasl_property);
static char	*forge_server_final(const char *, enum scram_fault);
static void	 scram_client_final(struct sasl *, const char *, const char *,
		    enum scram_fault);
static void	 test_scram(const char *, const char *, enum scram_fault);
static bool	 has(const char *, const char *);

static bool
has(const char *text, const char *part)
{
	return strstr(text, part) != NULL;
}

static const struct {
	const char	*server;
	const char	*filter;
	const char	*want;		/* mechanism, or NULL for an error */
	enum err_kind	 kind;
	const char	*text[3];	/* parts of the error text */
} choice_cases[] = {
	{ "PLAIN LOGIN CRAM-MD5", NULL, "CRAM-MD5", ERR_OK, { NULL } },
	{ "SCRAM-SHA-1 SCRAM-SHA-256-PLUS SCRAM-SHA-256 PLAIN", NULL,
	    "SCRAM-SHA-256", ERR_OK, { NULL } },
	{ "SCRAM-SHA-1-PLUS SCRAM-SHA-1 LOGIN", NULL, "SCRAM-SHA-1", ERR_OK,
	    { NULL } },
	{ "login plain", NULL, "PLAIN", ERR_OK, { NULL } },
	{ "scram-sha-1 cram-md5", "", "SCRAM-SHA-1", ERR_OK, { NULL } },
	{ "  LOGIN\t ", NULL, "LOGIN", ERR_OK, { NULL } },
	{ "CRAM-MD5 PLAIN", "plain, login", "PLAIN", ERR_OK, { NULL } },
	{ "SCRAM-SHA-256 SCRAM-SHA-1", "Scram-Sha-1", "SCRAM-SHA-1", ERR_OK,
	    { NULL } },
	{ "CRAM-MD5 PLAIN LOGIN", "!cram-md5, static:rest", "PLAIN", ERR_OK,
	    { NULL } },
	{ "CRAM-MD5 PLAIN", "!plain !cram-md5 plain", NULL, ERR_PERM,
	    { "we allow \"(none)\"", "!plain !cram-md5 plain", NULL } },
	{ "CRAM-MD5", "plain, login", NULL, ERR_PERM,
	    { "no common SASL mechanism", "server offers \"CRAM-MD5\"",
	    "we allow \"PLAIN LOGIN\"" } },
	{ "GSSAPI", NULL, NULL, ERR_PERM,
	    { "server offers \"GSSAPI\"", "we allow \"SCRAM-SHA-256 "
	    "SCRAM-SHA-1 CRAM-MD5 PLAIN LOGIN\"", NULL } },
	{ "GSSAPI NTLM XOAUTH2 DIGEST-MD5 SCRAM-SHA-256-PLUS", NULL, NULL,
	    ERR_PERM, { "GSSAPI NTLM XOAUTH2 DIGEST-MD5 SCRAM-SHA-256-PLUS",
	    NULL } },
	/* Prefixes and suffixes of a name are not the name. */
	{ "PLAINX XLOGIN SCRAM-SHA", NULL, NULL, ERR_PERM, { NULL } },
	{ "", NULL, NULL, ERR_PERM, { "server offers \"\"", NULL } },
};

static void
test_choice(void)
{
	static _Alignas(max_align_t) char sentinel[64];
	struct sasl *s;
	struct err e;
	size_t	 i, j;
	int	 rc;

	for (i = 0; i < sizeof(choice_cases) / sizeof(choice_cases[0]); i++) {
		err_clear(&e);
		s = (struct sasl *)(void *)sentinel;	/* reset on failure */
		rc = sasl_start(&s, choice_cases[i].server,
		    choice_cases[i].filter, TEST_USER, TEST_PASSWORD,
		    TEST_HOST, &e);
		if (choice_cases[i].want != NULL) {
			CHECK(rc == 0, "\"%s\" filter \"%s\": started (%s)",
			    choice_cases[i].server,
			    choice_cases[i].filter ? choice_cases[i].filter :
			    "(null)", e.text);
			if (rc == 0)
				CHECK_STR(sasl_mechanism(s),
				    choice_cases[i].want, "\"%s\": chooses %s",
				    choice_cases[i].server,
				    choice_cases[i].want);
			sasl_free(rc == 0 ? s : NULL);
			continue;
		}
		CHECK(rc == -1 && s == NULL && e.kind == choice_cases[i].kind,
		    "\"%s\": refused with kind %d (got %d: %s)",
		    choice_cases[i].server, choice_cases[i].kind, e.kind,
		    e.text);
		for (j = 0; j < 3 && choice_cases[i].text[j] != NULL; j++)
			CHECK(has(e.text, choice_cases[i].text[j]),
			    "\"%s\": error names '%s' (%s)",
			    choice_cases[i].server, choice_cases[i].text[j],
			    e.text);
		CHECK(!has(e.text, TEST_PASSWORD) || has(choice_cases[i].server,
		    TEST_PASSWORD), "\"%s\": error keeps the password out",
		    choice_cases[i].server);
	}
}

static void
test_filter_errors(void)
{
	struct sasl *s = NULL;
	struct err e;

	err_clear(&e);
	CHECK(sasl_start(&s, "PLAIN", "hash:/etc/postfix/sasl_mechs",
	    TEST_USER, TEST_PASSWORD, TEST_HOST, &e) == -1 &&
	    e.kind == ERR_CONFIG && s == NULL,
	    "a lookup table in the filter is a config error (%s)", e.text);
	CHECK(has(e.text, "hash:/etc/postfix/sasl_mechs"),
	    "config error names the entry");
	err_clear(&e);
	CHECK(sasl_start(&s, "PLAIN", NULL, NULL, TEST_PASSWORD, TEST_HOST,
	    &e) == -1 && e.kind == ERR_SOFTWARE, "no user name is refused");
}

static void
test_plain(void)
{
	struct sasl *s = NULL;
	struct err e;
	char	*out = NULL;
	int	 rc;

	err_clear(&e);
	if (sasl_start(&s, "PLAIN", NULL, TEST_USER, TEST_PASSWORD, NULL,
	    &e) == -1) {
		CHECK(0, "PLAIN starts without a host name (%s)", e.text);
		return;
	}
	rc = sasl_step(s, "", &out, &e);
	CHECK(rc == 1, "PLAIN is done after the initial response");
	/* base64("\0user\0pencil") */
	CHECK_STR(out, "AHVzZXIAcGVuY2ls", "PLAIN initial response");
	xfree_secret(out);
	out = (char *)"not reset";
	rc = sasl_step(s, "", &out, &e);
	CHECK(rc == -1 && out == NULL && e.kind == ERR_PROTOCOL &&
	    has(e.text, "after the exchange completed"),
	    "a challenge after completion is a protocol error (%s)", e.text);
	sasl_free(s);
}

static void
test_login(void)
{
	struct sasl *s = NULL;
	struct err e;
	char	*out = NULL;
	int	 rc;

	err_clear(&e);
	if (sasl_start(&s, "LOGIN", NULL, TEST_USER, TEST_PASSWORD,
	    TEST_HOST, &e) == -1) {
		CHECK(0, "LOGIN starts (%s)", e.text);
		return;
	}
	rc = sasl_step(s, "VXNlcm5hbWU6", &out, &e);	/* "Username:" */
	CHECK(rc == 0, "LOGIN wants the password challenge next");
	CHECK_STR(out, "dXNlcg==", "LOGIN answers Username: with the user");
	xfree_secret(out);
	out = NULL;
	rc = sasl_step(s, " UGFzc3dvcmQ6 ", &out, &e);	/* "Password:" */
	CHECK(rc == 1, "LOGIN is done after the password (%s)", e.text);
	CHECK_STR(out, "cGVuY2ls", "LOGIN answers Password: with the "
	    "password");
	xfree_secret(out);
	sasl_free(s);
}

static void
test_cram_md5(void)
{
	struct sasl *s = NULL;
	struct err e;
	char	*out = NULL;
	int	 rc;

	err_clear(&e);
	if (sasl_start(&s, "CRAM-MD5", NULL, "tim", "tanstaaftanstaaf",
	    TEST_HOST, &e) == -1) {
		CHECK(0, "CRAM-MD5 starts (%s)", e.text);
		return;
	}
	/* RFC 2195 section 2: "<1896.697170952@postoffice.reston.mci.net>" */
	rc = sasl_step(s, "PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1j"
	    "aS5uZXQ+", &out, &e);
	CHECK(rc == 1, "CRAM-MD5 is done after one response (%s)", e.text);
	/* "tim b913a602c7eda7a495b4e6e7334d3890" */
	CHECK_STR(out, "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw",
	    "CRAM-MD5 response is RFC 2195's");
	xfree_secret(out);
	sasl_free(s);
}

static void
test_bad_challenges(void)
{
	static const char *const bad[] = {
		"not*base64!", "QUJD=QUJD", "cGFzcw=x",
	};
	struct sasl *s = NULL;
	struct err e;
	char	*out;
	size_t	 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err_clear(&e);
		if (sasl_start(&s, "CRAM-MD5", NULL, TEST_USER,
		    TEST_PASSWORD, TEST_HOST, &e) == -1) {
			CHECK(0, "CRAM-MD5 starts (%s)", e.text);
			return;
		}
		out = NULL;
		CHECK(sasl_step(s, bad[i], &out, &e) == -1 && out == NULL &&
		    e.kind == ERR_PROTOCOL, "challenge \"%s\" is a protocol "
		    "error (%s)", bad[i], e.text);
		CHECK(has(e.text, "SASL CRAM-MD5 step failed") &&
		    !has(e.text, bad[i]) && !has(e.text, TEST_PASSWORD),
		    "error names the mechanism, not the challenge");
		sasl_free(s);
		s = NULL;
	}
}

/* libgsasl's server asks for the password it expects, kept in the hook. */
static int
server_callback(Gsasl *ctx, Gsasl_session *session, Gsasl_property prop)
{
	(void)ctx;
	if (prop == GSASL_PASSWORD)
		return gsasl_property_set(session, prop,
		    gsasl_session_hook_get(session));
	return GSASL_NO_CALLBACK;
}

/* Returns a base64 server-final with the fault applied (free it). */
static char *
forge_server_final(const char *b64, enum scram_fault fault)
{
	char	*raw = NULL, *forged = NULL, *p;
	size_t	 len = 0;

	if (fault == SCRAM_SERVER_ERROR)
		return xstrdup("ZT1pbnZhbGlkLXByb29m");	/* "e=invalid-proof" */
	if (gsasl_base64_from(b64, strlen(b64), &raw, &len) != GSASL_OK)
		return xstrdup("");
	if ((p = memchr(raw, '=', len)) != NULL && (size_t)(p - raw) + 1 < len)
		p[1] = p[1] == 'A' ? 'B' : 'A';
	if (gsasl_base64_to(raw, len, &forged, NULL) != GSASL_OK)
		forged = NULL;
	gsasl_free(raw);
	p = xstrdup(forged != NULL ? forged : "");
	gsasl_free(forged);
	return p;
}

/* The client's last step, on the server-final as sent or with a fault. */
static void
scram_client_final(struct sasl *s, const char *mech, const char *final,
    enum scram_fault fault)
{
	struct err e;
	char	*out = NULL, *forged;
	int	 rc;

	err_clear(&e);
	if (fault == SCRAM_NONE) {
		rc = sasl_step(s, final, &out, &e);
		CHECK(rc == 1, "%s: client verifies server-final (%s)", mech,
		    e.text);
		CHECK_STR(out, "", "%s: client sends an empty line last",
		    mech);
		xfree_secret(out);
		return;
	}
	forged = forge_server_final(final, fault);
	rc = sasl_step(s, forged, &out, &e);
	CHECK(rc == -1 && out == NULL && e.kind == ERR_PROTOCOL,
	    "%s: client refuses a %s server-final (%s)", mech,
	    fault == SCRAM_FORGED_SIGNATURE ? "forged" : "error", e.text);
	CHECK(has(e.text, mech) && !has(e.text, TEST_PASSWORD) &&
	    !has(e.text, "v=") && !has(e.text, forged),
	    "%s: error names the mechanism only", mech);
	free(forged);
}

/*
 * Client-first, server-first, client-final, server-final as RFC 5802
 * section 3 runs them, with SMTP's base64 between the two sides.
 */
static void
test_scram(const char *mech, const char *password, enum scram_fault fault)
{
	Gsasl	*ctx = NULL;
	Gsasl_session *server = NULL;
	struct sasl *s = NULL;
	struct err e;
	char	*to_server = NULL, *to_client = NULL;
	int	 crc, src;
	bool	 good = strcmp(password, TEST_PASSWORD) == 0;

	err_clear(&e);
	if (gsasl_init(&ctx) != GSASL_OK) {
		CHECK(0, "%s: libgsasl initialises", mech);
		return;
	}
	if (gsasl_server_start(ctx, mech, &server) != GSASL_OK) {
		server = NULL;
		CHECK(0, "%s: libgsasl server starts", mech);
		goto done;
	}
	gsasl_callback_set(ctx, server_callback);
	gsasl_session_hook_set(server, (void *)TEST_PASSWORD);
	if (sasl_start(&s, "PLAIN SCRAM-SHA-1 SCRAM-SHA-256", mech, TEST_USER,
	    password, TEST_HOST, &e) == -1) {
		CHECK(0, "%s: client starts (%s)", mech, e.text);
		goto done;
	}
	CHECK_STR(sasl_mechanism(s), mech, "%s: filter picks it", mech);
	crc = sasl_step(s, "", &to_server, &e);
	CHECK(crc == 0, "%s: client-first wants more", mech);
	src = gsasl_step64(server, to_server, &to_client);
	CHECK(src == GSASL_NEEDS_MORE, "%s: server accepts client-first (%s)",
	    mech, gsasl_strerror(src));
	xfree_secret(to_server);
	to_server = NULL;
	crc = sasl_step(s, to_client, &to_server, &e);
	CHECK(crc == 0, "%s: client-final wants more (%s)", mech, e.text);
	gsasl_free(to_client);
	to_client = NULL;
	src = gsasl_step64(server, to_server, &to_client);
	if (!good) {
		CHECK(src == GSASL_AUTHENTICATION_ERROR,
		    "%s: server rejects a wrong password (%s)", mech,
		    gsasl_strerror(src));
		goto done;
	}
	CHECK(src == GSASL_OK, "%s: server accepts the proof (%s)", mech,
	    gsasl_strerror(src));
	CHECK_STR(gsasl_property_fast(server, GSASL_AUTHID), TEST_USER,
	    "%s: server saw our user", mech);
	CHECK(gsasl_property_fast(server, GSASL_AUTHZID) == NULL,
	    "%s: no authorization identity sent", mech);
	xfree_secret(to_server);
	to_server = NULL;
	if (src != GSASL_OK)
		goto done;
	scram_client_final(s, mech, to_client, fault);
done:
	xfree_secret(to_server);
	gsasl_free(to_client);
	sasl_free(s);
	if (server != NULL)
		gsasl_finish(server);
	if (ctx != NULL)
		gsasl_done(ctx);
}

int
main(void)
{
	static const char *const scram[] = { "SCRAM-SHA-1", "SCRAM-SHA-256" };
	size_t	 i;

	test_choice();
	test_filter_errors();
	test_plain();
	test_login();
	test_cram_md5();
	test_bad_challenges();
	for (i = 0; i < sizeof(scram) / sizeof(scram[0]); i++) {
		test_scram(scram[i], TEST_PASSWORD, SCRAM_NONE);
		test_scram(scram[i], "wrong", SCRAM_NONE);
		test_scram(scram[i], TEST_PASSWORD, SCRAM_FORGED_SIGNATURE);
		test_scram(scram[i], TEST_PASSWORD, SCRAM_SERVER_ERROR);
	}
	return check_done();
}
