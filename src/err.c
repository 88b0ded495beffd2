/* SPDX-License-Identifier: ISC */
/* Error values and the one mapping to sysexits codes; see err.h. */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include "err.h"

static void	 err_copy_printable(char *, size_t, const char *);

void
err_clear(struct err *e)
{
	e->kind = ERR_OK;
	e->smtp_code = 0;
	e->enhanced[0] = '\0';
	e->server[0] = '\0';
	e->text[0] = '\0';
}

int
err_vset(struct err *e, enum err_kind kind, const char *fmt, va_list ap)
{
	e->kind = kind;
	e->smtp_code = 0;
	e->enhanced[0] = '\0';
	e->server[0] = '\0';
	(void)vsnprintf(e->text, sizeof(e->text), fmt, ap);
	return -1;
}

int
err_set(struct err *e, enum err_kind kind, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	(void)err_vset(e, kind, fmt, ap);
	va_end(ap);
	return -1;
}

/* Peer text may hold anything; keep it to one printable line. */
static void
err_copy_printable(char *dst, size_t dstlen, const char *src)
{
	size_t	 i = 0;
	unsigned char c;

	for (; *src != '\0' && i + 1 < dstlen; src++) {
		c = (unsigned char)*src;
		if (c == '\n') {
			if (i + 2 >= dstlen)
				break;
			dst[i++] = ';';
			dst[i++] = ' ';
		} else if (c < 0x20 || c == 0x7f)
			dst[i++] = '?';
		else
			dst[i++] = (char)c;
	}
	dst[i] = '\0';
}

int
err_set_reply(struct err *e, enum err_kind kind, int code, const char *enhanced,
    const char *server_text, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	(void)err_vset(e, kind, fmt, ap);
	va_end(ap);
	e->smtp_code = code;
	err_copy_printable(e->enhanced, sizeof(e->enhanced),
	    enhanced != NULL ? enhanced : "");
	err_copy_printable(e->server, sizeof(e->server),
	    server_text != NULL ? server_text : "");
	return -1;
}

void
err_copy(struct err *dst, const struct err *src)
{
	memcpy(dst, src, sizeof(*dst));
}

void
err_format(const struct err *e, char *out, size_t outlen)
{
	if (e->smtp_code == 0) {
		(void)snprintf(out, outlen, "%s", e->text);
		return;
	}
	(void)snprintf(out, outlen, "%d%s%s%s%s (%s)", e->smtp_code,
	    e->enhanced[0] ? " " : "", e->enhanced,
	    e->server[0] ? " " : "", e->server, e->text);
}

int
err_exit_code(const struct err *e)
{
	switch (e->kind) {
	case ERR_OK:		return EX_OK;
	case ERR_USAGE:		return EX_USAGE;
	case ERR_DATA:		return EX_DATAERR;
	case ERR_NOINPUT:	return EX_NOINPUT;
	case ERR_NOUSER:	return EX_NOUSER;
	case ERR_PERM:		return EX_UNAVAILABLE;
	case ERR_SOFTWARE:	return EX_SOFTWARE;
	case ERR_OSERR:		return EX_OSERR;
	case ERR_IOERR:		return EX_IOERR;
	case ERR_TEMP:		return EX_TEMPFAIL;
	case ERR_PROTOCOL:	return EX_PROTOCOL;
	case ERR_NOPERM:	return EX_NOPERM;
	case ERR_CONFIG:	return EX_CONFIG;
	}
	return EX_SOFTWARE;
}

enum err_kind
err_kind_from_reply(int code, const char *enhanced)
{
	if (code >= 400 && code < 500)
		return ERR_TEMP;
	if (code < 500 || code > 599)
		return ERR_PROTOCOL;
	/* RFC 3463: X.1.1 bad destination mailbox, X.1.2 bad system... */
	if (enhanced != NULL && strncmp(enhanced, "5.1.1", 5) == 0 &&
	    (enhanced[5] == '\0' || enhanced[5] == ' '))
		return ERR_NOUSER;
	return ERR_PERM;
}
