/* SPDX-License-Identifier: ISC */
/*
 * Message intake: standard input -> the canonical message on a spool fd,
 * plus the envelope (sender, recipients) and what delivery must know
 * (size, 8-bit, SMTPUTF8, Message-ID). See message.h.
 *
 * The body is streamed in pieces; only the header section is held, bounded
 * by MESSAGE_HEADER_MAX. Choices that change bytes, all deliberate:
 *  - LF, CRLF and CR...CR LF (a CRLF that went through a text-mode writer
 *    twice) end a line. Any other CR is a line break too (classic Mac OS
 *    text). Postfix's sendmail keeps such a CR as data; we do not, because
 *    a bare CR must never reach the wire (RFC 5321 2.3.8) and servers that
 *    defend against SMTP smuggling reject it. The output is CRLF only.
 *  - NUL bytes are dropped: NUL is not text (RFC 5322 3.5) and many
 *    servers refuse it.
 *  - A line longer than MESSAGE_LINE_MAX octets (RFC 5322 2.1.1) is broken
 *    by inserting CRLF SP, as Postfix's smtp_line_length_limit does: in a
 *    header that is folding, in a body it does the least MIME damage.
 *  - Without -i, a line holding only "." ends the input, whatever line
 *    break follows it (or none, at the end of input).
 *  - A leading mbox "From " line is dropped, as Postfix's sendmail does.
 *  - The header section ends at the first empty line, or at the first line
 *    that is neither a header nor a continuation. Like Postfix we then take
 *    that line as the start of the body, and we insert the empty line
 *    before it so that the output is a well-formed message. A message whose
 *    first line is not a header thus has only our headers.
 *  - Missing Date, Message-ID and From are appended to the header section,
 *    where Postfix's cleanup puts them. Bcc and Resent-Bcc are removed.
 * Does not: dot-stuffing (smtp does it on the wire), MIME or 8-bit to 7-bit
 * conversion, alias expansion, Resent-Date/Resent-Message-ID insertion.
 * The size limit counts input octets consumed, before any conversion.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "buf.h"
#include "err.h"
#include "message.h"
#include "xmalloc.h"

#define MESSAGE_READ_CHUNK	16384
#define MESSAGE_PIECE_MAX	4096	/* a line is handed over in pieces */
#define MESSAGE_OUT_MAX		65536	/* output buffered before write(2) */
#define MESSAGE_FULL_NAME_MAX	1024	/* -F; bounds the From: line */
/* 45 octets -> 60 base64 characters: a 72-octet encoded-word (RFC 2047 2) */
#define MESSAGE_WORD_OCTETS	45

enum message_line_kind {
	MESSAGE_LINE_UNDECIDED,	/* need more of the line to tell */
	MESSAGE_LINE_HEADER,
	MESSAGE_LINE_CONTINUATION,
	MESSAGE_LINE_EMPTY,
	MESSAGE_LINE_OTHER,
};

struct message_reader {
	int	 fd;
	char	*chunk;
	size_t	 pos;
	size_t	 len;
	bool	 eof;
	bool	 mid_line;	/* part of the current line handed over */
	size_t	 pending_cr;	/* CRs seen, not yet known to be CRLF */
	long	 consumed;
	long	 limit;
};

struct message_writer {
	int		 fd;
	struct buf	 out;
	size_t		 column;	/* octets in the current output line */
	off_t		 size;
	bool		 eightbit;
};

struct message_job {
	const struct message_params *params;
	struct message		*msg;
	struct message_reader	 reader;
	struct message_writer	 writer;
	struct buf		 piece;
	struct buf		 header;	/* LF-terminated header lines */
	size_t			 header_end;	/* then the first body line */
	bool			 first_body_line_ended;
	bool			 done;		/* input fully read */
};

/* State shared by the two passes over the header section. */
struct message_headers_ctx {
	struct message_job	*job;
	struct err		*err;
	bool			 has_date;
	bool			 has_from;
	bool			 resent;
	char			*message_id;
	struct addr_list	 extracted;
	struct buf		 unfolded;
	struct buf		 rewritten;
};

static enum message_line_kind message_classify(const char *, size_t, bool);
static bool	 message_name_is(const struct message_header *, const char *);
static int	 message_fill(struct message_reader *, struct err *);
static int	 message_read_piece(struct message_reader *, struct buf *,
		    bool *, struct err *);
