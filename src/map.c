/* SPDX-License-Identifier: ISC */
/*
 * Lookup tables in Postfix text syntax, read directly from the source file
 * (hash:, btree:, lmdb:, cdb:, texthash:) or from the spec itself (inline:,
 * static:). Each table is loaded whole into an open-addressing hash table,
 * so a lookup costs O(1) whatever the table size.
 *
 * Does not: read compiled .db/.lmdb/.cdb files (no postmap step is needed,
 * and a stale .db beside the text is ignored), talk to databases (mysql:,
 * ldap: ...), or support regexp:/pcre: tables; those are refused by name.
 * Limits: a file is read whole and may not exceed MAP_FILE_MAX; keys are
 * case-folded in ASCII only (Postfix folds UTF-8 only with smtputf8_enable).
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "err.h"
#include "log.h"
#include "map.h"
#include "xmalloc.h"

#define MAP_FILE_MAX	(16 * 1024 * 1024)	/* bytes in one table file */
#define MAP_SEPARATORS	", \t\r\n"		/* between items of a list */
#define MAP_WHITESPACE	" \t"
#define MAP_SPACE	" \t\r\n"		/* trimmed around inline items */

struct map_entry {
	char	*key;		/* lower case; NULL marks an empty slot */
	char	*value;		/* same allocation as key, after its NUL */
};

struct map {
	char			*spec;
	unsigned		 flags;
	char			*static_value;	/* static: answers every key */
	struct map_entry	*slots;
	size_t			 nslots;	/* 0 or a power of two */
	size_t			 count;
};

struct map_list {
	struct map	**v;
	size_t		  n;
};

/* Where map_open's parser callback puts entries, and what it names. */
struct map_load {
	struct map	*map;
	const char	*origin;
};

/* Adapts map_parse_text's public callback to the line-aware one. */
struct map_plain_add {
	void	(*add)(void *, const char *, const char *);
	void	 *ctx;
};

static char	 map_lower(char);
static uint64_t	 map_hash(const char *);
static bool	 map_key_equal(const char *stored, const char *key);
static void	 map_grow(struct map *);
static int	 map_insert(struct map *, const char *key, const char *value);
static int	 map_parse_lines(const char *, size_t, const char *,
		    void (*)(void *, const char *, const char *, size_t),
		    void *, struct err *);
static int	 map_emit(struct buf *, const char *, size_t,
		    void (*)(void *, const char *, const char *, size_t),
		    void *, struct err *);
static void	 map_add_plain(void *, const char *, const char *, size_t);
static void	 map_add_loaded(void *, const char *, const char *, size_t);
static int	 map_check_secret(const char *, const struct stat *,
		    struct err *);
static int	 map_load_file(struct map *, const char *, struct err *);
static int	 map_load_inline(struct map *, const char *, struct err *);
static int	 map_load_static(struct map *, const char *, struct err *);
static int	 map_next_item(const char **, const char **, size_t *);
static char	*map_trim(char *);
static char	*map_unbrace(char *);

/* ASCII only: tolower(3) depends on the locale, table keys must not. */
static char
map_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* FNV-1a over the case-folded key. */
static uint64_t
map_hash(const char *key)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *key != '\0'; key++) {
		h ^= (unsigned char)map_lower(*key);
		h *= 0x100000001b3ULL;
	}
	return h;
}

static bool
map_key_equal(const char *stored, const char *key)
{
	for (; *stored != '\0' && *key != '\0'; stored++, key++)
		if (*stored != map_lower(*key))
			return false;
	return *stored == *key;
}

/* Doubles the slot array (keeping the load under one half). */
static void
map_grow(struct map *m)
{
	struct map_entry *old = m->slots;
	size_t	 oldn = m->nslots, i, j;

	m->nslots = oldn ? oldn * 2 : 16;
	m->slots = xcalloc(m->nslots, sizeof(*m->slots));
	for (i = 0; i < oldn; i++) {
		if (old[i].key == NULL)
			continue;
		j = map_hash(old[i].key) & (m->nslots - 1);
		while (m->slots[j].key != NULL)
			j = (j + 1) & (m->nslots - 1);
		m->slots[j] = old[i];
	}
	free(old);
}

