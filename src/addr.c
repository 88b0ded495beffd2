/* SPDX-License-Identifier: ISC */
/*
 * Addresses. Two parsers with different jobs:
 *  - addr_parse_envelope reads what a user gave on the command line
 *    (RFC 5321 4.1.2 Path/Mailbox, or a bare local name) and is strict: no
 *    display names, comments or whitespace outside a quoted local part,
 *    no control characters, so nothing can be smuggled into an SMTP
 *    command line.
 *  - addr_parse_header_list reads an RFC 5322 3.4 address-list from an
 *    unfolded header value and tolerates the obsolete forms of RFC 5322 4.4
 *    still seen in the wild (comments after the address, empty list
 *    elements, routes inside angle brackets).
 * Both accept UTF-8 (RFC 6531/6532) but insist it is well-formed. IDN
 * domains become A-labels with libidn2 (IDNA2008, UTS#46 non-transitional).
 * addr_rewrite_header_list reuses the second parser on an unfolded copy,
 * which records where each addr-spec came from, and splices the new
 * addr-specs into the raw (still folded) text.
 * Limits: display names (RFC 2047 encoded words included) are dropped,
 * not decoded; domain literals must be IPv4 or "IPv6:" addresses; the
 * 64-octet local-part limit (RFC 5321 4.5.3.1.1) is left to the server.
 */
#include "config.h"

#include <arpa/inet.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <idn2.h>

#include "addr.h"
#include "buf.h"
#include "err.h"
#include "xmalloc.h"

#define ADDR_QUOTE_MAX	80	/* input bytes shown in an error message */
#define ADDR_LABEL_MAX	63	/* RFC 1035 2.3.4 */
#define ADDR_DOMAIN_MAX	255	/* RFC 5321 4.5.3.1.2 */
#define ADDR_SPECIALS	"<>@,;:"	/* tokens of their own (RFC 5322 3.2.3) */
#define ADDR_HEADER_MAX	(1024 * 1024)	/* a whole header section */

enum addr_token {
	ADDR_TOK_END,
	ADDR_TOK_ATOM,		/* atext and '.', so dot-atoms are one token */
	ADDR_TOK_QUOTED,	/* "quoted string", as written */
	ADDR_TOK_LITERAL,	/* [domain literal], as written */
	ADDR_TOK_SPECIAL,	/* one of ADDR_SPECIALS */
	ADDR_TOK_ERROR,
};

/* Where an addr-spec's first and past its last token lie in the value. */
struct addr_span {
	size_t		 start;
	size_t		 end;
};

/* Lexer and parser state for one header value. */
struct addr_header {
	const char	*s;
	size_t		 slen;
	size_t		 pos;	/* next byte to read */
	enum addr_token	 type;	/* the current token */
	size_t		 start;
	size_t		 len;
	size_t		 prev_end;	/* past the token before this one */
	size_t		 spec_start;	/* of the addr-spec being read */
	const char	*why;	/* for ADDR_TOK_ERROR */
	struct addr_list *found;
	struct addr_span *spans;	/* one per found, when want_spans */
	bool		 want_spans;
	struct err	*err;
};

/* Words of a phrase or dot-atom, concatenated without the spaces. */
struct addr_words {
	struct buf	 text;
	size_t		 n;
	bool		 spaced;	/* two words not joined by a '.' */
	bool		 overflow;	/* text longer than ADDR_MAX */
};

static bool	 addr_is_atext(unsigned char);
static bool	 addr_utf8_valid(const char *, size_t);
static const char *addr_check_text(const char *, size_t, bool);
static void	 addr_escape(struct buf *, const char *);
static int	 addr_bad(struct err *, const char *, const char *,
		    const char *);
