/* SPDX-License-Identifier: ISC */
/*
 * smtpd: scripted client input in a memfd, the replies collected in
 * another, and fake hooks that record what would be queued. Each case
 * compares the whole reply transcript. One case runs a real pipelining
 * client over a socketpair against a forked server, which only passes if
 * replies are flushed before the server blocks on input.
 */
#include "config.h"

#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "buf.h"
#include "check.h"
#include "err.h"
#include "smtpd.h"

#define HOST		"test.example"
#define GREETING	"220 " HOST " ESMTP sendrelay\r\n"
#define EHLO_REPLY	"250-" HOST "\r\n250-PIPELINING\r\n250-SIZE 10000\r\n" \
			"250-8BITMIME\r\n250-SMTPUTF8\r\n" \
			"250-ENHANCEDSTATUSCODES\r\n250 HELP\r\n"
#define LIMIT		10000L

/* What the accept hook saw and what it answers. */
struct fake {
	int		 calls;
	char		 sender[256];
	char		 rcpts[32768];	/* joined with ',' */
	struct buf	 content;
	int		 result;	/* of accept */
	enum err_kind	 kind;
	const char	*text;
	bool		 scratch_fails;
	long		 limit;		/* for the session */
};

static int	 memfd_with(const char *, size_t);
static char	*slurp(int);
static int	 fake_scratch(void *, struct err *);
static int	 fake_accept(void *, const char *, const struct addr_list *,
		    int, char *, size_t, struct err *);
static void	 fake_init(struct fake *);
static char	*run(const char *, size_t, struct fake *, int *, struct err *);
static void	 expect(const char *, const char *, const char *);
static void	 test_full_session(void);
static void	 test_transparency(void);
static void	 test_bare_lf(void);
static void	 test_two_messages(void);
static void	 test_mail_params(void);
static void	 test_sequence_errors(void);
static void	 test_addresses(void);
static void	 test_misc_commands(void);
static void	 test_long_lines(void);
static void	 test_accept_failures(void);
static void	 test_size_limit(void);
static void	 test_eof(void);
static void	 test_too_many(void);
static void	 test_io_failures(void);
static void	 send_all(int, const char *);
static bool	 read_until(int, struct buf *, const char *);
static void	 test_pipelining(void);

static int
memfd_with(const char *data, size_t len)
{
	int	 fd = memfd_create("smtpd-test", 0);

	if (fd == -1 || write(fd, data, len) != (ssize_t)len ||
	    lseek(fd, 0, SEEK_SET) == -1) {
		perror("memfd");
		exit(1);
	}
	return fd;
}

/* The whole content of fd, from its start. */
static char *
slurp(int fd)
{
	struct buf b;
	char	 chunk[4096];
	ssize_t	 n;

	buf_init(&b, 16 * 1024 * 1024);
	if (lseek(fd, 0, SEEK_SET) == -1)
		exit(1);
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		if (buf_append(&b, chunk, (size_t)n) == -1)
			exit(1);
	(void)buf_append_str(&b, "");
	return buf_release(&b);
}

static int
fake_scratch(void *ctx, struct err *e)
{
	struct fake *f = ctx;

	if (f->scratch_fails)
		return err_set(e, ERR_OSERR, "no space\r\nleft");
	return memfd_create("smtpd-scratch", 0);
}

static int
fake_accept(void *ctx, const char *sender, const struct addr_list *rcpts,
    int fd, char *id, size_t idlen, struct err *e)
{
	struct fake *f = ctx;
	char	*content;
	size_t	 i;

	f->calls++;
	(void)snprintf(f->sender, sizeof(f->sender), "%s", sender);
	f->rcpts[0] = '\0';
	for (i = 0; i < rcpts->n; i++) {
		if (i > 0)
			(void)strncat(f->rcpts, ",",
			    sizeof(f->rcpts) - strlen(f->rcpts) - 1);
		(void)strncat(f->rcpts, rcpts->v[i],
		    sizeof(f->rcpts) - strlen(f->rcpts) - 1);
	}
	/* slurp seeks to 0 itself; check the caller rewound first */
	if (lseek(fd, 0, SEEK_CUR) != 0)
		(void)buf_append_str(&f->content, "[not rewound]");
	content = slurp(fd);
	buf_reset(&f->content);
	(void)buf_append_str(&f->content, content);
	free(content);
	if (f->result == -1)
		return err_set(e, f->kind, "%s", f->text);
	(void)snprintf(id, idlen, "TESTID");
	return 0;
}

