/* SPDX-License-Identifier: ISC */
/*
 * Delivery status notifications (RFC 3464): a multipart/report with a
 * human-readable part, a message/delivery-status part and the original
 * message (RET=FULL) or its header section (text/rfc822-headers). See
 * bounce.h.
 *
 * The output is canonical: CRLF only, no line over 998 octets (RFC 5322
 * 2.1.1). Peer and user text is reduced to one line (control characters
 * become spaces) before it is placed, so nothing a server says can start
 * a header field or a MIME boundary of its own. Long text is wrapped at
 * 78 columns where a space allows and broken at 998 where none does.
 * The original is streamed from its file in chunks, never held whole;
 * only a header section (at most BOUNCE_HEADERS_MAX) is buffered.
 *
 * Does not: success or relayed DSNs, Original-Recipient (no ORCPT is
 * kept), Will-Retry-Until, localised text, message/global-delivery-status
 * (non-ASCII addresses use the 7-bit utf-8-addr-xtext form of RFC 6533
 * instead, so the report part stays 7-bit).
 */
#include "config.h"

#include <sys/types.h>
#include <sys/random.h>

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bounce.h"
#include "buf.h"
#include "err.h"
#include "xmalloc.h"

#define BOUNCE_LINE_MAX		998		/* RFC 5322 2.1.1 */
#define BOUNCE_WRAP		78		/* RFC 5322 2.1.1 SHOULD */
#define BOUNCE_INDENT		"    "
#define BOUNCE_TEXT_MAX		(64 * 1024)	/* of one address, diagnostic */
#define BOUNCE_PIECE_MAX	(1024 * 1024)	/* composed before written */
#define BOUNCE_HEADERS_MAX	(1024 * 1024)	/* of the returned headers */
#define BOUNCE_CHUNK		(64 * 1024)
#define BOUNCE_QUEUE_ID_MAX	20		/* in Message-ID and boundary */
#define BOUNCE_HOSTNAME_MAX	255

/* Composed text on its way to out_fd. */
struct bounce_out {
	int		 fd;
	off_t		 size;
	struct buf	 piece;
	bool		 overflow;	/* an append did not fit piece */
};

struct bounce_job {
	const struct bounce_params *params;
	struct bounce_out	 out;
	struct buf		 scratch;
	char			 queue_id[BOUNCE_QUEUE_ID_MAX + 1];
	char			 boundary[80];
	char			 message_id_random[17];
	bool			 eightbit;	/* the human part is UTF-8 */
};

static int	 bounce_check_params(const struct bounce_params *,
		    struct err *);
