/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for map: text syntax, inline/static forms, list search order,
 * file checks (secrets mode, size, missing) on files in a mkdtemp dir.
 * CHECK evaluates its condition twice, so calls are made before it.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "check.h"
#include "err.h"
#include "log.h"
#include "map.h"

/* want: "key=value|..." in the order add() was called; NULL: must fail. */
static const struct {
	const char	*text;
	const char	*want;
	const char	*why;
} parse_cases[] = {
	{ "", "", NULL },
	{ "a b", "a=b", NULL },
	{ "a b\n", "a=b", NULL },
	{ "Key Value With Case\n", "key=Value With Case", NULL },
	{ "a\tb\r\nc  d  \r\n", "a=b|c=d", NULL },
	{ "# comment\n\n   \na b\n  # indented comment\nc d", "a=b|c=d", NULL },
	{ "a first\n  second\n\tthird\nb x", "a=first second third|b=x", NULL },
	{ "a first\n# between\n  second", "a=first second", NULL },
	{ "a first\n\n  second", "a=first second", NULL },
	{ "[smtp.example.com]:587 user:pa ss#word",
	    "[smtp.example.com]:587=user:pa ss#word", NULL },
	{ "a b\na c", "a=b|a=c", NULL },
	{ "ÄÖ value", "ÄÖ=value", NULL },
	{ "key\n", NULL, "origin:1: expected 'key value'" },
	{ "a b\n\nkey   \n", NULL, "origin:3: expected 'key value'" },
	{ "a b\nkey\n  value", "a=b|key=value", NULL },
	{ "  leading b", NULL, "origin:1: continuation line" },
	{ "a b\nc\0d e", NULL, "origin:2: NUL character" },
};

struct collect {
	struct buf	 out;
	size_t		 n;
};

static void	 collect_add(void *, const char *, const char *);
static void	 test_parse(void);
static char	*write_file(const char *, const char *, const char *, mode_t);
static void	 test_files(const char *);
static void	 test_secret(const char *);
static void	 test_secret_text(const char *);
static void	 test_inline_static(void);
static void	 test_list(const char *);
static void	 test_big(const char *);
static char	*read_log(const char *);

static void
collect_add(void *ctx, const char *key, const char *value)
{
	struct collect *c = ctx;

	if (c->n++ > 0)
		(void)buf_putc(&c->out, '|');
	(void)buf_printf(&c->out, "%s=%s", key, value);
}

static void
test_parse(void)
{
	struct collect c;
	struct err e;
	size_t	 i, len;
	int	 rc;

	for (i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
		buf_init(&c.out, 4096);
		c.n = 0;
		err_clear(&e);
		len = strlen(parse_cases[i].text);
		if (i == sizeof(parse_cases) / sizeof(parse_cases[0]) - 1)
			len = 9;	/* the case with the NUL inside */
		rc = map_parse_text(parse_cases[i].text, len, "origin",
		    collect_add, &c, &e);
		if (parse_cases[i].want != NULL) {
			CHECK(rc == 0, "parse %zu (%s)", i, e.text);
			CHECK_STR(buf_cstr(&c.out), parse_cases[i].want,
			    "parse %zu entries", i);
		} else
			CHECK(rc == -1 && e.kind == ERR_CONFIG &&
			    strstr(e.text, parse_cases[i].why) != NULL,
			    "parse %zu refused: %s", i, e.text);
		buf_free(&c.out);
	}
}

static char *
write_file(const char *dir, const char *name, const char *text, mode_t mode)
{
	char	*path;
	FILE	*fp;

	if (asprintf(&path, "%s/%s", dir, name) == -1)
		abort();
	if ((fp = fopen(path, "w")) == NULL)
		abort();
	fputs(text, fp);
	fclose(fp);
	if (chmod(path, mode) == -1)
		abort();
	return path;
}