/* 0 added, 1 when the key is already there (the first entry is kept). */
static int
map_insert(struct map *m, const char *key, const char *value)
{
	size_t	 i, k, klen = strlen(key), vlen = strlen(value);
	char	*p;

	if ((m->count + 1) * 2 > m->nslots)
		map_grow(m);
	i = map_hash(key) & (m->nslots - 1);
	for (; m->slots[i].key != NULL; i = (i + 1) & (m->nslots - 1))
		if (map_key_equal(m->slots[i].key, key))
			return 1;
	p = xmalloc(klen + vlen + 2);
	for (k = 0; k < klen; k++)
		p[k] = map_lower(key[k]);
	p[klen] = '\0';
	memcpy(p + klen + 1, value, vlen + 1);
	m->slots[i].key = p;
	m->slots[i].value = p + klen + 1;
	m->count++;
	return 0;
}

/* Tables may hold passwords; wiping every copy costs next to nothing. */
void
map_free_text(char *p, size_t len)
{
	xwipe(p, len);
	free(p);
}

int
map_parse_text(const char *text, size_t len, const char *origin,
    void (*add)(void *, const char *, const char *), void *ctx,
    struct err *e)
{
	struct map_plain_add plain = { add, ctx };

	return map_parse_lines(text, len, origin, map_add_plain, &plain, e);
}

static void
map_add_plain(void *ctx, const char *key, const char *value, size_t line)
{
	struct map_plain_add *plain = ctx;

	(void)line;
	plain->add(plain->ctx, key, value);
}

/*
 * postmap(1) syntax: "key whitespace value"; a line starting with
 * whitespace continues the entry above; lines whose first non-blank is '#'
 * and blank lines are skipped (also between continuation lines, as
 * Postfix >= 2.9 does). Continuations are joined with one space.
 */
static int
map_parse_lines(const char *text, size_t len, const char *origin,
    void (*add)(void *, const char *, const char *, size_t), void *ctx,
    struct err *e)
{
	struct buf entry;
	const char *line, *nl;
	size_t	 pos = 0, n, first, lineno = 0, entry_line = 0;
	int	 rc = 0;

	/*
	 * No entry is longer than the text. Sizing the buffer once means it
	 * is never reallocated, so no unwiped copy of a secret is left behind.
	 */
	buf_init(&entry, len);
	(void)buf_append(&entry, text, len);
	buf_reset(&entry);
	while (rc == 0 && pos < len) {
		line = text + pos;
		nl = memchr(line, '\n', len - pos);
		n = nl != NULL ? (size_t)(nl - line) : len - pos;
		pos += n + (nl != NULL);
		lineno++;
		if (memchr(line, '\0', n) != NULL) {
			rc = err_set(e, ERR_CONFIG, "%s:%zu: NUL character",
			    origin, lineno);
			break;
		}
		while (n > 0 && strchr(MAP_WHITESPACE "\r", line[n - 1]) != NULL)
			n--;	/* also the CR of a CRLF file */
		first = 0;
		while (first < n && strchr(MAP_WHITESPACE, line[first]) != NULL)
			first++;
		if (first == n || line[first] == '#')
			continue;
		if (first > 0) {
			if (entry_line == 0)
				rc = err_set(e, ERR_CONFIG, "%s:%zu: continuation "
				    "line without an entry above it", origin,
				    lineno);
			else if (buf_putc(&entry, ' ') == -1 ||
			    buf_append(&entry, line + first, n - first) == -1)
				rc = err_set(e, ERR_SOFTWARE, "%s:%zu: entry "
				    "does not fit", origin, lineno);
			continue;
		}
		if (entry_line != 0)
			rc = map_emit(&entry, origin, entry_line, add, ctx, e);
		buf_reset(&entry);
		if (rc == 0 && buf_append(&entry, line, n) == -1)
			rc = err_set(e, ERR_SOFTWARE, "%s:%zu: entry does not "
			    "fit", origin, lineno);
		entry_line = lineno;
	}
	if (rc == 0 && entry_line != 0)
		rc = map_emit(&entry, origin, entry_line, add, ctx, e);
	buf_wipe(&entry);
	return rc;
}

/* Splits one logical line into key and value (the key is lower-cased). */
static int
map_emit(struct buf *entry, const char *origin, size_t line,
    void (*add)(void *, const char *, const char *, size_t), void *ctx,
    struct err *e)
{
	char	*key = entry->data, *value;
	size_t	 i, klen;

