/* SPDX-License-Identifier: ISC */
/*
 * SMTP reply parsing (RFC 5321 4.2), one line at a time, and the EHLO
 * keywords (RFC 5321 4.1.1.1) of a complete reply.
 *
 * Does: check each line's syntax and that the code stays the same, take the
 * RFC 3463 enhanced status code from the first line (RFC 2034), keep the
 * words of every line with control characters made harmless.
 * Does not: any I/O, or decide what a code means (err.c does).
 * Limits: REPLY_MAX_LINES lines and REPLY_MAX_TEXT bytes of text per reply,
 * so a server sending an endless multi-line reply cannot grow our memory.
 */
#include "config.h"

#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "err.h"
#include "reply.h"

/* How much of a bad line is quoted back in an error message. */
#define REPLY_QUOTE_MAX	80
/* RFC 4422 3.1: a SASL mechanism name is 1 to 20 characters. */
#define REPLY_MECH_MAX	20

static int	 reply_malformed(const char *, size_t, struct err *);
static size_t	 reply_enhanced_len(const char *, size_t, int);
static int	 reply_append_text(struct reply *, const char *, size_t);
static const char *reply_next_word(const char *, const char *, size_t *);
static bool	 reply_word_is(const char *, size_t, const char *);
static void	 reply_ehlo_line(const char *, const char *, struct ehlo_caps *);
static unsigned long reply_size_value(const char *, size_t);
static void	 reply_add_mech(struct ehlo_caps *, const char *, size_t);

void
reply_init(struct reply *r)
{
	r->code = 0;
	r->enhanced[0] = '\0';
	buf_init(&r->text, REPLY_MAX_TEXT);
	r->lines = 0;
	r->complete = false;
}

void
reply_reset(struct reply *r)
{
	r->code = 0;
	r->enhanced[0] = '\0';
	buf_reset(&r->text);
	r->lines = 0;
	r->complete = false;
}

void
reply_free(struct reply *r)
{
	buf_free(&r->text);
	reply_init(r);
}

/* Quotes the line with control and non-ASCII bytes escaped, truncated. */
static int
reply_malformed(const char *line, size_t len, struct err *e)
{
	char	 quoted[REPLY_QUOTE_MAX * 4 + 4];
	size_t	 i, q = 0;
	unsigned char c;

	for (i = 0; i < len && i < REPLY_QUOTE_MAX; i++) {
		c = (unsigned char)line[i];
		if (c < 0x20 || c >= 0x7f || c == '\\')
			q += (size_t)snprintf(quoted + q, sizeof(quoted) - q,
			    "\\x%02x", c);
		else
			quoted[q++] = (char)c;
	}
	if (i < len) {
		memcpy(quoted + q, "...", 3);
		q += 3;
	}
	quoted[q] = '\0';
	return err_set(e, ERR_PROTOCOL,
	    "malformed reply line from server: '%s'", quoted);
}

/*
 * Length of an RFC 3463 status code "class.subject.detail" at the start of
 * text (subject and detail 1-3 digits) followed by a space or the end,
 * when its class is the reply's first digit (RFC 2034 3); 0 otherwise.
 */
static size_t
reply_enhanced_len(const char *text, size_t len, int code_class)
{
	size_t	 i, part, digits;

	if (len < 5 || text[0] != '0' + code_class || text[1] != '.')
		return 0;
	i = 2;
	for (part = 0; part < 2; part++) {
		for (digits = 0; i < len && isdigit((unsigned char)text[i]);
		    i++)
			digits++;
		if (digits < 1 || digits > 3)
			return 0;
		if (part == 0) {
			if (i >= len || text[i] != '.')
				return 0;
			i++;
		}
	}
	if (i < len && text[i] != ' ')
		return 0;
	return i;
}

/* Appends one line's words, control characters replaced (tab by space). */
static int
reply_append_text(struct reply *r, const char *text, size_t len)
{
	size_t	 i;
	char	 c;

	if (r->lines > 0 && buf_putc(&r->text, '\n') == -1)
		return -1;
	for (i = 0; i < len; i++) {
		c = text[i];
		if (c == '\t')
			c = ' ';
		else if ((unsigned char)c < 0x20 || c == 0x7f)
			c = '?';
		if (buf_putc(&r->text, c) == -1)
			return -1;
	}
	return 0;
}

int
reply_feed(struct reply *r, const char *line, size_t len, struct err *e)
{
	const char *text;
	size_t	 text_len, enh;
	int	 code;
	bool	 last;

	if (r->complete)
		reply_reset(r);
	/* RFC 5321 4.2: 3 digits, then SP, "-" or nothing, then text. */
	if (len < 3 || line[0] < '2' || line[0] > '5' ||
	    !isdigit((unsigned char)line[1]) ||
	    !isdigit((unsigned char)line[2]) ||
	    (len > 3 && line[3] != ' ' && line[3] != '-'))
		return reply_malformed(line, len, e);
	code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
	if (r->lines > 0 && code != r->code)
		return err_set(e, ERR_PROTOCOL, "reply code changed from %d to "
		    "%d within a multi-line reply from server", r->code, code);
	if (r->lines >= REPLY_MAX_LINES)
		return err_set(e, ERR_PROTOCOL,
		    "reply from server exceeds %d lines", REPLY_MAX_LINES);
	last = len == 3 || line[3] == ' ';
	text = len > 3 ? line + 4 : line + 3;
	text_len = len > 3 ? len - 4 : 0;
	if ((enh = reply_enhanced_len(text, text_len, code / 100)) > 0) {
		if (r->lines == 0)
			(void)snprintf(r->enhanced, sizeof(r->enhanced), "%.*s",
			    (int)enh, text);
		while (enh < text_len && text[enh] == ' ')
			enh++;
		text += enh;
		text_len -= enh;
	}
	if (reply_append_text(r, text, text_len) == -1)
		return err_set(e, ERR_PROTOCOL,
		    "reply from server exceeds %d bytes", REPLY_MAX_TEXT);
	r->code = code;
	r->lines++;
	r->complete = last;
	return last ? 1 : 0;
}