static int	 message_flush(struct message_writer *, struct err *);
static int	 message_put(struct message_writer *, const char *, size_t,
		    struct err *);
static int	 message_emit(struct message_writer *, const char *, size_t,
		    struct err *);
static int	 message_emit_eol(struct message_writer *, struct err *);
static int	 message_emit_text(struct message_writer *, const char *,
		    size_t, struct err *);
static bool	 message_is_dot_line(const struct message_job *,
		    const char *, size_t, bool);
static bool	 message_is_mbox_line(const struct buf *);
static int	 message_read_header_section(struct message_job *,
		    struct err *);
static int	 message_scan_header(void *, const struct message_header *);
static int	 message_filter_header(void *, const struct message_header *);
static bool	 message_is_address_header(const struct message_header *);
static int	 message_emit_rewritten(struct message_headers_ctx *,
		    const struct message_header *);
static bool	 message_is_recipient_header(const struct message_header *,
		    bool);
static int	 message_extract(struct message_headers_ctx *,
		    const struct message_header *);
static char	*message_id_value(const struct message_header *,
		    struct buf *);
static char	*message_new_id(time_t, const char *);
static void	 message_format_date(time_t, struct buf *);
static void	 message_format_from(const struct message_params *,
		    const char *, struct buf *);
static void	 message_display_name(const char *, struct buf *);
static void	 message_encode_word(const char *, size_t, struct buf *);
static int	 message_add_headers(struct message_headers_ctx *,
		    struct err *);
static int	 message_write_header_section(struct message_job *,
		    struct err *);
static int	 message_copy_body(struct message_job *, struct err *);
static void	 message_add_recipients(struct message *,
		    const struct addr_list *, const char *);
static int	 message_set_envelope(struct message *,
		    const struct message_params *, struct err *);

/*
 * RFC 5322 3.6.8: field-name = 1*ftext (printable US-ASCII except ':'),
 * then the obsolete syntax's optional WSP before the colon (4.5.3).
 */
static enum message_line_kind
message_classify(const char *p, size_t n, bool complete)
{
	size_t	 i = 0;

	if (n == 0)
		return complete ? MESSAGE_LINE_EMPTY : MESSAGE_LINE_UNDECIDED;
	if (p[0] == ' ' || p[0] == '\t')
		return MESSAGE_LINE_CONTINUATION;
	while (i < n && p[i] >= 33 && p[i] <= 126 && p[i] != ':')
		i++;
	if (i == 0)
		return MESSAGE_LINE_OTHER;
	while (i < n && (p[i] == ' ' || p[i] == '\t'))
		i++;
	if (i == n)
		return complete ? MESSAGE_LINE_OTHER : MESSAGE_LINE_UNDECIDED;
	return p[i] == ':' ? MESSAGE_LINE_HEADER : MESSAGE_LINE_OTHER;
}

static bool
message_name_is(const struct message_header *h, const char *name)
{
	return strlen(name) == h->name_len &&
	    strncasecmp(h->name, name, h->name_len) == 0;
}

static int
message_fill(struct message_reader *r, struct err *e)
{
	ssize_t	 n;

	do
		n = read(r->fd, r->chunk, MESSAGE_READ_CHUNK);
	while (n == -1 && errno == EINTR);
	if (n == -1)
		return err_set(e, errno == EBADF || errno == EISDIR ||
		    errno == EINVAL ? ERR_NOINPUT : ERR_IOERR,
		    "cannot read the message: %s", strerror(errno));
	r->pos = 0;
	r->len = (size_t)n;
	r->eof = n == 0;
	return 0;
}

/*
 * Hands over the next piece of the current line: at most MESSAGE_PIECE_MAX
 * octets, *eol set when the line ends there. Returns 1, 0 at the end of
 * input, -1 on error (read error, size limit).
 */
static int
message_read_piece(struct message_reader *r, struct buf *piece, bool *eol,
    struct err *e)
{
	unsigned char	 c;
	size_t		 n;

