/* SPDX-License-Identifier: ISC */
/*
 * bounce: reports generated from originals in temporary files and checked
 * as text (CRLF only, line lengths, exact header and delivery-status
 * fields, boundary use, attached headers or whole message byte for byte,
 * folding, UTF-8 addresses, status validation, write and read errors),
 * then parsed by python3's email package when python3 is there.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bounce.h"
#include "check.h"
#include "err.h"

/* Tue 14 Nov 2023 22:13:20 UTC */
#define TEST_NOW	((time_t)1700000000)
#define TEST_HEADERS	"Received: from client by relay\r\n" \
			"From: Sender <sender@example.com>\r\n" \
			"To: user@example.org, other@example.net\r\n" \
			"Subject: greetings\r\n" \
			"Message-ID: <orig.1@example.com>\r\n"
#define TEST_BODY	"Hello,\r\n\r\nthis is the secret body.\r\n"

struct report {
	int		 rc;
	struct err	 err;
	off_t		 size;
	char		*text;
	size_t		 len;
	char		 boundary[128];
};

static char	 tmpdir[] = "/tmp/test_bounce.XXXXXX";

static void	 die(const char *);
static int	 original(const char *, size_t);
static void	 params_init(struct bounce_params *, struct bounce_rcpt *,
		    size_t);
static void	 generate(const struct bounce_params *, int, struct report *);
static void	 report_free(struct report *);
static bool	 canonical(const char *, size_t, size_t *);
static bool	 starts(const char *, const char *);
static size_t	 count(const char *, const char *);
static char	*unwrap(const char *, const char *);
static const char *part(const struct report *, int);
static void	 python_check(const struct report *, const char *,
		    const char *);
static void	 test_failed(void);
static void	 test_full(void);
static void	 test_delayed(void);
static void	 test_status(void);
static void	 test_long_diagnostic(void);
static void	 test_utf8(void);
static void	 test_header_only_originals(void);
static void	 test_header_cap(void);
static void	 test_errors(void);
static void	 test_west_zone(void);
static void	 test_blank_text(void);

static void
die(const char *what)
{
	perror(what);
	exit(1);
}

/* An original message in a temporary file, opened for reading. */
static int
original(const char *text, size_t len)
{
	char	 path[64];
	int	 fd;

	(void)snprintf(path, sizeof(path), "%s/original", tmpdir);
	if ((fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600)) == -1)
		die("open original");
	if (write(fd, text, len) != (ssize_t)len)
		die("write original");
	/* bounce must read from 0 whatever the offset. */
	if (unlink(path) == -1)
		die("unlink original");
	return fd;
}

static void
params_init(struct bounce_params *p, struct bounce_rcpt *rcpts, size_t n)
{
	memset(p, 0, sizeof(*p));
	p->kind = BOUNCE_FAILED;
	p->myhostname = "relay.example.com";
	p->to = "sender@example.com";
	p->queue_id = "4AbC123";
	p->envid = "env+2Bid-42";
	p->arrival.tv_sec = TEST_NOW - 3600;
	p->now = TEST_NOW;
	p->rcpts = rcpts;
	p->rcpt_count = n;
}

/* Runs bounce_write into a temporary file and reads the result back. */
static void
generate(const struct bounce_params *p, int orig_fd, struct report *r)
{
	char		 path[64];
	const char	*b, *end;
	struct stat	 st;
	int		 fd;

	memset(r, 0, sizeof(*r));
	(void)snprintf(path, sizeof(path), "%s/report", tmpdir);
	if ((fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600)) == -1)
		die("open report");
	r->rc = bounce_write(fd, orig_fd, p, &r->size, &r->err);
	if (fstat(fd, &st) == -1)
		die("fstat");
	r->len = (size_t)st.st_size;
	if ((r->text = malloc(r->len + 1)) == NULL)
		die("malloc");
	if (pread(fd, r->text, r->len, 0) != (ssize_t)r->len)
		die("pread");
	r->text[r->len] = '\0';
	(void)close(fd);
	(void)unlink(path);
	if ((b = strstr(r->text, "boundary=\"")) != NULL &&
	    (end = strchr(b + 10, '"')) != NULL &&
	    (size_t)(end - b - 10) < sizeof(r->boundary))
		memcpy(r->boundary, b + 10, (size_t)(end - b - 10));
}