static void	 bounce_random_hex(char *, size_t);
static void	 bounce_add(struct bounce_out *, const char *, size_t);
static void	 bounce_puts(struct bounce_out *, const char *);
static void	 bounce_addf(struct bounce_out *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static void	 bounce_add_date(struct bounce_out *, time_t);
static size_t	 bounce_find_break(const char *, size_t, size_t, size_t);
static void	 bounce_add_wrapped(struct bounce_out *, const char *, bool);
static int	 bounce_write_all(struct bounce_out *, const char *, size_t,
		    struct err *);
static int	 bounce_flush(struct bounce_out *, struct err *);
static ssize_t	 bounce_pread(int, char *, size_t, off_t, struct err *);
static size_t	 bounce_utf8_decode(const unsigned char *, size_t,
		    uint32_t *);
static bool	 bounce_is_ascii(const char *);
static size_t	 bounce_clean(const char *, bool, struct buf *);
static void	 bounce_xtext_address(const char *, struct buf *);
static bool	 bounce_status_valid(const char *);
static const char *bounce_status(const struct bounce_rcpt *,
		    enum bounce_kind);
static void	 bounce_remote_host(const char *, struct buf *);
static void	 bounce_add_headers(struct bounce_job *);
static void	 bounce_add_notification(struct bounce_job *);
static void	 bounce_add_text_rcpt(struct bounce_job *,
		    const struct bounce_rcpt *);
static void	 bounce_add_status_part(struct bounce_job *);
static void	 bounce_add_status_rcpt(struct bounce_job *,
		    const struct bounce_rcpt *);
static int	 bounce_copy_full(struct bounce_job *, int, struct err *);
static size_t	 bounce_header_span(const struct buf *, size_t, bool *);
static int	 bounce_copy_headers(struct bounce_job *, int, struct err *);

/* What the report needs to make sense; a caller bug otherwise. */
static int
bounce_check_params(const struct bounce_params *p, struct err *e)
{
	const char	*s;

	if (p->to == NULL || p->to[0] == '\0' || p->queue_id == NULL ||
	    p->rcpts == NULL || p->rcpt_count == 0)
		return err_set(e, ERR_SOFTWARE,
		    "delivery report without recipient, queue ID or entries");
	if (p->myhostname == NULL || p->myhostname[0] == '\0' ||
	    strlen(p->myhostname) > BOUNCE_HOSTNAME_MAX)
		return err_set(e, ERR_CONFIG,
		    "myhostname is needed for delivery reports");
	/* It lands in From, Message-ID and Reporting-MTA unquoted. */
	for (s = p->myhostname; *s != '\0'; s++)
		if (*s <= ' ' || *s >= 0x7f || strchr("<>()@,;\"\\", *s))
			return err_set(e, ERR_CONFIG,
			    "myhostname \"%s\" is not a host name",
			    p->myhostname);
	return 0;
}

/* Unpredictable hex; early in boot time and address keep it unique. */
static void
bounce_random_hex(char *hex, size_t bytes)
{
	unsigned char	 rnd[32];
	struct timespec	 ts;
	uint64_t	 v;
	size_t		 i;

	if (bytes > sizeof(rnd))
		bytes = sizeof(rnd);
	if (getrandom(rnd, bytes, GRND_NONBLOCK) != (ssize_t)bytes) {
		(void)clock_gettime(CLOCK_REALTIME, &ts);
		v = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30) ^
		    (uint64_t)(uintptr_t)hex ^ ((uint64_t)getpid() << 48);
		for (i = 0; i < bytes; i++) {
			v = v * 6364136223846793005ULL + 1442695040888963407ULL;
			rnd[i] = (unsigned char)(v >> 56);
		}
	}
	for (i = 0; i < bytes; i++)
		(void)snprintf(hex + 2 * i, 3, "%02x", rnd[i]);
}

static void
bounce_add(struct bounce_out *o, const char *p, size_t n)
{
	if (buf_append(&o->piece, p, n) == -1)
		o->overflow = true;
}

static void
bounce_puts(struct bounce_out *o, const char *s)
{
	bounce_add(o, s, strlen(s));
}

static void
bounce_addf(struct bounce_out *o, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	if (buf_vprintf(&o->piece, fmt, ap) == -1)
		o->overflow = true;
	va_end(ap);
}

/* RFC 5322 3.3, local time and numeric zone, names never localised. */
static void
bounce_add_date(struct bounce_out *o, time_t when)
{
	static const char	 days[7][4] = { "Sun", "Mon", "Tue", "Wed",
				    "Thu", "Fri", "Sat" };
	static const char	 months[12][4] = { "Jan", "Feb", "Mar", "Apr",
				    "May", "Jun", "Jul", "Aug", "Sep", "Oct",
				    "Nov", "Dec" };
	struct tm		 tm;
	long			 zone;

	if (localtime_r(&when, &tm) == NULL)
		memset(&tm, 0, sizeof(tm));
	zone = tm.tm_gmtoff / 60;
	bounce_addf(o, "%s, %d %s %d %02d:%02d:%02d %c%02ld%02ld",
	    days[tm.tm_wday % 7], tm.tm_mday, months[tm.tm_mon % 12],
	    tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec,
	    zone < 0 ? '-' : '+', labs(zone) / 60, labs(zone) % 60);
}

/*
 * Where to end a line of text[0..n) that does not fit: after the last
 * space within room, else at the first space within hard, else at hard
 * (not inside a UTF-8 sequence). Never 0, so every line carries text.
 */
static size_t
bounce_find_break(const char *text, size_t n, size_t room, size_t hard)
{
	size_t	 i, last = 0;

	for (i = 1; i < n && i <= hard; i++) {
		if (text[i] != ' ')
			continue;
		if (i <= room)
			last = i;
		else
			return last != 0 ? last : i;
	}
	if (last != 0)
		return last;
	if (n <= hard)
		return n;
	for (i = hard; i > 1 && ((unsigned char)text[i] & 0xc0) == 0x80; i--)
		;
	return i;
}