static void
fake_init(struct fake *f)
{
	memset(f, 0, sizeof(*f));
	buf_init(&f->content, 16 * 1024 * 1024);
	f->limit = LIMIT;
}

/* Runs one session over input; returns the replies (free them). */
static char *
run(const char *input, size_t len, struct fake *f, int *rc, struct err *e)
{
	struct smtpd_hooks hooks = { fake_scratch, fake_accept, f };
	int	 in = memfd_with(input, len), out = memfd_create("out", 0);
	char	*replies;

	*rc = smtpd_session(in, out, HOST, f->limit, &hooks, e);
	replies = slurp(out);
	close(in);
	close(out);
	return replies;
}

/* Runs input (a string) and compares the whole transcript. */
static void
expect(const char *name, const char *input, const char *want)
{
	struct fake f;
	struct err e;
	char	*got;
	int	 rc;

	fake_init(&f);
	got = run(input, strlen(input), &f, &rc, &e);
	CHECK(rc == 0, "%s: rc", name);
	CHECK_STR(got, want, "%s: replies", name);
	free(got);
	buf_free(&f.content);
}

static void
test_full_session(void)
{
	const char *in = "EHLO client.example\r\n"
	    "MAIL FROM:<alice@example.org>\r\n"
	    "RCPT TO:<bob@example.net>\r\n"
	    "DATA\r\n"
	    "Subject: hi\r\n\r\nbody\r\n.\r\n"
	    "QUIT\r\n"
	    "NOOP\r\n";		/* after QUIT: never answered */
	struct fake f;
	struct err e;
	char	*got;
	int	 rc;

	fake_init(&f);
	got = run(in, strlen(in), &f, &rc, &e);
	CHECK(rc == 0, "full session rc");
	CHECK_STR(got, GREETING EHLO_REPLY "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n"
	    "354 End data with <CR><LF>.<CR><LF>\r\n"
	    "250 2.0.0 Ok: queued as TESTID\r\n221 2.0.0 Bye\r\n",
	    "full session replies");
	CHECK(f.calls == 1, "full session accepted once");
	CHECK_STR(f.sender, "alice@example.org", "full session sender");
	CHECK_STR(f.rcpts, "bob@example.net", "full session recipients");
	CHECK_STR(buf_cstr(&f.content), "Subject: hi\r\n\r\nbody\r\n",
	    "full session content");
	free(got);
	buf_free(&f.content);
}

static void
test_transparency(void)
{
	const char *in = "MAIL FROM:<a@example.org>\r\n"
	    "RCPT TO:<b@example.net>\r\n"
	    "DATA\r\n..\r\n...\r\n..x\r\n.y\r\n. \r\nx.\r\n\r\n.\r\nQUIT\r\n";
	struct fake f;
	struct err e;
	char	*got;
	int	 rc;

	fake_init(&f);
	got = run(in, strlen(in), &f, &rc, &e);
	CHECK(rc == 0 && f.calls == 1, "dots accepted");
	CHECK_STR(buf_cstr(&f.content), ".\r\n..\r\n.x\r\ny\r\n \r\nx.\r\n\r\n",
	    "dots unstuffed, content exact");
	free(got);
	buf_free(&f.content);
}

static void
test_bare_lf(void)
{
	const char *in = "EHLO c\nMAIL FROM:<a@example.org>\n"
	    "RCPT TO:<b@example.net>\nDATA\nline\r\n\nx\ry\n..z\n.\nQUIT\n";
	struct fake f;
	struct err e;
	char	*got;
	int	 rc;

	fake_init(&f);
	got = run(in, strlen(in), &f, &rc, &e);
	CHECK_STR(got, GREETING EHLO_REPLY "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n"
	    "354 End data with <CR><LF>.<CR><LF>\r\n"
	    "250 2.0.0 Ok: queued as TESTID\r\n221 2.0.0 Bye\r\n",
	    "bare LF replies");
	CHECK_STR(buf_cstr(&f.content), "line\r\n\r\nx\ry\r\n.z\r\n",
	    "bare LF content has CRLF, lone CR kept");
	free(got);
	buf_free(&f.content);
}