static void
report_free(struct report *r)
{
	free(r->text);
	r->text = NULL;
}

/* CRLF only, no line over 998 octets; *longest gets the longest line. */
static bool
canonical(const char *s, size_t len, size_t *longest)
{
	size_t	 i, start = 0;

	*longest = 0;
	for (i = 0; i < len; i++) {
		if (s[i] == '\r' && (i + 1 >= len || s[i + 1] != '\n'))
			return false;
		if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r'))
			return false;
		if (s[i] == '\n') {
			if (i - 1 - start > *longest)
				*longest = i - 1 - start;
			start = i + 1;
		}
	}
	return start == len && *longest <= 998;
}

static bool
starts(const char *s, const char *prefix)
{
	return s != NULL && strncmp(s, prefix, strlen(prefix)) == 0;
}

static size_t
count(const char *s, const char *what)
{
	size_t	 n = 0;

	while ((s = strstr(s, what)) != NULL) {
		n++;
		s += strlen(what);
	}
	return n;
}

/* A copy of s with every "\r\n" + cont replaced by one space. */
static char *
unwrap(const char *s, const char *cont)
{
	char	*out, *w;
	size_t	 n = strlen(cont);

	if ((out = w = malloc(strlen(s) + 1)) == NULL)
		die("malloc");
	while (*s != '\0') {
		if (s[0] == '\r' && s[1] == '\n' &&
		    strncmp(s + 2, cont, n) == 0) {
			*w++ = ' ';
			s += 2 + n;
			continue;
		}
		*w++ = *s++;
	}
	*w = '\0';
	return out;
}

/* Where part n (1-based) begins: right after its delimiter line. */
static const char *
part(const struct report *r, int n)
{
	char		 delim[160];
	const char	*p = r->text;

	(void)snprintf(delim, sizeof(delim), "\r\n--%s\r\n", r->boundary);
	while (n-- > 0 && p != NULL)
		if ((p = strstr(p, delim)) != NULL)
			p += strlen(delim);
	return p;
}

/* python3's email package must see the structure a mail reader will. */
static void
python_check(const struct report *r, const char *part3, const char *name)
{
	char	 path[64], cmd[2048];
	FILE	*f;

	if (system("command -v python3 >/dev/null 2>&1") != 0) {
		CHECK(1, "python email: %s # skip python3 not found", name);
		return;
	}
	(void)snprintf(path, sizeof(path), "%s/report.eml", tmpdir);
	if ((f = fopen(path, "wb")) == NULL)
		die("fopen");
	if (fwrite(r->text, 1, r->len, f) != r->len || fclose(f) != 0)
		die("fwrite");
	(void)snprintf(cmd, sizeof(cmd), "python3 -c '"
	    "import email, sys\n"
	    "m = email.message_from_binary_file(open(sys.argv[1], \"rb\"))\n"
	    "assert not m.defects, m.defects\n"
	    "assert m.get_content_type() == \"multipart/report\"\n"
	    "assert m.get_param(\"report-type\") == \"delivery-status\"\n"
	    "p = m.get_payload()\n"
	    "assert len(p) == 3, len(p)\n"
	    "assert p[0].get_content_type() == \"text/plain\"\n"
	    "assert p[1].get_content_type() == \"message/delivery-status\"\n"
	    "ds = p[1].get_payload()\n"
	    "assert ds[0][\"Reporting-MTA\"] == \"dns; relay.example.com\"\n"
	    "assert ds[1][\"Action\"] in (\"failed\", \"delayed\")\n"
	    "assert p[2].get_content_type() == sys.argv[2], "
	    "p[2].get_content_type()\n"
	    "' %s %s", path, part3);
	CHECK(system(cmd) == 0, "python email: %s", name);
	(void)unlink(path);
}