/*
 * Appends one logical line of text (no CR/LF in it) as physical lines.
 * fold: header folding, the break goes before a space, which then starts
 * the continuation line (RFC 5322 2.2.3). Otherwise (body text) the space
 * becomes the line break and the next line is indented. A word longer
 * than a line is split by inserting the break, as Postfix's
 * smtp_line_length_limit does: unfolding then shows one extra space.
 */
static void
bounce_add_wrapped(struct bounce_out *o, const char *text, bool fold)
{
	size_t	 n, col = 0, cut;

	for (;;) {
		n = strlen(text);
		if (col + n <= BOUNCE_WRAP)
			break;
		cut = bounce_find_break(text, n, BOUNCE_WRAP - col,
		    BOUNCE_LINE_MAX - col);
		if (cut >= n)
			break;
		bounce_add(o, text, cut);
		bounce_puts(o, "\r\n");
		text += cut;
		if (fold && *text == ' ')
			col = 0;
		else if (fold) {
			bounce_puts(o, " ");
			col = 1;
		} else {
			if (*text == ' ')
				text++;
			bounce_puts(o, BOUNCE_INDENT);
			col = strlen(BOUNCE_INDENT);
		}
	}
	bounce_add(o, text, n);
	bounce_puts(o, "\r\n");
}

/* A full disk must leave the original queued and retried: ERR_TEMP. */
static int
bounce_write_all(struct bounce_out *o, const char *p, size_t len,
    struct err *e)
{
	ssize_t	 n;

	while (len > 0) {
		n = write(o->fd, p, len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return err_set(e, ERR_TEMP,
			    "cannot write the delivery report: %s",
			    strerror(errno));
		if (n == 0)
			return err_set(e, ERR_TEMP,
			    "cannot write the delivery report: no progress");
		p += n;
		len -= (size_t)n;
		o->size += n;
	}
	return 0;
}

static int
bounce_flush(struct bounce_out *o, struct err *e)
{
	int	 rc;

	if (o->overflow)
		return err_set(e, ERR_SOFTWARE,
		    "delivery report text exceeds %d bytes", BOUNCE_PIECE_MAX);
	rc = bounce_write_all(o, o->piece.data, o->piece.len, e);
	buf_reset(&o->piece);
	return rc;
}

/* pread leaves the caller's file offset alone. */
static ssize_t
bounce_pread(int fd, char *p, size_t len, off_t off, struct err *e)
{
	ssize_t	 n;

	do
		n = pread(fd, p, len, off);
	while (n == -1 && errno == EINTR);
	if (n == -1)
		(void)err_set(e, ERR_IOERR,
		    "cannot read the original message: %s", strerror(errno));
	return n;
}

/*
 * One well-formed UTF-8 sequence at p (RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF): its length, or 0.
 */
static size_t
bounce_utf8_decode(const unsigned char *p, size_t n, uint32_t *cp)
{
	size_t		 len, i;
	uint32_t	 v, min;

	if (n == 0)
		return 0;
	if (p[0] < 0x80) {
		*cp = p[0];
		return 1;
	}
	if ((p[0] & 0xe0) == 0xc0) {
		len = 2, v = p[0] & 0x1f, min = 0x80;
	} else if ((p[0] & 0xf0) == 0xe0) {
		len = 3, v = p[0] & 0x0f, min = 0x800;
	} else if ((p[0] & 0xf8) == 0xf0) {
		len = 4, v = p[0] & 0x07, min = 0x10000;
	} else
		return 0;
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		v = (v << 6) | (p[i] & 0x3f);
	}
	if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
		return 0;
	*cp = v;
	return len;
}

static bool
bounce_is_ascii(const char *s)
{
	for (; s != NULL && *s != '\0'; s++)
		if ((unsigned char)*s >= 0x80)
			return false;
	return true;
}

/*
 * Appends s as one line: control characters (CR and LF above all) become
 * spaces, runs of spaces collapse and both ends are trimmed, so a
 * continuation line never holds only white space. utf8: well-formed UTF-8
 * is kept; any other byte >= 0x80 becomes '?'. Uses at most
 * BOUNCE_TEXT_MAX bytes of s. Returns the length added: 0 for blank text.
 */