	klen = strcspn(key, MAP_WHITESPACE);
	value = key + klen;
	value += strspn(value, MAP_WHITESPACE);
	if (*value == '\0')
		return err_set(e, ERR_CONFIG, "%s:%zu: expected 'key value'",
		    origin, line);
	key[klen] = '\0';
	for (i = 0; i < klen; i++)
		key[i] = map_lower(key[i]);
	add(ctx, key, value, line);
	return 0;
}

/* postmap keeps the first of duplicate keys and warns; so do we. */
static void
map_add_loaded(void *ctx, const char *key, const char *value, size_t line)
{
	struct map_load *load = ctx;

	if (map_insert(load->map, key, value) == 1)
		log_warn("%s:%zu: duplicate entry for '%s' ignored; the first "
		    "one is used", load->origin, line, key);
}

/*
 * A secrets file writable by others lets anyone redirect our credentials
 * (refused); readable by others leaks them (warned, as Postfix does not
 * check at all and existing setups must keep working).
 */
static int
map_check_secret(const char *path, const struct stat *st, struct err *e)
{
	unsigned mode = (unsigned)st->st_mode & 07777;

	if (st->st_mode & S_IWOTH)
		return err_set(e, ERR_NOPERM, "%s: refusing to read secrets "
		    "from a file writable by others (mode %04o); run: chmod "
		    "o-rwx %s", path, mode, path);
	if (st->st_mode & S_IROTH)
		log_warn("%s: secrets map is readable by others (mode %04o); "
		    "run: chmod o-rwx %s", path, mode, path);
	return 0;
}

int
map_read_file(const char *path, unsigned flags, size_t max, char **text,
    size_t *len, struct err *e)
{
	struct stat st;
	size_t	 cap, n = 0;
	ssize_t	 r;
	char	 probe;
	int	 fd, rc = 0;

	*text = NULL;
	*len = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1)
		return err_set(e, errno == EACCES && (flags & MAP_SECRET) ?
		    ERR_NOPERM : ERR_CONFIG, "%s: cannot open: %s", path,
		    strerror(errno));
	if (fstat(fd, &st) == -1)
		rc = err_set(e, ERR_CONFIG, "%s: cannot stat: %s", path,
		    strerror(errno));
	else if (!S_ISREG(st.st_mode))
		rc = err_set(e, ERR_CONFIG, "%s: not a regular file", path);
	else if ((flags & MAP_SECRET) && map_check_secret(path, &st, e) == -1)
		rc = -1;
	else if ((uintmax_t)st.st_size > max)
		rc = err_set(e, ERR_CONFIG, "%s: larger than %zu MiB", path,
		    max / (1024 * 1024));
	if (rc == -1) {
		(void)close(fd);
		return -1;
	}
	/* Sized once from fstat: realloc would leave copies of secrets. */
	cap = (size_t)st.st_size;
	*text = xmalloc(cap + 1);
	while (n < cap && (r = read(fd, *text + n, cap - n)) != 0) {
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			rc = err_set(e, ERR_CONFIG, "%s: read error: %s", path,
			    strerror(errno));
			break;
		}
		n += (size_t)r;
	}
	if (rc == 0 && n == cap && read(fd, &probe, 1) > 0)
		rc = err_set(e, ERR_CONFIG, "%s: changed while being read",
		    path);
	(void)close(fd);
	(*text)[n] = '\0';
	*len = n;
	if (rc == -1) {
		map_free_text(*text, cap + 1);
		*text = NULL;
	}
	return rc;
}

static int
map_load_file(struct map *m, const char *path, struct err *e)
{
	struct map_load load = { m, path };
	char	*text;
	size_t	 len;
	int	 rc;

	if (*path == '\0')
		return err_set(e, ERR_CONFIG, "'%s': missing file name",
		    m->spec);
	if (map_read_file(path, m->flags, MAP_FILE_MAX, &text, &len, e) == -1)
		return -1;
	rc = map_parse_lines(text, len, path, map_add_loaded, &load, e);
	map_free_text(text, len + 1);
	return rc;
}

/*
 * The next item of a list separated by commas and/or whitespace, where
 * {...} (nested) keeps separators inside one item, as Postfix's
 * mystrtokq() does. Returns 1 with the item, 0 at the end, -1 when the
 * braces do not balance.
 */
