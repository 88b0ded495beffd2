/* SPDX-License-Identifier: ISC */
/* reply: SMTP reply lines, enhanced status codes, EHLO keywords. */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "check.h"
#include "err.h"
#include "reply.h"

static int	 feed_all(struct reply *, const char *, struct err *);
static void	 test_replies(void);
static void	 test_bounds(void);
static void	 test_reuse(void);
static void	 test_ehlo(void);

/* Feeds '\n'-separated lines; returns the last reply_feed result. */
static int
feed_all(struct reply *r, const char *lines, struct err *e)
{
	const char *p = lines, *nl;
	int	 rc = 0;

	for (;;) {
		nl = strchr(p, '\n');
		rc = reply_feed(r, p, nl != NULL ? (size_t)(nl - p) : strlen(p),
		    e);
		if (rc == -1 || nl == NULL)
			return rc;
		p = nl + 1;
	}
}

static const struct {
	const char	*lines;
	int		 rc;
	int		 code;
	const char	*enhanced;
	const char	*text;		/* or the error text when rc == -1 */
} reply_cases[] = {
	{ "250 OK", 1, 250, "", "OK" },
	{ "250", 1, 250, "", "" },
	{ "250 ", 1, 250, "", "" },
	{ "220-mx.example.org ESMTP", 0, 220, "", "mx.example.org ESMTP" },
	{ "250-first\n250-second\n250 third", 1, 250, "",
	    "first\nsecond\nthird" },
	{ "250-first\n250", 1, 250, "", "first\n" },
	{ "550 5.1.1 <x@y>: user unknown", 1, 550, "5.1.1",
	    "<x@y>: user unknown" },
	{ "550-5.1.1 no such user\n550 5.1.1 see docs", 1, 550, "5.1.1",
	    "no such user\nsee docs" },
	{ "250 2.0.0", 1, 250, "2.0.0", "" },
	{ "452 4.123.999 too many", 1, 452, "4.123.999", "too many" },
	/* Malformed or mismatched enhanced codes stay in the text. */
	{ "550 5.1 unknown", 1, 550, "", "5.1 unknown" },
	{ "250 5.0.0 class mismatch", 1, 250, "", "5.0.0 class mismatch" },
	{ "550 5.1.1234 too long", 1, 550, "", "5.1.1234 too long" },
	{ "550 5.1.1x glued", 1, 550, "", "5.1.1x glued" },
	{ "550 5..1 empty", 1, 550, "", "5..1 empty" },
	{ "550 x5.1.1 late", 1, 550, "", "x5.1.1 late" },
	/* Enhanced status only from the first line; later ones stripped. */
	{ "250-hello\n250 2.1.0 ok", 1, 250, "", "hello\nok" },
	{ "250 a\tb\001c", 1, 250, "", "a b?c" },
	{ "250-x\n251 y", -1, 0, "", "reply code changed from 250 to 251 "
	    "within a multi-line reply from server" },
	{ "hello", -1, 0, "", "malformed reply line from server: 'hello'" },
	{ "", -1, 0, "", "malformed reply line from server: ''" },
	{ "25", -1, 0, "", "malformed reply line from server: '25'" },
	{ "250x", -1, 0, "", "malformed reply line from server: '250x'" },
	{ "2500 OK", -1, 0, "", "malformed reply line from server: "
	    "'2500 OK'" },
	{ "150 x", -1, 0, "", "malformed reply line from server: '150 x'" },
	{ "650 x", -1, 0, "", "malformed reply line from server: '650 x'" },
	{ "2a0 x", -1, 0, "", "malformed reply line from server: '2a0 x'" },
	{ "\033[2J\r", -1, 0, "", "malformed reply line from server: "
	    "'\\x1b[2J\\x0d'" },
	{ "250-ok\nbad", -1, 0, "", "malformed reply line from server: "
	    "'bad'" },
};