	buf_reset(piece);
	*eol = false;
	while (piece->len < MESSAGE_PIECE_MAX) {
		if (r->pos == r->len) {
			if (r->eof)
				break;
			if (message_fill(r, e) == -1)
				return -1;
			continue;
		}
		c = (unsigned char)r->chunk[r->pos];
		if (r->pending_cr > 0 && c != '\r' && c != '\n' && c != '\0') {
			/* A CR not followed by LF: a line break of its own. */
			r->pending_cr--;
			*eol = true;
			break;
		}
		n = 1;
		if (c != '\r' && c != '\n' && c != '\0')
			while (r->pos + n < r->len &&
			    piece->len + n < MESSAGE_PIECE_MAX &&
			    (c = (unsigned char)r->chunk[r->pos + n]) != '\r' &&
			    c != '\n' && c != '\0')
				n++;
		if (r->limit > 0 && (long)n > r->limit - r->consumed)
			return err_set(e, ERR_DATA, "message exceeds "
			    "message_size_limit (%ld bytes)", r->limit);
		r->consumed += (long)n;
		c = (unsigned char)r->chunk[r->pos];
		if (c == '\r')
			r->pending_cr++;
		else if (c == '\n') {
			r->pending_cr = 0;
			*eol = true;
		} else if (c != '\0')
			(void)buf_append(piece, r->chunk + r->pos, n);
		r->pos += n;
		if (*eol)
			break;
	}
	if (!*eol && r->pos == r->len && r->eof) {
		/* End of input: pending CRs are breaks; a last line ends. */
		if (r->pending_cr > 0)
			r->pending_cr--;
		else if (piece->len == 0 && !r->mid_line)
			return 0;
		*eol = true;
	}
	r->mid_line = !*eol;
	return 1;
}