/* The log file's contents, emptied for the next check. */
static char *
read_log(const char *path)
{
	char	*text = calloc(1, 65536);
	FILE	*fp;

	if ((fp = fopen(path, "r")) != NULL) {
		if (fread(text, 1, 65535, fp) == 0 && ferror(fp))
			abort();
		fclose(fp);
	}
	if (truncate(path, 0) == -1 && errno != ENOENT)
		abort();
	return text;
}

static void
test_files(const char *dir)
{
	static const char *const types[] = {
		"hash", "btree", "lmdb", "cdb", "texthash",
	};
	struct map *m;
	struct err e;
	const char *value = NULL;
	char	*path, *spec, *log, *logtext;
	size_t	 i;
	int	 rc;

	path = write_file(dir, "table", "# sasl\n"
	    "[smtp.example.com]:587  Alice:Secret\n"
	    "Example.ORG  bob:pw\n"
	    "example.org  second:ignored\n"
	    "multi first\n  Second\n", 0644);
	if (asprintf(&log, "%s/log", dir) == -1)
		abort();
	log_set_file(log);
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		if (asprintf(&spec, "%s:%s", types[i], path) == -1)
			abort();
		m = map_open(spec, 0, &e);
		CHECK(m != NULL, "%s opens (%s)", spec, e.text);
		rc = m != NULL ? map_lookup(m, "[SMTP.example.com]:587",
		    &value) : -1;
		CHECK(rc == 1, "%s: key found case-insensitively", types[i]);
		CHECK_STR(rc == 1 ? value : NULL, "Alice:Secret",
		    "%s: value keeps case", types[i]);
		rc = m != NULL ? map_lookup(m, "example.org", &value) : -1;
		CHECK_STR(rc == 1 ? value : NULL, "bob:pw",
		    "%s: first duplicate wins", types[i]);
		rc = m != NULL ? map_lookup(m, "multi", &value) : -1;
		CHECK_STR(rc == 1 ? value : NULL, "first Second",
		    "%s: continuation joined", types[i]);
		rc = m != NULL ? map_lookup(m, "absent.example", &value) : -1;
		CHECK(rc == 0, "%s: absent key not found", types[i]);
		map_free(m);
		free(spec);
	}
	logtext = read_log(log);
	CHECK(strstr(logtext, "/table:4: duplicate entry for 'example.org'")
	    != NULL, "duplicate warned with file:line: %.120s", logtext);
	CHECK(strstr(logtext, "readable by others") == NULL,
	    "no secrets warning without MAP_SECRET");
	free(logtext);

	/* A .db beside the text is ignored. */
	free(write_file(dir, "table.db", "not a database\n", 0644));
	if (asprintf(&spec, "hash:%s", path) == -1)
		abort();
	m = map_open(spec, 0, &e);
	rc = m != NULL ? map_lookup(m, "multi", &value) : -1;
	CHECK(rc == 1, "hash: reads the text, not the .db");
	map_free(m);
	free(spec);

	if (asprintf(&spec, "hash:%s/missing", dir) == -1)
		abort();
	m = map_open(spec, 0, &e);
	CHECK(m == NULL && e.kind == ERR_CONFIG && strstr(e.text,
	    "/missing: cannot open: No such file or directory") != NULL,
	    "missing file: %s", e.text);
	free(spec);

	if (asprintf(&spec, "hash:%s", dir) == -1)
		abort();
	m = map_open(spec, 0, &e);
	CHECK(m == NULL && e.kind == ERR_CONFIG && strstr(e.text,
	    "not a regular file") != NULL, "directory refused: %s", e.text);
	free(spec);

	free(path);
	path = write_file(dir, "bad", "good value\nlonely\n", 0600);
	if (asprintf(&spec, "texthash:%s", path) == -1)
		abort();
	m = map_open(spec, 0, &e);
	CHECK(m == NULL && e.kind == ERR_CONFIG && strstr(e.text,
	    "/bad:2: expected 'key value'") != NULL, "syntax error: %s",
	    e.text);
	free(spec);
	free(path);

	m = map_open("mysql:/etc/x.cf", 0, &e);
	CHECK(m == NULL && e.kind == ERR_CONFIG, "mysql refused");
	CHECK_STR(e.text, "unsupported map type 'mysql' in 'mysql:/etc/x.cf' "
	    "(sendrelay reads text tables: hash, btree, lmdb, cdb, texthash, "
	    "inline, static)", "unsupported type message");
	m = map_open("/etc/postfix/sasl_passwd", 0, &e);
	CHECK(m == NULL && e.kind == ERR_CONFIG &&
	    strstr(e.text, "needs a type") != NULL, "no type: %s", e.text);
	m = map_open("hash:", 0, &e);
	CHECK(m == NULL && e.kind == ERR_CONFIG &&
	    strstr(e.text, "missing file name") != NULL, "no file: %s", e.text);
	log_set_file(NULL);
	free(log);
}

