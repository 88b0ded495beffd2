/* SPDX-License-Identifier: ISC */
/*
 * The queue: crash-safe message files and their envelopes, created
 * through tmp/ with fsync and rename, locked with flock(2) during a
 * delivery attempt, listed, removed and cleaned up after crashes. It does
 * not decide anything about delivery: retry times, expiry and bounces
 * belong to queue and deliver, which only store their decisions here.
 *
 * Layout of queue_directory (directories 02770, files 0640; both modes are
 * set with fchmod after creation, so a strict umask of the submitter
 * cannot lock the queue group out):
 *   tmp/ID.data         a message being written (spool_create)
 *   tmp/ID.env.RANDOM   an envelope being written; RANDOM is 16 hex
 *                       digits, so two writers never share a name
 *   data/ID             the message, never changed once renamed in
 *   env/ID              the envelope: the message is queued exactly
 *                       when this file exists
 *
 * Envelope file, at most SPOOL_ENVELOPE_MAX bytes, every line ending in
 * LF (a missing final LF means a truncated file):
 *   sendrelay-envelope 1
 *   id 0123456789ABCDEF            16 uppercase hex digits   required
 *   sender <rest of line>          "" is the null sender      required
 *   arrival <sec>.<9 digits>                                  required
 *   size <bytes of data/ID>                                   required
 *   eightbit 0|1, smtputf8 0|1, delay-warned 0|1
 *   uid, attempts <unsigned decimal>
 *   last-attempt, next-attempt <decimal seconds, may be negative>
 *   message-id, dsn-notify, dsn-ret, dsn-envid <rest of line>
 *   rcpt <pending|sent|failed> <address>      at least one
 *   status <x.y.z>, remote <host[ip]:port>, reason <text>
 * A line is a name, one SP, and a value that runs to the LF, so addresses
 * keep their spaces ("john smith"@example.org) and UTF-8. Each field
 * appears at most once and before the first rcpt; status, remote and
 * reason belong to the rcpt above them, each at most once. No line holds
 * a control character other than TAB: formatting refuses such an address
 * or sender, and replaces them in other text (CR and LF by a space, the
 * rest by '?'). Optional fields with their default value (0, false, NULL)
 * and a status that is not x.y.z are left out, so a formatted envelope is
 * never longer than a text it was parsed from. Parsing is strict (unknown,
 * duplicate or misplaced names, numbers with anything but digits, missing
 * required fields are errors naming the line): the files are ours, but
 * any member of the queue group can write them.
 *
 * Commit protocol, and what a crash at each instant leaves (the envelope
 * is formatted first, so one that cannot be written fails before step 1):
 *   1. message written to tmp/ID.data, fsync   a tmp/ file
 *   2. rename to data/ID, fsync of data/       an orphan data/ID
 *   3. envelope to tmp/ID.env.R, fsync         orphan data/ID and tmp/ file
 *   4. rename to env/ID, fsync of env/         queued, or as after 3
 *   5. spool_commit() returns 0, the submitter is told "queued"
 * Until 5 the submitter keeps the message (no success was reported), and
 * spool_cleanup() removes the leftovers once they are older than its
 * max_age. (A crash inside 4 may queue a message whose submitter never
 * heard so; if it submits again, that is a new message to us.) An update writes a new tmp/ file and renames it over env/ID,
 * so a crash leaves the old or the new envelope, never a mix. Removal
 * unlinks env/ID (fsync) before data/ID, so a crash between leaves only
 * an orphan. A committed message is therefore never lost, and we send it
 * twice only if a crash or a failed update falls between the server's
 * final reply to the message and the durable envelope update (or
 * removal) that records it: the recipients are still pending then.
 *
 * The lock is flock(2) on data/ID, which belongs to the open file
 * description and dies with its process: a crash leaves no stale lock.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "err.h"
#include "spool.h"
#include "xmalloc.h"

#define SPOOL_NITEMS(a)		(sizeof(a) / sizeof((a)[0]))
/*
 * Set-group-id directories: whatever a file's creator (root's queue run,
 * a submitter), it belongs to the queue group like the directory.
 */
#define SPOOL_DIR_MODE		02770
#define SPOOL_FILE_MODE		0640
#define SPOOL_VERSION_LINE	"sendrelay-envelope 1"
#define SPOOL_CREATE_TRIES	100
#define SPOOL_NSEC_MAX		999999999UL

enum spool_field_type {
	SPOOL_FIELD_ID,
	SPOOL_FIELD_SENDER,	/* required text, no control characters */
	SPOOL_FIELD_TEXT,	/* optional text, sanitized */
	SPOOL_FIELD_ARRIVAL,
	SPOOL_FIELD_SIZE,
	SPOOL_FIELD_BOOL,
	SPOOL_FIELD_ULONG,
	SPOOL_FIELD_UINT,
	SPOOL_FIELD_TIME,
};

struct spool_field {
	const char		*name;
	enum spool_field_type	 type;
	size_t			 offset;	/* in struct spool_envelope */
	bool			 required;
};