static int
map_next_item(const char **cursor, const char **start, size_t *len)
{
	const char *p = *cursor + strspn(*cursor, MAP_SEPARATORS);
	size_t	 depth = 0;

	*start = p;
	if (*p == '\0')
		return 0;
	for (; *p != '\0'; p++) {
		if (*p == '{')
			depth++;
		else if (*p == '}') {
			if (depth == 0)
				return -1;
			depth--;
		} else if (depth == 0 && strchr(MAP_SEPARATORS, *p) != NULL)
			break;
	}
	if (depth != 0)
		return -1;
	*len = (size_t)(p - *start);
	*cursor = p;
	return 1;
}

/* Strips leading and trailing whitespace in place. */
static char *
map_trim(char *s)
{
	size_t	 n;

	s += strspn(s, MAP_SPACE);
	n = strlen(s);
	while (n > 0 && strchr(MAP_SPACE, s[n - 1]) != NULL)
		s[--n] = '\0';
	return s;
}

/* "{ text }" -> "text"; NULL when s is not wrapped in braces. */
static char *
map_unbrace(char *s)
{
	size_t	 n = strlen(s);

	if (n < 2 || s[0] != '{' || s[n - 1] != '}')
		return NULL;
	s[n - 1] = '\0';
	return map_trim(s + 1);
}

/*
 * inline:{ key=value, { key = text with, commas } } (Postfix 3.0). A
 * braced entry may hold separators; whitespace around '=' is dropped there.
 */
static int
map_load_inline(struct map *m, const char *name, struct err *e)
{
	char	*copy = xstrdup(name), *body, *item, *eq, *key, *value;
	const char *cursor, *start;
	size_t	 len, copylen = strlen(name);
	int	 more, rc = 0;

	if ((body = map_unbrace(copy)) == NULL) {
		map_free_text(copy, copylen);
		return err_set(e, ERR_CONFIG, "'%s': expected "
		    "'inline:{key=value, ...}'", m->spec);
	}
	cursor = body;
	while (rc == 0 && (more = map_next_item(&cursor, &start, &len)) != 0) {
		if (more == -1) {
			rc = err_set(e, ERR_CONFIG, "'%s': unbalanced braces",
			    m->spec);
			break;
		}
		item = xstrndup(start, len);
		key = item[0] == '{' ? map_unbrace(item) : item;
		if (key == NULL || (eq = strchr(key, '=')) == NULL ||
		    eq == key) {
			rc = err_set(e, ERR_CONFIG, "'%s': expected key=value "
			    "in inline map", m->spec);
		} else {
			/* not empty: eq != key, and braced items come trimmed */
			*eq = '\0';
			value = map_trim(eq + 1);
			key = map_trim(key);
			if (map_insert(m, key, value) == 1)
				log_warn("'%s': duplicate entry for '%s' "
				    "ignored; the first one is used", m->spec,
				    key);
		}
		map_free_text(item, len);
	}
	map_free_text(copy, copylen);
	return rc;
}

/* static:value or static:{ text with spaces }: every key finds it. */
static int
map_load_static(struct map *m, const char *name, struct err *e)
{
	char	*copy = xstrdup(name), *value;

	if (name[0] == '{') {
		if ((value = map_unbrace(copy)) == NULL) {
			map_free_text(copy, strlen(name));
			return err_set(e, ERR_CONFIG, "'%s': unbalanced braces",
			    m->spec);
		}
		m->static_value = xstrdup(value);
		map_free_text(copy, strlen(name));
		return 0;
	}
	m->static_value = copy;
	return 0;
}

