/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for addr_rewrite_header_list: an identity rewrite copies every
 * input byte for byte, a mapping rewrite changes only the addr-spec spans
 * (display names, comments, groups, folding, encoded words kept), invalid
 * lists fail and leave the output alone, and output bounds hold.
 */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "buf.h"
#include "check.h"
#include "err.h"
#include "xmalloc.h"

#define TEST_OUT_MAX	(4 * 1024 * 1024)
#define TEST_LONG_N	500

/*
 * want: the output of map_fn, or NULL when map_fn changes nothing (the
 * output must then be a copy of in and the result 0).
 */
static const struct {
	const char	*in;
	const char	*want;
} rewrite_cases[] = {
	{ "root@host.local", "admin@example.org" },
	{ " Root <root@host.local>", " Root <admin@example.org>" },
	{ "\"Quoted, Name\" <root@host.local>",
	    "\"Quoted, Name\" <admin@example.org>" },
	{ "=?UTF-8?B?SsO2cmc=?= <root@host.local>",
	    "=?UTF-8?B?SsO2cmc=?= <admin@example.org>" },
	{ "=?ISO-8859-1?Q?J=F6rg?= <u@old.example>",
	    "=?ISO-8859-1?Q?J=F6rg?= <u@new.example>" },
	{ "root@host.local (the boss)", "admin@example.org (the boss)" },
	{ "(the boss) root@host.local", "(the boss) admin@example.org" },
	{ "Group: root@host.local, c@old.example;",
	    "Group: admin@example.org, c@new.example;" },
	{ "undisclosed-recipients:;", NULL },
	{ "Undisclosed recipients:", NULL },
	{ "root@host.local,\r\n\tc@old.example",
	    "admin@example.org,\r\n\tc@new.example" },
	{ "root@host.local,\n d@old.example", "admin@example.org,\n "
	    "d@new.example" },
	{ "<root@host.local>", "<admin@example.org>" },
	{ "root @ host.local", "admin@example.org" },
	{ "root@host.local (x) ", "admin@example.org (x) " },
	{ "root(inside)@host.local, x@y", "admin@example.org, x@y" },
	{ "\"john smith\"@old.example", "\"john smith\"@new.example" },
	{ "\"john smith\"@other.example", NULL },
	{ "a.\"b\"@old.example", "a.\"b\"@new.example" },
	{ "a@b, ,c@d,", NULL },
	{ "Name <@route.example,@r2.example:root@host.local>",
	    "Name <@route.example,@r2.example:admin@example.org>" },
	{ "user@[192.0.2.1], u@[IPv6:2001:db8::1]", NULL },
	{ "root", NULL },
	{ "  root@host.local  ", "  admin@example.org  " },
	{ "Name\r\n <root@host.local>", "Name\r\n <admin@example.org>" },
	{ "\"john\r\n smith\"@old.example", "\"john smith\"@new.example" },
	{ "root@host.local\r\n (comment\r\n\tcontinued)",
	    "admin@example.org\r\n (comment\r\n\tcontinued)" },
	{ "root@host.\r\n local", "admin@example.org" },
	{ "J\xc3\xb6rg <root@host.local>", "J\xc3\xb6rg <admin@example.org>" },
	{ "j\xc3\xb6rg@old.example", "j\xc3\xb6rg@new.example" },
	{ "Pat <root@host.local>, \"x\" <y@old.example> (c),\r\n Team:;, "
	    "root@host.local", "Pat <admin@example.org>, \"x\" "
	    "<y@new.example> (c),\r\n Team:;, admin@example.org" },
	{ "A (a) <a@other.example>, G: (n) <b@old.example> (t) ;",
	    "A (a) <a@other.example>, G: (n) <b@new.example> (t) ;" },
	{ "\"a\\\"b\" <root@host.local>", "\"a\\\"b\" <admin@example.org>" },
	{ "", NULL },
	{ " \r\n ", NULL },
};

/* Each must fail with ERR_DATA; len 0 means strlen(in). */
static const struct {
	const char	*in;
	size_t		 len;
} invalid_cases[] = {
	{ "a@b c@d", 0 },
	{ "<a@b", 0 },
	{ "a@b>", 0 },
	{ "John Smith a@b", 0 },
	{ "a@b,\r\nc@d", 0 },	/* a line break that is not a fold */
	{ "a@b\r\n", 0 },
	{ "a@b\r c@d", 0 },
	{ "a@b\n", 0 },
	{ "a\0b@c", 5 },
	{ "(unterminated", 0 },
	{ "\"unterminated@b", 0 },
	{ "a@", 0 },
	{ "G: a@b, H: c@d;", 0 },
	{ "a@b;", 0 },
	{ "a@b\x01", 0 },
	{ "a@\xff.example", 0 },
	{ "<>", 0 },
	{ "a@b..c", 0 },
};