/* In the order they are written. */
static const struct spool_field spool_fields[] = {
	{ "id", SPOOL_FIELD_ID, offsetof(struct spool_envelope, id), true },
	{ "sender", SPOOL_FIELD_SENDER,
	    offsetof(struct spool_envelope, sender), true },
	{ "arrival", SPOOL_FIELD_ARRIVAL,
	    offsetof(struct spool_envelope, arrival), true },
	{ "size", SPOOL_FIELD_SIZE, offsetof(struct spool_envelope, size),
	    true },
	{ "eightbit", SPOOL_FIELD_BOOL,
	    offsetof(struct spool_envelope, eightbit), false },
	{ "smtputf8", SPOOL_FIELD_BOOL,
	    offsetof(struct spool_envelope, smtputf8), false },
	{ "uid", SPOOL_FIELD_ULONG, offsetof(struct spool_envelope, uid),
	    false },
	{ "message-id", SPOOL_FIELD_TEXT,
	    offsetof(struct spool_envelope, message_id), false },
	{ "dsn-notify", SPOOL_FIELD_TEXT,
	    offsetof(struct spool_envelope, dsn_notify), false },
	{ "dsn-ret", SPOOL_FIELD_TEXT,
	    offsetof(struct spool_envelope, dsn_ret), false },
	{ "dsn-envid", SPOOL_FIELD_TEXT,
	    offsetof(struct spool_envelope, dsn_envid), false },
	{ "attempts", SPOOL_FIELD_UINT,
	    offsetof(struct spool_envelope, attempts), false },
	{ "last-attempt", SPOOL_FIELD_TIME,
	    offsetof(struct spool_envelope, last_attempt), false },
	{ "next-attempt", SPOOL_FIELD_TIME,
	    offsetof(struct spool_envelope, next_attempt), false },
	{ "delay-warned", SPOOL_FIELD_BOOL,
	    offsetof(struct spool_envelope, delay_warned), false },
};

static const char *const spool_states[] = { "pending", "sent", "failed" };
static const char *const spool_rcpt_fields[] = { "status", "remote",
    "reason" };

struct spool_parse {
	struct spool_envelope	*env;
	size_t			 lineno;
	unsigned		 seen;		/* bit per spool_fields[] */
	unsigned		 rcpt_seen;	/* of spool_rcpt_fields[] */
};

static bool	 spool_is_id_prefix(const char *);
static bool	 spool_is_id(const char *);
static bool	 spool_is_tmp_name(const char *);
static bool	 spool_is_control(char);
static bool	 spool_is_clean(const char *);
static bool	 spool_is_status(const char *);
static int	 spool_put_text(struct buf *, const char *, const char *);
static int	 spool_format_field(struct buf *, const struct spool_field *,
		    const struct spool_envelope *);
static int	 spool_format_rcpt(struct buf *, const struct spool_rcpt *);
static int	 spool_parse_signed(const char *, long long, long long *);
static int	 spool_parse_unsigned(const char *, unsigned long,
		    unsigned long *);
static int	 spool_parse_value(struct spool_envelope *,
		    const struct spool_field *, char *);
static int	 spool_parse_rcpt_line(struct spool_parse *, const char *,
		    char *, struct err *);
static int	 spool_parse_line(struct spool_parse *, char *, size_t,
		    struct err *);
static int	 spool_parse_finish(struct spool_parse *, struct err *);
static void	 spool_random(unsigned char *, size_t);
static int	 spool_fail(const struct spool *, struct err *, int,
		    const char *, ...) __attribute__((format(printf, 4, 5)));
static int	 spool_open_dir(struct spool *, int, const char *, bool, int *,
		    bool *, struct err *);
static int	 spool_write_all(int, const char *, size_t);
static ssize_t	 spool_read_all(int, char *, size_t);
static int	 spool_write_tmp(struct spool *, const char *,
		    const struct buf *, struct err *);
static int	 spool_format_file(const struct spool_envelope *, struct buf *,
		    struct err *);
static int	 spool_write_env(struct spool *, const char *,
		    const struct buf *, bool *, struct err *);
static void	 spool_commit_undo(struct spool *, struct spool_new *, bool,
		    bool);
static int	 spool_read_env(struct spool *, const char *,
		    struct spool_envelope *, struct err *);
static int	 spool_id_unused(const struct spool *, const char *);
static int	 spool_compare_ids(const void *, const void *);
static size_t	 spool_cleanup_dir(struct spool *, int, bool, time_t, time_t);

/* --- names and values --------------------------------------------------- */

static bool
spool_is_id_prefix(const char *s)
{
	size_t	 i;

	for (i = 0; i < SPOOL_ID_LEN; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		    (s[i] >= 'A' && s[i] <= 'F')))
			return false;
	return true;
}

static bool
spool_is_id(const char *s)
{
	return spool_is_id_prefix(s) && s[SPOOL_ID_LEN] == '\0';
}

/* ID.data, or ID.env.RANDOM: nothing else in tmp/ is ours to remove. */
static bool
spool_is_tmp_name(const char *s)
{
	if (!spool_is_id_prefix(s))
		return false;
	s += SPOOL_ID_LEN;
	return strcmp(s, ".data") == 0 ||
	    (strncmp(s, ".env.", 5) == 0 && spool_is_id(s + 5));
}

static bool
spool_is_control(char c)
{
	unsigned char u = (unsigned char)c;

	return (u < 0x20 && u != '\t') || u == 0x7f;
}

static bool
spool_is_clean(const char *s)
{
	for (; *s != '\0'; s++)
		if (spool_is_control(*s))
			return false;
	return true;
}

/* RFC 3463: class "." subject "." detail, 1-3 digits each. */
static bool
spool_is_status(const char *s)
{
	int	 part, n;

	if (*s != '2' && *s != '4' && *s != '5')
		return false;
	s++;
	for (part = 0; part < 2; part++) {
		if (*s++ != '.')
			return false;
		for (n = 0; n < 3 && *s >= '0' && *s <= '9'; n++)
			s++;
		if (n == 0)
			return false;
	}
	return *s == '\0';
}

/* "name text\n" with control characters replaced, so it stays one line. */
static int
spool_put_text(struct buf *b, const char *name, const char *s)
{
	size_t	 n;

	if (buf_printf(b, "%s ", name) == -1)
		return -1;
	for (;;) {
		for (n = 0; s[n] != '\0' && !spool_is_control(s[n]); n++)
			;
		if (buf_append(b, s, n) == -1)
			return -1;
		s += n;
		if (*s == '\0')
			return buf_putc(b, '\n');
		if (buf_putc(b, *s == '\r' || *s == '\n' ? ' ' : '?') == -1)
			return -1;
		s++;
	}
}

