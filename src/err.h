/* SPDX-License-Identifier: ISC */
/*
 * Error values. Functions return 0 / -1 and fill a caller-owned struct err.
 * The server's words (code, enhanced status, text) and our explanation are
 * kept apart so both reach the user:
 *   to=<x@y>: 550 5.1.1 user unknown (rejected by mail.y.org)
 * Texts are truncated to fit; they never hold more than ERR_TEXT_MAX bytes,
 * and server text is stripped of control characters before it is stored.
 */
#ifndef SENDRELAY_ERR_H
#define SENDRELAY_ERR_H

#include <stdarg.h>
#include <stddef.h>

#define ERR_TEXT_MAX	512

enum err_kind {
	ERR_OK = 0,
	ERR_USAGE,		/* 64 */
	ERR_DATA,		/* 65 bad message or address */
	ERR_NOINPUT,		/* 66 unreadable input */
	ERR_NOUSER,		/* 67 unknown user (5.1.x) */
	ERR_PERM,		/* 69 permanent failure */
	ERR_SOFTWARE,		/* 70 internal */
	ERR_OSERR,		/* 71 system */
	ERR_IOERR,		/* 74 I/O */
	ERR_TEMP,		/* 75 temporary failure */
	ERR_PROTOCOL,		/* 76 remote protocol error */
	ERR_NOPERM,		/* 77 permission, secrets, authentication */
	ERR_CONFIG,		/* 78 configuration */
};

struct err {
	enum err_kind	 kind;
	int		 smtp_code;	/* 0 when no server reply is involved */
	char		 enhanced[16];	/* "5.1.1", or "" */
	char		 server[ERR_TEXT_MAX];	/* the server's words, or "" */
	char		 text[ERR_TEXT_MAX];	/* our explanation */
};

void	 err_clear(struct err *);
/* Sets kind and explanation; returns -1 so callers can `return err_set(...)`. */
int	 err_set(struct err *, enum err_kind, const char *, ...)
	    __attribute__((format(printf, 3, 4)));
int	 err_vset(struct err *, enum err_kind, const char *, va_list)
	    __attribute__((format(printf, 3, 0)));
/*
 * Sets kind, the server's reply (code, enhanced status, text of possibly
 * several lines joined by '\n') and our explanation. Returns -1.
 */
int	 err_set_reply(struct err *, enum err_kind, int code,
	    const char *enhanced, const char *server_text, const char *, ...)
	    __attribute__((format(printf, 6, 7)));
/* Copies src into dst. */
void	 err_copy(struct err *dst, const struct err *src);
/* "550 5.1.1 user unknown (rejected by mail.y.org)" or just the text. */
void	 err_format(const struct err *, char *out, size_t outlen);
/* The one mapping from an error kind to a sysexits(3) code. */
int	 err_exit_code(const struct err *);
/* Maps an SMTP reply code + enhanced status to a kind (4xx temp, 5.1.x nouser...). */
enum err_kind err_kind_from_reply(int code, const char *enhanced);

#endif
