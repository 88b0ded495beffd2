/* SPDX-License-Identifier: ISC */
/* Unit tests for addr: envelope and header parsing, IDN, helpers. */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "check.h"
#include "err.h"

#define IDN_PREFIX	"invalid international domain '"

/* want == NULL: must fail with ERR_DATA and a text containing why. */
static const struct {
	const char	*in;
	const char	*want;
	const char	*why;
} envelope_cases[] = {
	{ "user@example.org", "user@example.org", NULL },
	{ "<user@example.org>", "user@example.org", NULL },
	{ "<>", "", NULL },
	{ "", "", NULL },
	{ "root", "root", NULL },
	{ "<root>", "root", NULL },
	{ "first.last+tag@sub.example.org", "first.last+tag@sub.example.org",
	    NULL },
	{ "\"john doe\"@example.org", "\"john doe\"@example.org", NULL },
	{ "<\"a<b>c\"@example.org>", "\"a<b>c\"@example.org", NULL },
	{ "\"a\\\"b\"@example.org", "\"a\\\"b\"@example.org", NULL },
	{ "\"\"@example.org", "\"\"@example.org", NULL },
	{ "<@a.example,@b.example:u@d.example>", "u@d.example", NULL },
	{ "<@a.example:u@d.example>", "u@d.example", NULL },
	{ "u@[192.0.2.1]", "u@[192.0.2.1]", NULL },
	{ "u@[IPv6:2001:db8::1]", "u@[IPv6:2001:db8::1]", NULL },
	{ "user@bücher.example", "user@bücher.example", NULL },
	{ "jörg@example.org", "jörg@example.org", NULL },
	{ "a_b@host_name.example", "a_b@host_name.example", NULL },
	{ "a@b\r\nRCPT TO:<c@d>", NULL, "line break" },
	{ "a@b\n", NULL, "line break" },
	{ "a@b\r", NULL, "line break" },
	{ "a\x01@b", NULL, "control character" },
	{ "a@b\x7f", NULL, "control character" },
	{ "a@b\tc", NULL, "control character" },
	{ "<a@b", NULL, "unbalanced '<'" },
	{ "a@b>", NULL, "unbalanced" },
	{ "<<a@b>>", NULL, "unbalanced" },
	{ "<a@b> x", NULL, "unbalanced '<'" },
	{ "John <a@b>", NULL, "Name <address>" },
	{ "John<a@b>", NULL, "Name <address>" },
	{ "john doe@example.org", NULL, "whitespace" },
	{ " a@b", NULL, "whitespace" },
	{ "a@b ", NULL, "whitespace" },
	{ "a@ b", NULL, "whitespace" },
	{ "@example.org", NULL, "empty local part" },
	{ "<@example.org>", NULL, "source route" },
	{ "<@a:>", NULL, "source route without a mailbox" },
	{ "<@a,b:u@d>", NULL, "bad source route" },
	{ "<@a>", NULL, "source route without ':'" },
	{ "a@", NULL, "'@' without a domain" },
	{ "a@b@c", NULL, "more than one '@'" },
	{ "a@b..c", NULL, "empty label" },
	{ "a@.b", NULL, "empty label" },
	{ "a@b.", NULL, "empty label" },
	{ "a(comment)@b", NULL, "not allowed in an unquoted local part" },
	{ "a@b,c@d", NULL, "not allowed in a domain" },
	{ "\"unterminated@b", NULL, "unterminated quoted string" },
	{ "\"a\"b@c", NULL, "text after a quoted local part" },
	{ "u@[192.0.2.1", NULL, "unterminated domain literal" },
	{ "u@[300.0.2.1]", NULL, "not an IPv4 or IPv6" },
	{ "u@[example.org]", NULL, "not an IPv4 or IPv6" },
	{ "a@\xc3\x28", NULL, "invalid UTF-8" },
	{ "a\xc0\xaf" "b@c", NULL, "invalid UTF-8" },
	{ "a@\xed\xa0\x80", NULL, "invalid UTF-8" },
	{ "a@\xf4\x90\x80\x80", NULL, "invalid UTF-8" },
	{ "a@\xe0\x80\xaf", NULL, "invalid UTF-8" },
	{ "a@\xf0\x8f\xbf\xbf", NULL, "invalid UTF-8" },
	{ "a@\xc3", NULL, "invalid UTF-8" },
	{ "a@\x80", NULL, "invalid UTF-8" },
	{ "\xf0\x9f\x98\x80@\xef\xbf\xbd.example",
	    "\xf0\x9f\x98\x80@\xef\xbf\xbd.example", NULL },
	{ "a@aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    ".example", NULL, "longer than 63" },
};

/* want NULL: must fail; else the '|'-joined list of addresses. */
static const struct {
	const char	*in;
	const char	*want;
	const char	*why;
} header_cases[] = {
	{ "a@b", "a@b", NULL },
	{ "a@b, c@d", "a@b|c@d", NULL },
	{ "John Doe <john@example.org>", "john@example.org", NULL },
	{ "\"Doe, John\" <john@example.org>, x@y", "john@example.org|x@y",
	    NULL },
	{ "John Q. Public <jqp@example.org>", "jqp@example.org", NULL },
	{ "<a@b>", "a@b", NULL },
	{ "a@b (Alice)", "a@b", NULL },
	{ "(c1) a (c2) @ (c3) b (c4)", "a@b", NULL },
	{ "Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>",
	    "pete@silly.test", NULL },
	{ "a@b ((nested) comment)", "a@b", NULL },
	{ "Undisclosed recipients:;", "", NULL },
	{ "Undisclosed recipients:", "", NULL },
	{ "team: a@b, Carol <c@d>;", "a@b|c@d", NULL },
	{ "team: a@b, c@d; , e@f", "a@b|c@d|e@f", NULL },
	{ "a@b,,c@d", "a@b|c@d", NULL },
	{ ",a@b,", "a@b", NULL },
	{ "", "", NULL },
	{ "   ", "", NULL },
	{ "root", "root", NULL },
	{ "root, alice@example.org", "root|alice@example.org", NULL },
	{ "\"john doe\"@example.org", "\"john doe\"@example.org", NULL },
	{ "Name <\"john doe\"@example.org>", "\"john doe\"@example.org",
	    NULL },
	{ "\"a\".b@c", "\"a\".b@c", NULL },
	{ "=?utf-8?q?J=C3=B6rg?= <joerg@example.org>", "joerg@example.org",
	    NULL },
	{ "Jörg <jörg@bücher.example>", "jörg@bücher.example", NULL },
	{ "<@relay.example,@r2.example:u@d.example>", "u@d.example", NULL },
	{ "u@[192.0.2.1]", "u@[192.0.2.1]", NULL },
	{ "a@b.example\t,\tc@d", "a@b.example|c@d", NULL },
	{ "John Doe", NULL, "display name needs" },
	{ "John Doe@example.org", NULL, "display name needs" },
	{ "a@b c@d", NULL, "expected ','" },
	{ "a@b\r\nBcc: evil@x", NULL, "line break" },
	{ "<a@b", NULL, "expected '>'" },
	{ "a@b>", NULL, "expected ','" },
	{ "<>", NULL, "empty address" },
	{ "Name <>", NULL, "empty address" },
	{ "a@", NULL, "'@' without a domain" },
	{ "@b", NULL, "expected an address" },
	{ "a@b..c", NULL, "empty label" },
	{ "\"unterminated", NULL, "unterminated quoted string" },
	{ "a@b (unterminated", NULL, "unterminated comment" },
	{ "a@b)", NULL, "unexpected character" },
	{ "g1: g2: a@b;;", NULL, "group inside a group" },
	{ ": a@b;", NULL, "expected an address" },
	{ "a@b;", NULL, "expected ','" },
	{ "u@[1.2.3.4", NULL, "bad domain literal" },
	{ "u@[nonsense]", NULL, "not an IPv4 or IPv6" },
	{ "Name <@a.example u@b>", NULL, "expected ':'" },
	{ "a@\xff", NULL, "invalid UTF-8" },
	{ "a@b\x01", NULL, "control character" },
	{ "ok@example.org, bad@", NULL, "'@' without a domain" },
};

static const struct {
	const char	*in;
	bool		 is_domain;
	const char	*want;	/* NULL: must fail */
} ascii_cases[] = {
	{ "user@bücher.example", false, "user@xn--bcher-kva.example" },
	{ "User@BÜCHER.Example", false, "User@xn--bcher-kva.example" },
	{ "User@Example.ORG", false, "User@example.org" },
	{ "jörg@example.org", false, "jörg@example.org" },
	{ "bücher.example", true, "xn--bcher-kva.example" },
	{ "Example.ORG", true, "example.org" },
	{ "faß.de", true, "xn--fa-hia.de" },
	{ "u@[192.0.2.1]", false, "u@[192.0.2.1]" },
	{ "root", false, "root" },
	{ "", false, "" },
	{ "\"a@b\"@Example.org", false, "\"a@b\"@example.org" },
	{ "u@xn--bcher-kva.example", false, "u@xn--bcher-kva.example" },
	{ "u@XN--bcher-kva.example", false, "u@xn--bcher-kva.example" },
	{ "u@xn--zz.example", false, NULL },
	{ "u@a.xn--zz", false, NULL },
	{ "u@☃.net", false, NULL },
	{ "-bücher.example", true, NULL },
};

static void	 test_envelope(void);
static void	 test_header(void);
static void	 test_header_keeps_list(void);
static void	 test_to_ascii(void);
static void	 test_helpers(void);
static void	 test_long(void);
static char	*join(const struct addr_list *);

static char *
join(const struct addr_list *l)
{
	size_t	 i, len = 1;
	char	*s;

	for (i = 0; i < l->n; i++)
		len += strlen(l->v[i]) + 1;
	s = calloc(1, len);
	for (i = 0; i < l->n; i++) {
		if (i > 0)
			strcat(s, "|");
		strcat(s, l->v[i]);
	}
	return s;
}

static void
test_envelope(void)
{
	struct err e;
	char	*out;
	size_t	 i;
	int	 rc;

	for (i = 0; i < sizeof(envelope_cases) / sizeof(envelope_cases[0]);
	    i++) {
		err_clear(&e);
		out = NULL;
		rc = addr_parse_envelope(envelope_cases[i].in, &out, &e);
		if (envelope_cases[i].want != NULL) {
			CHECK(rc == 0, "envelope %zu parses (%s)", i, e.text);
			CHECK_STR(out, envelope_cases[i].want, "envelope %zu",
			    i);
		} else {
			CHECK(rc == -1 && out == NULL && e.kind == ERR_DATA,
			    "envelope %zu refused", i);
			CHECK(strstr(e.text, envelope_cases[i].why) != NULL &&
			    strncmp(e.text, "bad address '", 13) == 0,
			    "envelope %zu reason: %s", i, e.text);
			CHECK(strchr(e.text, '\r') == NULL &&
			    strchr(e.text, '\n') == NULL,
			    "envelope %zu error is one line", i);
		}
		free(out);
	}
}

static void
test_header(void)
{
	struct addr_list l = { NULL, 0 };
	struct err e;
	char	*got;
	size_t	 i;
	int	 rc;

	for (i = 0; i < sizeof(header_cases) / sizeof(header_cases[0]); i++) {
		err_clear(&e);
		rc = addr_parse_header_list(header_cases[i].in, &l, &e);
		got = join(&l);
		if (header_cases[i].want != NULL) {
			CHECK(rc == 0, "header %zu parses (%s)", i, e.text);
			CHECK_STR(got, header_cases[i].want, "header %zu", i);
		} else {
			CHECK(rc == -1 && e.kind == ERR_DATA && l.n == 0,
			    "header %zu refused, nothing added", i);
			CHECK(strstr(e.text, header_cases[i].why) != NULL,
			    "header %zu reason: %s", i, e.text);
		}
		free(got);
		addr_list_free(&l);
	}
}

/* A failed parse leaves earlier entries alone; a good one appends. */
static void
test_header_keeps_list(void)
{
	struct addr_list l = { NULL, 0 };
	struct err e;
	char	*got;
	int	 rc;

	/* CHECK evaluates its condition twice: no calls inside it. */
	addr_list_add(&l, "first@x");
	rc = addr_parse_header_list("a@b, bad@", &l, &e);
	CHECK(rc == -1 && l.n == 1, "failed header parse appends nothing");
	rc = addr_parse_header_list("a@b, c@d", &l, &e);
	CHECK(rc == 0 && l.n == 3, "header parse appends");
	got = join(&l);
	CHECK_STR(got, "first@x|a@b|c@d", "list order kept");
	free(got);
	addr_list_free(&l);
	CHECK(l.v == NULL && l.n == 0, "addr_list_free resets the list");
}

static void
test_to_ascii(void)
{
	struct err e;
	char	*out;
	size_t	 i;
	int	 rc;

	for (i = 0; i < sizeof(ascii_cases) / sizeof(ascii_cases[0]); i++) {
		err_clear(&e);
		out = NULL;
		rc = addr_to_ascii(ascii_cases[i].in, ascii_cases[i].is_domain,
		    &out, &e);
		if (ascii_cases[i].want != NULL) {
			CHECK(rc == 0, "to_ascii %zu (%s)", i, e.text);
			CHECK_STR(out, ascii_cases[i].want, "to_ascii %zu", i);
		} else
			CHECK(rc == -1 && out == NULL && e.kind == ERR_DATA &&
			    strncmp(e.text, IDN_PREFIX, strlen(IDN_PREFIX)) ==
			    0, "to_ascii %zu refused: %s", i, e.text);
		free(out);
	}
}

static void
test_helpers(void)
{
	static const struct {
		const char	*in;
		const char	*domain;
		bool		 utf8;
		const char	*qualified;
	} cases[] = {
		{ "a@b", "b", false, "a@b" },
		{ "root", NULL, false, "root@origin.example" },
		{ "\"x@y\"", NULL, false, "\"x@y\"@origin.example" },
		{ "\"x@y\"@z", "z", false, "\"x@y\"@z" },
		{ "jörg@example.org", "example.org", true, "jörg@example.org" },
		{ "joerg@bücher.example", "bücher.example", false,
		    "joerg@bücher.example" },
		{ "jörg", NULL, true, "jörg@origin.example" },
		{ "", NULL, false, "" },
		{ "a@b@c", "c", false, "a@b@c" },
	};
	char	*q;
	size_t	 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		CHECK_STR(addr_domain(cases[i].in), cases[i].domain,
		    "addr_domain %zu", i);
		CHECK(addr_needs_smtputf8(cases[i].in) == cases[i].utf8,
		    "addr_needs_smtputf8 %zu", i);
		q = addr_qualify(cases[i].in, "origin.example");
		CHECK_STR(q, cases[i].qualified, "addr_qualify %zu", i);
		free(q);
	}
}

