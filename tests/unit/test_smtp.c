/* SPDX-License-Identifier: ISC */
/*
 * smtp.c against a scripted server: a forked child listening on
 * 127.0.0.1 plays one dialogue per case (plain text, tls level none) and
 * checks what the client sends, byte for byte; the parent checks what
 * smtp_open/smtp_send report. Script steps:
 *   S text	server sends text (CRLFs included)
 *   C line	the client's next line must be line
 *   F text	the client's next single write must be text (a pipelined
 *		group arrives in one read)
 *   B		the client sends the expected dot-stuffed body and "."
 *   E		the client closes without sending anything more
 */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "err.h"
#include "smtp.h"

#define T_MAX_STEPS	40
#define T_BIG_BODY	200000	/* 500-byte lines, over 3 chunks */

struct t_step {
	char		 kind;
	const char	*text;
};

struct t_case {
	const char	*name;
	void		(*client)(const struct t_case *, struct smtp_params *);
	struct t_step	 script[T_MAX_STEPS];
};

/* The server's view of the connection. */
struct t_peer {
	int	 fd;
	char	 buf[T_BIG_BODY * 2 + 4096];
	size_t	 len;
};

static const char *t_body_in;		/* what the spool file holds */
static size_t	 t_body_in_len;
static const char *t_body_wire;		/* what must arrive after DATA */
static size_t	 t_body_wire_len;

static int	 t_fill(struct t_peer *);
static int	 t_line(struct t_peer *, char *, size_t);
static int	 t_step(struct t_peer *, const struct t_step *);
static void	 t_serve(int, const struct t_case *);
static void	 t_run(const struct t_case *);
static int	 t_body_fd(void);
static void	 t_envelope(struct smtp_envelope *, struct smtp_rcpt *, size_t,
		    int);

/* Reads what is there (waiting up to 5 s); 0 on EOF. */
static int
t_fill(struct t_peer *p)
{
	struct pollfd pfd = { .fd = p->fd, .events = POLLIN };
	ssize_t	 n;

	if (poll(&pfd, 1, 5000) != 1)
		return -1;
	n = read(p->fd, p->buf + p->len, sizeof(p->buf) - p->len);
	if (n < 0)
		return -1;
	p->len += (size_t)n;
	return n > 0 ? 1 : 0;
}

static int
t_line(struct t_peer *p, char *line, size_t size)
{
	char	*crlf;
	size_t	 n;

	while ((crlf = memmem(p->buf, p->len, "\r\n", 2)) == NULL)
		if (t_fill(p) != 1)
			return -1;
	n = (size_t)(crlf - p->buf);
	if (n >= size)
		return -1;
	memcpy(line, p->buf, n);
	line[n] = '\0';
	memmove(p->buf, crlf + 2, p->len - n - 2);
	p->len -= n + 2;
	return 0;
}

static int
t_step(struct t_peer *p, const struct t_step *st)
{
	char	 line[1024];
	size_t	 want;

	switch (st->kind) {
	case 'S':
		want = strlen(st->text);
		return write(p->fd, st->text, want) == (ssize_t)want ? 0 : -1;
	case 'C':
		if (t_line(p, line, sizeof(line)) == -1)
			return -1;
		if (strcmp(line, st->text) != 0) {
			fprintf(stderr, "# server: got '%s', want '%s'\n", line,
			    st->text);
			return -1;
		}
		return 0;
	case 'F':
		if (p->len == 0 && t_fill(p) != 1)
			return -1;
		want = strlen(st->text);
		if (p->len != want || memcmp(p->buf, st->text, want) != 0) {
			fprintf(stderr, "# server: flight '%.*s'\n", (int)p->len,
			    p->buf);
			return -1;
		}
		p->len = 0;
		return 0;
	case 'B':
		while (p->len < t_body_wire_len + 3)
			if (t_fill(p) != 1)
				return -1;
		if (memcmp(p->buf, t_body_wire, t_body_wire_len) != 0 ||
		    memcmp(p->buf + t_body_wire_len, ".\r\n", 3) != 0) {
			fprintf(stderr, "# server: body differs\n");
			return -1;
		}
		p->len -= t_body_wire_len + 3;
		memmove(p->buf, p->buf + t_body_wire_len + 3, p->len);
		return 0;
	case 'E':
		return p->len == 0 && t_fill(p) == 0 ? 0 : -1;
	}
	return -1;
}