static void
test_failed(void)
{
	struct bounce_rcpt	 rcpts[2] = {
		{ "user@example.org", "5.1.1",
		    "550 5.1.1 <user@example.org>: User unknown",
		    "mx.example.org[192.0.2.1]:25" },
		{ "other@example.net", NULL,
		    "connect to example.net: Connection refused", NULL },
	};
	struct bounce_params	 p;
	struct report		 r;
	const char		*p1, *p2, *p3, *delim;
	char			 want[512], *flat;
	size_t			 longest;
	int			 fd;

	params_init(&p, rcpts, 2);
	fd = original(TEST_HEADERS "\r\n" TEST_BODY,
	    strlen(TEST_HEADERS "\r\n" TEST_BODY));
	generate(&p, fd, &r);
	(void)close(fd);
	CHECK(r.rc == 0, "failed: written (%s)", r.err.text);
	CHECK(r.size == (off_t)r.len, "failed: size %lld is the file size",
	    (long long)r.size);
	CHECK(canonical(r.text, r.len, &longest), "failed: CRLF only, "
	    "longest line %zu", longest);
	CHECK(starts(r.text, "From: MAILER-DAEMON@relay.example.com "
	    "(Mail Delivery System)\r\nTo: sender@example.com\r\n"
	    "Subject: Undelivered Mail Returned to Sender\r\n"
	    "Date: Wed, 15 Nov 2023 00:13:20 +0200\r\n"
	    "Message-ID: <20231114221320.4AbC123."),
	    "failed: From, To, Subject, Date, Message-ID");
	CHECK(strstr(r.text, "@relay.example.com>\r\nAuto-Submitted: "
	    "auto-replied\r\nMIME-Version: 1.0\r\nContent-Type: "
	    "multipart/report; report-type=delivery-status;\r\n\tboundary=\"")
	    != NULL, "failed: Auto-Submitted, MIME headers");
	CHECK(strlen(r.boundary) >= 40 && strlen(r.boundary) <= 70 &&
	    strstr(r.boundary, "4AbC123") != NULL,
	    "failed: boundary \"%s\" long, with the queue ID", r.boundary);
	CHECK(count(r.text, r.boundary) == 5, "failed: boundary used 5 times");
	(void)snprintf(want, sizeof(want), "\r\n--%s\r\n", r.boundary);
	CHECK(count(r.text, want) == 3, "failed: three delimiters");
	(void)snprintf(want, sizeof(want), "\r\n--%s--\r\n", r.boundary);
	delim = strstr(r.text, want);
	CHECK(delim != NULL && delim + strlen(want) == r.text + r.len,
	    "failed: close delimiter ends the message");
	CHECK(strstr(r.text, "Content-Transfer-Encoding") == NULL,
	    "failed: 7bit throughout");

	p1 = part(&r, 1), p2 = part(&r, 2), p3 = part(&r, 3);
	CHECK(starts(p1, "Content-Description: Notification"
	    "\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
	    "This is the mail system at host relay.example.com.\r\n\r\n"
	    "I'm sorry to have to inform you that your message could not "
	    "be delivered\r\nto one or more recipients."),
	    "failed: human part");
	flat = unwrap(p1 != NULL ? p1 : "", "    ");
	CHECK(strstr(flat, "\r\n<user@example.org>: host mx.example.org"
	    "[192.0.2.1]:25 said: 550 5.1.1 <user@example.org>: User "
	    "unknown\r\n") != NULL, "failed: first recipient explained");
	CHECK(strstr(flat, "\r\n<other@example.net>: connect to example.net: "
	    "Connection refused\r\n") != NULL,
	    "failed: second recipient explained");
	free(flat);

	CHECK(starts(p2, "Content-Description: Delivery "
	    "report\r\nContent-Type: message/delivery-status\r\n\r\n"
	    "Reporting-MTA: dns; relay.example.com\r\n"
	    "X-Postfix-Queue-ID: 4AbC123\r\n"
	    "Original-Envelope-Id: env+2Bid-42\r\n"
	    "Arrival-Date: Tue, 14 Nov 2023 23:13:20 +0200\r\n\r\n"
	    "Final-Recipient: rfc822; user@example.org\r\n"
	    "Action: failed\r\nStatus: 5.1.1\r\n"
	    "Remote-MTA: dns; mx.example.org\r\n"
	    "Diagnostic-Code: smtp; 550 5.1.1 <user@example.org>: User "
	    "unknown\r\n"
	    "Last-Attempt-Date: Wed, 15 Nov 2023 00:13:20 +0200\r\n\r\n"
	    "Final-Recipient: rfc822; other@example.net\r\n"
	    "Action: failed\r\nStatus: 5.0.0\r\n"
	    "Diagnostic-Code: X-Sendrelay; connect to example.net: "
	    "Connection refused\r\n"
	    "Last-Attempt-Date: Wed, 15 Nov 2023 00:13:20 +0200\r\n\r\n--"),
	    "failed: delivery-status fields");
	CHECK(starts(p3, "Content-Description: Undelivered "
	    "Message Headers\r\nContent-Type: text/rfc822-headers\r\n\r\n"
	    TEST_HEADERS "\r\n--"),
	    "failed: the original's headers attached");
	CHECK(strstr(r.text, "secret body") == NULL,
	    "failed: not the original's body");
	python_check(&r, "text/rfc822-headers", "headers only");
	report_free(&r);
}

