/* SPDX-License-Identifier: ISC */
/*
 * Growable byte buffer with a hard maximum, set at init. Every buffer that
 * holds peer or user data has one, so no input can make us grow without
 * bound. The data is always NUL-terminated (the NUL is not counted in len),
 * so text buffers can be handed to string functions directly.
 */
#ifndef SENDRELAY_BUF_H
#define SENDRELAY_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
	char	*data;
	size_t	 len;
	size_t	 cap;
	size_t	 max;	/* len never exceeds this */
};

void	 buf_init(struct buf *, size_t max);
void	 buf_free(struct buf *);
/* Like buf_free, but overwrites the contents first (secrets). */
void	 buf_wipe(struct buf *);
void	 buf_reset(struct buf *);
/* Each returns 0, or -1 when the result would exceed max (buf unchanged). */
int	 buf_append(struct buf *, const void *, size_t);
int	 buf_append_str(struct buf *, const char *);
int	 buf_putc(struct buf *, char);
int	 buf_printf(struct buf *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
int	 buf_vprintf(struct buf *, const char *, va_list)
	    __attribute__((format(printf, 2, 0)));
/* Drops n bytes from the front. */
void	 buf_consume(struct buf *, size_t n);
/* Returns the NUL-terminated contents ("" for an empty buffer). */
const char *buf_cstr(const struct buf *);
/* Hands the contents to the caller (free() them) and resets the buffer. */
char	*buf_release(struct buf *);

#endif