static int
message_flush(struct message_writer *w, struct err *e)
{
	size_t	 off = 0;
	ssize_t	 n;

	while (off < w->out.len) {
		n = write(w->fd, w->out.data + off, w->out.len - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return err_set(e, ERR_TEMP, "cannot write spool file: "
			    "%s", strerror(n == 0 ? EIO : errno));
		off += (size_t)n;
	}
	w->size += (off_t)off;
	buf_reset(&w->out);
	return 0;
}

/* Callers put at most a line (MESSAGE_LINE_MAX octets) at a time. */
static int
message_put(struct message_writer *w, const char *p, size_t n,
    struct err *e)
{
	if (n > w->out.max - w->out.len && message_flush(w, e) == -1)
		return -1;
	(void)buf_append(&w->out, p, n);
	return 0;
}

/* Line content; past MESSAGE_LINE_MAX octets, CRLF SP is inserted. */
static int
message_emit(struct message_writer *w, const char *p, size_t n,
    struct err *e)
{
	size_t	 take, i;

	while (n > 0) {
		if (w->column == MESSAGE_LINE_MAX) {
			if (message_put(w, "\r\n ", 3, e) == -1)
				return -1;
			w->column = 1;
		}
		take = MESSAGE_LINE_MAX - w->column;
		if (take > n)
			take = n;
		for (i = 0; i < take && !w->eightbit; i++)
			if ((unsigned char)p[i] >= 0x80)
				w->eightbit = true;
		if (message_put(w, p, take, e) == -1)
			return -1;
		w->column += take;
		p += take;
		n -= take;
	}
	return 0;
}

static int
message_emit_eol(struct message_writer *w, struct err *e)
{
	w->column = 0;
	return message_put(w, "\r\n", 2, e);
}

/* Text whose lines end with LF (the last one may not) -> CRLF lines. */
static int
message_emit_text(struct message_writer *w, const char *p, size_t n,
    struct err *e)
{
	const char	*nl;
	size_t		 len;

	while (n > 0) {
		nl = memchr(p, '\n', n);
		len = nl != NULL ? (size_t)(nl - p) : n;
		if (message_emit(w, p, len, e) == -1 ||
		    message_emit_eol(w, e) == -1)
			return -1;
		if (nl == NULL)
			break;
		p += len + 1;
		n -= len + 1;
	}
	return 0;
}

static bool
message_is_dot_line(const struct message_job *j, const char *p, size_t n,
    bool eol)
{
	return j->params->dot_ends_input && eol && n == 1 && p[0] == '.';
}

/* "From sender date", not the obsolete "From : value" header form. */
static bool
message_is_mbox_line(const struct buf *piece)
{
	return piece->len >= 5 && memcmp(piece->data, "From ", 5) == 0 &&
	    message_classify(piece->data, piece->len, true) !=
	    MESSAGE_LINE_HEADER;
}

/*
 * Reads header lines into job->header until the empty line, a line that
 * is no header (left after header_end as the first body line), a "."
 * line or the end of input.
 */
static int
message_read_header_section(struct message_job *j, struct err *e)
{
	enum message_line_kind	 kind = MESSAGE_LINE_UNDECIDED;
	size_t			 start = 0;
	bool			 eol, first = true, skipping = false;
	int			 rc;

	for (;;) {
		if ((rc = message_read_piece(&j->reader, &j->piece, &eol,
		    e)) == -1)
			return -1;
		if (rc == 0) {
			j->done = true;
			break;
		}
		if (skipping || (first && message_is_mbox_line(&j->piece))) {
			skipping = !eol;
			first = false;
			continue;
		}
		first = false;
		/* Cannot fail: at most one piece beyond MESSAGE_HEADER_MAX. */
		(void)buf_append(&j->header, j->piece.data, j->piece.len);
		if (message_is_dot_line(j, j->header.data + start,
		    j->header.len - start, eol)) {
			j->header.len = start;
			j->header.data[start] = '\0';
			j->done = true;
			break;
		}
		if (kind == MESSAGE_LINE_UNDECIDED)
			kind = message_classify(j->header.data + start,
			    j->header.len - start, eol);
		if (kind == MESSAGE_LINE_CONTINUATION && start == 0)
			kind = MESSAGE_LINE_OTHER;
		if (kind == MESSAGE_LINE_EMPTY)
			break;
		if (kind == MESSAGE_LINE_OTHER) {
			j->first_body_line_ended = eol;
			break;
		}
		if (eol) {
			(void)buf_putc(&j->header, '\n');
			start = j->header.len;
			kind = MESSAGE_LINE_UNDECIDED;
		}
		if (j->header.len > MESSAGE_HEADER_MAX)
			return err_set(e, ERR_DATA, "message header section "
			    "exceeds %d bytes", MESSAGE_HEADER_MAX);
	}
	j->header_end = start;
	return 0;
}

static bool
message_is_recipient_header(const struct message_header *h, bool resent)
{
	if (resent)
		return message_name_is(h, "Resent-To") ||
		    message_name_is(h, "Resent-Cc") ||
		    message_name_is(h, "Resent-Bcc");
	return message_name_is(h, "To") || message_name_is(h, "Cc") ||
	    message_name_is(h, "Bcc");
}

/* The Message-ID's msg-id without the angle brackets (RFC 5322 3.6.4). */
static char *
message_id_value(const struct message_header *h, struct buf *tmp)
{
	const char	*p, *lt, *gt;
	size_t		 n;

	buf_reset(tmp);
	(void)message_unfold(h->value, h->value_len, tmp);
	p = buf_cstr(tmp);
	if ((lt = strchr(p, '<')) != NULL && (gt = strchr(lt, '>')) != NULL)
		return xstrndup(lt + 1, (size_t)(gt - lt - 1));
	p += strspn(p, " \t");
	n = strlen(p);
	while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	return xstrndup(p, n);
}

/* First pass: what is there, and whether Resent- rules apply. */
static int
message_scan_header(void *arg, const struct message_header *h)
{
	struct message_headers_ctx	*c = arg;

	if (message_name_is(h, "Date"))
		c->has_date = true;
	else if (message_name_is(h, "From"))
		c->has_from = true;
	else if (message_name_is(h, "Message-ID") && c->message_id == NULL)
		c->message_id = message_id_value(h, &c->unfolded);
	/* RFC 5322 3.6.6: any Resent- field marks a resent message. */
	if (h->name_len >= 7 && strncasecmp(h->name, "Resent-", 7) == 0)
		c->resent = true;
	return 0;
}

static int
message_extract(struct message_headers_ctx *c, const struct message_header *h)
{
	struct err	 sub;
	const char	*v;

	buf_reset(&c->unfolded);
	(void)message_unfold(h->value, h->value_len, &c->unfolded);
	v = buf_cstr(&c->unfolded);
	if (v[strspn(v, " \t")] == '\0')
		return 0;
	if (addr_parse_header_list(v, &c->extracted, &sub) == -1)
		return err_set(c->err, ERR_DATA, "-t: cannot take recipients "
		    "from the %.*s: header: %s", (int)h->name_len, h->name,
		    sub.text);
	return 0;
}

static bool
message_is_address_header(const struct message_header *h)
{
	static const char *const names[] = {
		"From", "Sender", "Reply-To", "To", "Cc",
		"Resent-From", "Resent-Sender", "Resent-Reply-To",
		"Resent-To", "Resent-Cc",
	};
	size_t	 i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (message_name_is(h, names[i]))
			return true;
	return false;
}

/*
 * smtp_generic_maps on an address header; one that is not a valid
 * address list is sent as it came (rewriting it could only guess).
 */
static int
message_emit_rewritten(struct message_headers_ctx *c,
    const struct message_header *h)
{
	const struct message_params	*p = c->job->params;
	struct err			 sub;
	int				 rc;

	buf_reset(&c->rewritten);
	rc = addr_rewrite_header_list(h->value, h->value_len, p->rewrite,
	    p->rewrite_ctx, &c->rewritten, &sub);
	if (rc != 1)
		return message_emit_text(&c->job->writer, h->name,
		    (size_t)(h->value + h->value_len - h->name), c->err);
	/* One emit: it ends the field's last line. */
	buf_reset(&c->unfolded);
	if (buf_append(&c->unfolded, h->name, (size_t)(h->value - h->name)) ==
	    -1 || buf_append(&c->unfolded, c->rewritten.data,
	    c->rewritten.len) == -1)
		return err_set(c->err, ERR_DATA, "the %.*s: header is too long "
		    "once rewritten", (int)h->name_len, h->name);
	return message_emit_text(&c->job->writer, c->unfolded.data,
	    c->unfolded.len, c->err);
}

/*
 * Second pass: -t extraction (from the headers as written), Bcc
 * removal, address rewriting, everything else copied.
 */
static int
message_filter_header(void *arg, const struct message_header *h)
{
	struct message_headers_ctx	*c = arg;
	struct message_job		*j = c->job;

	if (j->params->extract_recipients &&
	    message_is_recipient_header(h, c->resent) &&
	    message_extract(c, h) == -1)
		return -1;
	if (message_name_is(h, "Bcc") || message_name_is(h, "Resent-Bcc"))
		return 0;
	if (j->params->rewrite != NULL && message_is_address_header(h))
		return message_emit_rewritten(c, h);
	return message_emit_text(&j->writer, h->name,
	    (size_t)(h->value + h->value_len - h->name), c->err);
}

/* <YYYYMMDDhhmmss.pid.random@myhostname>: unique without any state. */
static char *
message_new_id(time_t now, const char *host)
{
	unsigned char	 rnd[8];
	char		 hex[2 * sizeof(rnd) + 1];
	struct timespec	 ts;
	struct tm	 tm;
	uint64_t	 v;
	size_t		 i;

	if (getrandom(rnd, sizeof(rnd), GRND_NONBLOCK) !=
	    (ssize_t)sizeof(rnd)) {
		/* Early boot: time and pid keep it unique, nsec helps. */
		(void)clock_gettime(CLOCK_REALTIME, &ts);
		v = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30);
		for (i = 0; i < sizeof(rnd); i++, v >>= 8)
			rnd[i] = (unsigned char)v;
	}
	for (i = 0; i < sizeof(rnd); i++)
		(void)snprintf(hex + 2 * i, 3, "%02x", rnd[i]);
	if (gmtime_r(&now, &tm) == NULL)
		memset(&tm, 0, sizeof(tm));
	return xasprintf("%04d%02d%02d%02d%02d%02d.%lu.%s@%s",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, (unsigned long)getpid(), hex, host);
}