static void
test_two_messages(void)
{
	const char *in = "EHLO c\r\n"
	    "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\n"
	    "DATA\r\none\r\n.\r\n"
	    "MAIL FROM:<x@example.org>\r\nRCPT TO:<y@example.net>\r\nRSET\r\n"
	    "RCPT TO:<z@example.net>\r\n"
	    "mail from:<>\r\nrcpt to:<postmaster>\r\n"
	    "RcPt To:<c@example.net>\r\n"
	    "data\r\ntwo\r\n.\r\nquit\r\n";
	struct fake f;
	struct err e;
	char	*got;
	int	 rc;

	fake_init(&f);
	got = run(in, strlen(in), &f, &rc, &e);
	CHECK_STR(got, GREETING EHLO_REPLY "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n"
	    "354 End data with <CR><LF>.<CR><LF>\r\n"
	    "250 2.0.0 Ok: queued as TESTID\r\n"
	    "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.0.0 Ok\r\n"
	    "503 5.5.1 need MAIL command\r\n"
	    "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n"
	    "354 End data with <CR><LF>.<CR><LF>\r\n"
	    "250 2.0.0 Ok: queued as TESTID\r\n221 2.0.0 Bye\r\n",
	    "two messages replies");
	CHECK(f.calls == 2, "two messages accepted (%d)", f.calls);
	CHECK_STR(f.sender, "", "second message has the null sender");
	CHECK_STR(f.rcpts, "postmaster,c@example.net",
	    "RSET dropped the first recipients");
	CHECK_STR(buf_cstr(&f.content), "two\r\n", "second content");
	free(got);
	buf_free(&f.content);
}

static const struct {
	const char	*name;
	const char	*mail;
	const char	*reply;
} mail_cases[] = {
	{ "plain", "MAIL FROM:<a@example.org>", "250 2.1.0 Ok" },
	{ "space after colon", "MAIL FROM: <a@example.org>", "250 2.1.0 Ok" },
	{ "no brackets", "MAIL FROM:a@example.org", "250 2.1.0 Ok" },
	{ "null sender", "MAIL FROM:<>", "250 2.1.0 Ok" },
	{ "SIZE under", "MAIL FROM:<a@example.org> SIZE=500", "250 2.1.0 Ok" },
	{ "SIZE at limit", "MAIL FROM:<a@example.org> SIZE=10000",
	    "250 2.1.0 Ok" },
	{ "SIZE over", "MAIL FROM:<a@example.org> SIZE=10001",
	    "552 5.3.4 message size exceeds fixed limit" },
	{ "SIZE huge", "MAIL FROM:<a@example.org> SIZE=99999999999999999999",
	    "501 5.5.4 bad SIZE value" },
	{ "SIZE bad", "MAIL FROM:<a@example.org> SIZE=-1",
	    "501 5.5.4 bad SIZE value" },
	{ "BODY", "MAIL FROM:<a@example.org> BODY=8BITMIME", "250 2.1.0 Ok" },
	{ "BODY 7bit", "MAIL FROM:<a@example.org> body=7bit", "250 2.1.0 Ok" },
	{ "BODY binary", "MAIL FROM:<a@example.org> BODY=BINARYMIME",
	    "555 5.5.4 unsupported MAIL parameter" },
	{ "SMTPUTF8", "MAIL FROM:<j\xc3\xb6rg@example.org> SMTPUTF8 "
	    "BODY=8BITMIME SIZE=1", "250 2.1.0 Ok" },
	{ "unknown param", "MAIL FROM:<a@example.org> RET=HDRS",
	    "555 5.5.4 unsupported MAIL parameter" },
	{ "no FROM", "MAIL <a@example.org>",
	    "501 5.5.4 Syntax: MAIL FROM:<address>" },
	{ "bad path", "MAIL FROM:<a b@example.org>",
	    "501 5.1.7 bad address '<a b@example.org>': whitespace outside a "
	    "quoted local part" },
	{ "unterminated", "MAIL FROM:<a@example.org",
	    "501 5.1.7 missing or unterminated path" },
	{ "text after path", "MAIL FROM:<a@example.org>x",
	    "501 5.1.7 text after the path" },
	{ "empty", "MAIL FROM:", "501 5.1.7 missing or unterminated path" },
};

static void
test_mail_params(void)
{
	char	 in[512], want[1024];
	size_t	 i;

	for (i = 0; i < sizeof(mail_cases) / sizeof(mail_cases[0]); i++) {
		(void)snprintf(in, sizeof(in), "EHLO c\r\n%s\r\nQUIT\r\n",
		    mail_cases[i].mail);
		(void)snprintf(want, sizeof(want), GREETING EHLO_REPLY
		    "%s\r\n221 2.0.0 Bye\r\n", mail_cases[i].reply);
		expect(mail_cases[i].name, in, want);
	}
}