/* --- formatting ---------------------------------------------------------- */

static int
spool_format_field(struct buf *b, const struct spool_field *f,
    const struct spool_envelope *env)
{
	const char *member = (const char *)env + f->offset;
	const struct timespec *ts;
	const char *s;

	switch (f->type) {
	case SPOOL_FIELD_ID:
		if (!spool_is_id(member))
			return -1;
		return buf_printf(b, "%s %s\n", f->name, member);
	case SPOOL_FIELD_SENDER:
		s = *(char *const *)member;
		if (s == NULL || !spool_is_clean(s))
			return -1;
		return buf_printf(b, "%s %s\n", f->name, s);
	case SPOOL_FIELD_TEXT:
		s = *(char *const *)member;
		return s == NULL ? 0 : spool_put_text(b, f->name, s);
	case SPOOL_FIELD_ARRIVAL:
		ts = (const struct timespec *)member;
		if (ts->tv_nsec < 0 || (unsigned long)ts->tv_nsec >
		    SPOOL_NSEC_MAX)
			return -1;
		return buf_printf(b, "%s %lld.%09ld\n", f->name,
		    (long long)ts->tv_sec, (long)ts->tv_nsec);
	case SPOOL_FIELD_SIZE:
		if (*(const off_t *)member < 0)
			return -1;
		return buf_printf(b, "%s %lld\n", f->name,
		    (long long)*(const off_t *)member);
	case SPOOL_FIELD_BOOL:
		return !*(const bool *)member ? 0 :
		    buf_printf(b, "%s 1\n", f->name);
	case SPOOL_FIELD_ULONG:
		return *(const unsigned long *)member == 0 ? 0 :
		    buf_printf(b, "%s %lu\n", f->name,
		    *(const unsigned long *)member);
	case SPOOL_FIELD_UINT:
		return *(const unsigned *)member == 0 ? 0 :
		    buf_printf(b, "%s %u\n", f->name,
		    *(const unsigned *)member);
	case SPOOL_FIELD_TIME:
		return *(const time_t *)member == 0 ? 0 :
		    buf_printf(b, "%s %lld\n", f->name,
		    (long long)*(const time_t *)member);
	}
	return -1;
}

static int
spool_format_rcpt(struct buf *b, const struct spool_rcpt *r)
{
	if ((unsigned)r->state >= SPOOL_NITEMS(spool_states) ||
	    r->address == NULL || r->address[0] == '\0' ||
	    !spool_is_clean(r->address))
		return -1;
	if (buf_printf(b, "rcpt %s %s\n", spool_states[r->state],
	    r->address) == -1)
		return -1;
	if (spool_is_status(r->status) &&
	    buf_printf(b, "status %s\n", r->status) == -1)
		return -1;
	if (r->remote != NULL && spool_put_text(b, "remote", r->remote) == -1)
		return -1;
	if (r->reason != NULL && spool_put_text(b, "reason", r->reason) == -1)
		return -1;
	return 0;
}

int
spool_format_envelope(const struct spool_envelope *env, struct buf *out)
{
	struct buf b;
	size_t	 i;
	int	 rc;

	/* Built aside, so that a failure leaves out as it was. */
	buf_init(&b, out->max - out->len);
	rc = buf_append_str(&b, SPOOL_VERSION_LINE "\n");
	for (i = 0; rc == 0 && i < SPOOL_NITEMS(spool_fields); i++)
		rc = spool_format_field(&b, &spool_fields[i], env);
	for (i = 0; rc == 0 && i < env->rcpt_count; i++)
		rc = spool_format_rcpt(&b, &env->rcpts[i]);
	if (rc == 0)
		rc = buf_append(out, b.data, b.len);
	buf_free(&b);
	return rc;
}

/* --- parsing ------------------------------------------------------------- */

/* Digits, with a leading '-' when min < 0; nothing else, not even space. */
static int
spool_parse_signed(const char *s, long long min, long long *out)
{
	const char *digits = s;
	char	*end;
	long long v;

	if (*digits == '-' && min < 0)
		digits++;
	if (*digits < '0' || *digits > '9')
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min)
		return -1;
	*out = v;
	return 0;
}

static int
spool_parse_unsigned(const char *s, unsigned long max, unsigned long *out)
{
	char	*end;
	unsigned long v;

	/* strtoul would take " 1", "+1" and wrap "-1" around. */
	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v > max)
		return -1;
	*out = v;
	return 0;
}

static int
spool_parse_value(struct spool_envelope *env, const struct spool_field *f,
    char *value)
{
	char	*member = (char *)env + f->offset, *dot;
	struct timespec *ts;
	long long n;
	unsigned long u;

	switch (f->type) {
	case SPOOL_FIELD_ID:
		if (!spool_is_id(value))
			return -1;
		memcpy(member, value, SPOOL_ID_LEN + 1);
		return 0;
	case SPOOL_FIELD_SENDER:
	case SPOOL_FIELD_TEXT:
		*(char **)member = xstrdup(value);
		return 0;
	case SPOOL_FIELD_ARRIVAL:
		if ((dot = strchr(value, '.')) == NULL || strlen(dot + 1) != 9)
			return -1;
		*dot = '\0';
		if (spool_parse_signed(value, LLONG_MIN, &n) == -1 ||
		    (time_t)n != n ||
		    spool_parse_unsigned(dot + 1, SPOOL_NSEC_MAX, &u) == -1)
			return -1;
		ts = (struct timespec *)member;
		ts->tv_sec = (time_t)n;
		ts->tv_nsec = (long)u;
		return 0;
	case SPOOL_FIELD_SIZE:
		if (spool_parse_signed(value, 0, &n) == -1 || (off_t)n != n)
			return -1;
		*(off_t *)member = (off_t)n;
		return 0;
	case SPOOL_FIELD_BOOL:
		if (strcmp(value, "0") != 0 && strcmp(value, "1") != 0)
			return -1;
		*(bool *)member = value[0] == '1';
		return 0;
	case SPOOL_FIELD_ULONG:
		if (spool_parse_unsigned(value, ULONG_MAX, &u) == -1)
			return -1;
		*(unsigned long *)member = u;
		return 0;
	case SPOOL_FIELD_UINT:
		if (spool_parse_unsigned(value, UINT_MAX, &u) == -1)
			return -1;
		*(unsigned *)member = (unsigned)u;
		return 0;
	case SPOOL_FIELD_TIME:
		if (spool_parse_signed(value, LLONG_MIN, &n) == -1 ||
		    (time_t)n != n)
			return -1;
		*(time_t *)member = (time_t)n;
		return 0;
	}
	return -1;
}

