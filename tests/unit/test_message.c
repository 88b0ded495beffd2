/* SPDX-License-Identifier: ISC */
/*
 * message: intake through memfd input/output (line endings, NUL, CR,
 * folding at 998, dot line, Bcc, -t with Resent-*, added headers, -F,
 * size limit, mbox line, no header section, errors), header parsing and
 * unfolding.
 */
#include "config.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "message.h"
#include "xmalloc.h"

#define NOW	((time_t)1700000000)	/* Tue, 14 Nov 2023 22:13:20 UTC */
#define HDR	"Date: d\nMessage-ID: <m@x>\nFrom: f@x\n"
#define HDR_CRLF "Date: d\r\nMessage-ID: <m@x>\r\nFrom: f@x\r\n"

struct run {
	int		 rc;
	struct message	 msg;
	struct err	 err;
	char		*out;
	size_t		 out_len;
};

static char *const default_rcpts[] = { "rcpt@example.net" };

static void
params_init(struct message_params *p)
{
	memset(p, 0, sizeof(*p));
	p->myhostname = "host.example";
	p->myorigin = "example.org";
	p->login = "joe";
	p->dot_ends_input = true;
	p->recipients = default_rcpts;
	p->recipient_count = 1;
	p->now = NOW;
}

static int
memfd_with(const char *data, size_t len)
{
	int	 fd = memfd_create("in", 0);
	size_t	 off = 0;
	ssize_t	 n;

	while (off < len && (n = write(fd, data + off, len - off)) > 0)
		off += (size_t)n;
	(void)lseek(fd, 0, SEEK_SET);
	return fd;
}

static void
run_fds(struct run *r, int in, int out, const struct message_params *p)
{
	off_t	 end;

	memset(r, 0, sizeof(*r));
	err_clear(&r->err);
	r->rc = message_intake(&r->msg, in, out, p, &r->err);
	end = lseek(out, 0, SEEK_END);
	r->out_len = end > 0 ? (size_t)end : 0;
	r->out = xcalloc(1, r->out_len + 1);
	if (end > 0)
		(void)!pread(out, r->out, r->out_len, 0);
}

static void
run(struct run *r, const char *in, size_t len, const struct message_params *p)
{
	int	 infd = memfd_with(in, len), outfd = memfd_create("out", 0);

	run_fds(r, infd, outfd, p);
	close(infd);
	close(outfd);
}

/*
 * The same through a SOCK_SEQPACKET pair, one octet per record: every
 * read(2) returns one octet, so every line-ending and piece boundary
 * falls between reads. Returns -1 when the socket could not take it all.
 */
static int
run_bytewise(struct run *r, const char *in, size_t len,
    const struct message_params *p)
{
	int	 sv[2], outfd = memfd_create("out", 0);
	size_t	 i;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) == -1)
		return -1;
	(void)fcntl(sv[1], F_SETFL, O_NONBLOCK);
	for (i = 0; i < len; i++)
		if (write(sv[1], in + i, 1) != 1)
			break;
	close(sv[1]);
	if (i == len)
		run_fds(r, sv[0], outfd, p);
	close(sv[0]);
	close(outfd);
	return i == len ? 0 : -1;
}

static void
run_free(struct run *r)
{
	message_free(&r->msg);
	free(r->out);
}

/* The body: what follows the first empty line. */
static const char *
body_of(const struct run *r)
{
	const char *p = strstr(r->out, "\r\n\r\n");

	return p != NULL ? p + 4 : "(no separator)";
}