static void
test_sequence_errors(void)
{
	expect("RCPT before MAIL", "RCPT TO:<b@example.net>\r\n",
	    GREETING "503 5.5.1 need MAIL command\r\n");
	expect("DATA before MAIL", "DATA\r\n",
	    GREETING "503 5.5.1 need MAIL command\r\n");
	expect("DATA without RCPT", "MAIL FROM:<a@example.org>\r\nDATA\r\n"
	    "RCPT TO:<b@example.net>\r\nDATA\r\n.\r\n",
	    GREETING "250 2.1.0 Ok\r\n554 5.5.1 no valid recipients\r\n"
	    "250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n"
	    "250 2.0.0 Ok: queued as TESTID\r\n");
	expect("nested MAIL", "MAIL FROM:<a@example.org>\r\n"
	    "MAIL FROM:<b@example.org>\r\n",
	    GREETING "250 2.1.0 Ok\r\n503 5.5.1 nested MAIL command\r\n");
	expect("EHLO resets", "MAIL FROM:<a@example.org>\r\nHELO c\r\n"
	    "RCPT TO:<b@example.net>\r\n",
	    GREETING "250 2.1.0 Ok\r\n250 " HOST "\r\n"
	    "503 5.5.1 need MAIL command\r\n");
	expect("DATA with argument", "DATA x\r\n",
	    GREETING "501 5.5.4 Syntax: DATA\r\n");
}

static void
test_addresses(void)
{
	struct fake f;
	struct err e;
	char	*got;
	int	 rc;
	const char *in = "MAIL FROM:<a@example.org>\r\n"
	    "RCPT TO:<>\r\n"
	    "RCPT TO:<b@@example.net>\r\n"
	    "RCPT TO:b@example.net\r\n"
	    "RCPT TO:<c@example.net> NOTIFY=NEVER\r\n"
	    "RCPT <c@example.net>\r\n"
	    "RCPT TO:<@relay.example:d@example.net>\r\n"
	    "RCPT TO:<\"q >x\"@example.net>\r\n"
	    "RCPT TO:<root>\r\n"
	    "DATA\r\n.\r\n";

	fake_init(&f);
	got = run(in, strlen(in), &f, &rc, &e);
	CHECK_STR(got, GREETING "250 2.1.0 Ok\r\n"
	    "501 5.1.3 null recipient address\r\n"
	    "501 5.1.3 bad address '<b@@example.net>': more than one "
	    "'@'\r\n"
	    "250 2.1.5 Ok\r\n"
	    "555 5.5.4 RCPT parameters are not supported\r\n"
	    "501 5.5.4 Syntax: RCPT TO:<address>\r\n"
	    "250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n"
	    "354 End data with <CR><LF>.<CR><LF>\r\n"
	    "250 2.0.0 Ok: queued as TESTID\r\n", "recipient replies");
	CHECK_STR(f.rcpts, "b@example.net,d@example.net,\"q >x\"@example.net,"
	    "root", "recipients as parsed (route dropped, bare name kept)");
	CHECK_STR(buf_cstr(&f.content), "", "empty content");
	free(got);
	buf_free(&f.content);
}