struct map *
map_open(const char *spec, unsigned flags, struct err *e)
{
	static const char *const file_types[] = {
		"hash", "btree", "lmdb", "cdb", "texthash",
	};
	const char *colon = strchr(spec, ':'), *name;
	struct map *m;
	size_t	 tlen, i;
	int	 rc = -1;

	tlen = colon != NULL ? (size_t)(colon - spec) : 0;
	for (i = 0; i < sizeof(file_types) / sizeof(file_types[0]); i++)
		if (strlen(file_types[i]) == tlen &&
		    strncmp(spec, file_types[i], tlen) == 0)
			break;
	m = xcalloc(1, sizeof(*m));
	m->flags = flags;
	/*
	 * Every message names the table by m->spec. Only a file table's
	 * spec is a path; any other spec of a secrets map may be the
	 * secrets themselves (inline:{host=user:password}, a mistyped
	 * "user:password"), so messages never show it.
	 */
	m->spec = !(flags & MAP_SECRET) ||
	    i < sizeof(file_types) / sizeof(file_types[0]) ? xstrdup(spec) :
	    xasprintf("%.*s:(contents not shown: secrets)",
	    (int)(tlen > 64 ? 64 : tlen), spec);
	if (colon == NULL || colon == spec) {
		err_set(e, ERR_CONFIG, "'%s': a lookup table needs a type, as "
		    "in 'hash:%s'", m->spec, !(flags & MAP_SECRET) ? spec :
		    "/path/to/file");
		map_free(m);
		return NULL;
	}
	name = colon + 1;
	if (i < sizeof(file_types) / sizeof(file_types[0]))
		rc = map_load_file(m, name, e);
	else if (tlen == 6 && strncmp(spec, "inline", tlen) == 0)
		rc = map_load_inline(m, name, e);
	else if (tlen == 6 && strncmp(spec, "static", tlen) == 0)
		rc = map_load_static(m, name, e);
	else
		err_set(e, ERR_CONFIG, "unsupported map type '%.*s' in '%s' "
		    "(sendrelay reads text tables: hash, btree, lmdb, cdb, "
		    "texthash, inline, static)", (int)(tlen > 64 ? 64 : tlen),
		    spec, m->spec);
	if (rc == -1) {
		map_free(m);
		return NULL;
	}
	return m;
}

int
map_lookup(const struct map *m, const char *key, const char **value)
{
	size_t	 i;

	if (m->static_value != NULL) {
		*value = m->static_value;
		return 1;
	}
	if (m->count == 0)
		return 0;
	i = map_hash(key) & (m->nslots - 1);
	for (; m->slots[i].key != NULL; i = (i + 1) & (m->nslots - 1)) {
		if (map_key_equal(m->slots[i].key, key)) {
			*value = m->slots[i].value;
			return 1;
		}
	}
	return 0;
}

void
map_free(struct map *m)
{
	size_t	 i, klen;

	if (m == NULL)
		return;
	for (i = 0; i < m->nslots; i++) {
		if (m->slots[i].key == NULL)
			continue;
		klen = strlen(m->slots[i].key);
		map_free_text(m->slots[i].key,
		    klen + 1 + strlen(m->slots[i].value) + 1);
	}
	free(m->slots);
	if (m->static_value != NULL)
		map_free_text(m->static_value, strlen(m->static_value));
	free(m->spec);
	free(m);
}

struct map_list *
map_list_open(const char *specs, unsigned flags, struct err *e)
{
	struct map_list *l = xcalloc(1, sizeof(*l));
	struct map *m;
	const char *cursor = specs, *start;
	char	*spec;
	size_t	 len;
	int	 more;

	while ((more = map_next_item(&cursor, &start, &len)) != 0) {
		if (more == -1) {
			if (flags & MAP_SECRET)
				err_set(e, ERR_CONFIG, "unbalanced braces in a "
				    "list of secrets maps (contents not shown)");
			else
				err_set(e, ERR_CONFIG, "'%s': unbalanced braces",
				    specs);
			map_list_free(l);
			return NULL;
		}
		spec = xstrndup(start, len);
		m = map_open(spec, flags, e);
		map_free_text(spec, len);
		if (m == NULL) {
			map_list_free(l);
			return NULL;
		}
		l->v = xreallocarray(l->v, l->n + 1, sizeof(*l->v));
		l->v[l->n++] = m;
	}
	return l;
}

int
map_list_lookup(const struct map_list *l, const char *key, const char **value)
{
	size_t	 i;
	int	 rc;

	for (i = 0; i < l->n; i++)
		if ((rc = map_lookup(l->v[i], key, value)) != 0)
			return rc;
	return 0;
}

void
map_list_free(struct map_list *l)
{
	size_t	 i;

	if (l == NULL)
		return;
	for (i = 0; i < l->n; i++)
		map_free(l->v[i]);
	free(l->v);
	free(l);
}
