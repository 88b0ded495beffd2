/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for alias: aliases(5) syntax (continuations, comments, quoted
 * names, CRLF, case), skipped |command, /file and :include: targets,
 * errors naming file:line, and expansion (chains, fan-out order, dedupe,
 * self-reference, loops, depth limit, result cap, several maps), on files
 * in a mkdtemp dir. CHECK evaluates its condition twice, so calls are
 * made before it.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "alias.h"
#include "buf.h"
#include "check.h"
#include "err.h"

/* Every warn/report line, joined by '\n'. */
struct collect {
	struct buf	 text;
	size_t		 n;
};

static char	 dir[64];

static void	 collect(void *, const char *);
static char	*write_file(const char *, const char *);
static const char *joined(const struct addr_list *, struct buf *);
static int	 expand(const char *, const char *, const char *, char **,
		    struct collect *, struct err *);
static void	 test_syntax(void);
static void	 test_skipped(void);
static void	 test_errors(void);
static void	 test_expansion(void);
static void	 test_limits(void);
static void	 test_maps(void);
static void	 test_check_text(void);

static void
collect(void *ctx, const char *line)
{
	struct collect *c = ctx;

	if (c->text.len > 0)
		(void)buf_putc(&c->text, '\n');
	(void)buf_append_str(&c->text, line);
	c->n++;
}

/* dir/name holding text; the path is the caller's to free. */
static char *
write_file(const char *name, const char *text)
{
	char	*path;
	FILE	*fp;

	if (asprintf(&path, "%s/%s", dir, name) == -1)
		exit(1);
	if ((fp = fopen(path, "w")) == NULL ||
	    fwrite(text, 1, strlen(text), fp) != strlen(text) ||
	    fclose(fp) != 0) {
		perror(path);
		exit(1);
	}
	return path;
}

/* "a b c" from a list. */
static const char *
joined(const struct addr_list *l, struct buf *b)
{
	size_t	 i;

	buf_reset(b);
	for (i = 0; i < l->n; i++) {
		if (i > 0)
			(void)buf_putc(b, ' ');
		(void)buf_append_str(b, l->v[i]);
	}
	return buf_cstr(b);
}

/*
 * Writes text to dir/aliases, opens "hash:" it and expands name: returns
 * alias_expand's result (or -2 when alias_open failed), *got the results.
 */
static int
expand(const char *text, const char *name, const char *maps, char **got,
    struct collect *warn, struct err *e)
{
	struct alias_table *t;
	struct addr_list out = { NULL, 0 };
	struct buf b;
	char	*path = NULL, *spec;
	int	 rc;

	*got = NULL;
	if (text != NULL)
		path = write_file("aliases", text);
	spec = maps != NULL ? strdup(maps) : NULL;
	if (spec == NULL && asprintf(&spec, "hash:%s", path) == -1)
		exit(1);
	rc = alias_open(spec, &t, collect, warn, e);
	free(spec);
	free(path);
	if (rc == -1)
		return -2;
	rc = alias_expand(t, name, &out, e);
	buf_init(&b, 1 << 20);
	*got = strdup(joined(&out, &b));
	buf_free(&b);
	addr_list_free(&out);
	alias_free(t);
	return rc;
}