static void
test_replies(void)
{
	struct reply r;
	struct err e;
	size_t	 i;
	int	 rc;

	for (i = 0; i < sizeof(reply_cases) / sizeof(reply_cases[0]); i++) {
		reply_init(&r);
		err_clear(&e);
		rc = feed_all(&r, reply_cases[i].lines, &e);
		CHECK(rc == reply_cases[i].rc, "reply %zu rc %d", i, rc);
		if (reply_cases[i].rc == -1) {
			CHECK(e.kind == ERR_PROTOCOL, "reply %zu kind", i);
			CHECK_STR(e.text, reply_cases[i].text, "reply %zu error",
			    i);
		} else {
			CHECK(r.code == reply_cases[i].code, "reply %zu code %d",
			    i, r.code);
			CHECK_STR(r.enhanced, reply_cases[i].enhanced,
			    "reply %zu enhanced", i);
			CHECK_STR(buf_cstr(&r.text), reply_cases[i].text,
			    "reply %zu text", i);
			CHECK(r.complete == (rc == 1), "reply %zu complete", i);
		}
		reply_free(&r);
	}
}

static void
test_bounds(void)
{
	struct reply r;
	struct err e;
	char	 line[1024];
	size_t	 i;
	int	 rc = 0;

	/* An endless multi-line reply stops at REPLY_MAX_LINES. */
	reply_init(&r);
	for (i = 0; i < REPLY_MAX_LINES + 5 && rc == 0; i++)
		rc = reply_feed(&r, "250-more", 8, &e);
	CHECK(rc == -1 && i == REPLY_MAX_LINES + 1, "line bound at %zu", i);
	CHECK(e.kind == ERR_PROTOCOL, "line bound kind");
	CHECK_STR(e.text, "reply from server exceeds 100 lines",
	    "line bound text");
	reply_free(&r);

	/* Exactly REPLY_MAX_LINES lines is fine. */
	reply_init(&r);
	for (i = 0; i + 1 < REPLY_MAX_LINES; i++)
		(void)reply_feed(&r, "250-more", 8, &e);
	rc = reply_feed(&r, "250 end", 7, &e);
	CHECK(rc == 1 && r.lines == REPLY_MAX_LINES, "max lines accepted");
	reply_free(&r);

	/* Long lines stop at REPLY_MAX_TEXT bytes. */
	memset(line, 'x', sizeof(line));
	memcpy(line, "250-", 4);
	reply_init(&r);
	rc = 0;
	for (i = 0; i < REPLY_MAX_LINES && rc == 0; i++)
		rc = reply_feed(&r, line, sizeof(line), &e);
	CHECK(rc == -1, "text bound rc");
	CHECK_STR(e.text, "reply from server exceeds 65536 bytes",
	    "text bound text");
	CHECK(r.text.len <= REPLY_MAX_TEXT, "text bound held");
	reply_free(&r);

	/* A long malformed line is quoted truncated. */
	memset(line, 'y', sizeof(line));
	reply_init(&r);
	rc = reply_feed(&r, line, sizeof(line), &e);
	CHECK(rc == -1 && strlen(e.text) < 160 &&
	    strstr(e.text, "yyy...'") != NULL, "long garbage truncated: %s",
	    e.text);
	reply_free(&r);
}

static void
test_reuse(void)
{
	struct reply r;
	struct err e;
	int	 rc;

	reply_init(&r);
	(void)feed_all(&r, "550-5.7.1 no\n550 5.7.1 relay", &e);
	rc = feed_all(&r, "354 go ahead", &e);
	CHECK(rc == 1 && r.code == 354 &&
	    r.enhanced[0] == '\0' && r.lines == 1 &&
	    strcmp(buf_cstr(&r.text), "go ahead") == 0,
	    "feed after complete starts a new reply");
	reply_reset(&r);
	CHECK(r.code == 0 && r.lines == 0 && !r.complete && r.text.len == 0,
	    "reset");
	reply_free(&r);
}