/*
 * A secrets map written in place (inline:, static:, or a password typed
 * where a table belongs) is the secret: no error or warning shows it.
 */
static void
test_secret_text(const char *dir)
{
	static const char *const specs[] = {
		"inline:{[smtp.x]:587=alice:Pw-leak-1, bad}",
		"inline:{[smtp.x]:587=alice:Pw-leak-1, [smtp.x]:587=b:c}",
		"inline:{[smtp.x]:587=alice:Pw-leak-1",
		"static:{alice:Pw-leak-1",
		"alice:Pw-leak-1",
		"Pw-leak-1",
	};
	struct map_list	*l;
	struct err	 e;
	char		*log, *logtext;
	size_t		 i;

	if (asprintf(&log, "%s/log", dir) == -1)
		abort();
	log_set_file(log);
	for (i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
		err_clear(&e);
		l = map_list_open(specs[i], MAP_SECRET, &e);
		logtext = read_log(log);
		CHECK(strstr(e.text, "Pw-leak-1") == NULL &&
		    strstr(logtext, "Pw-leak-1") == NULL,
		    "secrets map %zu: neither error nor warning shows the "
		    "password (%s)", i, e.text);
		CHECK(i == 1 ? l != NULL && e.kind == ERR_OK : l == NULL &&
		    e.kind == ERR_CONFIG, "secrets map %zu: %s", i,
		    i == 1 ? "opens (duplicate warned)" : "refused");
		map_list_free(l);
		free(logtext);
	}
	log_set_file(NULL);
	free(log);
}

static void
test_secret(const char *dir)
{
	static const struct {
		mode_t		 mode;
		int		 opens;
		const char	*warning;	/* NULL: none expected */
		const char	*mode_text;
	} cases[] = {
		{ 0600, 1, NULL, "0600" },
		{ 0640, 1, NULL, "0640" },
		{ 0660, 1, NULL, "0660" },
		{ 0644, 1, "secrets map is readable by others (mode 0644); "
		    "run: chmod o-rwx ", "0644" },
		{ 0604, 1, "secrets map is readable by others (mode 0604)",
		    "0604" },
		{ 0666, 0, NULL, "0666" },
		{ 0602, 0, NULL, "0602" },
	};
	struct map *m;
	struct err e;
	const char *value;
	char	*path, *spec, *log, *logtext, *want;
	size_t	 i;
	int	 rc;

	if (asprintf(&log, "%s/log", dir) == -1)
		abort();
	log_set_file(log);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		path = write_file(dir, "secret", "relay user:pw\n",
		    cases[i].mode);
		if (asprintf(&spec, "hash:%s", path) == -1)
			abort();
		err_clear(&e);
		m = map_open(spec, MAP_SECRET, &e);
		logtext = read_log(log);
		if (cases[i].opens) {
			rc = m != NULL ? map_lookup(m, "relay", &value) : -1;
			CHECK(rc == 1, "secret mode %s opens (%s)",
			    cases[i].mode_text, e.text);
		} else {
			if (asprintf(&want, "%s: refusing to read secrets from "
			    "a file writable by others (mode %s); run: chmod "
			    "o-rwx %s", path, cases[i].mode_text, path) == -1)
				abort();
			CHECK(m == NULL && e.kind == ERR_NOPERM,
			    "secret mode %s refused", cases[i].mode_text);
			CHECK_STR(e.text, want, "secret mode %s message",
			    cases[i].mode_text);
			free(want);
		}
		if (cases[i].warning != NULL)
			CHECK(strstr(logtext, cases[i].warning) != NULL,
			    "secret mode %s warns: %.100s", cases[i].mode_text,
			    logtext);
		else
			CHECK(strstr(logtext, "others") == NULL,
			    "secret mode %s: no warning", cases[i].mode_text);
		free(logtext);
		map_free(m);
		free(spec);
		free(path);
	}
	/* Without MAP_SECRET the mode is none of our business. */
	path = write_file(dir, "public", "a b\n", 0666);
	if (asprintf(&spec, "hash:%s", path) == -1)
		abort();
	m = map_open(spec, 0, &e);
	CHECK(m != NULL, "non-secret 0666 map opens");
	map_free(m);
	free(spec);
	free(path);
	log_set_file(NULL);
	free(log);
}