static void
test_syntax(void)
{
	static const struct {
		const char	*text;
		const char	*name;
		int		 rc;
		const char	*want;
		const char	*why;
	} cases[] = {
		{ "a: b@x", "a", 1, "b@x", "simple" },
		{ "a: b@x, c@y\n", "A", 1, "b@x c@y", "lookup is case-insensitive" },
		{ "Admin: b@x\n", "admin", 1, "b@x", "names are stored lower-case" },
		{ "a: b@x,\n  c@y,\n\td@z\n", "a", 1, "b@x c@y d@z",
		    "continuation lines" },
		{ "a: b@x\n# c: d@x\n  \n\nc: e@x\n", "c", 1, "e@x",
		    "comments and blank lines" },
		{ "a: b@x,\n# between\n  c@y\n", "a", 1, "b@x c@y",
		    "comment between continuation lines" },
		{ "a: b@x\r\nc: d@y\r\n", "c", 1, "d@y", "CRLF" },
		{ "a:b@x,c@y", "a", 1, "b@x c@y", "no blanks needed" },
		{ "\"two words\": b@x\n", "\"Two Words\"", 1, "b@x",
		    "quoted name" },
		{ "\"a:b\": c@x\n", "\"a:b\"", 1, "c@x",
		    "colon inside a quoted name" },
		{ "a: \"john smith\"@example.org, <c@y>\n", "a", 1,
		    "\"john smith\"@example.org c@y", "quoted local part, <>" },
		{ "a: \"x,y\"@example.org\n", "a", 1, "\"x,y\"@example.org",
		    "comma inside quotes does not split" },
		{ "a: b@x,, c@y,\n", "a", 1, "b@x c@y", "empty items ignored" },
		{ "a: b@x\n", "b", 0, "", "unknown name" },
		{ "a: b@x\n", "a@x", 0, "", "names with a domain are not aliases" },
		{ "a: b@x\na: c@x\n", "a", 1, "b@x", "duplicate: first wins" },
	};
	struct collect w;
	struct err e;
	char	*got;
	size_t	 i;
	int	 rc;

	buf_init(&w.text, 1 << 16);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		w.n = 0;
		buf_reset(&w.text);
		rc = expand(cases[i].text, cases[i].name, NULL, &got, &w, &e);
		CHECK(rc == cases[i].rc, "syntax: %s: rc %d", cases[i].why, rc);
		if (rc == -2)
			printf("#   %s\n", e.text);
		CHECK_STR(got, cases[i].want, "syntax: %s: result",
		    cases[i].why);
		free(got);
	}
	w.n = 0;
	buf_reset(&w.text);
	(void)expand("a: b@x\n\na: c@x\n", "a", NULL, &got, &w, &e);
	CHECK(w.n == 1 && strstr(buf_cstr(&w.text), "/aliases:3: alias a: "
	    "duplicate entry ignored; the first one (line 1) is used") != NULL,
	    "duplicate name warns with file:line");
	free(got);
	buf_free(&w.text);
}

static void
test_skipped(void)
{
	struct collect w;
	struct err e;
	char	*got;
	const char *t;
	int	 rc;

	buf_init(&w.text, 1 << 16);
	w.n = 0;
	rc = expand("a: b@x, |/usr/bin/prog,\n  \"|/usr/bin/x arg\",\n"
	    "  /var/mail/a, \"/tmp/with space\", :include:/etc/list,\n"
	    "  c@y\n", "a", NULL, &got, &w, &e);
	t = buf_cstr(&w.text);
	CHECK(rc == 1, "skipped targets: alias still found");
	CHECK_STR(got, "b@x c@y", "skipped targets are not in the results");
	CHECK(w.n == 5, "one warning per skipped target (%zu)", w.n);
	CHECK(strstr(t, "/aliases:1: alias a: pipe to a command is not "
	    "supported by a send-only relay, skipped") != NULL,
	    "pipe warning names file:line");
	CHECK(strstr(t, "/aliases:2: alias a: pipe to a command") != NULL,
	    "quoted pipe warning names its continuation line");
	CHECK(strstr(t, "/aliases:3: alias a: delivery to a file is not "
	    "supported") != NULL, "file warning");
	CHECK(strstr(t, "/aliases:3: alias a: an :include: list is not "
	    "supported") != NULL, "include warning");
	free(got);

	/* All targets skipped: no alias, so the name is relayed as is. */
	w.n = 0;
	buf_reset(&w.text);
	rc = expand("nobody: /dev/null\n", "nobody", NULL, &got, &w, &e);
	CHECK(rc == 0, "only skipped targets: the name has no alias");
	CHECK(w.n == 2 && strstr(buf_cstr(&w.text), "no target left") !=
	    NULL, "and that is said");
	free(got);
	buf_free(&w.text);
}