static void
test_misc_commands(void)
{
	expect("misc", "NOOP\r\nnoop x\r\nHELP\r\nVRFY root\r\nEXPN list\r\n"
	    "STARTTLS\r\nAUTH PLAIN AGVm\r\nBDAT 10 LAST\r\nFOO\r\n\r\n"
	    "RSET\r\nEHLO\r\nHELO\r\nHELO c.example\r\nQUIT now\r\n",
	    GREETING "250 2.0.0 Ok\r\n250 2.0.0 Ok\r\n"
	    "214 2.0.0 Commands: EHLO HELO MAIL RCPT DATA RSET NOOP QUIT "
	    "HELP\r\n"
	    "502 5.5.1 VRFY and EXPN are not supported\r\n"
	    "502 5.5.1 VRFY and EXPN are not supported\r\n"
	    "502 5.5.1 command not supported\r\n"
	    "502 5.5.1 command not supported\r\n"
	    "502 5.5.1 command not supported\r\n"
	    "500 5.5.2 command not recognized\r\n"
	    "500 5.5.2 command not recognized\r\n"
	    "250 2.0.0 Ok\r\n"
	    "501 5.5.4 Syntax: EHLO hostname\r\n"
	    "501 5.5.4 Syntax: HELO hostname\r\n"
	    "250 " HOST "\r\n221 2.0.0 Bye\r\n");
	{
		struct fake f;
		struct err e;
		char	*got;
		int	 rc;
		static const char in[] = "NOOP\0x\r\nQUIT\r\n";

		fake_init(&f);
		got = run(in, sizeof(in) - 1, &f, &rc, &e);
		CHECK_STR(got, GREETING "500 5.5.2 NUL in command\r\n"
		    "221 2.0.0 Bye\r\n", "NUL in command refused");
		free(got);
		buf_free(&f.content);
	}
	expect("no LF at the end", "NOOP\r\nQUIT", GREETING "250 2.0.0 Ok\r\n");
	expect("trailing space", "EHLO c \r\nQUIT \r\n",
	    GREETING EHLO_REPLY "221 2.0.0 Bye\r\n");
}

static void
test_long_lines(void)
{
	struct buf in;
	struct fake f;
	struct err e;
	char	*got;
	int	 rc;
	size_t	 i;

	/* A command of SMTPD_LINE_MAX bytes with CRLF passes, one more not. */
	buf_init(&in, 4 * 1024 * 1024);
	(void)buf_append_str(&in, "NOOP ");
	for (i = 5; i < SMTPD_LINE_MAX - 2; i++)
		(void)buf_putc(&in, 'a');
	(void)buf_append_str(&in, "\r\nNOOP ");
	for (i = 5; i < SMTPD_LINE_MAX - 1; i++)
		(void)buf_putc(&in, 'a');
	(void)buf_append_str(&in, "\r\nNOOP\r\n");
	fake_init(&f);
	got = run(in.data, in.len, &f, &rc, &e);
	CHECK_STR(got, GREETING "250 2.0.0 Ok\r\n500 5.5.2 line too long\r\n"
	    "250 2.0.0 Ok\r\n", "command line limit");
	free(got);

	/* A 2 MB content line fails the message but not the session. */
	buf_reset(&in);
	(void)buf_append_str(&in, "MAIL FROM:<a@example.org>\r\n"
	    "RCPT TO:<b@example.net>\r\nDATA\r\nshort\r\n");
	for (i = 0; i < 2 * 1024 * 1024; i++)
		(void)buf_putc(&in, 'x');
	(void)buf_append_str(&in, "\r\n.\r\nNOOP\r\n");
	got = run(in.data, in.len, &f, &rc, &e);
	CHECK_STR(got, GREETING "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n"
	    "354 End data with <CR><LF>.<CR><LF>\r\n"
	    "552 5.3.4 line too long\r\n250 2.0.0 Ok\r\n",
	    "content line limit");
	CHECK(f.calls == 0, "long content line not accepted");
	free(got);

	/* 100 kB lines are fine (limit is per line, not per message). */
	buf_reset(&in);
	f.limit = 0;
	(void)buf_append_str(&in, "EHLO c\r\nMAIL FROM:<a@example.org>\r\n"
	    "RCPT TO:<b@example.net>\r\nDATA\r\n");
	for (i = 0; i < 100 * 1024; i++)
		(void)buf_putc(&in, 'y');
	(void)buf_append_str(&in, "\r\n.\r\n");
	got = run(in.data, in.len, &f, &rc, &e);
	CHECK(f.calls == 1 && f.content.len == 100 * 1024 + 2,
	    "100 kB line accepted (%zu bytes)", f.content.len);
	CHECK(strstr(got, "\r\n250-SIZE\r\n") != NULL,
	    "SIZE advertised without a number when there is no limit");
	CHECK(strstr(got, "250 2.0.0 Ok: queued as TESTID\r\n") != NULL,
	    "100 kB line reply");

	free(got);
	buf_free(&in);
	buf_free(&f.content);
}

