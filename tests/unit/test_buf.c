/* SPDX-License-Identifier: ISC */
/*
 * buf: the hard maximum holds for every way of adding bytes, a refused
 * append leaves the buffer as it was, and contents stay NUL-terminated.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "check.h"

static void	 test_append_and_max(void);
static void	 test_printf(void);
static void	 test_consume_release(void);

static void
test_append_and_max(void)
{
	struct buf b;

	buf_init(&b, 8);
	CHECK_STR(buf_cstr(&b), "", "empty buffer reads as empty string");
	CHECK(buf_append(&b, "abcd", 4) == 0, "append within max");
	CHECK(buf_append_str(&b, "efgh") == 0, "append up to max exactly");
	CHECK_STR(buf_cstr(&b), "abcdefgh", "contents after appends");
	CHECK(buf_putc(&b, 'x') == -1, "putc past max refused");
	CHECK(buf_append(&b, "y", 1) == -1, "append past max refused");
	CHECK(b.len == 8 && strcmp(buf_cstr(&b), "abcdefgh") == 0,
	    "refused appends leave the buffer unchanged");
	buf_reset(&b);
	CHECK(b.len == 0 && buf_cstr(&b)[0] == '\0', "reset empties");
	CHECK(buf_append(&b, "a\0b", 3) == 0 && b.len == 3 &&
	    memcmp(b.data, "a\0b", 4) == 0, "binary bytes kept, NUL after");
	buf_wipe(&b);
	CHECK(b.data == NULL && b.len == 0, "wipe frees");
}

static void
test_printf(void)
{
	struct buf b;

	buf_init(&b, 10);
	CHECK(buf_printf(&b, "%d-%s", 42, "ab") == 0, "printf within max");
	CHECK_STR(buf_cstr(&b), "42-ab", "printf result");
	CHECK(buf_printf(&b, "%s", "123456") == -1, "printf past max refused");
	CHECK_STR(buf_cstr(&b), "42-ab", "refused printf leaves contents");
	CHECK(buf_printf(&b, "%s", "12345") == 0 && b.len == 10,
	    "printf filling to max exactly");
	buf_free(&b);

	buf_init(&b, 100000);
	CHECK(buf_printf(&b, "%5000d", 7) == 0 && b.len == 5000,
	    "printf growing past the initial allocation");
	buf_free(&b);
}

static void
test_consume_release(void)
{
	struct buf b;
	char	*s;

	buf_init(&b, 64);
	(void)buf_append_str(&b, "hello world");
	buf_consume(&b, 6);
	CHECK_STR(buf_cstr(&b), "world", "consume drops the front");
	buf_consume(&b, 100);
	CHECK(b.len == 0 && buf_cstr(&b)[0] == '\0', "consume past end empties");
	(void)buf_append_str(&b, "kept");
	s = buf_release(&b);
	CHECK_STR(s, "kept", "release hands over the contents");
	CHECK(b.len == 0 && buf_cstr(&b)[0] == '\0', "release resets");
	free(s);
	CHECK(buf_append_str(&b, "again") == 0 &&
	    strcmp(buf_cstr(&b), "again") == 0, "usable after release");
	buf_free(&b);
}

int
main(void)
{
	test_append_and_max();
	test_printf();
	test_consume_release();
	return check_done();
}