static int	 addr_scan_quoted(const char *, size_t, size_t *);
static const char *addr_find_angle(const char *, size_t);
static const char *addr_check_literal(const char *, size_t);
static const char *addr_check_domain(const char *, size_t);
static const char *addr_check_mailbox(const char *, size_t);
static const char *addr_unwrap(const char **, size_t *, bool *);
static const char *addr_skip_route(const char **, size_t *);
static int	 addr_lex_cfws(struct addr_header *);
static void	 addr_lex_next(struct addr_header *);
static bool	 addr_is_special(const struct addr_header *, char);
static int	 addr_hdr_fail(struct addr_header *, const char *);
static void	 addr_hdr_words(struct addr_header *, struct addr_words *,
		    bool);
static int	 addr_hdr_list(struct addr_header *, bool);
static int	 addr_hdr_address(struct addr_header *, bool);
static int	 addr_hdr_angle(struct addr_header *);
static int	 addr_hdr_route(struct addr_header *);
static void	 addr_hdr_domain(struct addr_header *, struct addr_words *);
static int	 addr_hdr_mailbox(struct addr_header *, struct addr_words *);
static int	 addr_hdr_run(struct addr_header *, const char *, size_t,
		    struct addr_list *, struct err *);
static size_t	 addr_fold_len(const char *, size_t, size_t);
static char	*addr_unfold(const char *, size_t, size_t *);
static void	 addr_fold_seek(const char *, size_t, size_t *, size_t *,
		    size_t);
static int	 addr_splice(const struct addr_header *, const char *, size_t,
		    char *(*)(void *, const char *), void *, struct buf *);
static bool	 addr_needs_idna(const char *);

