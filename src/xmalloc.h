/* SPDX-License-Identifier: ISC */
/*
 * Allocation that never returns NULL: on exhaustion the process logs and
 * exits with EX_OSERR. A send-only relay has no way to degrade gracefully
 * without memory, and a message not yet accepted is still the caller's.
 */
#ifndef SENDRELAY_XMALLOC_H
#define SENDRELAY_XMALLOC_H

#include <stddef.h>

void	*xmalloc(size_t);
void	*xcalloc(size_t, size_t);
void	*xreallocarray(void *, size_t, size_t);
char	*xstrdup(const char *);
char	*xstrndup(const char *, size_t);
char	*xasprintf(const char *, ...) __attribute__((format(printf, 1, 2)));
/* Overwrites a secret in a way the compiler may not elide, then frees it. */
void	 xfree_secret(char *);
void	 xwipe(void *, size_t);

#endif
