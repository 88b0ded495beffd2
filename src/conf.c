/* SPDX-License-Identifier: ISC */
/*
 * main.cf reading; see conf.h.
 *
 * Does: Postfix main.cf syntax (postconf(5)): "name = value" logical lines,
 * continuation lines that start with white space, comment and blank lines
 * (ignored even inside a logical line, as Postfix's readlline() does),
 * lazy $name, ${name}, $(name), ${name?value}, ${name:value},
 * ${name?{a}:{b}} and $$ expansion once the whole file is read, the typed
 * table of the parameters sendrelay uses, and warnings for names it does
 * not use. Does not: read lookup tables (map does), or expand Postfix
 * parameters we do not know the default of (they expand to empty).
 * Limits: CONF_FILE_MAX bytes of text, CONF_ENTRIES_MAX names, expansion
 * depth and sizes in conf.h. Each value is expanded once and cached, so
 * the work stays linear in the size of the result even for values that
 * refer to each other many times.
 */
#include "config.h"

#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "buf.h"
#include "conf.h"
#include "err.h"
#include "log.h"
#include "xmalloc.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR	"/etc"
#endif
#define CONF_DEFAULT_PATH	SYSCONFDIR "/sendrelay/main.cf"
#define CONF_WARNINGS_MAX	50	/* then one line says how many more */
#define CONF_SUGGEST_LEN_MAX	80	/* longer names get no suggestion */
#define CONF_LIST_MAX		4096	/* the ignored-names warning */

enum conf_state {
	CONF_UNEXPANDED,
	CONF_EXPANDING,		/* seen again: a $name loop */
	CONF_EXPANDED,
};

struct conf_entry {
	char		*name;
	char		*raw;		/* as written, after trimming */
	char		*value;		/* expanded; NULL until then */
	unsigned	 line;		/* 0: a default */
	enum conf_state	 state;
	bool		 referenced;	/* used as $name by another value */
};

enum conf_type {
	CONF_STRING,
	CONF_BOOL,
	CONF_TRISTATE,		/* "" = -1 (unset), else a boolean */
	CONF_TIME,
	CONF_SIZE,
};

struct conf_param {
	const char		*name;
	enum conf_type		 type;
	const char		*default_value;	/* NULL: computed */
	size_t			 offset;
	const char *const	*allowed;	/* NULL-terminated, or NULL */
};

/* State while reading one text. */
struct conf_reader {
	struct conf	*conf;
	const char	*origin;	/* for messages */
	unsigned	 capacity;	/* of conf->entries */
	size_t		 expanded_total;
	unsigned	 suppressed;	/* warnings past CONF_WARNINGS_MAX */
};