static const struct {
	const char	*name;
	const char	*in;
	size_t		 in_len;	/* 0: strlen(in) */
	bool		 keep_dot;	/* -i */
	const char	*want;
} canon_cases[] = {
	{ "bare LF", HDR "\nline1\nline2\n", 0, false,
	    HDR_CRLF "\r\nline1\r\nline2\r\n" },
	{ "CRLF", HDR_CRLF "\r\nline1\r\nline2\r\n", 0, false,
	    HDR_CRLF "\r\nline1\r\nline2\r\n" },
	{ "mixed: CRLF headers, LF body", HDR_CRLF "\r\na\nb\r\nc\n", 0, false,
	    HDR_CRLF "\r\na\r\nb\r\nc\r\n" },
	{ "no final newline", HDR "\nlast", 0, false,
	    HDR_CRLF "\r\nlast\r\n" },
	{ "empty body", HDR "\n", 0, false, HDR_CRLF "\r\n" },
	{ "headers only, no separator in input", HDR, 0, false,
	    HDR_CRLF "\r\n" },
	{ "leading dots unchanged", HDR "\n..x\n.y\n. \n", 0, false,
	    HDR_CRLF "\r\n..x\r\n.y\r\n. \r\n" },
	{ "lone dot LF ends input", HDR "\na\n.\nb\n", 0, false,
	    HDR_CRLF "\r\na\r\n" },
	{ "lone dot CRLF ends input", HDR "\na\r\n.\r\nb\n", 0, false,
	    HDR_CRLF "\r\na\r\n" },
	{ "lone dot at EOF ends input", HDR "\na\n.", 0, false,
	    HDR_CRLF "\r\na\r\n" },
	{ "lone dot with -i is data", HDR "\na\n.\nb\n", 0, true,
	    HDR_CRLF "\r\na\r\n.\r\nb\r\n" },
	{ "lone dot in header section", HDR ".\nSubject: x\n", 0, false,
	    HDR_CRLF "\r\n" },
	{ "lone CR is a line break", HDR "\na\rb\n", 0, false,
	    HDR_CRLF "\r\na\r\nb\r\n" },
	{ "CR CR LF is one line break", HDR "\na\r\r\nb", 0, false,
	    HDR_CRLF "\r\na\r\nb\r\n" },
	{ "two lone CRs are two breaks", HDR "\na\r\rb", 0, false,
	    HDR_CRLF "\r\na\r\n\r\nb\r\n" },
	{ "CR at EOF", HDR "\na\r", 0, false, HDR_CRLF "\r\na\r\n" },
	{ "lone CR in headers", "Date: d\rMessage-ID: <m@x>\rFrom: f@x\r\rb",
	    0, false, HDR_CRLF "\r\nb\r\n" },
	{ "NUL removed", HDR "\na\0b\n\0\n", sizeof(HDR "\na\0b\n\0\n") - 1,
	    false, HDR_CRLF "\r\nab\r\n\r\n" },
	{ "NUL between CR and LF", HDR "\na\r\0\nb\n",
	    sizeof(HDR "\na\r\0\nb\n") - 1, false, HDR_CRLF "\r\na\r\nb\r\n" },
	{ "Bcc removed, folded too", HDR "Bcc: a@x,\n b@x\nTo: c@x\n\nz\n",
	    0, false, HDR_CRLF "To: c@x\r\n\r\nz\r\n" },
	{ "Resent-Bcc removed", HDR "Resent-Bcc: a@x\nResent-To: c@x\n\nz\n",
	    0, false, HDR_CRLF "Resent-To: c@x\r\n\r\nz\r\n" },
	{ "header case kept, WSP before colon", HDR "sUbJeCt : hi\n\n", 0,
	    false, HDR_CRLF "sUbJeCt : hi\r\n\r\n" },
	{ "bad header line starts the body", HDR "Subject: a\nnot a header\n"
	    "X: y\n", 0, false,
	    HDR_CRLF "Subject: a\r\n\r\nnot a header\r\nX: y\r\n" },
	{ "mbox From line dropped", "From joe Tue Nov 14 22:13:20 2023\n" HDR
	    "\nFrom the body\n", 0, false,
	    HDR_CRLF "\r\nFrom the body\r\n" },
	{ "obsolete From : header is not mbox",
	    "From : f@x\nDate: d\nMessage-ID: <m@x>\n\n", 0, false,
	    "From : f@x\r\nDate: d\r\nMessage-ID: <m@x>\r\n\r\n" },
};