/* Next space-separated word in [p, end); NULL when none is left. */
static const char *
reply_next_word(const char *p, const char *end, size_t *len)
{
	const char *word;

	while (p < end && *p == ' ')
		p++;
	if (p == end)
		return NULL;
	word = p;
	while (p < end && *p != ' ')
		p++;
	*len = (size_t)(p - word);
	return word;
}

static bool
reply_word_is(const char *word, size_t len, const char *keyword)
{
	return strlen(keyword) == len && strncasecmp(word, keyword, len) == 0;
}

/* "SIZE n" (RFC 1870 4): a missing, zero or unreadable n means no limit. */
static unsigned long
reply_size_value(const char *word, size_t len)
{
	unsigned long value = 0;
	size_t	 i;

	if (word == NULL)
		return 0;
	for (i = 0; i < len; i++) {
		if (!isdigit((unsigned char)word[i]))
			return 0;
		if (value > (ULONG_MAX - 9) / 10)
			return 0;
		value = value * 10 + (unsigned long)(word[i] - '0');
	}
	return value;
}

/*
 * Adds a mechanism upper-cased unless already listed, not a valid name
 * (RFC 4422 3.1: A-Z 0-9 - _, 1 to 20 characters), or there is no room.
 */
static void
reply_add_mech(struct ehlo_caps *caps, const char *word, size_t len)
{
	char	 mech[REPLY_MECH_MAX + 1];
	size_t	 i, used, have;
	const char *p, *end, *other;

	if (len == 0 || len > REPLY_MECH_MAX)
		return;
	for (i = 0; i < len; i++) {
		if (!isalnum((unsigned char)word[i]) && word[i] != '-' &&
		    word[i] != '_')
			return;
		mech[i] = (char)toupper((unsigned char)word[i]);
	}
	mech[len] = '\0';
	used = strlen(caps->auth_mechs);
	p = caps->auth_mechs;
	end = p + used;
	while ((other = reply_next_word(p, end, &have)) != NULL) {
		if (have == len && memcmp(other, mech, len) == 0)
			return;
		p = other + have;
	}
	if (used + (used > 0) + len + 1 > sizeof(caps->auth_mechs))
		return;
	(void)snprintf(caps->auth_mechs + used, sizeof(caps->auth_mechs) - used,
	    "%s%s", used > 0 ? " " : "", mech);
}

static void
reply_ehlo_line(const char *p, const char *end, struct ehlo_caps *caps)
{
	const char *word, *arg;
	size_t	 len, arg_len = 0;

	if ((word = reply_next_word(p, end, &len)) == NULL)
		return;
	p = word + len;
	if (reply_word_is(word, len, "PIPELINING"))
		caps->pipelining = true;
	else if (reply_word_is(word, len, "STARTTLS"))
		caps->starttls = true;
	else if (reply_word_is(word, len, "8BITMIME"))
		caps->eightbitmime = true;
	else if (reply_word_is(word, len, "SMTPUTF8"))
		caps->smtputf8 = true;
	else if (reply_word_is(word, len, "ENHANCEDSTATUSCODES"))
		caps->enhancedstatuscodes = true;
	else if (reply_word_is(word, len, "DSN"))
		caps->dsn = true;
	else if (reply_word_is(word, len, "SIZE")) {
		caps->size = true;
		arg = reply_next_word(p, end, &arg_len);
		caps->size_limit = reply_size_value(arg, arg_len);
	} else if (reply_word_is(word, len, "AUTH") ||
	    (len >= 5 && strncasecmp(word, "AUTH=", 5) == 0)) {
		/* RFC 4954 4, and "AUTH=" as old Microsoft servers send it. */
		caps->auth = true;
		if (len > 5)
			reply_add_mech(caps, word + 5, len - 5);
		while ((arg = reply_next_word(p, end, &arg_len)) != NULL) {
			reply_add_mech(caps, arg, arg_len);
			p = arg + arg_len;
		}
	}
}

void
reply_ehlo_caps(const struct reply *r, struct ehlo_caps *caps)
{
	const char *p, *end, *nl;

	memset(caps, 0, sizeof(*caps));
	if (!r->complete || r->code != 250)
		return;
	p = buf_cstr(&r->text);
	end = p + r->text.len;
	/* RFC 5321 4.1.1.1: the first line is the greeting, not a keyword. */
	if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
		return;
	for (p = nl + 1; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		reply_ehlo_line(p, nl, caps);
	}
}
