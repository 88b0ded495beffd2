/* SPDX-License-Identifier: ISC */
/*
 * sendmail -bs: the server side of one SMTP dialogue (RFC 5321) over two
 * plain file descriptors, blocking I/O. Commands are read through a
 * bounded line reader, answered in order and the replies flushed before
 * every blocking read, which is all PIPELINING (RFC 2920) asks of a
 * server. The content after DATA is un-dot-stuffed into the caller's
 * scratch file with CRLF line ends; the caller's accept hook decides what
 * becomes of it. This module never queues or delivers anything itself,
 * keeps no state between sessions, and does not speak STARTTLS, AUTH,
 * BDAT or DSN: on a local pipe they have nothing to protect or report.
 * Limits: command lines of SMTPD_LINE_MAX bytes, content lines of
 * SMTPD_DATA_LINE_MAX, SMTPD_RCPT_MAX recipients per message.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "addr.h"
#include "buf.h"
#include "err.h"
#include "smtpd.h"
#include "xmalloc.h"

#define SMTPD_DATA_LINE_MAX	(1024 * 1024)	/* far beyond RFC 5322's 998 */
#define SMTPD_READ_SIZE		(16 * 1024)
#define SMTPD_OUT_MAX		(64 * 1024)	/* replies awaiting a flush */
#define SMTPD_SCRATCH_BUF	(64 * 1024)	/* content awaiting a write */
#define SMTPD_REPLY_MAX		512	/* RFC 5321 4.5.3.1.5, CRLF included */
#define SMTPD_ERRORS_MAX	20	/* consecutive refused commands */
#define SMTPD_QUEUE_ID_MAX	64

/* One session. */
struct smtpd {
	int		 in_fd;
	int		 out_fd;
	const char	*hostname;
	long		 size_limit;	/* 0: none */
	const struct smtpd_hooks *hooks;
	char		*in;		/* SMTPD_READ_SIZE bytes read ahead */
	size_t		 in_pos;
	size_t		 in_len;
	struct buf	 out;		/* replies not yet written */
	struct buf	 line;		/* the current line, without CR LF */
	char		*sender;	/* NULL: no MAIL yet; "": null sender */
	struct addr_list rcpts;
	int		 errors;	/* consecutive refused commands */
	struct err	*err;
};

/* One message's content on its way into the scratch file. */
struct smtpd_data {
	int		 fd;
	struct buf	 pending;	/* bytes not yet written to fd */
	unsigned long long size;
	bool		 too_big;
	bool		 line_too_long;
	bool		 write_failed;
	int		 write_errno;
};

struct smtpd_command {
	const char	*verb;
	int		(*handler)(struct smtpd *, const char *);
	const char	*reply;		/* without a handler, always this */
};