static void
test_full(void)
{
	struct bounce_rcpt	 rcpt = { "user@example.org", "5.1.1",
				    "550 5.1.1 user unknown",
				    "mx.example.org[192.0.2.1]:25" };
	struct bounce_params	 p;
	struct report		 r;
	const char		*p3, *want;
	char			*orig;
	size_t			 i, len, longest, hlen = strlen(TEST_HEADERS);
	int			 fd;

	/* Bigger than a read chunk, with 8-bit text, so it must stream. */
	len = hlen + 2 + 200 * 1000;
	if ((orig = malloc(len + 1)) == NULL)
		die("malloc");
	memcpy(orig, TEST_HEADERS "\r\n", hlen + 2);
	for (i = hlen + 2; i + 100 <= len; i += 100) {
		memset(orig + i, 'a' + (int)(i / 100 % 26), 97);
		orig[i + 50] = (char)0xe9;
		memcpy(orig + i + 97, ".\r\n", 3);
	}
	orig[len] = '\0';
	params_init(&p, &rcpt, 1);
	p.full = true;
	fd = original(orig, len);
	(void)lseek(fd, 17, SEEK_SET);
	generate(&p, fd, &r);
	(void)close(fd);
	CHECK(r.rc == 0, "full: written (%s)", r.err.text);
	CHECK(r.size == (off_t)r.len && r.len > len, "full: size");
	CHECK(canonical(r.text, r.len, &longest), "full: CRLF only");
	p3 = part(&r, 3);
	want = "Content-Description: Undelivered Message\r\n"
	    "Content-Type: message/rfc822\r\n\r\n";
	CHECK(p3 != NULL && strncmp(p3, want, strlen(want)) == 0,
	    "full: message/rfc822 part");
	CHECK(p3 != NULL && (size_t)(r.text + r.len - p3) ==
	    strlen(want) + len + 4 + strlen(r.boundary) + 4 &&
	    memcmp(p3 + strlen(want), orig, len) == 0,
	    "full: the original byte for byte, then the close delimiter");
	python_check(&r, "message/rfc822", "full");
	report_free(&r);
	free(orig);
}