static void
test_inline_static(void)
{
	static const struct {
		const char	*spec;
		const char	*key;
		const char	*want;	/* NULL: not found */
	} cases[] = {
		{ "inline:{k=v, k2=v2}", "k", "v" },
		{ "inline:{k=v, k2=v2}", "K2", "v2" },
		{ "inline:{k=v, k2=v2}", "k3", NULL },
		{ "inline:{ key=value, { key2 = text with, comma } }", "key2",
		    "text with, comma" },
		{ "inline:{ key=value, { key2 = text with, comma } }", "key",
		    "value" },
		{ "inline:{Host.Example=User:Pass}", "host.example",
		    "User:Pass" },
		{ "inline:{a=1,a=2}", "a", "1" },
		{ "inline:{a=}", "a", "" },
		{ "inline:{}", "a", NULL },
		{ "static:relay.example", "anything", "relay.example" },
		{ "static:{ text with spaces }", "x", "text with spaces" },
		{ "static:", "x", "" },
	};
	static const struct {
		const char	*spec;
		const char	*why;
	} bad[] = {
		{ "inline:k=v", "expected 'inline:{key=value, ...}'" },
		{ "inline:{k}", "expected key=value" },
		{ "inline:{=v}", "expected key=value" },
		{ "inline:{{ = v }}", "expected key=value" },
		{ "inline:{k=v", "expected 'inline:{" },
		{ "inline:{{k=v}", "unbalanced braces" },
		{ "inline:{k=v}}", "unbalanced braces" },
		{ "static:{ x", "unbalanced braces" },
	};
	struct map *m;
	struct err e;
	const char *value;
	size_t	 i;
	int	 rc;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		value = NULL;
		m = map_open(cases[i].spec, 0, &e);
		rc = m != NULL ? map_lookup(m, cases[i].key, &value) : -1;
		CHECK(rc == (cases[i].want != NULL ? 1 : 0),
		    "%s: lookup '%s' (%s)", cases[i].spec, cases[i].key,
		    m == NULL ? e.text : "");
		CHECK_STR(rc == 1 ? value : NULL, cases[i].want,
		    "%s: value of '%s'", cases[i].spec, cases[i].key);
		map_free(m);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		m = map_open(bad[i].spec, 0, &e);
		CHECK(m == NULL && e.kind == ERR_CONFIG &&
		    strstr(e.text, bad[i].why) != NULL, "%s refused: %s",
		    bad[i].spec, e.text);
		map_free(m);
	}
}