static const struct {
	const char	*lines;
	bool		 pipelining, starttls, eightbitmime, smtputf8;
	bool		 enhancedstatuscodes, dsn, size;
	unsigned long	 size_limit;
	bool		 auth;
	const char	*mechs;
} ehlo_cases[] = {
	{ "250-mx.example.org Hello\n250-PIPELINING\n250-SIZE 10240000\n"
	  "250-STARTTLS\n250-AUTH PLAIN LOGIN\n250-ENHANCEDSTATUSCODES\n"
	  "250-8BITMIME\n250-DSN\n250 SMTPUTF8",
	  true, true, true, true, true, true, true, 10240000, true,
	  "PLAIN LOGIN" },
	{ "250 mx.example.org", false, false, false, false, false, false,
	  false, 0, false, "" },
	/* The greeting line is not a keyword. */
	{ "250-STARTTLS\n250 SIZE", false, false, false, false, false, false,
	  true, 0, false, "" },
	{ "250-x\n250-size 0\n250 pipelining", true, false, false, false,
	  false, false, true, 0, false, "" },
	{ "250-x\n250 SIZE 99999999999999999999999", false, false, false,
	  false, false, false, true, 0, false, "" },
	{ "250-x\n250 SIZE 12k", false, false, false, false, false, false,
	  true, 0, false, "" },
	{ "250-x\n250-AUTH=LOGIN PLAIN\n250 AUTH plain cram-md5 XOAUTH2",
	  false, false, false, false, false, false, false, 0, true,
	  "LOGIN PLAIN CRAM-MD5 XOAUTH2" },
	{ "250-x\n250-AUTH\n250 auth=", false, false, false, false, false,
	  false, false, 0, true, "" },
	/* Invalid mechanism names are dropped. */
	{ "250-x\n250 AUTH PL/AIN SCRAM-SHA-256 AVERYLONGMECHANISMNAMEXX "
	  "GS2-KRB5", false, false, false, false, false, false, false, 0,
	  true, "SCRAM-SHA-256 GS2-KRB5" },
	/* Near-miss keywords. */
	{ "250-x\n250-PIPELININGX\n250-XSTARTTLS\n250-AUTHX PLAIN\n250 DSNX",
	  false, false, false, false, false, false, false, 0, false, "" },
	{ "250-x\n250-  STARTTLS  \n250 8bitmime", false, true, true, false,
	  false, false, false, 0, false, "" },
};

static void
test_ehlo(void)
{
	struct reply r;
	struct ehlo_caps caps;
	struct err e;
	char	 many[2048];
	const char *last;
	size_t	 i, used;
	int	 rc;

	for (i = 0; i < sizeof(ehlo_cases) / sizeof(ehlo_cases[0]); i++) {
		reply_init(&r);
		rc = feed_all(&r, ehlo_cases[i].lines, &e);
		CHECK(rc == 1, "ehlo %zu complete", i);
		reply_ehlo_caps(&r, &caps);
		CHECK(caps.pipelining == ehlo_cases[i].pipelining &&
		    caps.starttls == ehlo_cases[i].starttls &&
		    caps.eightbitmime == ehlo_cases[i].eightbitmime &&
		    caps.smtputf8 == ehlo_cases[i].smtputf8 &&
		    caps.enhancedstatuscodes ==
		    ehlo_cases[i].enhancedstatuscodes &&
		    caps.dsn == ehlo_cases[i].dsn, "ehlo %zu flags", i);
		CHECK(caps.size == ehlo_cases[i].size &&
		    caps.size_limit == ehlo_cases[i].size_limit,
		    "ehlo %zu size %lu", i, caps.size_limit);
		CHECK(caps.auth == ehlo_cases[i].auth, "ehlo %zu auth", i);
		CHECK_STR(caps.auth_mechs, ehlo_cases[i].mechs,
		    "ehlo %zu mechs", i);
		reply_free(&r);
	}

	/* Not a 250 reply: no capabilities. */
	reply_init(&r);
	(void)feed_all(&r, "554-x\n554 STARTTLS", &e);
	reply_ehlo_caps(&r, &caps);
	CHECK(!caps.starttls, "non-250 gives no caps");
	reply_free(&r);

	/* More mechanisms than fit: the list stays bounded and whole words. */
	used = (size_t)snprintf(many, sizeof(many), "250-x\n250 AUTH");
	for (i = 0; used + 24 < sizeof(many); i++)
		used += (size_t)snprintf(many + used, sizeof(many) - used,
		    " MECH-%04zu-ABCDEFGHI", i);
	reply_init(&r);
	rc = feed_all(&r, many, &e);
	CHECK(rc == 1, "many mechs complete");
	reply_ehlo_caps(&r, &caps);
	used = strlen(caps.auth_mechs);
	CHECK(used > 400 && used < sizeof(caps.auth_mechs),
	    "many mechs bounded (%zu)", used);
	last = strrchr(caps.auth_mechs, ' ');
	CHECK(last != NULL && strlen(last + 1) == 19 &&
	    strncmp(last + 1, "MECH-", 5) == 0,
	    "many mechs end on a whole word");
	reply_free(&r);
}

int
main(void)
{
	test_replies();
	test_bounds();
	test_reuse();
	test_ehlo();
	return check_done();
}
