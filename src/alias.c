/* SPDX-License-Identifier: ISC */
/*
 * aliases(5) tables (alias_maps), read from the text file itself: every
 * file type Postfix and sendmail compile (hash, btree, lmdb, cdb) is read
 * as its source, so no newaliases step is needed. All maps go into one
 * hash table; a name from an earlier map hides the same name in a later
 * one, as Postfix searches alias_maps in order.
 *
 * Targets are checked with addr_parse_envelope when the file is read, so
 * expansion never meets a malformed address. "|command", "/file" and
 * ":include:/file" targets are reported and dropped: a send-only relay has
 * no local delivery agent to run or write them. A leading backslash
 * ("\user", sendmail's "do not alias again") keeps a name unexpanded.
 *
 * Does not: read compiled .db files, nis:/ldap: or other map types, or
 * qualify names (the caller adds @mydomain). Limits: a file may not
 * exceed ALIAS_FILE_MAX; names are case-folded in ASCII only. Expansion
 * expands each name at most once per call, so a table full of shared
 * sub-lists costs time in proportion to its size, never exponentially.
 */
#include "config.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "alias.h"
#include "buf.h"
#include "err.h"
#include "map.h"
#include "xmalloc.h"

#define ALIAS_FILE_MAX	(64 * 1024 * 1024)	/* bytes in one aliases file */
/* A name in a message; names hold no control characters (checked). */
#define ALIAS_NAME	"alias %.64s"
#define ALIAS_BLANK	" \t"
#define ALIAS_SEPARATORS ", \t\r\n"	/* between items of alias_maps */

struct alias_entry {
	char	 *name;		/* lower case, unquoted */
	char	**targets;	/* parsed addresses; "\name" is not expanded */
	size_t	  ntargets;
	size_t	  map;		/* index of the alias_maps item */
	size_t	  line;
};

struct alias_table {
	struct alias_entry *v;
	size_t		 n;
	size_t		*slots;		/* index + 1 into v; 0 marks empty */
	size_t		 nslots;	/* 0 or a power of two */
	void		(*warn)(void *, const char *);
	void		*ctx;
};

/* Where each physical line of a joined entry starts, for file:line. */
struct alias_segment {
	size_t	 offset;
	size_t	 line;
};

/* One parse of one file's text into a table. */
struct alias_parse {
	struct alias_table	*table;
	size_t			 map;
	const char		*origin;
	void			(*report)(void *, const char *);
	void			*ctx;
	bool			 report_errors;	/* else errors go to err only */
	bool			 stop;		/* the first error ends parsing */
	size_t			 errors;
	struct err		*err;		/* the first error, or NULL */
	struct alias_segment	*segs;
	size_t			 nsegs;
};

/* State of one alias_expand call. */
struct alias_walk {
	const struct alias_table *table;
	const char	*top;
	struct addr_list *out;
	size_t		 base;		/* out->n when the call started */
	size_t		 path[ALIAS_DEPTH_MAX];
	size_t		 depth;
	unsigned char	*seen;		/* bitmap: entries already expanded */
	struct err	*err;
};

static char	 alias_lower(char);
static uint64_t	 alias_hash(const char *);
static size_t	 alias_quoted_end(const char *);
static char	*alias_key(const char *);
static void	 alias_problem(struct alias_parse *, size_t, bool, const char *,
		    ...) __attribute__((format(printf, 4, 5)));
static int	 alias_find(const struct alias_table *, const char *,
		    size_t *);
static void	 alias_insert(struct alias_parse *, char *, struct addr_list *,
		    size_t);
static void	 alias_slot_put(struct alias_table *, size_t);
static char	*alias_find_unquoted(char *, char);
static char	*alias_trim(char *);
static size_t	 alias_line_at(const struct alias_parse *, size_t);
static char	*alias_parse_name(struct alias_parse *, char *, size_t);
static int	 alias_parse_target(struct alias_parse *, const char *, char *,
		    size_t, struct addr_list *);
static void	 alias_parse_entry(struct alias_parse *, char *);
static void	 alias_parse_text(struct alias_parse *, const char *, size_t);
static int	 alias_open_maps(const char *, struct alias_table *, bool,
		    size_t *, struct err *);