static void
test_list(const char *dir)
{
	static const struct {
		const char	*key;
		const char	*want;
	} cases[] = {
		{ "a", "from-inline" },
		{ "b", "from-file" },
		{ "c", "from-inline" },
		{ "d", "from-second-inline" },
		{ "zzz", "fallback value" },
	};
	struct map_list *l;
	struct err e;
	const char *value;
	char	*path, *specs;
	size_t	 i;
	int	 rc;

	path = write_file(dir, "list", "a from-file\nb from-file\n", 0600);
	if (asprintf(&specs, " inline:{a=from-inline, { c = from-inline }},"
	    "hash:%s\tinline:{c=x,d=from-second-inline} , static:{ fallback "
	    "value }", path) == -1)
		abort();
	l = map_list_open(specs, MAP_SECRET, &e);
	CHECK(l != NULL, "list opens (%s)", e.text);
	for (i = 0; l != NULL && i < sizeof(cases) / sizeof(cases[0]); i++) {
		value = NULL;
		rc = map_list_lookup(l, cases[i].key, &value);
		CHECK(rc == 1, "list lookup '%s'", cases[i].key);
		CHECK_STR(value, cases[i].want, "list order for '%s'",
		    cases[i].key);
	}
	map_list_free(l);
	free(specs);

	l = map_list_open("", 0, &e);
	rc = l != NULL ? map_list_lookup(l, "a", &value) : -1;
	CHECK(rc == 0, "empty list finds nothing");
	map_list_free(l);

	if (asprintf(&specs, "hash:%s, mysql:/x", path) == -1)
		abort();
	l = map_list_open(specs, 0, &e);
	CHECK(l == NULL && e.kind == ERR_CONFIG && strstr(e.text,
	    "unsupported map type 'mysql'") != NULL, "bad list member: %s",
	    e.text);
	free(specs);
	l = map_list_open("inline:{a=b", 0, &e);
	CHECK(l == NULL && e.kind == ERR_CONFIG && strstr(e.text,
	    "unbalanced braces") != NULL, "unbalanced list: %s", e.text);
	free(path);
}

/* Many keys: all found; and the size limit. */
static void
test_big(const char *dir)
{
	struct buf text;
	struct map *m;
	struct err e;
	const char *value;
	char	*path, *spec, key[32], want[32];
	size_t	 i, missing = 0;
	int	 fd, rc;

	buf_init(&text, 1 << 20);
	for (i = 0; i < 20000; i++)
		(void)buf_printf(&text, "Key%zu value%zu\n", i, i);
	path = write_file(dir, "big", buf_cstr(&text), 0600);
	buf_free(&text);
	if (asprintf(&spec, "hash:%s", path) == -1)
		abort();
	m = map_open(spec, 0, &e);
	CHECK(m != NULL, "big map opens (%s)", e.text);
	for (i = 0; m != NULL && i < 20000; i++) {
		snprintf(key, sizeof(key), "KEY%zu", i);
		snprintf(want, sizeof(want), "value%zu", i);
		if (map_lookup(m, key, &value) != 1 || strcmp(value, want) != 0)
			missing++;
	}
	rc = m != NULL ? map_lookup(m, "key20000", &value) : -1;
	CHECK(missing == 0 && rc == 0, "big map: all 20000 keys found, "
	    "no extra");
	map_free(m);
	free(spec);

	fd = open(path, O_WRONLY);
	if (fd == -1 || ftruncate(fd, 16 * 1024 * 1024 + 1) == -1)
		abort();
	close(fd);
	if (asprintf(&spec, "hash:%s", path) == -1)
		abort();
	m = map_open(spec, 0, &e);
	CHECK(m == NULL && e.kind == ERR_CONFIG &&
	    strstr(e.text, "larger than 16 MiB") != NULL, "size limit: %s",
	    e.text);
	free(spec);
	free(path);
}

int
main(void)
{
	char	 dir[] = "/tmp/test_map.XXXXXX";
	char	*cmd;

	if (mkdtemp(dir) == NULL)
		return 1;
	test_parse();
	test_files(dir);
	test_secret(dir);
	test_secret_text(dir);
	test_inline_static();
	test_list(dir);
	test_big(dir);
	if (asprintf(&cmd, "rm -rf '%s'", dir) != -1) {
		if (system(cmd) != 0)
			printf("# could not remove %s\n", dir);
		free(cmd);
	}
	return check_done();
}