static void
test_canonical(void)
{
	struct message_params	 p;
	struct run		 r;
	size_t			 i, len;
	int			 rc;

	for (i = 0; i < sizeof(canon_cases) / sizeof(canon_cases[0]); i++) {
		params_init(&p);
		p.dot_ends_input = !canon_cases[i].keep_dot;
		len = canon_cases[i].in_len ? canon_cases[i].in_len :
		    strlen(canon_cases[i].in);
		run(&r, canon_cases[i].in, len, &p);
		CHECK(r.rc == 0, "%s: accepted (%s)", canon_cases[i].name,
		    r.err.text);
		CHECK_STR(r.out, canon_cases[i].want, "%s: output",
		    canon_cases[i].name);
		CHECK(r.msg.size == (off_t)r.out_len, "%s: size %lld",
		    canon_cases[i].name, (long long)r.msg.size);
		CHECK(!r.msg.eightbit, "%s: 7bit", canon_cases[i].name);
		run_free(&r);
		rc = run_bytewise(&r, canon_cases[i].in, len, &p);
		CHECK(rc == 0, "%s: written bytewise", canon_cases[i].name);
		if (rc == 0) {
			CHECK_STR(r.out, canon_cases[i].want,
			    "%s: output, one octet per read",
			    canon_cases[i].name);
			run_free(&r);
		}
	}
}

/* Builds HDR "\n" + a line of n 'x' + "\n"; checks the folded body. */
static void
test_folding(void)
{
	static const struct {
		size_t	 n;
		size_t	 want_lines;	/* output body lines */
	} cases[] = {
		{ 997, 1 }, { 998, 1 }, { 999, 2 }, { 1995, 2 }, { 1996, 3 },
		{ 10000, 11 },
	};
	struct message_params	 p;
	struct run		 r;
	struct buf		 in, want;
	size_t			 i, k, left, take;

	params_init(&p);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		buf_init(&in, 1 << 20);
		buf_init(&want, 1 << 20);
		(void)buf_append_str(&in, HDR "\n");
		(void)buf_append_str(&want, HDR_CRLF "\r\n");
		for (k = 0; k < cases[i].n; k++)
			(void)buf_putc(&in, 'x');
		(void)buf_append_str(&in, "\n");
		for (left = cases[i].n, k = 0; left > 0; k++) {
			/* 998 octets, then SP + at most 997 per line. */
			take = k == 0 ? 998 : 997;
			take = take < left ? take : left;
			left -= take;
			if (k > 0)
				(void)buf_append_str(&want, " ");
			while (take-- > 0)
				(void)buf_putc(&want, 'x');
			(void)buf_append_str(&want, "\r\n");
		}
		run(&r, in.data, in.len, &p);
		CHECK(k == cases[i].want_lines, "%zu x: %zu lines", cases[i].n,
		    k);
		CHECK_STR(r.out, buf_cstr(&want), "%zu octets folded",
		    cases[i].n);
		run_free(&r);
		buf_free(&in);
		buf_free(&want);
	}
	/* A long header becomes a folded header. */
	buf_init(&in, 1 << 20);
	(void)buf_append_str(&in, HDR "Subject: ");
	for (k = 0; k < 1000; k++)
		(void)buf_putc(&in, 'y');
	(void)buf_append_str(&in, "\n\nb\n");
	run(&r, in.data, in.len, &p);
	CHECK(strstr(r.out, "\r\n yyy") != NULL &&
	    strstr(r.out, "Subject: y") != NULL &&
	    strstr(r.out, "\r\n\r\nb\r\n") != NULL, "long header folded");
	run_free(&r);
	buf_free(&in);
}