static void	 test_identity(void);
static void	 test_mapping(void);
static void	 test_invalid(void);
static void	 test_calls(void);
static void	 test_bounds(void);
static void	 test_long(void);
static char	*identity_fn(void *, const char *);
static char	*keep_fn(void *, const char *);
static char	*map_fn(void *, const char *);
static char	*record_fn(void *, const char *);

/* Returns a copy: unchanged text must still count as kept. */
static char *
identity_fn(void *ctx, const char *addr)
{
	(void)ctx;
	return xstrdup(addr);
}

static char *
keep_fn(void *ctx, const char *addr)
{
	(void)ctx;
	(void)addr;
	return NULL;
}

/* One address mapped, one domain changed, everything else kept. */
static char *
map_fn(void *ctx, const char *addr)
{
	const char *domain = addr_domain(addr);

	(void)ctx;
	if (strcmp(addr, "root@host.local") == 0)
		return xstrdup("admin@example.org");
	if (domain != NULL && strcmp(domain, "old.example") == 0)
		return xasprintf("%.*s@new.example", (int)(domain - addr - 1),
		    addr);
	return NULL;
}

/* Appends each addr-spec and '|' to the buf in ctx; maps the odd ones. */
static char *
record_fn(void *ctx, const char *addr)
{
	struct buf *b = ctx;
	size_t	 calls = 0, i;

	(void)buf_printf(b, "%s|", addr);
	for (i = 0; i < b->len; i++)
		if (b->data[i] == '|')
			calls++;
	return calls % 2 == 1 ? xstrdup("new@example.org") : NULL;
}

static void
test_identity(void)
{
	struct buf out;
	struct err e;
	size_t	 i, len;
	int	 rc, rc2;
	bool	 same;

	buf_init(&out, TEST_OUT_MAX);
	for (i = 0; i < sizeof(rewrite_cases) / sizeof(rewrite_cases[0]);
	    i++) {
		len = strlen(rewrite_cases[i].in);
		buf_reset(&out);
		rc = addr_rewrite_header_list(rewrite_cases[i].in, len,
		    identity_fn, NULL, &out, &e);
		same = out.len == len && (len == 0 ||
		    memcmp(out.data, rewrite_cases[i].in, len) == 0);
		buf_reset(&out);
		rc2 = addr_rewrite_header_list(rewrite_cases[i].in, len,
		    keep_fn, NULL, &out, &e);
		same = same && out.len == len && (len == 0 ||
		    memcmp(out.data, rewrite_cases[i].in, len) == 0);
		CHECK(rc == 0 && rc2 == 0 && same, "identity copies case %zu",
		    i);
	}
	buf_free(&out);
}

static void
test_mapping(void)
{
	struct buf out;
	struct err e;
	const char *want;
	size_t	 i;
	int	 rc;

	buf_init(&out, TEST_OUT_MAX);
	for (i = 0; i < sizeof(rewrite_cases) / sizeof(rewrite_cases[0]);
	    i++) {
		want = rewrite_cases[i].want;
		buf_reset(&out);
		rc = addr_rewrite_header_list(rewrite_cases[i].in,
		    strlen(rewrite_cases[i].in), map_fn, NULL, &out, &e);
		CHECK(rc == (want != NULL ? 1 : 0), "mapping result case %zu "
		    "(%d)", i, rc);
		CHECK_STR(buf_cstr(&out), want != NULL ? want :
		    rewrite_cases[i].in, "mapping output case %zu", i);
	}
	/* value need not be NUL-terminated: only len bytes are read. */
	buf_reset(&out);
	rc = addr_rewrite_header_list("root@host.local, x@y", 15, map_fn,
	    NULL, &out, &e);
	CHECK(rc == 1, "only len bytes read");
	CHECK_STR(buf_cstr(&out), "admin@example.org", "only len bytes out");
	/* The result is appended after what out held. */
	buf_reset(&out);
	(void)buf_append_str(&out, "To:");
	rc = addr_rewrite_header_list(" root@host.local", 16, map_fn, NULL,
	    &out, &e);
	CHECK(rc == 1, "appends");
	CHECK_STR(buf_cstr(&out), "To: admin@example.org", "appends output");
	buf_free(&out);
}

static void
test_invalid(void)
{
	struct buf out;
	struct err e;
	size_t	 i, len;
	int	 rc;

	buf_init(&out, TEST_OUT_MAX);
	for (i = 0; i < sizeof(invalid_cases) / sizeof(invalid_cases[0]);
	    i++) {
		len = invalid_cases[i].len != 0 ? invalid_cases[i].len :
		    strlen(invalid_cases[i].in);
		buf_reset(&out);
		(void)buf_append_str(&out, "KEEP");
		memset(&e, 0, sizeof(e));
		rc = addr_rewrite_header_list(invalid_cases[i].in, len,
		    map_fn, NULL, &out, &e);
		CHECK(rc == -1 && e.kind == ERR_DATA && strncmp(e.text,
		    "bad address list", 16) == 0, "invalid case %zu fails "
		    "(%d, %s)", i, rc, e.text);
		CHECK_STR(buf_cstr(&out), "KEEP", "invalid case %zu: out "
		    "untouched", i);
	}
	buf_free(&out);
}

