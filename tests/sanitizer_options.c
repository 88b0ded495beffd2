/* SPDX-License-Identifier: ISC */
/*
 * Linked into the program only by --enable-sanitizers. LeakSanitizer
 * cannot inspect a set-group-id process (the kernel makes it
 * non-dumpable) and aborts instead, and such a process ignores
 * ASAN_OPTIONS; so leak checking is off exactly there (the privilege
 * tests), and on everywhere else.
 */
#include <sys/auxv.h>

const char	*__asan_default_options(void);

const char *
__asan_default_options(void)
{
	return getauxval(AT_SECURE) ? "detect_leaks=0" : "";
}