static size_t
bounce_clean(const char *s, bool utf8, struct buf *out)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 n, len, emitted = 0;
	bool			 space = false;
	uint32_t		 cp;

	n = strnlen(s, BOUNCE_TEXT_MAX);
	while (n > 0) {
		len = 1;
		if (*p < 0x20 || *p == 0x7f || *p == ' ') {
			space = true;
			p++, n--;
			continue;
		}
		if (space && emitted > 0)
			(void)buf_putc(out, ' ');
		space = false;
		if (*p < 0x80)
			(void)buf_putc(out, (char)*p);
		else if (utf8 && (len = bounce_utf8_decode(p, n, &cp)) > 0)
			(void)buf_append(out, p, len);
		else {
			(void)buf_putc(out, '?');
			len = 1;
		}
		emitted += len;
		p += len, n -= len;
	}
	return emitted;
}

/*
 * RFC 6533 3 utf-8-addr-xtext: '+', '=', '\\', white space, controls and
 * every non-ASCII character as \x{HEX}, the rest as is. Ill-formed UTF-8
 * shows as U+FFFD.
 */
static void
bounce_xtext_address(const char *s, struct buf *out)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 n, len;
	uint32_t		 cp;

	n = strnlen(s, BOUNCE_TEXT_MAX);
	while (n > 0) {
		if ((len = bounce_utf8_decode(p, n, &cp)) == 0) {
			cp = 0xfffd;
			len = 1;
		}
		if (cp > 0x20 && cp < 0x7f && cp != '+' && cp != '=' &&
		    cp != '\\')
			(void)buf_putc(out, (char)cp);
		else
			(void)buf_printf(out, "\\x{%02X}", (unsigned int)cp);
		p += len, n -= len;
	}
}

/* RFC 3463: class "." subject "." detail, 1-3 digits each. */
static bool
bounce_status_valid(const char *s)
{
	size_t	 part, digits;

	if (s[0] != '2' && s[0] != '4' && s[0] != '5')
		return false;
	s++;
	for (part = 0; part < 2; part++) {
		if (*s++ != '.')
			return false;
		for (digits = 0; *s >= '0' && *s <= '9'; s++)
			digits++;
		if (digits < 1 || digits > 3)
			return false;
	}
	return *s == '\0';
}

/*
 * A delay report says 4.x.x. A failure says 5.x.x, or 4.x.x when the
 * message expired after transient errors: as Postfix does, the last real
 * reason (4.4.1 "connection timed out") tells the sender more than 5.0.0.
 */
static const char *
bounce_status(const struct bounce_rcpt *r, enum bounce_kind kind)
{
	const char	*fallback;

	fallback = kind == BOUNCE_FAILED ? "5.0.0" : "4.0.0";
	if (r->status == NULL || !bounce_status_valid(r->status) ||
	    r->status[0] == '2' ||
	    (kind == BOUNCE_DELAYED && r->status[0] != '4'))
		return fallback;
	return r->status;
}

/* "host[ip]:port" -> "host"; "[ip]:port" -> "[ip]". ASCII, no spaces. */
static void
bounce_remote_host(const char *remote, struct buf *out)
{
	const char	*end;
	size_t		 len;

	if ((end = strchr(remote, '[')) == NULL)
		end = strchr(remote, ':');
	if (end == remote && (end = strchr(remote, ']')) != NULL)
		end++;
	len = end != NULL ? (size_t)(end - remote) : strlen(remote);
	if (len > BOUNCE_HOSTNAME_MAX)
		len = BOUNCE_HOSTNAME_MAX;
	for (; len > 0; remote++, len--)
		if (*remote > ' ' && *remote < 0x7f)
			(void)buf_putc(out, *remote);
}

static void
bounce_add_headers(struct bounce_job *j)
{
	const struct bounce_params	*p = j->params;
	struct bounce_out		*o = &j->out;
	struct tm			 tm;

	bounce_addf(o, "From: MAILER-DAEMON@%s (Mail Delivery System)\r\n",
	    p->myhostname);
	buf_reset(&j->scratch);
	(void)buf_append_str(&j->scratch, "To: ");
	(void)bounce_clean(p->to, true, &j->scratch);
	bounce_add_wrapped(o, buf_cstr(&j->scratch), true);
	bounce_addf(o, "Subject: %s\r\n", p->kind == BOUNCE_FAILED ?
	    "Undelivered Mail Returned to Sender" :
	    "Delayed Mail (still being retried)");
	bounce_puts(o, "Date: ");
	bounce_add_date(o, p->now);
	if (gmtime_r(&p->now, &tm) == NULL)
		memset(&tm, 0, sizeof(tm));
	bounce_addf(o,
	    "\r\nMessage-ID: <%04d%02d%02d%02d%02d%02d.%s.%s@%s>\r\n",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, j->queue_id, j->message_id_random,
	    p->myhostname);
	/* RFC 3834 5: no vacation responder answers this. */
	bounce_puts(o, "Auto-Submitted: auto-replied\r\n");
	bounce_puts(o, "MIME-Version: 1.0\r\n");
	bounce_addf(o, "Content-Type: multipart/report; "
	    "report-type=delivery-status;\r\n\tboundary=\"%s\"\r\n",
	    j->boundary);
	/* A multipart may not claim less than a part holds (RFC 2045 6.4). */
	if (j->eightbit)
		bounce_puts(o, "Content-Transfer-Encoding: 8bit\r\n");
	bounce_puts(o, "\r\nThis is a MIME-encapsulated message.\r\n");
}