static void
test_delayed(void)
{
	struct bounce_rcpt	 rcpts[2] = {
		{ "user@example.org", "5.1.1", "550 5.1.1 user unknown",
		    "mx.example.org[192.0.2.1]:25" },
		{ "other@example.net", "4.4.1", "connection timed out", NULL },
	};
	struct bounce_params	 p;
	struct report		 r;
	char			*flat;
	size_t			 longest;
	int			 fd;

	params_init(&p, rcpts, 2);
	p.kind = BOUNCE_DELAYED;
	p.envid = NULL;
	fd = original(TEST_HEADERS "\r\n" TEST_BODY,
	    strlen(TEST_HEADERS "\r\n" TEST_BODY));
	generate(&p, fd, &r);
	(void)close(fd);
	CHECK(r.rc == 0, "delayed: written (%s)", r.err.text);
	CHECK(canonical(r.text, r.len, &longest), "delayed: CRLF only");
	CHECK(strstr(r.text, "\r\nSubject: Delayed Mail (still being "
	    "retried)\r\n") != NULL, "delayed: subject");
	flat = unwrap(r.text, "");
	CHECK(strstr(flat, "has not yet been delivered") != NULL &&
	    strstr(flat, "will keep trying until") != NULL,
	    "delayed: human text says it is still trying");
	free(flat);
	CHECK(count(r.text, "\r\nAction: delayed\r\n") == 2 &&
	    strstr(r.text, "Action: failed") == NULL, "delayed: actions");
	CHECK(strstr(r.text, "Final-Recipient: rfc822; user@example.org\r\n"
	    "Action: delayed\r\nStatus: 4.0.0\r\n") != NULL,
	    "delayed: a 5.1.1 falls back to 4.0.0");
	CHECK(strstr(r.text, "Final-Recipient: rfc822; other@example.net\r\n"
	    "Action: delayed\r\nStatus: 4.4.1\r\n") != NULL,
	    "delayed: a 4.4.1 is kept");
	CHECK(strstr(r.text, "Original-Envelope-Id") == NULL,
	    "delayed: no envelope ID when none was given");
	python_check(&r, "text/rfc822-headers", "delayed");
	report_free(&r);
}

static void
test_status(void)
{
	static const struct {
		const char	*given;
		const char	*want;
	} cases[] = {
		{ "5.1.1", "5.1.1" },
		{ "5.7.26", "5.7.26" },
		{ "5.123.123", "5.123.123" },
		{ "4.4.7", "4.4.7" },		/* expired: the last reason */
		{ "", "5.0.0" },
		{ "2.0.0", "5.0.0" },
		{ "5.1", "5.0.0" },
		{ "5.1.1234", "5.0.0" },
		{ "5.1.1 ", "5.0.0" },
		{ "5..1", "5.0.0" },
		{ "3.1.1", "5.0.0" },
		{ "x.1.1", "5.0.0" },
		{ "5.1.1\r\nX-Evil: 1", "5.0.0" },
	};
	struct bounce_rcpt	 rcpt = { "u@example.org", NULL, "no", NULL };
	struct bounce_params	 p;
	struct report		 r;
	char			 want[64];
	size_t			 i;
	int			 fd;

	fd = original(TEST_HEADERS "\r\n", strlen(TEST_HEADERS "\r\n"));
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		rcpt.status = cases[i].given;
		params_init(&p, &rcpt, 1);
		generate(&p, fd, &r);
		(void)snprintf(want, sizeof(want), "\r\nStatus: %s\r\n",
		    cases[i].want);
		CHECK(r.rc == 0 && strstr(r.text, want) != NULL,
		    "status: \"%.*s\" -> %s",
		    (int)strcspn(cases[i].given, "\r\n"), cases[i].given,
		    cases[i].want);
		report_free(&r);
	}
	(void)close(fd);
}