static void
test_accept_failures(void)
{
	const char *in = "MAIL FROM:<a@example.org>\r\n"
	    "RCPT TO:<b@example.net>\r\n"
	    "DATA\r\nx\r\n.\r\nRCPT TO:<b@example.net>\r\nQUIT\r\n";
	const char *head = GREETING "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n"
	    "354 End data with <CR><LF>.<CR><LF>\r\n";
	const char *tail = "503 5.5.1 need MAIL command\r\n221 2.0.0 Bye\r\n";
	static const struct {
		enum err_kind	 kind;
		const char	*text;
		const char	*reply;
	} cases[] = {
		{ ERR_TEMP, "spool full", "451 4.3.0 spool full\r\n" },
		{ ERR_IOERR, "disk", "451 4.3.0 disk\r\n" },
		{ ERR_CONFIG, "bad main.cf", "451 4.3.0 bad main.cf\r\n" },
		{ ERR_DATA, "bad header", "554 5.6.0 bad header\r\n" },
		{ ERR_PERM, "no route", "554 5.0.0 no route\r\n" },
		{ ERR_TEMP, "evil\r\n250 2.0.0 Ok", "451 4.3.0 evil??250 2.0.0 "
		    "Ok\r\n" },
		{ ERR_TEMP, "", "451 4.3.0 temporary failure\r\n" },
	};
	struct fake f;
	struct err e;
	char	*got, want[1024];
	size_t	 i;
	int	 rc;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fake_init(&f);
		f.result = -1;
		f.kind = cases[i].kind;
		f.text = cases[i].text;
		got = run(in, strlen(in), &f, &rc, &e);
		(void)snprintf(want, sizeof(want), "%s%s%s", head,
		    cases[i].reply, tail);
		CHECK(rc == 0 && f.calls == 1, "accept failure %zu rc", i);
		CHECK_STR(got, want, "accept failure %zu reply", i);
		free(got);
		buf_free(&f.content);
	}

	/*
	 * A long text still gives one reply line under 512 bytes, cut
	 * before a character that would not fit whole: "451 4.3.0 " and
	 * 498 bytes leave room for one byte of the first "\xc3\xa9".
	 */
	{
		char	 text[600], *start, *nl;

		memset(text, 'e', sizeof(text) - 1);
		text[sizeof(text) - 1] = '\0';
		memcpy(text + 498, "\xc3\xa9\xc3\xa9\xc3\xa9", 6);
		fake_init(&f);
		f.result = -1;
		f.kind = ERR_TEMP;
		f.text = text;
		got = run(in, strlen(in), &f, &rc, &e);
		start = got + strlen(head);
		nl = strstr(start, "\r\n");
		CHECK(nl != NULL && nl - start == 508 && nl[-1] == 'e',
		    "long reply cut whole (%td)", nl != NULL ? nl - start : 0);
		CHECK(nl != NULL && strcmp(nl, "\r\n") != 0 &&
		    strncmp(nl + 2, tail, strlen(tail)) == 0,
		    "session goes on after a long reply");
		free(got);
		buf_free(&f.content);
	}
}

static void
test_size_limit(void)
{
	struct buf in;
	struct fake f;
	struct err e;
	char	*got;
	int	 rc;
	size_t	 i;

	buf_init(&in, 1024 * 1024);
	(void)buf_append_str(&in, "MAIL FROM:<a@example.org>\r\n"
	    "RCPT TO:<b@example.net>\r\nDATA\r\n");
	/* 100 lines of 98 + CRLF = exactly the limit */
	for (i = 0; i < 100; i++)
		(void)buf_printf(&in, "%098d\r\n", 0);
	(void)buf_append_str(&in, ".\r\nMAIL FROM:<a@example.org>\r\n"
	    "RCPT TO:<b@example.net>\r\nDATA\r\n");
	for (i = 0; i < 100; i++)
		(void)buf_printf(&in, "%098d\r\n", 0);
	(void)buf_append_str(&in, "x\r\n.\r\nQUIT\r\n");
	fake_init(&f);
	got = run(in.data, in.len, &f, &rc, &e);
	CHECK_STR(got, GREETING "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n"
	    "354 End data with <CR><LF>.<CR><LF>\r\n"
	    "250 2.0.0 Ok: queued as TESTID\r\n"
	    "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n"
	    "354 End data with <CR><LF>.<CR><LF>\r\n"
	    "552 5.3.4 message size exceeds fixed limit of 10000 bytes\r\n"
	    "221 2.0.0 Bye\r\n", "size limit replies");
	CHECK(f.calls == 1 && f.content.len == (size_t)LIMIT,
	    "at the limit accepted, over it not (%d calls)", f.calls);
	free(got);
	buf_free(&in);
	buf_free(&f.content);
}