static void
test_errors(void)
{
	static const struct {
		const char	*text;
		const char	*want;	/* after "DIR/aliases" */
	} cases[] = {
		{ "a: b@x\nbroken line\n", ":2: expected 'name: value, ...'" },
		{ "a: b@x\nb:\n", ":2: alias b: no targets after ':'" },
		{ "a: b@x\nb: , ,\n", ":2: alias b: no targets after ':'" },
		{ "a: b@x\n\nb: c@x,\n  bad@@x\n",
		    ":4: alias b: bad address 'bad@@x'" },
		{ "a: b@x, c d\n", ":1: alias a: bad address 'c d'" },
		{ "a: <>\n", ":1: alias a: the null address" },
		{ "a: John <j@x>\n", ":1: alias a: bad address 'John <j@x>'" },
		{ "  a: b@x\n", ":1: continuation line without an entry" },
		{ "two words: b@x\n", ":1: alias two words: a name with white "
		    "space" },
		{ ": b@x\n", ":1: expected 'name: value, ...'" },
		{ "\"open: b@x\n", ":1: expected 'name: value, ...'" },
	};
	struct collect w;
	struct err e;
	char	*got, want[256];
	size_t	 i;
	int	 rc;

	buf_init(&w.text, 1 << 16);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err_clear(&e);
		rc = expand(cases[i].text, "a", NULL, &got, &w, &e);
		(void)snprintf(want, sizeof(want), "%s/aliases%s", dir,
		    cases[i].want);
		CHECK(rc == -2 && e.kind == ERR_CONFIG &&
		    strncmp(e.text, want, strlen(want)) == 0,
		    "error %zu: %s", i, cases[i].want);
		if (strncmp(e.text, want, strlen(want)) != 0)
			printf("#   got \"%s\"\n", e.text);
		free(got);
	}
	buf_free(&w.text);
}

static void
test_expansion(void)
{
	static const struct {
		const char	*text;
		const char	*name;
		const char	*want;
		const char	*why;
	} cases[] = {
		{ "a: b\nb: c@x\n", "a", "c@x", "chain" },
		{ "a: b\nb: c\nc: d@x\n", "a", "d@x", "chain a->b->c" },
		{ "a: b, z@x, c\nb: y@x, w@x\nc: v@x, Y@X\n", "a",
		    "y@x w@x z@x v@x", "fan-out in order, deduplicated" },
		{ "a: b, c\nb: d@x\nc: d@x, e\n", "a", "d@x e",
		    "unaliased local names are kept" },
		{ "root: root, admin@x\n", "root", "root admin@x",
		    "self-reference keeps the name" },
		{ "a: b\nb: a\n", "a", "a", "loop from a" },
		{ "a: b\nb: a\n", "b", "b", "loop from b" },
		{ "a: b, c\nb: c, x@y\nc: b, z@y\n", "a", "b z@y x@y",
		    "mutual loop: c is walked once, b kept on its path" },
		{ "a: \\b, c@x\nb: d@x\n", "a", "b c@x",
		    "backslash: not expanded again" },
		{ "a: \"two words\"\n\"two words\": t@x\n", "a", "t@x",
		    "quoted local name expands" },
		{ "a: b@x\nb: c@x\n", "a", "b@x",
		    "addresses with a domain are final" },
	};
	struct collect w;
	struct err e;
	char	*got;
	size_t	 i;
	int	 rc;

	buf_init(&w.text, 1 << 16);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		rc = expand(cases[i].text, cases[i].name, NULL, &got, &w, &e);
		CHECK(rc == 1, "expand: %s: rc %d", cases[i].why, rc);
		CHECK_STR(got, cases[i].want, "expand: %s", cases[i].why);
		free(got);
	}
	buf_free(&w.text);
}