static void
test_eightbit(void)
{
	struct message_params	 p;
	struct run		 r;

	params_init(&p);
	run(&r, HDR "\nGr\xc3\xbc\xc3\x9f" "e\n", strlen(HDR) + 9, &p);
	CHECK(r.rc == 0 && r.msg.eightbit, "8-bit body sets eightbit");
	CHECK(!r.msg.smtputf8, "8-bit body alone needs no SMTPUTF8");
	run_free(&r);
	run(&r, HDR "Subject: \xe2\x82\xac\n\nx\n", strlen(HDR) + 16, &p);
	CHECK(r.rc == 0 && r.msg.eightbit, "8-bit header sets eightbit");
	run_free(&r);
	/* After the dot line: never read, not counted. */
	run(&r, HDR "\nx\n.\n\xff\n", strlen(HDR) + 7, &p);
	CHECK(r.rc == 0 && !r.msg.eightbit, "8-bit after dot not counted");
	run_free(&r);
}

struct t_case {
	const char	*name;
	const char	*in;
	char *const	*argv;
	size_t		 argc;
	const char	*want[6];	/* recipients, NULL-terminated */
	const char	*absent;	/* must not be in the output */
};

static char *const argv_one[] = { "First@Example.net" };
static char *const argv_forms[] = { "Ann <ann@x.org>", "bob", "c@x.org" };

static const struct t_case t_cases[] = {
	{ "To, Cc, Bcc", HDR "To: a@x.org, B <b@x.org>\nCc: c@x.org\n"
	    "Bcc: d@x.org\n\nbody\n", NULL, 0,
	    { "a@x.org", "b@x.org", "c@x.org", "d@x.org" }, "d@x.org" },
	{ "argv first, duplicates dropped", HDR "To: first@example.NET, "
	    "a@x.org\nCc: A@X.org\n\n", argv_one, 1,
	    { "First@Example.net", "a@x.org" }, NULL },
	{ "Resent-* only when present", HDR "To: old@x.org\n"
	    "Resent-From: r@x.org\nResent-To: n@x.org\nResent-Cc: m@x.org\n"
	    "Resent-Bcc: hidden@x.org\nBcc: b@x.org\n\n", NULL, 0,
	    { "n@x.org", "m@x.org", "hidden@x.org" }, "hidden@x.org" },
	{ "folded To", HDR "To: a@x.org,\n\tb@x.org\n\n", NULL, 0,
	    { "a@x.org", "b@x.org" }, NULL },
	{ "bare name qualified", HDR "To: local\n\n", NULL, 0,
	    { "local@example.org" }, NULL },
	{ "empty To ignored", HDR "To: \nCc: c@x.org\n\n", NULL, 0,
	    { "c@x.org" }, NULL },
	{ "argv forms", HDR "\n", argv_forms, 3,
	    { "ann@x.org", "bob@example.org", "c@x.org" }, NULL },
};

static void
test_extract(void)
{
	struct message_params	 p;
	struct run		 r;
	size_t			 i, k;

	for (i = 0; i < sizeof(t_cases) / sizeof(t_cases[0]); i++) {
		params_init(&p);
		p.extract_recipients = t_cases[i].argv != argv_forms;
		p.recipients = t_cases[i].argv;
		p.recipient_count = t_cases[i].argc;
		run(&r, t_cases[i].in, strlen(t_cases[i].in), &p);
		CHECK(r.rc == 0, "%s: accepted (%s)", t_cases[i].name,
		    r.err.text);
		for (k = 0; t_cases[i].want[k] != NULL; k++)
			CHECK_STR(k < r.msg.recipients.n ?
			    r.msg.recipients.v[k] : NULL, t_cases[i].want[k],
			    "%s: recipient %zu", t_cases[i].name, k);
		CHECK(r.msg.recipients.n == k, "%s: %zu recipients",
		    t_cases[i].name, r.msg.recipients.n);
		if (t_cases[i].absent != NULL)
			CHECK(strstr(r.out, t_cases[i].absent) == NULL,
			    "%s: %s not in output", t_cases[i].name,
			    t_cases[i].absent);
		run_free(&r);
	}
}