/* RFC 5322 3.3, local time and numeric zone, names never localised. */
static void
message_format_date(time_t now, struct buf *out)
{
	static const char	 days[7][4] = { "Sun", "Mon", "Tue", "Wed",
				    "Thu", "Fri", "Sat" };
	static const char	 months[12][4] = { "Jan", "Feb", "Mar", "Apr",
				    "May", "Jun", "Jul", "Aug", "Sep", "Oct",
				    "Nov", "Dec" };
	struct tm		 tm;
	long			 zone;

	if (localtime_r(&now, &tm) == NULL)
		memset(&tm, 0, sizeof(tm));
	zone = tm.tm_gmtoff / 60;
	(void)buf_printf(out, "Date: %s, %d %s %d %02d:%02d:%02d %c%02ld%02ld\n",
	    days[tm.tm_wday % 7], tm.tm_mday, months[tm.tm_mon % 12],
	    tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec,
	    zone < 0 ? '-' : '+', labs(zone) / 60, labs(zone) % 60);
}

/* One RFC 2047 "B" encoded-word. */
static void
message_encode_word(const char *s, size_t n, struct buf *out)
{
	static const char	 b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				    "abcdefghijklmnopqrstuvwxyz0123456789+/";
	unsigned long		 v;
	size_t			 i, k;
	char			 quad[4];

	(void)buf_append_str(out, "=?UTF-8?B?");
	for (i = 0; i < n; i += 3) {
		v = 0;
		for (k = 0; k < 3; k++)
			v = v << 8 | (i + k < n ? (unsigned char)s[i + k] : 0);
		for (k = 0; k < 4; k++)
			quad[k] = k <= n - i ? b64[(v >> (18 - 6 * k)) & 63] :
			    '=';
		(void)buf_append(out, quad, sizeof(quad));
	}
	(void)buf_append_str(out, "?=");
}