/* Part 1, for people. */
static void
bounce_add_notification(struct bounce_job *j)
{
	const struct bounce_params	*p = j->params;
	struct bounce_out		*o = &j->out;
	size_t				 i;

	bounce_addf(o, "\r\n--%s\r\n"
	    "Content-Description: Notification\r\n"
	    "Content-Type: text/plain; charset=%s\r\n%s\r\n",
	    j->boundary, j->eightbit ? "utf-8" : "us-ascii",
	    j->eightbit ? "Content-Transfer-Encoding: 8bit\r\n" : "");
	bounce_addf(o, "This is the mail system at host %s.\r\n\r\n",
	    p->myhostname);
	if (p->kind == BOUNCE_FAILED)
		bounce_addf(o, "%s", "I'm sorry to have to inform you that "
		    "your message could not be delivered\r\nto one or more "
		    "recipients. The reasons are given below; the message\r\n"
		    "(or its header section) is attached.\r\n\r\n"
		    "If you need help, write to your postmaster and include "
		    "this report.\r\n");
	else
		bounce_addf(o, "%s", "This is a warning only: you do not need "
		    "to send your message again.\r\n\r\n"
		    "Your message has not yet been delivered to one or more "
		    "recipients.\r\nThe mail system will keep trying until "
		    "the message expires, and will\r\nwrite to you again "
		    "if delivery finally fails.\r\n");
	bounce_puts(o, "\r\n                   The mail system\r\n");
	for (i = 0; i < p->rcpt_count; i++)
		bounce_add_text_rcpt(j, &p->rcpts[i]);
}

/*
 * "<address>: host <remote> said: <diagnostic>". Only the address may be
 * UTF-8: its presence means the original needed SMTPUTF8, so the report
 * travels the same 8-bit path. Server words are shown in ASCII.
 */
static void
bounce_add_text_rcpt(struct bounce_job *j, const struct bounce_rcpt *r)
{
	buf_reset(&j->scratch);
	(void)buf_putc(&j->scratch, '<');
	(void)bounce_clean(r->address != NULL ? r->address : "", true,
	    &j->scratch);
	(void)buf_append_str(&j->scratch, ">: ");
	if (r->remote != NULL && r->remote[0] != '\0') {
		(void)buf_append_str(&j->scratch, "host ");
		(void)bounce_clean(r->remote, false, &j->scratch);
		(void)buf_append_str(&j->scratch, " said: ");
	}
	if (r->diagnostic == NULL ||
	    bounce_clean(r->diagnostic, false, &j->scratch) == 0)
		(void)buf_append_str(&j->scratch, "no reason given");
	bounce_puts(&j->out, "\r\n");
	bounce_add_wrapped(&j->out, buf_cstr(&j->scratch), false);
}

/* Part 2, RFC 3464 2.2: per-message fields, then one block a recipient. */
static void
bounce_add_status_part(struct bounce_job *j)
{
	const struct bounce_params	*p = j->params;
	struct bounce_out		*o = &j->out;
	size_t				 i;

	bounce_addf(o, "\r\n--%s\r\n"
	    "Content-Description: Delivery report\r\n"
	    "Content-Type: message/delivery-status\r\n\r\n", j->boundary);
	bounce_addf(o, "Reporting-MTA: dns; %s\r\n", p->myhostname);
	bounce_addf(o, "X-Postfix-Queue-ID: %s\r\n", j->queue_id);
	/* RFC 3461 4.4: ENVID is xtext, hence ASCII already. */
	buf_reset(&j->scratch);
	(void)buf_append_str(&j->scratch, "Original-Envelope-Id: ");
	if (p->envid != NULL && bounce_clean(p->envid, false, &j->scratch) > 0)
		bounce_add_wrapped(o, buf_cstr(&j->scratch), true);
	if (p->arrival.tv_sec > 0) {	/* optional (RFC 3464 2.2.5) */
		bounce_puts(o, "Arrival-Date: ");
		bounce_add_date(o, p->arrival.tv_sec);
		bounce_puts(o, "\r\n");
	}
	for (i = 0; i < p->rcpt_count; i++)
		bounce_add_status_rcpt(j, &p->rcpts[i]);
}