static void
test_long_diagnostic(void)
{
	struct bounce_rcpt	 rcpt = { "user@example.org", "5.7.1", NULL,
				    "mx.example.org[192.0.2.1]:25" };
	struct bounce_params	 p;
	struct report		 r;
	char			 diag[3001], clean[3001], want[3100], *flat;
	const char		*inject = " 550\r\nInjected: x\r\n\r\n--";
	const char		*line, *eol;
	size_t			 i, n = 0, c = 0, longest;
	bool			 wide_ok = true;
	int			 fd;

	/*
	 * 3000 octets: words of 6, a 1500-octet token, CR LF that try to
	 * start a field and a boundary, words of 4. clean is what the
	 * report must say: controls as one space.
	 */
	for (i = 0; i < 1200; i++)
		diag[n++] = clean[c++] = i % 7 == 6 || i == 1199 ?
		    ' ' : 'a' + i % 26;
	for (i = 0; i < 1500; i++)
		diag[n++] = clean[c++] = 'T';
	memcpy(diag + n, inject, strlen(inject));
	n += strlen(inject);
	memcpy(clean + c, " 550 Injected: x --", 19);
	c += 19;
	for (i = n; i < 3000; i++)
		diag[n++] = clean[c++] = i % 5 == 3 ? ' ' : 'z';
	diag[n] = clean[c] = '\0';
	rcpt.diagnostic = diag;
	params_init(&p, &rcpt, 1);
	fd = original(TEST_HEADERS "\r\n", strlen(TEST_HEADERS "\r\n"));
	generate(&p, fd, &r);
	(void)close(fd);
	CHECK(r.rc == 0, "long: written (%s)", r.err.text);
	CHECK(canonical(r.text, r.len, &longest) && longest == 998,
	    "long: no line over 998 (longest %zu)", longest);
	for (line = r.text; (eol = strstr(line, "\r\n")) != NULL;
	    line = eol + 2)
		if (eol - line > 78 && memmem(line, (size_t)(eol - line),
		    "TTTTTTTTTT", 10) == NULL)
			wide_ok = false;
	CHECK(wide_ok, "long: only the long token passes 78 columns");
	CHECK(strstr(r.text, "\r\nInjected:") == NULL,
	    "long: CR LF in a diagnostic cannot start a field");

	/* Unfolded, the text is exact but for the token's forced break. */
	(void)snprintf(want, sizeof(want), "\r\nDiagnostic-Code: smtp; "
	    "%.1200s%.997s %s\r\n", clean, clean + 1200, clean + 2197);
	flat = unwrap(r.text, " ");
	CHECK(strstr(flat, want) != NULL, "long: Diagnostic-Code folded");
	free(flat);
	(void)snprintf(want, sizeof(want), "\r\n<user@example.org>: host "
	    "mx.example.org[192.0.2.1]:25 said: %.1200s%.994s %s\r\n",
	    clean, clean + 1200, clean + 2194);
	flat = unwrap(r.text, "    ");
	CHECK(strstr(flat, want) != NULL, "long: human part wrapped");
	free(flat);
	report_free(&r);
}

static void
test_utf8(void)
{
	struct bounce_rcpt	 rcpts[2] = {
		{ "j\xc3\xb6rg+tag@ex\xc3\xa4mple.org", "5.1.1",
		    "550 unknown \xc3\xb6", NULL },
		{ "a+b=c@example.org", NULL, "550 no", NULL },
	};
	struct bounce_params	 p;
	struct report		 r;
	size_t			 longest;
	int			 fd;

	params_init(&p, rcpts, 2);
	fd = original(TEST_HEADERS "\r\n", strlen(TEST_HEADERS "\r\n"));
	generate(&p, fd, &r);
	(void)close(fd);
	CHECK(r.rc == 0 && canonical(r.text, r.len, &longest),
	    "utf8: written, canonical");
	CHECK(strstr(r.text, "\r\nFinal-Recipient: utf-8; "
	    "j\\x{F6}rg\\x{2B}tag@ex\\x{E4}mple.org\r\n") != NULL,
	    "utf8: utf-8 address type, xtext form");
	CHECK(strstr(r.text, "\r\nFinal-Recipient: rfc822; "
	    "a+b=c@example.org\r\n") != NULL, "utf8: ASCII stays rfc822");
	CHECK(strstr(r.text, "Content-Type: text/plain; charset=utf-8\r\n"
	    "Content-Transfer-Encoding: 8bit\r\n") != NULL &&
	    strstr(r.text, "\r\n<j\xc3\xb6rg+tag@ex\xc3\xa4mple.org>: ")
	    != NULL, "utf8: human part in UTF-8, 8bit");
	CHECK(strstr(r.text, "\tboundary=\"") != NULL && strstr(r.text,
	    "\"\r\nContent-Transfer-Encoding: 8bit\r\n\r\n") != NULL,
	    "utf8: the multipart says 8bit too");
	CHECK(strstr(r.text, "Diagnostic-Code: X-Sendrelay; 550 unknown ??")
	    != NULL, "utf8: delivery-status part stays ASCII");
	python_check(&r, "text/rfc822-headers", "utf8");
	report_free(&r);
}