/* Returns the value of the first "name: " line of the output (static). */
static const char *
header_of(const struct run *r, const char *name)
{
	static char	 value[2048];
	const char	*p = r->out, *end;
	size_t		 n = strlen(name);

	for (; p != NULL && *p != '\0' && strncmp(p, "\r\n", 2) != 0;
	    p = strstr(p, "\r\n") != NULL ? strstr(p, "\r\n") + 2 : NULL) {
		if (strncmp(p, name, n) != 0 || strncmp(p + n, ": ", 2) != 0)
			continue;
		end = strstr(p, "\r\n");
		(void)snprintf(value, sizeof(value), "%.*s",
		    (int)(end - p - n - 2), p + n + 2);
		return value;
	}
	return NULL;
}

static void
test_added_headers(void)
{
	static const struct {
		const char	*tz;
		const char	*date;
	} dates[] = {
		{ "UTC0", "Tue, 14 Nov 2023 22:13:20 +0000" },
		{ "EST5", "Tue, 14 Nov 2023 17:13:20 -0500" },
		{ "IST-5:30", "Wed, 15 Nov 2023 03:43:20 +0530" },
	};
	struct message_params	 p;
	struct run		 r;
	const char		*id;
	char			 prefix[64];
	size_t			 i;

	params_init(&p);
	for (i = 0; i < sizeof(dates) / sizeof(dates[0]); i++) {
		setenv("TZ", dates[i].tz, 1);
		tzset();
		run(&r, "Subject: s\n\nb\n", 14, &p);
		CHECK_STR(header_of(&r, "Date"), dates[i].date, "Date in %s",
		    dates[i].tz);
		run_free(&r);
	}
	setenv("TZ", "UTC0", 1);
	tzset();
	run(&r, "Subject: s\n\nb\n", 14, &p);
	CHECK(strncmp(r.out, "Subject: s\r\nDate: ", 18) == 0,
	    "added headers follow the existing ones");
	id = header_of(&r, "Message-ID");
	(void)snprintf(prefix, sizeof(prefix), "<20231114221320.%lu.",
	    (unsigned long)getpid());
	CHECK(id != NULL && strncmp(id, prefix, strlen(prefix)) == 0 &&
	    strlen(id) == strlen(prefix) + 16 + strlen("@host.example>") &&
	    strcmp(id + strlen(id) - 14, "@host.example>") == 0,
	    "Message-ID format: %s", id ? id : "(none)");
	CHECK(id != NULL && r.msg.message_id != NULL &&
	    strncmp(id + 1, r.msg.message_id, strlen(id) - 2) == 0 &&
	    strlen(r.msg.message_id) == strlen(id) - 2, "message_id kept");
	CHECK_STR(header_of(&r, "From"), "joe@example.org", "From default");
	CHECK_STR(r.msg.sender, "joe@example.org", "sender default");
	CHECK(strstr(body_of(&r), "b\r\n") == body_of(&r), "body after");
	run_free(&r);

	run(&r, "Message-ID:\n  <Kept@Here>\n\n", 27, &p);
	CHECK_STR(r.msg.message_id, "Kept@Here", "existing Message-ID value");
	CHECK(strstr(r.out, "Message-ID:\r\n  <Kept@Here>\r\n") != NULL &&
	    strstr(strstr(r.out, "Kept") + 1, "Message-ID") == NULL,
	    "existing Message-ID kept, none added");
	run_free(&r);

	/* No header section: our headers, an empty line, the input. */
	run(&r, "hello world\nsecond\n", 19, &p);
	CHECK(strncmp(r.out, "Date: ", 6) == 0 &&
	    strcmp(body_of(&r), "hello world\r\nsecond\r\n") == 0 &&
	    header_of(&r, "Message-ID") != NULL &&
	    header_of(&r, "From") != NULL, "no header section");
	run_free(&r);
	run(&r, " indented first line\n", 21, &p);
	CHECK_STR(body_of(&r), " indented first line\r\n",
	    "continuation as first line is body");
	run_free(&r);
	run(&r, "", 0, &p);
	CHECK(r.rc == 0 && strlen(body_of(&r)) == 0 &&
	    header_of(&r, "Date") != NULL, "empty input");
	run_free(&r);
}