/* Length bounds, and that the error quotes a bounded input. */
static void
test_long(void)
{
	struct addr_list l = { NULL, 0 };
	struct err e;
	char	*in, *out = NULL, *hdr;
	size_t	 n = ADDR_MAX + 10;
	int	 rc;

	/* "aaa...a@aaaaaaaaa": a long local part, a short domain */
	in = malloc(n + 1);
	memset(in, 'a', n);
	in[n] = '\0';
	in[n - 10] = '@';
	rc = addr_parse_envelope(in, &out, &e);
	CHECK(rc == -1 && out == NULL && strstr(e.text, "longer than 1024") !=
	    NULL && strlen(e.text) < 200, "overlong envelope refused: %s",
	    e.text);
	rc = addr_parse_envelope(in + 10, &out, &e);
	CHECK(rc == 0 && out != NULL && strlen(out) == ADDR_MAX,
	    "envelope of ADDR_MAX bytes accepted (%s)", e.text);
	free(out);
	hdr = malloc(n + 16);
	snprintf(hdr, n + 16, "x@y, %s", in);
	rc = addr_parse_header_list(hdr, &l, &e);
	CHECK(rc == -1 && l.n == 0 && strstr(e.text, "longer than 1024") !=
	    NULL, "overlong header address refused: %.60s", e.text);
	rc = addr_parse_header_list(hdr + 15, &l, &e);
	CHECK(rc == 0 && l.n == 1 && strlen(l.v[0]) == ADDR_MAX,
	    "header address of ADDR_MAX bytes accepted");
	addr_list_free(&l);
	free(hdr);
	free(in);
	rc = addr_parse_envelope("a\r\nb@c", &out, &e);
	CHECK(rc == -1 && strstr(e.text, "'a\\r\\nb@c'") != NULL,
	    "control characters escaped in error: %s", e.text);
	rc = addr_parse_envelope("a@\xff", &out, &e);
	CHECK(rc == -1 && strstr(e.text, "'a@\\xff'") != NULL,
	    "invalid UTF-8 escaped in error: %s", e.text);
}

int
main(void)
{
	test_envelope();
	test_header();
	test_header_keeps_list();
	test_to_ascii();
	test_helpers();
	test_long();
	return check_done();
}
