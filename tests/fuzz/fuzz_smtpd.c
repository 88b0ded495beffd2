/* SPDX-License-Identifier: ISC */
/*
 * smtpd: the input is the whole client side of a session. The replies
 * must be CRLF lines under 512 bytes starting with a code; what reaches
 * the accept hook must have a sender, 1 to SMTPD_RCPT_MAX recipients
 * without line breaks, content within the size limit whose every LF
 * follows a CR. Every other message is refused by the hook, with a line
 * break in its text, to drive the failure replies too.
 */
#include "config.h"

#include <sys/mman.h>

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "err.h"
#include "smtpd.h"

#define FUZZ_SIZE_LIMIT	4096L

int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);
static int	 fuzz_scratch(void *, struct err *);
static int	 fuzz_accept(void *, const char *, const struct addr_list *,
		    int, char *, size_t, struct err *);
static void	 fuzz_check_replies(int);

static int
fuzz_scratch(void *ctx, struct err *e)
{
	int	 fd;

	(void)ctx;
	if ((fd = memfd_create("fuzz-scratch", 0)) == -1)
		return err_set(e, ERR_OSERR, "memfd_create");
	return fd;
}

static int
fuzz_accept(void *ctx, const char *sender, const struct addr_list *rcpts,
    int fd, char *id, size_t idlen, struct err *e)
{
	unsigned *calls = ctx;
	char	 chunk[4096];
	char	 prev = '\0';
	size_t	 i, total = 0;
	ssize_t	 n, k;

	if (sender == NULL || rcpts->n == 0 || rcpts->n > SMTPD_RCPT_MAX ||
	    strpbrk(sender, "\r\n") != NULL)
		abort();
	for (i = 0; i < rcpts->n; i++)
		if (rcpts->v[i][0] == '\0' ||
		    strpbrk(rcpts->v[i], "\r\n") != NULL)
			abort();
	while ((n = read(fd, chunk, sizeof(chunk))) > 0) {
		for (k = 0; k < n; k++) {
			if (chunk[k] == '\n' && prev != '\r')
				abort();
			prev = chunk[k];
		}
		total += (size_t)n;
	}
	if (n == -1 || total > FUZZ_SIZE_LIMIT || (total > 0 && prev != '\n'))
		abort();
	if ((++*calls & 1) == 0)
		return err_set(e, total & 1 ? ERR_DATA : ERR_TEMP,
		    "refused\r\n250 injected");
	(void)snprintf(id, idlen, "FUZZID");
	return 0;
}

static void
fuzz_check_replies(int fd)
{
	char	 chunk[4096], line[512];
	size_t	 len = 0;
	ssize_t	 n, k;

	if (lseek(fd, 0, SEEK_SET) == -1)
		abort();
	while ((n = read(fd, chunk, sizeof(chunk))) > 0) {
		for (k = 0; k < n; k++) {
			if (len == sizeof(line))
				abort();	/* no reply line ends */
			line[len++] = chunk[k];
			if (chunk[k] != '\n')
				continue;
			if (len < 6 || line[len - 2] != '\r' ||
			    memchr(line, '\r', len - 2) != NULL ||
			    line[0] < '2' || line[0] > '5' ||
			    (line[3] != ' ' && line[3] != '-'))
				abort();
			len = 0;
		}
	}
	if (n == -1 || len != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned calls = 0;
	struct smtpd_hooks hooks = { fuzz_scratch, fuzz_accept, &calls };
	struct err e;
	int	 in, out;

	if ((in = memfd_create("fuzz-in", 0)) == -1 ||
	    (out = memfd_create("fuzz-out", 0)) == -1)
		abort();
	if (write(in, data, size) != (ssize_t)size ||
	    lseek(in, 0, SEEK_SET) == -1)
		abort();
	if (smtpd_session(in, out, "fuzz.example", FUZZ_SIZE_LIMIT, &hooks,
	    &e) == -1)
		abort();	/* memfds neither fail to read nor to write */
	fuzz_check_replies(out);
	close(in);
	close(out);
	return 0;
}