static int	 alias_prefix_error(struct err *);
static int	 alias_open_spec(struct alias_table *, const char *, size_t,
		    bool, size_t *, struct err *);
static int	 alias_add_result(struct alias_walk *, const char *);
static int	 alias_walk(struct alias_walk *, size_t);

/* ASCII only: tolower(3) depends on the locale, alias names must not. */
static char
alias_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* FNV-1a. */
static uint64_t
alias_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* s starts with '"': the index after the closing quote, 0 if unclosed. */
static size_t
alias_quoted_end(const char *s)
{
	size_t	 i;

	for (i = 1; s[i] != '\0' && s[i] != '"'; i++)
		if (s[i] == '\\' && s[++i] == '\0')
			return 0;
	return s[i] == '"' ? i + 1 : 0;
}

/*
 * The lookup form of a local name: lower case, and without the quotes
 * of a quoted local part, so "Two Words" and the name "two words": meet.
 */
static char *
alias_key(const char *s)
{
	size_t	 end, i, n = 0;
	char	*k = xmalloc(strlen(s) + 1);

	end = s[0] == '"' ? alias_quoted_end(s) : 0;
	if (end != 0 && s[end] == '\0') {
		for (i = 1; i < end - 1; i++) {
			if (s[i] == '\\')
				i++;
			k[n++] = alias_lower(s[i]);
		}
	} else
		for (i = 0; s[i] != '\0'; i++)
			k[n++] = alias_lower(s[i]);
	k[n] = '\0';
	return k;
}

/* Reports "origin:line: text"; errors are counted, the first one kept. */
static void
alias_problem(struct alias_parse *p, size_t line, bool error,
    const char *fmt, ...)
{
	char	 msg[ERR_TEXT_MAX];
	va_list	 ap;
	int	 n;

	n = snprintf(msg, sizeof(msg), "%s:%zu: ", p->origin, line);
	if (n >= 0 && (size_t)n < sizeof(msg)) {
		va_start(ap, fmt);
		(void)vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
		va_end(ap);
	}
	if (error && p->errors++ == 0 && p->err != NULL)
		err_set(p->err, ERR_CONFIG, "%s", msg);
	if (p->report != NULL && (!error || p->report_errors))
		p->report(p->ctx, msg);
}

/* 1 with *index when the (unnormalised) name has an entry, else 0. */
static int
alias_find(const struct alias_table *t, const char *name, size_t *index)
{
	char	*key;
	size_t	 i, v;
	int	 found = 0;

	if (t->n == 0)
		return 0;
	key = alias_key(name);
	i = alias_hash(key) & (t->nslots - 1);
	for (; (v = t->slots[i]) != 0; i = (i + 1) & (t->nslots - 1)) {
		if (strcmp(t->v[v - 1].name, key) == 0) {
			*index = v - 1;
			found = 1;
			break;
		}
	}
	free(key);
	return found;
}

/*
 * Takes name and the strings of targets. Postalias keeps the first of
 * duplicate names and warns; a name also in an earlier map is hidden by
 * it without a word, that being what listing several maps is for.
 */
static void
alias_insert(struct alias_parse *p, char *name, struct addr_list *targets,
    size_t line)
{
	struct alias_table *t = p->table;
	struct alias_entry *a;
	size_t	 i;

	if (alias_find(t, name, &i) == 1) {
		if (t->v[i].map == p->map)
			alias_problem(p, line, false, ALIAS_NAME ": duplicate "
			    "entry ignored; the first one (line %zu) is used",
			    name, t->v[i].line);
		free(name);
		addr_list_free(targets);
		return;
	}
	t->v = xreallocarray(t->v, t->n + 1, sizeof(*t->v));
	a = &t->v[t->n++];
	a->name = name;
	a->targets = targets->v;
	a->ntargets = targets->n;
	a->map = p->map;
	a->line = line;
	targets->v = NULL;
	targets->n = 0;
	if (t->n * 2 > t->nslots) {	/* keeps the load under one half */
		free(t->slots);
		t->nslots = t->nslots ? t->nslots * 2 : 16;
		t->slots = xcalloc(t->nslots, sizeof(*t->slots));
		for (i = 1; i < t->n; i++)
			alias_slot_put(t, i);
	}
	alias_slot_put(t, t->n);
}