static void
test_from(void)
{
	static const struct {
		const char	*sender;
		const char	*full_name;
		const char	*want_from;
		const char	*want_sender;
	} cases[] = {
		{ NULL, "Joe User", "Joe User <joe@example.org>",
		    "joe@example.org" },
		{ "bob", NULL, "bob@example.org", "bob@example.org" },
		{ "<a@b.org>", "A", "A <a@b.org>", "a@b.org" },
		{ "<>", NULL, "joe@example.org", "" },
		{ "", "X", "X <joe@example.org>", "" },
		{ NULL, "Joe Q. Public", "\"Joe Q. Public\" <joe@example.org>",
		    "joe@example.org" },
		{ NULL, "a \"b\" \\c", "\"a \\\"b\\\" \\\\c\" <joe@example.org>",
		    "joe@example.org" },
		{ NULL, "J\xc3\xb6rg", "=?UTF-8?B?SsO2cmc=?= <joe@example.org>",
		    "joe@example.org" },
		{ NULL, "  Trim  ", "Trim <joe@example.org>",
		    "joe@example.org" },
		{ NULL, "   ", "joe@example.org", "joe@example.org" },
		{ NULL, "=?x?", "\"=?x?\" <joe@example.org>",
		    "joe@example.org" },
		{ NULL, "Evil\nBcc: x@y", "\"Evil Bcc: x@y\" <joe@example.org>",
		    "joe@example.org" },
	};
	struct message_params	 p;
	struct run		 r;
	size_t			 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		params_init(&p);
		p.sender = cases[i].sender;
		p.full_name = cases[i].full_name;
		run(&r, "Subject: s\n\n", 12, &p);
		CHECK(r.rc == 0, "From %zu accepted (%s)", i, r.err.text);
		CHECK_STR(header_of(&r, "From"), cases[i].want_from,
		    "From %zu", i);
		CHECK_STR(r.msg.sender, cases[i].want_sender,
		    "sender for -f %s", cases[i].sender ? cases[i].sender : "-");
		CHECK(header_of(&r, "Bcc") == NULL, "From %zu: no Bcc", i);
		run_free(&r);
	}
}

/* A long UTF-8 name: several encoded-words, folded, none over 75. */
static void
test_from_long_utf8(void)
{
	struct message_params	 p;
	struct run		 r;
	struct buf		 name;
	const char		*s, *e;
	size_t			 i, words = 0;
	bool			 short_words = true;

	buf_init(&name, 4096);
	for (i = 0; i < 40; i++)
		(void)buf_append_str(&name, "\xc3\xa9t\xc3\xa9 ");
	(void)buf_append_str(&name, "end");
	params_init(&p);
	p.full_name = name.data;
	run(&r, "Subject: s\n\n", 12, &p);
	for (s = strstr(r.out, "=?UTF-8?B?"); s != NULL;
	    s = strstr(e, "=?UTF-8?B?")) {
		e = strstr(s + 10, "?=");
		if (e == NULL)
			break;
		e += 2;
		words++;
		if (e - s > 75)
			short_words = false;
	}
	CHECK(words > 2 && short_words, "%zu encoded-words, each <= 75",
	    words);
	CHECK(strstr(r.out, "?=\r\n =?UTF-8?B?") != NULL,
	    "encoded-words folded");
	CHECK(strstr(r.out, "\r\n <joe@example.org>\r\n") != NULL,
	    "address folded onto its own line");
	run_free(&r);
	buf_free(&name);
}