static void
test_header_only_originals(void)
{
	static const struct {
		const char	*original;
		const char	*attached;
	} cases[] = {
		{ "Subject: x\r\nFrom: y\r\n", "Subject: x\r\nFrom: y\r\n" },
		{ "Subject: x\r\nFrom: y", "Subject: x\r\nFrom: y\r\n" },
		{ "Subject: x\r\n\r\nFrom: body\r\n", "Subject: x\r\n" },
		{ "\r\nbody only\r\n", "" },
		{ "", "" },
	};
	struct bounce_rcpt	 rcpt = { "u@example.org", NULL, "no", NULL };
	struct bounce_params	 p;
	struct report		 r;
	char			 want[256];
	const char		*p3;
	size_t			 i, longest;
	int			 fd;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		params_init(&p, &rcpt, 1);
		fd = original(cases[i].original, strlen(cases[i].original));
		generate(&p, fd, &r);
		(void)close(fd);
		p3 = part(&r, 3);
		(void)snprintf(want, sizeof(want), "Content-Description: "
		    "Undelivered Message Headers\r\nContent-Type: "
		    "text/rfc822-headers\r\n\r\n%s\r\n--%s--\r\n",
		    cases[i].attached, r.boundary);
		CHECK(r.rc == 0 && canonical(r.text, r.len, &longest) &&
		    p3 != NULL && strcmp(p3, want) == 0,
		    "headers: original %zu attached as expected", i);
		report_free(&r);
	}
}

static void
test_header_cap(void)
{
	struct bounce_rcpt	 rcpt = { "u@example.org", NULL, "no", NULL };
	struct bounce_params	 p;
	struct report		 r;
	const char		*p3, *end;
	char			*orig, closing[160];
	size_t			 i, len = 1500 * 1000, longest;
	int			 fd;

	/* 1.5 MB of 1000-octet header lines, no body separator. */
	if ((orig = malloc(len)) == NULL)
		die("malloc");
	for (i = 0; i < len; i += 1000) {
		memcpy(orig + i, "X-Filler: ", 10);
		memset(orig + i + 10, 'f', 988);
		memcpy(orig + i + 998, "\r\n", 2);
	}
	params_init(&p, &rcpt, 1);
	fd = original(orig, len);
	generate(&p, fd, &r);
	(void)close(fd);
	p3 = part(&r, 3);
	(void)snprintf(closing, sizeof(closing), "\r\n--%s--\r\n", r.boundary);
	end = strstr(r.text, closing);
	if (p3 != NULL)
		p3 = strstr(p3, "\r\n\r\n");
	CHECK(r.rc == 0 && canonical(r.text, r.len, &longest) &&
	    p3 != NULL && end != NULL, "cap: written");
	CHECK(p3 != NULL && end != NULL && end - (p3 + 4) == 1048 * 1000 &&
	    memcmp(p3 + 4, orig, 1048 * 1000) == 0,
	    "cap: whole lines up to 1 MiB");
	report_free(&r);
	free(orig);
}