/* RFC 5322 3.2.3 atext, plus UTF-8 (RFC 6532 3.2). */
static bool
addr_is_atext(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c >= 0x80 ||
	    (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* Well-formed UTF-8: no overlong forms, surrogates or values > U+10FFFF. */
static bool
addr_utf8_valid(const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;
	unsigned long cp, min;
	size_t	 i = 0, n, k;

	while (i < len) {
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		/* n continuation bytes; 0x80-0xc1 and 0xf5- never lead */
		n = s[i] >= 0xf0 ? 3 : s[i] >= 0xe0 ? 2 : 1;
		if (s[i] < 0xc2 || s[i] > 0xf4 || len - i - 1 < n)
			return false;
		cp = s[i] & (0x3fu >> n);
		min = n == 1 ? 0x80 : n == 2 ? 0x800 : 0x10000;
		for (k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += n + 1;
	}
	return true;
}

/* CR/LF would end an SMTP command line early (command injection). */
static const char *
addr_check_text(const char *s, size_t len, bool allow_tab)
{
	size_t	 i;

	for (i = 0; i < len; i++) {
		if (s[i] == '\r' || s[i] == '\n')
			return "line break (CR or LF) in address";
		if (((unsigned char)s[i] < 0x20 && !(allow_tab && s[i] == '\t'))
		    || s[i] == 0x7f)
			return "control character in address";
	}
	if (!addr_utf8_valid(s, len))
		return "invalid UTF-8";
	return NULL;
}

/* Appends a bounded, printable rendering of untrusted input to b. */
static void
addr_escape(struct buf *b, const char *s)
{
	size_t	 len = strnlen(s, ADDR_QUOTE_MAX + 1), show = len, i;
	bool	 utf8;
	unsigned char c;

	if (show > ADDR_QUOTE_MAX) {
		show = ADDR_QUOTE_MAX;
		while (show > 0 && ((unsigned char)s[show] & 0xc0) == 0x80)
			show--;		/* do not cut a character in two */
	}
	utf8 = addr_utf8_valid(s, show);
	for (i = 0; i < show; i++) {
		c = (unsigned char)s[i];
		if (c == '\r' || c == '\n' || c == '\t')
			(void)buf_printf(b, "\\%c", c == '\r' ? 'r' :
			    c == '\n' ? 'n' : 't');
		else if (c < 0x20 || c == 0x7f || (c >= 0x80 && !utf8))
			(void)buf_printf(b, "\\x%02x", c);
		else
			(void)buf_putc(b, (char)c);
	}
	if (show < len)
		(void)buf_append_str(b, "...");
}

/* "WHAT 'input': why" as ERR_DATA; returns -1. */
static int
addr_bad(struct err *e, const char *what, const char *in, const char *why)
{
	struct buf b;

	buf_init(&b, ADDR_QUOTE_MAX * 4 + 4);
	addr_escape(&b, in);
	err_set(e, ERR_DATA, "%s '%s': %s", what, buf_cstr(&b), why);
	buf_free(&b);
	return -1;
}

/*
 * s[*pos] is '"': moves *pos past the closing quote (RFC 5322 3.2.4,
 * quoted-pair included). -1 when the string is not closed within len.
 */
static int
addr_scan_quoted(const char *s, size_t len, size_t *pos)
{
	size_t	 i;

	for (i = *pos + 1; i < len && s[i] != '"'; i++)
		if (s[i] == '\\' && ++i == len)
			return -1;
	if (i >= len)
		return -1;
	*pos = i + 1;
	return 0;
}

/* The first '<' or '>' outside quoted strings, or NULL. */
static const char *
addr_find_angle(const char *s, size_t len)
{
	size_t	 i = 0;

	while (i < len) {
		if (s[i] == '"') {
			if (addr_scan_quoted(s, len, &i) == -1)
				return NULL;
			continue;
		}
		if (s[i] == '<' || s[i] == '>')
			return s + i;
		i++;
	}
	return NULL;
}

/* RFC 5321 4.1.3: an IPv4 address, or "IPv6:" and an IPv6 address. */
static const char *
addr_check_literal(const char *d, size_t len)
{
	unsigned char	 ip[16];
	char		*text;
	int		 ok;

	if (len < 3 || d[len - 1] != ']')
		return "unterminated domain literal";
	text = xstrndup(d + 1, len - 2);
	if (strncasecmp(text, "IPv6:", 5) == 0)
		ok = inet_pton(AF_INET6, text + 5, ip);
	else
		ok = inet_pton(AF_INET, text, ip);
	free(text);
	return ok == 1 ? NULL : "domain literal is not an IPv4 or IPv6 address";
}

static const char *
addr_check_domain(const char *d, size_t len)
{
	size_t	 i, label = 0;
	bool	 ascii = true;
	unsigned char c;

	if (len > 0 && d[0] == '[')
		return addr_check_literal(d, len);
	if (len > ADDR_DOMAIN_MAX)
		return "domain longer than 255 bytes";
	for (i = 0; i <= len; i++) {
		if (i == len || d[i] == '.') {
			if (label == 0)
				return "empty label in domain";
			if (ascii && label > ADDR_LABEL_MAX)
				return "domain label longer than 63 bytes";
			label = 0;
			ascii = true;
			continue;
		}
		c = (unsigned char)d[i];
		if (c == ' ' || c == '\t')
			return "whitespace outside a quoted local part";
		if (c == '@')
			return "more than one '@'";
		/* '_' is not LDH, but hosts named so exist and resolve. */
		if (c >= 0x80)
			ascii = false;
		else if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return "character not allowed in a domain";
		label++;
	}
	return NULL;
}

/* local-part ["@" domain]: RFC 5321 4.1.2 Mailbox, domain optional. */
static const char *
addr_check_mailbox(const char *p, size_t len)
{
	size_t	 i = 0;

	if (len > 0 && p[0] == '"') {
		if (addr_scan_quoted(p, len, &i) == -1)
			return "unterminated quoted string";
		if (i < len && p[i] != '@')
			return "text after a quoted local part";
	} else {
		while (i < len && (addr_is_atext((unsigned char)p[i]) ||
		    p[i] == '.'))
			i++;
		if (i == 0 && len > 0 && p[0] == '@')
			return "empty local part";
		if (i < len && (p[i] == ' ' || p[i] == '\t'))
			return "whitespace outside a quoted local part";
		if (i < len && p[i] != '@')
			return "character not allowed in an unquoted local part";
	}
	if (i == len)
		return NULL;	/* a local name, qualified later */
	if (++i == len)
		return "'@' without a domain";
	return addr_check_domain(p + i, len - i);
}

/* Strips "<...>" around *p; refuses "Name <a@b>" and unbalanced brackets. */
static const char *
addr_unwrap(const char **p, size_t *len, bool *bracketed)
{
	const char *angle = addr_find_angle(*p, *len);

	*bracketed = false;
	if (*len == 0 || (*p)[0] != '<') {
		if (angle == NULL)
			return NULL;
		if (*angle == '<' && (*p)[*len - 1] == '>')
			return "the 'Name <address>' form is not accepted here; "
			    "give the address only";
		return "unbalanced '<' or '>'";
	}
	if (*len < 2 || (*p)[*len - 1] != '>')
		return "unbalanced '<'";
	(*p)++;
	*len -= 2;
	*bracketed = true;
	if (addr_find_angle(*p, *len) != NULL)
		return "unbalanced '<' or '>'";
	return NULL;
}

/*
 * "@a,@b:" before the mailbox: a source route (RFC 5321 4.1.2 A-d-l),
 * which receivers may ignore (RFC 5321 C), and so do we.
 */
static const char *
addr_skip_route(const char **p, size_t *len)
{
	const char *why;
	size_t	 n;

	while (*len > 0 && (*p)[0] == '@') {
		n = strcspn(*p + 1, ",:");
		if (n >= *len - 1)
			return "source route without ':'";
		if ((why = addr_check_domain(*p + 1, n)) != NULL)
			return why;
		*p += n + 2;
		*len -= n + 2;
		if ((*p)[-1] == ':')
			return NULL;
	}
	return "bad source route";
}

int
addr_parse_envelope(const char *in, char **out, struct err *e)
{
	const char *p = in, *why;
	size_t	 len = strnlen(in, ADDR_MAX + 1);
	bool	 bracketed;

	*out = NULL;
	if (len > ADDR_MAX)
		return addr_bad(e, "bad address", in,
		    "longer than 1024 bytes");
	if ((why = addr_check_text(in, len, false)) != NULL ||
	    (why = addr_unwrap(&p, &len, &bracketed)) != NULL)
		return addr_bad(e, "bad address", in, why);
	if (bracketed && len > 0 && p[0] == '@' &&
	    (why = addr_skip_route(&p, &len)) != NULL)
		return addr_bad(e, "bad address", in, why);
	if (bracketed && len == 0 && p != in + 1)
		return addr_bad(e, "bad address", in,
		    "source route without a mailbox");
	if (len > 0 && (why = addr_check_mailbox(p, len)) != NULL)
		return addr_bad(e, "bad address", in, why);
	*out = xstrndup(p, len);
	return 0;
}

/* Skips whitespace and (nested) comments, RFC 5322 3.2.2 CFWS. */
static int
addr_lex_cfws(struct addr_header *h)
{
	size_t	 depth;

	for (;;) {
		h->pos += strspn(h->s + h->pos, " \t");
		if (h->s[h->pos] != '(')
			return 0;
		h->start = h->pos;
		depth = 0;
		do {
			if (h->pos == h->slen) {
				h->why = "unterminated comment";
				return -1;
			}
			if (h->s[h->pos] == '\\' && h->pos + 1 < h->slen)
				h->pos++;
			else if (h->s[h->pos] == '(')
				depth++;
			else if (h->s[h->pos] == ')')
				depth--;
			h->pos++;
		} while (depth > 0);
	}
}

static void
addr_lex_next(struct addr_header *h)
{
	unsigned char c;

	h->prev_end = h->start + h->len;
	if (addr_lex_cfws(h) == -1) {
		h->type = ADDR_TOK_ERROR;
		return;
	}
	h->start = h->pos;
	c = (unsigned char)h->s[h->pos];
	if (c == '\0')
		h->type = ADDR_TOK_END;
	else if (strchr(ADDR_SPECIALS, c) != NULL) {
		h->type = ADDR_TOK_SPECIAL;
		h->pos++;
	} else if (c == '"') {
		h->type = ADDR_TOK_QUOTED;
		if (addr_scan_quoted(h->s, h->slen, &h->pos) == -1) {
			h->type = ADDR_TOK_ERROR;
			h->why = "unterminated quoted string";
		}
	} else if (c == '[') {
		h->type = ADDR_TOK_LITERAL;
		h->pos += strcspn(h->s + h->pos + 1, "[]\\") + 1;
		if (h->s[h->pos] != ']') {
			h->type = ADDR_TOK_ERROR;
			h->why = "bad domain literal";
		} else
			h->pos++;
	} else if (addr_is_atext(c) || c == '.') {
		h->type = ADDR_TOK_ATOM;
		while (addr_is_atext((unsigned char)h->s[h->pos]) ||
		    h->s[h->pos] == '.')
			h->pos++;
	} else {
		h->type = ADDR_TOK_ERROR;
		h->why = "unexpected character";
	}
	h->len = h->pos - h->start;
}

static bool
addr_is_special(const struct addr_header *h, char c)
{
	return h->type == ADDR_TOK_SPECIAL && h->s[h->start] == c;
}

/* Names the value from the current token on; returns -1. */
static int
addr_hdr_fail(struct addr_header *h, const char *why)
{
	if (h->type == ADDR_TOK_ERROR)
		why = h->why;
	if (h->type == ADDR_TOK_END)
		return addr_bad(h->err, "bad address list", h->s, why);
	return addr_bad(h->err, "bad address list at", h->s + h->start, why);
}

/*
 * Collects consecutive words: atoms and, unless domain, quoted strings.
 * For a dot-atom or obs-local-part ("a"."b", RFC 5322 4.4) the words are
 * joined by dots; a phrase has spaces between them (w->spaced). In a
 * domain only dot-joined atoms are taken, so "a@b c@d" stops at "c".
 */
static void
addr_hdr_words(struct addr_header *h, struct addr_words *w, bool domain)
{
	char	 last = '.';
	bool	 joined;

	while (h->type == ADDR_TOK_ATOM ||
	    (!domain && h->type == ADDR_TOK_QUOTED)) {
		joined = last == '.' || h->s[h->start] == '.';
		if (w->n > 0 && !joined) {
			if (domain)
				return;
			w->spaced = true;
		}
		if (buf_append(&w->text, h->s + h->start, h->len) == -1)
			w->overflow = true;	/* an error only in an address */
		last = h->s[h->start + h->len - 1];
		w->n++;
		addr_lex_next(h);
	}
}

/* address-list, or a group-list when in_group (up to the ';'). */
static int
addr_hdr_list(struct addr_header *h, bool in_group)
{
	for (;;) {
		/* RFC 5322 4.4 obs-addr-list: empty elements "a@b,,c@d" */
		while (addr_is_special(h, ','))
			addr_lex_next(h);
		if (h->type == ADDR_TOK_END || (in_group && addr_is_special(h,
		    ';')))
			return 0;
		if (addr_hdr_address(h, in_group) == -1)
			return -1;
		if (h->type == ADDR_TOK_END || (in_group && addr_is_special(h,
		    ';')))
			return 0;
		if (!addr_is_special(h, ','))
			return addr_hdr_fail(h, "expected ',' between "
			    "addresses");
	}
}

/* address = mailbox / group (RFC 5322 3.4); the display name is dropped. */
static int
addr_hdr_address(struct addr_header *h, bool in_group)
{
	struct addr_words w;
	int	 rc;

	memset(&w, 0, sizeof(w));
	buf_init(&w.text, ADDR_MAX);
	h->spec_start = h->start;
	addr_hdr_words(h, &w, false);
	if (addr_is_special(h, '<'))
		rc = addr_hdr_angle(h);
	else if (addr_is_special(h, ':') && w.n > 0 && !in_group) {
		/*
		 * A group (RFC 5322 3.4); its name is dropped. A missing ';'
		 * at the end ("Undisclosed recipients:") is common: tolerated.
		 */
		addr_lex_next(h);
		if ((rc = addr_hdr_list(h, true)) == 0 &&
		    addr_is_special(h, ';'))
			addr_lex_next(h);
	} else if (addr_is_special(h, ':') && w.n > 0)
		rc = addr_hdr_fail(h, "group inside a group");
	else if (w.n == 0)
		rc = addr_hdr_fail(h, "expected an address");
	else if (w.spaced)
		rc = addr_hdr_fail(h, "a display name needs the address in "
		    "'<...>'");
	else
		rc = addr_hdr_mailbox(h, &w);
	buf_free(&w.text);
	return rc;
}

/* A domain: one literal or dot-joined atoms; w->n is 0 when none. */
static void
addr_hdr_domain(struct addr_header *h, struct addr_words *w)
{
	if (h->type != ADDR_TOK_LITERAL) {
		addr_hdr_words(h, w, true);
		return;
	}
	if (buf_append(&w->text, h->s + h->start, h->len) == -1)
		w->overflow = true;
	w->n = 1;
	addr_lex_next(h);
}

/* obs-route "@a,@b:" (RFC 5322 4.4) before the address: skipped. */
static int
addr_hdr_route(struct addr_header *h)
{
	struct addr_words w;

	while (addr_is_special(h, '@') || addr_is_special(h, ',')) {
		if (addr_is_special(h, ',')) {
			addr_lex_next(h);
			continue;
		}
		addr_lex_next(h);
		memset(&w, 0, sizeof(w));
		buf_init(&w.text, ADDR_MAX);
		addr_hdr_domain(h, &w);
		buf_free(&w.text);
		if (w.n == 0)
			return addr_hdr_fail(h, "bad route");
	}
	if (!addr_is_special(h, ':'))
		return addr_hdr_fail(h, "expected ':' after a route");
	addr_lex_next(h);
	return 0;
}

/* angle-addr (RFC 5322 3.4), perhaps with an obs-route. */
static int
addr_hdr_angle(struct addr_header *h)
{
	struct addr_words w;
	int	 rc;

	addr_lex_next(h);
	if (addr_is_special(h, '@') && addr_hdr_route(h) == -1)
		return -1;
	memset(&w, 0, sizeof(w));
	buf_init(&w.text, ADDR_MAX);
	h->spec_start = h->start;
	addr_hdr_words(h, &w, false);
	if (w.n == 0 || w.spaced)
		rc = addr_hdr_fail(h, w.n == 0 ? "empty address in '<>'" :
		    "expected '>'");
	else
		rc = addr_hdr_mailbox(h, &w);
	buf_free(&w.text);
	if (rc == 0 && !addr_is_special(h, '>'))
		return addr_hdr_fail(h, "expected '>'");
	if (rc == 0)
		addr_lex_next(h);
	return rc;
}

/* local (already in w) ["@" domain]: checks it and adds it to the list. */
static int
addr_hdr_mailbox(struct addr_header *h, struct addr_words *local)
{
	struct addr_words domain;
	struct buf addr;
	const char *why = NULL;
	int	 rc = 0;

	memset(&domain, 0, sizeof(domain));
	buf_init(&domain.text, ADDR_MAX);
	buf_init(&addr, ADDR_MAX);
	if (addr_is_special(h, '@')) {
		addr_lex_next(h);
		addr_hdr_domain(h, &domain);
		if (domain.n == 0)
			why = "'@' without a domain";
		else if (!domain.overflow)
			why = addr_check_domain(buf_cstr(&domain.text),
			    domain.text.len);
	}
	if (why == NULL && (local->overflow || domain.overflow ||
	    buf_append(&addr, local->text.data,
	    local->text.len) == -1 || (domain.n > 0 &&
	    buf_printf(&addr, "@%s", buf_cstr(&domain.text)) == -1)))
		why = "address longer than 1024 bytes";
	if (why != NULL)
		rc = addr_hdr_fail(h, why);
	else
		addr_list_add(h->found, buf_cstr(&addr));
	if (why == NULL && h->want_spans) {
		h->spans = xreallocarray(h->spans, h->found->n,
		    sizeof(*h->spans));
		h->spans[h->found->n - 1].start = h->spec_start;
		h->spans[h->found->n - 1].end = h->prev_end;
	}
	buf_free(&domain.text);
	buf_free(&addr);
	return rc;
}

/* Parses value (len bytes and a NUL) into found, h set up by the caller. */
static int
addr_hdr_run(struct addr_header *h, const char *value, size_t len,
    struct addr_list *found, struct err *e)
{
	const char *why;

	h->s = value;
	h->slen = len;
	h->found = found;
	h->err = e;
	if ((why = addr_check_text(value, len, true)) != NULL)
		return addr_bad(e, "bad address list", value, why);
	addr_lex_next(h);
	return addr_hdr_list(h, false);
}

int
addr_parse_header_list(const char *value, struct addr_list *list,
    struct err *e)
{
	struct addr_list found = { NULL, 0 };
	struct addr_header h;
	size_t	 i;
	int	 rc;

	memset(&h, 0, sizeof(h));
	rc = addr_hdr_run(&h, value, strlen(value), &found, e);
	for (i = 0; rc == 0 && i < found.n; i++)
		addr_list_add(list, found.v[i]);
	addr_list_free(&found);
	return rc;
}

/*
 * Bytes of the line break at s[i] that unfolding removes (RFC 5322 2.2.3:
 * a CRLF followed by WSP; a bare LF too, as local mail is written), or 0.
 * Any other CR or LF stays and is refused by addr_check_text.
 */
static size_t
addr_fold_len(const char *s, size_t len, size_t i)
{
	size_t	 n = s[i] == '\r' && i + 1 < len && s[i + 1] == '\n' ? 2 :
	    s[i] == '\n' ? 1 : 0;

	if (n == 0 || i + n >= len || (s[i + n] != ' ' && s[i + n] != '\t'))
		return 0;
	return n;
}

/* raw without its folding line breaks, NUL-terminated. */
static char *
addr_unfold(const char *raw, size_t len, size_t *ulen)
{
	char	*u = xmalloc(len + 1);
	size_t	 r, n = 0;

	for (r = 0; r < len; r++) {
		r += addr_fold_len(raw, len, r);
		u[n++] = raw[r];
	}
	u[n] = '\0';
	*ulen = n;
	return u;
}

/*
 * Moves the raw offset *r and its unfolded offset *u forward until *u is
 * to. Tokens never start with the WSP after a fold, so when to is a token's
 * start *r is that byte, and when it is past a token's end *r is too.
 */
static void
addr_fold_seek(const char *raw, size_t len, size_t *r, size_t *u, size_t to)
{
	while (*u < to) {
		*r += addr_fold_len(raw, len, *r);
		(*r)++;
		(*u)++;
	}
}

/*
 * Appends raw to b with each addr-spec that fn changes put in place of its
 * source span. 1 when something changed, 0 when not, -1 when b is full.
 */
static int
addr_splice(const struct addr_header *h, const char *raw, size_t len,
    char *(*fn)(void *, const char *), void *ctx, struct buf *b)
{
	char	*spec;
	size_t	 i, r = 0, u = 0, copied = 0, start;
	int	 changed = 0, rc = 0;

	for (i = 0; rc == 0 && i < h->found->n; i++) {
		if ((spec = fn(ctx, h->found->v[i])) == NULL)
			continue;
		/* Unchanged text keeps its spacing and comments. */
		if (strcmp(spec, h->found->v[i]) != 0) {
			addr_fold_seek(raw, len, &r, &u, h->spans[i].start);
			start = r;
			addr_fold_seek(raw, len, &r, &u, h->spans[i].end);
			if (buf_append(b, raw + copied, start - copied) == -1 ||
			    buf_append_str(b, spec) == -1)
				rc = -1;
			copied = r;
			changed = 1;
		}
		free(spec);
	}
	if (rc == -1 || buf_append(b, raw + copied, len - copied) == -1)
		return -1;
	return changed;
}

int
addr_rewrite_header_list(const char *value, size_t len,
    char *(*fn)(void *, const char *), void *ctx, struct buf *out,
    struct err *e)
{
	struct addr_list found = { NULL, 0 };
	struct addr_header h;
	struct buf b;
	char	*unfolded;
	size_t	 ulen;
	int	 rc;

	if (len > ADDR_HEADER_MAX)
		return err_set(e, ERR_DATA, "bad address list: longer than "
		    "%d bytes", ADDR_HEADER_MAX);
	unfolded = addr_unfold(value, len, &ulen);
	memset(&h, 0, sizeof(h));
	h.want_spans = true;
	/* Built aside, so that out stays as it was on failure. */
	buf_init(&b, out->max - out->len);
	if ((rc = addr_hdr_run(&h, unfolded, ulen, &found, e)) == 0 &&
	    ((rc = addr_splice(&h, value, len, fn, ctx, &b)) == -1 ||
	    buf_append(out, b.data, b.len) == -1))
		rc = err_set(e, ERR_DATA, "rewritten header too long");
	buf_free(&b);
	free(h.spans);
	free(unfolded);
	addr_list_free(&found);
	return rc;
}

void
addr_list_add(struct addr_list *l, const char *a)
{
	l->v = xreallocarray(l->v, l->n + 1, sizeof(*l->v));
	l->v[l->n++] = xstrdup(a);
}

void
addr_list_free(struct addr_list *l)
{
	size_t	 i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

const char *
addr_domain(const char *a)
{
	const char *at = NULL, *p;
	bool	 quoted = false;

	/* An '@' inside a quoted local part does not start the domain. */
	for (p = a; *p != '\0'; p++) {
		if (quoted && *p == '\\' && p[1] != '\0')
			p++;
		else if (*p == '"')
			quoted = !quoted;
		else if (*p == '@' && !quoted)
			at = p;
	}
	return at != NULL ? at + 1 : NULL;
}

char *
addr_qualify(const char *addr, const char *origin)
{
	if (*addr == '\0' || addr_domain(addr) != NULL)
		return xstrdup(addr);
	return xasprintf("%s@%s", addr, origin);
}

bool
addr_needs_smtputf8(const char *a)
{
	const char *domain = addr_domain(a), *p;
	const char *end = domain != NULL ? domain - 1 : a + strlen(a);

	for (p = a; p < end; p++)
		if ((unsigned char)*p >= 0x80)
			return true;
	return false;
}

/* Non-ASCII, or an A-label that libidn2 should check ("xn--..."). */
static bool
addr_needs_idna(const char *d)
{
	const char *p;

	for (p = d; *p != '\0'; p++)
		if ((unsigned char)*p >= 0x80)
			return true;
	for (p = d;; p++) {
		if (strncasecmp(p, "xn--", 4) == 0)
			return true;
		if ((p = strchr(p, '.')) == NULL)
			return false;
	}
}

int
addr_to_ascii(const char *addr, bool is_domain, char **out, struct err *e)
{
	const char *domain = is_domain ? addr : addr_domain(addr);
	char	*ascii = NULL, *p;
	size_t	 prefix, alen;
	int	 rc;

	*out = NULL;
	if (domain == NULL || domain[0] == '[') {
		*out = xstrdup(addr);
		return 0;
	}
	prefix = (size_t)(domain - addr);	/* the local part and '@' */
	if (!addr_needs_idna(domain)) {
		*out = xstrdup(addr);
		for (p = *out + prefix; *p != '\0'; p++)
			if (*p >= 'A' && *p <= 'Z')
				*p = (char)(*p - 'A' + 'a');
		return 0;
	}
	if ((rc = idn2_to_ascii_8z(domain, &ascii, IDN2_NONTRANSITIONAL)) !=
	    IDN2_OK)
		return addr_bad(e, "invalid international domain", domain,
		    idn2_strerror(rc));
	alen = strlen(ascii);
	*out = xmalloc(prefix + alen + 1);
	memcpy(*out, addr, prefix);
	memcpy(*out + prefix, ascii, alen + 1);
	idn2_free(ascii);
	return 0;
}