static int	 smtpd_flush(struct smtpd *);
static int	 smtpd_fill(struct smtpd *);
static int	 smtpd_read_line(struct smtpd *, size_t, bool *);
static size_t	 smtpd_utf8_cut(const char *, size_t);
static int	 smtpd_reply(struct smtpd *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static int	 smtpd_refuse(struct smtpd *, const char *);
static void	 smtpd_reset(struct smtpd *);
static const char *smtpd_path_end(const char *);
static int	 smtpd_parse_path(const char *, char **, const char **,
		    struct err *);
static const char *smtpd_mail_param(const struct smtpd *, const char *,
		    const char *);
static int	 smtpd_mail_params(struct smtpd *, const char *);
static void	 smtpd_scratch_put(struct smtpd_data *, const char *, size_t);
static void	 smtpd_scratch_flush(struct smtpd_data *);
static void	 smtpd_scratch_write(struct smtpd_data *, const char *,
		    size_t);
static int	 smtpd_data_read(struct smtpd *, struct smtpd_data *);
static int	 smtpd_scratch_failed(struct smtpd *);
static int	 smtpd_data_finish(struct smtpd *, struct smtpd_data *);
static int	 smtpd_deliver(struct smtpd *, int);
static int	 smtpd_cmd_ehlo(struct smtpd *, const char *);
static int	 smtpd_cmd_helo(struct smtpd *, const char *);
static int	 smtpd_cmd_mail(struct smtpd *, const char *);
static int	 smtpd_cmd_rcpt(struct smtpd *, const char *);
static int	 smtpd_cmd_data(struct smtpd *, const char *);
static int	 smtpd_cmd_rset(struct smtpd *, const char *);
static int	 smtpd_cmd_quit(struct smtpd *, const char *);
static int	 smtpd_dispatch(struct smtpd *);

/*
 * Handlers return 0 to go on, 1 to end the session normally (QUIT, end
 * of input, too many errors) and -1 with s->err set.
 */
static const struct smtpd_command smtpd_commands[] = {
	{ "EHLO",	smtpd_cmd_ehlo,	NULL },
	{ "HELO",	smtpd_cmd_helo,	NULL },
	{ "MAIL",	smtpd_cmd_mail,	NULL },
	{ "RCPT",	smtpd_cmd_rcpt,	NULL },
	{ "DATA",	smtpd_cmd_data,	NULL },
	{ "RSET",	smtpd_cmd_rset,	NULL },
	{ "QUIT",	smtpd_cmd_quit,	NULL },
	{ "NOOP",	NULL,	"250 2.0.0 Ok" },
	{ "HELP",	NULL,	"214 2.0.0 Commands: EHLO HELO MAIL RCPT DATA "
	    "RSET NOOP QUIT HELP" },
	{ "VRFY",	NULL,	"502 5.5.1 VRFY and EXPN are not supported" },
	{ "EXPN",	NULL,	"502 5.5.1 VRFY and EXPN are not supported" },
	/* on a local pipe there is nothing to encrypt or authenticate */
	{ "STARTTLS",	NULL,	"502 5.5.1 command not supported" },
	{ "AUTH",	NULL,	"502 5.5.1 command not supported" },
	{ "BDAT",	NULL,	"502 5.5.1 command not supported" },
};

static int
smtpd_flush(struct smtpd *s)
{
	const char *p = s->out.data;
	size_t	 left = s->out.len;
	ssize_t	 n;

	while (left > 0) {
		if ((n = write(s->out_fd, p, left)) == -1) {
			if (errno == EINTR)
				continue;
			return err_set(s->err, ERR_IOERR,
			    "writing SMTP replies: %s", strerror(errno));
		}
		p += n;
		left -= (size_t)n;
	}
	buf_reset(&s->out);
	return 0;
}

/*
 * Reads more input; the replies go out first, so a pipelining client
 * that waits for them before sending more is never left waiting.
 * 1: bytes read, 0: end of input, -1: error.
 */
static int
smtpd_fill(struct smtpd *s)
{
	ssize_t	 n;

	if (smtpd_flush(s) == -1)
		return -1;
	do
		n = read(s->in_fd, s->in, SMTPD_READ_SIZE);
	while (n == -1 && errno == EINTR);
	if (n == -1)
		return err_set(s->err, ERR_IOERR, "reading SMTP input: %s",
		    strerror(errno));
	s->in_pos = 0;
	s->in_len = (size_t)n;
	return n > 0;
}

/*
 * The next line into s->line, its CR LF or bare LF removed. Bytes past
 * limit are dropped up to the LF and *too_long is set. A last line
 * without LF counts as not sent. 1: a line, 0: end of input, -1: error.
 */
static int
smtpd_read_line(struct smtpd *s, size_t limit, bool *too_long)
{
	const char *start, *nl;
	size_t	 avail, take;
	int	 rc;

	buf_reset(&s->line);
	*too_long = false;
	do {
		if (s->in_pos == s->in_len && (rc = smtpd_fill(s)) != 1)
			return rc;
		start = s->in + s->in_pos;
		avail = s->in_len - s->in_pos;
		nl = memchr(start, '\n', avail);
		take = nl != NULL ? (size_t)(nl - start) : avail;
		if (*too_long || take > limit - s->line.len)
			*too_long = true;
		else if (buf_append(&s->line, start, take) == -1)
			*too_long = true;
		s->in_pos += take + (nl != NULL ? 1 : 0);
	} while (nl == NULL);
	if (*too_long)
		buf_reset(&s->line);
	else if (s->line.len > 0 && s->line.data[s->line.len - 1] == '\r')
		s->line.data[--s->line.len] = '\0';
	return 1;
}

/* Shortens a cut text so that it does not end in half a UTF-8 character. */
static size_t
smtpd_utf8_cut(const char *s, size_t len)
{
	size_t	 start = len, need;
	unsigned char lead;

	while (start > 0 && len - start < 3 &&
	    ((unsigned char)s[start - 1] & 0xc0) == 0x80)
		start--;
	if (start == 0 || (unsigned char)s[start - 1] < 0xc0)
		return len;
	lead = (unsigned char)s[start - 1];
	need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2;
	return len - (start - 1) < need ? start - 1 : len;
}

/*
 * Queues one reply line. The text may carry words from elsewhere (an
 * error from the accept hook, a queue id), so it is kept to one line of
 * printable bytes that fits the reply limit.
 */
static int
smtpd_reply(struct smtpd *s, const char *fmt, ...)
{
	char	 line[SMTPD_REPLY_MAX];
	va_list	 ap;
	size_t	 len, i;
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 2, fmt, ap);
	va_end(ap);
	if (n < 0)
		line[0] = '\0';
	len = strlen(line);
	if (n >= 0 && (size_t)n > len)
		len = smtpd_utf8_cut(line, len);
	for (i = 0; i < len; i++)
		if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
			line[i] = '?';
	line[len++] = '\r';
	line[len++] = '\n';
	if (len > s->out.max - s->out.len && smtpd_flush(s) == -1)
		return -1;
	(void)buf_append(&s->out, line, len);
	return 0;
}