static void
test_errors(void)
{
	struct bounce_rcpt	 rcpt = { "u@example.org", NULL, "no", NULL };
	struct bounce_params	 p;
	struct err		 e;
	off_t			 size;
	char			 path[64];
	int			 fd, out, rc;

	fd = original(TEST_HEADERS "\r\n", strlen(TEST_HEADERS "\r\n"));
	params_init(&p, &rcpt, 1);
	if ((out = open("/dev/full", O_WRONLY)) == -1)
		CHECK(1, "errors: full disk # skip no /dev/full");
	else {
		rc = bounce_write(out, fd, &p, &size, &e);
		CHECK(rc == -1 && e.kind == ERR_TEMP &&
		    strstr(e.text, strerror(ENOSPC)) != NULL,
		    "errors: full disk is temporary: %s", e.text);
		(void)close(out);
	}
	(void)snprintf(path, sizeof(path), "%s/unreadable", tmpdir);
	if ((out = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1)
		die("open");
	rc = bounce_write(out, out, &p, &size, &e);
	CHECK(rc == -1 && e.kind == ERR_IOERR &&
	    strstr(e.text, "original") != NULL,
	    "errors: unreadable original: %s", e.text);
	p.full = true;
	rc = bounce_write(out, out, &p, &size, &e);
	CHECK(rc == -1 && e.kind == ERR_IOERR, "errors: unreadable, full");
	(void)close(out);
	(void)unlink(path);

	p.rcpt_count = 0;
	rc = bounce_write(-1, fd, &p, &size, &e);
	CHECK(rc == -1 && e.kind == ERR_SOFTWARE && size == 0,
	    "errors: no recipients");
	p.rcpt_count = 1;
	p.myhostname = "relay.example.com\r\nBcc: x";
	rc = bounce_write(-1, fd, &p, &size, &e);
	CHECK(rc == -1 && e.kind == ERR_CONFIG, "errors: bad myhostname");
	(void)close(fd);
}

/* Text that is only white space or controls adds no empty fields. */
static void
test_blank_text(void)
{
	struct bounce_rcpt	 rcpt = { "user@example.org", NULL, " \r\n\t ",
				    NULL };
	struct bounce_params	 p;
	struct report		 r;
	size_t			 longest;
	int			 fd;

	params_init(&p, &rcpt, 1);
	p.envid = "\r\n";
	fd = original(TEST_HEADERS "\r\n", strlen(TEST_HEADERS "\r\n"));
	generate(&p, fd, &r);
	(void)close(fd);
	CHECK(r.rc == 0 && canonical(r.text, r.len, &longest),
	    "blank: written");
	CHECK(strstr(r.text, "\r\n<user@example.org>: no reason given\r\n")
	    != NULL, "blank: the human part says there is no reason");
	CHECK(strstr(r.text, "Diagnostic-Code") == NULL &&
	    strstr(r.text, "Original-Envelope-Id") == NULL,
	    "blank: no empty Diagnostic-Code, Original-Envelope-Id");
	CHECK(strstr(r.text, " \r\n") == NULL, "blank: no trailing space");
	report_free(&r);
}

/* A zone west of UTC, with minutes: "-0530" and the day before. */
static void
test_west_zone(void)
{
	struct bounce_rcpt	 rcpt = { "u@example.org", NULL, "no", NULL };
	struct bounce_params	 p;
	struct report		 r;
	int			 fd;

	if (setenv("TZ", "ABC+5:30", 1) == -1)
		die("setenv");
	tzset();
	params_init(&p, &rcpt, 1);
	fd = original(TEST_HEADERS "\r\n", strlen(TEST_HEADERS "\r\n"));
	generate(&p, fd, &r);
	(void)close(fd);
	CHECK(r.rc == 0 && strstr(r.text, "\r\nDate: Tue, 14 Nov 2023 "
	    "16:43:20 -0530\r\n") != NULL && strstr(r.text, "\r\n"
	    "Arrival-Date: Tue, 14 Nov 2023 15:43:20 -0530\r\n") != NULL,
	    "dates: negative zone offset with minutes");
	report_free(&r);
}

int
main(void)
{
	/* UTC+2, so the dates show a numeric zone that is not +0000. */
	if (setenv("TZ", "XYZ-2", 1) == -1)
		die("setenv");
	tzset();
	if (mkdtemp(tmpdir) == NULL)
		die("mkdtemp");
	test_failed();
	test_full();
	test_delayed();
	test_status();
	test_long_diagnostic();
	test_utf8();
	test_header_only_originals();
	test_header_cap();
	test_errors();
	test_west_zone();
	test_blank_text();
	if (rmdir(tmpdir) == -1)
		perror("rmdir");
	return check_done();
}
