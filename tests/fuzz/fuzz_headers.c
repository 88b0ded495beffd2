/* SPDX-License-Identifier: ISC */
/*
 * Fuzzes message intake with -t (input and output on memfds) and the
 * header parser. The first byte picks options (-i, a size limit); after a
 * successful intake the output must be canonical: CRLF line ends only, no
 * NUL, no line over MESSAGE_LINE_MAX octets, a final CRLF, size matching.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "message.h"
#include "xmalloc.h"

int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);
static int	 fuzz_header(void *, const struct message_header *);
static void	 fuzz_check_output(int, const struct message *);

static int
fuzz_header(void *arg, const struct message_header *h)
{
	struct buf	*b = arg;

	buf_reset(b);
	if (h->name_len == 0 || message_unfold(h->value, h->value_len, b) == -1)
		abort();
	return 0;
}

static void
fuzz_check_output(int fd, const struct message *msg)
{
	off_t		 end = lseek(fd, 0, SEEK_END);
	char		*out;
	size_t		 i, column = 0;

	if (end != msg->size || end < 2)
		abort();
	out = xmalloc((size_t)end);
	if (pread(fd, out, (size_t)end, 0) != end)
		abort();
	for (i = 0; i < (size_t)end; i++) {
		if (out[i] == '\0' || out[i] == '\n')
			abort();
		if (out[i] == '\r') {
			if (i + 1 == (size_t)end || out[++i] != '\n')
				abort();
			column = 0;
		} else if (++column > MESSAGE_LINE_MAX)
			abort();
	}
	if (out[end - 1] != '\n')
		abort();
	free(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char *const	 rcpts[] = { "argv@example.net" };
	struct message_params	 p;
	struct message		 msg;
	struct err		 e;
	struct buf		 b;
	int			 in, out;
	uint8_t			 flags = size > 0 ? data[0] : 0;

	buf_init(&b, MESSAGE_HEADER_MAX);
	(void)message_parse_headers((const char *)data, size, fuzz_header, &b,
	    &e);
	buf_free(&b);

	memset(&p, 0, sizeof(p));
	p.myhostname = "host.example";
	p.myorigin = "example.org";
	p.login = "fuzz";
	p.full_name = (flags & 1) ? "Fuzz \"Q\" T\xc3\xa9ster" : NULL;
	p.sender = (flags & 2) ? "<>" : NULL;
	p.extract_recipients = true;
	p.dot_ends_input = (flags & 4) == 0;
	p.size_limit = (flags & 8) ? 4096 : 0;
	p.recipients = rcpts;
	p.recipient_count = (flags & 16) ? 1 : 0;
	p.now = 1700000000;
	in = memfd_create("in", 0);
	out = memfd_create("out", 0);
	if (in == -1 || out == -1 ||
	    write(in, data, size) != (ssize_t)size ||
	    lseek(in, 0, SEEK_SET) != 0)
		abort();
	if (message_intake(&msg, in, out, &p, &e) == 0) {
		if (msg.recipients.n == 0 || msg.sender == NULL ||
		    msg.message_id == NULL)
			abort();
		fuzz_check_output(out, &msg);
	}
	message_free(&msg);
	close(in);
	close(out);
	return 0;
}