static void
test_eof(void)
{
	struct fake f;
	struct err e;
	char	*got;
	int	 rc;
	const char *in = "MAIL FROM:<a@example.org>\r\n"
	    "RCPT TO:<b@example.net>\r\n"
	    "DATA\r\nSubject: x\r\n\r\nbody\r\n";

	fake_init(&f);
	got = run(in, strlen(in), &f, &rc, &e);
	CHECK(rc == 0, "EOF in DATA rc");
	CHECK(f.calls == 0, "EOF in DATA: nothing accepted");
	CHECK_STR(got, GREETING "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n"
	    "354 End data with <CR><LF>.<CR><LF>\r\n", "EOF in DATA replies");
	free(got);
	got = run("", 0, &f, &rc, &e);
	CHECK(rc == 0, "empty input rc");
	CHECK_STR(got, GREETING, "empty input replies");
	free(got);
	buf_free(&f.content);
}

static void
test_too_many(void)
{
	struct buf in, want;
	struct fake f;
	struct err e;
	char	*got;
	int	 rc, i;

	/* 19 errors, a good command, then 20 errors and 421 */
	buf_init(&in, 1024 * 1024);
	buf_init(&want, 1024 * 1024);
	(void)buf_append_str(&want, GREETING);
	for (i = 0; i < 19; i++) {
		(void)buf_append_str(&in, "BOGUS\r\n");
		(void)buf_append_str(&want,
		    "500 5.5.2 command not recognized\r\n");
	}
	(void)buf_append_str(&in, "NOOP\r\n");
	(void)buf_append_str(&want, "250 2.0.0 Ok\r\n");
	for (i = 0; i < 25; i++)
		(void)buf_append_str(&in, "VRFY x\r\n");
	for (i = 0; i < 20; i++)
		(void)buf_append_str(&want,
		    "502 5.5.1 VRFY and EXPN are not supported\r\n");
	(void)buf_append_str(&want, "421 4.7.0 too many errors\r\n");
	fake_init(&f);
	got = run(in.data, in.len, &f, &rc, &e);
	CHECK(rc == 0, "too many errors rc");
	CHECK_STR(got, buf_cstr(&want), "too many errors replies");
	free(got);

	/* SMTPD_RCPT_MAX recipients, then 452 */
	buf_reset(&in);
	buf_reset(&want);
	(void)buf_append_str(&in, "MAIL FROM:<a@example.org>\r\n");
	(void)buf_append_str(&want, GREETING "250 2.1.0 Ok\r\n");
	for (i = 0; i < SMTPD_RCPT_MAX + 1; i++) {
		(void)buf_printf(&in, "RCPT TO:<r%d@example.net>\r\n", i);
		(void)buf_append_str(&want, i < SMTPD_RCPT_MAX ?
		    "250 2.1.5 Ok\r\n" : "452 4.5.3 too many recipients\r\n");
	}
	(void)buf_append_str(&in, "DATA\r\n.\r\n");
	(void)buf_append_str(&want, "354 End data with <CR><LF>.<CR><LF>\r\n"
	    "250 2.0.0 Ok: queued as TESTID\r\n");
	got = run(in.data, in.len, &f, &rc, &e);
	CHECK_STR(got, buf_cstr(&want), "recipient limit replies");
	CHECK(f.calls == 1 && strstr(f.rcpts, "r999@") != NULL &&
	    strstr(f.rcpts, "r1000@") == NULL, "recipient limit kept 1000");
	free(got);
	buf_free(&in);
	buf_free(&want);
	buf_free(&f.content);
}