/* Hashes entry v - 1 into its slot (open addressing, linear probing). */
static void
alias_slot_put(struct alias_table *t, size_t v)
{
	size_t	 j = alias_hash(t->v[v - 1].name) & (t->nslots - 1);

	while (t->slots[j] != 0)
		j = (j + 1) & (t->nslots - 1);
	t->slots[j] = v;
}

/* The first c outside a quoted string, or NULL. */
static char *
alias_find_unquoted(char *s, char c)
{
	bool	 quoted = false;

	for (; *s != '\0'; s++) {
		if (quoted && *s == '\\' && s[1] != '\0')
			s++;
		else if (*s == '"')
			quoted = !quoted;
		else if (*s == c && !quoted)
			return s;
	}
	return NULL;
}

static char *
alias_trim(char *s)
{
	size_t	 n;

	s += strspn(s, ALIAS_BLANK);
	n = strlen(s);
	while (n > 0 && strchr(ALIAS_BLANK, s[n - 1]) != NULL)
		s[--n] = '\0';
	return s;
}

static size_t
alias_line_at(const struct alias_parse *p, size_t offset)
{
	size_t	 i = p->nsegs - 1;

	while (i > 0 && p->segs[i].offset > offset)
		i--;
	return p->segs[i].line;
}

/* The lookup form of the name before ':', or NULL (reported). */
static char *
alias_parse_name(struct alias_parse *p, char *raw, size_t line)
{
	char	*name = alias_trim(raw), *s;
	size_t	 end;

	if (*name == '\0') {
		alias_problem(p, line, true, "expected 'name: value, ...'");
		return NULL;
	}
	for (s = name; *s != '\0'; s++) {
		if ((unsigned char)*s < 0x20 || *s == 0x7f) {
			alias_problem(p, line, true, "control character in "
			    "an alias name");
			return NULL;
		}
	}
	end = name[0] == '"' ? alias_quoted_end(name) : 0;
	if (name[0] == '"' ? end == 0 || name[end] != '\0' :
	    strpbrk(name, ALIAS_BLANK "\"") != NULL) {
		alias_problem(p, line, true, ALIAS_NAME ": a name with "
		    "white space or quotes must be quoted whole", name);
		return NULL;
	}
	/* Postfix looks up the local part only; so does our caller. */
	if (name[0] != '"' && strchr(name, '@') != NULL) {
		alias_problem(p, line, false, ALIAS_NAME ": name must be "
		    "local (no '@'); entry ignored", name);
		return NULL;
	}
	return alias_key(name);
}

/* Adds one target to list: 1 added, 0 skipped (reported), -1 error. */
static int
alias_parse_target(struct alias_parse *p, const char *name, char *value,
    size_t line, struct addr_list *list)
{
	struct err e;
	const char *what = NULL;
	char	*unquoted = NULL, *addr, *stored;
	bool	 literal = value[0] == '\\';
	size_t	 end = value[0] == '"' ? alias_quoted_end(value) : 0;

	/* "|cmd arg" and "/file name" are quoted when they hold blanks. */
	if (end != 0 && value[end] == '\0')
		unquoted = xstrndup(value + 1, end - 2);
	addr = unquoted != NULL ? unquoted : value + literal;
	if (addr[0] == '|')
		what = "pipe to a command is";
	else if (strncasecmp(addr, ":include:", 9) == 0)
		what = "an :include: list is";
	else if (addr[0] == '/')
		what = "delivery to a file is";
	free(unquoted);
	if (what != NULL) {
		alias_problem(p, line, false, ALIAS_NAME ": %s not supported "
		    "by a send-only relay, skipped", name, what);
		return 0;
	}
	err_clear(&e);
	if (addr_parse_envelope(value + literal, &addr, &e) == -1) {
		alias_problem(p, line, true, ALIAS_NAME ": %s", name, e.text);
		return -1;
	}
	if (*addr == '\0') {
		alias_problem(p, line, true, ALIAS_NAME ": the null address "
		    "'<>' is not a target", name);
		free(addr);
		return -1;
	}
	if (literal && addr_domain(addr) == NULL) {
		stored = xasprintf("\\%s", addr);
		addr_list_add(list, stored);
		free(stored);
	} else
		addr_list_add(list, addr);
	free(addr);
	return 1;
}