static void
test_limits_and_errors(void)
{
	static char *const bad_rcpt[] = { "<unclosed@x.org" };
	static char *const utf8_rcpt[] = { "j\xc3\xb6rg@example.org" };
	const char		*in = HDR "\n0123456789\n";
	size_t			 len = strlen(in);
	struct message_params	 p;
	struct run		 r;
	struct buf		 big;
	int			 infd, outfd;

	params_init(&p);
	p.size_limit = (long)len;
	run(&r, in, len, &p);
	CHECK(r.rc == 0, "input of exactly size_limit accepted");
	run_free(&r);
	p.size_limit = (long)len - 1;
	run(&r, in, len, &p);
	CHECK(r.rc == -1 && r.err.kind == ERR_DATA, "size_limit + 1 refused");
	CHECK(strstr(r.err.text, "message_size_limit (") != NULL,
	    "limit named: %s", r.err.text);
	CHECK(r.msg.sender == NULL && r.msg.recipients.n == 0,
	    "nothing left to free after an error");
	run_free(&r);

	params_init(&p);
	p.recipient_count = 0;
	run(&r, in, len, &p);
	CHECK(r.rc == -1 && r.err.kind == ERR_DATA &&
	    strcmp(r.err.text, "no recipients") == 0, "no recipients");
	run_free(&r);
	p.extract_recipients = true;
	run(&r, in, len, &p);
	CHECK(r.rc == -1 && strcmp(r.err.text, "no recipients") == 0,
	    "-t without recipient headers");
	run_free(&r);

	params_init(&p);
	p.recipients = bad_rcpt;
	run(&r, in, len, &p);
	CHECK(r.rc == -1 && r.err.kind == ERR_DATA &&
	    strstr(r.err.text, "<unclosed@x.org") != NULL,
	    "bad argv recipient named: %s", r.err.text);
	run_free(&r);
	p.recipients = utf8_rcpt;
	run(&r, in, len, &p);
	CHECK(r.rc == 0 && r.msg.smtputf8, "UTF-8 local part needs SMTPUTF8");
	run_free(&r);

	params_init(&p);
	buf_init(&big, 2 * MESSAGE_HEADER_MAX);
	while (big.len < MESSAGE_HEADER_MAX + 100)
		(void)buf_append_str(&big, "X-Filler: 0123456789abcdef\n");
	run(&r, big.data, big.len, &p);
	CHECK(r.rc == -1 && r.err.kind == ERR_DATA &&
	    strstr(r.err.text, "header section exceeds") != NULL,
	    "header section too big: %s", r.err.text);
	run_free(&r);
	/* The same bytes as one body line (no header): streamed, fine. */
	big.data[8] = ' ';
	run(&r, big.data, big.len, &p);
	CHECK(r.rc == 0 && r.out_len > big.len, "big body streamed");
	run_free(&r);
	buf_free(&big);

	infd = memfd_with(in, len);
	outfd = open("/dev/full", O_WRONLY);
	run_fds(&r, infd, outfd, &p);
	/* A full disk is temporary: the caller keeps the message. */
	CHECK(r.rc == -1 && r.err.kind == ERR_TEMP &&
	    strncmp(r.err.text, "cannot write spool file: ", 25) == 0,
	    "write error (disk full) is temporary: %s", r.err.text);
	run_free(&r);
	close(infd);
	close(outfd);
	infd = open("/", O_RDONLY | O_DIRECTORY);
	outfd = memfd_create("out", 0);
	run_fds(&r, infd, outfd, &p);
	CHECK(r.rc == -1 && r.err.kind == ERR_NOINPUT, "read error: %s",
	    r.err.text);
	run_free(&r);
	close(infd);
	close(outfd);
}

static void
test_full_name_limit(void)
{
	struct message_params	 p;
	struct run		 r;
	char			*name = xmalloc(1026);

	memset(name, 'n', 1025);
	name[1025] = '\0';
	params_init(&p);
	p.full_name = name;
	run(&r, "S: s\n", 6, &p);
	CHECK(r.rc == -1 && r.err.kind == ERR_USAGE, "-F over 1024 refused");
	run_free(&r);
	name[1024] = '\0';
	run(&r, "S: s\n", 6, &p);
	CHECK(r.rc == 0, "-F of 1024 accepted");
	run_free(&r);
	name[900] = '\0';
	run(&r, "S: s\n", 6, &p);
	CHECK(r.rc == 0 && strstr(r.out, name) != NULL &&
	    strstr(r.out, "\r\n <joe@example.org>\r\n") != NULL,
	    "-F of 900 kept whole, address on its own line");
	run_free(&r);
	free(name);
}