static void
t_serve(int listener, const struct t_case *tc)
{
	static struct t_peer peer;
	size_t	 i;

	if ((peer.fd = accept(listener, NULL, NULL)) == -1)
		_exit(2);
	for (i = 0; i < T_MAX_STEPS && tc->script[i].kind != '\0'; i++)
		if (t_step(&peer, &tc->script[i]) == -1) {
			fprintf(stderr, "# server: step %zu (%c %s) failed\n",
			    i, tc->script[i].kind, tc->script[i].text ?
			    tc->script[i].text : "");
			_exit(1);
		}
	_exit(0);
}

static void
t_run(const struct t_case *tc)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	struct smtp_params p;
	int	 listener, status = -1;
	pid_t	 pid;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((listener = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    bind(listener, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(listener, 1) == -1 ||
	    getsockname(listener, (struct sockaddr *)&sin, &len) == -1) {
		CHECK(0, "%s: listener", tc->name);
		return;
	}
	fflush(stdout);
	if ((pid = fork()) == 0)
		t_serve(listener, tc);
	close(listener);
	memset(&p, 0, sizeof(p));
	p.host = "127.0.0.1";
	p.port = ntohs(sin.sin_port);
	p.families = NET_IPV4;
	p.helo_name = "client.example";
	p.tls.level = TLS_LEVEL_NONE;
	p.timeouts.connect = p.timeouts.helo = p.timeouts.starttls = 5;
	p.timeouts.mail = p.timeouts.rcpt = p.timeouts.data_init = 5;
	p.timeouts.data_xfer = p.timeouts.data_done = p.timeouts.quit = 5;
	p.timeouts.attempt = 30;
	tc->client(tc, &p);
	(void)waitpid(pid, &status, 0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "%s: server saw the expected dialogue", tc->name);
}

static int
t_body_fd(void)
{
	FILE	*fp = tmpfile();
	int	 fd;

	if (fp == NULL || fwrite(t_body_in, 1, t_body_in_len, fp) !=
	    t_body_in_len || fflush(fp) != 0)
		abort();
	fd = dup(fileno(fp));
	fclose(fp);
	return fd;
}

static void
t_envelope(struct smtp_envelope *env, struct smtp_rcpt *rcpts, size_t n,
    int fd)
{
	static const char *addrs[] = { "r1@example.org", "r2@example.org",
	    "r3@example.org" };
	size_t	 i;

	memset(env, 0, sizeof(*env));
	memset(rcpts, 0, n * sizeof(*rcpts));
	for (i = 0; i < n; i++)
		rcpts[i].addr = addrs[i];
	env->sender = "s@example.com";
	env->rcpts = rcpts;
	env->rcpt_count = n;
	env->body_fd = fd;
	env->size = (off_t)t_body_in_len;
}

#define T_GREET	{ 'S', "220 mx.example ESMTP\r\n" }, \
	{ 'C', "EHLO client.example" }

static void
t_client_pipelined(const struct t_case *tc, struct smtp_params *p)
{
	struct smtp_session *s;
	struct smtp_envelope env;
	struct smtp_rcpt rcpts[3];
	struct err e;
	int	 fd = t_body_fd(), rc;

	err_clear(&e);
	rc = smtp_open(&s, p, &e);
	CHECK(rc == 0, "%s: open (%s)", tc->name, e.text);
	if (s == NULL)
		return;
	CHECK(smtp_caps(s)->pipelining && smtp_caps(s)->size_limit == 10000000,
	    "%s: caps read", tc->name);
	CHECK(smtp_tls_info(s) == NULL, "%s: no TLS info", tc->name);
	t_envelope(&env, rcpts, 3, fd);
	env.eightbit = true;
	rc = smtp_send(s, &env, &e);
	CHECK(rc == 0, "%s: send returns 0 (%s)", tc->name, e.text);
	CHECK(rcpts[0].status == SMTP_RCPT_SENT && rcpts[0].err.smtp_code ==
	    250, "%s: r1 sent", tc->name);
	CHECK_STR(rcpts[0].err.server, "Ok: queued as ABC", "%s: 250 kept",
	    tc->name);
	CHECK_STR(rcpts[0].err.enhanced, "2.0.0", "%s: 2.0.0", tc->name);
	CHECK(rcpts[1].status == SMTP_RCPT_TEMP && rcpts[1].err.kind ==
	    ERR_TEMP && rcpts[1].err.smtp_code == 450, "%s: r2 deferred",
	    tc->name);
	CHECK(rcpts[2].status == SMTP_RCPT_PERM && rcpts[2].err.kind ==
	    ERR_NOUSER, "%s: r3 rejected, user unknown", tc->name);
	CHECK_STR(rcpts[2].err.text, "rejected by 127.0.0.1", "%s: r3 words",
	    tc->name);
	smtp_close(s);
	close(fd);
}

static void
t_client_lockstep(const struct t_case *tc, struct smtp_params *p)
{
	struct smtp_session *s;
	struct smtp_envelope env;
	struct smtp_rcpt rcpts[2];
	struct err e;
	int	 fd = t_body_fd(), rc;

	err_clear(&e);
	rc = smtp_open(&s, p, &e);
	CHECK(rc == 0, "%s: open (%s)", tc->name, e.text);
	if (s == NULL)
		return;
	CHECK(!smtp_caps(s)->pipelining, "%s: HELO: no extensions", tc->name);
	t_envelope(&env, rcpts, 2, fd);
	rc = smtp_send(s, &env, &e);
	CHECK(rc == 0, "%s: first send", tc->name);
	CHECK(rcpts[0].status == SMTP_RCPT_PERM &&
	    rcpts[1].status == SMTP_RCPT_TEMP, "%s: both refused", tc->name);
	/* The session is reused: RSET first, then a clean transaction. */
	rc = smtp_send(s, &env, &e);
	CHECK(rc == 0, "%s: second send (%s)", tc->name,
	    e.text);
	CHECK(rcpts[0].status == SMTP_RCPT_SENT &&
	    rcpts[1].status == SMTP_RCPT_SENT, "%s: both sent", tc->name);
	smtp_close(s);
	close(fd);
}

static void
t_client_size(const struct t_case *tc, struct smtp_params *p)
{
	struct smtp_session *s;
	struct smtp_envelope env;
	struct smtp_rcpt rcpts[1];
	struct err e;
	int	 rc;

	err_clear(&e);
	rc = smtp_open(&s, p, &e);
	CHECK(rc == 0, "%s: open", tc->name);
	if (s == NULL)
		return;
	t_envelope(&env, rcpts, 1, -1);
	env.size = 500;
	rc = smtp_send(s, &env, &e);
	CHECK(rc == -1 && e.kind == ERR_PERM,
	    "%s: refused before MAIL", tc->name);
	CHECK(strstr(e.text, "message size 500 exceeds the limit of 100") !=
	    NULL, "%s: words (%s)", tc->name, e.text);
	CHECK(rcpts[0].status == SMTP_RCPT_PERM, "%s: rcpt perm", tc->name);
	env.smtputf8 = true;
	env.size = 10;
	rc = smtp_send(s, &env, &e);
	CHECK(rc == -1 && e.kind == ERR_PERM &&
	    strstr(e.text, "SMTPUTF8 is required") != NULL,
	    "%s: SMTPUTF8 refused (%s)", tc->name, e.text);
	smtp_close(s);
}

static void
t_client_auth_clear(const struct t_case *tc, struct smtp_params *p)
{
	struct smtp_session *s;
	struct err e;
	int	 rc;

	err_clear(&e);
	p->sasl_user = "user@example.com";
	p->sasl_password = "secret";
	rc = smtp_open(&s, p, &e);
	CHECK(rc == -1 && e.kind == ERR_NOPERM,
	    "%s: refused (%s)", tc->name, e.text);
	CHECK(strstr(e.text, "without TLS") != NULL, "%s: words", tc->name);
	CHECK(s != NULL, "%s: session kept for the peer name", tc->name);
	smtp_close(s);
}

static void
t_client_mail_refused(const struct t_case *tc, struct smtp_params *p)
{
	struct smtp_session *s;
	struct smtp_envelope env;
	struct smtp_rcpt rcpts[2];
	struct err e;
	int	 rc;

	err_clear(&e);
	rc = smtp_open(&s, p, &e);
	CHECK(rc == 0, "%s: open", tc->name);
	if (s == NULL)
		return;
	t_envelope(&env, rcpts, 2, -1);
	env.size = 0;
	env.dsn_ret = "HDRS";
	env.dsn_envid = "a+b=c d";
	env.dsn_notify = "FAILURE,DELAY";
	rc = smtp_send(s, &env, &e);
	CHECK(rc == -1 && e.smtp_code == 550,
	    "%s: whole failure", tc->name);
	CHECK(rcpts[0].status == SMTP_RCPT_PERM && rcpts[1].status ==
	    SMTP_RCPT_PERM && rcpts[1].err.smtp_code == 550,
	    "%s: every rcpt has the MAIL reply", tc->name);
	smtp_close(s);
}

static void
t_client_421(const struct t_case *tc, struct smtp_params *p)
{
	struct smtp_session *s;
	struct smtp_envelope env;
	struct smtp_rcpt rcpts[2];
	struct err e;
	int	 rc;

	err_clear(&e);
	rc = smtp_open(&s, p, &e);
	CHECK(rc == 0, "%s: open", tc->name);
	if (s == NULL)
		return;
	t_envelope(&env, rcpts, 2, -1);
	rc = smtp_send(s, &env, &e);
	CHECK(rc == -1 && e.smtp_code == 421 &&
	    e.kind == ERR_TEMP, "%s: temp failure", tc->name);
	CHECK(rcpts[0].status == SMTP_RCPT_TEMP &&
	    rcpts[1].status == SMTP_RCPT_TEMP, "%s: all deferred", tc->name);
	err_clear(&e);
	rc = smtp_send(s, &env, &e);
	CHECK(rc == -1 && e.smtp_code == 421,
	    "%s: dead session fails at once", tc->name);
	smtp_close(s);
}

static void
t_client_greeting(const struct t_case *tc, struct smtp_params *p)
{
	struct smtp_session *s;
	struct err e;
	int	 rc;

	err_clear(&e);
	rc = smtp_open(&s, p, &e);
	CHECK(rc == -1 && e.kind == ERR_PERM &&
	    e.smtp_code == 554, "%s: perm (%s)", tc->name, e.text);
	smtp_close(s);
}

static void
t_client_tls_required(const struct t_case *tc, struct smtp_params *p)
{
	struct smtp_session *s;
	struct err e;
	int	 rc;

	err_clear(&e);
	p->tls.level = TLS_LEVEL_ENCRYPT;
	rc = smtp_open(&s, p, &e);
	CHECK(rc == -1 && e.kind == ERR_TEMP &&
	    strstr(e.text, "does not offer STARTTLS") != NULL,
	    "%s: deferred (%s)", tc->name, e.text);
	smtp_close(s);
}

static void
t_client_injection(const struct t_case *tc, struct smtp_params *p)
{
	struct smtp_session *s;
	struct err e;
	int	 rc;

	err_clear(&e);
	p->tls.level = TLS_LEVEL_ENCRYPT;
	rc = smtp_open(&s, p, &e);
	CHECK(rc == -1 && e.kind == ERR_PROTOCOL &&
	    strstr(e.text, "response injection") != NULL,
	    "%s: aborted (%s)", tc->name, e.text);
	smtp_close(s);
}

static const struct t_case t_cases[] = {
	{ "pipelined mixed results", t_client_pipelined, {
		T_GREET,
		{ 'S', "250-mx.example\r\n250-PIPELINING\r\n250-SIZE 10000000"
		    "\r\n250-8BITMIME\r\n250 ENHANCEDSTATUSCODES\r\n" },
		{ 'F', "MAIL FROM:<s@example.com> SIZE=27 BODY=8BITMIME\r\n"
		    "RCPT TO:<r1@example.org>\r\nRCPT TO:<r2@example.org>\r\n"
		    "RCPT TO:<r3@example.org>\r\nDATA\r\n" },
		{ 'S', "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n450 4.2.0 busy\r\n"
		    "550 5.1.1 unknown\r\n354 go\r\n" },
		{ 'B', NULL },
		{ 'S', "250 2.0.0 Ok: queued as ABC\r\n" },
		{ 'C', "QUIT" }, { 'S', "221 bye\r\n" }, { 'E', NULL } } },
	{ "lock step, HELO fallback, RSET on reuse", t_client_lockstep, {
		T_GREET, { 'S', "502 no EHLO here\r\n" },
		{ 'C', "HELO client.example" }, { 'S', "250 hi\r\n" },
		{ 'C', "MAIL FROM:<s@example.com>" }, { 'S', "250 ok\r\n" },
		{ 'C', "RCPT TO:<r1@example.org>" }, { 'S', "550 no\r\n" },
		{ 'C', "RCPT TO:<r2@example.org>" }, { 'S', "451 later\r\n" },
		{ 'C', "RSET" }, { 'S', "250 reset\r\n" },
		{ 'C', "MAIL FROM:<s@example.com>" }, { 'S', "250 ok\r\n" },
		{ 'C', "RCPT TO:<r1@example.org>" }, { 'S', "250 ok\r\n" },
		{ 'C', "RCPT TO:<r2@example.org>" }, { 'S', "250 ok\r\n" },
		{ 'C', "DATA" }, { 'S', "354 go\r\n" }, { 'B', NULL },
		{ 'S', "250 queued\r\n" },
		{ 'C', "QUIT" }, { 'S', "221 bye\r\n" }, { 'E', NULL } } },
	{ "SIZE and SMTPUTF8 refused before MAIL", t_client_size, {
		T_GREET, { 'S', "250-mx\r\n250 SIZE 100\r\n" },
		{ 'C', "QUIT" }, { 'S', "221 bye\r\n" }, { 'E', NULL } } },
	{ "no AUTH without TLS", t_client_auth_clear, {
		T_GREET, { 'S', "250-mx\r\n250 AUTH PLAIN LOGIN\r\n" },
		{ 'C', "QUIT" }, { 'S', "221 bye\r\n" }, { 'E', NULL } } },
	{ "MAIL refused while pipelining", t_client_mail_refused, {
		T_GREET, { 'S', "250-mx\r\n250-DSN\r\n250 PIPELINING\r\n" },
		{ 'F', "MAIL FROM:<s@example.com> RET=HDRS ENVID=a+2Bb+3Dc+20d"
		    "\r\nRCPT TO:<r1@example.org> NOTIFY=FAILURE,DELAY\r\n"
		    "RCPT TO:<r2@example.org> NOTIFY=FAILURE,DELAY\r\n"
		    "DATA\r\n" },
		{ 'S', "550 5.7.1 sender refused\r\n503 5.5.1 no MAIL\r\n"
		    "503 5.5.1 no MAIL\r\n354 go anyway\r\n" },
		{ 'C', "." }, { 'S', "554 no valid recipients\r\n" },
		{ 'C', "QUIT" }, { 'S', "221 bye\r\n" }, { 'E', NULL } } },
	{ "421 ends the session", t_client_421, {
		T_GREET, { 'S', "250 mx\r\n" },
		{ 'C', "MAIL FROM:<s@example.com>" }, { 'S', "250 ok\r\n" },
		{ 'C', "RCPT TO:<r1@example.org>" },
		{ 'S', "421 4.3.2 shutting down\r\n" }, { 'E', NULL } } },
	{ "554 greeting", t_client_greeting, {
		{ 'S', "554 no service\r\n" },
		{ 'C', "QUIT" }, { 'S', "221 bye\r\n" }, { 'E', NULL } } },
	{ "required STARTTLS missing", t_client_tls_required, {
		T_GREET, { 'S', "250-mx\r\n250 PIPELINING\r\n" },
		{ 'C', "QUIT" }, { 'S', "221 bye\r\n" }, { 'E', NULL } } },
	{ "STARTTLS response injection", t_client_injection, {
		T_GREET, { 'S', "250-mx\r\n250 STARTTLS\r\n" },
		{ 'C', "STARTTLS" }, { 'S', "220 go\r\n250 forged\r\n" },
		{ 'E', NULL } } },
};

int
main(void)
{
	static char big_in[T_BIG_BODY], big_wire[T_BIG_BODY + 16];
	static const char body_in[] = "Subject: t\r\n\r\n.hidden\r\nlast";
	static const char body_wire[] = "Subject: t\r\n\r\n..hidden\r\nlast\r\n";
	size_t	 i, w = 0;

	(void)signal(SIGPIPE, SIG_IGN);
	t_body_in = body_in;
	t_body_in_len = sizeof(body_in) - 1;
	t_body_wire = body_wire;
	t_body_wire_len = sizeof(body_wire) - 1;
	t_run(&t_cases[0]);
	/* Lines starting with a dot on both sides of the 64 KiB boundary. */
	memset(big_in, 'x', sizeof(big_in));
	for (i = 0; i < sizeof(big_in); i += 500) {
		big_in[i + 498] = '\r';
		big_in[i + 499] = '\n';
	}
	big_in[64000] = '.';
	big_in[65534] = '\r';
	big_in[65535] = '\n';
	big_in[65536] = '.';
	big_in[65537] = '.';
	big_in[70001] = '.';
	for (i = 0; i < sizeof(big_in); i++) {
		if (big_in[i] == '.' && (i == 0 || big_in[i - 1] == '\n'))
			big_wire[w++] = '.';
		big_wire[w++] = big_in[i];
	}
	t_body_in = big_in;
	t_body_in_len = sizeof(big_in);
	t_body_wire = big_wire;
	t_body_wire_len = w;
	CHECK(w == sizeof(big_in) + 2, "big body has two stuffed dots");
	t_run(&t_cases[1]);
	for (i = 2; i < sizeof(t_cases) / sizeof(t_cases[0]); i++)
		t_run(&t_cases[i]);
	return check_done();
}