static void
test_limits(void)
{
	struct alias_table *t;
	struct addr_list out = { NULL, 0 };
	struct collect w;
	struct err e;
	struct buf text;
	char	*got, *path, *spec;
	size_t	 i;
	int	 rc;

	buf_init(&w.text, 1 << 16);
	buf_init(&text, 1 << 20);
	for (i = 1; i <= 25; i++)
		(void)buf_printf(&text, "n%zu: n%zu\n", i, i + 1);
	(void)buf_append_str(&text, "n26: end@x\n");
	w.n = 0;
	rc = expand(buf_cstr(&text), "n1", NULL, &got, &w, &e);
	CHECK(rc == 1, "depth: expanded");
	CHECK_STR(got, "n21", "depth: stops after 20 names, keeping the next");
	CHECK_STR(buf_cstr(&w.text), "alias expansion deeper than 20 at n21; "
	    "kept as is", "depth: warning");
	free(got);

	/* 1000 results fit, 1001 do not. */
	buf_reset(&text);
	(void)buf_append_str(&text, "big: a1@x");
	for (i = 2; i <= ALIAS_RESULTS_MAX; i++)
		(void)buf_printf(&text, ",\n a%zu@x", i);
	(void)buf_append_str(&text, "\nbigger: big, one@more\nsmall: s@x\n");
	path = write_file("aliases", buf_cstr(&text));
	if (asprintf(&spec, "texthash:%s", path) == -1)
		exit(1);
	rc = alias_open(spec, &t, collect, &w, &e);
	CHECK(rc == 0, "cap: opened");
	if (rc == 0) {
		rc = alias_expand(t, "big", &out, &e);
		CHECK(rc == 1 && out.n == ALIAS_RESULTS_MAX, "cap: 1000 fit");
		addr_list_free(&out);
		addr_list_add(&out, "kept@x");
		rc = alias_expand(t, "bigger", &out, &e);
		CHECK(rc == -1 && e.kind == ERR_DATA &&
		    strstr(e.text, "more than 1000") != NULL,
		    "cap: 1001 is ERR_DATA");
		CHECK(out.n == 1 && strcmp(out.v[0], "kept@x") == 0,
		    "cap: out left as it was");
		rc = alias_expand(t, "small", &out, &e);
		CHECK(rc == 1 && out.n == 2, "appends to what out holds");
		rc = alias_expand(t, "small", &out, &e);
		CHECK(rc == 1 && out.n == 2, "and deduplicates against it");
		addr_list_free(&out);
		alias_free(t);
	}
	free(spec);
	free(path);
	buf_free(&text);
	buf_free(&w.text);
}

static void
test_maps(void)
{
	struct collect w;
	struct err e;
	char	*first, *second, *maps, *got;
	int	 rc;

	buf_init(&w.text, 1 << 16);
	first = write_file("first", "a: one@x\nb: c\n");
	second = write_file("second", "a: two@x\nc: three@x\nd: four@x\n");
	if (asprintf(&maps, "hash:%s, btree:%s", first, second) == -1)
		exit(1);
	w.n = 0;
	rc = expand(NULL, "a", maps, &got, &w, &e);
	CHECK(rc == 1 && w.n == 0, "maps: first map wins, silently");
	CHECK_STR(got, "one@x", "maps: first map's value");
	free(got);
	rc = expand(NULL, "b", maps, &got, &w, &e);
	CHECK_STR(got, "three@x", "maps: expansion crosses maps");
	free(got);
	free(maps);

	rc = expand(NULL, "a", "hash:/nonexistent/aliases", &got, &w, &e);
	CHECK(rc == -2 && e.kind == ERR_CONFIG &&
	    strstr(e.text, "/nonexistent/aliases: cannot open") != NULL,
	    "maps: missing file is ERR_CONFIG naming it");
	if (asprintf(&maps, "hash:%s inline:{a=b}", first) == -1)
		exit(1);
	rc = expand(NULL, "a", maps, &got, &w, &e);
	CHECK(rc == -2 && e.kind == ERR_CONFIG &&
	    strncmp(e.text, "alias_maps: type inline not supported", 37) == 0,
	    "maps: inline refused");
	free(maps);
	rc = expand(NULL, "a", "regexp:/etc/x", &got, &w, &e);
	CHECK(rc == -2 && strstr(e.text, "type regexp not supported") != NULL,
	    "maps: regexp refused");
	rc = expand(NULL, "a", first, &got, &w, &e);
	CHECK(rc == -2 && e.kind == ERR_CONFIG &&
	    strstr(e.text, "has no type") != NULL, "maps: a type is needed");
	rc = expand(NULL, "a", "hash:", &got, &w, &e);
	CHECK(rc == -2 && strstr(e.text, "missing file name") != NULL,
	    "maps: a path is needed");
	rc = expand(NULL, "a", dir, &got, &w, &e);
	CHECK(rc == -2, "maps: a directory is refused");
	rc = expand(NULL, "a", "", &got, &w, &e);
	CHECK(rc == 0, "maps: an empty alias_maps has no aliases");
	free(got);
	(void)unlink(first);
	(void)unlink(second);
	free(first);
	free(second);
	buf_free(&w.text);
}