/*
 * The -F name as an RFC 5322 display-name: atoms as they are, a
 * quoted-string when it has specials, RFC 2047 encoded-words (split on
 * UTF-8 character boundaries, folded) when it has 8-bit octets. The name
 * is already cleaned of control characters and trimmed.
 */
static void
message_display_name(const char *name, struct buf *out)
{
	static const char	 atext[] = "!#$%&'*+-/=?^_`{|}~ ";
	const char		*p;
	size_t			 len = strlen(name), take;
	bool			 eightbit = false, plain = true;

	for (p = name; *p != '\0'; p++) {
		if ((unsigned char)*p >= 0x80)
			eightbit = true;
		else if (!isalnum((unsigned char)*p) &&
		    strchr(atext, *p) == NULL)
			plain = false;
	}
	/* "=?" could be taken for an encoded-word (RFC 2047 5): quote it. */
	if (strstr(name, "=?") != NULL)
		plain = false;
	if (eightbit) {
		while (len > 0) {
			take = len < MESSAGE_WORD_OCTETS ? len :
			    MESSAGE_WORD_OCTETS;
			while (take < len && take > 1 &&
			    ((unsigned char)name[take] & 0xc0) == 0x80)
				take--;
			message_encode_word(name, take, out);
			name += take;
			len -= take;
			if (len > 0)
				(void)buf_append_str(out, "\n ");
		}
	} else if (plain)
		(void)buf_append_str(out, name);
	else {
		(void)buf_putc(out, '"');
		for (p = name; *p != '\0'; p++) {
			if (*p == '"' || *p == '\\')
				(void)buf_putc(out, '\\');
			(void)buf_putc(out, *p);
		}
		(void)buf_putc(out, '"');
	}
}

/* From: [display-name] <addr>, folded before the address when long. */
static void
message_format_from(const struct message_params *p, const char *addr,
    struct buf *out)
{
	size_t	 start = out->len, i, n;
	char	*name;

	(void)buf_append_str(out, "From: ");
	name = xstrdup(p->full_name != NULL ? p->full_name : "");
	/* Control characters would let -F inject header lines. */
	for (i = 0; name[i] != '\0'; i++)
		if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
			name[i] = ' ';
	for (n = strlen(name); n > 0 && name[n - 1] == ' '; n--)
		name[n - 1] = '\0';
	i = strspn(name, " ");
	if (name[i] == '\0')
		(void)buf_append_str(out, addr);
	else {
		message_display_name(name + i, out);
		(void)buf_printf(out, "%s<%s>", out->len - start +
		    strlen(addr) + 3 > 78 ? "\n " : " ", addr);
	}
	(void)buf_putc(out, '\n');
	free(name);
}

/* Date, Message-ID, From, when missing: one LF-separated text block. */
static int
message_add_headers(struct message_headers_ctx *c, struct err *e)
{
	struct message_job		*j = c->job;
	const struct message_params	*p = j->params;
	struct buf			 added;
	char				*own = NULL, *mapped = NULL;
	int				 rc;

	buf_init(&added, MESSAGE_HEADER_MAX);
	if (!c->has_date)
		message_format_date(p->now, &added);
	if (c->message_id == NULL) {
		c->message_id = message_new_id(p->now, p->myhostname);
		(void)buf_printf(&added, "Message-ID: <%s>\n", c->message_id);
	}
	if (!c->has_from) {
		/* A null sender (-f '<>') cannot be an author. */
		if (*j->msg->sender == '\0')
			own = addr_qualify(p->login, p->myorigin);
		if (p->rewrite != NULL)
			mapped = p->rewrite(p->rewrite_ctx, own != NULL ? own :
			    j->msg->sender);
		message_format_from(p, mapped != NULL ? mapped : own != NULL ?
		    own : j->msg->sender, &added);
	}
	rc = message_emit_text(&j->writer, added.data, added.len, e);
	free(mapped);
	free(own);
	buf_free(&added);
	return rc;
}