/* "name: target, target" with continuation lines already joined. */
static void
alias_parse_entry(struct alias_parse *p, char *entry)
{
	struct addr_list targets = { NULL, 0 };
	char	*colon, *name, *cursor, *end, *value;
	size_t	 line = p->segs[0].line, items = 0, bad = 0;

	if ((colon = alias_find_unquoted(entry, ':')) == NULL) {
		alias_problem(p, line, true, "expected 'name: value, ...'");
		return;
	}
	*colon = '\0';
	if ((name = alias_parse_name(p, entry, line)) == NULL)
		return;
	for (cursor = colon + 1; cursor != NULL; cursor = end) {
		if ((end = alias_find_unquoted(cursor, ',')) != NULL)
			*end++ = '\0';
		value = alias_trim(cursor);
		if (*value == '\0')
			continue;	/* "a,,b" and a trailing comma */
		items++;
		if (alias_parse_target(p, name, value,
		    alias_line_at(p, (size_t)(value - entry)), &targets) == -1)
			bad++;
	}
	if (items == 0)
		alias_problem(p, line, true, ALIAS_NAME ": no targets after "
		    "':'", name);
	else if (bad == 0 && targets.n == 0)
		alias_problem(p, line, false, ALIAS_NAME ": no target left; "
		    "mail to the name is relayed as if it had no alias", name);
	if (items == 0 || bad > 0 || targets.n == 0) {
		free(name);
		addr_list_free(&targets);
		return;
	}
	alias_insert(p, name, &targets, line);
}

/*
 * aliases(5) lines: a line starting with white space continues the entry
 * above; blank lines and lines whose first non-blank is '#' are skipped
 * (also between continuation lines, as Postfix does).
 */
static void
alias_parse_text(struct alias_parse *p, const char *text, size_t len)
{
	struct buf entry;
	const char *line, *nl;
	size_t	 pos = 0, n, first, lineno = 0, segcap = 0;
	bool	 open = false, orphan = false;

	/* Joining never makes an entry longer than the text it came from. */
	buf_init(&entry, len);
	while (pos < len && !(p->stop && p->errors > 0)) {
		line = text + pos;
		nl = memchr(line, '\n', len - pos);
		n = nl != NULL ? (size_t)(nl - line) : len - pos;
		pos += n + (nl != NULL);
		lineno++;
		if (memchr(line, '\0', n) != NULL) {
			/* Its entry is refused whole, with its continuations. */
			if (open && n > 0 && strchr(ALIAS_BLANK, line[0]) == NULL)
				alias_parse_entry(p, entry.data);
			alias_problem(p, lineno, true, "NUL character");
			open = false;
			orphan = true;
			continue;
		}
		while (n > 0 && strchr(ALIAS_BLANK "\r", line[n - 1]) != NULL)
			n--;	/* also the CR of a CRLF file */
		first = 0;
		while (first < n && strchr(ALIAS_BLANK, line[first]) != NULL)
			first++;
		if (first == n || line[first] == '#')
			continue;
		if (first > 0 && !open) {
			if (!orphan)
				alias_problem(p, lineno, true, "continuation "
				    "line without an entry above it");
			orphan = true;
			continue;
		}
		if (first == 0) {
			if (open)
				alias_parse_entry(p, entry.data);
			buf_reset(&entry);
			p->nsegs = 0;
		}
		if (p->nsegs == segcap) {
			segcap = segcap ? segcap * 2 : 8;
			p->segs = xreallocarray(p->segs, segcap,
			    sizeof(*p->segs));
		}
		p->segs[p->nsegs].offset = entry.len;
		p->segs[p->nsegs++].line = lineno;
		if ((first > 0 && buf_putc(&entry, ' ') == -1) ||
		    buf_append(&entry, line + first, n - first) == -1)
			abort();	/* cannot happen: see buf_init above */
		open = true;
		orphan = false;
	}
	if (open && !(p->stop && p->errors > 0))
		alias_parse_entry(p, entry.data);
	buf_free(&entry);
	free(p->segs);
	p->segs = NULL;
	p->nsegs = 0;
}