static void
bounce_add_status_rcpt(struct bounce_job *j, const struct bounce_rcpt *r)
{
	struct bounce_out	*o = &j->out;
	const char		*address;

	address = r->address != NULL ? r->address : "";
	bounce_puts(o, "\r\n");
	buf_reset(&j->scratch);
	if (bounce_is_ascii(address)) {
		(void)buf_append_str(&j->scratch, "Final-Recipient: rfc822; ");
		(void)bounce_clean(address, false, &j->scratch);
	} else {
		(void)buf_append_str(&j->scratch, "Final-Recipient: utf-8; ");
		bounce_xtext_address(address, &j->scratch);
	}
	bounce_add_wrapped(o, buf_cstr(&j->scratch), true);
	bounce_addf(o, "Action: %s\r\nStatus: %s\r\n",
	    j->params->kind == BOUNCE_FAILED ? "failed" : "delayed",
	    bounce_status(r, j->params->kind));
	if (r->remote != NULL && r->remote[0] != '\0') {
		buf_reset(&j->scratch);
		bounce_remote_host(r->remote, &j->scratch);
		if (j->scratch.len > 0)
			bounce_addf(o, "Remote-MTA: dns; %s\r\n",
			    j->scratch.data);
	}
	/* RFC 3464 2.3.6: "smtp" only for what a server replied. */
	buf_reset(&j->scratch);
	(void)buf_printf(&j->scratch, "Diagnostic-Code: %s; ",
	    r->remote != NULL && r->remote[0] != '\0' ? "smtp" : "X-Sendrelay");
	if (r->diagnostic != NULL &&
	    bounce_clean(r->diagnostic, false, &j->scratch) > 0)
		bounce_add_wrapped(o, buf_cstr(&j->scratch), true);
	bounce_puts(o, "Last-Attempt-Date: ");
	bounce_add_date(o, j->params->now);
	bounce_puts(o, "\r\n");
}

/*
 * RET=FULL: the canonical original as is. If it has 8-bit content the
 * part is not labelled 8bit (we do not scan it twice); the caller sends
 * the report with the original's BODY type, so the octets travel intact.
 */
static int
bounce_copy_full(struct bounce_job *j, int fd, struct err *e)
{
	char	*chunk;
	off_t	 off = 0;
	ssize_t	 n;
	int	 rc = 0;

	chunk = xmalloc(BOUNCE_CHUNK);
	while ((n = bounce_pread(fd, chunk, BOUNCE_CHUNK, off, e)) > 0) {
		if ((rc = bounce_write_all(&j->out, chunk, (size_t)n, e)) == -1)
			break;
		off += n;
	}
	free(chunk);
	return n == -1 ? -1 : rc;
}

/*
 * The complete lines at the front of pending that belong to the header
 * section and keep it within BOUNCE_HEADERS_MAX (copied counts what was
 * taken before): their length. *done at the empty line or at the cap.
 */
static size_t
bounce_header_span(const struct buf *pending, size_t copied, bool *done)
{
	const char	*p = pending->data, *lf;
	size_t		 start = 0, end;

	while (start < pending->len &&
	    (lf = memchr(p + start, '\n', pending->len - start)) != NULL) {
		end = (size_t)(lf - p) + 1;
		/* An empty line ends the section (RFC 5322 2.1). */
		if (end - start == 1 ||
		    (end - start == 2 && p[start] == '\r') ||
		    copied + end > BOUNCE_HEADERS_MAX) {
			*done = true;
			break;
		}
		start = end;
	}
	return start;
}

/*
 * RET=HDRS: up to the first empty line, or all of a message without one;
 * cut at a line boundary within BOUNCE_HEADERS_MAX. An SMTPUTF8 original
 * has 8-bit headers here; as with RET=FULL the caller keeps its BODY type.
 */