static void
test_io_failures(void)
{
	struct smtpd_hooks hooks = { fake_scratch, fake_accept, NULL };
	struct fake f;
	struct err e;
	char	*got;
	int	 in, p[2], rc;
	const char *script = "MAIL FROM:<a@example.org>\r\n"
	    "RCPT TO:<b@example.net>\r\nDATA\r\nx\r\n.\r\nQUIT\r\n";

	/* The client went away: EPIPE on the replies. */
	fake_init(&f);
	hooks.ctx = &f;
	if (pipe(p) == -1)
		exit(1);
	close(p[0]);
	in = memfd_with("NOOP\r\n", 6);
	rc = smtpd_session(in, p[1], HOST, 0, &hooks, &e);
	CHECK(rc == -1 && e.kind == ERR_IOERR, "write failure is ERR_IOERR");
	CHECK(strstr(e.text, "Broken pipe") != NULL, "write failure text: %s",
	    e.text);
	close(in);
	close(p[1]);

	/* Unreadable input. */
	in = open("/", O_RDONLY | O_DIRECTORY);
	p[1] = memfd_create("out", 0);
	rc = smtpd_session(in, p[1], HOST, 0, &hooks, &e);
	CHECK(rc == -1 && e.kind == ERR_IOERR, "read failure is ERR_IOERR");
	close(in);
	close(p[1]);

	/* No scratch file: 451 and -1 with the hook's error. */
	f.scratch_fails = true;
	got = run(script, strlen(script), &f, &rc, &e);
	CHECK(rc == -1 && e.kind == ERR_OSERR, "scratch failure rc");
	CHECK_STR(got, GREETING "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n"
	    "451 4.3.0 no space??left\r\n", "scratch failure replies");
	CHECK(f.calls == 0, "scratch failure: nothing accepted");
	free(got);
	buf_free(&f.content);
}

static void
send_all(int fd, const char *s)
{
	if (write(fd, s, strlen(s)) != (ssize_t)strlen(s)) {
		perror("write");
		exit(1);
	}
}

/* Reads from fd until the replies end with want's last line. */
static bool
read_until(int fd, struct buf *got, const char *want)
{
	struct pollfd pfd = { fd, POLLIN, 0 };
	char	 chunk[1024];
	ssize_t	 n;

	while (got->len < strlen(want) ||
	    strcmp(got->data + got->len - strlen(want), want) != 0) {
		if (poll(&pfd, 1, 5000) != 1)
			return false;	/* the server sat on its replies */
		if ((n = read(fd, chunk, sizeof(chunk))) <= 0)
			return false;
		(void)buf_append(got, chunk, (size_t)n);
	}
	return true;
}

static void
test_pipelining(void)
{
	struct smtpd_hooks hooks = { fake_scratch, fake_accept, NULL };
	struct fake f;
	struct buf got;
	struct err e;
	const char *batch = "MAIL FROM:<a@example.org>\r\n"
	    "RCPT TO:<b@example.net>\r\nRCPT TO:<c@example.net>\r\n"
	    "DATA\r\n";
	pid_t	 pid;
	int	 sv[2], status;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
		exit(1);
	if ((pid = fork()) == -1)
		exit(1);
	if (pid == 0) {
		close(sv[0]);
		fake_init(&f);
		hooks.ctx = &f;
		_exit(smtpd_session(sv[1], sv[1], HOST, LIMIT, &hooks, &e) ==
		    0 && f.calls == 1 && strcmp(f.rcpts,
		    "b@example.net,c@example.net") == 0 ? 0 : 1);
	}
	close(sv[1]);
	buf_init(&got, 64 * 1024);
	CHECK(read_until(sv[0], &got, GREETING), "pipelining: greeting");
	send_all(sv[0], "EHLO c\r\n");
	CHECK(read_until(sv[0], &got, "250 HELP\r\n"), "pipelining: EHLO");
	send_all(sv[0], batch);
	CHECK(read_until(sv[0], &got, "354 End data with <CR><LF>.<CR><LF>"
	    "\r\n"), "pipelining: batch answered up to 354");
	send_all(sv[0], "hello\r\n.\r\n");
	CHECK(read_until(sv[0], &got, "250 2.0.0 Ok: queued as TESTID\r\n"),
	    "pipelining: end of data answered");
	send_all(sv[0], "QUIT\r\n");
	CHECK(read_until(sv[0], &got, "221 2.0.0 Bye\r\n"), "pipelining: QUIT");
	CHECK_STR(buf_cstr(&got), GREETING EHLO_REPLY "250 2.1.0 Ok\r\n"
	    "250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n"
	    "354 End data with <CR><LF>.<CR><LF>\r\n"
	    "250 2.0.0 Ok: queued as TESTID\r\n221 2.0.0 Bye\r\n",
	    "pipelining: transcript");
	close(sv[0]);
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	    WEXITSTATUS(status) == 0, "pipelining: server saw the message");
	buf_free(&got);
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN);
	test_full_session();
	test_transparency();
	test_bare_lf();
	test_two_messages();
	test_mail_params();
	test_sequence_errors();
	test_addresses();
	test_misc_commands();
	test_long_lines();
	test_accept_failures();
	test_size_limit();
	test_eof();
	test_too_many();
	test_io_failures();
	test_pipelining();
	return check_done();
}