/* map_read_file names the file; say which parameter it came from. */
static int
alias_prefix_error(struct err *e)
{
	static const char prefix[] = "alias_maps: ";
	size_t	 plen = sizeof(prefix) - 1;
	size_t	 tlen = strnlen(e->text, sizeof(e->text) - 1);

	if (plen + tlen > sizeof(e->text) - 1)
		tlen = sizeof(e->text) - 1 - plen;
	memmove(e->text + plen, e->text, tlen);
	memcpy(e->text, prefix, plen);
	e->text[plen + tlen] = '\0';
	return -1;
}

/*
 * Reads one map. check (newaliases): every problem is reported and
 * counted in *errors, reading goes on; otherwise the first error stops.
 */
static int
alias_open_spec(struct alias_table *t, const char *spec, size_t map,
    bool check, size_t *errors, struct err *e)
{
	static const char *const file_types[] = {
		"hash", "btree", "lmdb", "cdb", "texthash",
	};
	struct alias_parse p;
	const char *colon = strchr(spec, ':'), *path;
	size_t	 tlen, i, len;
	char	*text;

	if (colon == NULL || colon == spec)
		return err_set(e, ERR_CONFIG, "alias_maps: '%s' has no type; "
		    "write it as 'hash:%s'", spec, spec);
	tlen = (size_t)(colon - spec);
	path = colon + 1;
	for (i = 0; i < sizeof(file_types) / sizeof(file_types[0]); i++)
		if (strlen(file_types[i]) == tlen &&
		    strncmp(spec, file_types[i], tlen) == 0)
			break;
	if (i == sizeof(file_types) / sizeof(file_types[0]))
		return err_set(e, ERR_CONFIG, "alias_maps: type %.*s not "
		    "supported (sendrelay reads aliases(5) text files as "
		    "hash, btree, lmdb, cdb or texthash)",
		    (int)(tlen > 64 ? 64 : tlen), spec);
	if (*path == '\0')
		return err_set(e, ERR_CONFIG, "alias_maps: '%s': missing file "
		    "name", spec);
	if (map_read_file(path, 0, ALIAS_FILE_MAX, &text, &len, e) == -1)
		return alias_prefix_error(e);
	memset(&p, 0, sizeof(p));
	p.table = t;
	p.map = map;
	p.origin = path;
	p.report = t->warn;
	p.ctx = t->ctx;
	p.stop = !check;
	p.report_errors = check;
	p.err = e;
	alias_parse_text(&p, text, len);
	map_free_text(text, len + 1);
	*errors += p.errors;
	return p.errors > 0 && !check ? -1 : 0;
}

static int
alias_open_maps(const char *maps, struct alias_table *t, bool check,
    size_t *errors, struct err *e)
{
	char	*copy = xstrdup(maps), *spec, *save = NULL;
	size_t	 map = 0;
	int	 rc = 0;

	for (spec = strtok_r(copy, ALIAS_SEPARATORS, &save); spec != NULL;
	    spec = strtok_r(NULL, ALIAS_SEPARATORS, &save)) {
		if ((rc = alias_open_spec(t, spec, map++, check, errors,
		    e)) == -1)
			break;
	}
	free(copy);
	return rc;
}

int
alias_check(const char *maps, void (*report)(void *, const char *),
    void *ctx, size_t *errors, struct err *e)
{
	struct alias_table *t = xcalloc(1, sizeof(*t));
	int	 rc;

	*errors = 0;
	t->warn = report;
	t->ctx = ctx;
	rc = alias_open_maps(maps, t, true, errors, e);
	alias_free(t);
	return rc;
}