static int
bounce_copy_headers(struct bounce_job *j, int fd, struct err *e)
{
	struct buf	 pending;
	char		*chunk;
	off_t		 off = 0;
	size_t		 copied = 0, span;
	ssize_t		 n;
	bool		 done = false;
	int		 rc = 0;

	buf_init(&pending, BOUNCE_HEADERS_MAX + BOUNCE_CHUNK);
	chunk = xmalloc(BOUNCE_CHUNK);
	while (!done && rc == 0) {
		if ((n = bounce_pread(fd, chunk, BOUNCE_CHUNK, off, e)) <= 0) {
			rc = (int)n;
			break;
		}
		off += n;
		(void)buf_append(&pending, chunk, (size_t)n);
		span = bounce_header_span(&pending, copied, &done);
		rc = bounce_write_all(&j->out, pending.data, span, e);
		buf_consume(&pending, span);
		copied += span;
		/* What is left is one partial line; it must still fit. */
		if (pending.len > BOUNCE_HEADERS_MAX - copied)
			done = true;
	}
	if (rc == 0 && !done && pending.len > 0) {
		rc = bounce_write_all(&j->out, pending.data, pending.len, e);
		if (rc == 0 && pending.data[pending.len - 1] == '\r')
			rc = bounce_write_all(&j->out, "\n", 1, e);
		else if (rc == 0)
			rc = bounce_write_all(&j->out, "\r\n", 2, e);
	}
	free(chunk);
	buf_free(&pending);
	return rc;
}

int
bounce_write(int out_fd, int original_fd, const struct bounce_params *p,
    off_t *size, struct err *e)
{
	struct bounce_job	 j;
	size_t			 i, n = 0;
	char			 hex[33];
	int			 rc = -1;

	*size = 0;
	if (bounce_check_params(p, e) == -1)
		return -1;
	memset(&j, 0, sizeof(j));
	j.params = p;
	j.out.fd = out_fd;
	buf_init(&j.out.piece, BOUNCE_PIECE_MAX);
	buf_init(&j.scratch, BOUNCE_PIECE_MAX);
	for (i = 0; p->queue_id[i] != '\0' && n < BOUNCE_QUEUE_ID_MAX; i++)
		if ((p->queue_id[i] >= '0' && p->queue_id[i] <= '9') ||
		    (p->queue_id[i] >= 'A' && p->queue_id[i] <= 'Z') ||
		    (p->queue_id[i] >= 'a' && p->queue_id[i] <= 'z'))
			j.queue_id[n++] = p->queue_id[i];
	if (n == 0)
		(void)snprintf(j.queue_id, sizeof(j.queue_id), "NOQUEUE");
	/*
	 * RFC 2046 5.1.1: the boundary must not occur in any part. 128
	 * random bits make that so for the original we do not scan; "=_"
	 * cannot occur in quoted-printable or base64 text either.
	 */
	bounce_random_hex(hex, 16);
	(void)snprintf(j.boundary, sizeof(j.boundary), "=_sendrelay.%s.%s",
	    j.queue_id, hex);
	bounce_random_hex(j.message_id_random, 8);
	j.eightbit = !bounce_is_ascii(p->to);
	for (i = 0; i < p->rcpt_count; i++)
		if (!bounce_is_ascii(p->rcpts[i].address))
			j.eightbit = true;

	bounce_add_headers(&j);
	bounce_add_notification(&j);
	bounce_add_status_part(&j);
	bounce_addf(&j.out, "\r\n--%s\r\nContent-Description: %s\r\n"
	    "Content-Type: %s\r\n\r\n", j.boundary,
	    p->full ? "Undelivered Message" : "Undelivered Message Headers",
	    p->full ? "message/rfc822" : "text/rfc822-headers");
	if (bounce_flush(&j.out, e) == -1)
		goto done;
	if (p->full && bounce_copy_full(&j, original_fd, e) == -1)
		goto done;
	if (!p->full && bounce_copy_headers(&j, original_fd, e) == -1)
		goto done;
	/* The CRLF before "--" belongs to the delimiter (RFC 2046 5.1.1). */
	bounce_addf(&j.out, "\r\n--%s--\r\n", j.boundary);
	rc = bounce_flush(&j.out, e);
 done:
	*size = j.out.size;
	buf_free(&j.out.piece);
	buf_free(&j.scratch);
	return rc;
}
