/* SPDX-License-Identifier: ISC */
/* Allocation wrappers; see xmalloc.h. */
#include "config.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "xmalloc.h"

static void	 xmalloc_die(void) __attribute__((noreturn));

static void
xmalloc_die(void)
{
	static const char text[] = "sendrelay: out of memory\n";

	/* stdio may itself need memory; write(2) does not. */
	(void)!write(STDERR_FILENO, text, sizeof(text) - 1);
	_exit(EX_OSERR);
}

void *
xmalloc(size_t size)
{
	void	*p = malloc(size ? size : 1);

	if (p == NULL)
		xmalloc_die();
	return p;
}

void *
xcalloc(size_t count, size_t size)
{
	void	*p = calloc(count ? count : 1, size ? size : 1);

	if (p == NULL)
		xmalloc_die();
	return p;
}

void *
xreallocarray(void *old, size_t count, size_t size)
{
	void	*p;
	size_t	 total;

	if (size != 0 && count > SIZE_MAX / size)
		xmalloc_die();
	total = count * size;
	p = realloc(old, total != 0 ? total : 1);
	if (p == NULL)
		xmalloc_die();
	return p;
}

char *
xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *
xstrndup(const char *s, size_t n)
{
	char	*p = strndup(s, n);

	if (p == NULL)
		xmalloc_die();
	return p;
}

char *
xasprintf(const char *fmt, ...)
{
	va_list	 ap;
	char	*p;
	int	 n;

	va_start(ap, fmt);
	n = vasprintf(&p, fmt, ap);
	va_end(ap);
	if (n < 0)
		xmalloc_die();
	return p;
}

void
xwipe(void *p, size_t n)
{
	if (p != NULL)
		explicit_bzero(p, n);
}

void
xfree_secret(char *s)
{
	if (s == NULL)
		return;
	xwipe(s, strlen(s));
	free(s);
}