/* A refused command: counts towards the consecutive error limit. */
static int
smtpd_refuse(struct smtpd *s, const char *reply)
{
	s->errors++;
	return smtpd_reply(s, "%s", reply);
}

static void
smtpd_reset(struct smtpd *s)
{
	free(s->sender);
	s->sender = NULL;
	addr_list_free(&s->rcpts);
}

/* Past the '>' closing the path that starts at p[0] == '<', or NULL. */
static const char *
smtpd_path_end(const char *p)
{
	bool	 quoted = false;

	for (p++; *p != '\0'; p++) {
		if (quoted && *p == '\\' && p[1] != '\0')
			p++;
		else if (*p == '"')
			quoted = !quoted;
		else if (*p == '>' && !quoted)
			return p + 1;
	}
	return NULL;
}

/*
 * "<path> params" or, leniently, "path params": the address into *addr,
 * the parameters (maybe "") into *params.
 */
static int
smtpd_parse_path(const char *arg, char **addr, const char **params,
    struct err *e)
{
	const char *end;
	char	*path;
	int	 rc;

	*addr = NULL;
	arg += strspn(arg, " ");	/* "MAIL FROM: <a@b>" is common */
	if (*arg == '<')
		end = smtpd_path_end(arg);
	else
		end = arg + strcspn(arg, " ");
	if (end == NULL || end == arg)
		return err_set(e, ERR_DATA, "missing or unterminated path");
	if (*end != '\0' && *end != ' ')
		return err_set(e, ERR_DATA, "text after the path");
	path = xstrndup(arg, (size_t)(end - arg));
	rc = addr_parse_envelope(path, addr, e);
	free(path);
	*params = end + strspn(end, " ");
	return rc;
}

/*
 * One MAIL parameter: RFC 1869 SIZE, RFC 1652 BODY, RFC 6531 SMTPUTF8.
 * NULL when it is accepted, else the reply refusing it.
 */
static const char *
smtpd_mail_param(const struct smtpd *s, const char *key, const char *value)
{
	unsigned long long size;
	char	*end;

	if (strcasecmp(key, "SIZE") == 0 && value != NULL) {
		errno = 0;
		size = strtoull(value, &end, 10);
		if (*value < '0' || *value > '9' || *end != '\0' ||
		    errno == ERANGE)
			return "501 5.5.4 bad SIZE value";
		if (s->size_limit > 0 &&
		    size > (unsigned long long)s->size_limit)
			return "552 5.3.4 message size exceeds fixed limit";
		return NULL;
	}
	if (strcasecmp(key, "BODY") == 0 && value != NULL &&
	    (strcasecmp(value, "7BIT") == 0 ||
	    strcasecmp(value, "8BITMIME") == 0))
		return NULL;
	if (strcasecmp(key, "SMTPUTF8") == 0 && value == NULL)
		return NULL;
	return "555 5.5.4 unsupported MAIL parameter";
}

/* 0: all accepted, 1: one refused (replied), -1: error. */
static int
smtpd_mail_params(struct smtpd *s, const char *params)
{
	char	*copy, *word, *next, *value;
	const char *why = NULL;

	copy = xstrdup(params);
	for (word = copy; why == NULL && word != NULL; word = next) {
		if ((next = strchr(word, ' ')) != NULL)
			*next++ = '\0';
		if (*word == '\0')
			continue;
		if ((value = strchr(word, '=')) != NULL)
			*value++ = '\0';
		why = smtpd_mail_param(s, word, value);
	}
	free(copy);
	if (why == NULL)
		return 0;
	return smtpd_refuse(s, why) == -1 ? -1 : 1;
}