/* fn sees each addr-spec unfolded, without CFWS, in order. */
static void
test_calls(void)
{
	static const char in[] = "Pat (x) <root @ host.local>,\r\n "
	    "\"a b\"@c.example, G: (c) u(d)@v.example;, l@m";
	struct buf calls, out;
	struct err e;
	int	 rc;

	buf_init(&calls, 1024);
	buf_init(&out, 1024);
	rc = addr_rewrite_header_list(in, strlen(in), record_fn, &calls,
	    &out, &e);
	CHECK(rc == 1, "calls: result");
	CHECK_STR(buf_cstr(&calls), "root@host.local|\"a b\"@c.example|"
	    "u@v.example|l@m|", "calls: addr-specs given to fn");
	CHECK_STR(buf_cstr(&out), "Pat (x) <new@example.org>,\r\n "
	    "\"a b\"@c.example, G: (c) new@example.org;, l@m",
	    "calls: NULL keeps, a value replaces");
	buf_free(&calls);
	buf_free(&out);
}

static void
test_bounds(void)
{
	static const char in[] = "Root <root@host.local>";
	struct buf out;
	struct err e;
	char	*big;
	int	 rc;

	/* 22 bytes in, 24 out: a max of 23 holds the copy, not the result. */
	buf_init(&out, 23);
	rc = addr_rewrite_header_list(in, strlen(in), map_fn, NULL, &out, &e);
	CHECK(rc == -1 && e.kind == ERR_DATA && strcmp(e.text,
	    "rewritten header too long") == 0, "too long once rewritten");
	CHECK(out.len == 0, "too long: out untouched");
	rc = addr_rewrite_header_list(in, strlen(in), keep_fn, NULL, &out, &e);
	CHECK(rc == 0 && strcmp(buf_cstr(&out), in) == 0, "copy fits");
	buf_reset(&out);
	(void)buf_append_str(&out, "To:");
	rc = addr_rewrite_header_list(in, strlen(in), keep_fn, NULL, &out, &e);
	CHECK(rc == -1 && e.kind == ERR_DATA, "copy too long after prefix");
	CHECK_STR(buf_cstr(&out), "To:", "copy too long: out untouched");
	buf_free(&out);

	/* More than 1 MiB is refused before parsing. */
	big = xmalloc(1024 * 1024 + 2);
	memset(big, 'a', 1024 * 1024 + 1);
	big[1024 * 1024 + 1] = '\0';
	buf_init(&out, TEST_OUT_MAX);
	rc = addr_rewrite_header_list(big, 1024 * 1024 + 1, keep_fn, NULL,
	    &out, &e);
	CHECK(rc == -1 && e.kind == ERR_DATA && out.len == 0,
	    "over 1 MiB refused");
	rc = addr_rewrite_header_list(big, 1024 * 1024, keep_fn, NULL, &out,
	    &e);
	CHECK(rc == -1 && e.kind == ERR_DATA, "1 MiB atom: address too long");
	buf_free(&out);
	free(big);
}

/* 500 folded addresses, every one changed. */
static void
test_long(void)
{
	struct buf in, want, out;
	struct err e;
	int	 i, rc;

	buf_init(&in, TEST_OUT_MAX);
	buf_init(&want, TEST_OUT_MAX);
	buf_init(&out, TEST_OUT_MAX);
	for (i = 0; i < TEST_LONG_N; i++) {
		(void)buf_printf(&in, "%s\"User %d\" <u%d@old.example>",
		    i == 0 ? " " : i % 2 ? ",\r\n\t" : ",\n ", i, i);
		(void)buf_printf(&want, "%s\"User %d\" <u%d@new.example>",
		    i == 0 ? " " : i % 2 ? ",\r\n\t" : ",\n ", i, i);
	}
	rc = addr_rewrite_header_list(in.data, in.len, map_fn, NULL, &out, &e);
	CHECK(rc == 1, "500 addresses: result");
	CHECK(out.len == want.len && memcmp(out.data, want.data, out.len) == 0,
	    "500 addresses: output");
	buf_reset(&out);
	rc = addr_rewrite_header_list(in.data, in.len, identity_fn, NULL, &out,
	    &e);
	CHECK(rc == 0 && out.len == in.len && memcmp(out.data, in.data,
	    in.len) == 0, "500 addresses: identity");
	buf_free(&in);
	buf_free(&want);
	buf_free(&out);
}

int
main(void)
{
	test_identity();
	test_mapping();
	test_invalid();
	test_calls();
	test_bounds();
	test_long();
	return check_done();
}