static void
test_check_text(void)
{
	static const char good[] = "# comment\npostmaster: root\n"
	    "root: admin@example.org, \\root\n";
	static const char bad[] = "a: |/bin/prog, b@x\nbroken\n"
	    "c: bad@@x, also bad\nd:\n\te@x\n  \nf: g@x\n  h@x\n";
	static const char nul[] = "a: b@@x\nc: d\0@x\n  e@x\nf: g@x\n";
	struct collect r;
	size_t	 n;

	buf_init(&r.text, 1 << 16);
	r.n = 0;
	n = alias_check_text(good, sizeof(good) - 1, "good", collect, &r);
	CHECK(n == 0 && r.n == 0, "check: a good file has no problems");
	r.n = 0;
	buf_reset(&r.text);
	n = alias_check_text(bad, sizeof(bad) - 1, "bad", collect, &r);
	CHECK(n == 4, "check: counts errors (%zu)", n);
	CHECK(r.n == 5, "check: reports warnings too (%zu)", r.n);
	CHECK_STR(buf_cstr(&r.text),
	    "bad:1: alias a: pipe to a command is not supported by a "
	    "send-only relay, skipped\n"
	    "bad:2: expected 'name: value, ...'\n"
	    "bad:3: alias c: bad address 'bad@@x': more than one '@'\n"
	    "bad:3: alias c: bad address 'also bad': whitespace outside a "
	    "quoted local part\n"
	    "bad:7: alias f: bad address 'g@x h@x': whitespace outside a "
	    "quoted local part",
	    "check: the report");
	r.n = 0;
	buf_reset(&r.text);
	n = alias_check_text(nul, sizeof(nul) - 1, "nul", collect, &r);
	CHECK(n == 2 && r.n == 2 && strcmp(buf_cstr(&r.text),
	    "nul:1: alias a: bad address 'b@@x': more than one '@'\n"
	    "nul:2: NUL character") == 0, "check: NUL line refused with its "
	    "continuation, the entry above it still read");
	n = alias_check_text("", 0, "empty", collect, &r);
	CHECK(n == 0, "check: empty text");
	buf_free(&r.text);
}

int
main(void)
{
	char	 path[128];

	(void)snprintf(dir, sizeof(dir), "%s", "/tmp/test_alias.XXXXXX");
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	test_syntax();
	test_skipped();
	test_errors();
	test_expansion();
	test_limits();
	test_maps();
	test_check_text();
	(void)snprintf(path, sizeof(path), "%s/aliases", dir);
	(void)unlink(path);
	if (rmdir(dir) == -1)
		fprintf(stderr, "rmdir %s: %s\n", dir, strerror(errno));
	return check_done();
}