static int
smtpd_cmd_ehlo(struct smtpd *s, const char *arg)
{
	if (*arg == '\0')
		return smtpd_refuse(s, "501 5.5.4 Syntax: EHLO hostname");
	smtpd_reset(s);
	if (smtpd_reply(s, "250-%s", s->hostname) == -1 ||
	    smtpd_reply(s, "250-PIPELINING") == -1 ||
	    (s->size_limit > 0 ?
	    smtpd_reply(s, "250-SIZE %ld", s->size_limit) :
	    smtpd_reply(s, "250-SIZE")) == -1 ||
	    smtpd_reply(s, "250-8BITMIME") == -1 ||
	    smtpd_reply(s, "250-SMTPUTF8") == -1 ||
	    smtpd_reply(s, "250-ENHANCEDSTATUSCODES") == -1)
		return -1;
	return smtpd_reply(s, "250 HELP");
}

static int
smtpd_cmd_helo(struct smtpd *s, const char *arg)
{
	if (*arg == '\0')
		return smtpd_refuse(s, "501 5.5.4 Syntax: HELO hostname");
	smtpd_reset(s);
	return smtpd_reply(s, "250 %s", s->hostname);
}

/* Allowed before EHLO/HELO: RFC 5321 4.1.4 wants it, clients skip it. */
static int
smtpd_cmd_mail(struct smtpd *s, const char *arg)
{
	const char *path, *params;
	char	*sender;
	struct err e;
	int	 rc;

	if (s->sender != NULL)
		return smtpd_refuse(s, "503 5.5.1 nested MAIL command");
	if (strncasecmp(arg, "FROM:", 5) != 0)
		return smtpd_refuse(s, "501 5.5.4 Syntax: MAIL FROM:<address>");
	path = arg + 5;
	if (smtpd_parse_path(path, &sender, &params, &e) == -1) {
		s->errors++;
		return smtpd_reply(s, "501 5.1.7 %s", e.text);
	}
	if ((rc = smtpd_mail_params(s, params)) != 0) {
		free(sender);
		return rc == -1 ? -1 : 0;
	}
	s->sender = sender;
	return smtpd_reply(s, "250 2.1.0 Ok");
}

static int
smtpd_cmd_rcpt(struct smtpd *s, const char *arg)
{
	const char *path, *params;
	char	*rcpt;
	struct err e;
	int	 rc;

	if (s->sender == NULL)
		return smtpd_refuse(s, "503 5.5.1 need MAIL command");
	if (strncasecmp(arg, "TO:", 3) != 0)
		return smtpd_refuse(s, "501 5.5.4 Syntax: RCPT TO:<address>");
	path = arg + 3;
	if (smtpd_parse_path(path, &rcpt, &params, &e) == -1) {
		s->errors++;
		return smtpd_reply(s, "501 5.1.3 %s", e.text);
	}
	if (*rcpt == '\0')
		rc = smtpd_refuse(s, "501 5.1.3 null recipient address");
	else if (*params != '\0')
		rc = smtpd_refuse(s, "555 5.5.4 RCPT parameters are not "
		    "supported");
	else if (s->rcpts.n >= SMTPD_RCPT_MAX)
		rc = smtpd_reply(s, "452 4.5.3 too many recipients");
	else {
		addr_list_add(&s->rcpts, rcpt);
		rc = smtpd_reply(s, "250 2.1.5 Ok");
	}
	free(rcpt);
	return rc;
}

/* Writes straight to the scratch file; the first error sticks. */
static void
smtpd_scratch_put(struct smtpd_data *d, const char *p, size_t len)
{
	ssize_t	 n;

	while (len > 0 && !d->write_failed) {
		if ((n = write(d->fd, p, len)) == -1) {
			if (errno == EINTR)
				continue;
			d->write_failed = true;
			d->write_errno = errno;
			break;
		}
		p += n;
		len -= (size_t)n;
	}
}

static void
smtpd_scratch_flush(struct smtpd_data *d)
{
	smtpd_scratch_put(d, d->pending.data, d->pending.len);
	buf_reset(&d->pending);
}

/* Appends to the scratch file through a buffer, to save system calls. */
static void
smtpd_scratch_write(struct smtpd_data *d, const char *p, size_t len)
{
	if (len > d->pending.max - d->pending.len)
		smtpd_scratch_flush(d);
	if (buf_append(&d->pending, p, len) == -1)
		smtpd_scratch_put(d, p, len);	/* larger than the buffer */
}