int
alias_open(const char *maps, struct alias_table **out,
    void (*warn)(void *, const char *), void *ctx, struct err *e)
{
	struct alias_table *t = xcalloc(1, sizeof(*t));
	size_t	 errors = 0;
	int	 rc;

	t->warn = warn;
	t->ctx = ctx;
	rc = alias_open_maps(maps, t, false, &errors, e);
	if (rc == -1) {
		alias_free(t);
		t = NULL;
	}
	*out = t;
	return rc;
}

void
alias_free(struct alias_table *t)
{
	size_t	 i, j;

	if (t == NULL)
		return;
	for (i = 0; i < t->n; i++) {
		for (j = 0; j < t->v[i].ntargets; j++)
			free(t->v[i].targets[j]);
		free(t->v[i].targets);
		free(t->v[i].name);
	}
	free(t->v);
	free(t->slots);
	free(t);
}

/* Appends unless already there (ASCII case folded); -1 past the cap. */
static int
alias_add_result(struct alias_walk *w, const char *addr)
{
	size_t	 i;

	for (i = 0; i < w->out->n; i++)
		if (strcasecmp(w->out->v[i], addr) == 0)
			return 0;
	if (w->out->n - w->base >= ALIAS_RESULTS_MAX) {
		return err_set(w->err, ERR_DATA, ALIAS_NAME " expands to more "
		    "than %d addresses", w->top, ALIAS_RESULTS_MAX);
	}
	addr_list_add(w->out, addr);
	return 0;
}

/*
 * Depth first, in the order written. A name on the current path is kept
 * as written (root: root, admin@x); a name expanded before in this call
 * already has its results in out and is not walked again.
 */
static int
alias_walk(struct alias_walk *w, size_t index)
{
	const struct alias_entry *a = &w->table->v[index];
	const char *target;
	char	 msg[ERR_TEXT_MAX];
	size_t	 i, k, next;
	int	 rc = 0;

	w->path[w->depth++] = index;
	w->seen[index / 8] |= (unsigned char)(1u << (index % 8));
	for (i = 0; rc == 0 && i < a->ntargets; i++) {
		target = a->targets[i];
		if (target[0] == '\\' || addr_domain(target) != NULL ||
		    alias_find(w->table, target, &next) == 0) {
			rc = alias_add_result(w, target + (target[0] == '\\'));
			continue;
		}
		for (k = 0; k < w->depth && w->path[k] != next; k++)
			continue;
		if (k < w->depth)
			rc = alias_add_result(w, target);
		else if (w->seen[next / 8] & (1u << (next % 8)))
			continue;
		else if (w->depth == ALIAS_DEPTH_MAX) {
			if (w->table->warn != NULL) {
				(void)snprintf(msg, sizeof(msg), "alias "
				    "expansion deeper than %d at %.64s; kept as "
				    "is", ALIAS_DEPTH_MAX, target);
				w->table->warn(w->table->ctx, msg);
			}
			rc = alias_add_result(w, target);
		} else
			rc = alias_walk(w, next);
	}
	w->depth--;
	return rc;
}

int
alias_expand(const struct alias_table *t, const char *name,
    struct addr_list *out, struct err *e)
{
	struct alias_walk w;
	size_t	 index;
	int	 rc;

	if (addr_domain(name) != NULL || alias_find(t, name, &index) == 0)
		return 0;
	memset(&w, 0, sizeof(w));
	w.table = t;
	w.top = name;
	w.out = out;
	w.base = out->n;
	w.seen = xcalloc(t->n / 8 + 1, 1);
	w.err = e;
	rc = alias_walk(&w, index);
	free(w.seen);
	if (rc == -1) {
		while (out->n > w.base)
			free(out->v[--out->n]);
		return -1;
	}
	return 1;
}

size_t
alias_check_text(const char *text, size_t len, const char *origin,
    void (*report)(void *, const char *), void *ctx)
{
	struct alias_parse p;
	struct alias_table *t = xcalloc(1, sizeof(*t));

	memset(&p, 0, sizeof(p));
	p.table = t;
	p.origin = origin;
	p.report = report;
	p.ctx = ctx;
	p.report_errors = true;
	alias_parse_text(&p, text, len);
	alias_free(t);
	return p.errors;
}