static int
message_write_header_section(struct message_job *j, struct err *e)
{
	struct message_headers_ctx	 c;
	int				 rc = -1;

	memset(&c, 0, sizeof(c));
	c.job = j;
	c.err = e;
	buf_init(&c.unfolded, MESSAGE_HEADER_MAX);
	buf_init(&c.rewritten, MESSAGE_HEADER_MAX);
	if (message_parse_headers(j->header.data, j->header_end,
	    message_scan_header, &c, e) == -1 ||
	    message_parse_headers(j->header.data, j->header_end,
	    message_filter_header, &c, e) == -1 ||
	    message_add_headers(&c, e) == -1 ||
	    message_emit_eol(&j->writer, e) == -1)
		goto out;
	message_add_recipients(j->msg, &c.extracted,
	    j->params->bare_recipients ? NULL : j->params->myorigin);
	rc = 0;
out:
	j->msg->message_id = c.message_id;
	addr_list_free(&c.extracted);
	buf_free(&c.unfolded);
	buf_free(&c.rewritten);
	return rc;
}

static int
message_copy_body(struct message_job *j, struct err *e)
{
	bool	 eol, line_start = true;
	int	 rc;

	if (j->header.len > j->header_end) {
		if (message_emit(&j->writer, j->header.data + j->header_end,
		    j->header.len - j->header_end, e) == -1)
			return -1;
		line_start = j->first_body_line_ended;
		if (line_start && message_emit_eol(&j->writer, e) == -1)
			return -1;
	}
	while (!j->done) {
		if ((rc = message_read_piece(&j->reader, &j->piece, &eol,
		    e)) == -1)
			return -1;
		if (rc == 0 || (line_start &&
		    message_is_dot_line(j, j->piece.data, j->piece.len, eol)))
			break;
		if (message_emit(&j->writer, j->piece.data, j->piece.len,
		    e) == -1 || (eol && message_emit_eol(&j->writer, e) == -1))
			return -1;
		line_start = eol;
	}
	return 0;
}

/*
 * Qualified (unless origin is NULL), duplicates dropped
 * (case-insensitively), order kept.
 */
static void
message_add_recipients(struct message *msg, const struct addr_list *l,
    const char *origin)
{
	char	*q;
	size_t	 i, k;

	for (i = 0; i < l->n; i++) {
		q = origin != NULL ? addr_qualify(l->v[i], origin) :
		    xstrdup(l->v[i]);
		for (k = 0; k < msg->recipients.n; k++)
			if (strcasecmp(msg->recipients.v[k], q) == 0)
				break;
		if (k == msg->recipients.n)
			addr_list_add(&msg->recipients, q);
		free(q);
	}
}

/* -f (or login@myorigin) and the argv recipients, "Name <a@b>" allowed. */
static int
message_set_envelope(struct message *msg, const struct message_params *p,
    struct err *e)
{
	struct addr_list	 l = { NULL, 0 };
	struct err		 sub;
	char			*s;
	size_t			 i;

	if (p->sender == NULL)
		msg->sender = addr_qualify(p->login, p->myorigin);
	else if (addr_parse_envelope(p->sender, &s, e) == -1)
		return -1;
	else if (*s == '\0')
		msg->sender = s;
	else {
		msg->sender = addr_qualify(s, p->myorigin);
		free(s);
	}
	for (i = 0; i < p->recipient_count; i++) {
		if (addr_parse_header_list(p->recipients[i], &l, &sub) == -1)
			return err_set(e, ERR_DATA, "bad recipient address "
			    "\"%s\": %s", p->recipients[i], sub.text);
		if (l.n == 0)
			return err_set(e, ERR_DATA, "no address in recipient "
			    "argument \"%s\"", p->recipients[i]);
		message_add_recipients(msg, &l,
		    p->bare_recipients ? NULL : p->myorigin);
		addr_list_free(&l);
	}
	return 0;
}

