/* SPDX-License-Identifier: ISC */
/*
 * Minimal table-driven test support: each CHECK prints a TAP line
 * ("ok N - name" / "not ok N - name"), check_done() prints the plan and
 * returns the exit status (1 if anything failed).
 */
#ifndef SENDRELAY_CHECK_H
#define SENDRELAY_CHECK_H

#include <stdio.h>
#include <string.h>

static int check_count;
static int check_failed;

#define CHECK(cond, ...) do {						\
	int check_pass_ = (cond) ? 1 : 0;				\
	check_count++;							\
	if (check_pass_)						\
		printf("ok %d - ", check_count);			\
	else {								\
		check_failed++;						\
		printf("not ok %d - ", check_count);			\
	}								\
	printf(__VA_ARGS__);						\
	printf("%s\n", check_pass_ ? "" : "  [" #cond "]");		\
} while (0)

#define CHECK_STR(got, want, ...) do {					\
	const char *check_g_ = (got), *check_w_ = (want);		\
	int check_ok_ = (check_g_ == NULL && check_w_ == NULL) ||	\
	    (check_g_ != NULL && check_w_ != NULL &&			\
	    strcmp(check_g_, check_w_) == 0);				\
	CHECK(check_ok_, __VA_ARGS__);					\
	if (!check_ok_)							\
		printf("#   got \"%s\", want \"%s\"\n",			\
		    check_g_ ? check_g_ : "(null)",			\
		    check_w_ ? check_w_ : "(null)");			\
} while (0)

static inline int
check_done(void)
{
	printf("1..%d\n", check_count);
	return check_failed ? 1 : 0;
}

#endif