/* "rcpt state address", or a status/remote/reason line for the last one. */
static int
spool_parse_rcpt_line(struct spool_parse *p, const char *name, char *value,
    struct err *e)
{
	struct spool_envelope *env = p->env;
	struct spool_rcpt *r;
	char	*address;
	size_t	 i;

	if (strcmp(name, "rcpt") == 0) {
		address = strchr(value, ' ');
		if (address == NULL || address[1] == '\0')
			return err_set(e, ERR_DATA,
			    "line %zu: expected 'rcpt state address'",
			    p->lineno);
		*address++ = '\0';
		for (i = 0; i < SPOOL_NITEMS(spool_states); i++)
			if (strcmp(value, spool_states[i]) == 0)
				break;
		if (i == SPOOL_NITEMS(spool_states))
			return err_set(e, ERR_DATA, "line %zu: bad recipient "
			    "state '%.40s'", p->lineno, value);
		spool_envelope_add_rcpt(env, address);
		r = &env->rcpts[env->rcpt_count - 1];
		r->state = (enum spool_rcpt_state)i;
		p->rcpt_seen = 0;
		return 0;
	}
	for (i = 0; strcmp(name, spool_rcpt_fields[i]) != 0; i++)
		;
	if (env->rcpt_count == 0)
		return err_set(e, ERR_DATA, "line %zu: '%s' before any rcpt",
		    p->lineno, name);
	if (p->rcpt_seen & (1u << i))
		return err_set(e, ERR_DATA, "line %zu: duplicate '%s'",
		    p->lineno, name);
	p->rcpt_seen |= 1u << i;
	r = &env->rcpts[env->rcpt_count - 1];
	if (i == 0) {
		if (!spool_is_status(value))
			return err_set(e, ERR_DATA, "line %zu: bad status "
			    "'%.40s'", p->lineno, value);
		(void)snprintf(r->status, sizeof(r->status), "%s", value);
	} else if (i == 1)
		r->remote = xstrdup(value);
	else
		r->reason = xstrdup(value);
	return 0;
}

static int
spool_parse_line(struct spool_parse *p, char *line, size_t len, struct err *e)
{
	const struct spool_field *f;
	char	*value;
	size_t	 i;

	if (p->lineno == 1) {
		if (strlen(SPOOL_VERSION_LINE) != len ||
		    memcmp(line, SPOOL_VERSION_LINE, len) != 0)
			return err_set(e, ERR_DATA, "line 1: not a '%s' "
			    "envelope", SPOOL_VERSION_LINE);
		return 0;
	}
	for (i = 0; i < len; i++)
		if (spool_is_control(line[i]))
			return err_set(e, ERR_DATA, "line %zu: control "
			    "character", p->lineno);
	if ((value = strchr(line, ' ')) == NULL)
		return err_set(e, ERR_DATA, "line %zu: expected 'name value'",
		    p->lineno);
	*value++ = '\0';
	if (strcmp(line, "rcpt") == 0)
		return spool_parse_rcpt_line(p, line, value, e);
	for (i = 0; i < SPOOL_NITEMS(spool_rcpt_fields); i++)
		if (strcmp(line, spool_rcpt_fields[i]) == 0)
			return spool_parse_rcpt_line(p, line, value, e);
	for (i = 0; i < SPOOL_NITEMS(spool_fields); i++)
		if (strcmp(line, spool_fields[i].name) == 0)
			break;
	if (i == SPOOL_NITEMS(spool_fields))
		return err_set(e, ERR_DATA, "line %zu: unknown field '%.40s'",
		    p->lineno, line);
	f = &spool_fields[i];
	if (p->env->rcpt_count > 0)
		return err_set(e, ERR_DATA, "line %zu: '%s' after the "
		    "recipients", p->lineno, f->name);
	if (p->seen & (1u << i))
		return err_set(e, ERR_DATA, "line %zu: duplicate '%s'",
		    p->lineno, f->name);
	p->seen |= 1u << i;
	if (spool_parse_value(p->env, f, value) == -1)
		return err_set(e, ERR_DATA, "line %zu: bad %s '%.40s'",
		    p->lineno, f->name, value);
	return 0;
}

static int
spool_parse_finish(struct spool_parse *p, struct err *e)
{
	size_t	 i;

	if (p->lineno == 0)
		return err_set(e, ERR_DATA, "line 1: empty, not a '%s' "
		    "envelope", SPOOL_VERSION_LINE);
	for (i = 0; i < SPOOL_NITEMS(spool_fields); i++)
		if (spool_fields[i].required && !(p->seen & (1u << i)))
			return err_set(e, ERR_DATA, "line %zu: envelope ends "
			    "without '%s'", p->lineno, spool_fields[i].name);
	if (p->env->rcpt_count == 0)
		return err_set(e, ERR_DATA, "line %zu: envelope ends without "
		    "a recipient", p->lineno);
	return 0;
}