int
message_intake(struct message *msg, int in_fd, int out_fd,
    const struct message_params *p, struct err *e)
{
	struct message_job	 j;
	size_t			 i;
	int			 rc = -1;

	memset(msg, 0, sizeof(*msg));
	memset(&j, 0, sizeof(j));
	j.params = p;
	j.msg = msg;
	j.reader.fd = in_fd;
	j.reader.chunk = xmalloc(MESSAGE_READ_CHUNK);
	j.reader.limit = p->size_limit;
	j.writer.fd = out_fd;
	buf_init(&j.writer.out, MESSAGE_OUT_MAX);
	buf_init(&j.piece, MESSAGE_PIECE_MAX);
	buf_init(&j.header, MESSAGE_HEADER_MAX + MESSAGE_PIECE_MAX);
	if (p->full_name != NULL &&
	    strlen(p->full_name) > MESSAGE_FULL_NAME_MAX) {
		err_set(e, ERR_USAGE, "full name (-F) longer than %d bytes",
		    MESSAGE_FULL_NAME_MAX);
		goto out;
	}
	if (message_set_envelope(msg, p, e) == -1)
		goto out;
	/* Fail before reading the input when it cannot help. */
	if (p->recipient_count == 0 && !p->extract_recipients) {
		err_set(e, ERR_DATA, "no recipients");
		goto out;
	}
	if (message_read_header_section(&j, e) == -1 ||
	    message_write_header_section(&j, e) == -1 ||
	    message_copy_body(&j, e) == -1 || message_flush(&j.writer, e) == -1)
		goto out;
	if (msg->recipients.n == 0) {
		err_set(e, ERR_DATA, "no recipients");
		goto out;
	}
	msg->size = j.writer.size;
	msg->eightbit = j.writer.eightbit;
	msg->smtputf8 = addr_needs_smtputf8(msg->sender);
	for (i = 0; i < msg->recipients.n; i++)
		if (addr_needs_smtputf8(msg->recipients.v[i]))
			msg->smtputf8 = true;
	rc = 0;
out:
	free(j.reader.chunk);
	buf_free(&j.writer.out);
	buf_free(&j.piece);
	buf_free(&j.header);
	if (rc == -1)
		message_free(msg);
	return rc;
}

void
message_free(struct message *msg)
{
	free(msg->sender);
	free(msg->message_id);
	addr_list_free(&msg->recipients);
	memset(msg, 0, sizeof(*msg));
}

int
message_parse_headers(const char *text, size_t len,
    int (*fn)(void *, const struct message_header *), void *ctx,
    struct err *e)
{
	struct message_header	 h;
	const char		*p = text, *end = text + len, *nl, *colon;
	size_t			 n;
	bool			 have = false;

	memset(&h, 0, sizeof(h));
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		n = (size_t)((nl != NULL ? nl : end) - p);
		if (n > 0 && p[n - 1] == '\r')
			n--;
		switch (message_classify(p, n, true)) {
		case MESSAGE_LINE_CONTINUATION:
			if (!have)
				goto bad;
			h.value_len = (size_t)(p + n - h.value);
			break;
		case MESSAGE_LINE_HEADER:
			if (have && fn(ctx, &h) == -1)
				return -1;
			colon = memchr(p, ':', n);
			h.name = p;
			h.name_len = strcspn(p, ": \t");
			h.value = colon + 1;
			h.value_len = (size_t)(p + n - h.value);
			have = true;
			break;
		default:
			goto bad;
		}
		p = nl != NULL ? nl + 1 : end;
	}
	if (have && fn(ctx, &h) == -1)
		return -1;
	return 0;
bad:
	return err_set(e, ERR_DATA, "malformed header line \"%.*s\"",
	    (int)(n < 64 ? n : 64), p);
}

int
message_unfold(const char *value, size_t len, struct buf *out)
{
	size_t	 i, run;

	/* RFC 5322 2.2.3: unfolding removes the CRLF before the WSP. */
	for (i = 0; i < len; i += run) {
		if (value[i] == '\r' || value[i] == '\n') {
			run = 1;
			continue;
		}
		for (run = 1; i + run < len && value[i + run] != '\r' &&
		    value[i + run] != '\n'; run++)
			;
		if (buf_append(out, value + i, run) == -1)
			return -1;
	}
	return 0;
}