/*
 * Content lines up to "." (RFC 5321 4.1.1.4), leading dots removed
 * (4.5.2). Once the message cannot be accepted (too big, a line too
 * long, a write error) nothing more is written but the content is still
 * read to its end, so the rest is not taken for commands.
 * 1: end of data, 0: end of input, -1: error.
 */
static int
smtpd_data_read(struct smtpd *s, struct smtpd_data *d)
{
	const char *p;
	size_t	 len;
	bool	 too_long;
	int	 rc;

	for (;;) {
		if ((rc = smtpd_read_line(s, SMTPD_DATA_LINE_MAX,
		    &too_long)) != 1)
			return rc;
		if (too_long) {
			d->line_too_long = true;
			continue;
		}
		p = s->line.data != NULL ? s->line.data : "";
		len = s->line.len;
		if (len == 1 && p[0] == '.')
			break;
		if (len > 0 && p[0] == '.') {
			p++;
			len--;
		}
		d->size += len + 2;
		if (s->size_limit > 0 &&
		    d->size > (unsigned long long)s->size_limit)
			d->too_big = true;
		if (d->too_big || d->line_too_long || d->write_failed)
			continue;
		smtpd_scratch_write(d, p, len);
		smtpd_scratch_write(d, "\r\n", 2);
	}
	smtpd_scratch_flush(d);
	return 1;
}

/*
 * The scratch file failed (s->err says how): the client hears 451 and
 * the session ends, the caller keeping this error rather than any
 * failure to send that reply.
 */
static int
smtpd_scratch_failed(struct smtpd *s)
{
	struct err keep;

	err_copy(&keep, s->err);
	(void)smtpd_reply(s, "451 4.3.0 %s", keep.text);
	(void)smtpd_flush(s);
	err_copy(s->err, &keep);
	return -1;
}

/* The reply to the end of data. -1 only when the scratch file failed. */
static int
smtpd_data_finish(struct smtpd *s, struct smtpd_data *d)
{
	if (d->write_failed) {
		err_set(s->err, ERR_IOERR, "writing the message to a scratch "
		    "file: %s", strerror(d->write_errno));
		return smtpd_scratch_failed(s);
	}
	if (d->line_too_long)
		return smtpd_reply(s, "552 5.3.4 line too long");
	if (d->too_big)
		return smtpd_reply(s, "552 5.3.4 message size exceeds fixed "
		    "limit of %ld bytes", s->size_limit);
	if (lseek(d->fd, 0, SEEK_SET) == -1) {
		err_set(s->err, ERR_IOERR, "rewinding the scratch file: %s",
		    strerror(errno));
		return smtpd_scratch_failed(s);
	}
	return smtpd_deliver(s, d->fd);
}

/* Hands the message to the caller; its answer becomes the reply. */
static int
smtpd_deliver(struct smtpd *s, int fd)
{
	char	 id[SMTPD_QUEUE_ID_MAX], text[ERR_TEXT_MAX * 2];
	struct err e;

	id[0] = '\0';
	err_clear(&e);
	if (s->hooks->accept(s->hooks->ctx, s->sender, &s->rcpts, fd, id,
	    sizeof(id), &e) == 0) {
		id[sizeof(id) - 1] = '\0';
		if (id[0] == '\0')
			return smtpd_reply(s, "250 2.0.0 Ok: queued");
		return smtpd_reply(s, "250 2.0.0 Ok: queued as %s", id);
	}
	err_format(&e, text, sizeof(text));
	switch (e.kind) {
	case ERR_TEMP:
	case ERR_OSERR:
	case ERR_IOERR:
	case ERR_SOFTWARE:
	case ERR_CONFIG:
	case ERR_NOPERM:
		return smtpd_reply(s, "451 4.3.0 %s",
		    text[0] != '\0' ? text : "temporary failure");
	case ERR_DATA:
		return smtpd_reply(s, "554 5.6.0 %s",
		    text[0] != '\0' ? text : "message refused");
	default:
		return smtpd_reply(s, "554 5.0.0 %s",
		    text[0] != '\0' ? text : "message refused");
	}
}