int
spool_parse_envelope(const char *text, size_t len, struct spool_envelope *env,
    struct err *e)
{
	struct spool_parse p;
	const char *pos = text, *end = text + len, *nl;
	char	*line;
	size_t	 linelen;
	int	 rc = 0;

	memset(env, 0, sizeof(*env));
	memset(&p, 0, sizeof(p));
	p.env = env;
	while (rc == 0 && pos < end) {
		p.lineno++;
		nl = memchr(pos, '\n', (size_t)(end - pos));
		if ((size_t)((nl != NULL ? nl + 1 : end) - text) >
		    SPOOL_ENVELOPE_MAX)
			rc = err_set(e, ERR_DATA, "line %zu: envelope larger "
			    "than %d bytes", p.lineno, SPOOL_ENVELOPE_MAX);
		else if (nl == NULL)
			rc = err_set(e, ERR_DATA, "line %zu: no newline at the "
			    "end (truncated?)", p.lineno);
		else {
			/* A copy with a NUL, for strtoll and friends. */
			linelen = (size_t)(nl - pos);
			line = xmalloc(linelen + 1);
			memcpy(line, pos, linelen);
			line[linelen] = '\0';
			rc = spool_parse_line(&p, line, linelen, e);
			free(line);
			pos = nl + 1;
		}
	}
	if (rc == 0)
		rc = spool_parse_finish(&p, e);
	if (rc == -1)
		spool_envelope_free(env);
	return rc;
}

void
spool_envelope_free(struct spool_envelope *env)
{
	size_t	 i;

	for (i = 0; i < env->rcpt_count; i++) {
		free(env->rcpts[i].address);
		free(env->rcpts[i].reason);
		free(env->rcpts[i].remote);
	}
	free(env->rcpts);
	free(env->sender);
	free(env->message_id);
	free(env->dsn_notify);
	free(env->dsn_ret);
	free(env->dsn_envid);
	memset(env, 0, sizeof(*env));
}

void
spool_envelope_add_rcpt(struct spool_envelope *env, const char *address)
{
	struct spool_rcpt *r;

	env->rcpts = xreallocarray(env->rcpts, env->rcpt_count + 1,
	    sizeof(*env->rcpts));
	r = &env->rcpts[env->rcpt_count++];
	memset(r, 0, sizeof(*r));
	r->address = xstrdup(address);
	r->state = SPOOL_RCPT_PENDING;
}

bool
spool_envelope_done(const struct spool_envelope *env)
{
	size_t	 i;

	for (i = 0; i < env->rcpt_count; i++)
		if (env->rcpts[i].state == SPOOL_RCPT_PENDING)
			return false;
	return true;
}

/* --- IDs ----------------------------------------------------------------- */

static void
spool_random(unsigned char *p, size_t len)
{
	struct timespec rt, mt;
	uint64_t x;
	size_t	 done = 0;
	ssize_t	 n;
	int	 fd;

	while (done < len) {
		if ((n = getrandom(p + done, len - done, 0)) > 0)
			done += (size_t)n;
		else if (n == 0 || errno != EINTR)
			break;
	}
	/* Old kernels without getrandom(2), or seccomp filters. */
	if (done < len && (fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC)) !=
	    -1) {
		while (done < len) {
			if ((n = read(fd, p + done, len - done)) > 0)
				done += (size_t)n;
			else if (n == 0 || errno != EINTR)
				break;
		}
		(void)close(fd);
	}
	if (done == len)
		return;
	/*
	 * Last resort, never expected: unpredictable enough for names that
	 * are created with O_EXCL and retried on collision (splitmix64).
	 */
	(void)clock_gettime(CLOCK_REALTIME, &rt);
	(void)clock_gettime(CLOCK_MONOTONIC, &mt);
	x = ((uint64_t)rt.tv_sec << 30) ^ (uint64_t)rt.tv_nsec ^
	    ((uint64_t)mt.tv_nsec << 20) ^ ((uint64_t)getpid() << 40);
	for (; done < len; done++) {
		x += 0x9e3779b97f4a7c15ULL;
		x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
		x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
		p[done] = (unsigned char)((x ^ (x >> 31)) >> 24);
	}
}

int
spool_scratch(struct spool *s, struct err *e)
{
	char	 name[SPOOL_ID_LEN + 16];
	int	 fd, tries;

	fd = openat(s->tmp_fd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd != -1 || (errno != EOPNOTSUPP && errno != EISDIR))
		return fd != -1 ? fd : spool_fail(s, e, errno, "scratch file");
	/* A file system without O_TMPFILE: a named file, unlinked at once. */
	for (tries = 0; tries < SPOOL_CREATE_TRIES; tries++) {
		(void)snprintf(name, sizeof(name), "scratch.");
		spool_new_id(name + strlen(name));
		fd = openat(s->tmp_fd, name, O_RDWR | O_CREAT | O_EXCL |
		    O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd != -1) {
			(void)unlinkat(s->tmp_fd, name, 0);
			return fd;
		}
		if (errno != EEXIST)
			break;
	}
	return spool_fail(s, e, errno, "scratch file");
}

void
spool_new_id(char id[SPOOL_ID_LEN + 1])
{
	static const char hex[] = "0123456789ABCDEF";
	unsigned char r[SPOOL_ID_LEN / 2];
	size_t	 i;

	spool_random(r, sizeof(r));
	for (i = 0; i < sizeof(r); i++) {
		id[2 * i] = hex[r[i] >> 4];
		id[2 * i + 1] = hex[r[i] & 0x0f];
	}
	id[SPOOL_ID_LEN] = '\0';
}

/* --- the directory -------------------------------------------------------- */