struct collect {
	struct buf	 out;
	int		 stop_at;
	int		 seen;
};

static int
collect_header(void *arg, const struct message_header *h)
{
	struct collect	*c = arg;

	if (++c->seen == c->stop_at)
		return -1;
	(void)buf_printf(&c->out, "[%.*s|%.*s]", (int)h->name_len, h->name,
	    (int)h->value_len, h->value);
	return 0;
}

static void
test_parse_headers(void)
{
	static const struct {
		const char	*in;
		int		 rc;
		const char	*want;
	} cases[] = {
		{ "A: 1\nB:2\n", 0, "[A| 1][B|2]" },
		{ "A: 1\r\nB:2\r\n", 0, "[A| 1][B|2]" },
		{ "A: 1\n\tx\n y\nB: 2", 0, "[A| 1\n\tx\n y][B| 2]" },
		{ "A: 1\r\n x\r\n", 0, "[A| 1\r\n x]" },
		{ "Name  : v\n", 0, "[Name| v]" },
		{ "", 0, "" },
		{ " x\nA: 1\n", -1, "" },
		{ "A: 1\nbad line\n", -1, "" },
		{ "A: 1\n\nB: 2\n", -1, "" },
		{ ": novalue\n", -1, "" },
		{ "A\xc3\xa4: 1\n", -1, "" },
	};
	struct collect	 c;
	struct err	 e;
	size_t		 i;
	int		 rc;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&c, 0, sizeof(c));
		buf_init(&c.out, 4096);
		err_clear(&e);
		rc = message_parse_headers(cases[i].in, strlen(cases[i].in),
		    collect_header, &c, &e);
		CHECK(rc == cases[i].rc && (rc == 0 || e.kind == ERR_DATA),
		    "parse %zu: rc %d", i, rc);
		CHECK_STR(buf_cstr(&c.out), cases[i].want, "parse %zu", i);
		buf_free(&c.out);
	}
	memset(&c, 0, sizeof(c));
	buf_init(&c.out, 4096);
	c.stop_at = 2;
	err_clear(&e);
	rc = message_parse_headers("A: 1\nB: 2\nC: 3\n", 15, collect_header,
	    &c, &e);
	CHECK(rc == -1 && c.seen == 2 && e.kind == ERR_OK,
	    "callback stops the walk, err left to it");
	buf_free(&c.out);
}

static void
test_unfold(void)
{
	static const struct {
		const char	*in;
		const char	*want;
	} cases[] = {
		{ " a,\r\n b", " a, b" },
		{ " a,\n\tb", " a,\tb" },
		{ "plain", "plain" },
		{ "", "" },
		{ "x\r\n\r\n y", "x y" },
	};
	struct buf	 out;
	size_t		 i;
	int		 rc;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		buf_init(&out, 64);
		rc = message_unfold(cases[i].in, strlen(cases[i].in), &out);
		CHECK(rc == 0, "unfold %zu", i);
		CHECK_STR(buf_cstr(&out), cases[i].want, "unfold %zu", i);
		buf_free(&out);
	}
	buf_init(&out, 3);
	rc = message_unfold("abcd", 4, &out);
	CHECK(rc == -1, "unfold past max fails");
	buf_free(&out);
}

int
main(void)
{
	setenv("TZ", "UTC0", 1);
	tzset();
	test_canonical();
	test_folding();
	test_eightbit();
	test_extract();
	test_added_headers();
	test_from();
	test_from_long_utf8();
	test_limits_and_errors();
	test_full_name_limit();
	test_parse_headers();
	test_unfold();
	return check_done();
}