static int
smtpd_cmd_data(struct smtpd *s, const char *arg)
{
	struct smtpd_data d;
	struct err e;
	int	 rc;

	if (*arg != '\0')
		return smtpd_refuse(s, "501 5.5.4 Syntax: DATA");
	if (s->sender == NULL)
		return smtpd_refuse(s, "503 5.5.1 need MAIL command");
	if (s->rcpts.n == 0)
		return smtpd_refuse(s, "554 5.5.1 no valid recipients");
	memset(&d, 0, sizeof(d));
	err_clear(&e);
	if ((d.fd = s->hooks->scratch(s->hooks->ctx, &e)) == -1) {
		if (e.kind == ERR_OK)
			err_set(&e, ERR_OSERR, "cannot create a scratch file");
		err_copy(s->err, &e);
		return smtpd_scratch_failed(s);
	}
	buf_init(&d.pending, SMTPD_SCRATCH_BUF);
	if ((rc = smtpd_reply(s, "354 End data with <CR><LF>.<CR><LF>")) == 0)
		rc = smtpd_data_read(s, &d);
	if (rc == 1)
		rc = smtpd_data_finish(s, &d);
	else if (rc == 0)
		rc = 1;		/* the client left mid-message: drop it */
	buf_free(&d.pending);
	(void)close(d.fd);
	smtpd_reset(s);
	return rc;
}

static int
smtpd_cmd_rset(struct smtpd *s, const char *arg)
{
	(void)arg;
	smtpd_reset(s);
	return smtpd_reply(s, "250 2.0.0 Ok");
}

static int
smtpd_cmd_quit(struct smtpd *s, const char *arg)
{
	(void)arg;
	if (smtpd_reply(s, "221 2.0.0 Bye") == -1)
		return -1;
	return 1;
}

/* Reads one command and answers it; returns as the handlers do. */
static int
smtpd_dispatch(struct smtpd *s)
{
	const struct smtpd_command *c;
	const char *arg;
	char	*verb;
	size_t	 i, verb_len;
	bool	 too_long;
	int	 rc;

	if ((rc = smtpd_read_line(s, SMTPD_LINE_MAX - 1, &too_long)) != 1)
		return rc == 0 ? 1 : -1;
	if (too_long)
		return smtpd_refuse(s, "500 5.5.2 line too long");
	if (s->line.len == 0)
		return smtpd_refuse(s, "500 5.5.2 command not recognized");
	verb = s->line.data;
	/* a NUL would hide the rest of the line from the string functions */
	if (strlen(verb) != s->line.len)
		return smtpd_refuse(s, "500 5.5.2 NUL in command");
	while (s->line.len > 0 && (verb[s->line.len - 1] == ' ' ||
	    verb[s->line.len - 1] == '\t'))
		verb[--s->line.len] = '\0';
	verb_len = strcspn(verb, " ");
	arg = verb + verb_len;
	arg += strspn(arg, " ");
	for (i = 0; i < sizeof(smtpd_commands) / sizeof(smtpd_commands[0]);
	    i++) {
		c = &smtpd_commands[i];
		if (strlen(c->verb) != verb_len ||
		    strncasecmp(verb, c->verb, verb_len) != 0)
			continue;
		if (c->handler != NULL)
			return c->handler(s, arg);
		return c->reply[0] == '5' ? smtpd_refuse(s, c->reply) :
		    smtpd_reply(s, "%s", c->reply);
	}
	return smtpd_refuse(s, "500 5.5.2 command not recognized");
}

int
smtpd_session(int in_fd, int out_fd, const char *hostname, long size_limit,
    const struct smtpd_hooks *hooks, struct err *e)
{
	struct smtpd s;
	int	 errors, rc;

	memset(&s, 0, sizeof(s));
	s.in_fd = in_fd;
	s.out_fd = out_fd;
	s.hostname = hostname;
	s.size_limit = size_limit > 0 ? size_limit : 0;
	s.hooks = hooks;
	s.err = e;
	s.in = xmalloc(SMTPD_READ_SIZE);
	buf_init(&s.out, SMTPD_OUT_MAX);
	buf_init(&s.line, SMTPD_DATA_LINE_MAX);
	err_clear(e);
	rc = smtpd_reply(&s, "220 %s ESMTP sendrelay", hostname);
	while (rc == 0) {
		errors = s.errors;
		rc = smtpd_dispatch(&s);
		if (rc == 0 && s.errors == errors)
			s.errors = 0;
		else if (rc == 0 && s.errors >= SMTPD_ERRORS_MAX)
			rc = smtpd_reply(&s, "421 4.7.0 too many errors") ==
			    -1 ? -1 : 1;
	}
	if (rc == 1)
		rc = smtpd_flush(&s);
	smtpd_reset(&s);
	buf_free(&s.line);
	buf_free(&s.out);
	free(s.in);
	return rc;
}