static int
spool_fail(const struct spool *s, struct err *e, int errnum, const char *fmt,
    ...)
{
	char	 what[256];
	va_list	 ap;

	va_start(ap, fmt);
	(void)vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return err_set(e, ERR_TEMP, "queue_directory %s: %s: %s", s->dir, what,
	    strerror(errnum));
}

static int
spool_open_dir(struct spool *s, int at, const char *name, bool create,
    int *fd, bool *made, struct err *e)
{
	/* The queue directory itself is already named by spool_fail(). */
	const char *sep = at == AT_FDCWD ? "" : " ";
	const char *label = at == AT_FDCWD ? "" : name;
	bool	 here = false;

	if (create) {
		if (mkdirat(at, name, SPOOL_DIR_MODE) == 0)
			here = *made = true;
		else if (errno != EEXIST)	/* another process was first */
			return spool_fail(s, e, errno, "mkdir%s%s", sep, label);
	}
	if ((*fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return spool_fail(s, e, errno, "open%s%s", sep, label);
	if (here && fchmod(*fd, SPOOL_DIR_MODE) == -1)
		return spool_fail(s, e, errno, "chmod%s%s", sep, label);
	return 0;
}

int
spool_open(struct spool *s, const char *dir, bool create, struct err *e)
{
	bool	 made_top = false, made_sub = false;
	int	 parent;

	s->dir = xstrdup(dir);
	s->dir_fd = s->tmp_fd = s->data_fd = s->env_fd = -1;
	if (spool_open_dir(s, AT_FDCWD, dir, create, &s->dir_fd, &made_top,
	    e) == -1 ||
	    spool_open_dir(s, s->dir_fd, "tmp", create, &s->tmp_fd, &made_sub,
	    e) == -1 ||
	    spool_open_dir(s, s->dir_fd, "data", create, &s->data_fd,
	    &made_sub, e) == -1 ||
	    spool_open_dir(s, s->dir_fd, "env", create, &s->env_fd, &made_sub,
	    e) == -1)
		goto fail;
	/* New directories must survive a crash like the files in them. */
	if ((made_top || made_sub) && fsync(s->dir_fd) == -1) {
		(void)spool_fail(s, e, errno, "fsync");
		goto fail;
	}
	if (made_top) {
		parent = openat(s->dir_fd, "..", O_RDONLY | O_DIRECTORY |
		    O_CLOEXEC);
		if (parent == -1 || fsync(parent) == -1) {
			(void)spool_fail(s, e, errno, "fsync ..");
			if (parent != -1)
				(void)close(parent);
			goto fail;
		}
		(void)close(parent);
	}
	return 0;
fail:
	spool_close(s);
	return -1;
}

void
spool_close(struct spool *s)
{
	int	*fds[] = { &s->dir_fd, &s->tmp_fd, &s->data_fd, &s->env_fd };
	size_t	 i;

	for (i = 0; i < SPOOL_NITEMS(fds); i++) {
		if (*fds[i] != -1)
			(void)close(*fds[i]);
		*fds[i] = -1;
	}
	free(s->dir);
	s->dir = NULL;
}

static int
spool_write_all(int fd, const char *p, size_t len)
{
	ssize_t	 n;

	while (len > 0) {
		if ((n = write(fd, p, len)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0) {
			errno = EIO;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Reads up to len bytes, fewer only at end of file. */
static ssize_t
spool_read_all(int fd, char *p, size_t len)
{
	size_t	 done = 0;
	ssize_t	 n;

	while (done < len) {
		if ((n = read(fd, p + done, len - done)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

/* Creates tmp/name, writes it whole, makes it durable; unlinks on failure. */
static int
spool_write_tmp(struct spool *s, const char *name, const struct buf *b,
    struct err *e)
{
	int	 fd, saved;

	fd = openat(s->tmp_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    SPOOL_FILE_MODE);
	if (fd == -1)
		return spool_fail(s, e, errno, "create tmp/%s", name);
	if (fchmod(fd, SPOOL_FILE_MODE) == -1 ||
	    spool_write_all(fd, b->data, b->len) == -1 || fsync(fd) == -1) {
		saved = errno;
		(void)close(fd);
		(void)unlinkat(s->tmp_fd, name, 0);
		return spool_fail(s, e, saved, "write tmp/%s", name);
	}
	/* NFS reports some write errors only here. */
	if (close(fd) == -1) {
		saved = errno;
		(void)unlinkat(s->tmp_fd, name, 0);
		return spool_fail(s, e, saved, "close tmp/%s", name);
	}
	return 0;
}

/* The envelope as written, or ERR_DATA before any file is touched. */
static int
spool_format_file(const struct spool_envelope *env, struct buf *b,
    struct err *e)
{
	buf_init(b, SPOOL_ENVELOPE_MAX);
	if (spool_format_envelope(env, b) == 0)
		return 0;
	buf_free(b);
	return err_set(e, ERR_DATA, "queue ID %.16s: the envelope cannot be "
	    "written (a control character in an address, or more than %d "
	    "bytes)", env->id, SPOOL_ENVELOPE_MAX);
}

/*
 * Writes a fresh tmp/ID.env.RANDOM and renames it over env/ID, durably.
 * *renamed tells whether env/ID was replaced even on failure (the fsync
 * of env/ may still fail after the rename).
 */
static int
spool_write_env(struct spool *s, const char *id, const struct buf *b,
    bool *renamed, struct err *e)
{
	char	 tmp[SPOOL_ID_LEN * 2 + 8], rnd[SPOOL_ID_LEN + 1];

	*renamed = false;
	spool_new_id(rnd);
	(void)snprintf(tmp, sizeof(tmp), "%s.env.%s", id, rnd);
	if (spool_write_tmp(s, tmp, b, e) == -1)
		return -1;
	if (renameat(s->tmp_fd, tmp, s->env_fd, id) == -1) {
		(void)spool_fail(s, e, errno, "rename tmp/%s to env/%s", tmp,
		    id);
		(void)unlinkat(s->tmp_fd, tmp, 0);
		return -1;
	}
	*renamed = true;
	if (fsync(s->env_fd) == -1)
		return spool_fail(s, e, errno, "fsync env");
	return 0;
}

/* Returns 1 with the envelope, 0 when env/ID does not exist, or -1. */
static int
spool_read_env(struct spool *s, const char *id, struct spool_envelope *env,
    struct err *e)
{
	struct stat st;
	struct err pe;
	char	*text = NULL;
	ssize_t	 got;
	int	 fd, rc = -1;

	memset(env, 0, sizeof(*env));
	if ((fd = openat(s->env_fd, id, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) ==
	    -1)
		return errno == ENOENT ? 0 :
		    spool_fail(s, e, errno, "open env/%s", id);
	if (fstat(fd, &st) == -1)
		(void)spool_fail(s, e, errno, "stat env/%s", id);
	else if (!S_ISREG(st.st_mode) || st.st_size > SPOOL_ENVELOPE_MAX)
		(void)err_set(e, ERR_DATA, "%s/env/%s: not a regular file of "
		    "at most %d bytes", s->dir, id, SPOOL_ENVELOPE_MAX);
	else {
		/* One byte more than expected, to notice a file that grew. */
		text = xmalloc((size_t)st.st_size + 1);
		if ((got = spool_read_all(fd, text, (size_t)st.st_size + 1)) ==
		    -1)
			(void)spool_fail(s, e, errno, "read env/%s", id);
		else if (got != st.st_size)
			(void)err_set(e, ERR_TEMP, "%s/env/%s: changed while "
			    "being read", s->dir, id);
		else if (spool_parse_envelope(text, (size_t)got, env,
		    &pe) == -1)
			(void)err_set(e, ERR_DATA, "%s/env/%s: %s", s->dir, id,
			    pe.text);
		else if (strcmp(env->id, id) != 0) {
			(void)err_set(e, ERR_DATA, "%s/env/%s: envelope of "
			    "%s", s->dir, id, env->id);
			spool_envelope_free(env);
		} else
			rc = 1;
	}
	free(text);
	(void)close(fd);
	return rc;
}

/* --- messages ------------------------------------------------------------ */

/* 1 when neither data/ID nor env/ID exists, 0 when one does, -1 (errno). */
static int
spool_id_unused(const struct spool *s, const char *id)
{
	struct stat st;

	if (fstatat(s->data_fd, id, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return 0;
	if (errno != ENOENT)
		return -1;
	if (fstatat(s->env_fd, id, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return 0;
	return errno == ENOENT ? 1 : -1;
}

int
spool_create(struct spool *s, struct spool_new *n, struct err *e)
{
	int	 tries, saved, rc;

	n->fd = -1;
	n->tmp_name[0] = '\0';
	for (tries = 0; tries < SPOOL_CREATE_TRIES; tries++) {
		spool_new_id(n->id);
		/* The renames in spool_commit() would replace a queued one. */
		if ((rc = spool_id_unused(s, n->id)) == -1)
			return spool_fail(s, e, errno, "stat %s", n->id);
		if (rc == 0)
			continue;
		(void)snprintf(n->tmp_name, sizeof(n->tmp_name), "%s.data",
		    n->id);
		n->fd = openat(s->tmp_fd, n->tmp_name, O_RDWR | O_CREAT |
		    O_EXCL | O_CLOEXEC, SPOOL_FILE_MODE);
		if (n->fd == -1 && errno == EEXIST)
			continue;
		if (n->fd == -1 || fchmod(n->fd, SPOOL_FILE_MODE) == -1) {
			saved = errno;
			spool_abort(s, n);
			return spool_fail(s, e, saved, "create tmp/%s.data",
			    n->id);
		}
		return 0;
	}
	n->tmp_name[0] = '\0';
	return spool_fail(s, e, EEXIST, "no unused queue ID");
}

int
spool_commit(struct spool *s, struct spool_new *n,
    struct spool_envelope *env, struct err *e)
{
	struct buf b;
	bool	 renamed = false;
	int	 rc = -1;

	memcpy(env->id, n->id, sizeof(env->id));
	if (spool_format_file(env, &b, e) == -1) {
		spool_commit_undo(s, n, false, false);
		return -1;
	}
	if (fsync(n->fd) == -1)
		(void)spool_fail(s, e, errno, "fsync tmp/%s", n->tmp_name);
	else if (renameat(s->tmp_fd, n->tmp_name, s->data_fd, n->id) == -1)
		(void)spool_fail(s, e, errno, "rename tmp/%s to data/%s",
		    n->tmp_name, n->id);
	else if (fsync(s->data_fd) == -1)
		(void)spool_fail(s, e, errno, "fsync data");
	else
		rc = spool_write_env(s, n->id, &b, &renamed, e);
	if (rc == -1)
		spool_commit_undo(s, n, true, renamed);
	n->tmp_name[0] = '\0';
	buf_free(&b);
	return rc;
}

/* Removes every file of a failed commit; the fd stays open. */
static void
spool_commit_undo(struct spool *s, struct spool_new *n, bool data,
    bool env)
{
	if (env)
		(void)unlinkat(s->env_fd, n->id, 0);
	if (data)
		(void)unlinkat(s->data_fd, n->id, 0);
	(void)unlinkat(s->tmp_fd, n->tmp_name, 0);
	n->tmp_name[0] = '\0';
}

void
spool_abort(struct spool *s, struct spool_new *n)
{
	if (n->tmp_name[0] != '\0')
		(void)unlinkat(s->tmp_fd, n->tmp_name, 0);
	n->tmp_name[0] = '\0';
	if (n->fd != -1)
		(void)close(n->fd);
	n->fd = -1;
}

int
spool_lock(struct spool *s, const char *id, int *data_fd,
    struct spool_envelope *env, struct err *e)
{
	int	 fd, rc, saved;

	*data_fd = -1;
	memset(env, 0, sizeof(*env));
	if (!spool_is_id(id))
		return err_set(e, ERR_DATA, "invalid queue ID '%.40s'", id);
	if ((fd = openat(s->data_fd, id, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) ==
	    -1)
		return errno == ENOENT ? 0 :
		    spool_fail(s, e, errno, "open data/%s", id);
	while ((rc = flock(fd, LOCK_EX | LOCK_NB)) == -1 && errno == EINTR)
		;
	if (rc == -1) {
		saved = errno;
		(void)close(fd);
		return saved == EWOULDBLOCK ? 0 :
		    spool_fail(s, e, saved, "lock data/%s", id);
	}
	/* Gone after we opened data/ID: delivered by the lock's last owner. */
	if ((rc = spool_read_env(s, id, env, e)) != 1) {
		(void)close(fd);
		return rc;
	}
	*data_fd = fd;
	return 1;
}

int
spool_update(struct spool *s, const struct spool_envelope *env,
    struct err *e)
{
	struct buf b;
	bool	 renamed;
	int	 rc;

	if (!spool_is_id(env->id))
		return err_set(e, ERR_DATA, "invalid queue ID '%.16s'",
		    env->id);
	if (spool_format_file(env, &b, e) == -1)
		return -1;
	rc = spool_write_env(s, env->id, &b, &renamed, e);
	buf_free(&b);
	return rc;
}

int
spool_remove(struct spool *s, const char *id, struct err *e)
{
	if (!spool_is_id(id))
		return err_set(e, ERR_DATA, "invalid queue ID '%.40s'", id);
	if (unlinkat(s->env_fd, id, 0) == -1 && errno != ENOENT)
		return spool_fail(s, e, errno, "unlink env/%s", id);
	if (fsync(s->env_fd) == -1)
		return spool_fail(s, e, errno, "fsync env");
	if (unlinkat(s->data_fd, id, 0) == -1 && errno != ENOENT)
		return spool_fail(s, e, errno, "unlink data/%s", id);
	if (fsync(s->data_fd) == -1)
		return spool_fail(s, e, errno, "fsync data");
	return 0;
}

int
spool_read(struct spool *s, const char *id, struct spool_envelope *env,
    struct err *e)
{
	memset(env, 0, sizeof(*env));
	if (!spool_is_id(id))
		return err_set(e, ERR_DATA, "invalid queue ID '%.40s'", id);
	return spool_read_env(s, id, env, e);
}

static int
spool_compare_ids(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int
spool_list(struct spool *s, char ***idsp, size_t *countp, struct err *e)
{
	struct dirent *de;
	DIR	*d;
	char	**ids = NULL;
	size_t	 n = 0, cap = 0;
	int	 fd, saved;

	*idsp = NULL;
	*countp = 0;
	if ((fd = fcntl(s->env_fd, F_DUPFD_CLOEXEC, 0)) == -1)
		return spool_fail(s, e, errno, "dup env");
	if ((d = fdopendir(fd)) == NULL) {
		saved = errno;
		(void)close(fd);
		return spool_fail(s, e, saved, "opendir env");
	}
	/* The duplicate shares its offset with env_fd and earlier listings. */
	rewinddir(d);
	for (;;) {
		errno = 0;
		if ((de = readdir(d)) == NULL)
			break;
		if (!spool_is_id(de->d_name))
			continue;
		if (n + 1 >= cap) {
			cap = cap == 0 ? 16 : cap * 2;
			ids = xreallocarray(ids, cap, sizeof(*ids));
		}
		ids[n++] = xstrdup(de->d_name);
	}
	saved = errno;
	(void)closedir(d);
	if (saved != 0) {
		while (n > 0)
			free(ids[--n]);
		free(ids);
		return spool_fail(s, e, saved, "read env");
	}
	if (ids == NULL)
		ids = xcalloc(1, sizeof(*ids));
	ids[n] = NULL;
	qsort(ids, n, sizeof(*ids), spool_compare_ids);
	*idsp = ids;
	*countp = n;
	return 0;
}

void
spool_ids_free(char **ids)
{
	size_t	 i;

	if (ids == NULL)
		return;
	for (i = 0; ids[i] != NULL; i++)
		free(ids[i]);
	free(ids);
}

static size_t
spool_cleanup_dir(struct spool *s, int dirfd, bool is_tmp, time_t now,
    time_t max_age)
{
	struct dirent *de;
	struct stat st;
	DIR	*d;
	size_t	 removed = 0;
	int	 fd;

	if ((fd = fcntl(dirfd, F_DUPFD_CLOEXEC, 0)) == -1)
		return 0;
	if ((d = fdopendir(fd)) == NULL) {
		(void)close(fd);
		return 0;
	}
	rewinddir(d);
	while ((de = readdir(d)) != NULL) {
		if (is_tmp ? !spool_is_tmp_name(de->d_name) :
		    !spool_is_id(de->d_name))
			continue;
		if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) ==
		    -1 || S_ISDIR(st.st_mode) || now - st.st_mtime <= max_age)
			continue;
		/* With an envelope, data/ID is a queued message at any age. */
		if (!is_tmp && (fstatat(s->env_fd, de->d_name, &st,
		    AT_SYMLINK_NOFOLLOW) == 0 || errno != ENOENT))
			continue;
		if (unlinkat(dirfd, de->d_name, 0) == 0)
			removed++;
	}
	(void)closedir(d);
	return removed;
}

size_t
spool_cleanup(struct spool *s, time_t now, time_t max_age)
{
	return spool_cleanup_dir(s, s->tmp_fd, true, now, max_age) +
	    spool_cleanup_dir(s, s->data_fd, false, now, max_age);
}