static void	 conf_warn(struct conf_reader *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static int	 conf_fail(struct conf_reader *, const struct conf_entry *,
		    struct err *, const char *, ...)
		    __attribute__((format(printf, 4, 5)));
static struct conf_entry *conf_find(const struct conf *, const char *,
		    size_t);
static const struct conf_param *conf_find_param(const char *);
static bool	 conf_is_postfix(const char *);
static bool	 conf_is_name_char(int, bool);
static struct conf_entry *conf_add(struct conf_reader *, const char *,
		    size_t, const char *, unsigned, struct err *);
static int	 conf_read_text(struct conf_reader *, const char *, size_t,
		    struct err *);
static int	 conf_parse_line(struct conf_reader *, const char *, unsigned,
		    struct err *);
static int	 conf_expand_entry(struct conf_reader *, struct conf_entry *,
		    unsigned, struct err *);
static int	 conf_expand_text(struct conf_reader *, struct conf_entry *,
		    const char *, size_t, struct buf *, unsigned, struct err *);
static int	 conf_expand_macro(struct conf_reader *, struct conf_entry *,
		    const char *, size_t, size_t *, struct buf *, unsigned,
		    struct err *);
static int	 conf_expand_conditional(struct conf_reader *,
		    struct conf_entry *, const char *, size_t, char, bool,
		    struct buf *, unsigned, struct err *);
static int	 conf_resolve(struct conf_reader *, struct conf_entry *,
		    const char *, size_t, bool, unsigned, const char **,
		    struct err *);
static size_t	 conf_match_close(const char *, size_t);
static int	 conf_compare_name(const void *, const void *);
static struct conf_entry *conf_add_literal(struct conf_reader *,
		    const char *, char *, struct err *);
static int	 conf_parse_number(const char *, long *, char *);
static char	*conf_default_hostname(void);
static int	 conf_add_defaults(struct conf_reader *, struct err *);
static int	 conf_set_typed(struct conf_reader *, const struct conf_param *,
		    struct err *);
static void	 conf_warn_unused(struct conf_reader *);
static const char *conf_suggest(const char *);
static unsigned	 conf_count_bound(const int [128], const char *);
static unsigned	 conf_distance(const char *, size_t, const char *, size_t,
		    unsigned);

static const char *const conf_postfix_names[] = {
#include "conf_postfix_names.inc"
};

/* Postfix's smtp_tls_security_level names; route maps the DANE ones. */
static const char *const conf_tls_levels[] = {
	"none", "may", "encrypt", "fingerprint", "verify", "secure", "dane",
	"dane-only", NULL
};
static const char *const conf_digests[] = {
	"sha1", "sha256", "sha512", NULL
};

/* One row per struct conf field: its name is the parameter name. */
#define CONF_PARAM(field, type, default_value, allowed)			\
	{ #field, type, default_value, offsetof(struct conf, field), allowed }
static const struct conf_param conf_params[] = {
	CONF_PARAM(myhostname, CONF_STRING, NULL, NULL),
	CONF_PARAM(mydomain, CONF_STRING, NULL, NULL),
	CONF_PARAM(myorigin, CONF_STRING, "$myhostname", NULL),
	CONF_PARAM(relayhost, CONF_STRING, "", NULL),
	CONF_PARAM(mydestination, CONF_STRING,
	    "$myhostname, localhost.$mydomain, localhost", NULL),
	CONF_PARAM(alias_maps, CONF_STRING, "hash:/etc/aliases", NULL),
	CONF_PARAM(smtp_generic_maps, CONF_STRING, "", NULL),
	CONF_PARAM(smtp_helo_name, CONF_STRING, "$myhostname", NULL),
	CONF_PARAM(inet_protocols, CONF_STRING, "all", NULL),
	CONF_PARAM(smtp_sasl_auth_enable, CONF_BOOL, "no", NULL),
	CONF_PARAM(smtp_sasl_password_maps, CONF_STRING, "", NULL),
	CONF_PARAM(smtp_sasl_mechanism_filter, CONF_STRING, "", NULL),
	CONF_PARAM(smtp_tls_security_level, CONF_STRING, "", conf_tls_levels),
	CONF_PARAM(smtp_tls_wrappermode, CONF_TRISTATE, "", NULL),
	CONF_PARAM(smtp_tls_CAfile, CONF_STRING, "", NULL),
	CONF_PARAM(smtp_tls_CApath, CONF_STRING, "", NULL),
	CONF_PARAM(smtp_tls_cert_file, CONF_STRING, "", NULL),
	CONF_PARAM(smtp_tls_key_file, CONF_STRING, "", NULL),
	CONF_PARAM(smtp_tls_fingerprint_digest, CONF_STRING, "sha256",
	    conf_digests),
	CONF_PARAM(smtp_tls_fingerprint_cert_match, CONF_STRING, "", NULL),
	CONF_PARAM(smtp_tls_mandatory_protocols, CONF_STRING, ">=TLSv1.2",
	    NULL),
	CONF_PARAM(smtp_connect_timeout, CONF_TIME, "30s", NULL),
	CONF_PARAM(smtp_helo_timeout, CONF_TIME, "300s", NULL),
	CONF_PARAM(smtp_mail_timeout, CONF_TIME, "300s", NULL),
	CONF_PARAM(smtp_rcpt_timeout, CONF_TIME, "300s", NULL),
	CONF_PARAM(smtp_data_init_timeout, CONF_TIME, "120s", NULL),
	CONF_PARAM(smtp_data_xfer_timeout, CONF_TIME, "180s", NULL),
	CONF_PARAM(smtp_data_done_timeout, CONF_TIME, "600s", NULL),
	CONF_PARAM(smtp_quit_timeout, CONF_TIME, "300s", NULL),
	CONF_PARAM(smtp_starttls_timeout, CONF_TIME, "300s", NULL),
	CONF_PARAM(sendrelay_submit_deadline, CONF_TIME, "60s", NULL),
	CONF_PARAM(message_size_limit, CONF_SIZE, "10240000", NULL),
	CONF_PARAM(sendrelay_queue_directory, CONF_STRING, SPOOLDIR, NULL),
	CONF_PARAM(minimal_backoff_time, CONF_TIME, "300s", NULL),
	CONF_PARAM(maximal_backoff_time, CONF_TIME, "4000s", NULL),
	CONF_PARAM(maximal_queue_lifetime, CONF_TIME, "5d", NULL),
	CONF_PARAM(bounce_queue_lifetime, CONF_TIME, "5d", NULL),
	CONF_PARAM(delay_warning_time, CONF_TIME, "0h", NULL),
	CONF_PARAM(sendrelay_local_bounce_recipient, CONF_STRING, "", NULL),
	CONF_PARAM(syslog_name, CONF_STRING, "sendrelay", NULL),
	CONF_PARAM(syslog_facility, CONF_STRING, "mail", NULL),
	CONF_PARAM(maillog_file, CONF_STRING, "", NULL),
};
#define CONF_PARAM_COUNT	(sizeof(conf_params) / sizeof(conf_params[0]))

static void
conf_warn(struct conf_reader *rd, const char *fmt, ...)
{
	struct conf	*c = rd->conf;
	char		 text[1024];
	va_list		 ap;

	if (c->warning_count >= CONF_WARNINGS_MAX) {
		rd->suppressed++;
		return;
	}
	va_start(ap, fmt);
	(void)vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	log_warn("%s", text);
	c->warnings = xreallocarray(c->warnings, c->warning_count + 1,
	    sizeof(*c->warnings));
	c->warnings[c->warning_count++] = xstrdup(text);
}

/* ERR_CONFIG prefixed with "FILE:LINE: NAME: " (no LINE for a default). */
static int
conf_fail(struct conf_reader *rd, const struct conf_entry *ent,
    struct err *e, const char *fmt, ...)
{
	char	 text[ERR_TEXT_MAX];
	va_list	 ap;

	va_start(ap, fmt);
	(void)vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (ent->line == 0)
		return err_set(e, ERR_CONFIG, "%s: %s: %s", rd->origin,
		    ent->name, text);
	return err_set(e, ERR_CONFIG, "%s:%u: %s: %s", rd->origin, ent->line,
	    ent->name, text);
}

static struct conf_entry *
conf_find(const struct conf *c, const char *name, size_t len)
{
	unsigned	 i;

	for (i = 0; i < c->entry_count; i++)
		if (strncmp(c->entries[i].name, name, len) == 0 &&
		    c->entries[i].name[len] == '\0')
			return &c->entries[i];
	return NULL;
}

static const struct conf_param *
conf_find_param(const char *name)
{
	size_t	 i;

	for (i = 0; i < CONF_PARAM_COUNT; i++)
		if (strcmp(conf_params[i].name, name) == 0)
			return &conf_params[i];
	return NULL;
}

static int
conf_compare_name(const void *key, const void *member)
{
	return strcmp(key, *(const char *const *)member);
}

/* The list is sorted (postconf -d output, C locale). */
static bool
conf_is_postfix(const char *name)
{
	return bsearch(name, conf_postfix_names, sizeof(conf_postfix_names) /
	    sizeof(conf_postfix_names[0]), sizeof(conf_postfix_names[0]),
	    conf_compare_name) != NULL;
}

/*
 * Postfix parameter names hold letters, digits and '_', and '-' for
 * master.cf service names ("scalemail-backend_time_limit"); $name
 * references stop at '-', as Postfix's mac_parse() does.
 */
static bool
conf_is_name_char(int ch, bool in_definition)
{
	return isalnum((unsigned char)ch) || ch == '_' ||
	    (in_definition && ch == '-');
}

static struct conf_entry *
conf_add(struct conf_reader *rd, const char *name, size_t len,
    const char *raw, unsigned line, struct err *e)
{
	struct conf		*c = rd->conf;
	struct conf_entry	*ent;

	if (c->entry_count >= CONF_ENTRIES_MAX) {
		(void)err_set(e, ERR_CONFIG, "%s:%u: more than %d parameters",
		    rd->origin, line, CONF_ENTRIES_MAX);
		return NULL;
	}
	if (c->entry_count == rd->capacity) {
		rd->capacity = rd->capacity ? rd->capacity * 2 : 64;
		c->entries = xreallocarray(c->entries, rd->capacity,
		    sizeof(*c->entries));
	}
	ent = &c->entries[c->entry_count++];
	memset(ent, 0, sizeof(*ent));
	ent->name = xstrndup(name, len);
	ent->raw = xstrdup(raw);
	ent->line = line;
	return ent;
}

/* One logical line: "name = value". */
static int
conf_parse_line(struct conf_reader *rd, const char *text, unsigned line,
    struct err *e)
{
	struct conf_entry	*ent;
	const char		*p = text, *value;
	size_t			 len;

	while (conf_is_name_char(*p, true))
		p++;
	len = (size_t)(p - text);
	while (isspace((unsigned char)*p))
		p++;
	if (len == 0 || *p != '=')
		return err_set(e, ERR_CONFIG, "%s:%u: expected 'name = value'",
		    rd->origin, line);
	value = p + 1;
	while (isspace((unsigned char)*value))
		value++;
	/* A later definition replaces an earlier one, as in Postfix. */
	if ((ent = conf_find(rd->conf, text, len)) != NULL) {
		free(ent->raw);
		ent->raw = xstrdup(value);
		ent->line = line;
		return 0;
	}
	return conf_add(rd, text, len, value, line, e) == NULL ? -1 : 0;
}

static int
conf_read_text(struct conf_reader *rd, const char *text, size_t len,
    struct err *e)
{
	struct buf	 logical;
	const char	*p = text, *end = text + len, *nl, *stop;
	unsigned	 line = 0, start = 0;
	int		 rc = -1;

	buf_init(&logical, CONF_FILE_MAX);
	for (; p < end; p = nl != NULL ? nl + 1 : end) {
		line++;
		nl = memchr(p, '\n', (size_t)(end - p));
		stop = nl != NULL ? nl : end;
		if (memchr(p, '\0', (size_t)(stop - p)) != NULL) {
			(void)err_set(e, ERR_CONFIG, "%s:%u: NUL character",
			    rd->origin, line);
			goto done;
		}
		while (stop > p && isspace((unsigned char)stop[-1]))
			stop--;
		if (stop == p)
			continue;		/* blank */
		if (!isspace((unsigned char)*p)) {
			if (*p == '#')
				continue;
			if (start != 0 && conf_parse_line(rd,
			    buf_cstr(&logical), start, e) == -1)
				goto done;
			buf_reset(&logical);
			start = line;
			(void)buf_append(&logical, p, (size_t)(stop - p));
			continue;
		}
		while (isspace((unsigned char)*p))
			p++;
		if (*p == '#')
			continue;		/* comments may sit anywhere */
		if (start == 0) {
			(void)err_set(e, ERR_CONFIG, "%s:%u: expected 'name = "
			    "value' (a line starting with white space "
			    "continues the one before)", rd->origin, line);
			goto done;
		}
		/* Cannot overflow: the text is at most CONF_FILE_MAX. */
		(void)buf_putc(&logical, ' ');
		(void)buf_append(&logical, p, (size_t)(stop - p));
	}
	if (start != 0 && conf_parse_line(rd, buf_cstr(&logical), start,
	    e) == -1)
		goto done;
	rc = 0;
done:
	buf_free(&logical);
	return rc;
}

/* s[0] is '{' or '('; returns the index of its match, or 0 when none. */
static size_t
conf_match_close(const char *s, size_t len)
{
	char	 open = s[0], close = open == '{' ? '}' : ')';
	size_t	 i, depth = 0;

	for (i = 0; i < len; i++) {
		if (s[i] == open)
			depth++;
		else if (s[i] == close && --depth == 0)
			return i;
	}
	return 0;
}

/*
 * The value of $name as seen from ent. An unknown name expands to empty
 * with a warning, except in a conditional (which tests exactly that) and
 * for a Postfix parameter referenced by one we do not use (Postfix
 * defaults like $mail_name are common in a stock main.cf).
 */
static int
conf_resolve(struct conf_reader *rd, struct conf_entry *ent, const char *name,
    size_t len, bool quiet, unsigned depth, const char **value,
    struct err *e)
{
	struct conf_entry	*target;
	char			*copy;
	bool			 known;

	*value = "";
	if ((target = conf_find(rd->conf, name, len)) == NULL) {
		if (quiet)
			return 0;
		copy = xstrndup(name, len);
		known = conf_is_postfix(copy) &&
		    conf_find_param(ent->name) == NULL;
		if (!known && ent->line != 0)
			conf_warn(rd, "%s:%u: %s: undefined parameter $%s "
			    "expands to empty", rd->origin, ent->line,
			    ent->name, copy);
		free(copy);
		return 0;
	}
	if (target != ent)
		target->referenced = true;
	if (target->state == CONF_EXPANDING)
		return conf_fail(rd, ent, e, "$%s refers back to itself "
		    "(expansion loop)", target->name);
	if (conf_expand_entry(rd, target, depth + 1, e) == -1)
		return -1;
	*value = target->value;
	return 0;
}

/*
 * ${name?text} / ${name:text}, and Postfix 3's ${name?{a}:{b}}: text is
 * expanded only when its branch is taken.
 */
static int
conf_expand_conditional(struct conf_reader *rd, struct conf_entry *ent,
    const char *text, size_t len, char op, bool set, struct buf *out,
    unsigned depth, struct err *e)
{
	size_t	 close, rest;

	if (len > 0 && text[0] == '{' &&
	    (close = conf_match_close(text, len)) != 0) {
		rest = close + 1;
		while (rest < len && isspace((unsigned char)text[rest]))
			rest++;
		if (rest == len) {		/* ${name?{a}} */
			text++;
			len = close - 1;
		} else if (op == '?' && text[rest] == ':') {
			rest++;
			while (rest < len && isspace((unsigned char)text[rest]))
				rest++;
			if (rest < len && text[rest] == '{' &&
			    conf_match_close(text + rest, len - rest) ==
			    len - rest - 1) {
				if (set)
					return conf_expand_text(rd, ent,
					    text + 1, close - 1, out,
					    depth + 1, e);
				return conf_expand_text(rd, ent,
				    text + rest + 1, len - rest - 2, out,
				    depth + 1, e);
			}
		}
	}
	if ((op == '?') != set)
		return 0;
	return conf_expand_text(rd, ent, text, len, out, depth + 1, e);
}

/* s[0] is '$'; sets *used to the bytes consumed. */
static int
conf_expand_macro(struct conf_reader *rd, struct conf_entry *ent,
    const char *s, size_t len, size_t *used, struct buf *out, unsigned depth,
    struct err *e)
{
	const char	*name = s + 1, *value;
	size_t		 close = 0, inner, nlen = 0;
	bool		 braced = len > 1 && (s[1] == '{' || s[1] == '(');

	*used = 1;
	if (len > 1 && s[1] == '$') {
		*used = 2;
		return buf_putc(out, '$') == -1 ? conf_fail(rd, ent, e,
		    "longer than %d bytes after expansion", CONF_VALUE_MAX) : 0;
	}
	if (braced) {
		if ((close = conf_match_close(s + 1, len - 1)) == 0)
			return conf_fail(rd, ent, e, "missing '%c' after '$%c'",
			    s[1] == '{' ? '}' : ')', s[1]);
		name = s + 2;
		inner = close - 1;
		while (nlen < inner && conf_is_name_char(name[nlen], true))
			nlen++;
		if (nlen == 0 || (nlen < inner && name[nlen] != '?' &&
		    name[nlen] != ':'))
			return conf_fail(rd, ent, e, "bad parameter name in "
			    "'%.*s'", (int)(close + 2), s);
		*used = close + 2;
		if (nlen < inner) {
			if (conf_resolve(rd, ent, name, nlen, true, depth,
			    &value, e) == -1)
				return -1;
			return conf_expand_conditional(rd, ent,
			    name + nlen + 1, inner - nlen - 1, name[nlen],
			    *value != '\0', out, depth, e);
		}
	} else {
		while (nlen < len - 1 && conf_is_name_char(name[nlen], false))
			nlen++;
		if (nlen == 0)		/* a lone '$' is taken literally */
			return buf_putc(out, '$') == -1 ? conf_fail(rd, ent, e,
			    "longer than %d bytes after expansion",
			    CONF_VALUE_MAX) : 0;
		*used = 1 + nlen;
	}
	if (conf_resolve(rd, ent, name, nlen, false, depth, &value, e) == -1)
		return -1;
	if (buf_append_str(out, value) == -1)
		return conf_fail(rd, ent, e, "longer than %d bytes after "
		    "expansion", CONF_VALUE_MAX);
	return 0;
}

static int
conf_expand_text(struct conf_reader *rd, struct conf_entry *ent,
    const char *s, size_t len, struct buf *out, unsigned depth, struct err *e)
{
	const char	*dollar;
	size_t		 i = 0, run, used;

	if (depth > CONF_EXPAND_DEPTH_MAX)
		return conf_fail(rd, ent, e, "$name nesting deeper than %d "
		    "levels", CONF_EXPAND_DEPTH_MAX);
	while (i < len) {
		dollar = memchr(s + i, '$', len - i);
		run = dollar != NULL ? (size_t)(dollar - (s + i)) : len - i;
		if (buf_append(out, s + i, run) == -1)
			return conf_fail(rd, ent, e, "longer than %d bytes "
			    "after expansion", CONF_VALUE_MAX);
		i += run;
		if (i == len)
			break;
		if (conf_expand_macro(rd, ent, s + i, len - i, &used, out,
		    depth, e) == -1)
			return -1;
		i += used;
	}
	return 0;
}

static int
conf_expand_entry(struct conf_reader *rd, struct conf_entry *ent,
    unsigned depth, struct err *e)
{
	struct buf	 out;

	if (ent->state == CONF_EXPANDED)
		return 0;
	ent->state = CONF_EXPANDING;
	buf_init(&out, CONF_VALUE_MAX);
	if (conf_expand_text(rd, ent, ent->raw, strlen(ent->raw), &out, depth,
	    e) == -1) {
		buf_free(&out);
		return -1;
	}
	rd->expanded_total += out.len;
	if (rd->expanded_total > CONF_EXPANDED_MAX) {
		buf_free(&out);
		return conf_fail(rd, ent, e, "all values together are longer "
		    "than %d bytes after expansion", CONF_EXPANDED_MAX);
	}
	ent->value = buf_release(&out);
	ent->state = CONF_EXPANDED;
	return 0;
}

/*
 * Postfix's default: the FQDN of this host. gethostname() may hold only
 * the first label; the resolver (AI_CANONNAME, usually /etc/hosts) then
 * gives the full name.
 */
static char *
conf_default_hostname(void)
{
	char		 host[256];
	struct addrinfo	 hints, *res = NULL;
	char		*fqdn;

	if (gethostname(host, sizeof(host)) == -1 || host[0] == '\0')
		return xstrdup("localhost");
	host[sizeof(host) - 1] = '\0';
	if (strchr(host, '.') != NULL)
		return xstrdup(host);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_flags = AI_CANONNAME;
	if (getaddrinfo(host, NULL, &hints, &res) == 0 && res != NULL &&
	    res->ai_canonname != NULL && strchr(res->ai_canonname, '.') != NULL)
		fqdn = xstrdup(res->ai_canonname);
	else
		fqdn = xstrdup(host);
	if (res != NULL)
		freeaddrinfo(res);
	return fqdn;
}

/* A computed default is a literal: it is not $-expanded. */
static struct conf_entry *
conf_add_literal(struct conf_reader *rd, const char *name, char *value,
    struct err *e)
{
	struct conf_entry	*ent;

	if ((ent = conf_add(rd, name, strlen(name), value, 0, e)) == NULL) {
		free(value);
		return NULL;
	}
	ent->value = value;
	ent->state = CONF_EXPANDED;
	return ent;
}

static int
conf_add_defaults(struct conf_reader *rd, struct err *e)
{
	struct conf		*c = rd->conf;
	struct conf_entry	*host, *ent;
	const char		*dot;
	size_t			 i;

	for (i = 0; i < CONF_PARAM_COUNT; i++)
		if (conf_params[i].default_value != NULL &&
		    conf_find(c, conf_params[i].name,
		    strlen(conf_params[i].name)) == NULL &&
		    conf_add(rd, conf_params[i].name,
		    strlen(conf_params[i].name), conf_params[i].default_value,
		    0, e) == NULL)
			return -1;
	/* Only an unset myhostname costs a resolver call. */
	if ((host = conf_find(c, "myhostname", 10)) == NULL &&
	    (host = conf_add_literal(rd, "myhostname",
	    conf_default_hostname(), e)) == NULL)
		return -1;
	if (conf_find(c, "mydomain", 8) != NULL)
		return 0;
	/* mydomain follows myhostname, so that must be expanded first. */
	if (conf_expand_entry(rd, host, 0, e) == -1)
		return -1;
	dot = strchr(host->value, '.');
	ent = conf_add_literal(rd, "mydomain", xstrdup(dot != NULL &&
	    dot[1] != '\0' ? dot + 1 : "localdomain"), e);
	return ent == NULL ? -1 : 0;
}

static int
conf_set_typed(struct conf_reader *rd, const struct conf_param *p,
    struct err *e)
{
	struct conf_entry	*ent;
	char			*field = (char *)rd->conf + p->offset;
	const char		*const *word;
	char			*ch;
	bool			 flag;

	ent = conf_find(rd->conf, p->name, strlen(p->name));
	switch (p->type) {
	case CONF_STRING:
		if (p->allowed != NULL && *ent->value != '\0') {
			for (ch = ent->value; *ch != '\0'; ch++)
				*ch = (char)tolower((unsigned char)*ch);
			for (word = p->allowed; *word != NULL; word++)
				if (strcmp(*word, ent->value) == 0)
					break;
			if (*word == NULL)
				return conf_fail(rd, ent, e, "expected one of "
				    "%s, got '%s'", p->allowed == conf_digests ?
				    "sha1, sha256, sha512" : "none, may, "
				    "encrypt, fingerprint, verify, secure, "
				    "dane, dane-only", ent->value);
		}
		*(char **)(void *)field = ent->value;
		return 0;
	case CONF_TRISTATE:
		if (*ent->value == '\0') {
			*(int *)(void *)field = -1;
			return 0;
		}
		/* FALLTHROUGH */
	case CONF_BOOL:
		if (conf_parse_bool(ent->value, &flag) == -1)
			return conf_fail(rd, ent, e, "expected yes or no, got "
			    "'%s'", ent->value);
		if (p->type == CONF_BOOL)
			*(bool *)(void *)field = flag;
		else
			*(int *)(void *)field = flag ? 1 : 0;
		return 0;
	case CONF_TIME:
		if (conf_parse_time(ent->value, (long *)(void *)field) == -1)
			return conf_fail(rd, ent, e, "expected a time like 30s, "
			    "got '%s'", ent->value);
		return 0;
	case CONF_SIZE:
		if (conf_parse_size(ent->value, (long *)(void *)field) == -1)
			return conf_fail(rd, ent, e, "expected a size in bytes, "
			    "got '%s'", ent->value);
		return 0;
	}
	return 0;
}

/*
 * Optimal string alignment distance (a swap of two letters counts 1), or
 * more than limit as soon as two rows in a row exceed it: no later row can
 * go below the smaller of the two before it.
 */
static unsigned
conf_distance(const char *a, size_t alen, const char *b, size_t blen,
    unsigned limit)
{
	unsigned	 rows[3][CONF_SUGGEST_LEN_MAX + 1];
	unsigned	*two = rows[0], *prev = rows[1], *cur = rows[2], *tmp;
	unsigned	 best, row_min, prev_min = 0;
	size_t		 i, j;

	for (j = 0; j <= blen; j++)
		prev[j] = (unsigned)j;
	for (i = 1; i <= alen; i++) {
		cur[0] = row_min = (unsigned)i;
		for (j = 1; j <= blen; j++) {
			best = prev[j - 1] + (a[i - 1] != b[j - 1]);
			if (prev[j] + 1 < best)
				best = prev[j] + 1;
			if (cur[j - 1] + 1 < best)
				best = cur[j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
			    a[i - 2] == b[j - 1] && two[j - 2] + 1 < best)
				best = two[j - 2] + 1;
			cur[j] = best;
			if (best < row_min)
				row_min = best;
		}
		if (row_min > limit && prev_min > limit)
			return limit + 1;
		prev_min = row_min;
		tmp = two;
		two = prev;
		prev = cur;
		cur = tmp;
	}
	return prev[blen];
}

/*
 * A lower bound of the edit distance from letter counts: an insertion or
 * deletion changes one count, a substitution two, a swap none. It rules
 * most candidates out before the quadratic conf_distance().
 */
static unsigned
conf_count_bound(const int counts[128], const char *candidate)
{
	int		 diff[128];
	unsigned	 sum = 0;
	size_t		 i;

	memcpy(diff, counts, sizeof(diff));
	for (; *candidate != '\0'; candidate++)
		diff[(unsigned char)*candidate & 127]--;
	for (i = 0; i < 128; i++)
		sum += (unsigned)(diff[i] < 0 ? -diff[i] : diff[i]);
	return (sum + 1) / 2;
}

/* The nearest known name, when close enough to be a likely typo. */
static const char *
conf_suggest(const char *name)
{
	const size_t	 postfix_count = sizeof(conf_postfix_names) /
			    sizeof(conf_postfix_names[0]);
	size_t		 len = strlen(name), clen, i, limit;
	const char	*candidate, *best = NULL;
	unsigned	 d, best_distance;
	int		 counts[128] = { 0 };

	if (len > CONF_SUGGEST_LEN_MAX)
		return NULL;
	for (i = 0; i < len; i++)
		counts[(unsigned char)name[i] & 127]++;
	limit = len / 4 > 2 ? len / 4 : 2;
	best_distance = (unsigned)limit + 1;
	for (i = 0; i < CONF_PARAM_COUNT + postfix_count; i++) {
		candidate = i < CONF_PARAM_COUNT ? conf_params[i].name :
		    conf_postfix_names[i - CONF_PARAM_COUNT];
		clen = strlen(candidate);
		/* The length difference alone is a lower bound too. */
		if (clen > CONF_SUGGEST_LEN_MAX ||
		    (clen > len ? clen - len : len - clen) >= best_distance ||
		    conf_count_bound(counts, candidate) >= best_distance)
			continue;
		d = conf_distance(name, len, candidate, clen,
		    best_distance - 1);
		if (d < best_distance) {
			best_distance = d;
			best = candidate;
		}
	}
	return best;
}

/*
 * Names only used as $name elsewhere are the user's own variables, which
 * Postfix allows: no warning for them.
 */
static void
conf_warn_unused(struct conf_reader *rd)
{
	struct conf		*c = rd->conf;
	struct conf_entry	*ent;
	struct buf		 ignored;
	const char		*near;
	unsigned		 i;

	buf_init(&ignored, CONF_LIST_MAX);
	for (i = 0; i < c->entry_count; i++) {
		ent = &c->entries[i];
		if (ent->line == 0 || ent->referenced ||
		    conf_find_param(ent->name) != NULL)
			continue;
		if (conf_is_postfix(ent->name)) {
			/* A full list just stops: the warning says enough. */
			(void)buf_printf(&ignored, "%s%s", ignored.len ? ", " :
			    "", ent->name);
			continue;
		}
		if ((near = conf_suggest(ent->name)) != NULL)
			conf_warn(rd, "%s:%u: unknown parameter '%s' (did you "
			    "mean '%s'?)", rd->origin, ent->line, ent->name,
			    near);
		else
			conf_warn(rd, "%s:%u: unknown parameter '%s'",
			    rd->origin, ent->line, ent->name);
	}
	if (ignored.len > 0)
		conf_warn(rd, "%s: ignoring Postfix parameters not used by "
		    "sendrelay: %s", rd->origin, buf_cstr(&ignored));
	buf_free(&ignored);
}

int
conf_parse_text(struct conf *c, const char *text, size_t len,
    const char *origin, struct err *e)
{
	struct conf_reader	 rd;
	size_t			 i;

	memset(c, 0, sizeof(*c));
	memset(&rd, 0, sizeof(rd));
	rd.conf = c;
	rd.origin = origin != NULL ? origin : "main.cf";
	if (origin != NULL)
		c->path = xstrdup(origin);
	if (len > CONF_FILE_MAX) {
		(void)err_set(e, ERR_CONFIG, "%s: larger than %d bytes",
		    rd.origin, CONF_FILE_MAX);
		goto fail;
	}
	if (conf_read_text(&rd, text, len, e) == -1 ||
	    conf_add_defaults(&rd, e) == -1)
		goto fail;
	for (i = 0; i < c->entry_count; i++)
		if (conf_expand_entry(&rd, &c->entries[i], 0, e) == -1)
			goto fail;
	for (i = 0; i < CONF_PARAM_COUNT; i++)
		if (conf_set_typed(&rd, &conf_params[i], e) == -1)
			goto fail;
	conf_warn_unused(&rd);
	if (rd.suppressed > 0) {
		log_warn("%s: %u more warnings not shown", rd.origin,
		    rd.suppressed);
	}
	return 0;
fail:
	conf_free(c);
	return -1;
}

int
conf_load(struct conf *c, const char *path, struct err *e)
{
	struct stat	 st;
	struct buf	 text;
	char		*file, chunk[8192];
	ssize_t		 n;
	int		 fd, rc = -1;

	memset(c, 0, sizeof(*c));
	if (path == NULL)
		file = xstrdup(CONF_DEFAULT_PATH);
	else if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		file = xasprintf("%s/main.cf", path);
	else
		file = xstrdup(path);
	if ((fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1) {
		/* Without -C a missing file just means the defaults. */
		if (path == NULL && errno == ENOENT)
			rc = conf_parse_text(c, "", 0, NULL, e);
		else
			(void)err_set(e, ERR_CONFIG, "%s: %s", file,
			    strerror(errno));
		free(file);
		return rc;
	}
	buf_init(&text, CONF_FILE_MAX);
	for (;;) {
		if ((n = read(fd, chunk, sizeof(chunk))) == -1) {
			if (errno == EINTR)
				continue;
			(void)err_set(e, ERR_CONFIG, "%s: %s", file,
			    strerror(errno));
			goto done;
		}
		if (n == 0)
			break;
		if (buf_append(&text, chunk, (size_t)n) == -1) {
			(void)err_set(e, ERR_CONFIG, "%s: larger than %d bytes",
			    file, CONF_FILE_MAX);
			goto done;
		}
	}
	rc = conf_parse_text(c, text.data != NULL ? text.data : "", text.len,
	    file, e);
done:
	(void)close(fd);
	buf_free(&text);
	free(file);
	return rc;
}

const char *
conf_get(const struct conf *c, const char *name)
{
	const struct conf_entry	*ent = conf_find(c, name, strlen(name));

	return ent != NULL ? ent->value : NULL;
}

void
conf_free(struct conf *c)
{
	unsigned	 i;

	for (i = 0; i < c->entry_count; i++) {
		free(c->entries[i].name);
		free(c->entries[i].raw);
		free(c->entries[i].value);
	}
	free(c->entries);
	for (i = 0; i < c->warning_count; i++)
		free(c->warnings[i]);
	free(c->warnings);
	free(c->path);
	memset(c, 0, sizeof(*c));
}

/* Digits, then at most one letter (a unit); no sign, no overflow. */
static int
conf_parse_number(const char *s, long *value, char *unit)
{
	long	 n = 0;

	if (!isdigit((unsigned char)*s))
		return -1;
	for (; isdigit((unsigned char)*s); s++) {
		if (n > (LONG_MAX - (*s - '0')) / 10)
			return -1;
		n = n * 10 + (*s - '0');
	}
	*unit = '\0';
	if (isalpha((unsigned char)*s))
		*unit = *s++;
	if (*s != '\0')
		return -1;
	*value = n;
	return 0;
}

/* Postfix conv_time(): a number and an optional unit s, m, h, d or w. */
int
conf_parse_time(const char *s, long *seconds)
{
	static const struct {
		char	 unit;
		long	 factor;
	} units[] = {
		{ 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 },
		{ 'w', 604800 },
	};
	long	 value;
	size_t	 i;
	char	 unit;

	if (conf_parse_number(s, &value, &unit) == -1)
		return -1;
	if (unit == '\0') {
		*seconds = value;
		return 0;
	}
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (units[i].unit == tolower((unsigned char)unit)) {
			if (value > LONG_MAX / units[i].factor)
				return -1;
			*seconds = value * units[i].factor;
			return 0;
		}
	return -1;
}

int
conf_parse_size(const char *s, long *bytes)
{
	char	 unit;

	if (conf_parse_number(s, bytes, &unit) == -1 || unit != '\0')
		return -1;
	return 0;
}

int
conf_parse_bool(const char *s, bool *value)
{
	if (strcasecmp(s, "yes") == 0 || strcasecmp(s, "true") == 0 ||
	    strcmp(s, "1") == 0)
		*value = true;
	else if (strcasecmp(s, "no") == 0 || strcasecmp(s, "false") == 0 ||
	    strcmp(s, "0") == 0)
		*value = false;
	else
		return -1;
	return 0;
}
